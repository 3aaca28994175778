"""Markdown runbooks: what happened, the evidence, the checks, the proposed actions, how to verify.

A runbook is for the human on call, so it is written as steps with the exact ``kubectl``
commands for this incident (namespace, names and containers filled in). It is rendered
deterministically from the finding and the target — no timestamps, no randomness — so the
same bundle always yields the same text and a diff between two runbooks shows a real change.

Per category there is one recipe (:data:`RECIPES`) of checks and verification steps; the
names they need (``pod``, ``container``, ``node``, ...) come from ``Finding.facts`` with safe
placeholders such as ``<pod>`` when a fact is unknown.
"""

import dataclasses
import json
import shlex
from collections.abc import Callable, Mapping
from typing import Final

from kubemedic.domain import analyzers
from kubemedic.domain.catalog import action_command
from kubemedic.models.diagnosis import Action, ActionType, Category
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


def _names(finding: analyzers.Finding, target: TargetRef) -> Names:
    facts = finding.facts
    namespace = facts.get("namespace") or target.namespace or ""
    workload = _workload_of(finding, target)
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


def _workload_of(finding: analyzers.Finding, target: TargetRef) -> tuple[str, str] | None:
    """The workload the actions act on (for ``kubectl rollout`` style commands)."""
    # NB: only a Pod or HPA target stands for a workload; a Service's or Node's commands
    # must keep naming the Service or Node even when an action scales a Deployment.
    if target.kind not in {TargetKind.POD, TargetKind.HORIZONTAL_POD_AUTOSCALER}:
        return None
    for action in finding.actions:
        if action.target.kind in {"Deployment", "StatefulSet", "DaemonSet"}:
            return (action.target.kind, action.target.name)
    return None


def _describe_pod(n: Names) -> str:
    return f"kubectl describe pod {n.pod}{n.ns_flag}"


def _pod_events(n: Names) -> str:
    return (
        f"kubectl get events{n.ns_flag} --field-selector involvedObject.name={n.pod} "
        "--sort-by=.lastTimestamp"
    )


def _container_status(n: Names) -> str:
    return (
        f"kubectl get pod {n.pod}{n.ns_flag} -o jsonpath="
        f"'{{.status.containerStatuses[?(@.name==\"{n.container}\")]}}'"
    )


def _oom(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Confirm the kernel killed the container for exceeding its memory limit.",
            (_container_status(n),),
        ),
        Step(
            "Compare the limit with real usage.",
            (
                f"kubectl get {n.ref}{n.ns_flag} -o jsonpath="
                f"'{{.spec.template.spec.containers[?(@.name==\"{n.container}\")].resources}}'",
                f"kubectl top pod{n.ns_flag} --containers",
            ),
        ),
        Step(
            "Look for a leak: does usage grow steadily until the kill? Check the memory "
            "dashboard for the pod."
        ),
    ]
    verify = [
        Step(
            "Wait for the rollout and check that restarts stop growing.",
            (
                f"kubectl rollout status {n.ref}{n.ns_flag}",
                f"kubectl get pods{n.ns_flag} -o wide",
            ),
        ),
    ]
    return checks, verify


def _crash(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Read why the previous instance exited.",
            (f"kubectl logs {n.pod}{n.ns_flag} -c {n.container} --previous",),
        ),
        Step(
            "Check exit code, restart count and recent events.",
            (_container_status(n), _describe_pod(n)),
        ),
        Step(
            "Check that dependencies the app needs at start-up (databases, APIs, DNS) are "
            "reachable."
        ),
    ]
    verify = [
        Step(
            "The container stays Running and restartCount stops growing.",
            (f"kubectl get pods{n.ns_flag} -w",),
        )
    ]
    return checks, verify


