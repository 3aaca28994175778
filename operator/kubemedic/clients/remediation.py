"""Writes to the cluster for remediation: JSON patches (dry-run first), pod deletion, and
the reads the policy needs; Incidents through the one Incident client (``incidents``).

NB: every write carries ``fieldManager=kubemedic`` so ``managedFields`` shows who
changed what; Incident status writes carry ``metadata.resourceVersion`` so two
writers (a retry, a second replica) can never both succeed on the same version.
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubemedic.clients.evidence import object_path
from kubemedic.clients.incidents import IncidentStore
from kubemedic.clients.kube import (
    JSON_PATCH,
    ConflictError,
    KubeReader,
    PatchRejectedError,
    RawObject,
    api_message,
    send_json,
)
from kubemedic.constants import (
    API_GROUP,
    API_VERSION,
    FIELD_MANAGER,
    POLICY_PLURAL,
)
from kubemedic.domain import view
from kubemedic.domain.policy import NamedPolicy
from kubemedic.models.incident import Phase
from kubemedic.models.policy import RemediationPolicySpec
from kubemedic.models.target import TargetKind

logger = logging.getLogger(__name__)


class Remediator:
    """The operator's write access, plus the reads remediation needs."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.reader = KubeReader(api)
        self.incidents = IncidentStore(api)

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> RawObject:
        return send_json(self.api, method, path, body=body, content_type=content_type, query=query)

    # -- targets ------------------------------------------------------------------------

    def target_path(self, *, kind: str, namespace: str | None, name: str) -> str:
        return object_path(kind=TargetKind(kind), namespace=namespace, name=name)

    def read(self, *, kind: str, namespace: str | None, name: str) -> RawObject | None:
        return self.reader.get(self.target_path(kind=kind, namespace=namespace, name=name))

    def json_patch(
        self,
        *,
        kind: str,
        namespace: str | None,
        name: str,
        ops: list[dict[str, Any]],
        dry_run: bool,
    ) -> RawObject:
        """Apply a JSON patch (server-side dry-run when ``dry_run``)."""
        query = {"fieldManager": FIELD_MANAGER}
        if dry_run:
            query["dryRun"] = "All"
        try:
            return self._call(
                "PATCH",
                self.target_path(kind=kind, namespace=namespace, name=name),
                body=ops,
                content_type=JSON_PATCH,
                query=query,
            )
        except ApiException as exc:
            if exc.status == 409:
                raise ConflictError(api_message(exc)) from exc
            if exc.status in (400, 403, 404, 422):
                raise PatchRejectedError(exc.status, api_message(exc)) from exc
            raise

    def delete_pod(self, *, namespace: str, name: str, uid: str, dry_run: bool) -> bool:
        """Delete a pod if it is still the one decided on (uid precondition).

        Returns False when it is already gone or replaced — the action is then done.
        """
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
        if dry_run:
            body["dryRun"] = ["All"]
        try:
            self._call("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body)
        except ApiException as exc:
            if exc.status in (404, 409):
                return False
            raise
        return True

    def revision_template(self, deployment: RawObject, revision: int) -> RawObject | None:
        """The pod template of a Deployment's revision (from its ReplicaSet)."""
        namespace = view.namespace_of(deployment)
        selector = view.get_dict(deployment, "spec", "selector", "matchLabels")
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or None
        for rs in self.reader.list(
            f"/apis/apps/v1/namespaces/{namespace}/replicasets",
            api_version="apps/v1",
            kind="ReplicaSet",
            label_selector=label_selector,
        ):
            owners = view.get_list(rs, "metadata", "ownerReferences")
            owned = any(
                isinstance(o, dict) and o.get("uid") == view.uid_of(deployment) for o in owners
            )
            if owned and view.revision_of(rs) == revision:
                template = view.get(rs, "spec", "template")
                return template if isinstance(template, dict) else None
        return None

    # -- policy inputs ------------------------------------------------------------------

    def policies(self) -> list[NamedPolicy]:
        """Every valid RemediationPolicy (an invalid one is logged and skipped)."""
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

    def remediating_in(self, namespace: str, *, excluding: str) -> int:
        """How many other Incidents in ``namespace`` are applying or verifying an action."""
        return sum(
            1
            for item in self.incidents.list(namespace)
            if view.name_of(item) != excluding
            and view.get(item, "status", "phase") == Phase.REMEDIATING.value
        )
