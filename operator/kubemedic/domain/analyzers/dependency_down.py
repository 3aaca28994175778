"""DependencyDown: the target's pods fail because a Service they call has no ready endpoint.

Signals, for each Service of the bundle in reach of the scope's pods:

- the pods' logs name it in a connection failure ("dial tcp: lookup postgres.shop.svc ...:
  no such host", "connect ECONNREFUSED payments:8080", or its ClusterIP), grouped per log,
  counted, first and last line cited; or
- the pods' template sets an environment variable whose value names it
  (``DATABASE_URL=postgres://postgres.shop.svc:5432/orders``), while the pods fail;

and the Service's EndpointSlices (or Endpoints) hold no ready endpoint. Restarting the
callers does not help: the action is on the dependency. When the workload behind the
dependency is scaled to zero it is scaled back to one (ScaleWorkload); otherwise the finding
escalates to the dependency's owners, naming it.
"""

import re
from collections.abc import Iterable
from typing import Final

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import TargetKind

#: Env values that are URLs or host:port pairs (a Service name is one DNS label).
_ENV_HOST_RE: Final = re.compile(
    r"^(?:[a-z][a-z0-9+.-]{0,20}://)?(?:[^@/\s]{1,200}@)?([^/:?\s]{1,253})"
)


def _service_named(index: view.BundleView, host: str, *, namespace: str) -> object | None:
    """The Service a host name stands for: ``svc``, ``svc.ns``, ``svc.ns.svc...``, or a ClusterIP."""
    parts = host.lower().rstrip(".").split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        for service in index.objects_of_kind("Service"):
            if host in {
                view.get_str(service, "spec", "clusterIP"),
                *view.get_list(service, "spec", "clusterIPs"),
            }:
                return service
        return None
    if len(parts) >= 3 and parts[2] != "svc":
        return None
    service_ns = parts[1] if len(parts) >= 2 else namespace
    return index.find("Service", parts[0], namespace=service_ns)


def _hosts(line: str) -> Iterable[str]:
    for match in vocabulary.HOST_RE.finditer(line.lower()):
        yield match.group(0).split(":")[0]
    yield from re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", line)


def _dependencies(index: view.BundleView) -> dict[tuple[str, str], list[str]]:
    """Services the scope's pods call, with the evidence naming each."""
    pods = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    namespace = index.target.namespace or (view.namespace_of(pods[0]) if pods else "")
    found: dict[tuple[str, str], list[str]] = {}
    target_service = index.target_object() if index.target.kind is TargetKind.SERVICE else None
    for match in signals.log_matches(index, vocabulary.CONNECT_FAILURE_RE, pods=pods):
        for line in {match.first, match.last}:
            for host in _hosts(line):
                service = _service_named(index, host, namespace=match.namespace)
                if service is not None and service is not target_service:
                    key = (view.namespace_of(service), view.name_of(service))
                    found.setdefault(key, []).append(match.cite(f"failed connections to '{host}'"))
    failing = [
        pod for pod in pods if signals.container_problems(index, pod) or not view.is_pod_ready(pod)
    ]
    if not failing:
        return found
    spec = view.pod_template_spec(index.workload() or failing[0])
    for container in view.pod_spec_containers(spec):
        for env in view.dicts(container.get("env")):
            value = view.get_str(env, "value")
            found_host = _ENV_HOST_RE.match(value.lower()) if value else None
            if found_host is None:
                continue
            service = _service_named(index, found_host.group(1), namespace=namespace)
            if service is not None and service is not target_service:
                key = (view.namespace_of(service), view.name_of(service))
                found.setdefault(key, []).append(
                    f"container '{view.get_str(container, 'name')}' env "
                    f"{view.get_str(env, 'name')}='{view.truncate(value, 120)}' names "
                    f"{view.cite(service)}"
                )
    return found


def analyze_dependency_down(index: view.BundleView) -> base.Finding | None:
    """A Service the failing pods call has no ready endpoint: act on the dependency."""
    for (namespace, name), lines in sorted(_dependencies(index).items()):
        service = index.find("Service", name, namespace=namespace)
        if service is None or view.get_str(service, "spec", "type") == "ExternalName":
            continue
        ready, total, endpoint_lines = signals.ready_endpoint_count(index, service)
        if ready > 0 or not endpoint_lines:
            continue
        from_logs = any(line.startswith("Log ") for line in lines)
        selector = view.str_map(view.get(service, "spec", "selector"))
        backends = [
            w
            for kind in sorted(view.WORKLOAD_KINDS)
            for w in index.objects_of_kind(kind)
            if view.namespace_of(w) == namespace
            and view.selector_matches(
                selector, view.str_map(view.get(w, "spec", "template", "metadata", "labels"))
            )
        ]
        evidence = [*lines, *endpoint_lines]
        actions: list[Action] = []
        for backend in backends:
            if (
                view.get_int(backend, "spec", "replicas") == 0
                and view.kind_of(backend) != "DaemonSet"
            ):
                evidence.append(f"{view.cite(backend)} spec.replicas=0")
                actions.append(
                    base.make_action(
                        ActionType.SCALE_WORKLOAD,
                        base.object_ref(
                            view.kind_of(backend), view.name_of(backend), namespace=namespace
                        ),
                        params={"replicas": 1},
                    )
                )
        subject = base.describe_workload(index.workload_ref(), index.target.display())
        summary = (
            f"{subject} fails because its dependency Service {namespace}/{name} has no ready "
            f"endpoint ({ready}/{total} ready); fix the dependency, not the callers."
        )
        if not actions:
            actions.append(
                base.escalate(
                    base.object_ref("Service", name, namespace=namespace),
                    reason=f"dependency Service {namespace}/{name} has no ready endpoint",
                    instructions=(
                        f"Service {namespace}/{name} has no ready endpoint: "
                        + (
                            f"check its backends ({', '.join(view.cite(b) for b in backends)}) "
                            if backends
                            else "no workload in the bundle matches its selector; check it "
                        )
                        + f"with `kubectl get endpointslices -n {namespace} -l "
                        f"kubernetes.io/service-name={name}` and `kubectl describe service {name} "
                        f"-n {namespace}`. Do not restart the callers: they recover once the "
                        "dependency serves again."
                    ),
                )
            )
        return base.Finding(
            category=Category.DEPENDENCY_DOWN,
            summary=summary,
            confidence=0.88 if from_logs else 0.7,
            evidence=base.clip(evidence),
            actions=tuple(actions),
            facts={"namespace": namespace, "service": name},
        )
    return None
