"""InitContainerFailure: pods held in ``Init:`` because an init container crashes or never ends.

Two shapes, told apart by the init container's status:

- **crashing**: ``state.waiting.reason=CrashLoopBackOff`` or a ``lastState.terminated`` with
  a non-zero exit code (the pod shows ``Init:CrashLoopBackOff``/``Init:Error``);
- **stuck**: ``state.running`` for longer than ``STUCK_AFTER`` while the pod is not
  ``Initialized`` (typically a "wait-for" loop on a dependency that never comes up).

Image and config errors of init containers are the ImagePull and Config analyzers'. The
finding cites the init container's status and its last log line (what it waits for or why
it fails) and escalates: a restart runs the same init container again.
"""

from datetime import datetime, timedelta
from typing import Final

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category

#: An init container running longer than this while the pod is not Initialized is stuck.
STUCK_AFTER: Final = timedelta(minutes=10)


def _since(text: str, now: datetime | None) -> timedelta | None:
    try:
        started = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if now is None else now - started


def _init_failures(index: view.BundleView, pod: object) -> list[tuple[str, str, str]]:
    """``(container, shape, evidence)`` of each failing init container of ``pod``."""
    if view.condition_status(pod, "Initialized") == "True" or view.is_terminal_pod(pod):
        return []
    where = f"Pod {view.namespace_of(pod)}/{view.name_of(pod)}"
    found: list[tuple[str, str, str]] = []
    for status in view.dicts(view.get(pod, "status", "initContainerStatuses")):
        name = view.get_str(status, "name")
        waiting = view.get_str(status, "state", "waiting", "reason")
        last_exit = view.get_int(status, "lastState", "terminated", "exitCode")
        now_exit = view.get_int(status, "state", "terminated", "exitCode")
        restarts = view.get_int(status, "restartCount") or 0
        subject = f"{where} init container '{name}'"
        if waiting in vocabulary.IMAGE_PULL_REASONS | vocabulary.CONFIG_REASONS:
            continue
        if waiting in vocabulary.CRASH_WAITING_REASONS or (now_exit or last_exit or 0) != 0:
            code = now_exit if now_exit is not None else last_exit
            found.append(
                (
                    name,
                    "crashing",
                    f"{subject}: state.waiting.reason={waiting or '-'} exitCode="
                    f"{code if code is not None else '?'} (restartCount={restarts})",
                )
            )
            continue
        started = view.get_str(status, "state", "running", "startedAt")
        age = _since(started, index.bundle.collected_at) if started else None
        if age is not None and age >= STUCK_AFTER:
            found.append(
                (
                    name,
                    "stuck",
                    f"{subject}: state.running since {started} "
                    f"({int(age.total_seconds() // 60)} min) while the pod is not Initialized",
                )
            )
    return found


def analyze_init_container(index: view.BundleView) -> base.Finding | None:
    """Init containers that crash or never finish, holding the pods in Init."""
    failures = [
        (pod, name, shape, line)
        for pod in index.scope_pods()
        for name, shape, line in _init_failures(index, pod)
    ]
    if not failures:
        return None
    pod, container, shape, _ = failures[0]
    evidence = [line for _, _, _, line in failures[: base.MAX_CITED_PODS]]
    problem = signals.ContainerProblem(
        kind=signals.ProblemKind.CRASH,
        namespace=view.namespace_of(pod),
        pod=view.name_of(pod),
        node=view.get_str(pod, "spec", "nodeName"),
        container=container,
        reason=shape,
        message="",
        exit_code=None,
        restart_count=0,
        evidence="",
    )
    logged = signals.log_line(index, problem)
    if logged is not None:
        evidence.append(logged[1])
    pods = len({view.name_of(p) for p, _, _, _ in failures})
    subject = base.describe_workload(index.workload_ref(), index.target.display())
    summary = (
        f"Init container '{container}' of {subject} is {shape} on {base.plural(pods, 'pod')}"
        + (f" ('{view.truncate(logged[0], 120)}')" if logged else "")
        + (
            "; it waits for something that is not there."
            if shape == "stuck"
            else "; the pods cannot start until it succeeds."
        )
    )
    instructions = (
        f"Read the init container's log (`kubectl logs <pod> -c {container}"
        + (" --previous`" if shape == "crashing" else "`")
        + ") and fix what it "
        + (
            "waits for (usually a dependency or a migration lock)"
            if shape == "stuck"
            else "fails on"
        )
        + ". Restarting the pods runs the same init container again."
    )
    return base.escalation(
        index,
        Category.INIT_CONTAINER_FAILURE,
        summary=summary,
        confidence=base.scaled_confidence(0.84 if shape == "crashing" else 0.75, pods),
        evidence=evidence,
        instructions=instructions,
        facts={"pod": view.name_of(pod), "container": container, "shape": shape},
    )
