"""One pure analyzer per failure mode: ``analyze_*(index) -> Finding | None``.

Each analyzer reads a :class:`~kubemedic.domain.view.BundleView` and either recognises its
failure mode — returning a :class:`Finding` with a summary, a confidence, evidence lines that
cite the object and field they come from, and the proposed actions — or returns ``None``.
Analyzers do not know about each other; :mod:`kubemedic.domain.diagnose` decides between them.

Signals are the ones the control plane really writes, field by field:

- kubelet container statuses (``state.waiting.reason`` CrashLoopBackOff / ErrImagePull /
  ImagePullBackOff / CreateContainerConfigError, ``lastState.terminated.reason`` OOMKilled /
  Error with ``exitCode``, ``restartCount``, ``ready``) and kubelet events (Unhealthy,
  Killing, BackOff, Failed, FailedMount);
- scheduler: pod condition ``PodScheduled=False reason=Unschedulable`` and FailedScheduling
  events; ReplicaSet condition ``ReplicaFailure reason=FailedCreate`` for quota;
- node conditions (``Ready`` False/Unknown, NodeStatusUnknown / KubeletNotReady), PVC phase and
  ProvisioningFailed events, EndpointSlice ``conditions.ready``, HPA ``ScalingLimited``.

Confidence says how unambiguous the evidence is: each analyzer starts from a base that
reflects how specific its signal is (``OOMKilled`` is written by the kernel; "not ready" has
many causes) and adds a little for every further pod showing the same thing.

Action risks are fixed per action type, not per situation (``ACTION_RISKS`` in
domain/catalog.py, which says why).

Where no safe automatic fix exists (an application bug, a missing ConfigMap, a full quota)
the analyzer proposes Escalate with instructions precise enough to act on without
re-investigating ("create ConfigMap 'app-config' in namespace 'shop' ...").

Analyzers never raise on odd data: every field is read through the tolerant accessors of
:mod:`kubemedic.domain.view`, and the tests feed them a table of malformed objects.
"""

import dataclasses
import decimal
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.domain.catalog import ACTION_RISKS
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import ObjectRef, TargetKind

# -- Kubelet and controller vocabulary --------------------------------------------------------

IMAGE_PULL_REASONS: Final = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "ErrImageInspect",
        "RegistryUnavailable",
    }
)
CONFIG_REASONS: Final = frozenset({"CreateContainerConfigError"})
CRASH_WAITING_REASONS: Final = frozenset({"CrashLoopBackOff", "RunContainerError"})
OOM_REASON: Final = "OOMKilled"
OOM_EXIT_CODE: Final = 137
#: Exit codes of a container stopped by the kubelet (SIGTERM 143, SIGKILL 137) or that
#: handled SIGTERM cleanly (0): what a liveness-probe restart leaves behind.
KILLED_EXIT_CODES: Final = frozenset({0, OOM_EXIT_CODE, 143})
#: Restarts that count as "repeated" without a CrashLoopBackOff waiting state.
CRASH_MIN_RESTARTS: Final = 3

# -- Tuning -----------------------------------------------------------------------------------

#: At most this many evidence lines per analyzer, and pods cited per kind of evidence.
MAX_EVIDENCE: Final = 12
MAX_CITED_PODS: Final = 5
#: At most this many DeletePod / SetResources actions in one finding.
MAX_POD_ACTIONS: Final = 3
#: Confidence added per further pod with the same signal, and the ceiling.
PER_POD_CONFIDENCE: Final = 0.03
MAX_CONFIDENCE: Final = 0.97

#: OOM memory limit proposal: max(peak * PEAK_HEADROOM, limit * LIMIT_GROWTH), bounded.
MEMORY_PEAK_HEADROOM: Final = decimal.Decimal("1.3")
MEMORY_LIMIT_GROWTH: Final = decimal.Decimal("1.5")
MEMORY_MAX_GROWTH: Final = decimal.Decimal(2)
MEMORY_LIMIT_CEILING: Final = 16 * quantity.GIBIBYTE
#: Evicted pods: a memory request of the observed usage plus this headroom.
MEMORY_REQUEST_HEADROOM: Final = decimal.Decimal("1.2")
#: HPA: without utilisation data, raise maxReplicas by this factor; never beyond 2x.
HPA_DEFAULT_GROWTH: Final = 1.5
HPA_MAX_GROWTH: Final = 2
HPA_REPLICAS_CEILING: Final = 1000

WORKING_SET_METRIC: Final = "container_memory_working_set_bytes"

# NB: the kubelet's texts, from pkg/kubelet/kuberuntime and the volume manager.
_MISSING_OBJECT_RE: Final = re.compile(
    r'\b(configmap|secret)s? "([^"]{1,253})" not found', re.IGNORECASE
)
_MISSING_KEY_RE: Final = re.compile(
    r"couldn't find key (\S{1,253}) in (ConfigMap|Secret) ([^/\s]{1,63})/(\S{1,253})"
)
_TRANSIENT_LOG_RE: Final = re.compile(
    r"connection refused|connect: connection refused|i/o timeout|no such host|"
    r"temporary failure in name resolution|connection reset|deadline exceeded|"
    r"could not connect|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|service unavailable",
    re.IGNORECASE,
)
_ERROR_LINE_RE: Final = re.compile(
    r"panic|fatal|error|exception|traceback|refused|timeout|failed|denied|not found",
    re.IGNORECASE,
)
_QUOTA_RE: Final = re.compile(
    r"exceeded quota: ([^,\s]{1,253}), requested: ([^ ]{1,1024}), used: ([^ ]{1,1024}), "
    r"limited: ([^ ]{1,1024})"
)
_EVICTION_RESOURCE_RE: Final = re.compile(r"low on resource: ([A-Za-z][A-Za-z./-]{0,62}[A-Za-z])")
_EVICTION_USAGE_RE: Final = re.compile(
    r"Container (\S{1,63}) was using (\S{1,32}), request is (\S{1,32}), "
    r"has larger consumption of ([A-Za-z][A-Za-z./-]{0,62}[A-Za-z])"
)
_VOLUME_SCHEDULING_RE: Final = re.compile(
    r"unbound immediate PersistentVolumeClaims|volume node affinity conflict|"
    r"persistentvolumeclaim \"[^\"]{1,253}\" not found|available persistent volumes to bind|"
    r"unbound PersistentVolumeClaims",
    re.IGNORECASE,
)
_STORAGECLASS_RE: Final = re.compile(
    r'storageclass(?:\.storage\.k8s\.io)? "([^"]{1,253})" not found'
)

#: Longest text an analyzer runs a regular expression over (messages are 1 KiB at most).
_MAX_SCAN: Final = 4096


class ProblemKind(StrEnum):
    """What is wrong with one container (the building block of several analyzers)."""

    OOM = "OOMKilled"
    CRASH = "Crash"
    IMAGE = "ImagePull"
    CONFIG = "Config"
    LIVENESS = "Liveness"
    READINESS = "Readiness"


@dataclasses.dataclass(frozen=True)
class ContainerProblem:
    """One container (or, for volume-borne config, one pod) that is not healthy."""

    kind: ProblemKind
    namespace: str
    pod: str
    node: str
    container: str
    reason: str
    message: str
    exit_code: int | None
    restart_count: int
    evidence: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """What one analyzer concluded.

    ``facts`` carry names the runbook needs for its kubectl commands (``pod``, ``container``,
    ``node``, ...); they never change the diagnosis itself.
    """

    category: Category
    summary: str
    confidence: float
    evidence: tuple[str, ...]
    actions: tuple[Action, ...]
    facts: Mapping[str, str] = dataclasses.field(default_factory=dict)


Analyzer = Callable[[view.BundleView], Finding | None]


# -- Small helpers ----------------------------------------------------------------------------


def make_action(
    action_type: ActionType, target: ObjectRef, *, params: Mapping[str, object] | None = None
) -> Action:
    """An action of the catalog with its fixed risk."""
    return Action(
        type=action_type,
        target=target,
        params=dict(params or {}),
        risk=ACTION_RISKS[action_type],
    )


def escalate(target: ObjectRef, *, reason: str, instructions: str) -> Action:
    """An Escalate action: nothing is applied, a human follows ``instructions``."""
    return make_action(
        ActionType.ESCALATE,
        target,
        params={"reason": view.truncate(reason, 1000), "instructions": instructions[:4000]},
    )


def object_ref(kind: str, name: str, *, namespace: str | None = None) -> ObjectRef:
    """An action target; ``namespace`` is ``None`` (or ``""``) for cluster-scoped kinds."""
    return ObjectRef(kind=kind, namespace=namespace or None, name=name)


def key_ref(key: view.ObjectKey) -> ObjectRef:
    """The action target for a ``(kind, namespace, name)`` key."""
    kind, namespace, name = key
    return object_ref(kind, name, namespace=namespace)


def target_ref(index: view.BundleView) -> ObjectRef:
    target = index.target
    return object_ref(target.kind.value, target.name, namespace=target.namespace)


def workload_object_ref(index: view.BundleView) -> ObjectRef | None:
    """The workload the target is or belongs to, as an action target."""
    key = index.workload_ref()
    return None if key is None else key_ref(key)


def describe_workload(key: view.ObjectKey | None, fallback: str) -> str:
    if key is None:
        return fallback
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}"


def scaled_confidence(base: float, count: int, *, step: float = PER_POD_CONFIDENCE) -> float:
    """``base`` plus ``step`` for every further pod showing the same signal, capped."""
    return round(min(MAX_CONFIDENCE, base + step * max(count - 1, 0)), 3)


def _clip(lines: Iterable[str], limit: int = MAX_EVIDENCE) -> tuple[str, ...]:
    unique: dict[str, None] = {}
    for line in lines:
        if line and line not in unique:
            unique[line] = None
        if len(unique) >= limit:
            break
    return tuple(unique)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _pod_key(problem: ContainerProblem) -> tuple[str, str]:
    return (problem.namespace, problem.pod)


def _quoted_list(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in sorted(set(names)))


# -- Container problems -----------------------------------------------------------------------


def _probe_containers(events: Sequence[view.EventInfo], probe: str) -> set[str]:
    """Containers with failed ``probe`` events ("" = the event names no container)."""
    found: set[str] = set()
    for event in events:
        message = event.message[:_MAX_SCAN]
        if (event.reason == "Unhealthy" and message.startswith(f"{probe} probe failed")) or (
            event.reason == "Killing" and f"failed {probe.lower()} probe" in message
        ):
            found.add(event.container)
    return found


def _matches(containers: set[str], name: str) -> bool:
    return name in containers or "" in containers


