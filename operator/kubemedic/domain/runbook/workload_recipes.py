"""Recipes for what goes wrong with a workload's own pods and rollouts (the first categories)."""

from kubemedic.domain.runbook.common import (
    Names,
    Step,
    container_status,
    describe_pod,
    pod_events,
)


def oom(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Confirm the kernel killed the container for exceeding its memory limit.",
            (container_status(n),),
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


def crash(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "Read why the previous instance exited.",
            (f"kubectl logs {n.pod}{n.ns_flag} -c {n.container} --previous",),
        ),
        Step(
            "Check exit code, restart count and recent events.",
            (container_status(n), describe_pod(n)),
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


def bad_rollout(n: Names) -> tuple[list[Step], list[Step]]:
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
                describe_pod(n),
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


def image_pull(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step("Read the exact pull error.", (describe_pod(n), pod_events(n))),
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


def config(n: Names) -> tuple[list[Step], list[Step]]:
    missing_kind = n.facts.get("missing_kind", "")
    missing = n.fact("missing_name", "<name>")
    if missing_kind == "Secret":
        lookup = f"kubectl get secret {missing}{n.ns_flag} -o jsonpath='{{.data}}'"
    else:
        lookup = f"kubectl get configmap {missing}{n.ns_flag} -o yaml"
    checks = [
        Step("Read what the kubelet cannot find.", (describe_pod(n), pod_events(n))),
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


def probe(n: Names) -> tuple[list[Step], list[Step]]:
    probe = n.facts.get("probe", "readinessProbe")
    checks = [
        Step("Read the probe failures.", (pod_events(n),)),
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


def unschedulable(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step("Read the scheduler's reasons.", (describe_pod(n),)),
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


def node(n: Names) -> tuple[list[Step], list[Step]]:
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


def volume(n: Names) -> tuple[list[Step], list[Step]]:
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
        Step("Read the pod's mount/attach events.", (pod_events(n),)),
    ]
    verify = [
        Step(
            "The claim is Bound and the pod starts.",
            (f"kubectl get pvc{n.ns_flag}", f"kubectl get pods{n.ns_flag}"),
        )
    ]
    return checks, verify


def quota(n: Names) -> tuple[list[Step], list[Step]]:
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


def service(n: Names) -> tuple[list[Step], list[Step]]:
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


def evicted(n: Names) -> tuple[list[Step], list[Step]]:
    checks = [
        Step(
            "List the evicted pods and read why.",
            (
                f"kubectl get pods{n.ns_flag} --field-selector=status.phase=Failed",
                describe_pod(n),
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


def hpa(n: Names) -> tuple[list[Step], list[Step]]:
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


def unknown(n: Names) -> tuple[list[Step], list[Step]]:
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
