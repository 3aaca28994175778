"""What is wrong with each pod and container: the signals several analyzers share.

:func:`container_problems` classifies every container of a pod once (image, config, OOM,
liveness, crash, readiness) from its kubelet status and events; the OOM, crash, image, config,
probe, rollout and endpoint analyzers all read that one classification, so they cannot
disagree about a container. The helpers below select, count and cite those problems, find a
container's most telling log line, and read a pod's scheduling failure.
"""

import dataclasses
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, vocabulary

#: A Prometheus sample is the pair ``[unix time, "value"]``.
_SAMPLE_PAIR = 2


class ProblemKind(StrEnum):
    """What is wrong with one container (the building block of several analyzers)."""

    OOM = "OOMKilled"
    CRASH = "Crash"
    IMAGE = "ImagePull"
    CONFIG = "Config"
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    #: Only built by the rollout analyzer: a new revision's pod that cannot be placed, or
    #: whose memory climbs toward its limit (container_problems never returns these).
    UNSCHEDULABLE = "Unschedulable"
    LEAK = "MemoryLeak"


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


def pod_key(problem: ContainerProblem) -> tuple[str, str]:
    return (problem.namespace, problem.pod)


def _probe_containers(events: Sequence[view.EventInfo], probe: str) -> set[str]:
    """Containers with failed ``probe`` events ("" = the event names no container)."""
    found: set[str] = set()
    for event in events:
        message = event.message[: vocabulary.MAX_SCAN]
        if (event.reason == "Unhealthy" and message.startswith(f"{probe} probe failed")) or (
            event.reason == "Killing" and f"failed {probe.lower()} probe" in message
        ):
            found.add(event.container)
    return found


def _matches(containers: set[str], name: str) -> bool:
    return name in containers or "" in containers


def container_problems(index: view.BundleView, pod: object) -> list[ContainerProblem]:
    """Everything wrong with a pod's containers, classified (once per pod and view)."""
    return list(index.memo(("container_problems", id(pod)), lambda: _classify(index, pod)))


def _classify(index: view.BundleView, pod: object) -> tuple[ContainerProblem, ...]:
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
        # NB: how the evidence quotes lastState.terminated; '?' marks a field the kubelet omitted.
        last_said = (
            f"reason={last_reason or '?'} exitCode={last_exit if last_exit is not None else '?'}"
        )
        subject = f"{where} container '{name}'"
        if waiting_reason in vocabulary.IMAGE_PULL_REASONS:
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
        elif waiting_reason in vocabulary.CONFIG_REASONS:
            add(
                ProblemKind.CONFIG,
                container=name,
                reason=waiting_reason,
                message=waiting_message,
                restarts=restarts,
                evidence=f"{subject}: state.waiting.reason={waiting_reason}: {waiting_message}",
            )
        elif view.get_str(terminated, "reason") == vocabulary.OOM_REASON or (
            last_reason == vocabulary.OOM_REASON and restarts > 0
        ):
            field = (
                "state"
                if view.get_str(terminated, "reason") == vocabulary.OOM_REASON
                else "lastState"
            )
            code = view.get_int(terminated if field == "state" else last, "exitCode")
            add(
                ProblemKind.OOM,
                container=name,
                reason=vocabulary.OOM_REASON,
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
            and (last_exit is None or last_exit in vocabulary.KILLED_EXIT_CODES)
        ):
            add(
                ProblemKind.LIVENESS,
                container=name,
                reason=last_reason or waiting_reason,
                exit_code=last_exit,
                restarts=restarts,
                evidence=(
                    f"{subject}: restarted after failed liveness probes, lastState.terminated"
                    f" {last_said} (restartCount={restarts})"
                ),
            )
        elif waiting_reason in vocabulary.CRASH_WAITING_REASONS or (
            restarts >= vocabulary.CRASH_MIN_RESTARTS and last_exit is not None and last_exit != 0
        ):
            parts = [f"state.waiting.reason={waiting_reason}"] if waiting_reason else []
            if last:
                parts.append(f"lastState.terminated.{last_said}")
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
    return tuple(problems)