def container_problems(index: view.BundleView, pod: object) -> list[ContainerProblem]:
    """Everything wrong with a pod's containers, classified.

    Order matters: an image or config error means the container never ran; an OOM kill is
    reported by the kernel and beats any generic crash; a restart explained by failed
    liveness probes is a probe problem, not an application crash.
    """
    namespace, pod_name = view.namespace_of(pod), view.name_of(pod)
    node = view.get_str(pod, "spec", "nodeName")
    where = f"Pod {namespace}/{pod_name}"
    events = index.events_for(pod)
    liveness = _probe_containers(events, "Liveness") | _probe_containers(events, "Startup")
    readiness = _probe_containers(events, "Readiness")
    problems: list[ContainerProblem] = []

    def add(
        kind: ProblemKind,
        *,
        container: str,
        restarts: int,
        reason: str,
        evidence: str,
        message: str = "",
        exit_code: int | None = None,
    ) -> None:
        problems.append(
            ContainerProblem(
                kind=kind,
                namespace=namespace,
                pod=pod_name,
                node=node,
                container=container,
                reason=reason,
                message=message,
                exit_code=exit_code,
                restart_count=restarts,
                evidence=evidence,
            )
        )

    for status in view.container_statuses(pod):
        name = view.get_str(status, "name")
        if not name:
            continue
        restarts = max(view.get_int(status, "restartCount") or 0, 0)
        waiting = view.get_dict(status, "state", "waiting")
        terminated = view.get_dict(status, "state", "terminated")
        last = view.get_dict(status, "lastState", "terminated")
        waiting_reason = view.get_str(waiting, "reason")
        waiting_message = view.truncate(view.get_str(waiting, "message"))
        last_reason = view.get_str(last, "reason")
        last_exit = view.get_int(last, "exitCode")
        subject = f"{where} container '{name}'"
        if waiting_reason in IMAGE_PULL_REASONS:
            image = view.get_str(status, "image") or view.get_str(
                view.find_container(view.get_dict(pod, "spec"), name), "image"
            )
            add(
                ProblemKind.IMAGE,
                container=name,
                reason=waiting_reason,
                message=waiting_message,
                restarts=restarts,
                evidence=(
                    f"{subject}: state.waiting.reason={waiting_reason} image='{image}': "
                    f"{waiting_message}"
                ),
            )
        elif waiting_reason in CONFIG_REASONS:
            add(
                ProblemKind.CONFIG,
                container=name,
                reason=waiting_reason,
                message=waiting_message,
                restarts=restarts,
                evidence=f"{subject}: state.waiting.reason={waiting_reason}: {waiting_message}",
            )
        elif view.get_str(terminated, "reason") == OOM_REASON or (
            last_reason == OOM_REASON and restarts > 0
        ):
            field = "state" if view.get_str(terminated, "reason") == OOM_REASON else "lastState"
            code = view.get_int(terminated if field == "state" else last, "exitCode")
            add(
                ProblemKind.OOM,
                container=name,
                reason=OOM_REASON,
                exit_code=code,
                restarts=restarts,
                evidence=(
                    f"{subject}: {field}.terminated.reason=OOMKilled "
                    f"exitCode={code if code is not None else '?'}"
                    f" (restartCount={restarts})"
                ),
            )
        elif (
            _matches(liveness, name)
            and (restarts > 0 or waiting_reason == "CrashLoopBackOff")
            and (last_exit is None or last_exit in KILLED_EXIT_CODES)
        ):
            add(
                ProblemKind.LIVENESS,
                container=name,
                reason=last_reason or waiting_reason,
                exit_code=last_exit,
                restarts=restarts,
                evidence=(
                    f"{subject}: restarted after failed liveness probes, lastState.terminated"
                    f" reason={last_reason or '?'} "
                    f"exitCode={last_exit if last_exit is not None else '?'}"
                    f" (restartCount={restarts})"
                ),
            )
        elif waiting_reason in CRASH_WAITING_REASONS or (
            restarts >= CRASH_MIN_RESTARTS and last_exit is not None and last_exit != 0
        ):
            parts = [f"state.waiting.reason={waiting_reason}"] if waiting_reason else []
            if last:
                parts.append(
                    f"lastState.terminated.reason={last_reason or '?'} "
                    f"exitCode={last_exit if last_exit is not None else '?'}"
                )
            elif waiting_message:
                parts.append(f"message: {waiting_message}")
            add(
                ProblemKind.CRASH,
                container=name,
                reason=last_reason or waiting_reason,
                message=waiting_message,
                exit_code=last_exit,
                restarts=restarts,
                evidence=f"{subject}: {', '.join(parts)} (restartCount={restarts})",
            )
        elif (
            view.get(status, "ready") is False
            and view.get_dict(status, "state", "running")
            and _matches(readiness, name)
        ):
            add(
                ProblemKind.READINESS,
                container=name,
                reason="Unhealthy",
                restarts=restarts,
                evidence=f"{subject}: ready=false while state.running (restartCount={restarts})",
            )
    problems.extend(_volume_config_problems(pod, events, node=node))
    return problems


def _volume_config_problems(
    pod: object, events: Sequence[view.EventInfo], *, node: str
) -> list[ContainerProblem]:
    """A ConfigMap/Secret volume that cannot be mounted: a config error, not a storage one."""
    for event in events:
        if event.reason == "FailedMount" and (
            _MISSING_OBJECT_RE.search(event.message[:_MAX_SCAN])
            or _MISSING_KEY_RE.search(event.message[:_MAX_SCAN])
        ):
            return [
                ContainerProblem(
                    kind=ProblemKind.CONFIG,
                    namespace=view.namespace_of(pod),
                    pod=view.name_of(pod),
                    node=node,
                    container="",
                    reason="FailedMount",
                    message=event.message,
                    exit_code=None,
                    restart_count=0,
                    evidence=event.cite(),
                )
            ]
    return []


def is_healthy_pod(index: view.BundleView, pod: object) -> bool:
    """Running, Ready, and no container problem at all."""
    return (
        view.pod_phase(pod) == "Running"
        and view.is_pod_ready(pod)
        and not container_problems(index, pod)
    )


def _scope_problems(index: view.BundleView, kinds: Iterable[ProblemKind]) -> list[ContainerProblem]:
    wanted = set(kinds)
    return [
        problem
        for pod in index.scope_pods()
        if not view.is_terminal_pod(pod)
        for problem in container_problems(index, pod)
        if problem.kind in wanted
    ]


def _pods_affected(problems: Iterable[ContainerProblem]) -> int:
    return len({_pod_key(problem) for problem in problems})


def _cite_problems(problems: Sequence[ContainerProblem]) -> list[str]:
    cited: list[str] = []
    pods: set[tuple[str, str]] = set()
    for problem in problems:
        if _pod_key(problem) in pods:
            continue
        if len(pods) >= MAX_CITED_PODS:
            break
        pods.add(_pod_key(problem))
        cited.append(problem.evidence)
    return cited


def _log_line(index: view.BundleView, problem: ContainerProblem) -> tuple[str, str] | None:
    """The most telling log line of a container: ``(line, evidence)``.

    The previous (crashed) instance is preferred; within it, the last line that looks like
    an error, else the last non-empty line.
    """
    for log in index.logs_for(
        namespace=problem.namespace, pod=problem.pod, container=problem.container
    ):
        lines = [line.strip() for line in log.text.splitlines()[-200:] if line.strip()]
        if not lines:
            continue
        errors = [line for line in lines if _ERROR_LINE_RE.search(line[:_MAX_SCAN])]
        line = (errors or lines)[-1]
        instance = "previous instance" if log.previous else "current instance"
        return line, (
            f"Log {problem.namespace}/{problem.pod} container '{problem.container}' ({instance}): "
            f"'{view.truncate(line, 200)}'"
        )
    return None


# -- OOMKilled --------------------------------------------------------------------------------


def propose_memory_limit(*, limit_bytes: int, peak_bytes: int | None) -> int | None:
    """The new memory limit for an OOMKilled container, in bytes; ``None`` if it cannot grow.

    ``max(peak * 1.3, limit * 1.5)`` (just ``limit * 1.5`` without a peak), rounded up to a
    whole MiB, then bounded by ``2 * limit`` and by 16Gi (rounded down to a whole MiB).
    """
    if limit_bytes <= 0:
        return None
    limit = decimal.Decimal(limit_bytes)
    candidate = limit * MEMORY_LIMIT_GROWTH
    if peak_bytes is not None and peak_bytes > 0:
        candidate = max(candidate, decimal.Decimal(peak_bytes) * MEMORY_PEAK_HEADROOM)
    bound = min(limit * MEMORY_MAX_GROWTH, decimal.Decimal(MEMORY_LIMIT_CEILING))
    proposed = quantity.round_up_to_mebibytes(candidate)
    if proposed > bound:
        proposed = quantity.round_down_to_mebibytes(bound)
    return proposed if proposed > limit_bytes else None


def memory_peak(
    index: view.BundleView, *, namespace: str, container: str, pods: set[str]
) -> int | None:
    """Peak working set of a container from the bundle's metrics, in bytes.

    Series are matched on their ``namespace``/``container``/``pod`` labels where present, so
    a query for the whole namespace does not lend another container's peak.
    """
    peak: float | None = None
    for result in index.metrics():
        if WORKING_SET_METRIC not in result.query:
            continue
        for labels, value in view.iter_metric_samples(result):
            if labels.get("container", container) != container:
                continue
            if labels.get("namespace", namespace) != namespace:
                continue
            if "pod" in labels and pods and labels["pod"] not in pods:
                continue
            peak = value if peak is None else max(peak, value)
    return None if peak is None or peak <= 0 else math.ceil(peak)


def _memory_limit_source(
    index: view.BundleView, container: str, *, pods: Sequence[object]
) -> tuple[int | None, str]:
    """The container's current memory limit and the evidence line naming its field."""
    workload = index.workload()
    if workload is not None:
        spec = view.find_container(view.pod_template_spec(workload), container)
        if spec is not None:
            raw = view.get(spec, "resources", "limits", "memory")
            field = (
                f"{view.cite(workload)} "
                f"spec.template.spec.containers[{container}].resources.limits.memory"
            )
            return _as_bytes(raw), f"{field}={raw if raw is not None else '(not set)'}"
    for pod in pods:
        spec = view.find_container(view.get_dict(pod, "spec"), container)
        if spec is not None:
            raw = view.get(spec, "resources", "limits", "memory")
            field = f"{view.cite(pod)} spec.containers[{container}].resources.limits.memory"
            return _as_bytes(raw), f"{field}={raw if raw is not None else '(not set)'}"
    return None, ""


def _as_bytes(raw: object) -> int | None:
    parsed = quantity.try_parse_quantity(raw)
    if parsed is None or parsed <= 0:
        return None
    return math.ceil(parsed)


