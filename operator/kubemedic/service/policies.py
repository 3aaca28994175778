"""RemediationPolicy status: validate each policy and write whether it is in effect.

Every replica does this on every change of a policy (the watch's events), not only the
leader: the status is computed from the spec alone, so replicas agree, and a write happens
only when the status would change (``lastTransitionTime`` moves only when ``Ready`` flips),
so a policy settles after one write. A policy whose status says ``Ready=False`` is the
one :class:`~kubemedic.clients.policies.PolicyStore` skips when deciding.
"""

from __future__ import annotations

import logging
from datetime import datetime

from kubemedic.clients.kube import RawObject
from kubemedic.clients.policies import PolicyStore
from kubemedic.domain import policy, view
from kubemedic.models.policy import RemediationPolicyStatus

logger = logging.getLogger(__name__)


def observe_policy(
    store: PolicyStore, obj: RawObject, *, operator_namespace: str, now: datetime
) -> RemediationPolicyStatus | None:
    """Validate ``obj`` and write its status if it changes; the status written, or None."""
    namespace, name = view.namespace_of(obj), view.name_of(obj)
    check = policy.check_policy(
        obj.get("spec") or {}, namespace=namespace, operator_namespace=operator_namespace
    )
    try:
        current = RemediationPolicyStatus.model_validate(obj.get("status") or {})
    except ValueError:
        current = RemediationPolicyStatus()  # NB: unreadable status: replace it
    new = policy.policy_status(
        current, check, generation=view.get_int(obj, "metadata", "generation"), now=now
    )
    if new == current:
        return None
    if not check.ready:
        logger.warning(
            "RemediationPolicy %s/%s is not in effect: %s", namespace, name, check.message
        )
    store.write_status(
        namespace, name, status=new.model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    return new