def _bad_rollout(n: Names) -> tuple[list[Step], list[Step]]:
    revision = n.fact("revision", "<new-revision>")
    good = n.fact("good_revision", "<good-revision>")
    checks = [
        Step(
            "See the revisions and what changed in the failing one.",
            (
                f"kubectl rollout history {n.ref}{n.ns_flag}",
                f"kubectl rollout history {n.ref}{n.ns_flag} --revision={revision}",
                f"kubectl rollout history {n.ref}{n.ns_flag} --revision={good}",
            ),
        ),
        Step(
            "Check the new revision's pods and why they fail.",
            (
                f"kubectl get replicasets{n.ns_flag} -o wide",
                _describe_pod(n),
                f"kubectl logs {n.pod}{n.ns_flag} -c {n.container}",
            ),
        ),
    ]
    verify = [
        Step(
            f"After the rollback, revision {good}'s template is live again and all replicas are "
            "available.",
            (
                f"kubectl rollout status {n.ref}{n.ns_flag}",
                f"kubectl get {n.ref}{n.ns_flag}",
            ),
        ),
        Step("Fix the change in the failing revision before rolling forward again."),
    ]
    return checks, verify


def _image_pull(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step("Read the exact pull error.", (_describe_pod(n), _pod_events(n))),
        Step(
            "Check the image reference and the pull secrets.",
            (
                f"kubectl get pod {n.pod}{n.ns_flag} -o jsonpath='{{.spec.containers[*].image}}'",
                f"kubectl get pod {n.pod}{n.ns_flag} -o jsonpath='{{.spec.imagePullSecrets}}'",
                f"kubectl get secrets{n.ns_flag} --field-selector "
                "type=kubernetes.io/dockerconfigjson",
            ),
        ),
    ]
    verify = [
        Step(
            "After fixing the image, new pods pull it and start.",
            (f"kubectl rollout status {n.ref}{n.ns_flag}",),
        )
    ]
    return checks, verify


def _config(n: Names) -> tuple[list[Step], list[Step]]:
    missing_kind = n.facts.get("missing_kind", "")
    missing = n.fact("missing_name", "<name>")
    if missing_kind == "Secret":
        lookup = f"kubectl get secret {missing}{n.ns_flag} -o jsonpath='{{.data}}'"
    else:
        lookup = f"kubectl get configmap {missing}{n.ns_flag} -o yaml"
    checks = [
        Step("Read what the kubelet cannot find.", (_describe_pod(n), _pod_events(n))),
        Step(
            "Check whether the referenced object and key exist.",
            (lookup, f"kubectl get configmaps,secrets{n.ns_flag}"),
        ),
    ]
    verify = [
        Step(
            "Once it exists, the kubelet creates the containers on its next retry.",
            (f"kubectl get pods{n.ns_flag} -w",),
        )
    ]
    return checks, verify


def _probe(n: Names) -> tuple[list[Step], list[Step]]:
    probe = n.facts.get("probe", "readinessProbe")
    checks = [
        Step("Read the probe failures.", (_pod_events(n),)),
        Step(
            "Read the probe definition.",
            (
                f"kubectl get pod {n.pod}{n.ns_flag} -o jsonpath="
                f"'{{.spec.containers[?(@.name==\"{n.container}\")].{probe}}}'",
            ),
        ),
        Step(
            "Call the endpoint yourself (replace the port with the probe's).",
            (
                f"kubectl port-forward pod/{n.pod}{n.ns_flag} 8080:8080",
                "curl -sv http://127.0.0.1:8080/healthz",
            ),
        ),
    ]
    verify = [
        Step("The pods become Ready (READY column n/n).", (f"kubectl get pods{n.ns_flag} -o wide",))
    ]
    return checks, verify


def _unschedulable(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step("Read the scheduler's reasons.", (_describe_pod(n),)),
        Step(
            "Check node capacity and taints.",
            (
                "kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints",
                "kubectl describe nodes | grep -A 8 'Allocated resources'",
            ),
        ),
    ]
    verify = [
        Step("The pod gets a node and starts.", (f"kubectl get pod {n.pod}{n.ns_flag} -o wide",))
    ]
    return checks, verify


