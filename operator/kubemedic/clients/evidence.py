"""Gather an IncidentBundle from the live cluster: what a good SRE would look at.

For the target: the object, its owner chain, owned ReplicaSets and Pods, the Events
of all of them, the Nodes the pods run on, the PVCs they mount, the Services and
EndpointSlices that select them, the Services (and their EndpointSlices) the pods' env
values and logs name, the PodDisruptionBudgets over the pods, HPAs scaling the target, the
namespace's ResourceQuotas, and log tails (current and previous container) of the least healthy
pods. Everything is bounded (pods, events, log bytes) so a huge workload or a chatty
container cannot blow up the operator's memory or the prompt later.

NB: Events are read from core/v1 only. events.k8s.io/v1 serves the very same stored
objects in another shape; reading both would double every event. The analyzers accept
both shapes, so bundles made by other tools work too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kubemedic.clients.kube import KubeReader, RawObject
from kubemedic.domain import view
from kubemedic.models.bundle import MAX_LOG_CHARS, ContainerLog, IncidentBundle
from kubemedic.models.target import KIND_API_VERSIONS, TargetKind, TargetRef

logger = logging.getLogger(__name__)

MAX_PODS: Final = 50
MAX_EVENTS: Final = 200
MAX_LOG_PODS: Final = 4
LOG_TAIL_LINES: Final = 200
#: Namespaces whose PodDisruptionBudgets are read (a Node's pods span several), and the
#: most dependency Services added from env values and logs.
MAX_BUDGET_NAMESPACES: Final = 10
MAX_DEPENDENCIES: Final = 10
#: Words of env values and logs that can be a Service name (a DNS label) or an IPv4 address.
_WORD_RE: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|\d{1,3}(?:\.\d{1,3}){3}")

_PLURALS: Final[dict[TargetKind, str]] = {
    TargetKind.DEPLOYMENT: "deployments",
    TargetKind.STATEFULSET: "statefulsets",
    TargetKind.DAEMONSET: "daemonsets",
    TargetKind.POD: "pods",
    TargetKind.NODE: "nodes",
    TargetKind.SERVICE: "services",
    TargetKind.PERSISTENT_VOLUME_CLAIM: "persistentvolumeclaims",
    TargetKind.HORIZONTAL_POD_AUTOSCALER: "horizontalpodautoscalers",
}
_WORKLOAD_KINDS: Final = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
}


class TargetNotFoundError(LookupError):
    """The incident's target does not exist (yet)."""


def object_path(*, kind: TargetKind, namespace: str | None, name: str) -> str:
    """The REST path of a target object."""
    api_version = KIND_API_VERSIONS[kind]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    plural = _PLURALS[kind]
    if kind is TargetKind.NODE:
        return f"{prefix}/{plural}/{name}"
    return f"{prefix}/namespaces/{namespace}/{plural}/{name}"


def resource_of(kind: TargetKind) -> tuple[str, str]:
    """(API group, plural) of a target kind, as RBAC names them."""
    return KIND_API_VERSIONS[kind].rpartition("/")[0], _PLURALS[kind]


def _ns_path(api_version: str, namespace: str, plural: str) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{namespace}/{plural}"


def _uid(obj: RawObject) -> str:
    return str(obj.get("metadata", {}).get("uid", ""))


def _owned_by(obj: RawObject, uids: set[str]) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(isinstance(r, dict) and r.get("uid") in uids for r in refs)


