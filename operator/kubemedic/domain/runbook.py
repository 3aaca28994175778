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


def _node_pressure(n: Names) -> tuple[list[Step], list[Step]]:
    condition = n.fact("condition", "<condition>")
    checks = [
        Step(
            f"Read the node's conditions, taints and the kubelet's eviction events ({condition}).",
            (
                f"kubectl describe node {n.node}",
                f"kubectl get events -A --field-selector involvedObject.name={n.node} "
                "--sort-by=.lastTimestamp",
            ),
        ),
        Step(
            "Find what uses the resource: the largest pods on the node, images and logs on disk.",
            (
                f"kubectl get pods -A --field-selector spec.nodeName={n.node} -o wide",
                "kubectl top pod -A --sort-by=memory",
                f"kubectl debug node/{n.node} -it --image=busybox -- df -h /host /host/var/lib",
            ),
        ),
    ]
    verify = [
        Step(
            "The pressure condition returns to False and the taint is removed.",
            (f"kubectl get node {n.node} -o jsonpath='{{.status.conditions}}'",),
        )
    ]
    return checks, verify


def _volume_full(n: Names) -> tuple[list[Step], list[Step]]:
    claim = n.fact("claim", "<claim>")
    checks = [
        Step(
            "Check the claim's size, its StorageClass and whether it can be expanded.",
            (
                f"kubectl get pvc {claim}{n.ns_flag} -o wide",
                "kubectl get storageclass -o custom-columns=NAME:.metadata.name,"
                "EXPAND:.allowVolumeExpansion",
            ),
        ),
        Step(
            "See what fills the volume from inside a consumer.",
            (f"kubectl exec {n.pod}{n.ns_flag} -- df -h",),
        ),
    ]
    verify = [
        Step(
            "The claim's capacity grew (or space was freed) and the consumers stop failing.",
            (f"kubectl get pvc {claim}{n.ns_flag}", f"kubectl get pods{n.ns_flag}"),
        )
    ]
    return checks, verify


def _dependency(n: Names) -> tuple[list[Step], list[Step]]:
    service = n.fact("service", "<service>")
    checks = [
        Step(
            "Check the dependency Service's endpoints and the pods behind it.",
            (
                f"kubectl get endpointslices{n.ns_flag} -l kubernetes.io/service-name={service}",
                f"kubectl describe service {service}{n.ns_flag}",
            ),
        ),
        Step(
            "Confirm the callers fail on that dependency.",
            (f"kubectl logs {n.pod}{n.ns_flag} --previous --tail=50",),
        ),
    ]
    verify = [
        Step(
            "The dependency has ready endpoints and the callers recover on their own.",
            (f"kubectl get endpointslices{n.ns_flag} -l kubernetes.io/service-name={service} -w",),
        )
    ]
    return checks, verify


def _certificate(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Read which peer's certificate fails.",
            (f"kubectl logs {n.pod}{n.ns_flag} -c {n.container} --tail=100",),
        ),
        Step(
            "Check cert-manager Certificates and the TLS Secrets' expiry dates.",
            (
                f"kubectl get certificate{n.ns_flag}",
                f"kubectl get secret <tls-secret>{n.ns_flag} -o jsonpath='{{.data.tls\\.crt}}' "
                "| base64 -d | openssl x509 -noout -dates",
            ),
        ),
    ]
    verify = [
        Step(
            "The renewed certificate's notAfter lies in the future and the TLS errors stop.",
            (f"kubectl logs {n.pod}{n.ns_flag} -c {n.container} --since=5m",),
        )
    ]
    return checks, verify


def _dns(n: Names) -> tuple[list[Step], list[Step]]:
    host = n.fact("host", "<name>")
    checks = [
        Step(
            "Resolve the failing name from inside the pod and check its resolv.conf.",
            (
                f"kubectl exec {n.pod}{n.ns_flag} -- nslookup {host}",
                f"kubectl exec {n.pod}{n.ns_flag} -- cat /etc/resolv.conf",
            ),
        ),
        Step(
            "Check cluster DNS.",
            (
                "kubectl -n kube-system get pods -l k8s-app=kube-dns -o wide",
                "kubectl -n kube-system logs -l k8s-app=kube-dns --tail=50",
            ),
        ),
    ]
    verify = [
        Step(
            "The name resolves and the resolution errors stop in the logs.",
            (f"kubectl logs {n.pod}{n.ns_flag} --since=5m",),
        )
    ]
    return checks, verify


