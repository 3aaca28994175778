"""Recipes for the causes around a workload: node pressure, full volumes, dependencies, DNS,
certificates, throttling, disruption budgets, init containers, stuck rollouts, pod creation,
HPA configuration (issue 19).
"""

from kubemedic.domain.runbook.common import (
    Names,
    Step,
    describe_pod,
)


def node_pressure(n: Names) -> tuple[list[Step], list[Step]]:
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


def volume_full(n: Names) -> tuple[list[Step], list[Step]]:
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


def dependency(n: Names) -> tuple[list[Step], list[Step]]:
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


def certificate(n: Names) -> tuple[list[Step], list[Step]]:
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


def dns(n: Names) -> tuple[list[Step], list[Step]]:
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


def throttling(n: Names) -> tuple[list[Step], list[Step]]:
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


def disruption(n: Names) -> tuple[list[Step], list[Step]]:
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


def init_container(n: Names) -> tuple[list[Step], list[Step]]:
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
            (describe_pod(n),),
        ),
    ]
    verify = [
        Step(
            "The pods leave Init and become Ready.",
            (f"kubectl get pods{n.ns_flag} -w",),
        )
    ]
    return checks, verify


def rollout_stuck(n: Names) -> tuple[list[Step], list[Step]]:
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


def pod_creation(n: Names) -> tuple[list[Step], list[Step]]:
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


def hpa_misconfigured(n: Names) -> tuple[list[Step], list[Step]]:
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