def _selector_string(selector: Any) -> str | None:
    """A label selector string from a LabelSelector's matchLabels (expressions ignored)."""
    if not isinstance(selector, dict):
        return None
    labels = selector.get("matchLabels") or {}
    if not isinstance(labels, dict) or not labels:
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _pod_health_rank(pod: RawObject) -> int:
    """Lower is less healthy: unhealthy pods' logs are the ones worth reading."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses if isinstance(s, dict))
    ready = all(s.get("ready") for s in statuses if isinstance(s, dict)) and bool(statuses)
    return (0 if not ready else 1000) - min(restarts, 999)


@dataclass
class _Collected:
    objects: dict[str, RawObject]

    def add(self, obj: RawObject | None) -> None:
        if obj:
            key = _uid(obj) or f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            self.objects.setdefault(key, obj)

    def of_kind(self, kind: str) -> list[RawObject]:
        return [o for o in self.objects.values() if o.get("kind") == kind]


def gather_bundle(
    reader: KubeReader, target: TargetRef, *, now: datetime | None = None
) -> IncidentBundle:
    """Build the IncidentBundle for ``target`` from the live cluster.

    Raises TargetNotFoundError when the target itself does not exist.
    """
    kind = target.kind
    namespace = None if kind is TargetKind.NODE else target.namespace
    if kind is not TargetKind.NODE and not namespace:
        msg = f"target {kind.value}/{target.name} needs a namespace"
        raise ValueError(msg)
    obj = reader.get(object_path(kind=kind, namespace=namespace, name=target.name))
    if obj is None:
        raise TargetNotFoundError(target.display())
    found = _Collected(objects={})
    found.add(obj)

    pods: list[RawObject] = []
    if kind is TargetKind.DEPLOYMENT and namespace:
        selector = _selector_string(obj.get("spec", {}).get("selector"))
        rs_list = reader.list(
            _ns_path("apps/v1", namespace, "replicasets"),
            api_version="apps/v1",
            kind="ReplicaSet",
            label_selector=selector,
        )
        owned_rs = [rs for rs in rs_list if _owned_by(rs, {_uid(obj)})]
        for rs in owned_rs:
            found.add(rs)
        pods = _pods_owned_by(reader, namespace, selector, {_uid(rs) for rs in owned_rs})
    elif kind in (TargetKind.STATEFULSET, TargetKind.DAEMONSET) and namespace:
        selector = _selector_string(obj.get("spec", {}).get("selector"))
        pods = _pods_owned_by(reader, namespace, selector, {_uid(obj)})
    elif kind is TargetKind.POD and namespace:
        pods = [obj]
        _add_owner_chain(reader, found, obj, namespace)
    elif kind is TargetKind.NODE:
        pods = reader.list(
            "/api/v1/pods",
            api_version="v1",
            kind="Pod",
            field_selector=f"spec.nodeName={target.name}",
            limit=MAX_PODS,
        )
    elif kind is TargetKind.SERVICE and namespace:
        selector = obj.get("spec", {}).get("selector")
        if isinstance(selector, dict) and selector:
            pods = reader.list(
                _ns_path("v1", namespace, "pods"),
                api_version="v1",
                kind="Pod",
                label_selector=_selector_string({"matchLabels": selector}),
            )
        for eps in _endpoint_slices(reader, namespace=namespace, service=target.name):
            found.add(eps)
    elif kind is TargetKind.PERSISTENT_VOLUME_CLAIM and namespace:
        all_pods = reader.list(_ns_path("v1", namespace, "pods"), api_version="v1", kind="Pod")
        pods = [p for p in all_pods if target.name in _pvc_names(p)]
    elif kind is TargetKind.HORIZONTAL_POD_AUTOSCALER and namespace:
        ref = obj.get("spec", {}).get("scaleTargetRef") or {}
        plural = _WORKLOAD_KINDS.get(str(ref.get("kind")))
        if plural and ref.get("name"):
            scaled = reader.get(f"{_ns_path('apps/v1', namespace, plural)}/{ref['name']}")
            found.add(scaled)

    pods = sorted(pods, key=_pod_health_rank)[:MAX_PODS]
    for pod in pods:
        found.add(pod)
    if namespace:
        _add_context(reader, found, namespace=namespace, pods=pods, target=obj)
    _add_nodes(reader, found, pods)
    _add_budgets(reader, found, pods)
    _add_events(reader, found, namespace=namespace)
    logs = _collect_logs(reader, pods)
    if namespace and kind is not TargetKind.SERVICE:
        _add_dependencies(reader, found, namespace=namespace, pods=pods, logs=logs)
    return IncidentBundle(
        target=TargetRef(
            api_version=target.api_version or KIND_API_VERSIONS[kind],
            kind=kind,
            namespace=namespace,
            name=target.name,
        ),
        collected_at=now or datetime.now(UTC),
        objects=list(found.objects.values()),
        logs=logs,
    )


def _pods_owned_by(
    reader: KubeReader, namespace: str, selector: str | None, owners: set[str]
) -> list[RawObject]:
    if not owners:
        return []
    pods = reader.list(
        _ns_path("v1", namespace, "pods"), api_version="v1", kind="Pod", label_selector=selector
    )
    return [p for p in pods if _owned_by(p, owners)]


def _add_owner_chain(reader: KubeReader, found: _Collected, obj: RawObject, namespace: str) -> None:
    current = obj
    for _ in range(4):  # Pod → ReplicaSet → Deployment is the longest chain we follow
        ref = view.controller_ref(current)
        plural = _WORKLOAD_KINDS.get(str(ref.get("kind"))) if ref else None
        if not ref or not plural:
            return
        owner = reader.get(f"{_ns_path('apps/v1', namespace, plural)}/{ref.get('name')}")
        if owner is None:
            return
        found.add(owner)
        current = owner


def _pvc_names(pod: RawObject) -> set[str]:
    volumes = pod.get("spec", {}).get("volumes") or []
    return {
        str(v["persistentVolumeClaim"].get("claimName"))
        for v in volumes
        if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)
    }


def _add_context(
    reader: KubeReader,
    found: _Collected,
    *,
    namespace: str,
    pods: list[RawObject],
    target: RawObject,
) -> None:
    claims = set().union(*(_pvc_names(p) for p in pods)) if pods else set()
    for claim in sorted(claims)[:20]:
        found.add(reader.get(f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}"))
    for quota in reader.list(
        _ns_path("v1", namespace, "resourcequotas"), api_version="v1", kind="ResourceQuota"
    ):
        found.add(quota)
    target_kind, target_name = target.get("kind"), target.get("metadata", {}).get("name")
    for hpa in reader.list(
        _ns_path("autoscaling/v2", namespace, "horizontalpodautoscalers"),
        api_version="autoscaling/v2",
        kind="HorizontalPodAutoscaler",
    ):
        ref = hpa.get("spec", {}).get("scaleTargetRef") or {}
        if ref.get("kind") == target_kind and ref.get("name") == target_name:
            found.add(hpa)
    pod_labels = [p.get("metadata", {}).get("labels") or {} for p in pods]
    if not pod_labels or target_kind == "Service":
        return
    services = reader.list(_ns_path("v1", namespace, "services"), api_version="v1", kind="Service")
    for svc in services:
        selector = svc.get("spec", {}).get("selector")
        if (
            isinstance(selector, dict)
            and selector
            and any(all(labels.get(k) == v for k, v in selector.items()) for labels in pod_labels)
        ):
            found.add(svc)
            for eps in _endpoint_slices(
                reader, namespace=namespace, service=svc["metadata"]["name"]
            ):
                found.add(eps)


def _add_budgets(reader: KubeReader, found: _Collected, pods: list[RawObject]) -> None:
    """PodDisruptionBudgets that select the pods: a budget at zero blocks a drain."""
    namespaces = sorted({str(p.get("metadata", {}).get("namespace")) for p in pods})
    labels = [p.get("metadata", {}).get("labels") or {} for p in pods]
    for ns in namespaces[:MAX_BUDGET_NAMESPACES]:
        for pdb in reader.list(
            _ns_path("policy/v1", ns, "poddisruptionbudgets"),
            api_version="policy/v1",
            kind="PodDisruptionBudget",
        ):
            selector = (pdb.get("spec", {}).get("selector") or {}).get("matchLabels")
            if isinstance(selector, dict) and any(
                all(lab.get(k) == v for k, v in selector.items()) for lab in labels
            ):
                found.add(pdb)


def _add_dependencies(
    reader: KubeReader,
    found: _Collected,
    *,
    namespace: str,
    pods: list[RawObject],
    logs: list[ContainerLog],
) -> None:
    """Services the pods call, with their EndpointSlices: those named in the containers'
    env values or in the log tails (by name or ClusterIP), so the rules can tell a
    dependency that is down (DependencyDown) from a crash of the pods' own."""
    texts = [log.text.lower() for log in logs]
    for pod in pods[:MAX_LOG_PODS]:
        for container in pod.get("spec", {}).get("containers") or []:
            texts.extend(
                str(env.get("value", "")).lower()
                for env in container.get("env") or []
                if isinstance(env, dict)
            )
    if not any(texts):
        return
    words = set(_WORD_RE.findall(" ".join(texts)))
    added = 0
    for svc in reader.list(_ns_path("v1", namespace, "services"), api_version="v1", kind="Service"):
        meta, spec = svc.get("metadata", {}), svc.get("spec", {})
        name = str(meta.get("name", ""))
        if _uid(svc) in found.objects or added >= MAX_DEPENDENCIES:
            continue
        if name in words or str(spec.get("clusterIP", "")) in words:
            found.add(svc)
            added += 1
            for eps in _endpoint_slices(reader, namespace=namespace, service=name):
                found.add(eps)


