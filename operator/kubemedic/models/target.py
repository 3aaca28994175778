"""References to Kubernetes objects: the incident target and action targets."""

from enum import StrEnum

from pydantic import Field

from kubemedic.models.base import KubeModel

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class TargetKind(StrEnum):
    """The kinds an Incident may name as its target."""

    DEPLOYMENT = "Deployment"
    STATEFULSET = "StatefulSet"
    DAEMONSET = "DaemonSet"
    POD = "Pod"
    NODE = "Node"
    SERVICE = "Service"
    PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"
    HORIZONTAL_POD_AUTOSCALER = "HorizontalPodAutoscaler"


#: The apiVersion each target kind is served at.
KIND_API_VERSIONS: dict[TargetKind, str] = {
    TargetKind.DEPLOYMENT: "apps/v1",
    TargetKind.STATEFULSET: "apps/v1",
    TargetKind.DAEMONSET: "apps/v1",
    TargetKind.POD: "v1",
    TargetKind.NODE: "v1",
    TargetKind.SERVICE: "v1",
    TargetKind.PERSISTENT_VOLUME_CLAIM: "v1",
    TargetKind.HORIZONTAL_POD_AUTOSCALER: "autoscaling/v2",
}

#: Kinds that are not namespaced.
CLUSTER_SCOPED_KINDS: frozenset[TargetKind] = frozenset({TargetKind.NODE})


class TargetRef(KubeModel):
    """The workload or object an incident is about (as in the Incident spec)."""

    api_version: str | None = Field(default=None, description="e.g. 'apps/v1'; derived from kind")
    kind: TargetKind
    namespace: str | None = Field(default=None, pattern=DNS_LABEL_PATTERN, max_length=63)
    name: str = Field(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)

    def display(self) -> str:
        """`Kind/ns/name` for messages and printer columns."""
        if self.namespace:
            return f"{self.kind.value}/{self.namespace}/{self.name}"
        return f"{self.kind.value}/{self.name}"


class ObjectRef(KubeModel):
    """The object an action applies to."""

    kind: str
    namespace: str | None = None
    name: str
