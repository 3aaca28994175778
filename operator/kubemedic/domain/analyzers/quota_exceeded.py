"""QuotaExceeded: pods that cannot be created because a ResourceQuota is used up."""

from collections.abc import Mapping, Sequence

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, vocabulary
from kubemedic.models.diagnosis import Category


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


def analyze_quota_exceeded(index: view.BundleView) -> base.Finding | None:
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
        match = vocabulary.QUOTA_RE.search(message[: vocabulary.MAX_SCAN])
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
    return base.Finding(
        category=Category.QUOTA_EXCEEDED,
        summary=summary,
        confidence=0.93 if quota is not None else 0.85,
        evidence=base.clip(evidence),
        actions=(base.escalate(base.key_ref(key), reason=summary, instructions=instructions),),
        facts={"quota": quota_name, "namespace": namespace},
    )
