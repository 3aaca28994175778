"""PodCreationFailed: a controller cannot create pods for a reason other than a quota.

Signals: the ReplicaSet's (or StatefulSet's, DaemonSet's, Job's) ``ReplicaFailure``
condition and its ``FailedCreate`` events, whose message names the refusal: a missing
ServiceAccount, an admission webhook's denial, a PodSecurity violation, a
ValidatingAdmissionPolicy, a LimitRange bound. Quota refusals are the QuotaExceeded
analyzer's. The escalation says exactly what to create or change.
"""

from typing import Final

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, vocabulary
from kubemedic.models.diagnosis import Category

_FIXES: Final = {
    "ServiceAccount": "create ServiceAccount '{detail}' in namespace '{namespace}' (or fix "
    "spec.template.spec.serviceAccountName)",
    "AdmissionWebhook": "read the denial of webhook '{detail}' and change the pod template to "
    "satisfy its policy (or ask its owners for an exception)",
    "PodSecurity": "make the pod template meet PodSecurity level '{detail}' (runAsNonRoot, "
    "drop capabilities, seccompProfile RuntimeDefault, no hostPath) or relabel the namespace",
    "ValidatingAdmissionPolicy": "change the pod template to satisfy policy '{detail}'",
    "LimitRange": "bring the template's resources within the namespace's LimitRange "
    "(`kubectl describe limitrange -n {namespace}`)",
    "Forbidden": "fix what the API server forbids: {detail}",
}


def _owners(index: view.BundleView) -> list[object]:
    workload = index.workload()
    owners: list[object] = []
    if workload is not None:
        owners.append(workload)
        if view.kind_of(workload) == "Deployment":
            owners.extend(reversed(index.replicasets_of(workload)))
    return owners


def classify(message: str) -> tuple[str, str] | None:
    """``(cause, detail)`` of a pod creation refusal; ``None`` for quotas or unknown texts."""
    if "exceeded quota" in message:
        return None
    for cause, pattern in vocabulary.CREATE_FAILURE_RES:
        match = pattern.search(message[: vocabulary.MAX_SCAN])
        if match:
            return cause, view.truncate(match.group(1), 200)
    return None


def analyze_pod_creation_failed(index: view.BundleView) -> base.Finding | None:
    """``FailedCreate``/``ReplicaFailure`` for a missing ServiceAccount, admission, PodSecurity."""
    for owner in _owners(index):
        lines: list[str] = []
        found: tuple[str, str] | None = None
        failure = view.condition(owner, "ReplicaFailure")
        if view.get_str(failure, "status") == "True":
            found = classify(view.get_str(failure, "message"))
            if found:
                lines.append(
                    f"{view.cite(owner)} status.conditions[ReplicaFailure]=True reason="
                    f"{view.get_str(failure, 'reason')}: "
                    f"{view.truncate(view.get_str(failure, 'message'))}"
                )
        for event in index.events_for(owner):
            if event.reason == "FailedCreate" and (cause := classify(event.message)):
                found = found or cause
                lines.append(event.cite())
        if found is None:
            continue
        kind, detail = found
        namespace = view.namespace_of(owner)
        fix = _FIXES[kind].format(detail=detail, namespace=namespace)
        subject = base.describe_workload(index.workload_ref(), view.cite(owner))
        return base.escalation(
            index,
            Category.POD_CREATION_FAILED,
            summary=f"{view.cite(owner)} cannot create pods ({kind}: {detail}); {fix}.",
            confidence=0.9,
            evidence=lines,
            instructions=f"{subject} has no new pods because the API server refuses them: {fix}. "
            "The controller retries on its own once the cause is fixed.",
            facts={"namespace": namespace, "cause": kind},
        )
    return None
