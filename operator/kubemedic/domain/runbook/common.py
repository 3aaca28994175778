"""What every runbook recipe shares: the step, the names filled into commands, helpers."""

import dataclasses
import shlex
from collections.abc import Callable, Mapping

from kubemedic.domain import analyzers
from kubemedic.models.target import TargetKind, TargetRef


@dataclasses.dataclass(frozen=True)
class Step:
    """One step: what to look for, and the commands to run (may be empty)."""

    text: str
    commands: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Names:
    """The names commands are filled with, placeholders where unknown."""

    kind: str
    name: str
    namespace: str
    ns_flag: str
    pod: str
    container: str
    node: str
    facts: Mapping[str, str]

    @property
    def ref(self) -> str:
        """``deployment/web`` style reference for kubectl."""
        return f"{self.kind.lower()}/{self.name}"

    def fact(self, key: str, placeholder: str) -> str:
        value = self.facts.get(key, "")
        return shlex.quote(value) if value else placeholder


Recipe = Callable[[Names], tuple[list[Step], list[Step]]]


def fill_names(finding: analyzers.Finding, target: TargetRef) -> Names:
    facts = finding.facts
    namespace = facts.get("namespace") or target.namespace or ""
    workload = workload_of(finding, target)
    kind, name = workload if workload else (target.kind.value, target.name)
    pod = facts.get("pod") or (target.name if target.kind is TargetKind.POD else "")
    node = facts.get("node") or (target.name if target.kind is TargetKind.NODE else "")
    return Names(
        kind=kind,
        name=shlex.quote(name),
        namespace=shlex.quote(namespace) if namespace else "<namespace>",
        ns_flag=f" -n {shlex.quote(namespace)}" if namespace else "",
        pod=shlex.quote(pod) if pod else "<pod>",
        container=shlex.quote(facts["container"]) if facts.get("container") else "<container>",
        node=shlex.quote(node) if node else "<node>",
        facts=facts,
    )


def workload_of(finding: analyzers.Finding, target: TargetRef) -> tuple[str, str] | None:
    """The workload the actions act on (for ``kubectl rollout`` style commands)."""
    # NB: only a Pod or HPA target stands for a workload; a Service's or Node's commands
    # must keep naming the Service or Node even when an action scales a Deployment.
    if target.kind not in {TargetKind.POD, TargetKind.HORIZONTAL_POD_AUTOSCALER}:
        return None
    for action in finding.actions:
        if action.target.kind in {"Deployment", "StatefulSet", "DaemonSet"}:
            return (action.target.kind, action.target.name)
    return None


def describe_pod(n: Names) -> str:
    return f"kubectl describe pod {n.pod}{n.ns_flag}"


def pod_events(n: Names) -> str:
    return (
        f"kubectl get events{n.ns_flag} --field-selector involvedObject.name={n.pod} "
        "--sort-by=.lastTimestamp"
    )


def container_status(n: Names) -> str:
    return (
        f"kubectl get pod {n.pod}{n.ns_flag} -o jsonpath="
        f"'{{.status.containerStatuses[?(@.name==\"{n.container}\")]}}'"
    )