def analyze_oom_killed(index: view.BundleView) -> Finding | None:
    """Containers killed by the kernel for exceeding their memory limit."""
    problems = _scope_problems(index, [ProblemKind.OOM])
    if not problems:
        return None
    by_container = Counter(problem.container for problem in problems)
    workload_key = index.workload_ref()
    workload_ref = workload_object_ref(index)
    pods_by_name = {view.name_of(pod): pod for pod in index.scope_pods()}
    evidence = _cite_problems(problems)
    actions: list[Action] = []
    proposals: list[str] = []
    for container, _count in by_container.most_common(MAX_POD_ACTIONS):
        affected = [p for p in problems if p.container == container]
        pods = [pods_by_name[p.pod] for p in affected if p.pod in pods_by_name]
        limit, limit_line = _memory_limit_source(index, container, pods=pods)
        if limit_line:
            evidence.append(limit_line)
        namespace = affected[0].namespace
        peak = memory_peak(index, namespace=namespace, container=container, pods=set(pods_by_name))
        if peak is not None:
            evidence.append(
                f"Metric {WORKING_SET_METRIC} container '{container}': peak "
                f"{quantity.format_bytes(peak)}"
                + (f" of limit {quantity.format_bytes(limit)}" if limit else "")
            )
        where = describe_workload(workload_key, f"Pod {namespace}/{affected[0].pod}")
        if limit is None:
            actions.append(
                escalate(
                    workload_ref or target_ref(index),
                    reason=f"container '{container}' of {where} is OOMKilled without memory limit",
                    instructions=(
                        f"Container '{container}' has no resources.limits.memory, so the node's "
                        "OOM killer "
                        "chose it under memory pressure. Set resources.requests.memory and "
                        f"resources.limits.memory on {where} to at least its peak usage"
                        + (f" ({quantity.format_bytes(peak)})" if peak else "")
                        + " plus 30% headroom, then watch `kubectl top pod --containers`."
                    ),
                )
            )
            continue
        new_limit = propose_memory_limit(limit_bytes=limit, peak_bytes=peak)
        if new_limit is None:
            actions.append(
                escalate(
                    workload_ref or target_ref(index),
                    reason=(
                        f"container '{container}' of {where} is OOMKilled at a "
                        f"{quantity.format_bytes(limit)} limit"
                    ),
                    instructions=(
                        f"The memory limit of container '{container}' is already "
                        f"{quantity.format_bytes(limit)}, at or above the "
                        f"{quantity.format_bytes(MEMORY_LIMIT_CEILING)} "
                        "kubemedic raises automatically. Profile the application for a memory leak "
                        "or size the limit by hand."
                    ),
                )
            )
            continue
        formatted = quantity.format_quantity(new_limit, binary=True)
        proposals.append(f"'{container}' {quantity.format_bytes(limit)} → {formatted}")
        if workload_ref is None:
            actions.append(
                escalate(
                    target_ref(index),
                    reason=f"bare pod {where}: container '{container}' is OOMKilled",
                    instructions=(
                        f"Pod {namespace}/{affected[0].pod} has no controller, so its resources "
                        "cannot be "
                        "patched in place safely. Recreate it with "
                        f"resources.limits.memory={formatted} "
                        f"for container '{container}' (was {quantity.format_bytes(limit)}), or "
                        "move it "
                        "into a Deployment."
                    ),
                )
            )
            continue
        actions.append(
            make_action(
                ActionType.SET_RESOURCES,
                workload_ref,
                params={"container": container, "memoryLimit": formatted},
            )
        )
    pods_affected = _pods_affected(problems)
    containers = _quoted_list(by_container)
    subject = describe_workload(workload_key, f"Pod {problems[0].namespace}/{problems[0].pod}")
    summary = (
        f"Container {containers} of {subject} was OOMKilled on {_plural(pods_affected, 'pod')}"
    )
    summary += f"; raise the memory limit ({'; '.join(proposals)})." if proposals else "."
    first = problems[0]
    return Finding(
        category=Category.OOM_KILLED,
        summary=summary,
        confidence=scaled_confidence(0.88, pods_affected),
        evidence=_clip(evidence),
        actions=tuple(actions),
        facts={"pod": first.pod, "container": first.container, "namespace": first.namespace},
    )


# -- CrashLoop --------------------------------------------------------------------------------

_EXIT_CODE_MEANINGS: Final[Mapping[int, str]] = {
    1: "a generic application error",
    2: "a usage error (bad arguments or shell syntax)",
    126: "the command is not executable",
    127: "the command was not found in the image",
    134: "an abort (SIGABRT)",
    137: "SIGKILL",
    139: "a segmentation fault (SIGSEGV)",
    143: "SIGTERM",
}


def analyze_crash_loop(index: view.BundleView) -> Finding | None:
    """Containers that keep exiting (not OOM, not killed by a probe).

    A crash loop is usually an application bug or missing dependency, so the main action is
    Escalate with the exit code and the most telling log line. Only when the logs show a
    transient dependency failure (connection refused, DNS, timeouts) is a RestartRollout
    proposed first: once the dependency is back, a restart skips the CrashLoopBackOff delay
    (up to five minutes per attempt).
    """
    problems = _scope_problems(index, [ProblemKind.CRASH])
    if not problems:
        return None
    evidence = _cite_problems(problems)
    first = problems[0]
    log_lines: list[str] = []
    for problem in problems[:MAX_CITED_PODS]:
        found = _log_line(index, problem)
        # NB: replicas usually fail with the same line; citing it once keeps evidence short.
        if found is not None and found[0] not in log_lines:
            log_lines.append(found[0])
            evidence.append(found[1])
    exit_codes = Counter(p.exit_code for p in problems if p.exit_code is not None)
    exit_code = exit_codes.most_common(1)[0][0] if exit_codes else None
    meaning = _EXIT_CODE_MEANINGS.get(exit_code, "") if exit_code is not None else ""
    if meaning:
        evidence.append(f"exitCode {exit_code} usually means {meaning}")
    transient = any(_TRANSIENT_LOG_RE.search(line[:_MAX_SCAN]) for line in log_lines)
    workload_key = index.workload_ref()
    workload_ref = workload_object_ref(index)
    subject = describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    pods_affected = _pods_affected(problems)
    exit_text = (
        f"exit code {exit_code}" if exit_code is not None else f"reason {first.reason or 'unknown'}"
    )
    log_hint = f" Last log line: '{view.truncate(log_lines[0], 200)}'." if log_lines else ""
    instructions = (
        f"Container '{first.container}' of {subject} keeps exiting ({exit_text}"
        + (f": {meaning}" if meaning else "")
        + f"). Read `kubectl logs -n {first.namespace} {first.pod} -c {first.container} "
        "--previous`."
        + log_hint
        + " Fix the application or its configuration and roll out a new revision"
        + (
            ", or roll back to a revision that worked."
            if workload_key and workload_key[0] == "Deployment"
            else "."
        )
    )
    actions: list[Action] = []
    if transient and workload_ref is not None:
        actions.append(make_action(ActionType.RESTART_ROLLOUT, workload_ref))
        instructions += " The logs point to an unreachable dependency: check that it is up."
    actions.append(
        escalate(
            workload_ref or target_ref(index),
            reason=f"container '{first.container}' of {subject} is crash-looping ({exit_text})",
            instructions=instructions,
        )
    )
    summary = (
        f"Container {_quoted_list(p.container for p in problems)} of {subject} is crash-looping "
        f"({exit_text}) on {_plural(pods_affected, 'pod')}"
        + (
            "; the logs show an unreachable dependency."
            if transient
            else "; a human must fix the cause."
        )
    )
    base = 0.8 if log_lines else 0.75
    return Finding(
        category=Category.CRASH_LOOP,
        summary=summary,
        confidence=scaled_confidence(base, pods_affected),
        evidence=_clip(evidence),
        actions=tuple(actions),
        facts={"pod": first.pod, "container": first.container, "namespace": first.namespace},
    )


# -- BadRollout -------------------------------------------------------------------------------


class _Health(StrEnum):
    HEALTHY = "Healthy"
    FAILING = "Failing"
    UNOBSERVED = "Unobserved"


def _revision_health(index: view.BundleView, revision: view.Revision) -> tuple[_Health, str]:
    """Whether a revision worked, and the evidence line that says so.

    Its pods decide when there are any: any container problem means failing, a ready pod
    means healthy. Without pods (scaled down), the ReplicaSet's ``status.readyReplicas``
    is trusted. Otherwise the revision is unobserved and tells nothing.
    """
    rs = revision.replicaset
    live = [pod for pod in revision.pods if not view.is_terminal_pod(pod)]
    problems = [problem for pod in live for problem in container_problems(index, pod)]
    label = f"ReplicaSet {view.namespace_of(rs)}/{view.name_of(rs)} (revision {revision.number})"
    if problems:
        return _Health.FAILING, f"{label}: {problems[0].evidence}"
    ready = [pod for pod in live if view.pod_phase(pod) == "Running" and view.is_pod_ready(pod)]
    if ready:
        return _Health.HEALTHY, (
            f"{label}: {len(ready)}/{len(live)} pods Running and Ready with no restarts "
            f"or failures (e.g. Pod {view.namespace_of(ready[0])}/{view.name_of(ready[0])})"
        )
    ready_replicas = view.get_int(rs, "status", "readyReplicas") or 0
    if not live and ready_replicas > 0:
        return _Health.HEALTHY, f"{label}: status.readyReplicas={ready_replicas}"
    return _Health.UNOBSERVED, ""


def _last_good_revision(
    index: view.BundleView, older: Sequence[view.Revision]
) -> tuple[view.Revision, str] | None:
    """The newest observable revision among ``older`` if it was healthy, else ``None``."""
    for revision in reversed(older):
        health, line = _revision_health(index, revision)
        if health is _Health.HEALTHY:
            return revision, line
        if health is _Health.FAILING:
            return None
    return None


def _template_changes(new_rs: object, old_rs: object) -> list[str]:
    """What changed in the pod template between two revisions (images, resources, env, probes)."""
    new_spec, old_spec = view.pod_template_spec(new_rs), view.pod_template_spec(old_rs)
    changes: list[str] = []
    for container in view.pod_spec_containers(new_spec):
        name = view.get_str(container, "name")
        old = view.find_container(old_spec, name)
        if old is None:
            changes.append(f"container '{name}' added")
            continue
        for field in ("image", "command", "args"):
            if container.get(field) != old.get(field):
                changes.append(
                    f"container '{name}' {field} {_short(old.get(field))} → "
                    f"{_short(container.get(field))}"
                )
        for section in ("limits", "requests"):
            for resource in ("memory", "cpu"):
                before = view.get(old, "resources", section, resource)
                after = view.get(container, "resources", section, resource)
                if before != after:
                    changes.append(
                        f"container '{name}' resources.{section}.{resource} {_short(before)} → "
                        f"{_short(after)}"
                    )
        for field in ("env", "envFrom", "readinessProbe", "livenessProbe", "startupProbe"):
            if container.get(field) != old.get(field):
                changes.append(f"container '{name}' {field} changed")
    if new_spec.get("volumes") != old_spec.get("volumes"):
        changes.append("volumes changed")
    return changes


