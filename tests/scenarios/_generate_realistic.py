"""Generate the realistic scenario corpus: tests/scenarios/realistic/ and tests/scenarios/heldout/.

Run ``.venv/bin/python tests/scenarios/_generate_realistic.py``. The bundles are committed as
plain files; this script keeps them consistent and deterministic (identities derive from
names, see ``_generate.py`` whose object builders it reuses).

Unlike ``_generate.py`` these bundles were NOT written together with the rule engine: each one
is a situation SREs meet, written from the messages kubelet, the scheduler and the controllers
document, in the shape managed clusters return (EKS/GKE/AKS/kubeadm node labels and provider
IDs, ``managedFields``, events.k8s.io/v1 events with ``series``, core/v1 events with
``count``, EndpointSlices with ``endpoints: null``, HPA ``currentMetrics`` with empty types,
Prometheus range-query ``matrix`` data). The expectation in each index is what an SRE would
do first, not what the engine happens to answer; misses are recorded in the index
(``knownMiss``), never fixed by editing the bundle.

Index fields (``realistic/index.yaml``, ``heldout/index.yaml``):

- ``category``, ``firstAction``, ``firstActionParams``: the correct diagnosis;
- ``forbidden``: action types that must not come first (harmful here);
- ``recovered`` / ``overloaded``: the problem is over / is overload, so any first action but
  Escalate (recovered), or DeletePod/RestartRollout (overloaded), is harmful;
- ``needsCategory``: a category planned by issue 19 and not yet in the engine;
- ``knownMiss``: the engine's wrong answer when it was recorded (tests mark it xfail);
- ``knownHarm``: the harmful first action the engine proposed when it was recorded.

A quarter of the scenarios (``held=True``) go to ``heldout/`` and are scored only at the end.
"""

import copy
import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import _generate as g  # noqa: E402  (the sibling generator is a script, not a package)

sys.path.insert(0, str(HERE.parents[1] / "operator"))
from kubemedic.models.diagnosis import Category  # noqa: E402

Obj = dict[str, Any]
ts, hexid, uid, rv, suffix, ip = g.ts, g.hexid, g.uid, g.rv, g.suffix, g.ip
COLLECTED = g.COLLECTED
EPOCH = int(COLLECTED.timestamp())

# -- Cloud providers: node names, labels, provider IDs, versions -------------------------------


@dataclasses.dataclass(frozen=True)
class Provider:
    names: tuple[str, ...]
    labels: dict[str, str]
    provider_id: str  # format string with {name} and {i}
    kubelet: str
    os_image: str
    kernel: str
    runtime: str


EKS = Provider(
    names=(
        "ip-10-0-12-34.ec2.internal",
        "ip-10-0-45-210.ec2.internal",
        "ip-10-0-77-9.ec2.internal",
    ),
    labels={
        "eks.amazonaws.com/nodegroup": "general-ng",
        "eks.amazonaws.com/capacityType": "ON_DEMAND",
        "eks.amazonaws.com/nodegroup-image": "ami-0c7a4976cb6fafd3a",
        "node.kubernetes.io/instance-type": "m5.xlarge",
        "topology.kubernetes.io/region": "us-east-1",
        "topology.ebs.csi.aws.com/zone": "us-east-1a",
        "failure-domain.beta.kubernetes.io/region": "us-east-1",
    },
    provider_id="aws:///us-east-1a/i-0{hex}",
    kubelet="v1.30.8-eks-aeac579",
    os_image="Amazon Linux 2",
    kernel="5.10.230-223.885.amzn2.x86_64",
    runtime="containerd://1.7.23",
)
GKE = Provider(
    names=(
        "gke-prod-default-pool-1a2b3c4d-xk2p",
        "gke-prod-default-pool-1a2b3c4d-9fzq",
        "gke-prod-default-pool-5e6f7a8b-l0ws",
    ),
    labels={
        "cloud.google.com/gke-nodepool": "default-pool",
        "cloud.google.com/gke-os-distribution": "cos",
        "cloud.google.com/gke-boot-disk": "pd-balanced",
        "cloud.google.com/machine-family": "e2",
        "node.kubernetes.io/instance-type": "e2-standard-4",
        "topology.kubernetes.io/region": "europe-west1",
    },
    provider_id="gce://acme-prod/europe-west1-b/{name}",
    kubelet="v1.31.5-gke.1023000",
    os_image="Container-Optimized OS from Google",
    kernel="6.1.112+",
    runtime="containerd://1.7.24",
)
AKS = Provider(
    names=(
        "aks-nodepool1-31415926-vmss000000",
        "aks-nodepool1-31415926-vmss000001",
        "aks-nodepool1-31415926-vmss000002",
    ),
    labels={
        "kubernetes.azure.com/agentpool": "nodepool1",
        "kubernetes.azure.com/cluster": "MC_rg-prod_aks-prod_westeurope",
        "kubernetes.azure.com/mode": "system",
        "kubernetes.azure.com/os-sku": "Ubuntu",
        "node.kubernetes.io/instance-type": "Standard_D4s_v5",
        "topology.kubernetes.io/region": "westeurope",
    },
    provider_id=(
        "azure:///subscriptions/6a1e3c5d-0b2f-4c7e-9d8a-1f2e3d4c5b6a/resourceGroups/"
        "mc_rg-prod_aks-prod_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/"
        "aks-nodepool1-31415926-vmss/virtualMachines/{i}"
    ),
    kubelet="v1.30.6",
    os_image="Ubuntu 22.04.5 LTS",
    kernel="5.15.0-1075-azure",
    runtime="containerd://1.7.25-1",
)
KUBEADM = Provider(
    names=("worker-01", "worker-02", "worker-03"),
    labels={},
    provider_id="",
    kubelet="v1.31.2",
    os_image="Ubuntu 24.04.1 LTS",
    kernel="6.8.0-49-generic",
    runtime="containerd://1.7.22",
)


def use(provider: Provider) -> None:
    """Make the reused builders place pods on this provider's nodes."""
    g.NODES = provider.names


def nodes(provider: Provider, **overrides: dict[str, Any]) -> list[Obj]:
    """The provider's nodes; ``overrides`` maps a node index (as 'n0'..) to node() kwargs."""
    out = []
    for i, name in enumerate(provider.names):
        kwargs = dict(overrides.get(f"n{i}", {}))
        extra_labels = kwargs.pop("labels", {})
        obj = g.node(name, labels={**provider.labels, **extra_labels}, **kwargs)
        if provider is KUBEADM:
            obj["metadata"]["labels"].pop("node.kubernetes.io/instance-type")
            obj["metadata"]["labels"].pop("topology.kubernetes.io/zone")
            obj["metadata"]["annotations"]["kubeadm.alpha.kubernetes.io/cri-socket"] = (
                "unix:///var/run/containerd/containerd.sock"
            )
            del obj["spec"]["providerID"]
        else:
            obj["spec"]["providerID"] = provider.provider_id.format(
                name=name, i=i, hex=hexid(16, name)
            )
        info = obj["status"]["nodeInfo"]
        info.update(
            kubeletVersion=provider.kubelet,
            kubeProxyVersion=provider.kubelet,
            osImage=provider.os_image,
            kernelVersion=provider.kernel,
            containerRuntimeVersion=provider.runtime,
        )
        out.append(obj)
    return out


# -- What real API servers add ----------------------------------------------------------------

STATUS_MANAGERS = {
    "Pod": "kubelet",
    "Node": "kubelet",
    "Deployment": "kube-controller-manager",
    "ReplicaSet": "kube-controller-manager",
    "StatefulSet": "kube-controller-manager",
    "DaemonSet": "kube-controller-manager",
    "HorizontalPodAutoscaler": "kube-controller-manager",
    "PersistentVolumeClaim": "kube-controller-manager",
}
SPEC_MANAGERS = {
    "Pod": "kube-controller-manager",
    "ReplicaSet": "kube-controller-manager",
    "EndpointSlice": "kube-controller-manager",
    "Node": "kubelet",
}


def add_managed_fields(obj: Obj, *, applier: str) -> None:
    """``metadata.managedFields`` as server-side field tracking writes them."""
    kind = obj["kind"]
    if kind == "Event" or "metadata" not in obj:
        return
    created = obj["metadata"].get("creationTimestamp", ts(60))
    entries: list[Obj] = [
        {
            "manager": SPEC_MANAGERS.get(kind, applier),
            "operation": "Apply" if applier == "argocd-controller" else "Update",
            "apiVersion": obj["apiVersion"],
            "time": created,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}}},
                **({"f:spec": {}} if "spec" in obj else {}),
            },
        }
    ]
    if "status" in obj and kind in STATUS_MANAGERS:
        entries.append(
            {
                "manager": STATUS_MANAGERS[kind],
                "operation": "Update",
                "apiVersion": obj["apiVersion"],
                "time": ts(1),
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:status": {"f:conditions": {}}},
                "subresource": "status",
            }
        )
    obj["metadata"]["managedFields"] = entries


