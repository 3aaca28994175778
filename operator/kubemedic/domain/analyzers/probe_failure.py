"""ProbeFailure: readiness probes failing on running containers, or liveness probes restarting them."""

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals
from kubemedic.models.diagnosis import Action, ActionType, Category


def describe_probe(probe: object) -> str:
    """A probe spec in one line: ``httpGet :8080/healthz (timeoutSeconds=1, ...)``."""
    if not isinstance(probe, dict):
        return "(no probe spec)"
    if "httpGet" in probe:
        http = view.get_dict(probe, "httpGet")
        handler = (
            f"httpGet {view.get_str(http, 'scheme') or 'HTTP'} "
            f":{view.get_str(http, 'port')}{view.get_str(http, 'path') or '/'}"
        )
    elif "tcpSocket" in probe:
        handler = f"tcpSocket :{view.get_str(probe, 'tcpSocket', 'port')}"
    elif "exec" in probe:
        command = " ".join(str(part) for part in view.get_list(probe, "exec", "command"))
        handler = f"exec '{view.truncate(command, 80)}'"
    elif "grpc" in probe:
        handler = f"grpc :{view.get_str(probe, 'grpc', 'port')}"
    else:
        handler = "unknown handler"
    settings = [
        f"{field}={view.get_int(probe, field)}"
        for field in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "failureThreshold")
        if view.get_int(probe, field) is not None
    ]
    return handler + (f" ({', '.join(settings)})" if settings else "")


def _template_hash(pod: object) -> str:
    labels = view.labels_of(pod)
    return labels.get(view.POD_TEMPLATE_HASH_LABEL) or labels.get("controller-revision-hash", "")


def _killed_by_startup_probe(index: view.BundleView, pod: object | None) -> bool:
    """The pod's kills come from its startup probe (slow start), not its liveness probe."""
    if pod is None:
        return False
    texts = [
        event.message.lower()
        for event in index.events_for(pod)
        if event.reason in {"Unhealthy", "Killing"}
    ]
    startup = any("startup probe" in text for text in texts)
    return startup and not any("liveness probe" in text for text in texts)


def analyze_probe_failure(index: view.BundleView) -> base.Finding | None:
    """Readiness probes failing on running containers, or liveness probes restarting them.

    When only some pods of a workload fail readiness while their siblings (same template)
    are healthy, the failure is local to those pods: deleting them (their controller
    recreates them) is proposed first. Otherwise the probe or the endpoint behind it needs
    a human, and the probe spec is quoted in the instructions.
    """
    problems = signals.scope_problems(
        index, [signals.ProblemKind.READINESS, signals.ProblemKind.LIVENESS]
    )
    if not problems:
        return None
    scope = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    pods_by_name = {view.name_of(pod): pod for pod in scope}
    first = problems[0]
    probe_field = (
        "livenessProbe" if first.kind is signals.ProblemKind.LIVENESS else "readinessProbe"
    )
    probe_name = "Liveness" if first.kind is signals.ProblemKind.LIVENESS else "Readiness"
    if first.kind is signals.ProblemKind.LIVENESS and _killed_by_startup_probe(
        index, pods_by_name.get(first.pod)
    ):
        probe_field, probe_name = "startupProbe", "Startup"
    evidence = signals.cite_problems(problems)
    seen_reasons: set[str] = set()
    for problem in problems[: base.MAX_CITED_PODS]:
        pod = pods_by_name.get(problem.pod)
        for event in index.events_for(pod) if pod is not None else []:
            if event.reason in {"Unhealthy", "Killing"} and event.reason not in seen_reasons:
                seen_reasons.add(event.reason)
                evidence.append(event.cite())
    pod = pods_by_name.get(first.pod)
    spec = view.find_container(view.get_dict(pod, "spec"), first.container)
    probe_text = describe_probe(view.get(spec, probe_field))
    evidence.append(
        f"Pod {first.namespace}/{first.pod} spec.containers[{first.container}].{probe_field}: "
        f"{probe_text}"
    )
    failing = {p.pod for p in problems}
    # NB: siblings must share the failing pods' template (pod-template-hash or
    # controller-revision-hash): a healthy pod of another revision proves nothing.
    failing_templates = {_template_hash(pods_by_name.get(name)) for name in failing}
    healthy_siblings = [
        p
        for p in scope
        if view.name_of(p) not in failing
        and _template_hash(p) in failing_templates
        and signals.is_healthy_pod(index, p)
    ]
    workload_key = index.workload_ref()
    subject = base.describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    target = base.owner_ref(index)
    actions: list[Action] = []
    if (
        first.kind is signals.ProblemKind.READINESS
        and healthy_siblings
        and workload_key is not None
    ):
        evidence.append(
            f"{len(healthy_siblings)}/{len(scope)} pods of {subject} with the same template are "
            "Ready"
        )
        actions.extend(
            base.make_action(
                ActionType.DELETE_POD,
                base.object_ref("Pod", name, namespace=first.namespace),
                params={"pod": name},
            )
            for name in sorted(failing)[: base.MAX_POD_ACTIONS]
        )
        summary = (
            f"{probe_name} probe fails on {base.plural(len(failing), 'pod')} of {subject} while "
            f"{len(healthy_siblings)} siblings are Ready; replace the failing pod(s)."
        )
        confidence = 0.8
    else:
        summary = (
            f"{probe_name} probe of container '{first.container}' fails on "
            f"{base.plural(len(failing), 'pod')} of {subject}."
        )
        confidence = base.scaled_confidence(0.82, len(failing))
    if probe_name == "Startup":
        advice = (
            "The kubelet kills the container because it does not finish starting within the "
            "startup probe's failureThreshold x periodSeconds. If the application starts "
            "slowly (migrations, cache warm-up, JIT), raise failureThreshold; if it hangs at "
            "start, read its log."
        )
    elif first.kind is signals.ProblemKind.LIVENESS:
        advice = (
            "The kubelet restarts the container each time the liveness probe fails. If the probe "
            "times out under load, raise timeoutSeconds/failureThreshold or add a startupProbe; if "
            "the endpoint is broken, fix it. Liveness probes must not depend on other services."
        )
    else:
        advice = (
            "The container runs but does not pass its readiness probe, so it receives no traffic. "
            "Check what the endpoint returns (`kubectl port-forward` and curl it) and whether a "
            "dependency it checks is down, or fix the probe's path/port."
        )
    actions.append(
        base.escalate(
            target,
            reason=(
                f"{probe_name.lower()} probe failing for container '{first.container}' of {subject}"
            ),
            instructions=(
                f"{probe_name} probe {probe_text} of container '{first.container}' fails. {advice}"
            ),
        )
    )
    return base.Finding(
        category=Category.PROBE_FAILURE,
        summary=summary,
        confidence=confidence,
        evidence=base.clip(evidence),
        actions=tuple(actions),
        facts={
            "pod": first.pod,
            "container": first.container,
            "namespace": first.namespace,
            "probe": probe_field,
        },
    )
