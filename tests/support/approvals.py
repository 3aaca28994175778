"""IncidentApprovals and the identities the local cluster knows, for integration tests."""

from __future__ import annotations

from typing import Any, Final

#: The local cluster's admin (hack/localcluster.py signs its certificate with this CN).
ADMIN: Final = "kubemedic-admin"
APPROVALS: Final = "incidentapprovals"


def approval_body(
    incident: str,
    action_id: str,
    *,
    decision: str = "Approve",
    approver: str = ADMIN,
    name: str | None = None,
) -> dict[str, Any]:
    """An IncidentApproval as a person would create it (``approver`` must be that person)."""
    metadata: dict[str, Any] = (
        {"name": name} if name else {"generateName": f"{incident}-{decision.lower()}-"}
    )
    return {
        "apiVersion": "kubemedic.dev/v1alpha1",
        "kind": "IncidentApproval",
        "metadata": metadata,
        "spec": {
            "incident": incident,
            "actionID": action_id,
            "decision": decision,
            "approver": approver,
        },
    }