def to_events_v1(event: Obj) -> Obj:
    """A core/v1 Event re-read through events.k8s.io/v1 (``note``, ``regarding``, ``series``)."""
    if event.get("apiVersion") != "v1" or event.get("kind") != "Event":
        return event
    first = dt.datetime.strptime(event["firstTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.UTC
    )
    last = dt.datetime.strptime(event["lastTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    out: Obj = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": event["metadata"],
        "eventTime": first.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "reportingController": event.get("reportingComponent") or event["source"]["component"],
        "reportingInstance": event.get("reportingInstance", ""),
        "action": event["reason"],
        "reason": event["reason"],
        "regarding": event["involvedObject"],
        "note": event["message"],
        "type": event["type"],
        "deprecatedSource": event["source"],
        "deprecatedFirstTimestamp": event["firstTimestamp"],
        "deprecatedLastTimestamp": event["lastTimestamp"],
        "deprecatedCount": event["count"],
    }
    if event["count"] > 1:
        out["series"] = {
            "count": event["count"],
            "lastObservedTime": last.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    return out


def inject_istio(objects: list[Obj], *, oom_sidecar: bool = False) -> None:
    """Add what istio's mutating webhook adds to pods (not to their templates)."""
    for pod in objects:
        if pod["kind"] != "Pod":
            continue
        annotations = pod["metadata"].setdefault("annotations", {})
        annotations["sidecar.istio.io/status"] = (
            '{"initContainers":["istio-init"],"containers":["istio-proxy"],'
            '"volumes":["workload-socket","istio-envoy","istio-data","istio-podinfo","istio-token",'
            '"istiod-ca-cert"],"imagePullSecrets":null,"revision":"default"}'
        )
        annotations["kubectl.kubernetes.io/default-container"] = pod["spec"]["containers"][0][
            "name"
        ]
        pod["metadata"]["labels"]["security.istio.io/tlsMode"] = "istio"
        pod["metadata"]["labels"]["service.istio.io/canonical-name"] = pod["metadata"][
            "labels"
        ].get("app.kubernetes.io/name", "app")
        proxy = g.container(
            "istio-proxy",
            "docker.io/istio/proxyv2:1.23.2",
            port=15090,
            mem_limit="1Gi",
            mem_request="128Mi",
            cpu_request="100m",
            cpu_limit="2",
            args=["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        )
        pod["spec"]["containers"].append(proxy)
        pod["spec"]["initContainers"] = [
            g.container(
                "istio-init",
                "docker.io/istio/proxyv2:1.23.2",
                port=None,
                mem_limit="1Gi",
                mem_request="128Mi",
                args=["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337"],
            )
        ]
        name = pod["metadata"]["name"]
        status = pod["status"]
        status["initContainerStatuses"] = [
            {
                "name": "istio-init",
                "image": "docker.io/istio/proxyv2:1.23.2",
                "imageID": f"docker.io/istio/proxyv2@sha256:{hexid(64, 'istio')}",
                "containerID": f"containerd://{hexid(64, name, 'istio-init')}",
                "ready": True,
                "started": False,
                "restartCount": 0,
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": ts(59),
                        "finishedAt": ts(59),
                        "containerID": f"containerd://{hexid(64, name, 'istio-init')}",
                    }
                },
                "lastState": {},
            }
        ]
        proxy_status: Obj = {
            "name": "istio-proxy",
            "image": "docker.io/istio/proxyv2:1.23.2",
            "imageID": f"docker.io/istio/proxyv2@sha256:{hexid(64, 'istio')}",
            "containerID": f"containerd://{hexid(64, name, 'istio-proxy')}",
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": ts(58)}},
            "lastState": {},
        }
        if oom_sidecar:
            proxy_status |= {
                "ready": False,
                "started": False,
                "restartCount": 6,
                "state": {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 2m40s restarting failed container=istio-proxy "
                        f"pod={g._pod_ref(pod)}",
                    }
                },
                "lastState": g.terminated(
                    "OOMKilled", 137, started=5, finished=3, cid=hexid(64, name, "proxy-5")
                ),
            }
        status.setdefault("containerStatuses", []).append(proxy_status)


# -- Pod states the base generator lacks --------------------------------------------------------


def recovered(*, restarts: int, exit_code: int, reason: str, finished_ago: float) -> g.PodState:
    """Ready now; the last crash was ``finished_ago`` minutes ago (old restartCount)."""

    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = spec["containers"][0]
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": g._image_id(c["image"]),
                "containerID": f"containerd://{g._cid(pod, c['name'], n=restarts)}",
                "ready": True,
                "started": True,
                "restartCount": restarts,
                "state": {"running": {"startedAt": ts(finished_ago - 0.5)}},
                "lastState": g.terminated(
                    reason,
                    exit_code,
                    started=finished_ago + 2,
                    finished=finished_ago,
                    cid=g._cid(pod, c["name"], n=restarts - 1),
                ),
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = pod["spec"]["containers"][0]
        return g._kubelet_events(
            pod,
            [
                (
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {c['name']} in pod {g._pod_ref(pod)}",
                    restarts * 4,
                    finished_ago + 40,
                    finished_ago,
                )
            ],
            container=c["name"],
        )

    return g.PodState(statuses=statuses, events=events)


def probe_kill(kind: str, message: str, *, restarts: int = 5, exit_code: int = 137) -> g.PodState:
    """Killed by its liveness or startup probe (exit 137 or 143, reason Error, not OOMKilled)."""
    state = g.liveness_restarts(message, restarts=restarts, exit_code=exit_code)
    if kind == "Liveness":
        return state
    base_events = state.events

    def events(pod: Obj) -> list[Obj]:
        out = base_events(pod) if base_events else []
        for ev in out:
            ev["message"] = (
                ev["message"]
                .replace("Liveness", "Startup")
                .replace("failed liveness probe", "failed startup probe")
            )
        return out

    state.events = events
    return state


def running_with_events(items: list[tuple[str, str, str, int, float, float]]) -> g.PodState:
    """Running and Ready, with some kubelet events (e.g. throttling, warnings that do not stop it)."""
    state = g.healthy(age=300)
    state.events = lambda pod: g._kubelet_events(
        pod, items, container=pod["spec"]["containers"][0]["name"]
    )
    return state


def init_stuck(*, crash: bool, message: str = "") -> g.PodState:
    """An init container that crash-loops (``crash``) or runs forever waiting for something."""

    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "PodInitializing"}},
                "lastState": {},
            }
            for c in spec["containers"]
        ]

    state = g.PodState(
        phase="Pending", ready=False, statuses=statuses, started=True, ready_reason=None
    )
    state.extra_conditions = []
    init_marker = {"crash": crash}

    def events(pod: Obj) -> list[Obj]:
        if not pod["spec"].get("initContainers"):
            return []  # the template's init containers are added after the pods are built
        init = pod["spec"]["initContainers"][0]
        pod["status"]["initContainerStatuses"] = [
            {
                "name": init["name"],
                "image": init["image"],
                "imageID": g._image_id(init["image"]),
                "containerID": f"containerd://{g._cid(pod, init['name'])}",
                "ready": False,
                "started": not init_marker["crash"],
                "restartCount": 11 if init_marker["crash"] else 0,
                "state": (
                    {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off 5m0s restarting failed container="
                            f"{init['name']} pod={g._pod_ref(pod)}",
                        }
                    }
                    if init_marker["crash"]
                    else {"running": {"startedAt": ts(47)}}
                ),
                "lastState": g.terminated(
                    "Error", 1, started=6, finished=5.9, cid=g._cid(pod, init["name"], n=10)
                )
                if init_marker["crash"]
                else {},
            }
        ]
        for cond in pod["status"]["conditions"]:
            if cond["type"] == "Initialized":
                cond |= {
                    "status": "False",
                    "reason": "ContainersNotInitialized",
                    "message": f"containers with incomplete status: [{init['name']}]",
                }
        if not init_marker["crash"]:
            return []
        return g._kubelet_events(
            pod,
            [
                (
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {init['name']} in pod {g._pod_ref(pod)}",
                    52,
                    48,
                    0.4,
                )
            ],
            container=init["name"],
        )

    state.events = events
    return state


# -- Prometheus data ----------------------------------------------------------------------------


def matrix(query: str, series: list[tuple[dict[str, str], list[float]]], *, step: int = 300) -> Obj:
    """A range-query result: one value per ``step`` seconds, the last at collection time."""
    result = []
    for labels, values in series:
        n = len(values)
        result.append(
            {
                "metric": labels,
                "values": [[EPOCH - (n - 1 - i) * step, _fmt(v)] for i, v in enumerate(values)],
            }
        )
    return {"query": query, "data": {"resultType": "matrix", "result": result}}


def vector(query: str, series: list[tuple[dict[str, str], float]]) -> Obj:
    return {
        "query": query,
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [EPOCH, _fmt(v)]} for m, v in series],
        },
    }


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def pod_labels(pod: Obj, container: str = "app") -> dict[str, str]:
    return {
        "namespace": pod["metadata"]["namespace"],
        "pod": pod["metadata"]["name"],
        "container": container,
    }


MI = 1024 * 1024

# -- Scenario bookkeeping ----------------------------------------------------------------------


@dataclasses.dataclass
class S:
    file: str
    description: str
    category: str
    action: str
    target: tuple[str, str | None, str]
    objects: list[Obj]
    params: dict[str, Any] | None = None
    alerts: list[Obj] = dataclasses.field(default_factory=list)
    logs: list[Obj] = dataclasses.field(default_factory=list)
    metrics: list[Obj] = dataclasses.field(default_factory=list)
    forbidden: list[str] = dataclasses.field(default_factory=list)
    recovered: bool = False
    overloaded: bool = False
    needs: str | None = None
    held: bool = False
    events_v1: bool = False
    applier: str = "kubectl-client-side-apply"


ALL: list[S] = []


def add(s: S) -> None:
    ALL.append(s)


def alert(name: str, ns: str, summary: str, *, resolved: bool = False, **labels: str) -> Obj:
    out = g.alert(name, ns, summary=summary, **labels)
    if resolved:
        out["status"] = "resolved"
        out["endsAt"] = ts(55)
    return out


Rev = g.Rev
wc = g.web_container
pods_of = g.pods_of
log = g.log


def one_rev(
    ns: str,
    name: str,
    pods: list[g.PodState],
    *,
    number: int = 3,
    age: float = 60 * 24 * 3,
    **container_kw: Any,
) -> list[Obj]:
    """A single-revision Deployment."""
    cname = container_kw.pop("name", "app")
    tag = container_kw.pop("tag", "1.0.0")
    labels = container_kw.pop("labels", None)
    return g.deployment(
        ns,
        name,
        revs=[Rev(number, [wc(f"{ns}/{name}", tag, name=cname, **container_kw)], pods, age=age)],
        replicas=len(pods),
        labels=labels,
    )


def crash_alert(ns: str, pod: str, *, resolved: bool = False) -> Obj:
    return alert(
        "KubePodCrashLooping",
        ns,
        f"Pod {ns}/{pod} is crash looping.",
        resolved=resolved,
        pod=pod,
        container="app",
    )


# -- OOM and memory -----------------------------------------------------------------------------


def build_memory() -> None:
    use(EKS)
    objs = one_rev(
        "payments",
        "ledger",
        [g.oom(restarts=6), g.oom(restarts=5, waiting=False)],
        mem_limit="256Mi",
        mem_request="256Mi",
        tag="4.2.0",
    )
    pods = pods_of(objs)
    add(
        S(
            "eks-oom-working-set-at-limit.yaml",
            "EKS 1.30: ledger pods OOMKilled; a range query shows the working set climbing to the "
            "256Mi limit before each kill.",
            "OOMKilled",
            "SetResources",
            ("Deployment", "payments", "ledger"),
            objs + nodes(EKS),
            params={"container": "app"},
            alerts=[crash_alert("payments", pods[0]["metadata"]["name"])],
            metrics=[
                matrix(
                    'container_memory_working_set_bytes{namespace="payments",pod=~"ledger-.*",container="app"}',
                    [
                        (
                            pod_labels(p),
                            [180 * MI, 201 * MI, 222 * MI, 240 * MI, 251 * MI, 255 * MI],
                        )
                        for p in pods
                    ],
                )
            ],
            forbidden=["DeletePod", "RestartRollout"],
        )
    )

    use(GKE)
    objs = one_rev(
        "orders",
        "orders-api",
        [g.oom(restarts=3), g.oom(restarts=4)],
        mem_limit="512Mi",
        mem_request="256Mi",
        tag="2.14.1",
    )
    inject_istio(objs)
    pods = pods_of(objs)
    add(
        S(
            "gke-oom-app-with-istio-sidecar.yaml",
            "GKE 1.31: the app container OOMs in pods that also carry an injected istio-proxy; "
            "the fix is for the app container, which the template has.",
            "OOMKilled",
            "SetResources",
            ("Deployment", "orders", "orders-api"),
            objs + nodes(GKE),
            params={"container": "app"},
            events_v1=True,
            alerts=[crash_alert("orders", pods[0]["metadata"]["name"])],
        )
    )

    use(GKE)
    objs = one_rev("orders", "basket", [g.healthy(), g.healthy()], tag="5.0.3")
    inject_istio(objs, oom_sidecar=True)
    for p in pods_of(objs):
        p["status"]["conditions"] = [
            c
            | (
                {
                    "status": "False",
                    "reason": "ContainersNotReady",
                    "message": "containers with unready status: [istio-proxy]",
                }
                if c["type"] in {"Ready", "ContainersReady"}
                else {}
            )
            for c in p["status"]["conditions"]
        ]
    pods = pods_of(objs)
    add(
        S(
            "gke-oom-injected-sidecar-only.yaml",
            "The injected istio-proxy (not in the Deployment template) is OOMKilled; SetResources "
            "cannot change it: escalate naming the injector.",
            "OOMKilled",
            "Escalate",
            ("Deployment", "orders", "basket"),
            objs + nodes(GKE),
            alerts=[
                alert(
                    "KubePodCrashLooping",
                    "orders",
                    f"Pod orders/{pods[0]['metadata']['name']} (istio-proxy) is crash looping.",
                    pod=pods[0]["metadata"]["name"],
                    container="istio-proxy",
                )
            ],
            forbidden=["SetResources", "RestartRollout"],
            held=True,
        )
    )

    use(AKS)
    objs = one_rev(
        "ml",
        "inference",
        [g.healthy(), g.healthy()],
        tag="0.9.2",
        mem_limit="2Gi",
        mem_request="1Gi",
        port=8000,
    )
    pods = pods_of(objs)
    gunicorn = (
        "[2025-03-14 10:21:07 +0000] [1] [INFO] Booting worker with pid: 57\n"
        "[2025-03-14 10:24:40 +0000] [1] [ERROR] Worker (pid:57) was sent SIGKILL! Perhaps out of memory?\n"
        "[2025-03-14 10:24:40 +0000] [63] [INFO] Booting worker with pid: 63\n"
        "[2025-03-14 10:28:02 +0000] [1] [ERROR] Worker (pid:63) was sent SIGKILL! Perhaps out of memory?\n"
        "[2025-03-14 10:28:02 +0000] [71] [INFO] Booting worker with pid: 71\n"
    )
    add(
        S(
            "aks-oom-worker-killed-no-restart.yaml",
            "AKS: gunicorn workers are OOM-killed inside the container (container_oom_events_total "
            "rises, 'was sent SIGKILL! Perhaps out of memory?') but the container never restarts.",
            "OOMKilled",
            "SetResources",
            ("Deployment", "ml", "inference"),
            objs + nodes(AKS),
            params={"container": "app"},
            logs=[log(p, gunicorn, previous=False) for p in pods],
            metrics=[
                matrix(
                    'increase(container_oom_events_total{namespace="ml",pod=~"inference-.*",container="app"}[5m])',
                    [(pod_labels(p), [0, 0, 1, 1, 2, 1]) for p in pods],
                ),
                vector(
                    'max_over_time(container_memory_working_set_bytes{namespace="ml",pod=~"inference-.*",container="app"}[1h])',
                    [(pod_labels(p), 2040 * MI) for p in pods],
                ),
            ],
            forbidden=["DeletePod", "RestartRollout"],
        )
    )

    use(KUBEADM)
    objs = g.statefulset(
        "data",
        "redis",
        containers=[
            g.container(
                "redis",
                "docker.io/library/redis:7.4.1",
                port=6379,
                mem_limit="1Gi",
                mem_request="1Gi",
            )
        ],
        pods=[g.oom(restarts=9), g.healthy(), g.healthy()],
    )
    pods = pods_of(objs)
    add(
        S(
            "kubeadm-oom-statefulset-redis.yaml",
            "kubeadm 1.31: the redis primary is OOMKilled at its 1Gi limit while replicas are fine.",
            "OOMKilled",
            "SetResources",
            ("StatefulSet", "data", "redis"),
            objs + nodes(KUBEADM),
            params={"container": "redis"},
            logs=[
                log(
                    pods[0],
                    "1:M 14 Mar 2025 10:25:13.004 * Background saving started by pid 88\n"
                    "1:M 14 Mar 2025 10:25:13.120 # Can't save in background: fork: Cannot allocate memory\n",
                    container="redis",
                )
            ],
            metrics=[
                vector(
                    'max_over_time(container_memory_working_set_bytes{namespace="data",pod="redis-0",container="redis"}[1h])',
                    [(pod_labels(pods[0], "redis"), 1073 * MI)],
                )
            ],
            held=True,
        )
    )

    use(EKS)
    objs = g.deployment(
        "search",
        "indexer",
        revs=[
            Rev(
                7,
                [wc("search/indexer", "3.3.0", mem_limit="1Gi", mem_request="512Mi")],
                [],
                age=60 * 24 * 5,
                replicas=0,
            ),
            Rev(
                8,
                [wc("search/indexer", "3.4.0", mem_limit="1Gi", mem_request="512Mi")],
                [g.oom(restarts=2), g.oom(restarts=2, waiting=False)],
                age=90,
            ),
        ],
        replicas=2,
    )
    pods = pods_of(objs)
    add(
        S(
            "eks-leak-new-revision.yaml",
            "A leak that came with revision 8: revision 7 was flat at 400Mi for days, revision 8 "
            "climbs to the 1Gi limit within an hour and is OOMKilled: roll back, not a bigger limit.",
            "BadRollout",
            "RollbackRollout",
            ("Deployment", "search", "indexer"),
            objs + nodes(EKS),
            params={"toRevision": 7},
            metrics=[
                matrix(
                    'sum by (pod) (container_memory_working_set_bytes{namespace="search",pod=~"indexer-.*",container="app"})',
                    [({"pod": "indexer-old-rev7"}, [400 * MI] * 6)]
                    + [
                        (
                            {"pod": p["metadata"]["name"]},
                            [310 * MI, 520 * MI, 700 * MI, 880 * MI, 1010 * MI, 1020 * MI],
                        )
                        for p in pods
                    ],
                    step=600,
                )
            ],
            forbidden=["SetResources"],
        )
    )

    use(AKS)
    objs = one_rev(
        "shop", "thumbnails", [g.oom(restarts=3)], mem_limit=None, mem_request="256Mi", tag="1.8.0"
    )
    add(
        S(
            "aks-oom-no-limit-node-pressure.yaml",
            "A container without a memory limit is OOM-killed by the kernel when the node runs "
            "short: no limit to raise, a human sizes it.",
            "OOMKilled",
            "Escalate",
            ("Deployment", "shop", "thumbnails"),
            objs + nodes(AKS),
            forbidden=["DeletePod"],
        )
    )


