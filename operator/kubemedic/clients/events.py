"""Kubernetes Events on Incidents and targets (core/v1, like kubectl describe shows them).

NB: kopf.event() needs kopf's per-handler context, which the leader's background loop
does not have; posting here works from any task. Events are informational: a failure to
post is logged, never raised.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from kubernetes import client

logger = logging.getLogger(__name__)

COMPONENT: Final = "kubemedic"
MAX_MESSAGE: Final = 1024


class EventRecorder:
    """Posts Events about objects (any dict with apiVersion, kind and metadata)."""

    def __init__(self, api: client.ApiClient, *, instance: str) -> None:
        self.core = client.CoreV1Api(api)
        self.instance = instance

    def post(self, obj: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
        metadata = obj.get("metadata") or {}
        namespace = metadata.get("namespace") or "default"
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{metadata.get('name', 'object')}.{uuid.uuid4().hex[:16]}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:MAX_MESSAGE],
            "type": type,
            "source": {"component": COMPONENT},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "action": reason,
            "count": 1,
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
        }
        try:
            self.core.create_namespaced_event(namespace, event, _request_timeout=5)
        except Exception as exc:  # noqa: BLE001 - Events are best effort
            logger.warning(
                "could not post Event %s on %s/%s: %r", reason, namespace, metadata.get("name"), exc
            )