def _node(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step("Read the node's conditions and taints.", (f"kubectl describe node {n.node}",)),
        Step(
            "See which pods run on it.",
            (f"kubectl get pods -A --field-selector spec.nodeName={n.node} -o wide",),
        ),
        Step(
            "On the node itself: is the kubelet (and container runtime) running?",
            (
                "systemctl status kubelet containerd",
                "journalctl -u kubelet --since '1 hour ago'",
            ),
        ),
    ]
    verify = [
        Step(
            "The node reports Ready again (then uncordon it), or its pods run elsewhere.",
            (
                f"kubectl get node {n.node}",
                f"kubectl uncordon {n.node}",
            ),
        ),
    ]
    return checks, verify


def _volume(n: Names) -> tuple[list[Step], list[Step]]:
    pvc = n.fact("pvc", "<pvc>")
    checks = [
        Step(
            "Read the claim's status and provisioning events.",
            (f"kubectl describe pvc {pvc}{n.ns_flag}",),
        ),
        Step(
            "Check storage classes and volume attachments.",
            (
                "kubectl get storageclass",
                "kubectl get volumeattachments",
            ),
        ),
        Step("Read the pod's mount/attach events.", (_pod_events(n),)),
    ]
    verify = [
        Step(
            "The claim is Bound and the pod starts.",
            (f"kubectl get pvc{n.ns_flag}", f"kubectl get pods{n.ns_flag}"),
        )
    ]
    return checks, verify


def _quota(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Compare the quota's used and hard values.",
            (f"kubectl describe resourcequota{n.ns_flag}",),
        ),
        Step(
            "Read the controller's FailedCreate events.",
            (
                f"kubectl get events{n.ns_flag} --field-selector reason=FailedCreate",
                f"kubectl describe replicasets{n.ns_flag}",
            ),
        ),
    ]
    verify = [Step("All replicas are created.", (f"kubectl get {n.ref}{n.ns_flag}",))]
    return checks, verify


def _service(n: Names) -> tuple[list[Step], list[Step]]:
    selector = n.fact("selector", "<selector>")
    checks = [
        Step(
            "Check the endpoints behind the Service.",
            (f"kubectl get endpointslices{n.ns_flag} -l kubernetes.io/service-name={n.name}",),
        ),
        Step(
            "Compare the selector with the pods' labels and readiness.",
            (
                f"kubectl get service {n.name}{n.ns_flag} -o jsonpath='{{.spec.selector}}'",
                f"kubectl get pods{n.ns_flag} -l {selector} -o wide",
                f"kubectl get pods{n.ns_flag} --show-labels",
            ),
        ),
    ]
    verify = [
        Step(
            "At least one endpoint is ready.",
            (f"kubectl get endpointslices{n.ns_flag} -l kubernetes.io/service-name={n.name}",),
        )
    ]
    return checks, verify


def _evicted(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "List the evicted pods and read why.",
            (
                f"kubectl get pods{n.ns_flag} --field-selector=status.phase=Failed",
                _describe_pod(n),
            ),
        ),
        Step(
            "Check the node's pressure conditions and usage.",
            (f"kubectl describe node {n.node}", "kubectl top nodes"),
        ),
        Step("Compare requests with real usage.", (f"kubectl top pod{n.ns_flag} --containers",)),
    ]
    verify = [
        Step(
            "No new evictions appear.",
            (f"kubectl get pods{n.ns_flag} --field-selector=status.phase=Failed",),
        )
    ]
    return checks, verify


def _hpa(n: Names) -> tuple[list[Step], list[Step]]:
    hpa = n.fact("hpa", n.name)
    checks = [
        Step(
            "Read the autoscaler's status and conditions.",
            (f"kubectl describe hpa {hpa}{n.ns_flag}",),
        ),
        Step(
            "Check per-pod load and whether more replicas fit (quota, nodes).",
            (
                f"kubectl top pods{n.ns_flag}",
                f"kubectl describe resourcequota{n.ns_flag}",
            ),
        ),
    ]
    verify = [
        Step(
            "Utilisation falls toward the target and ScalingLimited turns False.",
            (f"kubectl get hpa {hpa}{n.ns_flag} -w",),
        )
    ]
    return checks, verify