# -- Crash loops, probes, init containers ----------------------------------------------------------


def build_crashes() -> None:
    use(EKS)
    objs = one_rev(
        "billing",
        "invoicer",
        [
            recovered(restarts=14, exit_code=1, reason="Error", finished_ago=75),
            recovered(restarts=12, exit_code=1, reason="Error", finished_ago=78),
        ],
        tag="2.0.1",
    )
    pods = pods_of(objs)
    add(
        S(
            "eks-crashloop-recovered-hour-ago.yaml",
            "Crash-looped 75 minutes ago (restartCount 14), Ready since, alert resolved, no restart "
            "in the last hour: recovered, no action.",
            "CrashLoop",
            "Escalate",
            ("Deployment", "billing", "invoicer"),
            objs + nodes(EKS),
            alerts=[crash_alert("billing", pods[0]["metadata"]["name"], resolved=True)],
            metrics=[
                matrix(
                    'increase(kube_pod_container_status_restarts_total{namespace="billing",pod=~"invoicer-.*"}[15m])',
                    [(pod_labels(p), [3, 2, 0, 0, 0, 0]) for p in pods],
                    step=900,
                )
            ],
            recovered=True,
            forbidden=["RestartRollout", "DeletePod", "RollbackRollout"],
        )
    )

    use(GKE)
    objs = one_rev(
        "media",
        "transcoder",
        [recovered(restarts=4, exit_code=137, reason="OOMKilled", finished_ago=180)],
        tag="1.1.0",
        mem_limit="2Gi",
        mem_request="1Gi",
    )
    pods = pods_of(objs)
    add(
        S(
            "gke-oom-recovered-three-hours-ago.yaml",
            "OOMKilled three hours ago during a batch spike; Ready and flat since: recovered.",
            "OOMKilled",
            "Escalate",
            ("Deployment", "media", "transcoder"),
            objs + nodes(GKE),
            metrics=[
                matrix(
                    'container_memory_working_set_bytes{namespace="media",pod=~"transcoder-.*",container="app"}',
                    [
                        (
                            pod_labels(pods[0]),
                            [900 * MI, 880 * MI, 910 * MI, 905 * MI, 890 * MI, 900 * MI],
                        )
                    ],
                )
            ],
            recovered=True,
            events_v1=True,
            held=True,
        )
    )

    use(KUBEADM)
    objs = one_rev(
        "auth",
        "keycloak",
        [
            probe_kill(
                "Liveness",
                'Get "http://10.244.3.17:8080/health/live": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            ),
            probe_kill(
                "Liveness",
                'Get "http://10.244.1.9:8080/health/live": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            ),
        ],
        tag="26.0.5",
        mem_limit="1Gi",
        mem_request="1Gi",
        liveness=g.http_probe("/health/live", timeout=1, period=10, failure=3),
    )
    add(
        S(
            "kubeadm-liveness-kill-exit-137.yaml",
            "Look-alike of OOM: exit 137 with reason Error (not OOMKilled) after 'failed liveness "
            "probe, will be restarted': the probe kills a slow JVM.",
            "ProbeFailure",
            "Escalate",
            ("Deployment", "auth", "keycloak"),
            objs + nodes(KUBEADM),
            forbidden=["SetResources"],
        )
    )

    use(AKS)
    objs = one_rev(
        "erp",
        "legacy-java",
        [
            probe_kill(
                "Startup", "HTTP probe failed with statuscode: 503", restarts=8, exit_code=143
            ),
            probe_kill(
                "Startup", "HTTP probe failed with statuscode: 503", restarts=7, exit_code=143
            ),
        ],
        tag="11.4",
        mem_limit="3Gi",
        mem_request="2Gi",
    )
    add(
        S(
            "aks-startup-probe-kills-slow-start.yaml",
            "A startup probe allows 30s but the app needs 90s to warm its caches: 'failed startup "
            "probe, will be restarted', exit 143.",
            "ProbeFailure",
            "Escalate",
            ("Deployment", "erp", "legacy-java"),
            objs + nodes(AKS),
            logs=[
                log(
                    pods_of(objs)[0],
                    "INFO  Loading 1843211 catalog entries into cache...\nINFO  Cache warm 41%\n",
                )
            ],
            forbidden=["SetResources", "DeletePod"],
            held=True,
        )
    )

    use(EKS)
    objs = one_rev(
        "shop",
        "recommender",
        [g.crashloop(exit_code=1, restarts=9), g.crashloop(exit_code=1, restarts=8)],
        tag="7.2.0",
    )
    pods = pods_of(objs)
    py = (
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 12, in <module>\n'
        "    from recommender.model import load\n"
        '  File "/app/recommender/model.py", line 4, in <module>\n'
        "    import numpy as np\n"
        "ModuleNotFoundError: No module named 'numpy'\n"
    )
    add(
        S(
            "eks-crashloop-python-import-error.yaml",
            "A Python service crashes on import (exit 1) on every pod; one revision: a code bug.",
            "CrashLoop",
            "Escalate",
            ("Deployment", "shop", "recommender"),
            objs + nodes(EKS),
            logs=[log(p, py) for p in pods],
            alerts=[crash_alert("shop", pods[0]["metadata"]["name"])],
        )
    )

    use(GKE)
    objs = g.daemonset(
        "kube-system",
        "node-exporter",
        containers=[
            g.container(
                "node-exporter",
                "quay.io/prometheus/node-exporter:v1.8.2",
                port=9100,
                mem_limit="180Mi",
                mem_request="180Mi",
            )
        ],
        pods=[g.crashloop(exit_code=1, restarts=20), g.healthy(), g.healthy()],
    )
    pods = pods_of(objs)
    add(
        S(
            "gke-daemonset-port-in-use.yaml",
            "node-exporter crash-loops on one node: 'listen tcp :9100: bind: address already in use'.",
            "CrashLoop",
            "Escalate",
            ("DaemonSet", "kube-system", "node-exporter"),
            objs + nodes(GKE),
            logs=[
                log(
                    pods[0],
                    'ts=2025-03-14T10:26:00.112Z caller=node_exporter.go:223 level=error err="listen tcp :9100: bind: address already in use"\n',
                    container="node-exporter",
                )
            ],
            events_v1=True,
        )
    )

    use(KUBEADM)
    tmpl_init = [
        g.container(
            "migrate",
            "registry.example.com/crm/api:5.1.0",
            port=None,
            command=["/app/migrate", "up"],
            mem_limit="256Mi",
        )
    ]
    objs = one_rev("crm", "crm-api", [init_stuck(crash=True), init_stuck(crash=True)], tag="5.1.0")
    for o in objs:
        if o["kind"] in {"Deployment", "ReplicaSet"}:
            o["spec"]["template"]["spec"]["initContainers"] = copy.deepcopy(tmpl_init)
    objs = _rebuild_pod_events(objs, tmpl_init, crash=True)
    pods = pods_of(objs)
    add(
        S(
            "kubeadm-init-container-crashloop.yaml",
            "The migrate init container exits 1 on every try (Init:CrashLoopBackOff): a schema "
            "migration fails; the app container never starts.",
            "InitContainerFailure",
            "Escalate",
            ("Deployment", "crm", "crm-api"),
            objs + nodes(KUBEADM),
            logs=[
                log(
                    p,
                    'error: migration 0042_add_index failed: pq: relation "contacts_email_idx" already exists\n',
                    container="migrate",
                )
                for p in pods
            ],
            forbidden=["RestartRollout", "DeletePod"],
        )
    )

    use(EKS)
    wait_init = [
        g.container(
            "wait-for-db",
            "docker.io/library/busybox:1.36",
            port=None,
            command=[
                "sh",
                "-c",
                "until nc -z postgres.crm.svc 5432; do echo waiting for postgres; sleep 2; done",
            ],
            mem_limit="32Mi",
            mem_request="16Mi",
            cpu_request="10m",
        )
    ]
    objs = one_rev(
        "crm", "crm-worker", [init_stuck(crash=False), init_stuck(crash=False)], tag="5.1.0"
    )
    for o in objs:
        if o["kind"] in {"Deployment", "ReplicaSet"}:
            o["spec"]["template"]["spec"]["initContainers"] = copy.deepcopy(wait_init)
    objs = _rebuild_pod_events(objs, wait_init, crash=False)
    pg = g.service(
        "crm",
        "postgres",
        selector={"app.kubernetes.io/name": "postgres"},
        port=5432,
        target_port=5432,
    )
    pods = pods_of(objs)
    add(
        S(
            "eks-init-waits-for-missing-db.yaml",
            "Pods stuck in Init:0/1: the wait-for-db init container loops 'waiting for postgres' "
            "and the postgres Service has no endpoints (the StatefulSet was scaled to zero).",
            "DependencyDown",
            "Escalate",
            ("Deployment", "crm", "crm-worker"),
            [*objs, pg, g.endpointslice(pg, [], port=5432), *nodes(EKS)],
            logs=[
                log(p, "waiting for postgres\n" * 40, container="wait-for-db", previous=False)
                for p in pods
            ],
            needs="DependencyDown",
            forbidden=["RestartRollout", "DeletePod"],
            held=True,
        )
    )

    use(AKS)
    objs = one_rev(
        "shop",
        "cart",
        [g.crashloop(exit_code=1, restarts=15), g.crashloop(exit_code=1, restarts=14)],
        tag="3.3.0",
    )
    redis = g.service(
        "shop", "redis", selector={"app.kubernetes.io/name": "redis"}, port=6379, target_port=6379
    )
    pods = pods_of(objs)
    add(
        S(
            "aks-dependency-redis-down.yaml",
            "cart exits with 'dial tcp 10.96.4.20:6379: connect: connection refused'; the redis "
            "Service it calls has an EndpointSlice with endpoints: null. Restarting cart fixes nothing.",
            "DependencyDown",
            "Escalate",
            ("Deployment", "shop", "cart"),
            [*objs, redis, g.endpointslice(redis, [], port=6379), *nodes(AKS)],
            logs=[
                log(
                    p,
                    '{"level":"info","msg":"starting cart","version":"3.3.0"}\n'
                    '{"level":"fatal","msg":"cannot connect to redis","error":"dial tcp 10.96.4.20:6379: connect: connection refused","addr":"redis.shop.svc.cluster.local:6379"}\n',
                )
                for p in pods
            ],
            needs="DependencyDown",
            forbidden=["RestartRollout", "DeletePod", "RollbackRollout"],
        )
    )

    use(GKE)
    objs = one_rev("api", "gateway", [g.crashloop(exit_code=1, restarts=6)], tag="2.2.0")
    pods = pods_of(objs)
    add(
        S(
            "gke-certificate-expired-upstream.yaml",
            "The gateway exits because its client certificate expired: 'x509: certificate has "
            "expired or is not yet valid: current time 2025-03-14T10:26:11Z is after 2025-03-14T00:00:00Z'.",
            "CertificateExpired",
            "Escalate",
            ("Deployment", "api", "gateway"),
            objs + nodes(GKE),
            logs=[
                log(
                    pods[0],
                    "2025-03-14T10:26:11Z INFO starting gateway\n"
                    "2025-03-14T10:26:11Z FATAL tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2025-03-14T10:26:11Z is after 2025-03-14T00:00:00Z\n",
                )
            ],
            needs="CertificateExpired",
            forbidden=["RestartRollout", "RollbackRollout"],
            events_v1=True,
        )
    )

    use(EKS)
    objs = one_rev(
        "platform",
        "webhook-receiver",
        [
            g.not_ready('Get "https://10.0.12.8:8443/readyz": remote error: tls: bad certificate'),
            g.not_ready('Get "https://10.0.45.7:8443/readyz": remote error: tls: bad certificate'),
        ],
        tag="0.4.0",
    )
    pods = pods_of(objs)
    add(
        S(
            "eks-certificate-secret-expired-tls.yaml",
            "cert-manager failed to renew; the serving certificate in the mounted Secret expired "
            "and the app logs 'x509: certificate has expired'.",
            "CertificateExpired",
            "Escalate",
            ("Deployment", "platform", "webhook-receiver"),
            objs + nodes(EKS),
            logs=[
                log(
                    p,
                    'level=error msg="http: TLS handshake error from 10.0.45.210:40112: remote error: tls: bad certificate"\n'
                    'level=error msg="serving certificate invalid" err="x509: certificate has expired or is not yet valid: current time 2025-03-14T10:29:00Z is after 2025-03-13T18:00:00Z"\n',
                    previous=False,
                )
                for p in pods
            ],
            needs="CertificateExpired",
            forbidden=["DeletePod", "RestartRollout"],
            held=True,
        )
    )


def _rebuild_pod_events(objs: list[Obj], init: list[Obj], *, crash: bool) -> list[Obj]:
    """Give pods the template's init containers, then write their init status and events."""
    rebuilt = []
    for o in objs:
        if o["kind"] == "Event" and o["involvedObject"].get("kind") == "Pod":
            continue
        rebuilt.append(o)
        if o["kind"] == "Pod":
            o["spec"]["initContainers"] = copy.deepcopy(init)
            events = init_stuck(crash=crash).events
            rebuilt.extend(events(o) if events else [])
    return rebuilt


# -- Rollouts -----------------------------------------------------------------------------------


def build_rollouts() -> None:
    use(GKE)
    objs = g.deployment(
        "shop",
        "frontend",
        revs=[
            Rev(
                11,
                [wc("shop/frontend", "4.0.0")],
                [g.healthy(), g.healthy(), g.healthy()],
                age=60 * 24 * 6,
            ),
            Rev(12, [wc("shop/frontend", "4.1.0")], [g.crashloop(exit_code=1, restarts=5)], age=25),
        ],
        replicas=3,
        progress="progressing",
    )
    pods = pods_of(objs)
    add(
        S(
            "gke-rollout-new-revision-crashes.yaml",
            "Revision 12 crashes ('Error: Cannot find module '/app/dist/server.js'') while revision 11 "
            "still serves 3 Ready pods.",
            "BadRollout",
            "RollbackRollout",
            ("Deployment", "shop", "frontend"),
            objs + nodes(GKE),
            params={"toRevision": 11},
            events_v1=True,
            logs=[
                log(
                    pods[-1],
                    "node:internal/modules/cjs/loader:1228\n  throw err;\n  ^\n\nError: Cannot find module '/app/dist/server.js'\n",
                )
            ],
        )
    )

    use(EKS)
    objs = g.deployment(
        "shop",
        "pricing",
        revs=[
            Rev(4, [wc("shop/pricing", "1.9.0")], [g.healthy(), g.healthy()], age=60 * 24 * 9),
            Rev(
                5,
                [
                    wc(
                        "shop/pricing",
                        "1.10.0",
                        env=[
                            {
                                "name": "DB_PASSWORD",
                                "valueFrom": {
                                    "secretKeyRef": {"name": "pricing-db", "key": "password"}
                                },
                            }
                        ],
                    )
                ],
                [g.config_error('secret "pricing-db" not found')],
                age=15,
            ),
        ],
        replicas=2,
        progress="progressing",
    )
    add(
        S(
            "eks-rollout-new-secret-missing.yaml",
            "Revision 5 references a Secret that was never created (CreateContainerConfigError); "
            "revision 4 serves: roll back.",
            "BadRollout",
            "RollbackRollout",
            ("Deployment", "shop", "pricing"),
            objs + nodes(EKS),
            params={"toRevision": 4},
        )
    )

    use(AKS)
    objs = g.deployment(
        "analytics",
        "etl",
        revs=[
            Rev(
                2,
                [
                    wc(
                        "analytics/etl",
                        "2.0.0",
                        cpu_request="500m",
                        mem_request="1Gi",
                        mem_limit="2Gi",
                    )
                ],
                [g.healthy(), g.healthy()],
                age=60 * 24 * 12,
            ),
            Rev(
                3,
                [
                    wc(
                        "analytics/etl",
                        "2.0.0",
                        cpu_request="32",
                        mem_request="1Gi",
                        mem_limit="2Gi",
                    )
                ],
                [
                    g.unschedulable(
                        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
                    )
                ],
                age=20,
            ),
        ],
        replicas=2,
        progress="progressing",
    )
    add(
        S(
            "aks-rollout-impossible-cpu-request.yaml",
            "Revision 3's only change is cpu request 500m -> 32 (a typo for 32 hundred-millicores?); "
            "no node has 32 CPUs: roll back, do not add nodes.",
            "BadRollout",
            "RollbackRollout",
            ("Deployment", "analytics", "etl"),
            objs + nodes(AKS),
            params={"toRevision": 2},
            forbidden=["ScaleWorkload"],
        )
    )

    use(KUBEADM)
    objs = g.deployment(
        "web",
        "portal",
        revs=[
            Rev(6, [wc("web/portal", "6.2.0")], [g.healthy(), g.healthy()], age=60 * 24 * 3),
            Rev(
                7,
                [wc("web/portal", "6.3.0")],
                [
                    g.image_pull(
                        'rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/web/portal:6.3.0": failed to resolve reference "registry.example.com/web/portal:6.3.0": registry.example.com/web/portal:6.3.0: not found'
                    )
                ],
                age=12,
            ),
        ],
        replicas=2,
        progress="progressing",
    )
    add(
        S(
            "kubeadm-rollout-tag-not-pushed.yaml",
            "Revision 7's tag was never pushed (ImagePullBackOff, 'not found'); revision 6 serves.",
            "BadRollout",
            "RollbackRollout",
            ("Deployment", "web", "portal"),
            objs + nodes(KUBEADM),
            params={"toRevision": 6},
            held=True,
        )
    )

    use(GKE)
    objs = g.deployment(
        "shop",
        "catalog",
        revs=[
            Rev(8, [wc("shop/catalog", "8.0.0")], [g.healthy(), g.healthy()], age=60 * 24 * 4),
            Rev(
                9,
                [wc("shop/catalog", "8.1.0")],
                [g.not_ready("HTTP probe failed with statuscode: 503", count=70)],
                age=14,
            ),
        ],
        replicas=2,
        progress="deadline",
    )
    add(
        S(
            "gke-progress-deadline-exceeded.yaml",
            "Deployment Progressing=False (ProgressDeadlineExceeded): revision 9's pod runs but "
            "never becomes Ready; revision 8 serves.",
            "BadRollout",
            "RollbackRollout",
            ("Deployment", "shop", "catalog"),
            objs + nodes(GKE),
            params={"toRevision": 8},
            events_v1=True,
        )
    )

    use(EKS)
    objs = g.deployment(
        "shop",
        "search",
        revs=[
            Rev(
                3,
                [wc("shop/search", "3.0.0", mem_limit="1Gi", mem_request="512Mi")],
                [g.healthy(), g.healthy()],
                age=60 * 24 * 8,
            ),
            Rev(
                4,
                [wc("shop/search", "3.0.0", mem_limit="128Mi", mem_request="128Mi")],
                [g.oom(restarts=4)],
                age=30,
            ),
        ],
        replicas=2,
        progress="progressing",
    )
    add(
        S(
            "eks-rollout-limit-lowered-ooms.yaml",
            "A values change cut the memory limit 1Gi -> 128Mi in revision 4, which OOMs at once; "
            "revision 3 is healthy: roll back.",
            "BadRollout",
            "RollbackRollout",
            ("Deployment", "shop", "search"),
            objs + nodes(EKS),
            params={"toRevision": 3},
        )
    )


# -- Images and configuration -------------------------------------------------------------------


def build_images_config() -> None:
    use(EKS)
    objs = one_rev(
        "shop",
        "mailer",
        [
            g.image_pull(
                'failed to pull and unpack image "123456789012.dkr.ecr.us-east-1.amazonaws.com/mailer:2.0.0": '
                'failed to resolve reference "123456789012.dkr.ecr.us-east-1.amazonaws.com/mailer:2.0.0": '
                "pull access denied, repository does not exist or may require authorization: "
                "authorization failed: no basic auth credentials"
            )
        ],
        tag="2.0.0",
    )
    add(
        S(
            "eks-ecr-no-basic-auth.yaml",
            "ECR pull fails with 'no basic auth credentials' (node role lacks ECR read).",
            "ImagePullError",
            "Escalate",
            ("Deployment", "shop", "mailer"),
            objs + nodes(EKS),
        )
    )

    use(GKE)
    objs = one_rev(
        "data",
        "loader",
        [
            g.image_pull(
                "rpc error: code = Unknown desc = failed to pull and unpack image "
                '"europe-docker.pkg.dev/acme-prod/apps/loader:1.2.0": failed to resolve reference '
                '"europe-docker.pkg.dev/acme-prod/apps/loader:1.2.0": failed to authorize: failed to fetch '
                "oauth token: unexpected status from GET request to https://europe-docker.pkg.dev/v2/token: 403 Forbidden"
            )
        ],
        tag="1.2.0",
    )
    add(
        S(
            "gke-artifact-registry-403.yaml",
            "Artifact Registry answers 403 Forbidden to the node's service account.",
            "ImagePullError",
            "Escalate",
            ("Deployment", "data", "loader"),
            objs + nodes(GKE),
            events_v1=True,
            held=True,
        )
    )

    use(KUBEADM)
    objs = one_rev(
        "tools",
        "grafana",
        [
            g.image_pull(
                'failed to pull and unpack image "docker.io/grafana/grafana:11.3.0": failed to copy: '
                "httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/grafana/grafana/manifests/sha256:5b1e: "
                "429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit. "
                "You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"
            )
        ],
        tag="11.3.0",
    )
    add(
        S(
            "kubeadm-dockerhub-rate-limit.yaml",
            "Docker Hub 'toomanyrequests: You have reached your pull rate limit'.",
            "ImagePullError",
            "Escalate",
            ("Deployment", "tools", "grafana"),
            objs + nodes(KUBEADM),
            forbidden=["RollbackRollout"],
        )
    )

    use(AKS)
    objs = one_rev(
        "shop",
        "notifier",
        [g.config_error("couldn't find key SMTP_HOST in ConfigMap shop/notifier-config")],
        tag="1.4.0",
    )
    add(
        S(
            "aks-configmap-key-missing.yaml",
            "CreateContainerConfigError: couldn't find key SMTP_HOST in ConfigMap shop/notifier-config.",
            "ConfigError",
            "Escalate",
            ("Deployment", "shop", "notifier"),
            objs + nodes(AKS),
        )
    )

    use(EKS)
    objs = one_rev(
        "shop",
        "exporter",
        [
            g.container_creating(
                [
                    (
                        "Warning",
                        "FailedMount",
                        'MountVolume.SetUp failed for volume "config" : configmap "exporter-config" not found',
                        9,
                        18,
                        0.5,
                    )
                ]
            )
        ],
        tag="0.3.1",
    )
    add(
        S(
            "eks-configmap-volume-missing.yaml",
            "ContainerCreating for 18 minutes: MountVolume.SetUp failed, configmap not found.",
            "ConfigError",
            "Escalate",
            ("Deployment", "shop", "exporter"),
            objs + nodes(EKS),
            held=True,
        )
    )

    use(GKE)
    objs = one_rev("shop", "worker", [g.config_error('secret "worker-env" not found')], tag="9.1.0")
    rs = next(o for o in objs if o["kind"] == "ReplicaSet")
    add(
        S(
            "gke-envfrom-secret-missing.yaml",
            "A single-revision Deployment whose Secret was deleted by a cleanup job.",
            "ConfigError",
            "Escalate",
            ("Deployment", "shop", "worker"),
            objs
            + nodes(GKE)
            + [
                g.object_event(
                    rs,
                    "SuccessfulCreate",
                    etype="Normal",
                    component="replicaset-controller",
                    message=f"Created pod: {pods_of(objs)[0]['metadata']['name']}",
                )
            ],
            events_v1=True,
        )
    )

    use(KUBEADM)
    objs = one_rev("shop", "api", [], tag="3.0.0")
    rs = next(o for o in objs if o["kind"] == "ReplicaSet")
    dep = objs[0]
    dep["spec"]["replicas"] = 3
    rs["spec"]["replicas"] = 3
    rs["status"]["conditions"] = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "lastTransitionTime": ts(20),
            "reason": "FailedCreate",
            "message": f'pods "{rs["metadata"]["name"]}-" is forbidden: error looking up service account shop/api-sa: serviceaccount "api-sa" not found',
        }
    ]
    ev = g.object_event(
        rs,
        "FailedCreate",
        component="replicaset-controller",
        count=19,
        first=20,
        message=f'Error creating: pods "{rs["metadata"]["name"]}-" is forbidden: error looking up service account shop/api-sa: serviceaccount "api-sa" not found',
    )
    add(
        S(
            "kubeadm-failedcreate-serviceaccount.yaml",
            'ReplicaSet FailedCreate: serviceaccount "api-sa" not found (k8sgpt\'s ReplicaSet check); no pods exist.',
            "PodCreationFailed",
            "Escalate",
            ("Deployment", "shop", "api"),
            [*objs, ev, *nodes(KUBEADM)],
        )
    )

    use(EKS)
    objs = one_rev("legacy", "ftp", [], tag="1.0.0")
    rs = next(o for o in objs if o["kind"] == "ReplicaSet")
    objs[0]["spec"]["replicas"] = 1
    rs["spec"]["replicas"] = 1
    msg = (
        f'Error creating: pods "{rs["metadata"]["name"]}-" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )
    add(
        S(
            "eks-failedcreate-podsecurity.yaml",
            "The namespace was labelled pod-security.kubernetes.io/enforce=restricted; the ReplicaSet "
            "cannot create pods.",
            "PodCreationFailed",
            "Escalate",
            ("Deployment", "legacy", "ftp"),
            [
                *objs,
                g.object_event(
                    rs, "FailedCreate", component="replicaset-controller", count=14, message=msg
                ),
                *nodes(EKS),
            ],
            forbidden=["RestartRollout"],
            held=True,
        )
    )


# -- Scheduling, quota ------------------------------------------------------------------------------


def build_scheduling() -> None:
    use(KUBEADM)
    objs = one_rev(
        "batch",
        "trainer",
        [
            g.unschedulable(
                "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
                "3 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, "
                "3 No preemption victims found for incoming pod."
            )
        ],
        tag="0.7.0",
    )
    add(
        S(
            "kubeadm-unschedulable-gpu.yaml",
            "A GPU job's pod pends: 3 Insufficient nvidia.com/gpu, the control plane is tainted.",
            "Unschedulable",
            "Escalate",
            ("Deployment", "batch", "trainer"),
            objs + nodes(KUBEADM),
        )
    )

    use(EKS)
    objs = one_rev(
        "shop",
        "cache",
        [
            g.unschedulable(
                "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: "
                "3 No preemption victims found for incoming pod."
            ),
            g.healthy(),
            g.healthy(),
            g.healthy(),
        ],
        tag="7.2.4",
    )
    add(
        S(
            "eks-unschedulable-anti-affinity.yaml",
            "A fourth replica with required pod anti-affinity per hostname on a 3-node group.",
            "Unschedulable",
            "Escalate",
            ("Deployment", "shop", "cache"),
            objs + nodes(EKS),
            forbidden=["DeletePod"],
        )
    )

    use(AKS)
    objs = g.statefulset(
        "data",
        "kafka",
        containers=[
            g.container(
                "kafka",
                "docker.io/bitnami/kafka:3.8.1",
                port=9092,
                mem_limit="4Gi",
                mem_request="4Gi",
            )
        ],
        pods=[
            g.healthy(),
            g.healthy(),
            g.unschedulable(
                "0/3 nodes are available: 1 node(s) had volume node affinity conflict, 2 node(s) didn't match pod anti-affinity rules. "
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
            ),
        ],
    )
    add(
        S(
            "aks-unschedulable-volume-zone.yaml",
            "kafka-2's disk lives in zone 3 where no node is left: 'volume node affinity conflict'.",
            "Unschedulable",
            "Escalate",
            ("StatefulSet", "data", "kafka"),
            objs + nodes(AKS),
            held=True,
        )
    )

    use(GKE)
    objs = one_rev("team-a", "reports", [], tag="1.0.0")
    rs = next(o for o in objs if o["kind"] == "ReplicaSet")
    objs[0]["spec"]["replicas"] = 2
    rs["spec"]["replicas"] = 2
    msg = (
        f'Error creating: pods "{rs["metadata"]["name"]}-{g.suffix(5, "q")}" is forbidden: exceeded quota: team-a-compute, '
        "requested: limits.memory=256Mi, used: limits.memory=8Gi, limited: limits.memory=8Gi"
    )
    add(
        S(
            "gke-quota-limits-memory.yaml",
            "ResourceQuota team-a-compute is full on limits.memory; the ReplicaSet cannot create pods.",
            "QuotaExceeded",
            "Escalate",
            ("Deployment", "team-a", "reports"),
            [
                *objs,
                g.object_event(
                    rs, "FailedCreate", component="replicaset-controller", count=22, message=msg
                ),
                g.resource_quota(
                    "team-a",
                    "team-a-compute",
                    hard={"limits.memory": "8Gi", "requests.cpu": "4"},
                    used={"limits.memory": "8Gi", "requests.cpu": "3200m"},
                ),
                *nodes(GKE),
            ],
            events_v1=True,
        )
    )

    use(EKS)
    objs = one_rev("team-b", "api", [], tag="2.0.0")
    rs = next(o for o in objs if o["kind"] == "ReplicaSet")
    objs[0]["spec"]["replicas"] = 3
    rs["spec"]["replicas"] = 3
    msg = (
        f'Error creating: pods "{rs["metadata"]["name"]}-{g.suffix(5, "p")}" is forbidden: exceeded quota: pods-cap, '
        "requested: pods=1, used: pods=20, limited: pods=20"
    )
    add(
        S(
            "eks-quota-pod-count.yaml",
            "A pod-count quota (pods=20) is exhausted.",
            "QuotaExceeded",
            "Escalate",
            ("Deployment", "team-b", "api"),
            [
                *objs,
                g.object_event(
                    rs, "FailedCreate", component="replicaset-controller", count=9, message=msg
                ),
                g.resource_quota("team-b", "pods-cap", hard={"pods": "20"}, used={"pods": "20"}),
                *nodes(EKS),
            ],
            held=True,
        )
    )


# -- Nodes ------------------------------------------------------------------------------------------

UNREACHABLE = [
    {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": ts(8)},
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": ts(8)},
]


def pressure_node(
    provider: Provider, index: int, cond: str, reason: str, message: str, taint: str
) -> list[Obj]:
    out = nodes(
        provider,
        **{f"n{index}": {"taints": [{"key": taint, "effect": "NoSchedule", "timeAdded": ts(14)}]}},
    )
    for c in out[index]["status"]["conditions"]:
        if c["type"] == cond:
            c |= {
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": ts(14),
            }
    return out


def build_nodes() -> None:
    use(GKE)
    ns = nodes(
        GKE,
        n1={
            "ready": "Unknown",
            "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.",
            "taints": UNREACHABLE,
            "heartbeat_ago": 9,
        },
    )
    add(
        S(
            "gke-node-status-unknown.yaml",
            "A GKE node stopped posting status 9 minutes ago (preempted VM being recreated).",
            "NodeNotReady",
            "CordonNode",
            ("Node", None, GKE.names[1]),
            [
                *ns,
                g.node_event(
                    ns[1],
                    "NodeNotReady",
                    message=f"Node {GKE.names[1]} status is now: NodeNotReady",
                ),
            ],
            params={"node": GKE.names[1]},
            events_v1=True,
        )
    )

    use(AKS)
    ns = nodes(
        AKS,
        n0={
            "ready": "False",
            "reason": "KubeletNotReady",
            "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
            "taints": [
                {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": ts(11)}
            ],
        },
    )
    add(
        S(
            "aks-node-cni-not-ready.yaml",
            "KubeletNotReady: 'cni plugin not initialized' after a node image upgrade.",
            "NodeNotReady",
            "CordonNode",
            ("Node", None, AKS.names[0]),
            ns,
            params={"node": AKS.names[0]},
            held=True,
        )
    )

    use(EKS)
    ns = pressure_node(
        EKS,
        2,
        "DiskPressure",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
        "node.kubernetes.io/disk-pressure",
    )
    evs = [
        g.node_event(
            ns[2],
            "EvictionThresholdMet",
            etype="Warning",
            component="kubelet",
            message="Attempting to reclaim ephemeral-storage",
        ),
        g.node_event(
            ns[2],
            "ImageGCFailed",
            etype="Warning",
            component="kubelet",
            message="Failed to garbage collect required amount of images. Attempted to free 10737418240 bytes, but only found 0 bytes eligible to free.",
        ),
        g.node_event(
            ns[2],
            "NodeHasDiskPressure",
            component="kubelet",
            message=f"Node {EKS.names[2]} status is now: NodeHasDiskPressure",
        ),
    ]
    add(
        S(
            "eks-node-disk-pressure.yaml",
            "DiskPressure on a Ready node: condition True, disk-pressure taint, EvictionThresholdMet, "
            "ImageGCFailed with 0 bytes eligible.",
            "NodePressure",
            "Escalate",
            ("Node", None, EKS.names[2]),
            ns + evs,
            needs="NodePressure",
            forbidden=["DeletePod"],
        )
    )

    use(KUBEADM)
    ns = pressure_node(
        KUBEADM,
        0,
        "MemoryPressure",
        "KubeletHasInsufficientMemory",
        "kubelet has insufficient memory available",
        "node.kubernetes.io/memory-pressure",
    )
    add(
        S(
            "kubeadm-node-memory-pressure.yaml",
            "MemoryPressure=True on a Ready worker (k8sgpt's Node check).",
            "NodePressure",
            "Escalate",
            ("Node", None, KUBEADM.names[0]),
            [
                *ns,
                g.node_event(
                    ns[0],
                    "EvictionThresholdMet",
                    etype="Warning",
                    component="kubelet",
                    message="Attempting to reclaim memory",
                ),
            ],
            needs="NodePressure",
            held=True,
        )
    )

    use(GKE)
    ns = pressure_node(
        GKE,
        2,
        "PIDPressure",
        "KubeletHasInsufficientPID",
        "kubelet has insufficient PID available",
        "node.kubernetes.io/pid-pressure",
    )
    add(
        S(
            "gke-node-pid-pressure.yaml",
            "PIDPressure=True: a fork bomb in a build pod exhausted PIDs.",
            "NodePressure",
            "Escalate",
            ("Node", None, GKE.names[2]),
            ns,
            needs="NodePressure",
            events_v1=True,
        )
    )

    use(GKE)
    ns = nodes(GKE)
    ns[0]["status"]["conditions"].insert(
        0,
        {
            "type": "NetworkUnavailable",
            "status": "True",
            "reason": "NoRouteCreated",
            "message": "RouteController failed to create a route",
            "lastHeartbeatTime": ts(3),
            "lastTransitionTime": ts(3),
        },
    )
    add(
        S(
            "gke-node-network-unavailable.yaml",
            "NetworkUnavailable=True (NoRouteCreated) on a node still Ready.",
            "NodeNotReady",
            "CordonNode",
            ("Node", None, GKE.names[0]),
            ns,
            params={"node": GKE.names[0]},
        )
    )

    use(EKS)
    objs = one_rev(
        "shop", "checkout", [g.stale_on_dead_node(), g.healthy(), g.healthy()], tag="2.9.0"
    )
    ns = nodes(
        EKS,
        n0={
            "ready": "Unknown",
            "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.",
            "taints": UNREACHABLE,
            "heartbeat_ago": 7,
        },
    )
    add(
        S(
            "eks-workload-on-lost-node.yaml",
            "A Deployment alert: one pod sits on a node that stopped reporting (spot reclaim).",
            "NodeNotReady",
            "CordonNode",
            ("Deployment", "shop", "checkout"),
            objs + ns,
            params={"node": EKS.names[0]},
        )
    )


# -- Volumes --------------------------------------------------------------------------------------


def build_volumes() -> None:
    use(EKS)
    claim = g.pvc(
        "data",
        "data-postgres-0",
        phase="Bound",
        storage_class="gp3",
        size="50Gi",
        volume="pvc-" + uid("pv", "pg"),
    )
    objs = g.statefulset(
        "data",
        "postgres",
        containers=[
            g.container(
                "postgres",
                "docker.io/library/postgres:16.4",
                port=5432,
                mem_limit="2Gi",
                mem_request="2Gi",
            )
        ],
        pods=[g.crashloop(exit_code=1, restarts=8)],
    )
    pods = pods_of(objs)
    add(
        S(
            "eks-pvc-full-postgres.yaml",
            "kubelet volume stats show 0 bytes available on data-postgres-0; postgres logs "
            "'could not extend file ... No space left on device' and exits.",
            "VolumeFull",
            "Escalate",
            ("StatefulSet", "data", "postgres"),
            [*objs, claim, *nodes(EKS)],
            logs=[
                log(
                    pods[0],
                    '2025-03-14 10:26:40.118 UTC [1] FATAL:  could not write to file "pg_wal/xlogtemp.29": No space left on device\n'
                    "2025-03-14 10:26:40.120 UTC [1] LOG:  database system is shut down\n",
                    container="postgres",
                )
            ],
            metrics=[
                vector(
                    'kubelet_volume_stats_available_bytes{namespace="data",persistentvolumeclaim="data-postgres-0"}',
                    [({"namespace": "data", "persistentvolumeclaim": "data-postgres-0"}, 0)],
                ),
                vector(
                    'kubelet_volume_stats_capacity_bytes{namespace="data",persistentvolumeclaim="data-postgres-0"}',
                    [
                        (
                            {"namespace": "data", "persistentvolumeclaim": "data-postgres-0"},
                            53687091200,
                        )
                    ],
                ),
            ],
            needs="VolumeFull",
            forbidden=["RestartRollout", "SetResources"],
        )
    )

    use(GKE)
    claim = g.pvc(
        "logging",
        "data-loki-0",
        phase="Bound",
        storage_class="standard-rwo",
        size="100Gi",
        volume="pvc-" + uid("pv", "loki"),
    )
    add(
        S(
            "gke-pvc-filling.yaml",
            "A PVC target filling up: 97% used and growing 2 GiB/hour (predict_linear below zero in 2h).",
            "VolumeFull",
            "Escalate",
            ("PersistentVolumeClaim", "logging", "data-loki-0"),
            [claim, *nodes(GKE)],
            metrics=[
                matrix(
                    'kubelet_volume_stats_available_bytes{namespace="logging",persistentvolumeclaim="data-loki-0"}',
                    [
                        (
                            {"namespace": "logging", "persistentvolumeclaim": "data-loki-0"},
                            [12e9, 10e9, 8e9, 6.5e9, 4.6e9, 3.2e9],
                        )
                    ],
                    step=1800,
                )
            ],
            needs="VolumeFull",
            held=True,
        )
    )

    use(AKS)
    claim = g.pvc(
        "shop", "uploads", phase="Pending", storage_class="managed-csi-premium", size="200Gi"
    )
    ev = g.object_event(
        claim,
        "ProvisioningFailed",
        component="disk.csi.azure.com_csi-azuredisk-controller-6b4cbd7f5b-xk2zp_6e5d",
        count=7,
        message='failed to provision volume with StorageClass "managed-csi-premium": rpc error: code = Internal desc = '
        'Retriable: false, RetryAfter: 0s, HTTPStatusCode: 400, RawError: {"error":{"code":"OperationNotAllowed",'
        '"message":"Operation results in exceeding quota limits of Core. Maximum allowed: 100, Current in use: 100, Additional requested: 200."}}',
    )
    add(
        S(
            "aks-pvc-provisioning-failed.yaml",
            "An Azure Disk PVC stays Pending: ProvisioningFailed from the CSI controller (subscription quota).",
            "VolumeError",
            "Escalate",
            ("PersistentVolumeClaim", "shop", "uploads"),
            [claim, ev, *nodes(AKS)],
        )
    )

    use(EKS)
    objs = g.statefulset(
        "data",
        "mongo",
        containers=[
            g.container(
                "mongo",
                "docker.io/library/mongo:7.0.14",
                port=27017,
                mem_limit="2Gi",
                mem_request="2Gi",
            )
        ],
        pods=[
            g.container_creating(
                [
                    (
                        "Warning",
                        "FailedAttachVolume",
                        'Multi-Attach error for volume "pvc-3f1c2a7e-58b2-4c0e-9b1e-2b8f0d1a6c44" Volume is already exclusively attached to one node and can\'t be attached to another',
                        1,
                        12,
                        12,
                    ),
                    (
                        "Warning",
                        "FailedMount",
                        "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data kube-api-access-x8b2k]: timed out waiting for the condition",
                        5,
                        10,
                        1,
                    ),
                ]
            )
        ],
    )
    add(
        S(
            "eks-multi-attach-after-node-loss.yaml",
            "After a node was terminated, mongo-0 cannot attach its EBS volume: Multi-Attach error.",
            "VolumeError",
            "Escalate",
            ("StatefulSet", "data", "mongo"),
            objs + nodes(EKS),
        )
    )

    use(KUBEADM)
    claim = g.pvc("shop", "media", phase="Pending", storage_class="local-path", size="10Gi")
    ev = g.object_event(
        claim,
        "WaitForFirstConsumer",
        etype="Normal",
        component="persistentvolume-controller",
        count=4,
        message="waiting for first consumer to be created before binding",
    )
    add(
        S(
            "kubeadm-pvc-wait-for-first-consumer.yaml",
            "Look-alike of a stuck PVC: Pending with WaitForFirstConsumer is normal until a pod uses it.",
            "Unknown",
            "Escalate",
            ("PersistentVolumeClaim", "shop", "media"),
            [claim, ev, *nodes(KUBEADM)],
            held=True,
        )
    )

    use(GKE)
    objs = one_rev(
        "shop",
        "assets",
        [
            g.container_creating(
                [
                    (
                        "Warning",
                        "FailedMount",
                        'MountVolume.MountDevice failed for volume "pvc-8e2c" : rpc error: code = Internal desc = Error when getting device path: rpc error: code = Internal desc = error verifying GCE PD ("pvc-8e2c") is attached: failed to find and re-link disk pvc-8e2c with udevadm after retrying for 3s: timed out waiting for the condition',
                        6,
                        14,
                        1,
                    )
                ]
            )
        ],
        tag="1.0.2",
    )
    add(
        S(
            "gke-pd-mountdevice-failed.yaml",
            "MountVolume.MountDevice failed for a GCE persistent disk.",
            "VolumeError",
            "Escalate",
            ("Deployment", "shop", "assets"),
            objs + nodes(GKE),
            events_v1=True,
        )
    )


# -- Services ------------------------------------------------------------------------------------


def build_services() -> None:
    use(EKS)
    objs = one_rev(
        "shop", "profile", [g.healthy(), g.healthy()], tag="1.3.0", labels={"app": "profile"}
    )
    svc = g.service("shop", "profile", selector={"app": "profile-api"})
    add(
        S(
            "eks-service-selector-typo.yaml",
            "The Service selects app=profile-api; the pods are app=profile; EndpointSlice endpoints: null.",
            "ServiceNoEndpoints",
            "Escalate",
            ("Service", "shop", "profile"),
            [*objs, svc, g.endpointslice(svc, []), *nodes(EKS)],
            forbidden=["RestartRollout", "DeletePod"],
        )
    )

    use(GKE)
    svc = g.service("shop", "legacy-billing", selector={})
    del svc["spec"]["selector"]
    ep = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": g.meta("Endpoints", "legacy-billing", namespace="shop", age=60 * 24 * 200),
        "subsets": [
            {
                "notReadyAddresses": [{"ip": "10.10.4.12"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }
    add(
        S(
            "gke-service-no-selector-manual-endpoints.yaml",
            "A Service without a selector whose hand-kept Endpoints has only notReadyAddresses (k8sgpt case).",
            "ServiceNoEndpoints",
            "Escalate",
            ("Service", "shop", "legacy-billing"),
            [svc, ep, *nodes(GKE)],
            events_v1=True,
            held=True,
        )
    )

    use(AKS)
    objs = one_rev(
        "shop",
        "stock",
        [g.oom(restarts=7), g.oom(restarts=6)],
        tag="2.2.2",
        mem_limit="256Mi",
        mem_request="256Mi",
        labels={"app": "stock"},
    )
    svc = g.service("shop", "stock", selector={"app": "stock"})
    add(
        S(
            "aks-service-backends-oomkilled.yaml",
            "A Service alert whose backends are all OOMKilled: the fix is for the backends.",
            "OOMKilled",
            "SetResources",
            ("Service", "shop", "stock"),
            [
                *objs,
                svc,
                g.endpointslice(svc, [g.endpoint_for(p, ready=False) for p in pods_of(objs)]),
                *nodes(AKS),
            ],
            params={"container": "app"},
        )
    )

    use(KUBEADM)
    objs = g.deployment(
        "shop",
        "reviews",
        revs=[Rev(5, [wc("shop/reviews", "1.2.0")], [], age=60 * 24 * 4, replicas=0)],
        replicas=0,
        labels={"app": "reviews"},
    )
    svc = g.service("shop", "reviews", selector={"app": "reviews"})
    add(
        S(
            "kubeadm-service-backend-scaled-zero.yaml",
            "The only Deployment behind the Service was scaled to zero by a cleanup script.",
            "ServiceNoEndpoints",
            "ScaleWorkload",
            ("Service", "shop", "reviews"),
            [*objs, svc, g.endpointslice(svc, []), *nodes(KUBEADM)],
        )
    )

    use(EKS)
    objs = one_rev(
        "shop",
        "ads",
        [
            g.not_ready(
                'Get "http://10.244.2.31:8080/readyz": dial tcp 10.244.2.31:8080: connect: connection refused'
            ),
            g.not_ready(
                'Get "http://10.244.5.11:8080/readyz": dial tcp 10.244.5.11:8080: connect: connection refused'
            ),
        ],
        tag="0.2.0",
        labels={"app": "ads"},
        port=9090,
    )
    svc = g.service("shop", "ads", selector={"app": "ads"}, target_port=8080)
    add(
        S(
            "eks-service-readiness-wrong-port.yaml",
            "Readiness probes hit port 8080 but the container listens on 9090: nothing is ever Ready.",
            "ProbeFailure",
            "Escalate",
            ("Deployment", "shop", "ads"),
            [
                *objs,
                svc,
                g.endpointslice(svc, [g.endpoint_for(p, ready=False) for p in pods_of(objs)]),
                *nodes(EKS),
            ],
            forbidden=["DeletePod", "RestartRollout"],
        )
    )


# -- Eviction, overload, throttling --------------------------------------------------------------


def hpa_v2(
    ns: str,
    name: str,
    *,
    target: str,
    current: int,
    maxr: int,
    cpu_now: int,
    cpu_target: int = 70,
    limited: bool = True,
    able: bool = True,
    active: bool = True,
    active_msg: str = "",
) -> Obj:
    obj = g.hpa(
        ns,
        name,
        target_kind="Deployment",
        target_name=target,
        min_replicas=2,
        max_replicas=maxr,
        current=current,
        desired=min(maxr, current + 5) if limited else current,
        cpu_target=cpu_target,
        cpu_current=cpu_now,
        limited=limited,
    )
    if not active:
        obj["status"]["currentMetrics"] = [{"type": ""}]
        for c in obj["status"]["conditions"]:
            if c["type"] == "ScalingActive":
                c |= {"status": "False", "reason": "FailedGetResourceMetric", "message": active_msg}
    if not able:
        for c in obj["status"]["conditions"]:
            if c["type"] == "AbleToScale":
                c |= {"status": "False", "reason": "FailedGetScale", "message": active_msg}
    return obj


def build_overload() -> None:
    use(EKS)
    objs = one_rev(
        "shop",
        "storefront",
        [g.healthy() for _ in range(10)],
        tag="12.0.1",
        cpu_request="500m",
        cpu_limit="1",
    )
    h = hpa_v2("shop", "storefront", target="storefront", current=10, maxr=10, cpu_now=190)
    pods = pods_of(objs)
    add(
        S(
            "eks-hpa-maxed-cpu-overload.yaml",
            "Black-Friday traffic: HPA at maxReplicas=10 with CPU at 190% of a 70% target; the pods "
            "are healthy but saturated. Deleting pods removes capacity.",
            "HPAMaxedOut",
            "PatchHPA",
            ("HorizontalPodAutoscaler", "shop", "storefront"),
            [*objs, h, *nodes(EKS)],
            overloaded=True,
            forbidden=["DeletePod", "RestartRollout"],
            alerts=[
                alert(
                    "KubeHpaMaxedOut",
                    "shop",
                    "HPA shop/storefront has been running at max replicas for longer than 15 minutes.",
                    horizontalpodautoscaler="storefront",
                )
            ],
            metrics=[
                vector(
                    'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="shop",pod=~"storefront-.*",container="app"}[5m]))',
                    [({"pod": p["metadata"]["name"]}, 0.97) for p in pods],
                )
            ],
        )
    )

    use(GKE)
    slow = [
        g.not_ready(
            'Get "http://10.52.1.7:8080/readyz": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            count=12,
        )
    ] * 2
    objs = one_rev(
        "shop",
        "search-api",
        [*slow, *[g.healthy() for _ in range(6)]],
        tag="5.5.0",
        cpu_request="1",
        cpu_limit="1",
    )
    h = hpa_v2("shop", "search-api", target="search-api", current=8, maxr=8, cpu_now=145)
    add(
        S(
            "gke-hpa-maxed-readiness-timeouts.yaml",
            "Look-alike of a probe failure: two pods miss readiness under load while the HPA is at max "
            "with CPU at 145%: overload, never DeletePod.",
            "HPAMaxedOut",
            "PatchHPA",
            ("Deployment", "shop", "search-api"),
            [*objs, h, *nodes(GKE)],
            overloaded=True,
            forbidden=["DeletePod", "RestartRollout"],
            events_v1=True,
            held=True,
        )
    )

    use(AKS)
    objs = one_rev(
        "api",
        "pricing-engine",
        [g.healthy(), g.healthy()],
        tag="3.1.4",
        cpu_request="250m",
        cpu_limit="500m",
    )
    pods = pods_of(objs)
    add(
        S(
            "aks-cpu-throttling-at-limit.yaml",
            "p99 latency alert; pods are CFS-throttled 78% of periods at their 500m limit "
            "(container_cpu_cfs_throttled_periods_total / periods): raise the CPU limit.",
            "CPUThrottling",
            "SetResources",
            ("Deployment", "api", "pricing-engine"),
            objs + nodes(AKS),
            params={"container": "app"},
            overloaded=True,
            needs="CPUThrottling",
            forbidden=["DeletePod", "RestartRollout"],
            alerts=[
                alert(
                    "CPUThrottlingHigh",
                    "api",
                    "78% throttling of CPU in namespace api for container app in pod "
                    f"{pods[0]['metadata']['name']}.",
                    pod=pods[0]["metadata"]["name"],
                    container="app",
                )
            ],
            metrics=[
                matrix(
                    'sum by (pod) (increase(container_cpu_cfs_throttled_periods_total{namespace="api",container="app"}[5m])) / sum by (pod) (increase(container_cpu_cfs_periods_total{namespace="api",container="app"}[5m]))',
                    [
                        ({"pod": p["metadata"]["name"]}, [0.61, 0.7, 0.74, 0.78, 0.79, 0.78])
                        for p in pods
                    ],
                ),
                vector(
                    'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="api",container="app"}[5m]))',
                    [({"pod": p["metadata"]["name"]}, 0.499) for p in pods],
                ),
            ],
        )
    )

    use(KUBEADM)
    objs = one_rev(
        "batch",
        "image-resizer",
        [g.healthy(), g.healthy(), g.healthy()],
        tag="2.0.0",
        cpu_request="100m",
        cpu_limit="200m",
    )
    pods = pods_of(objs)
    add(
        S(
            "kubeadm-cpu-throttling-queue-backlog.yaml",
            "A queue worker's backlog grows; throttled 90% of periods at a 200m limit; no restarts.",
            "CPUThrottling",
            "SetResources",
            ("Deployment", "batch", "image-resizer"),
            objs + nodes(KUBEADM),
            params={"container": "app"},
            overloaded=True,
            needs="CPUThrottling",
            forbidden=["DeletePod", "RestartRollout"],
            metrics=[
                vector(
                    'sum by (pod) (increase(container_cpu_cfs_throttled_periods_total{namespace="batch",container="app"}[5m])) / sum by (pod) (increase(container_cpu_cfs_periods_total{namespace="batch",container="app"}[5m]))',
                    [({"pod": p["metadata"]["name"]}, 0.9) for p in pods],
                )
            ],
            held=True,
        )
    )

    use(EKS)
    objs = one_rev("shop", "api", [g.healthy() for _ in range(2)], tag="1.0.0", cpu_request=None)
    msg = f"the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container app of Pod {pods_of(objs)[0]['metadata']['name']}"
    h = hpa_v2(
        "shop",
        "api",
        target="api",
        current=2,
        maxr=10,
        cpu_now=0,
        limited=False,
        active=False,
        active_msg=msg,
    )
    add(
        S(
            "eks-hpa-missing-cpu-request.yaml",
            "HPA ScalingActive=False (FailedGetResourceMetric): the container has no cpu request; "
            "currentMetrics holds an entry with an empty type.",
            "HPAMisconfigured",
            "SetResources",
            ("HorizontalPodAutoscaler", "shop", "api"),
            [*objs, h, *nodes(EKS)],
            params={"container": "app"},
            forbidden=["DeletePod", "RestartRollout"],
        )
    )

    use(GKE)
    h = hpa_v2(
        "shop",
        "old-api",
        target="old-api",
        current=0,
        maxr=6,
        cpu_now=0,
        limited=False,
        able=False,
        active_msg='the HPA controller was unable to get the target\'s current scale: deployments/scale.apps "old-api" not found',
    )
    h["status"]["currentMetrics"] = None
    add(
        S(
            "gke-hpa-scale-target-missing.yaml",
            "HPA AbleToScale=False: its scale target Deployment was deleted.",
            "HPAMisconfigured",
            "Escalate",
            ("HorizontalPodAutoscaler", "shop", "old-api"),
            [h, *nodes(GKE)],
            forbidden=["PatchHPA"],
        )
    )

    use(AKS)
    objs = one_rev(
        "shop",
        "ingest",
        [
            g.evicted(
                "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91236Ki. Container app was using "
                "1843212Ki, request is 256Mi, has larger consumption of memory. "
            ),
            g.healthy(),
            g.healthy(),
        ],
        tag="4.4.0",
        mem_limit=None,
        mem_request="256Mi",
    )
    add(
        S(
            "aks-evicted-memory-over-request.yaml",
            "Evicted under node memory pressure; the container used 1.8Gi against a 256Mi request.",
            "Evicted",
            "SetResources",
            ("Deployment", "shop", "ingest"),
            objs + nodes(AKS),
            params={"container": "app"},
        )
    )

    use(GKE)
    objs = one_rev(
        "ci",
        "builder",
        [
            g.evicted(
                "Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. "
            ),
            g.healthy(),
        ],
        tag="1.0.0",
    )
    add(
        S(
            "gke-evicted-ephemeral-storage.yaml",
            "Evicted for ephemeral storage beyond its 2Gi limit (build cache in /tmp).",
            "Evicted",
            "Escalate",
            ("Deployment", "ci", "builder"),
            objs + nodes(GKE),
            events_v1=True,
            held=True,
        )
    )

    use(EKS)
    objs = one_rev(
        "shop",
        "crawler",
        [g.evicted("The node had condition: [DiskPressure]. "), g.healthy(), g.healthy()],
        tag="0.9.0",
    )
    ns = pressure_node(
        EKS,
        0,
        "DiskPressure",
        "KubeletHasDiskPressure",
        "kubelet has disk pressure",
        "node.kubernetes.io/disk-pressure",
    )
    add(
        S(
            "eks-evicted-node-disk-pressure.yaml",
            "Pods evicted because their node has DiskPressure (container logs filled /var).",
            "NodePressure",
            "Escalate",
            ("Deployment", "shop", "crawler"),
            objs + ns,
            needs="NodePressure",
            forbidden=["SetResources", "DeletePod"],
        )
    )


# -- Truly ambiguous or out of scope: Unknown + Escalate ---------------------------------------------


def build_unknown() -> None:
    use(EKS)
    objs = one_rev("shop", "web", [g.healthy(), g.healthy(), g.healthy()], tag="3.3.3")
    pods = pods_of(objs)
    add(
        S(
            "eks-unknown-latency-healthy-pods.yaml",
            "p99 latency alert; every pod Ready, no restarts, CPU at 20%: nothing in the bundle explains it.",
            "Unknown",
            "Escalate",
            ("Deployment", "shop", "web"),
            objs + nodes(EKS),
            alerts=[
                alert(
                    "HighRequestLatency",
                    "shop",
                    "p99 latency of shop/web above 2s for 10m.",
                    service="web",
                )
            ],
            metrics=[
                vector(
                    'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="shop",pod=~"web-.*"}[5m]))',
                    [({"pod": p["metadata"]["name"]}, 0.02) for p in pods],
                )
            ],
            forbidden=["DeletePod", "RestartRollout"],
        )
    )

    use(GKE)
    objs = one_rev("shop", "emails", [g.healthy(restarts=0), g.healthy()], tag="2.0.0")
    pods = pods_of(objs)
    add(
        S(
            "gke-unknown-dns-resolution.yaml",
            "Running pods log 'lookup smtp.mailprovider.example on 10.96.0.10:53: server misbehaving'; "
            "DNS is a cluster concern, not this workload's.",
            "DNSFailure",
            "Escalate",
            ("Deployment", "shop", "emails"),
            objs + nodes(GKE),
            logs=[
                log(
                    p,
                    'level=error msg="send failed" err="dial tcp: lookup smtp.mailprovider.example on 10.96.0.10:53: server misbehaving"\n'
                    * 3,
                    previous=False,
                )
                for p in pods
            ],
            forbidden=["RestartRollout", "DeletePod"],
            events_v1=True,
        )
    )

    use(AKS)
    ns = nodes(
        AKS,
        n1={
            "unschedulable": True,
            "taints": [
                {
                    "key": "node.kubernetes.io/unschedulable",
                    "effect": "NoSchedule",
                    "timeAdded": ts(35),
                }
            ],
        },
    )
    objs = one_rev("data", "zookeeper", [g.healthy()], tag="3.9.2")
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": g.meta(
            "PodDisruptionBudget", "zookeeper", namespace="data", age=60 * 24 * 100, generation=1
        ),
        "spec": {
            "minAvailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "zookeeper"}},
        },
        "status": {
            "currentHealthy": 1,
            "desiredHealthy": 1,
            "disruptionsAllowed": 0,
            "expectedPods": 1,
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "DisruptionAllowed",
                    "status": "False",
                    "reason": "InsufficientPods",
                    "message": "",
                    "lastTransitionTime": ts(60 * 24),
                    "observedGeneration": 1,
                }
            ],
        },
    }
    add(
        S(
            "aks-unknown-pdb-blocks-drain.yaml",
            "A node upgrade is stuck: the node is cordoned and a PDB with minAvailable=1 on a "
            "single-replica zookeeper allows 0 disruptions.",
            "Unknown",
            "Escalate",
            ("Node", None, AKS.names[1]),
            ns + objs + [pdb],
            forbidden=["DeletePod", "CordonNode"],
        )
    )

    use(KUBEADM)
    objs = one_rev("shop", "orders", [g.healthy(), g.healthy()], tag="1.1.1")
    pods = pods_of(objs)
    netpol = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": g.meta(
            "NetworkPolicy", "default-deny-egress", namespace="shop", age=50, generation=1
        ),
        "spec": {"podSelector": {}, "policyTypes": ["Egress"]},
    }
    add(
        S(
            "kubeadm-unknown-networkpolicy-egress.yaml",
            "A default-deny egress NetworkPolicy appeared 50 minutes ago; orders logs i/o timeouts to its "
            "payment provider. Nothing restartable is broken.",
            "Unknown",
            "Escalate",
            ("Deployment", "shop", "orders"),
            [*objs, netpol, *nodes(KUBEADM)],
            logs=[
                log(
                    p,
                    'ERROR payment call failed: Post "https://api.payments.example/v1/charge": dial tcp 203.0.113.10:443: i/o timeout\n',
                    previous=False,
                )
                for p in pods
            ],
            forbidden=["RestartRollout", "DeletePod"],
            held=True,
        )
    )

    use(EKS)
    objs = one_rev("shop", "checkout", [g.healthy(), g.healthy()], tag="2.9.1")
    pods = pods_of(objs)
    add(
        S(
            "eks-unknown-5xx-from-upstream.yaml",
            "An error-rate alert; checkout is healthy and logs 502s from an external provider.",
            "Unknown",
            "Escalate",
            ("Deployment", "shop", "checkout"),
            objs + nodes(EKS),
            alerts=[
                alert(
                    "HighErrorRate",
                    "shop",
                    "5xx ratio of shop/checkout above 5%.",
                    service="checkout",
                )
            ],
            logs=[
                log(
                    p,
                    "WARN upstream https://tax.example/api returned 502 Bad Gateway (attempt 3/3)\n"
                    * 4,
                    previous=False,
                )
                for p in pods
            ],
            forbidden=["RestartRollout", "DeletePod", "RollbackRollout"],
        )
    )

    use(GKE)
    objs = one_rev("shop", "legacy", [g.healthy()], tag="0.1.0")
    pod = pods_of(objs)[0]
    pod["metadata"]["deletionTimestamp"] = ts(40)
    pod["metadata"]["deletionGracePeriodSeconds"] = 30
    pod["metadata"]["finalizers"] = ["example.com/backup-before-delete"]
    add(
        S(
            "gke-unknown-pod-stuck-terminating.yaml",
            "A pod is stuck Terminating for 40 minutes on a custom finalizer whose controller is gone.",
            "Unknown",
            "Escalate",
            ("Pod", "shop", pod["metadata"]["name"]),
            objs + nodes(GKE),
            forbidden=["DeletePod"],
            events_v1=True,
        )
    )

    use(AKS)
    objs = one_rev("shop", "gateway", [g.healthy(), g.healthy()], tag="1.9.0")
    pods = pods_of(objs)
    add(
        S(
            "aks-unknown-noisy-neighbour.yaml",
            "Latency rises on one node only; another tenant's batch job saturates that node's CPU. "
            "The workload itself is fine.",
            "Unknown",
            "Escalate",
            ("Deployment", "shop", "gateway"),
            objs + nodes(AKS),
            metrics=[
                vector(
                    '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
                    [
                        ({"instance": AKS.names[0]}, 0.99),
                        ({"instance": AKS.names[1]}, 0.31),
                        ({"instance": AKS.names[2]}, 0.28),
                    ],
                )
            ],
            forbidden=["DeletePod", "RestartRollout", "SetResources"],
            held=True,
        )
    )

    use(EKS)
    objs = one_rev("shop", "profile", [], tag="1.3.0")
    rs = next(o for o in objs if o["kind"] == "ReplicaSet")
    objs[0]["spec"]["replicas"] = 2
    rs["spec"]["replicas"] = 2
    msg = (
        'Error creating: Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": '
        'failed to call webhook: Post "https://istiod.istio-system.svc:443/inject?timeout=10s": context deadline exceeded'
    )
    add(
        S(
            "eks-unknown-admission-webhook-timeout.yaml",
            "The ReplicaSet cannot create pods because istio's injection webhook times out: a "
            "cluster component, out of this workload's scope.",
            "Unknown",
            "Escalate",
            ("Deployment", "shop", "profile"),
            [
                *objs,
                g.object_event(
                    rs, "FailedCreate", component="replicaset-controller", count=17, message=msg
                ),
                *nodes(EKS),
            ],
            forbidden=["RestartRollout", "RollbackRollout"],
        )
    )

    use(KUBEADM)
    add(
        S(
            "kubeadm-unknown-statefulset-deleted.yaml",
            "The target StatefulSet is not in the bundle (deleted by a Helm uninstall before collection).",
            "Unknown",
            "Escalate",
            ("StatefulSet", "data", "elasticsearch"),
            nodes(KUBEADM),
        )
    )

    use(GKE)
    objs = one_rev("shop", "notifications", [g.healthy(), g.healthy()], tag="4.0.0")
    objs[0]["spec"]["paused"] = True
    add(
        S(
            "gke-unknown-paused-rollout.yaml",
            "An alert that a new image is not live: the Deployment is paused (spec.paused) on purpose "
            "by a canary tool; nothing is broken.",
            "Unknown",
            "Escalate",
            ("Deployment", "shop", "notifications"),
            objs + nodes(GKE),
            forbidden=["RestartRollout", "RollbackRollout"],
        )
    )

    use(EKS)
    objs = one_rev("shop", "sessions", [g.healthy(), g.healthy()], tag="2.2.0")
    pods = pods_of(objs)
    add(
        S(
            "eks-unknown-slow-disk-iowait.yaml",
            "Requests time out; the app logs slow fsync on an EBS gp2 volume out of burst credits.",
            "Unknown",
            "Escalate",
            ("Deployment", "shop", "sessions"),
            objs + nodes(EKS),
            logs=[
                log(p, "WARN fsync took 4210ms, consider a faster disk\n" * 3, previous=False)
                for p in pods
            ],
            forbidden=["RestartRollout", "DeletePod"],
        )
    )