def _short(value: object) -> str:
    if value is None:
        return "(unset)"
    text = value if isinstance(value, str) else repr(value)
    return f"'{view.truncate(text, 80)}'"


def analyze_bad_rollout(index: view.BundleView) -> Finding | None:
    """The Deployment's newest revision fails while the previous observed one worked.

    The newest revision is failing when its pods show any container problem (crash, OOM,
    image, config, probe) and none of them is healthy. Below it, revisions without pods
    and without ready replicas tell nothing and are skipped; the first revision with
    evidence decides: healthy means a bad rollout (roll back to it), failing means the
    problem predates the newest change, and the symptom's own analyzer applies.

    NB: an OOM in the new revision while the previous one ran fine is a bad rollout even
    when the new template lowered the memory limit: rolling back restores the known-good
    template in one step, and the evidence lists the template changes for the follow-up.
    """
    key = index.workload_ref()
    deployment = index.find_key(key) if key is not None and key[0] == "Deployment" else None
    revisions = index.revisions(deployment) if deployment is not None else []
    if key is None or deployment is None or len(revisions) < 2:
        return None
    newest = revisions[-1]
    live = [pod for pod in newest.pods if not view.is_terminal_pod(pod)]
    problems = [problem for pod in live for problem in container_problems(index, pod)]
    if not problems or any(is_healthy_pod(index, pod) for pod in live):
        return None
    found = _last_good_revision(index, revisions[:-1])
    if found is None:
        return None
    good, good_line = found
    new_rs = newest.replicaset
    new_label = (
        f"ReplicaSet {view.namespace_of(new_rs)}/{view.name_of(new_rs)} (revision {newest.number})"
    )
    kinds = Counter(problem.kind for problem in problems)
    symptom = kinds.most_common(1)[0][0]
    failing_pods = _pods_affected(problems)
    evidence = [
        f"{new_label}: {failing_pods}/{len(live)} pods failing ({symptom.value}): "
        f"{problems[0].evidence}",
        *[p.evidence for p in problems[1:MAX_CITED_PODS]],
        good_line,
    ]
    progressing = view.condition(deployment, "Progressing")
    if view.get_str(progressing, "reason") == "ProgressDeadlineExceeded":
        evidence.append(
            f"{view.cite(deployment)} status.conditions[Progressing]=False "
            "reason=ProgressDeadlineExceeded: "
            f"{view.truncate(view.get_str(progressing, 'message'))}"
        )
    changes = _template_changes(new_rs, good.replicaset)
    evidence.extend(
        f"Template change revision {good.number} → {newest.number}: {c}" for c in changes[:5]
    )
    namespace, name = key[1], key[2]
    deployment_ref = object_ref("Deployment", name, namespace=namespace)
    summary = (
        f"Revision {newest.number} of Deployment {namespace}/{name} is failing ({symptom.value} on "
        f"{_plural(failing_pods, 'pod')}) while revision {good.number} was healthy; roll back to "
        f"revision {good.number}."
    )
    first = problems[0]
    confidence = scaled_confidence(0.88 if changes else 0.82, failing_pods)
    return Finding(
        category=Category.BAD_ROLLOUT,
        summary=summary,
        confidence=confidence,
        evidence=_clip(evidence),
        actions=(
            make_action(
                ActionType.ROLLBACK_ROLLOUT, deployment_ref, params={"toRevision": good.number}
            ),
        ),
        facts={
            "pod": first.pod,
            "container": first.container,
            "namespace": namespace,
            "revision": str(newest.number),
            "good_revision": str(good.number),
        },
    )


# -- ImagePullError ---------------------------------------------------------------------------


def analyze_image_pull_error(index: view.BundleView) -> Finding | None:
    """Images that cannot be pulled (wrong name or tag, missing pull secret, registry down)."""
    problems = _scope_problems(index, [ProblemKind.IMAGE])
    if not problems:
        return None
    pods_by_name = {view.name_of(pod): pod for pod in index.scope_pods()}
    evidence = _cite_problems(problems)
    images: dict[str, None] = {}
    for problem in problems:
        pod = pods_by_name.get(problem.pod)
        image = view.get_str(
            view.find_container(view.get_dict(pod, "spec"), problem.container), "image"
        )
        if image:
            images[image] = None
        for event in index.events_for(pod) if pod is not None else []:
            if event.reason in {"Failed", "BackOff"} and "image" in event.message.lower():
                evidence.append(event.cite())
    first = problems[0]
    messages = " ".join(p.message for p in problems).lower()
    if "unauthorized" in messages or "denied" in messages or "authentication required" in messages:
        cause = (
            "The registry refused the credentials: check that spec.imagePullSecrets names a "
            "Secret of "
            "type kubernetes.io/dockerconfigjson in the pod's namespace with access to the "
            "repository."
        )
    elif (
        "not found" in messages or "manifest unknown" in messages or "invalidimagename" in messages
    ):
        cause = (
            "The image or tag does not exist: correct the image reference (a typo in the tag is "
            "common)."
        )
    elif (
        "couldn't parse" in messages
        or "invalid reference format" in messages
        or first.reason == "InvalidImageName"
    ):
        cause = "The image reference is malformed: correct it."
    else:
        cause = "Check the registry is reachable from the nodes and the image reference is right."
    workload_key = index.workload_ref()
    subject = describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    image_text = _quoted_list(images) or "(unknown)"
    instructions = (
        f"Image {image_text} used by {subject} cannot be pulled ({first.reason}: "
        f"{view.truncate(first.message, 300)}). {cause} Verify with "
        f"`kubectl describe pod -n {first.namespace} {first.pod}`, then update the image and roll "
        "out."
    )
    pods_affected = _pods_affected(problems)
    return Finding(
        category=Category.IMAGE_PULL_ERROR,
        summary=(
            f"Image {image_text} of {subject} cannot be pulled ({first.reason}) on "
            f"{_plural(pods_affected, 'pod')}."
        ),
        confidence=scaled_confidence(0.9, pods_affected),
        evidence=_clip(evidence),
        actions=(
            escalate(
                workload_object_ref(index) or target_ref(index),
                reason=f"image {image_text} cannot be pulled ({first.reason})",
                instructions=instructions,
            ),
        ),
        facts={"pod": first.pod, "container": first.container, "namespace": first.namespace},
    )


# -- ConfigError ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MissingReference:
    """A ConfigMap or Secret (or one key of it) that a pod references but does not exist."""

    kind: str
    namespace: str
    name: str
    key: str | None

    def instruction(self) -> str:
        if self.key:
            return (
                f"add key '{self.key}' to {self.kind} '{self.name}' in namespace '{self.namespace}'"
            )
        return f"create {self.kind} '{self.name}' in namespace '{self.namespace}'"

    def command(self) -> str:
        if self.kind == "ConfigMap":
            return f"kubectl get configmap {self.name} -n {self.namespace} -o yaml"
        return f"kubectl get secret {self.name} -n {self.namespace} -o jsonpath='{{.data}}'"


def parse_missing_reference(message: str, namespace: str) -> MissingReference | None:
    """The ConfigMap/Secret a kubelet error message says is missing."""
    text = message[:_MAX_SCAN]
    key_match = _MISSING_KEY_RE.search(text)
    if key_match:
        return MissingReference(
            kind=key_match[2], namespace=key_match[3], name=key_match[4], key=key_match[1]
        )
    object_match = _MISSING_OBJECT_RE.search(text)
    if object_match:
        kind = "ConfigMap" if object_match[1].lower() == "configmap" else "Secret"
        return MissingReference(kind=kind, namespace=namespace, name=object_match[2], key=None)
    return None


def analyze_config_error(index: view.BundleView) -> Finding | None:
    """Containers that cannot be created because a ConfigMap, Secret or key is missing."""
    problems = _scope_problems(index, [ProblemKind.CONFIG])
    if not problems:
        return None
    missing: dict[MissingReference, None] = {}
    for problem in problems:
        ref = parse_missing_reference(problem.message, problem.namespace)
        if ref is not None:
            missing[ref] = None
    first = problems[0]
    evidence = _cite_problems(problems)
    pods_by_name = {view.name_of(pod): pod for pod in index.scope_pods()}
    for problem in problems[:MAX_CITED_PODS]:
        pod = pods_by_name.get(problem.pod)
        for event in index.events_for(pod) if pod is not None else []:
            if event.type == "Warning" and event.reason in {"Failed", "FailedMount"}:
                evidence.append(event.cite())
    workload_key = index.workload_ref()
    subject = describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    if missing:
        todo = "; ".join(ref.instruction() for ref in missing)
        checks = " ".join(f"`{ref.command()}`" for ref in missing)
        instructions = (
            f"{todo[0].upper()}{todo[1:]} (referenced by {subject}), or remove the reference from "
            "the pod "
            f"template. Check with {checks}. The kubelet retries on its own once it exists."
        )
        what = ", ".join(
            f"{ref.kind} '{ref.name}'" + (f" key '{ref.key}'" if ref.key else "") for ref in missing
        )
        summary = f"{subject} cannot start its containers: {what} is missing."
        confidence = scaled_confidence(0.92, _pods_affected(problems))
    else:
        instructions = (
            f"The kubelet cannot create container '{first.container}' of {subject}: "
            f"{view.truncate(first.message, 300)}. Fix the referenced configuration."
        )
        summary = f"{subject} cannot create its containers ({first.reason})."
        confidence = scaled_confidence(0.75, _pods_affected(problems))
    facts = {"pod": first.pod, "container": first.container, "namespace": first.namespace}
    if missing:
        ref = next(iter(missing))
        facts |= {"missing_kind": ref.kind, "missing_name": ref.name, "missing_key": ref.key or ""}
    return Finding(
        category=Category.CONFIG_ERROR,
        summary=summary,
        confidence=confidence,
        evidence=_clip(evidence),
        actions=(
            escalate(
                workload_object_ref(index) or target_ref(index),
                reason=view.truncate(summary, 1000),
                instructions=instructions,
            ),
        ),
        facts=facts,
    )


# -- ProbeFailure -----------------------------------------------------------------------------


