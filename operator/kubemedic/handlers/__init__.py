"""kopf handlers: decorators and a few lines each; the work is in service/ and domain/.

Importing this package registers every handler with kopf's default registry.
NB: ``startup`` first — kopf runs startup activities in registration order, and the
others need the clients and the leadership that ``startup.configure`` puts in the memo.
"""

from kubemedic.handlers import startup  # isort: skip
from kubemedic.handlers import incidents, policies, remediation, webhook

__all__ = ["incidents", "policies", "remediation", "startup", "webhook"]
