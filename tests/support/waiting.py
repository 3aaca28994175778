"""Wait for a condition with a timeout and a failure message that says what was seen.

The implementation lives in hack/localcluster.py (the demo and bench/ use it too).
"""

from localcluster import WaitTimeoutError as WaitTimeout
from localcluster import wait_until as wait_for

__all__ = ["WaitTimeout", "wait_for"]