def describe_probe(probe: object) -> str:
    """A probe spec in one line: ``httpGet :8080/healthz (timeoutSeconds=1, ...)``."""
    if not isinstance(probe, dict):
        return "(no probe spec)"
    if "httpGet" in probe:
        http = view.get_dict(probe, "httpGet")
        handler = (
            f"httpGet {view.get_str(http, 'scheme') or 'HTTP'} "
            f":{view.get_str(http, 'port')}{view.get_str(http, 'path') or '/'}"
        )
    elif "tcpSocket" in probe:
        handler = f"tcpSocket :{view.get_str(probe, 'tcpSocket', 'port')}"
    elif "exec" in probe:
        command = " ".join(str(part) for part in view.get_list(probe, "exec", "command"))
        handler = f"exec '{view.truncate(command, 80)}'"
    elif "grpc" in probe:
        handler = f"grpc :{view.get_str(probe, 'grpc', 'port')}"
    else:
        handler = "unknown handler"
    settings = [
        f"{field}={view.get_int(probe, field)}"
        for field in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "failureThreshold")
        if view.get_int(probe, field) is not None
    ]
    return handler + (f" ({', '.join(settings)})" if settings else "")


def _template_hash(pod: object) -> str:
    labels = view.labels_of(pod)
    return labels.get(view.POD_TEMPLATE_HASH_LABEL) or labels.get("controller-revision-hash", "")


def analyze_probe_failure(index: view.BundleView) -> Finding | None:
    """Readiness probes failing on running containers, or liveness probes restarting them.

    When only some pods of a workload fail readiness while their siblings (same template)
    are healthy, the failure is local to those pods: deleting them (their controller
    recreates them) is proposed first. Otherwise the probe or the endpoint behind it needs
    a human, and the probe spec is quoted in the instructions.
    """
    problems = _scope_problems(index, [ProblemKind.READINESS, ProblemKind.LIVENESS])
    if not problems:
        return None
    scope = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    pods_by_name = {view.name_of(pod): pod for pod in scope}
    first = problems[0]
    probe_field = "livenessProbe" if first.kind is ProblemKind.LIVENESS else "readinessProbe"
    probe_name = "Liveness" if first.kind is ProblemKind.LIVENESS else "Readiness"
    evidence = _cite_problems(problems)
    seen_reasons: set[str] = set()
    for problem in problems[:MAX_CITED_PODS]:
        pod = pods_by_name.get(problem.pod)
        for event in index.events_for(pod) if pod is not None else []:
            if event.reason in {"Unhealthy", "Killing"} and event.reason not in seen_reasons:
                seen_reasons.add(event.reason)
                evidence.append(event.cite())
    pod = pods_by_name.get(first.pod)
    spec = view.find_container(view.get_dict(pod, "spec"), first.container)
    probe_text = describe_probe(view.get(spec, probe_field))
    evidence.append(
        f"Pod {first.namespace}/{first.pod} spec.containers[{first.container}].{probe_field}: "
        f"{probe_text}"
    )
    failing = {p.pod for p in problems}
    # NB: siblings must share the failing pods' template (pod-template-hash or
    # controller-revision-hash): a healthy pod of another revision proves nothing.
    failing_templates = {_template_hash(pods_by_name.get(name)) for name in failing}
    healthy_siblings = [
        p
        for p in scope
        if view.name_of(p) not in failing
        and _template_hash(p) in failing_templates
        and is_healthy_pod(index, p)
    ]
    workload_key = index.workload_ref()
    subject = describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    target = workload_object_ref(index) or target_ref(index)
    actions: list[Action] = []
    if first.kind is ProblemKind.READINESS and healthy_siblings and workload_key is not None:
        evidence.append(
            f"{len(healthy_siblings)}/{len(scope)} pods of {subject} with the same template are "
            "Ready"
        )
        actions.extend(
            make_action(
                ActionType.DELETE_POD,
                object_ref("Pod", name, namespace=first.namespace),
                params={"pod": name},
            )
            for name in sorted(failing)[:MAX_POD_ACTIONS]
        )
        summary = (
            f"{probe_name} probe fails on {_plural(len(failing), 'pod')} of {subject} while "
            f"{len(healthy_siblings)} siblings are Ready; replace the failing pod(s)."
        )
        confidence = 0.8
    else:
        summary = (
            f"{probe_name} probe of container '{first.container}' fails on "
            f"{_plural(len(failing), 'pod')} of {subject}."
        )
        confidence = scaled_confidence(0.82, len(failing))
    if first.kind is ProblemKind.LIVENESS:
        advice = (
            "The kubelet restarts the container each time the liveness probe fails. If the probe "
            "times out under load, raise timeoutSeconds/failureThreshold or add a startupProbe; if "
            "the endpoint is broken, fix it. Liveness probes must not depend on other services."
        )
    else:
        advice = (
            "The container runs but does not pass its readiness probe, so it receives no traffic. "
            "Check what the endpoint returns (`kubectl port-forward` and curl it) and whether a "
            "dependency it checks is down, or fix the probe's path/port."
        )
    actions.append(
        escalate(
            target,
            reason=(
                f"{probe_name.lower()} probe failing for container '{first.container}' of {subject}"
            ),
            instructions=(
                f"{probe_name} probe {probe_text} of container '{first.container}' fails. {advice}"
            ),
        )
    )
    return Finding(
        category=Category.PROBE_FAILURE,
        summary=summary,
        confidence=confidence,
        evidence=_clip(evidence),
        actions=tuple(actions),
        facts={
            "pod": first.pod,
            "container": first.container,
            "namespace": first.namespace,
            "probe": probe_field,
        },
    )


# -- Unschedulable ----------------------------------------------------------------------------


def scheduler_reasons(message: str) -> list[tuple[int, str]]:
    """``(node count, reason)`` pairs of a scheduler "0/N nodes are available: ..." message."""
    text = message[:_MAX_SCAN]
    start = text.find("nodes are available:")
    if start < 0:
        return []
    body = text[start + len("nodes are available:") :]
    end = body.find("preemption:")
    body = body[:end] if end >= 0 else body
    reasons: list[tuple[int, str]] = []
    for raw in body.strip().rstrip(".").split(", "):
        part = raw.strip().rstrip(".")
        count_text, _, reason = part.partition(" ")
        if count_text.isdigit() and reason:
            reasons.append((int(count_text), reason.removeprefix("node(s) ")))
    return reasons


def _unschedulable_message(index: view.BundleView, pod: object) -> str:
    cond = view.condition(pod, "PodScheduled")
    if view.get_str(cond, "status") == "False" and view.get_str(cond, "reason") == "Unschedulable":
        return view.get_str(cond, "message") or "Unschedulable"
    if view.pod_phase(pod) == "Pending":
        for event in index.events_for(pod):
            if event.reason == "FailedScheduling":
                return event.message or "FailedScheduling"
    return ""


def _pod_requests(pod: object) -> str:
    totals: dict[str, decimal.Decimal] = {}
    for container in view.dicts(view.get(pod, "spec", "containers")):
        for resource, raw in view.get_dict(container, "resources", "requests").items():
            parsed = quantity.try_parse_quantity(raw)
            if parsed is not None and resource in {"cpu", "memory"}:
                totals[resource] = totals.get(resource, decimal.Decimal(0)) + parsed
    parts = []
    if "cpu" in totals:
        parts.append(f"cpu={quantity.format_quantity(totals['cpu'])}")
    if "memory" in totals:
        parts.append(f"memory={quantity.format_bytes(totals['memory'])}")
    return ", ".join(parts)


def analyze_unschedulable(index: view.BundleView) -> Finding | None:
    """Pending pods the scheduler cannot place (capacity, taints, affinity), storage excluded."""
    pending: list[tuple[object, str]] = []
    for pod in index.scope_pods():
        if view.pod_phase(pod) not in {"Pending", ""}:
            continue
        message = _unschedulable_message(index, pod)
        if message and not _VOLUME_SCHEDULING_RE.search(message[:_MAX_SCAN]):
            pending.append((pod, message))
    if not pending:
        return None
    first_pod, message = pending[0]
    namespace, pod_name = view.namespace_of(first_pod), view.name_of(first_pod)
    reasons = scheduler_reasons(message)
    evidence = [
        f"{view.cite(p)} status.conditions[PodScheduled]=False reason=Unschedulable: "
        f"{view.truncate(m)}"
        for p, m in pending[:MAX_CITED_PODS]
    ]
    for event in index.events_for(first_pod):
        if event.reason == "FailedScheduling":
            evidence.append(event.cite())
            break
    texts = [reason for _, reason in reasons] or [message]
    joined = " ".join(texts)
    advice: list[str] = []
    causes: list[str] = []
    requests = _pod_requests(first_pod)
    if "Insufficient" in joined:
        resources = sorted(
            {t.split("Insufficient ", 1)[1].strip() for t in texts if "Insufficient " in t}
        )
        causes.append(f"insufficient {', '.join(resources)}")
        advice.append(
            f"No node has enough free {', '.join(resources)} for the pod"
            + (f" (it requests {requests})" if requests else "")
            + ": add nodes or lower spec.template.spec.containers[*].resources.requests."
        )
    taints = [t for t in texts if "taint" in t]
    if taints:
        causes.append("untolerated taints")
        advice.append(
            "Nodes carry taints the pod does not tolerate "
            f"({'; '.join(view.truncate(t, 120) for t in taints[:3])}): "
            "add a matching toleration to the pod template, or remove the taint "
            "(`kubectl taint nodes <node> <key>-`) if it was set by mistake."
        )
    if any("affinity" in t or "selector" in t for t in texts):
        causes.append("node affinity/selector")
        selector = view.str_map(view.get(first_pod, "spec", "nodeSelector"))
        advice.append(
            "No node matches the pod's nodeSelector/affinity"
            + (
                f" ({', '.join(f'{k}={v}' for k, v in sorted(selector.items()))})"
                if selector
                else ""
            )
            + ": label a node accordingly or fix the selector."
        )
    if any("unschedulable" in t for t in texts):
        causes.append("cordoned nodes")
        advice.append(
            "Some nodes are cordoned: uncordon them if the maintenance is over (`kubectl "
            "uncordon <node>`)."
        )
    if not advice:
        causes.append("scheduler constraints")
        advice.append(f"The scheduler reports: {view.truncate(message, 300)}")
    workload_key = index.workload_ref()
    subject = describe_workload(workload_key, f"Pod {namespace}/{pod_name}")
    summary = (
        f"{_plural(len(pending), 'pod')} of {subject} cannot be scheduled: {', '.join(causes)}."
    )
    return Finding(
        category=Category.UNSCHEDULABLE,
        summary=summary,
        confidence=scaled_confidence(0.88 if reasons else 0.8, len(pending)),
        evidence=_clip(evidence),
        actions=(
            escalate(
                workload_object_ref(index) or target_ref(index),
                reason=view.truncate(summary, 1000),
                instructions=" ".join(advice),
            ),
        ),
        facts={"pod": pod_name, "namespace": namespace},
    )


