"""kubemedic: turns Kubernetes incidents and alerts into diagnoses and safe, approved fixes.

Layers (enforced by import-linter, see pyproject.toml)::

    cli → handlers → service → clients → domain → models

``domain`` and ``models`` are pure: no I/O, no kopf, no Kubernetes client.
"""

__version__ = "0.1.0"
