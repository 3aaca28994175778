"""``kubemedic approve`` and ``kubemedic reject``: an IncidentApproval created as the
logged-in user (service/approvals.py decides what is approved).
"""

from __future__ import annotations

import argparse

from kubemedic.cli.common import (
    EXIT_OK,
    UsageError,
    connect,
    fail,
    progress,
)
from kubemedic.constants import API_GROUP, APPROVAL_PLURAL, INCIDENT_PLURAL


def cmd_decide(args: argparse.Namespace) -> int:
    """`approve` / `reject`: create an IncidentApproval as the logged-in user."""
    from kubernetes.client.exceptions import ApiException  # noqa: PLC0415

    from kubemedic.clients.approvals import ApprovalClient, ApprovalRefusedError  # noqa: PLC0415
    from kubemedic.clients.cluster import Access  # noqa: PLC0415
    from kubemedic.models.approval import Decision  # noqa: PLC0415
    from kubemedic.service.approvals import (  # noqa: PLC0415
        DecisionInputError,
        IncidentMissingError,
        decide,
    )

    if args.by is not None:
        raise UsageError(
            "--by is no longer accepted: the approver is the user you are logged in as "
            "(what `kubectl auth whoami` shows), and admission refuses any other name; "
            "log in as the approver instead"
        )
    namespace = args.namespace or "default"
    decision = Decision.APPROVE if args.command == "approve" else Decision.REJECT
    try:
        decided = decide(
            ApprovalClient(
                connect(
                    args.kubeconfig,
                    [
                        Access("create", APPROVAL_PLURAL, group=API_GROUP, namespace=namespace),
                        Access("get", INCIDENT_PLURAL, group=API_GROUP, namespace=namespace),
                    ],
                )
            ),
            namespace=namespace,
            incident=args.incident,
            action=args.action,
            decision=decision,
            reason=args.reason,
        )
    except DecisionInputError as exc:
        raise UsageError(str(exc)) from None
    except IncidentMissingError as exc:
        fail(str(exc))
    except ApprovalRefusedError as exc:
        fail(f"the API server refused the decision (HTTP {exc.status}): {exc}")
    except ApiException as exc:
        fail(f"the API server answered HTTP {exc.status} ({exc.reason}); nothing was decided")
    verb = "approved" if decision is Decision.APPROVE else "rejected"
    progress(
        f"{verb} action {decided.action_id} of Incident {namespace}/{args.incident} "
        f"as {decided.approver} (IncidentApproval {namespace}/{decided.name})"
    )
    return EXIT_OK
