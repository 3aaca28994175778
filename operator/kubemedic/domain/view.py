"""An index over an IncidentBundle's raw Kubernetes objects.

Analyzers ask questions like "which ReplicaSets belong to this Deployment, newest first?",
"which events are about this pod?" or "which node does it run on?". Answering them from a
flat list of dicts is repetitive and easy to get subtly wrong, so :class:`BundleView`
builds the indexes once and every analyzer shares them.

Design choices:

- Objects stay plain dicts exactly as the API returned them; nothing is re-modelled. Every
  accessor goes through :func:`get` and friends, which return a safe default for a missing
  field *or a field of the wrong type* (a list where a dict was expected, a number where a
  string was expected). Analyzers therefore never raise on odd data; they just see less.
- Ownership is resolved by ``metadata.ownerReferences`` (controller reference first, by
  ``uid`` and then by kind/name), never by label selectors: selectors overlap, owner
  references do not. When a ReplicaSet is missing from the bundle, its Deployment is still
  inferred from the pod's ``pod-template-hash`` label (the ReplicaSet is always named
  ``<deployment>-<hash>``).
- Events come in two API shapes: core/v1 (``involvedObject``, ``message``, ``count``) and
  events.k8s.io/v1 (``regarding``, ``note``, ``series.count``/``deprecatedCount``). Both
  are normalised into :class:`EventInfo`.
- The indexes are built in one pass, so a bundle of thousands of objects stays linear.
"""

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, Final, TypeVar, cast

from kubemedic.models.bundle import ContainerLog, IncidentBundle, MetricResult
from kubemedic.models.target import TargetKind, TargetRef

_T = TypeVar("_T")

#: A Kubernetes object as the API returns it.
RawObject = dict[str, Any]
#: ``(kind, namespace, name)`` of an object; namespace is ``""`` when cluster-scoped.
ObjectKey = tuple[str, str, str]

REVISION_ANNOTATION: Final = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH_LABEL: Final = "pod-template-hash"
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"

#: Kinds that own pods directly or through a ReplicaSet, i.e. what a workload action targets.
WORKLOAD_KINDS: Final = frozenset({"Deployment", "StatefulSet", "DaemonSet"})

#: Newest characters of each container log the analyzers scan (a bundle file may carry more).
MAX_LOG_SCAN: Final = 64 * 1024
#: Longest part of one log line that is matched against a pattern.
MAX_SCAN_LINE: Final = 4096

#: Longest event message kept; the API allows 1 KiB but a bundle may carry anything.
MAX_MESSAGE_CHARS: Final = 1024

# NB: a Prometheus sample is the pair [unix time, "value as string"].
_SAMPLE_PAIR: Final = 2


# --- Safe field access ------------------------------------------------------------------


def get(obj: object, *path: str | int) -> Any:
    """Walk ``path`` through nested dicts and lists; ``None`` where any step is missing."""
    current: Any = obj
    for step in path:
        if isinstance(step, str) and isinstance(current, dict):
            current = current.get(step)
        elif (
            isinstance(step, int)
            and isinstance(current, list)
            and -len(current) <= step < len(current)
        ):
            current = current[step]
        else:
            return None
    return current


def get_str(obj: object, *path: str | int, default: str = "") -> str:
    """A string field; numbers are rendered (YAML may turn ``"3"`` into ``3``), else ``default``."""
    value = get(obj, *path)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def get_int(obj: object, *path: str | int) -> int | None:
    """An integer field; digit strings are accepted, anything else is ``None``."""
    value = get(obj, *path)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value.strip())
    return None


def get_dict(obj: object, *path: str | int) -> dict[str, Any]:
    """A dict field, or an empty dict."""
    value = get(obj, *path)
    return value if isinstance(value, dict) else {}


def get_list(obj: object, *path: str | int) -> list[Any]:
    """A list field, or an empty list."""
    value = get(obj, *path)
    return value if isinstance(value, list) else []


