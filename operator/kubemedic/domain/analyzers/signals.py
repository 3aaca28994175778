"""What is wrong with each pod and container: the signals several analyzers share.

:func:`container_problems` classifies every container of a pod once (image, config, OOM,
liveness, crash, readiness) from its kubelet status and events; the OOM, crash, image, config,
probe, rollout and endpoint analyzers all read that one classification, so they cannot
disagree about a container. The helpers below select, count and cite those problems, find a
container's most telling log line, and read a pod's scheduling failure.
"""

import dataclasses
from collections.abc import Iterable, Sequence
from enum import StrEnum

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, vocabulary


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
    return problems


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