# -- Output ------------------------------------------------------------------------------------------


def render(s: S) -> Obj:
    objects = copy.deepcopy(s.objects)
    for obj in objects:
        add_managed_fields(obj, applier=s.applier)
    if s.events_v1:
        objects = [to_events_v1(o) for o in objects]
    target: Obj = {"kind": s.target[0], "name": s.target[2]}
    if s.target[1]:
        target["namespace"] = s.target[1]
    doc: Obj = {
        "apiVersion": "kubemedic.dev/v1alpha1",
        "kind": "IncidentBundle",
        "target": target,
        "collectedAt": ts(0),
    }
    if s.alerts:
        doc["alerts"] = s.alerts
    doc["objects"] = objects
    if s.logs:
        doc["logs"] = s.logs
    if s.metrics:
        doc["metrics"] = s.metrics
    return doc


def entry(s: S) -> Obj:
    out: Obj = {"file": s.file, "category": s.category, "firstAction": s.action}
    if s.params:
        out["firstActionParams"] = s.params
    if s.forbidden:
        out["forbidden"] = s.forbidden
    if s.recovered:
        out["recovered"] = True
    if s.overloaded:
        out["overloaded"] = True
    if s.needs and s.needs not in {c.value for c in Category}:
        out["needsCategory"] = s.needs
    out["description"] = s.description
    return out


