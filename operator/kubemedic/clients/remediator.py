"""Writes to the cluster for remediation: JSON patches (dry-run first), pod deletion, and
the reads the policy needs; Incidents through the one Incident client (``incidents``), the
policies through clients/policies.py.

NB: every write carries ``fieldManager=kubemedic`` so ``managedFields`` shows who
changed what; Incident status writes carry ``metadata.resourceVersion`` so two
writers (a retry, a second replica) can never both succeed on the same version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubemedic.clients.approvals import ApprovalClient
from kubemedic.clients.evidence import TargetNotFoundError, gather_bundle, object_path
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
from kubemedic.clients.policies import PolicyStore
from kubemedic.constants import (
    FIELD_MANAGER,
)
from kubemedic.domain import view
from kubemedic.domain.policy import NamedPolicy
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.incident import Phase
from kubemedic.models.target import TargetKind, TargetRef


class Remediator:
    """The operator's write access, plus the reads remediation needs."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.reader = KubeReader(api)
        self.approval_client = ApprovalClient(api)
        self.incidents = IncidentStore(api)
        self.policy_store = PolicyStore(api)

    # -- targets ------------------------------------------------------------------------

    def target_path(self, *, kind: str, namespace: str | None, name: str) -> str:
        return object_path(kind=TargetKind(kind), namespace=namespace, name=name)

    def read(self, *, kind: str, namespace: str | None, name: str) -> RawObject | None:
        return self.reader.get(self.target_path(kind=kind, namespace=namespace, name=name))

    def gather(self, target: TargetRef, *, now: datetime) -> IncidentBundle | None:
        """The target's evidence, to verify a change; ``None`` when the target is gone."""
        try:
            return gather_bundle(self.reader, target, now=now)
        except TargetNotFoundError:
            return None

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
            return send_json(
                self.api,
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
            send_json(self.api, "DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body)
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

    # -- policy inputs (clients/policies.py) ----------------------------------------------

    def policies(self) -> list[NamedPolicy]:
        return self.policy_store.policies()

    def namespace_labels(self, namespace: str | None) -> dict[str, str]:
        return self.policy_store.namespace_labels(namespace)

    # -- bounds inputs (domain/bounds.py) ------------------------------------------------

    def limit_ranges(self, namespace: str) -> list[RawObject]:
        """The namespace's LimitRanges (SetResources must stay inside them)."""
        return self.reader.list(
            f"/api/v1/namespaces/{namespace}/limitranges", api_version="v1", kind="LimitRange"
        )

    def hpas(self, namespace: str) -> list[RawObject]:
        """The namespace's HPAs (ScaleWorkload must not go above one's maxReplicas)."""
        return self.reader.list(
            f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
            api_version="autoscaling/v2",
            kind="HorizontalPodAutoscaler",
        )

    # -- approvals ------------------------------------------------------------------------

    def approvals(self, namespace: str) -> list[RawObject]:
        """Every IncidentApproval in the namespace, read from the API server (not a cache)."""
        return self.approval_client.list_for(namespace)

    def write_approval_status(self, namespace: str, name: str, *, status: dict[str, Any]) -> None:
        """Record the operator's clock and outcome on an IncidentApproval."""
        self.approval_client.write_status(namespace, name, status=status)

    # -- incidents ------------------------------------------------------------------------

    def remediating_in(self, namespace: str, *, excluding: str) -> int:
        """How many other Incidents in ``namespace`` are applying or verifying an action."""
        return sum(
            1
            for item in self.incidents.list(namespace)
            if view.name_of(item) != excluding
            and view.get(item, "status", "phase") == Phase.REMEDIATING.value
        )

    # -- incidents (the one Incident client, clients/incidents.py) -------------------------

    def read_incident(self, namespace: str, name: str) -> RawObject | None:
        return self.incidents.get(namespace, name)

    def write_incident_status(
        self, namespace: str, name: str, *, status: dict[str, Any], resource_version: str
    ) -> RawObject:
        return self.incidents.patch_status(
            namespace, name, status=status, resource_version=resource_version
        )
