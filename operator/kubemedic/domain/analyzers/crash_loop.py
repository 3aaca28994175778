"""CrashLoop: containers that keep exiting, with no more specific explanation."""

from collections import Counter
from collections.abc import Mapping
from typing import Final

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Action, ActionType, Category

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


def analyze_crash_loop(index: view.BundleView) -> base.Finding | None:
    """Containers that keep exiting (not OOM, not killed by a probe).

    A crash loop is usually an application bug or missing dependency, so the main action is
    Escalate with the exit code and the most telling log line. Only when the logs show a
    transient dependency failure (connection refused, DNS, timeouts) is a RestartRollout
    proposed first: once the dependency is back, a restart skips the CrashLoopBackOff delay
    (up to five minutes per attempt).
    """
    problems = signals.scope_problems(index, [signals.ProblemKind.CRASH])
    if not problems:
        return None
    evidence = signals.cite_problems(problems)
    first = problems[0]
    log_lines: list[str] = []
    for problem in problems[: base.MAX_CITED_PODS]:
        found = signals.log_line(index, problem)
        # NB: replicas usually fail with the same line; citing it once keeps evidence short.
        if found is not None and found[0] not in log_lines:
            log_lines.append(found[0])
            evidence.append(found[1])
    exit_codes = Counter(p.exit_code for p in problems if p.exit_code is not None)
    exit_code = exit_codes.most_common(1)[0][0] if exit_codes else None
    meaning = _EXIT_CODE_MEANINGS.get(exit_code, "") if exit_code is not None else ""
    if meaning:
        evidence.append(f"exitCode {exit_code} usually means {meaning}")
    transient = any(
        vocabulary.TRANSIENT_LOG_RE.search(line[: vocabulary.MAX_SCAN]) for line in log_lines
    )
    workload_key = index.workload_ref()
    workload_ref = base.workload_object_ref(index)
    subject = base.describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    pods_affected = signals.count_affected_pods(problems)
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
        actions.append(base.make_action(ActionType.RESTART_ROLLOUT, workload_ref))
        instructions += " The logs point to an unreachable dependency: check that it is up."
    actions.append(
        base.escalate(
            workload_ref or base.target_ref(index),
            reason=f"container '{first.container}' of {subject} is crash-looping ({exit_text})",
            instructions=instructions,
        )
    )
    summary = (
        f"Container {base.quoted_list(p.container for p in problems)} of {subject} is crash-looping "
        f"({exit_text}) on {base.plural(pods_affected, 'pod')}"
        + (
            "; the logs show an unreachable dependency."
            if transient
            else "; a human must fix the cause."
        )
    )
    base_confidence = 0.8 if log_lines else 0.75
    return base.Finding(
        category=Category.CRASH_LOOP,
        summary=summary,
        confidence=base.scaled_confidence(base_confidence, pods_affected),
        evidence=base.clip(evidence),
        actions=tuple(actions),
        facts={"pod": first.pod, "container": first.container, "namespace": first.namespace},
    )
