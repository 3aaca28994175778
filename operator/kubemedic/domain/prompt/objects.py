"""Kubernetes objects for the prompt: pruned of noise, most telling first, summarised if big.

The target, its workload, unhealthy pods, then healthy ones, ReplicaSets (newest first),
HPAs, nodes, PVCs, Services, quotas; an object too big for what is left is replaced by its
metadata and status, or listed as omitted; ``managedFields`` and other noise dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kubemedic.domain import view
from kubemedic.domain.prompt.budget import Section, TokenCounter, finish, measure
from kubemedic.domain.prompt.redacting import Redacts
from kubemedic.domain.redaction import LAST_APPLIED_ANNOTATION

_NOISE_KEYS: Final = frozenset(
    {
        "managedFields",
        "resourceVersion",
        "uid",
        "selfLink",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "dnsPolicy",
        "schedulerName",
        "enableServiceLinks",
        "preemptionPolicy",
        "images",
        "daemonEndpoints",
        "generateName",
        "serviceAccount",
        "hostIPs",
        "podIPs",
        "defaultMode",
    }
)
#: The service account token volume every pod gets: always there, never the problem.
_API_ACCESS_PREFIX: Final = "kube-api-access-"
_DEFAULT_TOLERATION_KEYS: Final = frozenset(
    {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
)


def prune(value: Any, *, parent: str = "") -> Any:
    """Drop noise keys and empty values; compact owner references and default tolerations."""
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, child in value.items():
            if key in _NOISE_KEYS or (key == LAST_APPLIED_ANNOTATION and parent == "annotations"):
                continue
            item = child
            if key == "ownerReferences" and isinstance(child, list):
                item = [
                    f"{view.get_str(r, 'kind')}/{view.get_str(r, 'name')}"
                    for r in child
                    if isinstance(r, Mapping)
                ]
            if key in {"volumes", "volumeMounts"} and isinstance(child, list):
                item = [
                    v
                    for v in child
                    if not (
                        isinstance(v, Mapping)
                        and str(v.get("name", "")).startswith(_API_ACCESS_PREFIX)
                    )
                ]
            if key == "tolerations" and isinstance(child, list):
                item = [
                    t
                    for t in child
                    if not (isinstance(t, Mapping) and t.get("key") in _DEFAULT_TOLERATION_KEYS)
                ]
            pruned = prune(item, parent=str(key))
            if pruned not in (None, "", [], {}):
                result[str(key)] = pruned
        return result
    if isinstance(value, list):
        items = [prune(v, parent=parent) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def object_id(obj: Mapping[str, Any]) -> str:
    namespace = view.namespace_of(obj)
    parts = (
        [view.kind_of(obj), namespace, view.name_of(obj)]
        if namespace
        else [
            view.kind_of(obj),
            view.name_of(obj),
        ]
    )
    return "/".join(parts)


def pod_unhealthy(pod: Mapping[str, Any]) -> bool:
    if view.pod_phase(pod) not in {"Running", "Succeeded"} or not view.is_pod_ready(pod):
        return True
    return any((view.get_int(s, "restartCount") or 0) > 0 for s in view.container_statuses(pod))


_KIND_ORDER: Final = {
    kind: rank
    for rank, kind in enumerate(
        (
            "ReplicaSet",
            "HorizontalPodAutoscaler",
            "Node",
            "PersistentVolumeClaim",
            "Service",
            "EndpointSlice",
            "Endpoints",
            "ResourceQuota",
            "ConfigMap",
            "Secret",
        )
    )
}


def ordered_objects(index: view.BundleView) -> list[Mapping[str, Any]]:
    """The bundle's objects (events excluded), most telling first."""
    target = index.target_object()
    workload = index.workload()
    pods = index.scope_pods()
    first: list[Mapping[str, Any]] = [o for o in (target, workload) if o is not None]
    first += sorted(pods, key=lambda p: (not pod_unhealthy(p), view.name_of(p)))
    seen = {id(o) for o in first}
    rest = [
        o
        for o in index.bundle.objects
        if id(o) not in seen and view.kind_of(o) and view.kind_of(o) != "Event"
    ]

    def rank(obj: Mapping[str, Any]) -> tuple[int, int, str]:
        kind = view.kind_of(obj)
        revision = -(view.revision_of(obj) or 0) if kind == "ReplicaSet" else 0
        return (_KIND_ORDER.get(kind, len(_KIND_ORDER)), revision, object_id(obj))

    unique: dict[int, Mapping[str, Any]] = {id(o): o for o in first}
    for obj in sorted(rest, key=rank):
        unique.setdefault(id(obj), obj)
    return list(unique.values())


def _summary_form(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What is left of an object too big for the budget: identity, status, and the spec
    fields diagnoses turn on (replicas, node, containers' images and resources)."""
    metadata = view.get_dict(obj, "metadata")
    spec = view.get_dict(obj, "spec")
    pod_spec = view.pod_template_spec(obj) if "template" in spec else spec
    containers = [
        {k: c[k] for k in ("name", "image", "resources") if k in c}
        for c in view.pod_spec_containers(pod_spec)
    ]
    brief: dict[str, Any] = {
        k: spec[k] for k in ("replicas", "nodeName", "unschedulable") if k in spec
    }
    if containers:
        brief["containers"] = containers
    return {
        "kind": view.kind_of(obj),
        "metadata": {
            k: metadata[k]
            for k in ("name", "namespace", "labels", "ownerReferences")
            if k in metadata
        },
        "spec": brief,
        "status": view.get_dict(obj, "status"),
        "truncated": True,
    }


def objects_section(
    index: view.BundleView, *, redactor: Redacts, counter: TokenCounter, budget: int
) -> Section:
    entries: list[dict[str, Any]] = []
    omitted: list[str] = []
    used = 0
    for obj in ordered_objects(index):
        ref = object_id(obj)
        pruned = prune(redactor.redact_object(obj))
        for form in (pruned, prune(_summary_form(pruned))):
            entry = {"id": ref, "object": form}
            size = measure(counter, entry) if used < budget else budget + 1
            if used + size <= budget:
                entries.append(entry)
                used += size
                break
        else:
            omitted.append(ref)
    return finish(entries, omitted_ids=omitted, counter=counter, budget=budget)