#: Index fields recorded by hand after a scoring run (never by tuning the bundle).
RECORDED = ("knownMiss", "knownHarm")


def main() -> None:
    for builder in (
        build_memory,
        build_crashes,
        build_rollouts,
        build_images_config,
        build_scheduling,
        build_nodes,
        build_volumes,
        build_services,
        build_overload,
        build_unknown,
    ):
        builder()
    for folder, held in (("realistic", False), ("heldout", True)):
        out = HERE / folder
        out.mkdir(exist_ok=True)
        index_path = out / "index.yaml"
        # knownMiss/knownHarm notes are written by hand after scoring; keep them.
        known: dict[str, Obj] = {}
        if index_path.exists():
            for old in yaml.safe_load(index_path.read_text())["scenarios"]:
                known[old["file"]] = {k: old[k] for k in RECORDED if k in old}
        index = []
        for s in ALL:
            if s.held != held:
                continue
            header = (
                f"# {s.description}\n# Generated by tests/scenarios/_generate_realistic.py; "
                "expected diagnosis in index.yaml.\n"
            )
            body = yaml.safe_dump(
                render(s), sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True
            )
            (out / s.file).write_text(header + body)
            e = entry(s)
            e.update(known.get(s.file, {}))
            index.append(e)
        text = (
            f"# Expected diagnosis of every {folder} scenario (see tests/scenarios/"
            "_generate_realistic.py for the fields).\n"
        )
        text += yaml.safe_dump(
            {"scenarios": index}, sort_keys=False, width=1000, allow_unicode=True
        )
        index_path.write_text(text)


if __name__ == "__main__":
    main()