def dicts(value: object) -> list[dict[str, Any]]:
    """The dict items of a list (anything else is dropped)."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def controller_ref(obj: object) -> dict[str, Any] | None:
    """The owner reference of ``obj``'s controller: the one marked ``controller: true``,
    else the first; references without a kind and a name are skipped.

    NB: the one owner-reference rule of kubemedic (the bundle index, evidence gathering
    and alert mapping all follow it). Controllers always mark their reference; the
    fallback keeps hand-written objects (tests, bundle files) that omit the mark.
    """
    refs = [
        r for r in dicts(get(obj, "metadata", "ownerReferences")) if r.get("kind") and r.get("name")
    ]
    return next((r for r in refs if r.get("controller") is True), refs[0] if refs else None)


def str_map(value: object) -> dict[str, str]:
    """A ``map[string]string`` (labels, selectors, annotations), dropping odd entries."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def truncate(text: str, limit: int = 300) -> str:
    """Shorten ``text`` to ``limit`` characters for evidence lines."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- Object identity --------------------------------------------------------------------


def kind_of(obj: object) -> str:
    return get_str(obj, "kind")


def name_of(obj: object) -> str:
    return get_str(obj, "metadata", "name")


def namespace_of(obj: object) -> str:
    return get_str(obj, "metadata", "namespace")


def uid_of(obj: object) -> str:
    return get_str(obj, "metadata", "uid")


def labels_of(obj: object) -> dict[str, str]:
    return str_map(get(obj, "metadata", "labels"))


def annotations_of(obj: object) -> dict[str, str]:
    return str_map(get(obj, "metadata", "annotations"))


def cite(obj: object) -> str:
    """``Kind namespace/name`` (or ``Kind name`` when cluster-scoped), for evidence lines."""
    kind, namespace, name = kind_of(obj) or "Object", namespace_of(obj), name_of(obj) or "?"
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def revision_of(replicaset: object) -> int | None:
    """The Deployment revision a ReplicaSet holds (its revision annotation)."""
    return get_int(annotations_of(replicaset), REVISION_ANNOTATION)


# --- Status helpers ---------------------------------------------------------------------


def condition(obj: object, type_: str) -> dict[str, Any] | None:
    """The ``status.conditions`` entry of ``type_``, or ``None``."""
    for item in dicts(get(obj, "status", "conditions")):
        if item.get("type") == type_:
            return item
    return None


def condition_status(obj: object, type_: str) -> str:
    """``True``/``False``/``Unknown`` of a condition, or ``""`` when absent."""
    return get_str(condition(obj, type_), "status")


def container_statuses(pod: object, *, include_init: bool = True) -> list[dict[str, Any]]:
    """The pod's container statuses (init containers first when asked)."""
    statuses = dicts(get(pod, "status", "initContainerStatuses")) if include_init else []
    return statuses + dicts(get(pod, "status", "containerStatuses"))


def pod_spec_containers(pod_spec: object) -> list[dict[str, Any]]:
    """Containers of a pod spec (init containers included, after the main ones)."""
    return dicts(get(pod_spec, "containers")) + dicts(get(pod_spec, "initContainers"))


def find_container(pod_spec: object, name: str) -> dict[str, Any] | None:
    """The container named ``name`` in a pod spec."""
    for container in pod_spec_containers(pod_spec):
        if container.get("name") == name:
            return container
    return None


def pod_template_spec(obj: object) -> dict[str, Any]:
    """The pod spec of a Pod, or of a workload's ``spec.template``."""
    if kind_of(obj) == "Pod":
        return get_dict(obj, "spec")
    return get_dict(obj, "spec", "template", "spec")


def is_pod_ready(pod: object) -> bool:
    """The pod's ``Ready`` condition is ``True``."""
    return condition_status(pod, "Ready") == "True"


def pod_phase(pod: object) -> str:
    return get_str(pod, "status", "phase")