def _endpoint_slices(reader: KubeReader, *, namespace: str, service: str) -> list[RawObject]:
    """The EndpointSlices of one Service (by the label the EndpointSlice controller sets)."""
    return reader.list(
        _ns_path("discovery.k8s.io/v1", namespace, "endpointslices"),
        api_version="discovery.k8s.io/v1",
        kind="EndpointSlice",
        label_selector=f"kubernetes.io/service-name={service}",
    )


def _add_nodes(reader: KubeReader, found: _Collected, pods: list[RawObject]) -> None:
    names = sorted(
        {str(p.get("spec", {}).get("nodeName")) for p in pods if p.get("spec", {}).get("nodeName")}
    )
    for name in names[:20]:
        found.add(reader.get(f"/api/v1/nodes/{name}"))


def _add_events(reader: KubeReader, found: _Collected, *, namespace: str | None) -> None:
    uids = set(found.objects)
    names = {(o.get("kind"), o.get("metadata", {}).get("name")) for o in found.objects.values()}
    namespaces = {namespace} if namespace else set()
    if not namespace:  # a Node target: its events live in 'default'; pods' in their namespaces
        namespaces = {"default"} | {
            str(p.get("metadata", {}).get("namespace")) for p in found.of_kind("Pod")
        }
    related: list[RawObject] = []
    for ns in sorted(namespaces):
        for event in reader.list(
            _ns_path("v1", ns, "events"), api_version="v1", kind="Event", limit=1000
        ):
            involved = event.get("involvedObject") or {}
            if involved.get("uid") in uids or (involved.get("kind"), involved.get("name")) in names:
                related.append(event)
    related.sort(
        key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""), reverse=True
    )
    for event in related[:MAX_EVENTS]:
        found.add(event)