def _throttling(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Compare CPU usage with the CPU limit of the throttled container.",
            (
                f"kubectl top pod{n.ns_flag} --containers",
                f"kubectl get {n.ref}{n.ns_flag} -o jsonpath="
                f"'{{.spec.template.spec.containers[?(@.name==\"{n.container}\")].resources}}'",
            ),
        ),
        Step("Check the throttling ratio on the container's CPU dashboard over the last hours."),
    ]
    verify = [
        Step(
            "After the rollout the throttled share of CFS periods falls below 25%.",
            (f"kubectl rollout status {n.ref}{n.ns_flag}",),
        )
    ]
    return checks, verify


def _disruption(n: Names) -> tuple[list[Step], list[Step]]:
    pdb = n.fact("pdb", "<pdb>")
    checks = [
        Step(
            "Read the budget: its bound, healthy pods and allowed disruptions.",
            (f"kubectl get pdb {pdb}{n.ns_flag} -o wide", f"kubectl describe pdb {pdb}{n.ns_flag}"),
        ),
        Step("Check the drain that is blocked.", ("kubectl get nodes -o wide",)),
    ]
    verify = [
        Step(
            "The budget allows a disruption and the drain completes.",
            (f"kubectl get pdb {pdb}{n.ns_flag}",),
        )
    ]
    return checks, verify


def _init_container(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Read the init container's log and status.",
            (
                f"kubectl logs {n.pod}{n.ns_flag} -c {n.container}",
                f"kubectl get pod {n.pod}{n.ns_flag} -o jsonpath='{{.status.initContainerStatuses}}'",
            ),
        ),
        Step(
            "Check what it waits for or fails on (a dependency, a migration, a file).",
            (_describe_pod(n),),
        ),
    ]
    verify = [
        Step(
            "The pods leave Init and become Ready.",
            (f"kubectl get pods{n.ns_flag} -w",),
        )
    ]
    return checks, verify


def _rollout_stuck(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Read the rollout's state, strategy and the new ReplicaSet's events.",
            (
                f"kubectl rollout status {n.ref}{n.ns_flag} --timeout=10s",
                f"kubectl describe {n.ref}{n.ns_flag}",
                f"kubectl get replicasets{n.ns_flag} -o wide",
            ),
        ),
    ]
    verify = [
        Step(
            "Progressing is True again with reason NewReplicaSetAvailable.",
            (f"kubectl get {n.ref}{n.ns_flag} -o jsonpath='{{.status.conditions}}'",),
        )
    ]
    return checks, verify


def _pod_creation(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Read the controller's FailedCreate message: it names what refused the pod.",
            (
                f"kubectl describe {n.ref}{n.ns_flag}",
                f"kubectl get events{n.ns_flag} --field-selector reason=FailedCreate",
            ),
        ),
        Step(
            "Check the ServiceAccount, the admission webhooks and the namespace's PodSecurity label.",
            (
                f"kubectl get serviceaccounts{n.ns_flag}",
                "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations",
                f"kubectl get namespace {n.namespace} --show-labels",
            ),
        ),
    ]
    verify = [
        Step(
            "The controller creates the pods (no new FailedCreate events).",
            (f"kubectl get pods{n.ns_flag} -w",),
        )
    ]
    return checks, verify


def _hpa_misconfigured(n: Names) -> tuple[list[Step], list[Step]]:
    hpa = n.fact("hpa", "<hpa>")
    checks = [
        Step(
            "Read the HPA's conditions: AbleToScale and ScalingActive say why it cannot scale.",
            (f"kubectl describe hpa {hpa}{n.ns_flag}",),
        ),
        Step(
            "Check the scale target and the metrics API.",
            (
                f"kubectl get hpa {hpa}{n.ns_flag} -o jsonpath='{{.spec.scaleTargetRef}}'",
                "kubectl get apiservice v1beta1.metrics.k8s.io",
                f"kubectl top pod{n.ns_flag}",
            ),
        ),
    ]
    verify = [
        Step(
            "AbleToScale and ScalingActive are True and TARGETS shows a value.",
            (f"kubectl get hpa {hpa}{n.ns_flag}",),
        )
    ]
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
    Category.NODE_PRESSURE: _node_pressure,
    Category.VOLUME_FULL: _volume_full,
    Category.DEPENDENCY_DOWN: _dependency,
    Category.CERTIFICATE_EXPIRED: _certificate,
    Category.DNS_FAILURE: _dns,
    Category.CPU_THROTTLING: _throttling,
    Category.DISRUPTION_BLOCKED: _disruption,
    Category.INIT_CONTAINER_FAILURE: _init_container,
    Category.ROLLOUT_STUCK: _rollout_stuck,
    Category.POD_CREATION_FAILED: _pod_creation,
    Category.HPA_MISCONFIGURED: _hpa_misconfigured,
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