# -- NodeNotReady -----------------------------------------------------------------------------


def node_not_ready_line(node: object) -> str | None:
    """Evidence line if a node's Ready condition is False or Unknown, else ``None``."""
    ready = view.condition(node, "Ready")
    status = view.get_str(ready, "status")
    if ready is None or status == "True":
        return None
    line = (
        f"{view.cite(node)} status.conditions[Ready].status={status or '?'} "
        f"reason={view.get_str(ready, 'reason') or '?'}: "
        f"{view.truncate(view.get_str(ready, 'message'), 200)}"
    )
    heartbeat = view.get_str(ready, "lastHeartbeatTime")
    return line + (f" (lastHeartbeatTime={heartbeat})" if heartbeat else "")


def _node_actions(node: object, *, reason: str, target: ObjectRef | None = None) -> list[Action]:
    name = view.name_of(node)
    actions: list[Action] = []
    if view.get(node, "spec", "unschedulable") is not True:
        actions.append(
            make_action(ActionType.CORDON_NODE, object_ref("Node", name), params={"node": name})
        )
    actions.append(
        escalate(
            target or object_ref("Node", name),
            reason=reason,
            instructions=(
                f"Node '{name}' is not Ready. Check it with `kubectl describe node {name}`; on "
                "the node, "
                "`systemctl status kubelet containerd` and `journalctl -u kubelet --since '1 "
                "hour ago'`. "
                "If the machine is gone, delete the Node object so its pods are rescheduled; "
                "pods of "
                "StatefulSets on it need `kubectl delete pod --force` once you are sure it is down."
            ),
        )
    )
    return actions


def analyze_node_not_ready(index: view.BundleView) -> Finding | None:
    """A node whose kubelet stopped reporting or reports NotReady.

    For a Node target the node itself is judged. For a workload the nodes its pods run on
    are; the finding is strong only when every unhealthy pod of the workload sits on a
    not-ready node (otherwise something else is wrong too, and the confidence stays below
    the "strong" threshold so a more specific finding wins).
    """
    target = index.target
    if target.kind is TargetKind.NODE:
        node = index.target_object()
        line = node_not_ready_line(node) if node is not None else None
        if node is None or line is None:
            return None
        evidence = [line]
        taints = [
            f"{view.get_str(t, 'key')}:{view.get_str(t, 'effect')}"
            for t in view.dicts(view.get(node, "spec", "taints"))
        ]
        if taints:
            evidence.append(f"{view.cite(node)} spec.taints: {', '.join(taints)}")
        if view.get(node, "spec", "unschedulable") is True:
            evidence.append(f"{view.cite(node)} spec.unschedulable=true (already cordoned)")
        pods = index.scope_pods()
        if pods:
            evidence.append(
                f"{_plural(len(pods), 'pod')} in the bundle are bound to node '{target.name}'"
            )
        evidence.extend(e.cite() for e in index.events_for(node)[:3])
        status = view.condition_status(node, "Ready")
        return Finding(
            category=Category.NODE_NOT_READY,
            summary=(
                f"Node {target.name} is not Ready (Ready={status}); keep new pods off it and "
                "repair it."
            ),
            confidence=0.93 if status == "Unknown" else 0.9,
            evidence=_clip(evidence),
            actions=tuple(_node_actions(node, reason=f"node {target.name} is not Ready")),
            facts={"node": target.name},
        )
    scope = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    bad_nodes: dict[str, tuple[object, str]] = {}
    for pod in scope:
        node_name = view.get_str(pod, "spec", "nodeName")
        node = index.node(node_name)
        if node is not None and node_name not in bad_nodes:
            line = node_not_ready_line(node)
            if line is not None:
                bad_nodes[node_name] = (node, line)
    if not bad_nodes:
        return None
    on_bad = [p for p in scope if view.get_str(p, "spec", "nodeName") in bad_nodes]
    unhealthy_elsewhere = [
        p
        for p in scope
        if view.get_str(p, "spec", "nodeName") not in bad_nodes and not is_healthy_pod(index, p)
    ]
    node_name, (bad_node, _) = next(iter(bad_nodes.items()))
    evidence = [line for _, line in bad_nodes.values()]
    evidence.extend(
        f"{view.cite(p)} runs on not-ready node '{view.get_str(p, 'spec', 'nodeName')}' "
        f"(Ready={view.condition_status(p, 'Ready') or '?'})"
        for p in on_bad[:MAX_CITED_PODS]
    )
    workload_key = index.workload_ref()
    subject = describe_workload(workload_key, index.target.display())
    confidence = 0.4 if unhealthy_elsewhere else scaled_confidence(0.88, len(on_bad))
    return Finding(
        category=Category.NODE_NOT_READY,
        summary=(
            f"{_plural(len(on_bad), 'pod')} of {subject} run on not-ready node(s) "
            f"{_quoted_list(bad_nodes)}; cordon and repair the node."
        ),
        confidence=confidence,
        evidence=_clip(evidence),
        actions=tuple(
            _node_actions(bad_node, reason=f"node {node_name} hosting {subject} is not Ready")
        ),
        facts={"node": node_name, "pod": view.name_of(on_bad[0]) if on_bad else ""},
    )


# -- VolumeError ------------------------------------------------------------------------------

_VOLUME_EVENT_REASONS: Final = frozenset(
    {"FailedMount", "FailedAttachVolume", "FailedMapVolume", "FailedBinding", "ProvisioningFailed"}
)


def _volume_instruction(message: str, pvc_hint: str) -> str:
    text = message[:_MAX_SCAN]
    storage_class = _STORAGECLASS_RE.search(text)
    if storage_class:
        return (
            f"StorageClass '{storage_class[1]}' does not exist (`kubectl get storageclass`). "
            "Create it, or "
            f"recreate {pvc_hint} with an existing storageClassName (the field is immutable)."
        )
    if "Multi-Attach" in text:
        return (
            "The volume is still attached to another node (a ReadWriteOnce volume used by "
            "another pod, "
            "or by a pod on a failed node). Find that pod (`kubectl get pods -o wide`) and "
            "delete it, or "
            "wait for the attach/detach controller to release it (about 6 minutes after the node "
            "is gone)."
        )
    if (
        "unbound immediate PersistentVolumeClaims" in text
        or "no persistent volumes available" in text
    ):
        return (
            f"{pvc_hint} is not bound: check its StorageClass and provisioner (`kubectl describe "
            "pvc`)."
        )
    return (
        f"The volume cannot be provided: {view.truncate(message, 300)}. Check {pvc_hint} and its "
        "StorageClass."
    )


def analyze_volume_error(index: view.BundleView) -> Finding | None:
    """Volumes that cannot be provisioned, attached or mounted (ConfigMap/Secret volumes aside)."""
    target = index.target
    namespace = target.namespace or ""
    scope = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    claims: dict[str, None] = {}
    if target.kind is TargetKind.PERSISTENT_VOLUME_CLAIM:
        claims[target.name] = None
    for pod in scope:
        claims.update(dict.fromkeys(sorted(view.claim_names(pod))))
    evidence: list[str] = []
    messages: list[str] = []
    bad_claim = ""
    for claim in claims:
        pvc = index.pvc(namespace, claim)
        if pvc is None:
            continue
        phase = view.get_str(pvc, "status", "phase")
        pvc_events = [
            e
            for e in index.events_for(pvc)
            if e.reason in _VOLUME_EVENT_REASONS or e.type == "Warning"
        ]
        if phase in {"Pending", "Lost"} and (pvc_events or phase == "Lost"):
            bad_claim = bad_claim or claim
            storage_class = view.get_str(pvc, "spec", "storageClassName")
            evidence.append(
                f"{view.cite(pvc)} status.phase={phase}"
                + (f" spec.storageClassName={storage_class}" if storage_class else "")
            )
            evidence.extend(e.cite() for e in pvc_events[:3])
            messages.extend(e.message for e in pvc_events)
    affected_pods: list[str] = []
    for pod in scope:
        pod_events = [
            e
            for e in index.events_for(pod)
            if e.reason in _VOLUME_EVENT_REASONS
            and not _MISSING_OBJECT_RE.search(e.message[:_MAX_SCAN])
            and not _MISSING_KEY_RE.search(e.message[:_MAX_SCAN])
        ]
        scheduling = _unschedulable_message(index, pod)
        if scheduling and _VOLUME_SCHEDULING_RE.search(scheduling[:_MAX_SCAN]):
            evidence.append(
                f"{view.cite(pod)} status.conditions[PodScheduled]=False: "
                f"{view.truncate(scheduling)}"
            )
            messages.append(scheduling)
            affected_pods.append(view.name_of(pod))
        if pod_events:
            evidence.extend(e.cite() for e in pod_events[:2])
            messages.extend(e.message for e in pod_events)
            affected_pods.append(view.name_of(pod))
    if not messages and not (target.kind is TargetKind.PERSISTENT_VOLUME_CLAIM and bad_claim):
        return None
    pvc_hint = (
        f"PersistentVolumeClaim {namespace}/{bad_claim}"
        if bad_claim
        else "the PersistentVolumeClaim"
    )
    instruction = _volume_instruction(messages[0] if messages else "", pvc_hint)
    subject = describe_workload(index.workload_ref(), target.display())
    pods_count = len(set(affected_pods))
    summary = (
        f"{subject}: "
        + (f"{pvc_hint} is not bound" if bad_claim else "a volume cannot be attached or mounted")
        + (f" ({_plural(pods_count, 'pod')} stuck)" if pods_count else "")
        + "."
    )
    return Finding(
        category=Category.VOLUME_ERROR,
        summary=summary,
        confidence=scaled_confidence(0.88 if messages else 0.7, max(pods_count, 1)),
        evidence=_clip(evidence),
        actions=(
            escalate(
                workload_object_ref(index) or target_ref(index),
                reason=view.truncate(summary, 1000),
                instructions=instruction,
            ),
        ),
        facts={
            "pvc": bad_claim,
            "namespace": namespace,
            "pod": affected_pods[0] if affected_pods else "",
        },
    )


# -- QuotaExceeded ----------------------------------------------------------------------------


