"""Alert test helpers: the shared harness (hack/alerting.py) plus Incident lookups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from alerting import AlertOperator, am_alert, am_payload, post_json, rfc3339, webhook_operator
from kubemedic.domain.alert_mapping import SOURCE_ALERT, SOURCE_LABEL
from support.operator import GROUP, PLURAL, VERSION

__all__ = [
    "AlertOperator",
    "alert_incidents",
    "am_alert",
    "am_payload",
    "condition",
    "post_json",
    "rfc3339",
    "webhook_operator",
]


def alert_incidents(custom: client.CustomObjectsApi, namespace: str | None) -> list[dict[str, Any]]:
    """Incidents the alert path created (in one namespace, or everywhere)."""
    selector = f"{SOURCE_LABEL}={SOURCE_ALERT}"
    if namespace is None:
        found = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, label_selector=selector)
    else:
        found = custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, label_selector=selector
        )
    return list(found["items"])


def condition(incident: Mapping[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = (incident.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), None)
