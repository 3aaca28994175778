"""ServiceNoEndpoints: a Service with a selector whose EndpointSlices hold no ready endpoint."""

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import TargetKind


def _manual_endpoints(index: view.BundleView, service: object) -> base.Finding | None:
    """A Service without a selector: its hand-kept Endpoints (or EndpointSlices) hold no
    ready address, so kube-proxy sends its traffic nowhere (k8sgpt's Service check)."""
    ready, total, evidence = signals.ready_endpoint_count(index, service)
    if ready > 0 or not evidence:
        return None
    name, namespace = view.name_of(service), view.namespace_of(service)
    summary = (
        f"Service {namespace}/{name} has no selector and none of its {total} hand-kept "
        "endpoint addresses is ready; fix the endpoints or the backends they name."
    )
    return base.escalation(
        index,
        Category.SERVICE_NO_ENDPOINTS,
        summary=summary,
        confidence=0.8,
        evidence=[f"{view.cite(service)} has no spec.selector (endpoints kept by hand)", *evidence],
        instructions=(
            f"Service {namespace}/{name} is selector-less: its Endpoints/EndpointSlices are "
            "written by hand or by an external controller. Check the addresses they list "
            f"(`kubectl get endpoints {name} -n {namespace} -o yaml`), that the backends "
            "behind them answer, and whoever maintains them."
        ),
        facts={"namespace": namespace},
    )


def analyze_service_no_endpoints(index: view.BundleView) -> base.Finding | None:
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
    if view.get_str(service, "spec", "type") == "ExternalName":
        return None
    if not selector:
        return _manual_endpoints(index, service)
    ready, _total, evidence = signals.ready_endpoint_count(index, service)
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
    service_ref = base.target_ref(index)
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
        problems = [p for pod in pods for p in signals.container_problems(index, pod)]
        not_ready = [pod for pod in pods if not view.is_pod_ready(pod)]
        evidence.append(f"{len(not_ready)}/{len(pods)} pods matching {selector_text} are not Ready")
        evidence.extend(p.evidence for p in problems[: base.MAX_CITED_PODS])
        cause = f" ({problems[0].kind.value}: {problems[0].evidence})" if problems else ""
        summary = (
            f"Service {namespace}/{target.name} has no ready endpoints: its "
            f"{base.plural(len(pods), 'pod')} are not Ready."
        )
        actions.append(
            base.escalate(
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
            base.make_action(
                ActionType.SCALE_WORKLOAD,
                base.object_ref(
                    view.kind_of(workload), view.name_of(workload), namespace=namespace
                ),
                params={"replicas": 1},
            )
        )
        actions.append(
            base.escalate(
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
            base.escalate(
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
    return base.Finding(
        category=Category.SERVICE_NO_ENDPOINTS,
        summary=summary,
        confidence=confidence,
        evidence=base.clip(evidence),
        actions=tuple(actions),
        facts=facts,
    )