def _parse_resource_list(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            result[name.strip()] = value.strip()
    return result


def _quota_failures(
    index: view.BundleView, owners: Sequence[object]
) -> tuple[list[str], list[str]]:
    """Evidence lines and messages of quota-related creation failures on the owners."""
    evidence: list[str] = []
    messages: list[str] = []
    for owner in owners:
        failure = view.condition(owner, "ReplicaFailure")
        message = view.get_str(failure, "message")
        if view.get_str(failure, "status") == "True" and "quota" in message:
            evidence.append(
                f"{view.cite(owner)} status.conditions[ReplicaFailure]=True "
                f"reason={view.get_str(failure, 'reason')}: {view.truncate(message)}"
            )
            messages.append(message)
        for event in index.events_for(owner):
            if event.reason == "FailedCreate" and "quota" in event.message:
                evidence.append(event.cite())
                messages.append(event.message)
    return evidence, messages


def _exhausted_quotas(
    quotas: Sequence[object], *, limited: Mapping[str, str], requested: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """Evidence lines for used == hard resources, and how far to raise each hard limit."""
    evidence: list[str] = []
    advice: list[str] = []
    for item in quotas:
        hard = view.str_map(view.get(item, "status", "hard"))
        used = view.str_map(view.get(item, "status", "used"))
        for resource in sorted(limited or hard):
            hard_value, used_value = hard.get(resource), used.get(resource)
            full = quantity.try_parse_quantity(used_value)
            cap = quantity.try_parse_quantity(hard_value)
            if full is None or cap is None or full < cap:
                continue
            evidence.append(
                f"{view.cite(item)} status.used.{resource}={used_value} == "
                f"status.hard.{resource}={hard_value}"
            )
            need = quantity.try_parse_quantity(requested.get(resource, "0"))
            if need:
                binary = "memory" in resource or "storage" in resource
                advice.append(
                    f"raise spec.hard.{resource} of ResourceQuota "
                    f"{view.namespace_of(item)}/{view.name_of(item)} from {hard_value} to at "
                    f"least {quantity.format_quantity(full + need, binary=binary)}"
                )
    return evidence, advice


def analyze_quota_exceeded(index: view.BundleView) -> Finding | None:
    """Pods that cannot be created because a ResourceQuota is used up.

    The signals are the controller's: ``ReplicaFailure`` (reason FailedCreate) on the
    ReplicaSet and FailedCreate events on the ReplicaSet/StatefulSet/DaemonSet whose message
    carries the API server's "exceeded quota" text; the ResourceQuota's used/hard values
    are then cited for the resources it names.
    """
    key = index.workload_ref()
    if key is None:
        return None
    kind, namespace, name = key
    workload = index.find_key(key) or {
        "kind": kind,
        "metadata": {"namespace": namespace, "name": name},
    }
    owners: list[object] = [workload]
    if kind == "Deployment":
        owners.extend(index.replicasets_of(workload))
    evidence, messages = _quota_failures(index, list(reversed(owners)))
    if not messages:
        return None
    quota_name = ""
    requested: dict[str, str] = {}
    limited: dict[str, str] = {}
    for message in messages:
        match = _QUOTA_RE.search(message[:_MAX_SCAN])
        if match:
            quota_name = match[1]
            requested, limited = _parse_resource_list(match[2]), _parse_resource_list(match[4])
            break
    quota = index.find("ResourceQuota", quota_name, namespace=namespace) if quota_name else None
    quota_evidence, advice = _exhausted_quotas(
        [quota] if quota is not None else index.quotas(namespace),
        limited=limited,
        requested=requested,
    )
    evidence.extend(quota_evidence)
    quota_label = (
        f"ResourceQuota {namespace}/{quota_name}"
        if quota_name
        else f"a ResourceQuota in {namespace}"
    )
    if not advice and "must specify" in " ".join(messages):
        advice.append(
            f"{quota_label} requires every container to set the quota's resources: add "
            "resources.requests/limits to the pod template"
        )
    elif not advice:
        resources = ", ".join(f"{k}={v}" for k, v in sorted(requested.items())) or "resources"
        advice.append(f"raise the hard limits of {quota_label} (the new pod requests {resources})")
    todo = "; ".join(advice)
    summary = f"{kind} {namespace}/{name} cannot create pods: {quota_label} is exhausted."
    instructions = (
        f"{todo[0].upper()}{todo[1:]} "
        f"(`kubectl edit resourcequota {quota_name or '<name>'} -n {namespace}`), or free "
        f"capacity by scaling down other workloads in namespace '{namespace}'. Check with "
        f"`kubectl describe resourcequota -n {namespace}`."
    )
    return Finding(
        category=Category.QUOTA_EXCEEDED,
        summary=summary,
        confidence=0.93 if quota is not None else 0.85,
        evidence=_clip(evidence),
        actions=(escalate(key_ref(key), reason=summary, instructions=instructions),),
        facts={"quota": quota_name, "namespace": namespace},
    )


# -- ServiceNoEndpoints -----------------------------------------------------------------------


def _ready_endpoint_count(index: view.BundleView, service: object) -> tuple[int, int, list[str]]:
    """``(ready, total, evidence)`` over the Service's EndpointSlices (or legacy Endpoints).

    NB: per the EndpointSlice API a missing ``conditions.ready`` means "unknown" and
    consumers should treat it as ready.
    """
    ready = total = 0
    evidence: list[str] = []
    slices = index.endpointslices_for(service)
    for eps in slices:
        endpoints = view.dicts(view.get(eps, "endpoints"))
        slice_ready = sum(1 for e in endpoints if view.get(e, "conditions", "ready") is not False)
        ready += slice_ready
        total += len(endpoints)
        evidence.append(
            f"{view.cite(eps)}: {slice_ready}/{len(endpoints)} endpoints with conditions.ready=true"
        )
    if not slices:
        legacy = index.endpoints_for(service)
        if legacy is not None:
            for subset in view.dicts(view.get(legacy, "subsets")):
                ready += len(view.dicts(subset.get("addresses")))
                total += len(view.dicts(subset.get("addresses"))) + len(
                    view.dicts(subset.get("notReadyAddresses"))
                )
            evidence.append(f"{view.cite(legacy)}: {ready}/{total} ready addresses in subsets")
    return ready, total, evidence


def analyze_service_no_endpoints(index: view.BundleView) -> Finding | None:
    """A Service with a selector whose EndpointSlices hold no ready endpoint.

    The cause decides the action: a selector that matches no pod (Escalate: fix the
    selector or labels), a matching workload scaled to zero (ScaleWorkload to 1), or
    matching pods that are not ready (Escalate, citing what is wrong with them).
    """
    target = index.target
    if target.kind is not TargetKind.SERVICE:
        return None
    service = index.target_object()
    if service is None:
        return None
    selector = view.str_map(view.get(service, "spec", "selector"))
    if not selector or view.get_str(service, "spec", "type") == "ExternalName":
        return None
    ready, _total, evidence = _ready_endpoint_count(index, service)
    if ready > 0:
        return None
    namespace = target.namespace or ""
    selector_text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    if not evidence:
        evidence.append(
            f"no EndpointSlice labelled {view.SERVICE_NAME_LABEL}={target.name} in the bundle"
        )
    evidence.insert(0, f"{view.cite(service)} spec.selector={selector_text}")
    pods = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    service_ref = target_ref(index)
    actions: list[Action] = []
    facts = {"namespace": namespace, "selector": selector_text}
    scaled_to_zero = [
        w
        for kind in sorted(view.WORKLOAD_KINDS)
        for w in index.objects_of_kind(kind)
        if view.namespace_of(w) == namespace
        and view.selector_matches(
            selector, view.str_map(view.get(w, "spec", "template", "metadata", "labels"))
        )
        and view.get_int(w, "spec", "replicas") == 0
    ]
    if pods:
        problems = [p for pod in pods for p in container_problems(index, pod)]
        not_ready = [pod for pod in pods if not view.is_pod_ready(pod)]
        evidence.append(f"{len(not_ready)}/{len(pods)} pods matching {selector_text} are not Ready")
        evidence.extend(p.evidence for p in problems[:MAX_CITED_PODS])
        cause = f" ({problems[0].kind.value}: {problems[0].evidence})" if problems else ""
        summary = (
            f"Service {namespace}/{target.name} has no ready endpoints: its "
            f"{_plural(len(pods), 'pod')} are not Ready."
        )
        actions.append(
            escalate(
                service_ref,
                reason=f"no ready endpoints for Service {namespace}/{target.name}",
                instructions=(
                    f"All pods selected by {selector_text} are not Ready{cause}. Fix what keeps "
                    "them from "
                    f"becoming Ready (`kubectl describe pod -n {namespace} "
                    f"{view.name_of(pods[0])}`); the Service "
                    "recovers as soon as one pod passes its readiness probe."
                ),
            )
        )
        facts["pod"] = view.name_of(pods[0])
        confidence = 0.85
    elif scaled_to_zero:
        workload = scaled_to_zero[0]
        evidence.append(
            f"{view.cite(workload)} spec.replicas=0 and its pod template matches {selector_text}"
        )
        summary = (
            f"Service {namespace}/{target.name} has no endpoints: {view.cite(workload)} is scaled "
            "to zero."
        )
        actions.append(
            make_action(
                ActionType.SCALE_WORKLOAD,
                object_ref(view.kind_of(workload), view.name_of(workload), namespace=namespace),
                params={"replicas": 1},
            )
        )
        actions.append(
            escalate(
                service_ref,
                reason=(
                    f"{view.cite(workload)} behind Service {namespace}/{target.name} is scaled to "
                    "zero"
                ),
                instructions=(
                    f"Scaling to 1 replica restores service; restore the usual replica count of "
                    f"{view.cite(workload)} and find out who scaled it to zero (audit log, HPA, "
                    "CronJobs)."
                ),
            )
        )
        confidence = 0.9
    else:
        candidates = [
            pod
            for pod in index.pods()
            if view.namespace_of(pod) == namespace and not view.is_terminal_pod(pod)
        ]
        near = [
            pod
            for pod in candidates
            if any(view.labels_of(pod).get(k) is not None for k in selector)
        ] or candidates
        if near:
            labels = view.labels_of(near[0])
            shown = ",".join(
                f"{k}={labels[k]}" for k in sorted(labels) if k != view.POD_TEMPLATE_HASH_LABEL
            )
            evidence.append(
                f"no pod in namespace {namespace} matches {selector_text}; {view.cite(near[0])} "
                f"has labels {shown}"
            )
        else:
            evidence.append(f"no pod in namespace {namespace} matches {selector_text}")
        summary = (
            f"Service {namespace}/{target.name} selects no pods: selector {selector_text} matches "
            "nothing."
        )
        actions.append(
            escalate(
                service_ref,
                reason=f"selector of Service {namespace}/{target.name} matches no pod",
                instructions=(
                    f"spec.selector ({selector_text}) of Service {namespace}/{target.name} "
                    "matches no pod in "
                    f"namespace '{namespace}'. Compare it with the pod labels (`kubectl get pods "
                    f"-n {namespace} "
                    "--show-labels`) and fix the selector or the pod template labels."
                ),
            )
        )
        confidence = 0.9 if near else 0.8
    return Finding(
        category=Category.SERVICE_NO_ENDPOINTS,
        summary=summary,
        confidence=confidence,
        evidence=_clip(evidence),
        actions=tuple(actions),
        facts=facts,
    )


# -- Evicted ----------------------------------------------------------------------------------


def analyze_evicted(index: view.BundleView) -> Finding | None:
    """Pods the kubelet evicted under node pressure (``status.phase=Failed, reason=Evicted``).

    For memory evictions where the kubelet names a container's usage, the container's
    memory request is raised to that usage plus 20% (never above its limit), so the
    scheduler stops packing it onto nodes that cannot hold it. The evicted pod objects are
    cleaned up with DeletePod (their controller already replaced them).
    """
    evicted = [
        pod
        for pod in index.scope_pods()
        if view.pod_phase(pod) == "Failed" and view.get_str(pod, "status", "reason") == "Evicted"
    ]
    if not evicted:
        return None
    evidence: list[str] = []
    usage: dict[str, decimal.Decimal] = {}
    resources: Counter[str] = Counter()
    for pod in evicted:
        message = view.get_str(pod, "status", "message")
        if len(evidence) < MAX_CITED_PODS:
            evidence.append(
                f"{view.cite(pod)} status.phase=Failed reason=Evicted on node "
                f"'{view.get_str(pod, 'spec', 'nodeName') or '?'}': {view.truncate(message)}"
            )
        resource = _EVICTION_RESOURCE_RE.search(message[:_MAX_SCAN])
        if resource:
            resources[resource[1]] += 1
        elif "DiskPressure" in message or "ephemeral" in message.lower():
            resources["ephemeral-storage"] += 1
        for match in _EVICTION_USAGE_RE.finditer(message[:_MAX_SCAN]):
            if match[4] == "memory":
                used = quantity.try_parse_quantity(match[2])
                if used is not None and used > usage.get(match[1], decimal.Decimal(0)):
                    usage[match[1]] = used
    resource_name = resources.most_common(1)[0][0] if resources else "unknown"
    workload_key = index.workload_ref()
    workload_ref = workload_object_ref(index)
    first = evicted[0]
    namespace = view.namespace_of(first)
    subject = describe_workload(workload_key, f"Pod {namespace}/{view.name_of(first)}")
    actions: list[Action] = []
    spec_source = index.workload() or first
    for container, used in sorted(usage.items())[:MAX_POD_ACTIONS]:
        spec = view.find_container(view.pod_template_spec(spec_source), container)
        request = _as_bytes(view.get(spec, "resources", "requests", "memory"))
        limit = _as_bytes(view.get(spec, "resources", "limits", "memory"))
        proposed = quantity.round_up_to_mebibytes(
            min(used * MEMORY_REQUEST_HEADROOM, decimal.Decimal(MEMORY_LIMIT_CEILING))
        )
        if limit is not None:
            proposed = min(proposed, limit)
        if workload_ref is None or (request is not None and proposed <= request):
            continue
        evidence.append(
            f"container '{container}' used {quantity.format_bytes(used)} of memory against a "
            "request of "
            f"{quantity.format_bytes(request) if request else '(none)'}"
        )
        actions.append(
            make_action(
                ActionType.SET_RESOURCES,
                workload_ref,
                params={
                    "container": container,
                    "memoryRequest": quantity.format_quantity(proposed, binary=True),
                },
            )
        )
    if not actions:
        actions.append(
            escalate(
                workload_ref or target_ref(index),
                reason=(
                    f"{_plural(len(evicted), 'pod')} of {subject} evicted for {resource_name} "
                    "pressure"
                ),
                instructions=(
                    f"The kubelet evicted pods of {subject} because its node ran low on "
                    f"{resource_name}. "
                    + (
                        "Set resources.requests/limits.ephemeral-storage, move caches to a sized "
                        "emptyDir, "
                        "and check the node's disk (`kubectl describe node`)."
                        if resource_name != "memory"
                        else (
                            "Set memory requests close to real usage so the scheduler does not "
                            "overpack nodes."
                        )
                    )
                ),
            )
        )
    actions.extend(
        make_action(
            ActionType.DELETE_POD,
            object_ref("Pod", view.name_of(p), namespace=view.namespace_of(p)),
            params={"pod": view.name_of(p)},
        )
        for p in evicted[:MAX_POD_ACTIONS]
        if workload_ref is not None
    )
    live = [p for p in index.scope_pods() if not view.is_terminal_pod(p)]
    summary = (
        f"{_plural(len(evicted), 'pod')} of {subject} were evicted for {resource_name} pressure"
        + (f"; {len(live)} replacement pod(s) exist." if live else ".")
    )
    return Finding(
        category=Category.EVICTED,
        summary=summary,
        confidence=scaled_confidence(0.8 if usage or resources else 0.65, len(evicted)),
        evidence=_clip(evidence),
        actions=tuple(actions),
        facts={
            "pod": view.name_of(first),
            "namespace": namespace,
            "node": view.get_str(first, "spec", "nodeName"),
        },
    )


# -- HPAMaxedOut ------------------------------------------------------------------------------


def _utilisation_ratio(hpa: object) -> tuple[float | None, list[str]]:
    """Highest current/target ratio over the HPA's resource metrics (autoscaling/v2)."""
    targets: dict[str, int] = {}
    for metric in view.dicts(view.get(hpa, "spec", "metrics")):
        name = view.get_str(metric, "resource", "name")
        target_value = view.get_int(metric, "resource", "target", "averageUtilization")
        if name and target_value:
            targets[name] = target_value
    ratio: float | None = None
    evidence: list[str] = []
    for metric in view.dicts(view.get(hpa, "status", "currentMetrics")):
        name = view.get_str(metric, "resource", "name")
        current = view.get_int(metric, "resource", "current", "averageUtilization")
        if name in targets and current is not None and targets[name] > 0:
            evidence.append(
                f"{view.cite(hpa)} {name} utilisation {current}% vs target {targets[name]}% "
                "(status.currentMetrics / spec.metrics)"
            )
            observed = current / targets[name]
            ratio = observed if ratio is None else max(ratio, observed)
    return ratio, evidence


def propose_max_replicas(
    *, max_replicas: int, current_replicas: int, ratio: float | None
) -> int | None:
    """New ``maxReplicas``: what the utilisation asks for, at least +1, at most 2x and 1000."""
    if max_replicas < 1:
        return None
    needed = (
        math.ceil(current_replicas * ratio)
        if ratio
        else math.ceil(max_replicas * HPA_DEFAULT_GROWTH)
    )
    proposed = min(
        max(needed, max_replicas + 1), max_replicas * HPA_MAX_GROWTH, HPA_REPLICAS_CEILING
    )
    return proposed if proposed > max_replicas else None


def analyze_hpa_maxed_out(index: view.BundleView) -> Finding | None:
    """An HPA pinned at ``maxReplicas`` that wants more (``ScalingLimited`` TooManyReplicas)."""
    target = index.target
    if target.kind is TargetKind.HORIZONTAL_POD_AUTOSCALER:
        hpa = index.target_object()
        hpas = [] if hpa is None else [hpa]
    else:
        key = index.workload_ref()
        hpas = [] if key is None else index.hpas_for(key)
    for hpa in hpas:
        max_replicas = view.get_int(hpa, "spec", "maxReplicas")
        current = view.get_int(hpa, "status", "currentReplicas")
        if max_replicas is None or current is None or current < max_replicas:
            continue
        limited = view.condition(hpa, "ScalingLimited")
        limited_true = view.get_str(limited, "status") == "True"
        limited_reason = view.get_str(limited, "reason")
        desired = view.get_int(hpa, "status", "desiredReplicas")
        evidence = [
            f"{view.cite(hpa)} status.currentReplicas={current} == spec.maxReplicas={max_replicas}"
            + (f" (status.desiredReplicas={desired})" if desired is not None else "")
        ]
        if limited is not None:
            evidence.append(
                f"{view.cite(hpa)} "
                f"status.conditions[ScalingLimited]={view.get_str(limited, 'status')} "
                f"reason={limited_reason}: {view.truncate(view.get_str(limited, 'message'), 200)}"
            )
        ratio, ratio_evidence = _utilisation_ratio(hpa)
        evidence.extend(ratio_evidence)
        strong = limited_true and limited_reason == "TooManyReplicas"
        namespace, name = view.namespace_of(hpa), view.name_of(hpa)
        hpa_ref = object_ref("HorizontalPodAutoscaler", name, namespace=namespace)
        proposed = propose_max_replicas(
            max_replicas=max_replicas, current_replicas=current, ratio=ratio
        )
        scale_target = (
            f"{view.get_str(hpa, 'spec', 'scaleTargetRef', 'kind')} {namespace}/"
            f"{view.get_str(hpa, 'spec', 'scaleTargetRef', 'name')}"
        )
        if proposed is None:
            actions = (
                escalate(
                    hpa_ref,
                    reason=f"HPA {namespace}/{name} is at its maximum of {max_replicas} replicas",
                    instructions=(
                        f"maxReplicas={max_replicas} cannot be raised further automatically. "
                        "Reduce the per-pod "
                        f"load of {scale_target} or review its capacity plan."
                    ),
                ),
            )
            summary = f"HPA {namespace}/{name} is maxed out at {max_replicas} replicas."
        else:
            min_replicas = view.get_int(hpa, "spec", "minReplicas")
            params: dict[str, object] = {"maxReplicas": proposed}
            if min_replicas is not None and 1 <= min_replicas <= proposed:
                params["minReplicas"] = min_replicas
            actions = (make_action(ActionType.PATCH_HPA, hpa_ref, params=params),)
            summary = (
                f"HPA {namespace}/{name} is pinned at maxReplicas={max_replicas} for "
                f"{scale_target} and wants more; "
                f"raise maxReplicas to {proposed}."
            )
            evidence.append(
                f"check that ResourceQuotas and node capacity in {namespace} allow {proposed} "
                "replicas"
            )
        return Finding(
            category=Category.HPA_MAXED_OUT,
            summary=summary,
            confidence=0.88 if strong else 0.45,
            evidence=_clip(evidence),
            actions=actions,
            facts={"hpa": name, "namespace": namespace},
        )
    return None


#: Every analyzer, in precedence order (see :mod:`kubemedic.domain.diagnose`).
ANALYZERS: Final[tuple[Analyzer, ...]] = (
    analyze_node_not_ready,
    analyze_bad_rollout,
    analyze_quota_exceeded,
    analyze_config_error,
    analyze_image_pull_error,
    analyze_volume_error,
    analyze_unschedulable,
    analyze_oom_killed,
    analyze_probe_failure,
    analyze_crash_loop,
    analyze_evicted,
    analyze_service_no_endpoints,
    analyze_hpa_maxed_out,
)
