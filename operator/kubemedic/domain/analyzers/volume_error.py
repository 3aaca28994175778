"""VolumeError: volumes that cannot be provisioned, attached or mounted.

ConfigMap and Secret volumes that cannot be mounted are config errors, not storage ones, and
are left to the config analyzer.
"""

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category
from kubemedic.models.target import TargetKind


def _volume_instruction(message: str, pvc_hint: str) -> str:
    text = message[: vocabulary.MAX_SCAN]
    storage_class = vocabulary.STORAGECLASS_RE.search(text)
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


def analyze_volume_error(index: view.BundleView) -> base.Finding | None:
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
            if e.reason in vocabulary.VOLUME_EVENT_REASONS or e.type == "Warning"
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
            if e.reason in vocabulary.VOLUME_EVENT_REASONS
            and not vocabulary.MISSING_OBJECT_RE.search(e.message[: vocabulary.MAX_SCAN])
            and not vocabulary.MISSING_KEY_RE.search(e.message[: vocabulary.MAX_SCAN])
        ]
        scheduling = signals.unschedulable_message(index, pod)
        if scheduling and vocabulary.VOLUME_SCHEDULING_RE.search(scheduling[: vocabulary.MAX_SCAN]):
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
    subject = base.describe_workload(index.workload_ref(), target.display())
    pods_count = len(set(affected_pods))
    summary = (
        f"{subject}: "
        + (f"{pvc_hint} is not bound" if bad_claim else "a volume cannot be attached or mounted")
        + (f" ({base.plural(pods_count, 'pod')} stuck)" if pods_count else "")
        + "."
    )
    return base.escalation(
        index,
        Category.VOLUME_ERROR,
        summary=summary,
        confidence=base.scaled_confidence(0.88 if messages else 0.7, max(pods_count, 1)),
        evidence=evidence,
        instructions=instruction,
        facts={
            "pvc": bad_claim,
            "namespace": namespace,
            "pod": affected_pods[0] if affected_pods else "",
        },
    )
