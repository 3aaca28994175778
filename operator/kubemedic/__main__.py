"""``python -m kubemedic`` is the ``kubemedic`` command."""

import sys

from kubemedic.cli import main

sys.exit(main())