def _volume_config_problems(
    pod: object, events: Sequence[view.EventInfo], *, node: str
) -> list[ContainerProblem]:
    """A ConfigMap/Secret volume that cannot be mounted: a config error, not a storage one."""
    for event in events:
        if event.reason == "FailedMount" and (
            vocabulary.MISSING_OBJECT_RE.search(event.message[: vocabulary.MAX_SCAN])
            or vocabulary.MISSING_KEY_RE.search(event.message[: vocabulary.MAX_SCAN])
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


def scope_problems(index: view.BundleView, kinds: Iterable[ProblemKind]) -> list[ContainerProblem]:
    wanted = set(kinds)
    return [
        problem
        for pod in index.scope_pods()
        if not view.is_terminal_pod(pod)
        for problem in container_problems(index, pod)
        if problem.kind in wanted
    ]


def count_affected_pods(problems: Iterable[ContainerProblem]) -> int:
    return len({pod_key(problem) for problem in problems})


def cite_problems(problems: Sequence[ContainerProblem]) -> list[str]:
    cited: list[str] = []
    pods: set[tuple[str, str]] = set()
    for problem in problems:
        if pod_key(problem) in pods:
            continue
        if len(pods) >= base.MAX_CITED_PODS:
            break
        pods.add(pod_key(problem))
        cited.append(problem.evidence)
    return cited


def log_line(index: view.BundleView, problem: ContainerProblem) -> tuple[str, str] | None:
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
        errors = [
            line
            for line in lines
            if vocabulary.ERROR_LINE_RE.search(line[: vocabulary.MAX_SCAN].lower())
        ]
        line = (errors or lines)[-1]
        instance = "previous instance" if log.previous else "current instance"
        return line, (
            f"Log {problem.namespace}/{problem.pod} container '{problem.container}' ({instance}): "
            f"'{view.truncate(line, 200)}'"
        )
    return None


def unschedulable_message(index: view.BundleView, pod: object) -> str:
    cond = view.condition(pod, "PodScheduled")
    if view.get_str(cond, "status") == "False" and view.get_str(cond, "reason") == "Unschedulable":
        return view.get_str(cond, "message") or "Unschedulable"
    if view.pod_phase(pod) == "Pending":
        for event in index.events_for(pod):
            if event.reason == "FailedScheduling":
                return event.message or "FailedScheduling"
    return ""


# -- Logs and metrics as evidence -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogMatch:
    """The lines of one container log that match a pattern: how many, the first and the last."""

    namespace: str
    pod: str
    container: str
    previous: bool
    count: int
    first: str
    last: str

    def cite(self, about: str) -> str:
        """Evidence line: the log, how many lines are ``about`` something, the first and last."""
        instance = "previous instance" if self.previous else "current instance"
        where = f"Log {self.namespace}/{self.pod} container '{self.container}' ({instance})"
        if self.count == 1:
            return f"{where}: 1 line about {about}: '{view.truncate(self.last, 200)}'"
        return (
            f"{where}: {self.count} lines about {about}, first "
            f"'{view.truncate(self.first, 160)}', last '{view.truncate(self.last, 160)}'"
        )


def log_matches(
    index: view.BundleView, pattern: re.Pattern[str], *, pods: Iterable[object] | None = None
) -> list[LogMatch]:
    """Per container log of ``pods`` (default: the scope's pods), the lines ``pattern`` finds.

    Lines are matched lower-cased (patterns are written lower-case) over their first
    ``MAX_SCAN`` characters, in the newest ``view.MAX_LOG_SCAN`` characters of each log, so a
    huge log or line cannot make an analyzer slow.
    """
    wanted = {
        (view.namespace_of(pod), view.name_of(pod))
        for pod in (index.scope_pods() if pods is None else pods)
    }
    found: list[LogMatch] = []
    for log, lines, lowered in index.log_lines():
        if (log.namespace, log.pod) not in wanted:
            continue
        hits = [line for line, low in zip(lines, lowered, strict=True) if pattern.search(low)]
        if hits:
            found.append(
                LogMatch(
                    namespace=log.namespace,
                    pod=log.pod,
                    container=log.container,
                    previous=log.previous,
                    count=len(hits),
                    first=hits[0],
                    last=hits[-1],
                )
            )
    return found


def event_matches(
    index: view.BundleView, pattern: re.Pattern[str], *, objects: Iterable[object]
) -> list[view.EventInfo]:
    """Events about ``objects`` whose message ``pattern`` finds (matched lower-cased)."""
    return [
        event
        for obj in objects
        for event in index.events_for(obj)
        if pattern.search(event.message[: vocabulary.MAX_SCAN].lower())
    ]


@dataclasses.dataclass(frozen=True)
class Series:
    """One Prometheus series of the bundle: its labels and ``(time, value)`` points in order."""

    query: str
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]

    @property
    def last(self) -> float:
        return self.points[-1][1]

    @property
    def peak(self) -> float:
        return max(value for _, value in self.points)


