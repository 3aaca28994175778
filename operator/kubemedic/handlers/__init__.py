"""kopf handlers: decorators and a few lines each; the work is in service/ and domain/.

Importing this package registers every handler with kopf's default registry.
"""

from kubemedic.handlers import incidents, remediation, startup, webhook

__all__ = ["incidents", "remediation", "startup", "webhook"]