def _collect_logs(reader: KubeReader, pods: list[RawObject]) -> list[ContainerLog]:
    logs: list[ContainerLog] = []
    for pod in pods[:MAX_LOG_PODS]:
        meta = pod.get("metadata", {})
        statuses = {
            s.get("name"): s
            for s in pod.get("status", {}).get("containerStatuses") or []
            if isinstance(s, dict)
        }
        for container in pod.get("spec", {}).get("containers") or []:
            name = container.get("name")
            status = statuses.get(name) or {}
            if not name or not status:
                continue
            wants = [False]
            if int(status.get("restartCount") or 0) > 0:
                wants.append(True)
            for previous in wants:
                if (
                    previous is False
                    and not (status.get("state") or {}).get("running")
                    and len(wants) > 1
                ):
                    continue  # a waiting container has no current log worth asking for
                text = reader.log(
                    namespace=str(meta.get("namespace")),
                    pod=str(meta.get("name")),
                    container=str(name),
                    previous=previous,
                    tail_lines=LOG_TAIL_LINES,
                    limit_bytes=MAX_LOG_CHARS,
                )
                if text:
                    logs.append(
                        ContainerLog(
                            namespace=str(meta.get("namespace")),
                            pod=str(meta.get("name")),
                            container=str(name),
                            previous=previous,
                            text=text[-MAX_LOG_CHARS:],
                        )
                    )
    return logs