def metric_series(index: view.BundleView, metric: str) -> list[Series]:
    """Every series of the bundle's results whose query names ``metric``.

    A vector's one sample and a matrix's samples are both points; the time of a sample that
    cannot be read is its position, so order is kept.
    """
    found: list[Series] = []
    for result in index.metrics():
        if metric not in result.query:
            continue
        for series in view.dicts(view.get(result.data, "result")):
            points: list[tuple[float, float]] = []
            for position, sample in enumerate(
                [*view.get_list(series, "values"), view.get(series, "value")]
            ):
                if isinstance(sample, list) and len(sample) == _SAMPLE_PAIR:
                    value = view.finite_float(sample[1])
                    stamp = view.finite_float(sample[0])
                    if value is not None:
                        points.append((stamp if stamp is not None else float(position), value))
            if points:
                points.sort()
                found.append(
                    Series(
                        query=result.query,
                        labels=view.str_map(series.get("metric")),
                        points=tuple(points),
                    )
                )
    return found


def series_of_pods(series: Iterable[Series], pods: Iterable[object]) -> list[Series]:
    """The series about ``pods``: a ``pod`` label (and ``namespace``, where present) names one."""
    names = {(view.namespace_of(pod), view.name_of(pod)) for pod in pods}
    pod_names = {name for _, name in names}
    return [
        s
        for s in series
        if "pod" not in s.labels
        or (
            (s.labels.get("namespace", ""), s.labels["pod"]) in names
            if "namespace" in s.labels
            else s.labels["pod"] in pod_names
        )
    ]


def ready_endpoint_count(index: view.BundleView, service: object) -> tuple[int, int, list[str]]:
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


def counter_rise(series: Series) -> float:
    """How much a counter series rose (a windowed query's value is the rise itself)."""
    if any(fn in series.query for fn in ("increase(", "rate(", "delta(", "changes(")):
        return series.peak
    values = [value for _, value in series.points]
    return max(values) - min(values) if len(values) > 1 else 0.0


def oom_inside(
    index: view.BundleView, *, pods: Iterable[object] | None = None
) -> list[ContainerProblem]:
    """OOM kills that did not restart the container: a child process killed by the kernel.

    Signals: ``container_oom_events_total`` rising for a scope pod's container, or its log
    saying so ("worker (pid:42) was sent SIGKILL! Perhaps out of memory?", the kernel's
    "Out of memory: Killed process"). The container keeps running, so its status shows
    nothing; these problems stand in for the status lines.
    """
    live = index.scope_pods() if pods is None else pods
    by_name = {view.name_of(pod): pod for pod in live if not view.is_terminal_pod(pod)}
    found: dict[tuple[str, str], ContainerProblem] = {}

    def add(pod: object, container: str, evidence: str) -> None:
        key = (view.name_of(pod), container)
        if container and key not in found:
            found[key] = ContainerProblem(
                kind=ProblemKind.OOM,
                namespace=view.namespace_of(pod),
                pod=view.name_of(pod),
                node=view.get_str(pod, "spec", "nodeName"),
                container=container,
                reason="OOMEvent",
                message="",
                exit_code=None,
                restart_count=0,
                evidence=evidence,
            )

    series = metric_series(index, vocabulary.OOM_EVENTS_METRIC)
    for s in series_of_pods(series, by_name.values()):
        rise = counter_rise(s)
        pod = by_name.get(s.labels.get("pod", ""))
        if rise > 0 and pod is not None:
            container = s.labels.get("container", "")
            add(
                pod,
                container,
                f"Metric {vocabulary.OOM_EVENTS_METRIC} pod '{view.name_of(pod)}' container "
                f"'{container}': +{rise:g} OOM kills in the window without a container restart",
            )
    for match in log_matches(index, vocabulary.OOM_INSIDE_RE, pods=by_name.values()):
        add(by_name[match.pod], match.container, match.cite("processes killed for lack of memory"))
    return list(found.values())
