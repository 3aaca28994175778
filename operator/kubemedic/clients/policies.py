"""RemediationPolicies: read them for decisions, and write what the operator found in them.

The operator writes only a policy's ``status`` (condition ``Ready`` and
``observedGeneration``), with a merge patch on the status subresource: it is an observation
that every replica computes the same way from the spec, so it carries no resourceVersion.
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes import client

from kubemedic.clients.kube import MERGE_PATCH, KubeReader, RawObject, send_json
from kubemedic.constants import API_GROUP, API_VERSION, FIELD_MANAGER, POLICY_PLURAL
from kubemedic.domain import view
from kubemedic.domain.policy import NamedPolicy
from kubemedic.models.policy import RemediationPolicySpec

logger = logging.getLogger(__name__)


class PolicyStore:
    """The RemediationPolicies and the namespace labels their selectors match."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.reader = KubeReader(api)

    def policies(self) -> list[NamedPolicy]:
        """Every valid RemediationPolicy (an invalid one is skipped; its status says why)."""
        items = self.reader.list(
            f"/apis/{API_GROUP}/{API_VERSION}/{POLICY_PLURAL}",
            api_version=f"{API_GROUP}/{API_VERSION}",
            kind="RemediationPolicy",
        )
        result = []
        for item in items:
            try:
                spec = RemediationPolicySpec.model_validate(item.get("spec") or {})
            except ValueError as exc:
                logger.warning("ignoring invalid RemediationPolicy %s: %s", view.cite(item), exc)
                continue
            result.append(
                NamedPolicy(namespace=view.namespace_of(item), name=view.name_of(item), spec=spec)
            )
        return result

    def namespace_labels(self, namespace: str | None) -> dict[str, str]:
        if not namespace:
            return {}
        obj = self.reader.get(f"/api/v1/namespaces/{namespace}")
        return view.labels_of(obj) if obj else {}

    def write_status(self, namespace: str, name: str, *, status: dict[str, Any]) -> RawObject:
        """Merge ``status`` into the policy's status subresource."""
        path = (
            f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{POLICY_PLURAL}/{name}/status"
        )
        return send_json(
            self.api,
            "PATCH",
            path,
            body={"status": status},
            content_type=MERGE_PATCH,
            query={"fieldManager": FIELD_MANAGER},
        )
