"""RolloutStuck: a Deployment reports ``Progressing=False`` (ProgressDeadlineExceeded) while
its pods show no failure of their own.

When the new revision's pods crash, pull no image or cannot be scheduled, the analyzers of
those failures win (and BadRollout when the old revision was healthy). What is left is a
rollout that stopped for a reason outside its pods: a ``maxUnavailable: 0`` / ``maxSurge``
combination that cannot make room, a paused or slow readiness (``minReadySeconds``), or an
admission problem creating pods (PodCreationFailed, which ranks first). The finding cites the
condition and the ReplicaSets' counts, and escalates.
"""

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals
from kubemedic.models.diagnosis import Category


def analyze_rollout_stuck(index: view.BundleView) -> base.Finding | None:
    """``Progressing=False reason=ProgressDeadlineExceeded`` with no failing pod."""
    key = index.workload_ref()
    deployment = index.find_key(key) if key is not None and key[0] == "Deployment" else None
    if key is None or deployment is None:
        return None
    progressing = view.condition(deployment, "Progressing")
    if (
        view.get_str(progressing, "status") != "False"
        or view.get_str(progressing, "reason") != "ProgressDeadlineExceeded"
    ):
        return None
    pods = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    if any(signals.container_problems(index, pod) for pod in pods):
        return None
    evidence = [
        f"{view.cite(deployment)} status.conditions[Progressing]=False "
        f"reason=ProgressDeadlineExceeded: {view.truncate(view.get_str(progressing, 'message'))}",
        f"{view.cite(deployment)} spec.replicas={view.get_int(deployment, 'spec', 'replicas')} "
        f"status.updatedReplicas={view.get_int(deployment, 'status', 'updatedReplicas') or 0} "
        f"readyReplicas={view.get_int(deployment, 'status', 'readyReplicas') or 0}",
    ]
    if view.get(deployment, "spec", "paused") is True:
        evidence.append(f"{view.cite(deployment)} spec.paused=true")
    evidence.extend(
        f"{view.cite(rs)} status.replicas={view.get_int(rs, 'status', 'replicas') or 0} "
        f"readyReplicas={view.get_int(rs, 'status', 'readyReplicas') or 0}"
        for rs in index.replicasets_of(deployment)[-2:]
    )
    not_ready = [pod for pod in pods if not view.is_pod_ready(pod)]
    if not_ready:
        evidence.append(
            f"{len(not_ready)}/{len(pods)} pods not Ready without a container failure, e.g. "
            f"{view.cite(not_ready[0])} phase={view.pod_phase(not_ready[0]) or '?'}"
        )
    namespace, name = key[1], key[2]
    summary = (
        f"The rollout of Deployment {namespace}/{name} exceeded its progress deadline while its "
        "pods show no failure; check the rollout strategy, pod creation and readiness."
    )
    return base.escalation(
        index,
        Category.ROLLOUT_STUCK,
        summary=summary,
        confidence=0.66,
        evidence=evidence,
        instructions=(
            f"`kubectl rollout status deployment/{name} -n {namespace}`, `kubectl describe "
            f"deployment {name} -n {namespace}` and the new ReplicaSet's events: look for "
            "FailedCreate, a strategy that cannot make room (maxUnavailable=0 with no spare "
            "capacity), minReadySeconds, or a paused rollout. Roll back with `kubectl rollout "
            "undo` if the new revision cannot become ready."
        ),
        facts={"namespace": namespace},
    )