def _unknown(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Describe the target and read its recent events.",
            (
                f"kubectl describe {n.kind.lower()} {n.name}{n.ns_flag}",
                f"kubectl get events{n.ns_flag or ' -A'} --sort-by=.lastTimestamp",
            ),
        ),
        Step("Check the alert's dashboard and recent changes (deploys, config, infrastructure)."),
    ]
    verify = [Step("The alert resolves.")]
    return checks, verify


#: The checks and verification steps of every category.
RECIPES: Final[Mapping[Category, Recipe]] = {
    Category.OOM_KILLED: _oom,
    Category.CRASH_LOOP: _crash,
    Category.BAD_ROLLOUT: _bad_rollout,
    Category.IMAGE_PULL_ERROR: _image_pull,
    Category.CONFIG_ERROR: _config,
    Category.PROBE_FAILURE: _probe,
    Category.UNSCHEDULABLE: _unschedulable,
    Category.NODE_NOT_READY: _node,
    Category.VOLUME_ERROR: _volume,
    Category.QUOTA_EXCEEDED: _quota,
    Category.SERVICE_NO_ENDPOINTS: _service,
    Category.EVICTED: _evicted,
    Category.HPA_MAXED_OUT: _hpa,
    Category.UNKNOWN: _unknown,
}


def _render_steps(steps: list[Step]) -> list[str]:
    lines: list[str] = []
    for number, step in enumerate(steps, start=1):
        lines.append(f"{number}. {step.text}")
        if step.commands:
            lines.append("")
            lines.append("   ```sh")
            lines.extend(f"   {command}" for command in step.commands)
            lines.append("   ```")
            lines.append("")
    return lines


def _render_actions(actions: tuple[Action, ...]) -> list[str]:
    if not actions:
        return ["No automatic action is proposed."]
    lines: list[str] = []
    for number, action in enumerate(actions, start=1):
        scope = f"{action.target.namespace}/" if action.target.namespace else ""
        where = f"{action.target.kind} {scope}{action.target.name}"
        if action.type is ActionType.ESCALATE:
            lines.append(
                f"{number}. **Escalate** to a human (risk {action.risk.value}): "
                f"{action.params.get('reason', '')}"
            )
            instructions = str(action.params.get("instructions", ""))
            if instructions:
                lines.append(f"   {instructions}")
            continue
        params = json.dumps(action.params, sort_keys=True)
        lines.append(
            f"{number}. **{action.type.value}** on {where} (risk {action.risk.value}): `{params}`"
        )
        command = action_command(action)
        if command:
            lines.extend(["", "   ```sh", f"   {command}", "   ```", ""])
    return lines


def build_runbook(finding: analyzers.Finding, target: TargetRef) -> str:
    """The markdown runbook of a finding about ``target``; deterministic for equal input."""
    names = _names(finding, target)
    checks, verify = RECIPES.get(finding.category, _unknown)(names)
    lines = [
        f"# Runbook: {finding.category.value} — {target.display()}",
        "",
        "## What happened",
        "",
        f"{finding.summary} (confidence {finding.confidence:.2f}, engine: rules)",
        "",
        "## Evidence",
        "",
    ]
    lines.extend(f"- {line}" for line in finding.evidence)
    if not finding.evidence:
        lines.append("- (none)")
    lines.extend(["", "## Checks", ""])
    lines.extend(_render_steps(checks))
    lines.extend(["", "## Proposed actions", ""])
    lines.extend(_render_actions(finding.actions))
    lines.extend(["", "## Verify", ""])
    lines.extend(_render_steps(verify))
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"