def is_terminal_pod(pod: object) -> bool:
    """A pod in ``Succeeded``/``Failed`` phase no longer runs (e.g. an evicted pod)."""
    return pod_phase(pod) in {"Succeeded", "Failed"}


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """An equality selector (Service ``spec.selector``, ``matchLabels``) matches ``labels``."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --- Events -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EventInfo:
    """One event, whichever API it came from."""

    name: str
    namespace: str
    reason: str
    message: str
    type: str
    count: int
    object_kind: str
    object_namespace: str
    object_name: str
    object_uid: str
    field_path: str

    def cite(self) -> str:
        """Evidence line: the event, its reason, how often, and its message."""
        times = f" x{self.count}" if self.count > 1 else ""
        where = (
            f"{self.object_namespace}/{self.object_name}"
            if self.object_namespace
            else self.object_name
        )
        return (
            f"Event on {self.object_kind} {where}: {self.type} {self.reason}{times}: "
            f'"{truncate(self.message)}"'
        )

    @property
    def container(self) -> str:
        """Container name from ``fieldPath`` (``spec.containers{app}``), or ``""``."""
        start, end = self.field_path.find("{"), self.field_path.rfind("}")
        return self.field_path[start + 1 : end] if 0 <= start < end else ""


def parse_event(obj: object) -> EventInfo | None:
    """Normalise a core/v1 or events.k8s.io/v1 Event; ``None`` if it is not an event."""
    if kind_of(obj) != "Event":
        return None
    subject = get_dict(obj, "regarding") or get_dict(obj, "involvedObject")
    message = get_str(obj, "note") or get_str(obj, "message")
    count = (
        get_int(obj, "series", "count")
        or get_int(obj, "count")
        or get_int(obj, "deprecatedCount")
        or 1
    )
    return EventInfo(
        name=name_of(obj),
        namespace=namespace_of(obj),
        reason=get_str(obj, "reason"),
        message=message[:MAX_MESSAGE_CHARS],
        type=get_str(obj, "type", default="Normal"),
        count=max(count, 1),
        object_kind=get_str(subject, "kind"),
        object_namespace=get_str(subject, "namespace") or namespace_of(obj),
        object_name=get_str(subject, "name"),
        object_uid=get_str(subject, "uid"),
        field_path=get_str(subject, "fieldPath"),
    )


# --- The view ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Revision:
    """One Deployment revision: its number, ReplicaSet and pods."""

    number: int
    replicaset: RawObject
    pods: tuple[RawObject, ...]


class BundleView:
    """Read-only indexes over one bundle. Build once, share between analyzers."""

    def __init__(self, bundle: IncidentBundle) -> None:
        self.bundle: Final = bundle
        self.target: Final[TargetRef] = bundle.target
        self._by_key: dict[tuple[str, str, str], RawObject] = {}
        self._by_uid: dict[str, RawObject] = {}
        self._by_kind: dict[str, list[RawObject]] = defaultdict(list)
        self._owned: dict[str, list[RawObject]] = defaultdict(list)
        self._events_by_uid: dict[str, list[EventInfo]] = defaultdict(list)
        self._events_by_key: dict[tuple[str, str, str], list[EventInfo]] = defaultdict(list)
        self._events: list[EventInfo] = []
        self._log_lines: list[tuple[ContainerLog, tuple[str, ...], tuple[str, ...]]] | None = None
        self._scope_pods: list[RawObject] | None = None
        self._memo: dict[Hashable, object] = {}
        for obj in bundle.objects:
            self._index(obj)

    def _index(self, obj: RawObject) -> None:
        kind = kind_of(obj)
        if not kind:
            return
        event = parse_event(obj)
        if event is not None:
            self._events.append(event)
            if event.object_uid:
                self._events_by_uid[event.object_uid].append(event)
            key = (event.object_kind, event.object_namespace, event.object_name)
            self._events_by_key[key].append(event)
            return
        self._by_kind[kind].append(obj)
        name = name_of(obj)
        if name:
            # NB: the first copy wins, so a duplicated object cannot shadow the original.
            self._by_key.setdefault((kind, namespace_of(obj), name), obj)
        uid = uid_of(obj)
        if uid:
            self._by_uid.setdefault(uid, obj)
        owner = controller_ref(obj)
        if owner is not None:
            owner_uid = get_str(owner, "uid")
            if owner_uid:
                self._owned[owner_uid].append(obj)
            owner_key = f"{get_str(owner, 'kind')}/{namespace_of(obj)}/{get_str(owner, 'name')}"
            self._owned[owner_key].append(obj)

    # -- lookup --------------------------------------------------------------------------

    def objects_of_kind(self, kind: str) -> list[RawObject]:
        """All (non-Event) objects of a kind, in bundle order."""
        return list(self._by_kind.get(kind, ()))

    def find(self, kind: str, name: str, *, namespace: str | None = None) -> RawObject | None:
        """An object by kind, name and namespace (``None`` for cluster-scoped)."""
        return self._by_key.get((kind, namespace or "", name))

    def find_key(self, key: ObjectKey) -> RawObject | None:
        """An object by its ``(kind, namespace, name)`` key."""
        kind, namespace, name = key
        return self.find(kind, name, namespace=namespace)

    def by_uid(self, uid: str) -> RawObject | None:
        return self._by_uid.get(uid) if uid else None

    def target_object(self) -> RawObject | None:
        """The object the incident is about, if the bundle holds it."""
        target = self.target
        return self.find(target.kind.value, target.name, namespace=target.namespace)

    # -- ownership -----------------------------------------------------------------------

    def owner(self, obj: object) -> RawObject | None:
        """The controlling owner of ``obj`` if the bundle holds it."""
        ref = controller_ref(obj)
        if ref is None:
            return None
        found = self.by_uid(get_str(ref, "uid"))
        if found is None:
            found = self.find(
                get_str(ref, "kind"), get_str(ref, "name"), namespace=namespace_of(obj)
            )
        return found

    def owner_chain(self, obj: object) -> list[RawObject]:
        """Owners from the nearest up (Pod → ReplicaSet → Deployment); cycles are cut."""
        chain: list[RawObject] = []
        seen: set[int] = {id(obj)}
        current = self.owner(obj)
        while current is not None and id(current) not in seen and len(chain) < 8:
            chain.append(current)
            seen.add(id(current))
            current = self.owner(current)
        return chain

    def owned_by(self, obj: object, kind: str | None = None) -> list[RawObject]:
        """Objects whose controller reference points at ``obj`` (by uid or kind/name)."""
        found: dict[int, RawObject] = {}
        uid = uid_of(obj)
        keys = [uid] if uid else []
        keys.append(f"{kind_of(obj)}/{namespace_of(obj)}/{name_of(obj)}")
        for key in keys:
            for item in self._owned.get(key, ()):
                if kind is None or kind_of(item) == kind:
                    found.setdefault(id(item), item)
        return list(found.values())

    def workload_key(self, obj: object) -> ObjectKey | None:
        """``(kind, namespace, name)`` of the workload that controls ``obj`` (or ``obj`` itself).

        Follows owner references through the bundle; where a ReplicaSet is missing, infers
        its Deployment from the ``pod-template-hash`` naming rule. ``None`` for a bare pod.
        """
        kind = kind_of(obj)
        if kind in WORKLOAD_KINDS:
            return (kind, namespace_of(obj), name_of(obj))
        current: object = obj
        for _ in range(8):
            ref = controller_ref(current)
            if ref is None:
                return None
            ref_kind, ref_name = get_str(ref, "kind"), get_str(ref, "name")
            if ref_kind in WORKLOAD_KINDS and ref_name:
                return (ref_kind, namespace_of(obj), ref_name)
            owner = self.owner(current)
            if owner is None:
                if ref_kind == "ReplicaSet":
                    return self._deployment_from_hash(obj, ref_name)
                return None
            current = owner
        return None

    @staticmethod
    def _deployment_from_hash(pod: object, replicaset_name: str) -> ObjectKey | None:
        pod_hash = labels_of(pod).get(POD_TEMPLATE_HASH_LABEL, "")
        suffix = f"-{pod_hash}"
        if pod_hash and replicaset_name.endswith(suffix) and len(replicaset_name) > len(suffix):
            return ("Deployment", namespace_of(pod), replicaset_name[: -len(suffix)])
        return None

    # -- workloads, revisions, pods -------------------------------------------------------

    def pods(self) -> list[RawObject]:
        return self.objects_of_kind("Pod")

    def pods_of_workload(self, key: ObjectKey) -> list[RawObject]:
        """Pods controlled (directly or via a ReplicaSet) by the workload ``key``."""
        return [pod for pod in self.pods() if self.workload_key(pod) == key]

    def replicasets_of(self, deployment: object) -> list[RawObject]:
        """ReplicaSets of a Deployment, oldest revision first (unknown revisions first)."""
        replicasets = self.owned_by(deployment, "ReplicaSet")
        return sorted(replicasets, key=lambda rs: (revision_of(rs) or 0, name_of(rs)))

    def revisions(self, deployment: object) -> list[Revision]:
        """The Deployment's revisions (only ReplicaSets with a revision), oldest first."""
        result: list[Revision] = []
        for replicaset in self.replicasets_of(deployment):
            number = revision_of(replicaset)
            if number is None or number < 1:
                continue
            pods = tuple(self.owned_by(replicaset, "Pod"))
            result.append(Revision(number=number, replicaset=replicaset, pods=pods))
        return result

    def workload(self) -> RawObject | None:
        """The workload object the target is or belongs to (Deployment/StatefulSet/DaemonSet)."""
        key = self.workload_ref()
        return None if key is None else self.find_key(key)

    def workload_ref(self) -> ObjectKey | None:
        """``(kind, namespace, name)`` of the target's workload, even if it is not in the bundle."""
        target = self.target
        kind = target.kind
        namespace = target.namespace or ""
        if kind.value in WORKLOAD_KINDS:
            return (kind.value, namespace, target.name)
        if kind is TargetKind.POD:
            pod = self.target_object()
            return None if pod is None else self.workload_key(pod)
        if kind is TargetKind.HORIZONTAL_POD_AUTOSCALER:
            ref = get_dict(self.target_object(), "spec", "scaleTargetRef")
            ref_kind, ref_name = get_str(ref, "kind"), get_str(ref, "name")
            if ref_kind in WORKLOAD_KINDS and ref_name:
                return (ref_kind, namespace, ref_name)
        return None

    def memo(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """``compute()`` once per ``key`` for this view: analyzers share derived answers
        (a pod's container problems) instead of recomputing them per analyzer.

        NB: keys must name what the answer depends on (``("problems", id(pod))``); the pod
        objects live as long as the view, so their ids stay unique.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return cast("_T", self._memo[key])

    def scope_pods(self) -> list[RawObject]:
        """The pods the incident is about, by target kind (computed once per view).

        Workloads and HPAs: the workload's pods. Pod: itself. Node: pods bound to it.
        Service: pods its selector matches. PersistentVolumeClaim: pods mounting it.
        """
        if self._scope_pods is None:
            self._scope_pods = self._find_scope_pods()
        return list(self._scope_pods)

    def _find_scope_pods(self) -> list[RawObject]:
        target = self.target
        namespace = target.namespace or ""
        kind = target.kind
        if kind is TargetKind.POD:
            pod = self.target_object()
            return [] if pod is None else [pod]
        if kind is TargetKind.NODE:
            return [pod for pod in self.pods() if get_str(pod, "spec", "nodeName") == target.name]
        if kind is TargetKind.SERVICE:
            selector = str_map(get(self.target_object(), "spec", "selector"))
            return self.pods_selected_by(namespace, selector)
        if kind is TargetKind.PERSISTENT_VOLUME_CLAIM:
            return [
                pod
                for pod in self.pods()
                if namespace_of(pod) == namespace and target.name in claim_names(pod)
            ]
        ref = self.workload_ref()
        return [] if ref is None else self.pods_of_workload(ref)

    def pods_selected_by(self, namespace: str, selector: Mapping[str, str]) -> list[RawObject]:
        """Pods in ``namespace`` whose labels match an equality selector."""
        return [
            pod
            for pod in self.pods()
            if namespace_of(pod) == namespace and selector_matches(selector, labels_of(pod))
        ]

    # -- events --------------------------------------------------------------------------

    def events(self) -> list[EventInfo]:
        return list(self._events)

    def events_for(self, obj: object) -> list[EventInfo]:
        """Events about ``obj`` (matched by uid, or by kind/namespace/name)."""
        found: dict[int, EventInfo] = {}
        uid = uid_of(obj)
        for event in self._events_by_uid.get(uid, ()) if uid else ():
            found[id(event)] = event
        key = (kind_of(obj), namespace_of(obj), name_of(obj))
        for event in self._events_by_key.get(key, ()):
            # NB: an event about an older object with the same name carries another uid; the
            # kubelet records a Node's events with the node's name as the uid.
            if (
                not event.object_uid
                or not uid
                or event.object_uid in {uid, event.object_name if key[0] == "Node" else uid}
            ):
                found[id(event)] = event
        return list(found.values())

    # -- other kinds ---------------------------------------------------------------------

    def node(self, name: str) -> RawObject | None:
        return self.find("Node", name) if name else None

    def nodes(self) -> list[RawObject]:
        return self.objects_of_kind("Node")

    def quotas(self, namespace: str) -> list[RawObject]:
        return [q for q in self.objects_of_kind("ResourceQuota") if namespace_of(q) == namespace]

    def hpas_for(self, key: ObjectKey) -> list[RawObject]:
        """HPAs whose ``spec.scaleTargetRef`` names the workload ``key``."""
        kind, namespace, name = key
        return [
            hpa
            for hpa in self.objects_of_kind("HorizontalPodAutoscaler")
            if namespace_of(hpa) == namespace
            and get_str(hpa, "spec", "scaleTargetRef", "kind") == kind
            and get_str(hpa, "spec", "scaleTargetRef", "name") == name
        ]

    def endpointslices_for(self, service: object) -> list[RawObject]:
        """EndpointSlices labelled ``kubernetes.io/service-name`` with the Service's name."""
        namespace, name = namespace_of(service), name_of(service)
        return [
            eps
            for eps in self.objects_of_kind("EndpointSlice")
            if namespace_of(eps) == namespace and labels_of(eps).get(SERVICE_NAME_LABEL) == name
        ]

    def endpoints_for(self, service: object) -> RawObject | None:
        """The legacy core/v1 Endpoints object of the same name."""
        return self.find("Endpoints", name_of(service), namespace=namespace_of(service))

    def pvc(self, namespace: str, name: str) -> RawObject | None:
        return self.find("PersistentVolumeClaim", name, namespace=namespace)

    # -- logs and metrics ----------------------------------------------------------------

    def logs_for(self, *, namespace: str, pod: str, container: str) -> list[ContainerLog]:
        """Log tails of one container, the previous (crashed) instance first."""
        found = [
            log
            for log in self.bundle.logs
            if log.namespace == namespace and log.pod == pod and log.container == container
        ]
        return sorted(found, key=lambda log: not log.previous)

    def log_lines(self) -> list[tuple[ContainerLog, tuple[str, ...], tuple[str, ...]]]:
        """Every log with its non-empty lines (stripped) and the same lines lower-cased and cut
        to ``MAX_SCAN_LINE`` characters for matching, from the log's newest ``MAX_LOG_SCAN``
        characters; split once and shared by every analyzer that reads logs."""
        if self._log_lines is None:
            self._log_lines = []
            for log in self.bundle.logs:
                lines = tuple(
                    stripped
                    for line in log.text[-MAX_LOG_SCAN:].splitlines()
                    if (stripped := line.strip())
                )
                lowered = tuple(line[:MAX_SCAN_LINE].lower() for line in lines)
                self._log_lines.append((log, lines, lowered))
        return self._log_lines

    def metrics(self) -> list[MetricResult]:
        return list(self.bundle.metrics)


def claim_names(pod: object) -> set[str]:
    """Names of the PersistentVolumeClaims a pod mounts."""
    names: set[str] = set()
    for volume in dicts(get(pod, "spec", "volumes")):
        claim = get_str(volume, "persistentVolumeClaim", "claimName")
        if claim:
            names.add(claim)
    return names


def iter_metric_samples(result: MetricResult) -> Iterable[tuple[dict[str, str], float]]:
    """``(labels, value)`` for every sample of a Prometheus vector or matrix result."""
    for series in dicts(get(result.data, "result")):
        labels = str_map(series.get("metric"))
        samples = [series.get("value"), *get_list(series, "values")]
        for sample in samples:
            if isinstance(sample, list) and len(sample) == _SAMPLE_PAIR:
                value = finite_float(sample[1])
                if value is not None:
                    yield labels, value


def finite_float(value: object) -> float | None:
    """A finite number from a Prometheus sample value (a string) or a number; else ``None``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
