"""BadRollout: a Deployment's newest revision fails while the previous observed one worked.

The fix is RollbackRollout to the last healthy revision, whatever the symptom (a crash, an
OOM kill, an image or config error, failed probes, pods the scheduler cannot place because
of an impossible request, a memory leak that climbs toward the limit, or workers OOM-killed
inside running containers); the evidence lists the template changes between the two
revisions for the follow-up.
"""

from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import ActionType, Category

#: A new revision leaks when its working set grows by this share of the limit over the window
#: and ends at least at LEAK_NEAR_LIMIT of it.
LEAK_GROWTH: Final = 0.3
LEAK_NEAR_LIMIT: Final = 0.8


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
    problems = [problem for pod in live for problem in signals.container_problems(index, pod)]
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


def _problem(
    pod: object, kind: signals.ProblemKind, container: str, evidence: str
) -> signals.ContainerProblem:
    return signals.ContainerProblem(
        kind=kind,
        namespace=view.namespace_of(pod),
        pod=view.name_of(pod),
        node=view.get_str(pod, "spec", "nodeName"),
        container=container,
        reason=kind.value,
        message="",
        exit_code=None,
        restart_count=0,
        evidence=evidence,
    )


def _unschedulable(
    index: view.BundleView, pods: Sequence[object]
) -> list[signals.ContainerProblem]:
    """New-revision pods the scheduler cannot place (e.g. an impossible resource request)."""
    found: list[signals.ContainerProblem] = []
    for pod in pods:
        message = signals.unschedulable_message(index, pod)
        if message:
            found.append(
                _problem(
                    pod,
                    signals.ProblemKind.UNSCHEDULABLE,
                    "",
                    f"{view.cite(pod)}: PodScheduled=False reason=Unschedulable: "
                    f"{view.truncate(message, 200)}",
                )
            )
    return found


def _working_sets(index: view.BundleView, pods: Sequence[object]) -> list[signals.Series]:
    series = signals.metric_series(index, vocabulary.WORKING_SET_METRIC)
    return [
        s for s in signals.series_of_pods(series, pods) if "pod" in s.labels and len(s.points) > 1
    ]


def _memory_limit(pod: object, container: str) -> int | None:
    spec = view.find_container(view.get_dict(pod, "spec"), container)
    return base.as_bytes(view.get(spec, "resources", "limits", "memory"))


def _leaking(
    index: view.BundleView, newest: view.Revision, older: Sequence[view.Revision]
) -> list[signals.ContainerProblem]:
    """New-revision containers whose memory climbs toward the limit (or that OOM-kill workers)
    while the older revisions' pods stay flat: a leak brought by the change.

    A climb is growth of at least ``LEAK_GROWTH`` of the limit over the window, ending at
    ``LEAK_NEAR_LIMIT`` of it; the older pods must not climb like that (else the leak predates
    the rollout and a bigger limit or a fix is the answer, not a rollback).
    """
    live = [pod for pod in newest.pods if not view.is_terminal_pod(pod)]
    old_pods = [pod for revision in older for pod in revision.pods if not view.is_terminal_pod(pod)]
    by_name = {view.name_of(pod): pod for pod in live}

    def climbing(series: signals.Series, pod: object) -> bool:
        limit = _memory_limit(pod, series.labels.get("container", ""))
        if not limit:
            return False
        first, last = series.points[0][1], series.last
        return last - first >= LEAK_GROWTH * limit and last >= LEAK_NEAR_LIMIT * limit

    old_by_name = {view.name_of(pod): pod for pod in old_pods}
    if any(
        climbing(s, old_by_name[s.labels["pod"]])
        for s in _working_sets(index, old_pods)
        if s.labels["pod"] in old_by_name
    ):
        return []
    found = list(signals.oom_inside(index, pods=live))
    for s in _working_sets(index, live):
        pod = by_name.get(s.labels["pod"])
        if pod is not None and climbing(s, pod):
            container = s.labels.get("container", "")
            limit = _memory_limit(pod, container) or 0
            found.append(
                _problem(
                    pod,
                    signals.ProblemKind.LEAK,
                    container,
                    f"Metric {vocabulary.WORKING_SET_METRIC} pod '{view.name_of(pod)}' container "
                    f"'{container}': {quantity.format_bytes(int(s.points[0][1]))} → "
                    f"{quantity.format_bytes(int(s.last))} of a {quantity.format_bytes(limit)} "
                    "limit over the window",
                )
            )
    return found


def analyze_bad_rollout(index: view.BundleView) -> base.Finding | None:
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
    problems = [problem for pod in live for problem in signals.container_problems(index, pod)]
    problems.extend(_unschedulable(index, live))
    if not problems or any(signals.is_healthy_pod(index, pod) for pod in live):
        problems = _leaking(index, newest, revisions[:-1])
    if not problems:
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
    failing_pods = signals.count_affected_pods(problems)
    evidence = [
        f"{new_label}: {failing_pods}/{len(live)} pods failing ({symptom.value}): "
        f"{problems[0].evidence}",
        *[p.evidence for p in problems[1 : base.MAX_CITED_PODS]],
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
    deployment_ref = base.object_ref("Deployment", name, namespace=namespace)
    summary = (
        f"Revision {newest.number} of Deployment {namespace}/{name} is failing ({symptom.value} on "
        f"{base.plural(failing_pods, 'pod')}) while revision {good.number} was healthy; roll back to "
        f"revision {good.number}."
    )
    first = problems[0]
    confidence = base.scaled_confidence(0.88 if changes else 0.82, failing_pods)
    return base.Finding(
        category=Category.BAD_ROLLOUT,
        summary=summary,
        confidence=confidence,
        evidence=base.clip(evidence),
        actions=(
            base.make_action(
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
