"""kopf handlers: decorators and a few lines each; the work is in service/ and domain/.

Importing this package registers every handler with kopf's default registry. Every handler
gets the :class:`~kubemedic.service.runtime.OperatorRuntime` that ``kubemedic run`` built
as its ``memo``. NB: ``startup`` first — kopf runs startup activities in registration order,
and the others need the leadership that ``startup.start_leader_election`` starts.
"""

from kubemedic.handlers import startup  # isort: skip
from kubemedic.handlers import incidents, policies, webhook

__all__ = ["incidents", "policies", "startup", "webhook"]
