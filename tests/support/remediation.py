"""Helpers for the remediation tests: policies, Incident status, pods' health."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from operator_process import GROUP, PLURAL, VERSION, OperatorProcess
from support.waiting import wait_for

FAST = {"KUBEMEDIC_VERIFY_TIMEOUT_SECONDS": "30", "KUBEMEDIC_REMEDIATION_INTERVAL_SECONDS": "1"}


def policy(custom: client.CustomObjectsApi, namespace: str, **spec: Any) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "RemediationPolicy",
        "metadata": {"name": "team"},
        "spec": {"allowedActions": ["RollbackRollout", "SetResources", "RestartRollout"], **spec},
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "remediationpolicies", body)


def incident_status(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return dict(obj.get("status") or {})


def wait_phase(
    custom: client.CustomObjectsApi,
    namespace: str,
    name: str,
    phases: set[str],
    op: OperatorProcess,
    timeout: float = 90,
) -> dict[str, Any]:
    return wait_for(
        lambda: (s := incident_status(custom, namespace, name)).get("phase") in phases and s,
        timeout=timeout,
        what=f"Incident {name} to reach phase {sorted(phases)}",
        describe=lambda: {
            "phase": incident_status(custom, namespace, name).get("phase"),
            "history": [
                (h["step"], h["message"])
                for h in incident_status(custom, namespace, name).get("history", [])
            ][-6:],
            "operator": op.log_tail(10),
        },
    )


def ready_pods(core: client.CoreV1Api, namespace: str, app: str, count: int) -> bool:
    pods = [
        p
        for p in core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
        if not p.metadata.deletion_timestamp
    ]
    return len(pods) == count and all(
        any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        for p in pods
    )


def restarting(core: client.CoreV1Api, namespace: str, app: str) -> bool:
    return any(
        (s.restart_count or 0) >= 1
        for p in core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
        for s in p.status.container_statuses or []
    )
