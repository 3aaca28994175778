"""Generate the scenario bundles in tests/scenarios/ and their index.

Run ``.venv/bin/python tests/scenarios/_generate.py``; the YAML files are committed as plain
files, this script only keeps ~50 realistic bundles consistent with each other. Output is
deterministic (uids, hashes, resourceVersions and timestamps derive from names), so re-running
it changes nothing unless a builder changed.

Objects follow what the control plane writes, field by field: kubelet container statuses
(``state``/``lastState``/``restartCount``/``ready``/``started``), pod conditions
(PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled), controller
owner references with ``controller: true``, ``pod-template-hash`` labels and
``deployment.kubernetes.io/revision`` annotations, Deployment Progressing/Available
conditions, kubelet core/v1 Events and scheduler events.k8s.io/v1 Events.

Every scenario declares what a correct diagnosis is (category, first action type and,
where it matters, the first action's params); those expectations go to ``index.yaml``.
"""

import copy
import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
COLLECTED = dt.datetime(2025, 3, 14, 10, 30, tzinfo=dt.UTC)
#: Alphabet of pod-template-hash and generated name suffixes (k8s.io/apimachinery rand).
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
REGISTRY = "registry.example.com"

Obj = dict[str, Any]


# -- Deterministic identities -----------------------------------------------------------------


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()


def suffix(length: int, *parts: object) -> str:
    return "".join(ALPHABET[b % len(ALPHABET)] for b in _digest(*parts)[:length])


def uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(str(p) for p in parts)))


def hexid(length: int, *parts: object) -> str:
    return _digest(*parts).hex()[:length]


def rv(*parts: object) -> str:
    return str(100000 + int.from_bytes(_digest("rv", *parts)[:4], "big") % 9000000)


def ts(minutes_ago: float) -> str:
    return (COLLECTED - dt.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ip(*parts: object, prefix: str = "10.244") -> str:
    raw = _digest("ip", *parts)
    return f"{prefix}.{raw[0] % 8 + 1}.{raw[1] % 250 + 2}"


# -- Metadata ---------------------------------------------------------------------------------


def owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def meta(
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    age: float = 60 * 24 * 7,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: Obj | None = None,
    generation: int | None = None,
    generate_name: str | None = None,
) -> Obj:
    data: Obj = {"name": name}
    if generate_name:
        data["generateName"] = generate_name
    if namespace:
        data["namespace"] = namespace
    data["uid"] = uid(kind, namespace, name)
    data["resourceVersion"] = rv(kind, namespace, name)
    if generation is not None:
        data["generation"] = generation
    data["creationTimestamp"] = ts(age)
    if labels:
        data["labels"] = dict(labels)
    if annotations:
        data["annotations"] = dict(annotations)
    if owner is not None:
        data["ownerReferences"] = [owner_ref(owner)]
    return data


# -- Pod templates ----------------------------------------------------------------------------


def http_probe(path: str, port: int = 8080, **settings: int) -> Obj:
    probe: Obj = {"httpGet": {"path": path, "port": port, "scheme": "HTTP"}}
    probe.update(
        {
            "initialDelaySeconds": settings.get("initial", 5),
            "timeoutSeconds": settings.get("timeout", 1),
            "periodSeconds": settings.get("period", 10),
            "successThreshold": 1,
            "failureThreshold": settings.get("failure", 3),
        }
    )
    return probe


def container(
    name: str,
    image: str,
    *,
    port: int | None = 8080,
    mem_limit: str | None = "256Mi",
    mem_request: str | None = "128Mi",
    cpu_request: str | None = "100m",
    cpu_limit: str | None = None,
    readiness: Obj | None = None,
    liveness: Obj | None = None,
    env: list[Obj] | None = None,
    env_from: list[Obj] | None = None,
    mounts: list[Obj] | None = None,
    command: list[str] | None = None,
    args: list[str] | None = None,
) -> Obj:
    spec: Obj = {"name": name, "image": image}
    if command:
        spec["command"] = command
    if args:
        spec["args"] = args
    if port:
        spec["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    if env:
        spec["env"] = env
    if env_from:
        spec["envFrom"] = env_from
    resources: Obj = {}
    limits = {k: v for k, v in (("cpu", cpu_limit), ("memory", mem_limit)) if v}
    requests = {k: v for k, v in (("cpu", cpu_request), ("memory", mem_request)) if v}
    if limits:
        resources["limits"] = limits
    if requests:
        resources["requests"] = requests
    spec["resources"] = resources
    if readiness:
        spec["readinessProbe"] = readiness
    if liveness:
        spec["livenessProbe"] = liveness
    if mounts:
        spec["volumeMounts"] = mounts
    spec["terminationMessagePath"] = "/dev/termination-log"
    spec["terminationMessagePolicy"] = "File"
    spec["imagePullPolicy"] = "IfNotPresent"
    return spec


def template(
    labels: dict[str, str],
    containers: list[Obj],
    *,
    volumes: list[Obj] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[Obj] | None = None,
    image_pull_secrets: list[str] | None = None,
) -> Obj:
    spec: Obj = {"containers": containers}
    if volumes:
        spec["volumes"] = volumes
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    if image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in image_pull_secrets]
    spec |= {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    }
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


# -- Container statuses -----------------------------------------------------------------------


def terminated(
    reason: str,
    exit_code: int,
    *,
    started: float,
    finished: float,
    cid: str,
    message: str | None = None,
) -> Obj:
    data: Obj = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": ts(started),
        "finishedAt": ts(finished),
        "containerID": f"containerd://{cid}",
    }
    if message:
        data["message"] = message
    return {"terminated": data}


@dataclasses.dataclass
class PodState:
    """How one pod looks: phase, readiness, per-container status and the events about it."""

    phase: str = "Running"
    ready: bool = True
    statuses: Callable[[Obj, Obj], list[Obj]] | None = None  # (pod, spec) -> containerStatuses
    events: Callable[[Obj], list[Obj]] | None = None  # pod -> events
    scheduled: tuple[str, str] | None = None  # (reason, message) when PodScheduled=False
    reason: str | None = None
    message: str | None = None
    node: str | None = None
    started: bool = True
    extra_conditions: list[Obj] = dataclasses.field(default_factory=list)
    ready_reason: str | None = None


def _cid(pod: Obj, name: str, *, n: int = 0) -> str:
    return hexid(64, pod["metadata"]["name"], name, n)


def _image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hexid(64, image)}"


def _main(spec: Obj) -> Obj:
    return spec["containers"][0]


def healthy(*, restarts: int = 0, age: float = 600) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": _image_id(c["image"]),
                "containerID": f"containerd://{_cid(pod, c['name'], n=restarts)}",
                "ready": True,
                "started": True,
                "restartCount": restarts,
                "state": {"running": {"startedAt": ts(age)}},
                "lastState": {},
            }
            for c in spec["containers"]
        ]

    return PodState(statuses=statuses)


def _kubelet_events(
    pod: Obj, items: list[tuple[str, str, str, int, float, float]], *, container: str | None = None
) -> list[Obj]:
    """Kubelet core/v1 events: (type, reason, message, count, first_min_ago, last_min_ago)."""
    events = []
    name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
    node = pod["spec"].get("nodeName", "")
    for i, (etype, reason, message, count, first, last) in enumerate(items):
        involved: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": name,
            "namespace": ns,
            "uid": pod["metadata"]["uid"],
            "resourceVersion": pod["metadata"]["resourceVersion"],
        }
        if container and reason not in {"Scheduled", "FailedMount", "FailedAttachVolume"}:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        event_name = f"{name}.{hexid(16, name, reason, i)}"
        component = "attachdetach-controller" if reason == "FailedAttachVolume" else "kubelet"
        events.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": event_name,
                    "namespace": ns,
                    "uid": uid("Event", ns, event_name),
                    "resourceVersion": rv("Event", ns, event_name),
                    "creationTimestamp": ts(first),
                },
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "source": {"component": component, "host": node}
                if component == "kubelet"
                else {"component": component},
                "firstTimestamp": ts(first),
                "lastTimestamp": ts(last),
                "count": count,
                "type": etype,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": node if component == "kubelet" else "",
            }
        )
    return events


def _scheduler_event(
    pod: Obj, note: str, *, count: int = 12, first: float = 40, last: float = 1
) -> Obj:
    """A FailedScheduling event as the scheduler writes it (events.k8s.io/v1, with series)."""
    name, ns = pod["metadata"]["name"], pod["metadata"]["namespace"]
    event_name = f"{name}.{hexid(16, name, 'FailedScheduling')}"
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {
            "name": event_name,
            "namespace": ns,
            "uid": uid("Event", ns, event_name),
            "resourceVersion": rv("Event", ns, event_name),
            "creationTimestamp": ts(first),
        },
        "eventTime": (COLLECTED - dt.timedelta(minutes=first)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "series": {
            "count": count,
            "lastObservedTime": (COLLECTED - dt.timedelta(minutes=last)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
        },
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-control-plane",
        "action": "Scheduling",
        "reason": "FailedScheduling",
        "regarding": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": name,
            "namespace": ns,
            "uid": pod["metadata"]["uid"],
            "resourceVersion": pod["metadata"]["resourceVersion"],
        },
        "note": note,
        "type": "Warning",
    }


def _pod_ref(pod: Obj) -> str:
    return f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})"


def crashloop(
    *,
    exit_code: int = 1,
    restarts: int = 7,
    reason: str = "Error",
    backoff: str = "5m0s",
    running: bool = False,
) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        last = terminated(
            reason, exit_code, started=4, finished=3.9, cid=_cid(pod, c["name"], n=restarts - 1)
        )
        state: Obj = (
            {"running": {"startedAt": ts(0.2)}}
            if running
            else {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {backoff} restarting failed container={c['name']} "
                    f"pod={_pod_ref(pod)}",
                }
            }
        )
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": _image_id(c["image"]),
                "containerID": f"containerd://{_cid(pod, c['name'], n=restarts - 1)}",
                "ready": False,
                "started": running,
                "restartCount": restarts,
                "state": state,
                "lastState": last,
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = _main(pod["spec"])
        return _kubelet_events(
            pod,
            [
                (
                    "Normal",
                    "Pulled",
                    f'Container image "{c["image"]}" already present on machine',
                    restarts,
                    30,
                    4,
                ),
                ("Normal", "Created", f"Created container: {c['name']}", restarts + 1, 30, 4),
                ("Normal", "Started", f"Started container {c['name']}", restarts + 1, 30, 4),
                (
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {c['name']} in pod {_pod_ref(pod)}",
                    restarts * 6,
                    28,
                    0.5,
                ),
            ],
            container=c["name"],
        )

    return PodState(ready=False, statuses=statuses, events=events)


def oom(*, restarts: int = 4, waiting: bool = True) -> PodState:
    state = crashloop(
        exit_code=137, restarts=restarts, reason="OOMKilled", running=not waiting, backoff="1m20s"
    )
    return state


def image_pull(image_error: str, *, backoff: bool = True) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        waiting = (
            {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{c["image"]}"'}
            if backoff
            else {"reason": "ErrImagePull", "message": image_error}
        )
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": waiting},
                "lastState": {},
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = _main(pod["spec"])
        return _kubelet_events(
            pod,
            [
                ("Normal", "Pulling", f'Pulling image "{c["image"]}"', 5, 25, 3),
                (
                    "Warning",
                    "Failed",
                    f'Failed to pull image "{c["image"]}": {image_error}',
                    5,
                    25,
                    3,
                ),
                ("Warning", "Failed", "Error: ErrImagePull", 5, 25, 3),
                ("Normal", "BackOff", f'Back-off pulling image "{c["image"]}"', 98, 25, 0.3),
                ("Warning", "Failed", "Error: ImagePullBackOff", 98, 25, 0.3),
            ],
            container=c["name"],
        )

    return PodState(phase="Pending", ready=False, statuses=statuses, events=events, started=False)


def invalid_image(message: str) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "InvalidImageName", "message": message}},
                "lastState": {},
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = _main(pod["spec"])
        return _kubelet_events(
            pod,
            [
                ("Warning", "InspectFailed", message, 40, 20, 0.5),
                ("Warning", "Failed", "Error: InvalidImageName", 40, 20, 0.5),
            ],
            container=c["name"],
        )

    return PodState(phase="Pending", ready=False, statuses=statuses, events=events, started=False)


def config_error(message: str) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "CreateContainerConfigError", "message": message}},
                "lastState": {},
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = _main(pod["spec"])
        return _kubelet_events(
            pod,
            [
                (
                    "Normal",
                    "Pulled",
                    f'Container image "{c["image"]}" already present on machine',
                    64,
                    15,
                    0.2,
                ),
                ("Warning", "Failed", f"Error: {message}", 64, 15, 0.2),
            ],
            container=c["name"],
        )

    return PodState(phase="Pending", ready=False, statuses=statuses, events=events, started=False)


def container_creating(events_spec: list[tuple[str, str, str, int, float, float]]) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
                "lastState": {},
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        return _kubelet_events(pod, events_spec, container=_main(pod["spec"])["name"])

    return PodState(phase="Pending", ready=False, statuses=statuses, events=events, started=False)


def not_ready(probe_message: str, *, count: int = 120) -> PodState:
    """Running, not ready, failing its readiness probe."""

    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": _image_id(c["image"]),
                "containerID": f"containerd://{_cid(pod, c['name'])}",
                "ready": False,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": ts(22)}},
                "lastState": {},
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = _main(pod["spec"])
        return _kubelet_events(
            pod,
            [("Warning", "Unhealthy", f"Readiness probe failed: {probe_message}", count, 21, 0.1)],
            container=c["name"],
        )

    return PodState(ready=False, statuses=statuses, events=events)


def liveness_restarts(probe_message: str, *, restarts: int = 6, exit_code: int = 137) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": _image_id(c["image"]),
                "containerID": f"containerd://{_cid(pod, c['name'], n=restarts - 1)}",
                "ready": False,
                "started": False,
                "restartCount": restarts,
                "state": {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 2m40s restarting failed container={c['name']} "
                        f"pod={_pod_ref(pod)}",
                    }
                },
                "lastState": terminated(
                    "Error",
                    exit_code,
                    started=3.5,
                    finished=2,
                    cid=_cid(pod, c["name"], n=restarts - 1),
                ),
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = _main(pod["spec"])
        return _kubelet_events(
            pod,
            [
                (
                    "Warning",
                    "Unhealthy",
                    f"Liveness probe failed: {probe_message}",
                    restarts * 3,
                    30,
                    2,
                ),
                (
                    "Normal",
                    "Killing",
                    f"Container {c['name']} failed liveness probe, will be restarted",
                    restarts,
                    30,
                    2,
                ),
                (
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {c['name']} in pod {_pod_ref(pod)}",
                    9,
                    20,
                    0.5,
                ),
            ],
            container=c["name"],
        )

    return PodState(ready=False, statuses=statuses, events=events)


def unschedulable(message: str, *, count: int = 14) -> PodState:
    def events(pod: Obj) -> list[Obj]:
        return [_scheduler_event(pod, message, count=count)]

    return PodState(
        phase="Pending",
        ready=False,
        statuses=lambda pod, spec: [],
        events=events,
        scheduled=("Unschedulable", message),
        started=False,
    )


def evicted(message: str) -> PodState:
    def statuses(pod: Obj, spec: Obj) -> list[Obj]:
        c = _main(spec)
        return [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": _image_id(c["image"]),
                "containerID": f"containerd://{_cid(pod, c['name'])}",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {
                    "terminated": {
                        "exitCode": 137,
                        "reason": "ContainerStatusUnknown",
                        "message": "The container could not be located when the pod was terminated",
                        "startedAt": ts(300),
                        "finishedAt": ts(45),
                    }
                },
                "lastState": {},
            }
        ]

    def events(pod: Obj) -> list[Obj]:
        c = _main(pod["spec"])
        return _kubelet_events(
            pod,
            [
                ("Warning", "Evicted", message.strip(), 1, 45, 45),
                ("Normal", "Killing", f"Stopping container {c['name']}", 1, 45, 45),
            ],
        )

    return PodState(
        phase="Failed",
        ready=False,
        statuses=statuses,
        events=events,
        reason="Evicted",
        message=message,
        extra_conditions=[
            {
                "type": "DisruptionTarget",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": ts(45),
                "reason": "TerminationByKubelet",
                "message": message.strip(),
            }
        ],
        ready_reason="PodFailed",
    )


def stale_on_dead_node() -> PodState:
    """A pod on a node whose kubelet stopped: containers last reported running, Ready=False."""
    state = healthy(age=900)
    state.ready = False
    state.ready_reason = ""
    return state


# -- Pods and workloads -----------------------------------------------------------------------


def _pod_conditions(pod_state: PodState, containers: list[str], *, age: float) -> list[Obj]:
    unready = f"containers with unready status: [{' '.join(containers)}]"
    if pod_state.scheduled:
        reason, message = pod_state.scheduled
        return [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": ts(age),
                "reason": reason,
                "message": message,
            }
        ]
    ready = "True" if pod_state.ready else "False"
    conditions: list[Obj] = [
        *pod_state.extra_conditions,
        {
            "type": "PodReadyToStartContainers",
            "status": "True" if pod_state.started or pod_state.phase == "Running" else "False",
            "lastProbeTime": None,
            "lastTransitionTime": ts(age - 0.2),
        },
        {
            "type": "Initialized",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": ts(age - 0.1),
        },
    ]
    for cond_type in ("Ready", "ContainersReady"):
        cond: Obj = {
            "type": cond_type,
            "status": ready,
            "lastProbeTime": None,
            "lastTransitionTime": ts(min(age, 20) if not pod_state.ready else age - 0.05),
        }
        if not pod_state.ready:
            if pod_state.ready_reason is None:
                cond["reason"] = "ContainersNotReady"
                cond["message"] = unready
            elif pod_state.ready_reason:
                cond["reason"] = pod_state.ready_reason
        conditions.append(cond)
    conditions.append(
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": ts(age),
        }
    )
    return conditions


def make_pod(
    owner: Obj | None,
    tmpl: Obj,
    *,
    pod_state: PodState,
    name: str,
    namespace: str,
    node: str,
    age: float = 60,
    extra_labels: dict[str, str] | None = None,
) -> tuple[Obj, list[Obj]]:
    labels = {**tmpl["metadata"]["labels"], **(extra_labels or {})}
    generate_name = (
        name.rsplit("-", 1)[0] + "-"
        if owner is not None and owner["kind"] == "ReplicaSet"
        else None
    )
    if owner is not None and owner["kind"] in {"StatefulSet", "DaemonSet"}:
        generate_name = owner["metadata"]["name"] + "-"
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(
            "Pod",
            name,
            namespace=namespace,
            age=age,
            labels=labels,
            owner=owner,
            generate_name=generate_name,
        ),
    }
    spec = copy.deepcopy(tmpl["spec"])
    token_volume = f"kube-api-access-{suffix(5, name, 'token')}"
    for c in spec["containers"]:
        c.setdefault("volumeMounts", []).append(
            {
                "name": token_volume,
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            }
        )
    spec.setdefault("volumes", []).append(
        {
            "name": token_volume,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "namespace",
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.namespace",
                                    },
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    if not pod_state.scheduled:
        spec["nodeName"] = pod_state.node or node
    spec["serviceAccountName"] = "default"
    spec["serviceAccount"] = "default"
    spec["enableServiceLinks"] = True
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    spec["priority"] = 0
    spec.setdefault("tolerations", [])
    spec["tolerations"] = [
        *spec["tolerations"],
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
    ]
    pod["spec"] = spec
    names = [c["name"] for c in spec["containers"]]
    status: Obj = {"phase": pod_state.phase}
    if pod_state.reason:
        status["reason"] = pod_state.reason
    if pod_state.message:
        status["message"] = pod_state.message
    status["conditions"] = _pod_conditions(pod_state, names, age=age)
    if not pod_state.scheduled:
        host = ip(spec["nodeName"], prefix="10.0")
        status["hostIP"] = host
        status["hostIPs"] = [{"ip": host}]
        if pod_state.phase != "Pending" or pod_state.started:
            pod_ip = ip(namespace, name)
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        status["startTime"] = ts(age)
        builder = pod_state.statuses or healthy().statuses
        statuses = builder(pod, spec) if builder else []
        if statuses:
            status["containerStatuses"] = statuses
    limits = [c.get("resources", {}).get("limits", {}) for c in spec["containers"]]
    requests = [c.get("resources", {}).get("requests", {}) for c in spec["containers"]]
    qos = "BestEffort" if not any(limits) and not any(requests) else "Burstable"
    if all(lim and lim == req for lim, req in zip(limits, requests, strict=True)):
        qos = "Guaranteed"
    status["qosClass"] = qos
    pod["status"] = status
    events = pod_state.events(pod) if pod_state.events else []
    return pod, events


@dataclasses.dataclass
class Rev:
    """One Deployment revision: its template's containers and its pods' states."""

    number: int
    containers: list[Obj]
    pods: list[PodState]
    age: float = 60
    replicas: int | None = None  # ReplicaSet spec.replicas; defaults to len(pods)
    volumes: list[Obj] | None = None
    extra_labels: dict[str, str] | None = None


NODES = ("node-a", "node-b", "node-c")


def deployment(
    namespace: str,
    name: str,
    *,
    revs: list[Rev],
    replicas: int,
    progress: str = "complete",
    labels: dict[str, str] | None = None,
    rs_conditions: dict[int, list[Obj]] | None = None,
    node_for: Callable[[int, int], str] | None = None,
    strategy: Obj | None = None,
    tmpl_extra: dict[str, Any] | None = None,
) -> list[Obj]:
    """A Deployment, its ReplicaSets (one per revision) and their pods, with events."""
    app_labels = labels or {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": namespace}
    newest = revs[-1]
    newest_tmpl = template(
        app_labels, newest.containers, volumes=newest.volumes, **(tmpl_extra or {})
    )
    dep: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(
            "Deployment",
            name,
            namespace=namespace,
            age=60 * 24 * 30,
            labels=app_labels,
            annotations={"deployment.kubernetes.io/revision": str(newest.number)},
            generation=newest.number + 1,
        ),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": dict(app_labels)},
            "strategy": strategy
            or {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": newest_tmpl,
        },
    }
    objects: list[Obj] = [dep]
    rs_list: list[Obj] = []
    total = ready_total = updated = 0
    for rev in revs:
        tmpl = template(app_labels, rev.containers, volumes=rev.volumes, **(tmpl_extra or {}))
        pod_hash = suffix(10, namespace, name, rev.number, "hash")
        tmpl["metadata"]["labels"]["pod-template-hash"] = pod_hash
        rs_name = f"{name}-{pod_hash}"
        rs_replicas = rev.replicas if rev.replicas is not None else len(rev.pods)
        ready = sum(1 for p in rev.pods if p.ready)
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta(
                "ReplicaSet",
                rs_name,
                namespace=namespace,
                age=rev.age,
                labels={**app_labels, "pod-template-hash": pod_hash},
                annotations={
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + max(1, replicas // 4)),
                    "deployment.kubernetes.io/revision": str(rev.number),
                },
                owner=dep,
                generation=2,
            ),
            "spec": {
                "replicas": rs_replicas,
                "selector": {"matchLabels": {**app_labels, "pod-template-hash": pod_hash}},
                "template": tmpl,
            },
            "status": {
                "replicas": len(rev.pods),
                "fullyLabeledReplicas": len(rev.pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "observedGeneration": 2,
            },
        }
        if not ready:
            del rs["status"]["readyReplicas"]
            del rs["status"]["availableReplicas"]
        if not rev.pods:
            rs["status"] = {"replicas": 0, "observedGeneration": 2}
        if rs_conditions and rev.number in rs_conditions:
            rs["status"]["conditions"] = rs_conditions[rev.number]
        objects.append(rs)
        rs_list.append(rs)
        for i, pod_state in enumerate(rev.pods):
            pod_name = f"{rs_name}-{suffix(5, rs_name, i)}"
            node = node_for(rev.number, i) if node_for else NODES[(i + rev.number) % len(NODES)]
            pod, events = make_pod(
                rs,
                tmpl,
                pod_state=pod_state,
                name=pod_name,
                namespace=namespace,
                node=node,
                age=min(rev.age, 60) if pod_state.phase != "Failed" else rev.age,
                extra_labels=rev.extra_labels,
            )
            objects.append(pod)
            objects.extend(events)
        total += len(rev.pods)
        ready_total += ready
        if rev is newest:
            updated = len(rev.pods)
    newest_rs = rs_list[-1]["metadata"]["name"]
    available = ready_total >= max(replicas - max(1, replicas // 4), 1) if replicas else True
    conditions = [
        {
            "type": "Available",
            "status": "True" if available else "False",
            "lastUpdateTime": ts(30),
            "lastTransitionTime": ts(30),
            "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
        }
    ]
    progressing = {
        "complete": (
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{newest_rs}" has successfully progressed.',
        ),
        "progressing": ("True", "ReplicaSetUpdated", f'ReplicaSet "{newest_rs}" is progressing.'),
        "deadline": (
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{newest_rs}" has timed out progressing.',
        ),
    }[progress]
    conditions.append(
        {
            "type": "Progressing",
            "status": progressing[0],
            "lastUpdateTime": ts(5),
            "lastTransitionTime": ts(5 if progress == "deadline" else 60),
            "reason": progressing[1],
            "message": progressing[2],
        }
    )
    dep["status"] = {
        "observedGeneration": newest.number + 1,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready_total,
        "availableReplicas": ready_total,
        "unavailableReplicas": max(replicas - ready_total, 0) or None,
        "conditions": conditions,
    }
    if dep["status"]["unavailableReplicas"] is None:
        del dep["status"]["unavailableReplicas"]
    if not ready_total:
        del dep["status"]["readyReplicas"]
        del dep["status"]["availableReplicas"]
    return objects


def statefulset(
    namespace: str,
    name: str,
    *,
    containers: list[Obj],
    pods: list[PodState],
    replicas: int | None = None,
    claim_templates: list[Obj] | None = None,
    tmpl_extra: dict[str, Any] | None = None,
    volumes: list[Obj] | None = None,
) -> list[Obj]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": namespace}
    tmpl = template(labels, containers, volumes=volumes, **(tmpl_extra or {}))
    revision = f"{name}-{suffix(10, namespace, name, 'sts')}"
    sts: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(
            "StatefulSet", name, namespace=namespace, age=60 * 24 * 20, labels=labels, generation=3
        ),
        "spec": {
            "replicas": replicas if replicas is not None else len(pods),
            "serviceName": name,
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": dict(labels)},
            "template": tmpl,
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
        },
    }
    if claim_templates:
        sts["spec"]["volumeClaimTemplates"] = claim_templates
    ready = sum(1 for p in pods if p.ready)
    sts["status"] = {
        "observedGeneration": 3,
        "replicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": len(pods),
        "updatedReplicas": len(pods),
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }
    objects: list[Obj] = [sts]
    for i, pod_state in enumerate(pods):
        pod_name = f"{name}-{i}"
        pod_tmpl = copy.deepcopy(tmpl)
        for claim in claim_templates or []:
            claim_name = claim["metadata"]["name"]
            pod_tmpl["spec"].setdefault("volumes", []).append(
                {
                    "name": claim_name,
                    "persistentVolumeClaim": {"claimName": f"{claim_name}-{pod_name}"},
                }
            )
        pod, events = make_pod(
            sts,
            pod_tmpl,
            pod_state=pod_state,
            name=pod_name,
            namespace=namespace,
            node=NODES[i % len(NODES)],
            extra_labels={
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(i),
            },
        )
        objects.append(pod)
        objects.extend(events)
    return objects


def daemonset(
    namespace: str, name: str, *, containers: list[Obj], pods: list[PodState], **tmpl_extra: Any
) -> list[Obj]:
    labels = {"app.kubernetes.io/name": name}
    tmpl = template(labels, containers, **tmpl_extra)
    revision = suffix(10, namespace, name, "ds")
    ds: Obj = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta(
            "DaemonSet", name, namespace=namespace, age=60 * 24 * 60, labels=labels, generation=4
        ),
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "template": tmpl,
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            },
            "revisionHistoryLimit": 10,
        },
    }
    ready = sum(1 for p in pods if p.ready)
    ds["status"] = {
        "currentNumberScheduled": len(pods),
        "desiredNumberScheduled": len(pods),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        "numberUnavailable": len(pods) - ready,
        "updatedNumberScheduled": len(pods),
        "observedGeneration": 4,
    }
    if not ready:
        del ds["status"]["numberAvailable"]
    objects: list[Obj] = [ds]
    for i, pod_state in enumerate(pods):
        pod_name = f"{name}-{suffix(5, name, i)}"
        pod, events = make_pod(
            ds,
            tmpl,
            pod_state=pod_state,
            name=pod_name,
            namespace=namespace,
            node=NODES[i % len(NODES)],
            extra_labels={"controller-revision-hash": revision, "pod-template-generation": "4"},
        )
        objects.append(pod)
        objects.extend(events)
    return objects


def bare_pod(
    namespace: str, name: str, *, containers: list[Obj], pod_state: PodState, node: str = "node-a"
) -> list[Obj]:
    tmpl = template({"run": name}, containers)
    tmpl["spec"]["restartPolicy"] = "Always"
    pod, events = make_pod(
        None, tmpl, pod_state=pod_state, name=name, namespace=namespace, node=node, age=45
    )
    return [pod, *events]


# -- Cluster objects --------------------------------------------------------------------------


def node(
    name: str,
    *,
    ready: str = "True",
    reason: str = "KubeletReady",
    message: str = "kubelet is posting ready status",
    taints: list[Obj] | None = None,
    unschedulable: bool = False,
    heartbeat_ago: float = 0.3,
    labels: dict[str, str] | None = None,
    memory: str = "16322948Ki",
    cpu: str = "4",
) -> Obj:
    pressure_status = "Unknown" if ready == "Unknown" else "False"
    pressure_reason = "NodeStatusUnknown" if ready == "Unknown" else None
    conditions = []
    for cond_type, ok_reason, ok_message in (
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ):
        conditions.append(
            {
                "type": cond_type,
                "status": pressure_status,
                "lastHeartbeatTime": ts(heartbeat_ago),
                "lastTransitionTime": ts(60 * 24 * 10 if ready == "True" else heartbeat_ago - 0.7),
                "reason": pressure_reason or ok_reason,
                "message": "Kubelet stopped posting node status."
                if pressure_reason
                else ok_message,
            }
        )
    conditions.append(
        {
            "type": "Ready",
            "status": ready,
            "lastHeartbeatTime": ts(heartbeat_ago),
            "lastTransitionTime": ts(
                60 * 24 * 10 if ready == "True" else max(heartbeat_ago - 0.7, 10)
            ),
            "reason": reason,
            "message": message,
        }
    )
    node_labels = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "m6i.xlarge",
        "topology.kubernetes.io/zone": f"eu-west-1{'abc'[sum(map(ord, name)) % 3]}",
        **(labels or {}),
    }
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(
            "Node",
            name,
            age=60 * 24 * 40,
            labels=node_labels,
            annotations={"node.alpha.kubernetes.io/ttl": "0"},
        ),
        "spec": {
            "podCIDR": f"10.244.{sum(map(ord, name)) % 200}.0/24",
            "providerID": f"aws:///eu-west-1a/i-{hexid(17, name)}",
        },
        "status": {
            "capacity": {
                "cpu": cpu,
                "ephemeral-storage": "81106868Ki",
                "memory": memory,
                "pods": "110",
            },
            "allocatable": {
                "cpu": cpu,
                "ephemeral-storage": "74748089537",
                "memory": memory,
                "pods": "110",
            },
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": ip(name, prefix="10.0")},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.1.119-129.201.amzn2023.x86_64",
                "kubeletVersion": "v1.31.4",
                "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023.6.20241212",
            },
        },
    }
    if taints:
        obj["spec"]["taints"] = taints
    if unschedulable:
        obj["spec"]["unschedulable"] = True
    return obj


def node_event(
    node_obj: Obj,
    reason: str,
    *,
    message: str,
    etype: str = "Normal",
    component: str = "node-controller",
    age: float = 12,
) -> Obj:
    name = node_obj["metadata"]["name"]
    event_name = f"{name}.{hexid(16, name, reason)}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event_name,
            "namespace": "default",
            "uid": uid("Event", "default", event_name),
            "resourceVersion": rv("Event", event_name),
            "creationTimestamp": ts(age),
        },
        "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": name, "uid": name},
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": ts(age),
        "lastTimestamp": ts(age),
        "count": 1,
        "type": etype,
        "reportingComponent": component,
        "reportingInstance": "",
    }


def object_event(
    obj: Obj,
    reason: str,
    *,
    message: str,
    etype: str = "Warning",
    component: str,
    count: int = 1,
    first: float = 30,
    last: float = 1,
) -> Obj:
    md = obj["metadata"]
    event_name = f"{md['name']}.{hexid(16, md['name'], reason, message)}"
    ns = md.get("namespace", "default")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event_name,
            "namespace": ns,
            "uid": uid("Event", ns, event_name),
            "resourceVersion": rv("Event", ns, event_name),
            "creationTimestamp": ts(first),
        },
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": md["name"],
            "namespace": ns,
            "uid": md["uid"],
            "resourceVersion": md["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(last),
        "count": count,
        "type": etype,
        "reportingComponent": component,
        "reportingInstance": "",
    }


def pvc(
    namespace: str,
    name: str,
    *,
    phase: str,
    storage_class: str,
    size: str = "20Gi",
    volume: str | None = None,
    mode: str = "ReadWriteOnce",
    labels: dict[str, str] | None = None,
) -> Obj:
    obj: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(
            "PersistentVolumeClaim",
            name,
            namespace=namespace,
            age=90,
            labels=labels,
            annotations={
                "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
                "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
            },
        ),
        "spec": {
            "accessModes": [mode],
            "resources": {"requests": {"storage": size}},
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
        },
        "status": {"phase": phase},
    }
    obj["metadata"]["finalizers"] = ["kubernetes.io/pvc-protection"]
    if volume:
        obj["spec"]["volumeName"] = volume
        obj["status"] |= {"accessModes": [mode], "capacity": {"storage": size}}
    return obj


def service(
    namespace: str,
    name: str,
    *,
    selector: dict[str, str],
    port: int = 80,
    target_port: int | str = 8080,
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(
            "Service",
            name,
            namespace=namespace,
            age=60 * 24 * 30,
            labels={"app.kubernetes.io/name": name},
        ),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip(namespace, name, prefix="10.96"),
            "clusterIPs": [ip(namespace, name, prefix="10.96")],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": target_port}],
            "selector": selector,
        },
        "status": {"loadBalancer": {}},
    }


def endpointslice(svc: Obj, endpoints: list[Obj], *, port: int = 8080) -> Obj:
    name = f"{svc['metadata']['name']}-{suffix(5, svc['metadata']['name'], 'eps')}"
    ns = svc["metadata"]["namespace"]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta(
            "EndpointSlice",
            name,
            namespace=ns,
            age=60,
            labels={
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                "kubernetes.io/service-name": svc["metadata"]["name"],
                "app.kubernetes.io/name": svc["metadata"]["name"],
            },
            annotations={"endpoints.kubernetes.io/last-change-trigger-time": ts(3)},
            owner={**svc, "apiVersion": "v1"},
            generate_name=f"{svc['metadata']['name']}-",
        ),
        "addressType": "IPv4",
        "endpoints": endpoints or None,
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    }


def endpoint_for(pod: Obj, *, ready: bool) -> Obj:
    return {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {"ready": ready, "serving": ready, "terminating": False},
        "nodeName": pod["spec"]["nodeName"],
        "targetRef": {
            "kind": "Pod",
            "name": pod["metadata"]["name"],
            "namespace": pod["metadata"]["namespace"],
            "uid": pod["metadata"]["uid"],
        },
    }


def resource_quota(namespace: str, name: str, *, hard: dict[str, str], used: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta("ResourceQuota", name, namespace=namespace, age=60 * 24 * 90),
        "spec": {"hard": dict(hard)},
        "status": {"hard": dict(hard), "used": dict(used)},
    }


def hpa(
    namespace: str,
    name: str,
    *,
    target_kind: str,
    target_name: str,
    min_replicas: int,
    max_replicas: int,
    current: int,
    desired: int,
    cpu_target: int,
    cpu_current: int,
    limited: bool = True,
) -> Obj:
    conditions = [
        {
            "type": "AbleToScale",
            "status": "True",
            "lastTransitionTime": ts(60 * 24),
            "reason": "ReadyForNewScale",
            "message": "recommended size matches current size",
        },
        {
            "type": "ScalingActive",
            "status": "True",
            "lastTransitionTime": ts(60 * 24),
            "reason": "ValidMetricFound",
            "message": "the HPA was able to successfully calculate a replica count from cpu "
            "resource utilization (percentage of request)",
        },
    ]
    if limited:
        conditions.append(
            {
                "type": "ScalingLimited",
                "status": "True",
                "lastTransitionTime": ts(42),
                "reason": "TooManyReplicas",
                "message": "the desired replica count is more than the maximum replica count",
            }
        )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("HorizontalPodAutoscaler", name, namespace=namespace, age=60 * 24 * 30),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": target_kind, "name": target_name},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": cpu_target},
                    },
                }
            ],
        },
        "status": {
            "currentReplicas": current,
            "desiredReplicas": desired,
            "lastScaleTime": ts(42),
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {
                            "averageUtilization": cpu_current,
                            "averageValue": f"{cpu_current * 5}m",
                        },
                    },
                }
            ],
            "conditions": conditions,
        },
    }


def alert(
    name: str, namespace: str, *, summary: str, severity: str = "warning", **labels: str
) -> Obj:
    all_labels = {"alertname": name, "namespace": namespace, "severity": severity, **labels}
    return {
        "status": "firing",
        "labels": all_labels,
        "annotations": {
            "summary": summary,
            "runbook_url": f"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{name.lower()}",
        },
        "startsAt": ts(25),
        "generatorURL": f"http://prometheus.monitoring.svc:9090/graph?g0.expr={name}",
        "fingerprint": hexid(16, name, namespace, *labels.values()),
    }


def pods_of(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] == "Pod"]


# -- Scenarios --------------------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    file: str
    description: str
    category: str
    action: str
    target: Obj
    objects: list[Obj]
    params: dict[str, Any] | None = None
    alerts: list[Obj] = dataclasses.field(default_factory=list)
    logs: list[Obj] = dataclasses.field(default_factory=list)
    metrics: list[Obj] = dataclasses.field(default_factory=list)


SCENARIOS: list[Scenario] = []


def scenario(
    file: str,
    description: str,
    *,
    category: str,
    action: str,
    target: tuple[str, str | None, str],
    objects: list[Obj],
    params: dict[str, Any] | None = None,
    alerts: list[Obj] | None = None,
    logs: list[Obj] | None = None,
    metrics: list[Obj] | None = None,
) -> None:
    kind, namespace, name = target
    target_obj: Obj = {"kind": kind, "name": name}
    if namespace:
        target_obj["namespace"] = namespace
    SCENARIOS.append(
        Scenario(
            file=file,
            description=description,
            category=category,
            action=action,
            target=target_obj,
            objects=objects,
            params=params,
            alerts=alerts or [],
            logs=logs or [],
            metrics=metrics or [],
        )
    )


def log(pod: Obj, text: str, *, container: str = "app", previous: bool = True) -> Obj:
    return {
        "namespace": pod["metadata"]["namespace"],
        "pod": pod["metadata"]["name"],
        "container": container,
        "previous": previous,
        "text": text,
    }


def working_set_metric(
    namespace: str, workload: str, *, container_name: str, pods: list[Obj], peak_bytes: list[int]
) -> Obj:
    return {
        "query": (
            f'max_over_time(container_memory_working_set_bytes{{namespace="{namespace}",'
            f'pod=~"{workload}-.*",container="{container_name}"}}[1h])'
        ),
        "data": {
            "resultType": "vector",
            "result": [
                {
                    "metric": {
                        "container": container_name,
                        "namespace": namespace,
                        "pod": p["metadata"]["name"],
                    },
                    "value": [int(COLLECTED.timestamp()), str(v)],
                }
                for p, v in zip(pods, peak_bytes, strict=False)
            ],
        },
    }


def img(repo: str, tag: str) -> str:
    return f"{REGISTRY}/{repo}:{tag}"


def web_container(repo: str, tag: str, **kwargs: Any) -> Obj:
    name = kwargs.pop("name", "app")
    kwargs.setdefault("readiness", http_probe("/readyz"))
    kwargs.setdefault("liveness", http_probe("/healthz", period=20))
    return container(name, img(repo, tag), **kwargs)


GO_PANIC = """\
2025/03/14 10:26:01 starting checkout service version=2.8.1
2025/03/14 10:26:01 connecting to payments at payments.shop.svc:8443
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x9c6f4e]

goroutine 1 [running]:
main.(*Server).loadPromotions(0x0, {0xc0001a2000, 0x3, 0x4})
\t/src/cmd/checkout/promotions.go:42 +0x2e
main.main()
\t/src/cmd/checkout/main.go:87 +0x3d5
"""


def build_oom() -> None:
    objs = deployment(
        "shop",
        "web",
        revs=[
            Rev(
                4,
                [web_container("shop/web", "1.4.2", mem_limit="128Mi", mem_request="96Mi")],
                [oom(restarts=4), oom(restarts=3, waiting=False), oom(restarts=5)],
                age=60 * 24 * 2,
            )
        ],
        replicas=3,
    )
    scenario(
        "oom-deployment-limit-too-low.yaml",
        "All three pods of a single-revision Deployment are OOMKilled at a 128Mi limit; no "
        "metrics.",
        category="OOMKilled",
        action="SetResources",
        params={"container": "app", "memoryLimit": "192Mi"},
        target=("Deployment", "shop", "web"),
        objects=objs + [node(n) for n in NODES],
        alerts=[
            alert(
                "KubePodCrashLooping",
                "shop",
                summary="Pod shop/web is crash looping.",
                container="app",
            )
        ],
    )

    objs = deployment(
        "shop",
        "cart",
        revs=[
            Rev(
                2,
                [
                    web_container(
                        "shop/cart", "3.1.0", name="cart", mem_limit="512Mi", mem_request="384Mi"
                    )
                ],
                [oom(restarts=2, waiting=False), oom(restarts=3)],
                age=60 * 24,
            )
        ],
        replicas=2,
    )
    pods = pods_of(objs)
    scenario(
        "oom-deployment-with-metrics.yaml",
        "OOMKilled cart pods with a Prometheus working-set peak right under the 512Mi limit.",
        category="OOMKilled",
        action="SetResources",
        params={"container": "cart", "memoryLimit": "768Mi"},
        target=("Deployment", "shop", "cart"),
        objects=objs,
        metrics=[
            working_set_metric(
                "shop", "cart", container_name="cart", pods=pods, peak_bytes=[533725184, 531628032]
            )
        ],
        alerts=[
            alert(
                "KubePodCrashLooping",
                "shop",
                summary="Pod shop/cart is crash looping.",
                container="cart",
            )
        ],
    )

    objs = statefulset(
        "data",
        "postgres",
        containers=[
            container(
                "postgres",
                "docker.io/library/postgres:16.4",
                port=5432,
                mem_limit="1Gi",
                mem_request="1Gi",
                cpu_request="500m",
                cpu_limit="500m",
            )
        ],
        pods=[oom(restarts=6), healthy(restarts=0)],
        claim_templates=[
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "50Gi"}},
                    "storageClassName": "gp3",
                },
            }
        ],
    )
    pods = pods_of(objs)
    scenario(
        "oom-statefulset.yaml",
        "The primary of a StatefulSet is OOMKilled at 1Gi; metrics show a peak of 1020Mi.",
        category="OOMKilled",
        action="SetResources",
        params={"container": "postgres", "memoryLimit": "1536Mi"},
        target=("StatefulSet", "data", "postgres"),
        objects=objs,
        metrics=[
            working_set_metric(
                "data",
                "postgres",
                container_name="postgres",
                pods=pods,
                peak_bytes=[1069547520, 402653184],
            )
        ],
        logs=[
            log(
                pods[0],
                "2025-03-14 10:27:45.112 UTC [1] LOG:  database system is ready to accept "
                "connections\n2025-03-14 10:28:31.004 UTC [88] LOG:  checkpoint starting: time\n",
                container="postgres",
            )
        ],
    )

    objs = deployment(
        "shop",
        "recommender",
        revs=[
            Rev(
                9,
                [
                    web_container(
                        "shop/recommender",
                        "0.9.3",
                        mem_limit="2Gi",
                        mem_request="1Gi",
                        cpu_request="250m",
                    )
                ],
                [oom(restarts=2), healthy()],
                age=300,
            )
        ],
        replicas=2,
    )
    pod = pods_of(objs)[0]
    # NB: the ReplicaSet is left out on purpose: the Deployment must be inferred from the pod's
    # pod-template-hash label, as when the collector could not read ReplicaSets.
    kept = [o for o in objs if o["kind"] != "ReplicaSet"]
    scenario(
        "oom-pod-target.yaml",
        "A single Pod is the target; its Deployment is found through the pod-template-hash "
        "(ReplicaSet missing).",
        category="OOMKilled",
        action="SetResources",
        params={"container": "app", "memoryLimit": "3Gi"},
        target=("Pod", "shop", pod["metadata"]["name"]),
        objects=kept,
    )

    objs = deployment(
        "batch",
        "worker",
        revs=[
            Rev(
                1,
                [
                    container(
                        "worker",
                        img("batch/worker", "2024.11"),
                        port=None,
                        mem_limit=None,
                        mem_request=None,
                        cpu_request="1",
                    )
                ],
                [oom(restarts=3), oom(restarts=2, waiting=False)],
                age=60 * 5,
            )
        ],
        replicas=2,
        labels={"app": "worker"},
    )
    scenario(
        "oom-no-memory-limit.yaml",
        "A container without a memory limit is OOMKilled under node pressure: a human must size "
        "it.",
        category="OOMKilled",
        action="Escalate",
        target=("Deployment", "batch", "worker"),
        objects=objs,
    )

    containers_4 = [web_container("shop/search", "5.2.0", mem_limit="1Gi", mem_request="768Mi")]
    containers_5 = [web_container("shop/search", "5.2.1", mem_limit="1Gi", mem_request="768Mi")]
    objs = deployment(
        "shop",
        "search",
        revs=[
            Rev(
                4,
                containers_4,
                [oom(restarts=9, waiting=False), oom(restarts=8, waiting=False)],
                age=60 * 24 * 3,
                replicas=2,
            ),
            Rev(5, containers_5, [oom(restarts=2)], age=40, replicas=1),
        ],
        replicas=3,
        progress="progressing",
    )
    scenario(
        "oom-both-revisions.yaml",
        "Look-alike of a bad rollout: the new revision OOMs, but so does the previous one: "
        "OOMKilled, not BadRollout.",
        category="OOMKilled",
        action="SetResources",
        params={"container": "app", "memoryLimit": "1536Mi"},
        target=("Deployment", "shop", "search"),
        objects=objs,
    )


def build_crash_loop() -> None:
    objs = deployment(
        "shop",
        "checkout",
        revs=[
            Rev(
                12,
                [web_container("shop/checkout", "2.8.1")],
                [crashloop(exit_code=2, restarts=9), crashloop(exit_code=2, restarts=8)],
                age=60 * 24,
            )
        ],
        replicas=2,
    )
    pods = pods_of(objs)
    scenario(
        "crashloop-app-panic.yaml",
        "A Go service panics on start (exit code 2) on every pod of a single-revision Deployment.",
        category="CrashLoop",
        action="Escalate",
        target=("Deployment", "shop", "checkout"),
        objects=objs,
        logs=[log(p, GO_PANIC) for p in pods],
        alerts=[
            alert(
                "KubePodCrashLooping",
                "shop",
                summary="Pod shop/checkout is crash looping.",
                container="app",
            )
        ],
    )

    objs = deployment(
        "shop",
        "payments",
        revs=[
            Rev(
                2,
                [web_container("shop/payments", "1.0.7")],
                [crashloop(restarts=31), crashloop(restarts=30)],
                age=60 * 24 * 2,
                replicas=2,
            ),
            Rev(
                3,
                [web_container("shop/payments", "1.0.8")],
                [crashloop(restarts=4)],
                age=30,
                replicas=1,
            ),
        ],
        replicas=3,
        progress="deadline",
    )
    pods = pods_of(objs)
    scenario(
        "crashloop-both-revisions-failing.yaml",
        "Look-alike of a bad rollout: revision 3 crashes, but revision 2 crashed before it: "
        "CrashLoop.",
        category="CrashLoop",
        action="Escalate",
        target=("Deployment", "shop", "payments"),
        objects=objs,
        logs=[
            log(
                pods[0],
                "INFO  PaymentsApplication starting\nERROR Application run "
                "failed\njava.lang.IllegalStateException: Failed to load ApplicationContext: "
                "missing property 'stripe.api.key'\n",
            )
        ],
    )

    objs = deployment(
        "shop",
        "orders",
        revs=[
            Rev(
                6,
                [web_container("shop/orders", "4.4.0")],
                [crashloop(restarts=5), crashloop(restarts=5), crashloop(restarts=4)],
                age=60 * 24 * 5,
            )
        ],
        replicas=3,
    )
    pods = pods_of(objs)
    db_log = (
        '{"level":"info","ts":"2025-03-14T10:27:12Z","msg":"starting orders service"}\n'
        '{"level":"fatal","ts":"2025-03-14T10:27:17Z","msg":"cannot connect to database",'
        '"error":"dial tcp 10.96.12.40:5432: connect: connection refused"}\n'
    )
    scenario(
        "crashloop-db-unreachable.yaml",
        "Pods exit because the database refuses connections: restart once it is back, and "
        "escalate.",
        category="CrashLoop",
        action="RestartRollout",
        target=("Deployment", "shop", "orders"),
        objects=objs,
        logs=[log(p, db_log) for p in pods],
    )

    objs = bare_pod(
        "default",
        "debug-shell",
        containers=[
            container(
                "shell",
                "docker.io/library/busybox:1.37",
                port=None,
                command=["/bin/ash", "-c", "tail -f /dev/null"],
                mem_limit=None,
                mem_request=None,
                cpu_request=None,
            )
        ],
        pod_state=crashloop(exit_code=127, restarts=6),
    )
    scenario(
        "crashloop-bare-pod.yaml",
        "A bare Pod (no controller) whose command is not in the image (exit code 127).",
        category="CrashLoop",
        action="Escalate",
        target=("Pod", "default", "debug-shell"),
        objects=objs,
        logs=[log(objs[0], "/bin/sh: /bin/ash: not found\n", container="shell")],
    )

    objs = daemonset(
        "monitoring",
        "node-exporter",
        containers=[
            container(
                "node-exporter",
                "quay.io/prometheus/node-exporter:v1.8.2",
                port=9100,
                mem_limit="180Mi",
                mem_request="50Mi",
                args=["--web.listen-address=:9100"],
            )
        ],
        pods=[crashloop(restarts=12), healthy(), crashloop(restarts=11)],
    )
    pods = pods_of(objs)
    scenario(
        "crashloop-daemonset.yaml",
        "A DaemonSet pod cannot bind its port on two nodes.",
        category="CrashLoop",
        action="Escalate",
        target=("DaemonSet", "monitoring", "node-exporter"),
        objects=objs,
        logs=[
            log(
                p,
                'ts=2025-03-14T10:28:40Z caller=node_exporter.go:223 level=error err="listen tcp '
                ':9100: bind: address already in use"\n',
                container="node-exporter",
            )
            for p in pods
            if p["status"]["containerStatuses"][0]["restartCount"]
        ],
    )


def build_bad_rollout() -> None:
    objs = deployment(
        "shop",
        "frontend",
        revs=[
            Rev(1, [web_container("shop/frontend", "7.0.3")], [], age=60 * 24 * 20, replicas=0),
            Rev(
                2,
                [web_container("shop/frontend", "7.1.0")],
                [healthy(), healthy(), healthy()],
                age=60 * 24 * 6,
                replicas=3,
            ),
            Rev(
                3,
                [web_container("shop/frontend", "7.2.0")],
                [crashloop(restarts=5)],
                age=25,
                replicas=1,
            ),
        ],
        replicas=3,
        progress="deadline",
    )
    pods = pods_of(objs)
    scenario(
        "badrollout-crash.yaml",
        "Revision 3 crash-loops while revision 2 still serves with 3 ready pods (revision 1 is "
        "scaled to zero).",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 2},
        target=("Deployment", "shop", "frontend"),
        objects=objs,
        logs=[
            log(
                pods[-1],
                "Error: Cannot find module '/app/dist/server.js'\n    at Module._resolveFilename "
                "(node:internal/modules/cjs/loader:1145:15)\n",
            )
        ],
    )

    objs = deployment(
        "shop",
        "catalog",
        revs=[
            Rev(
                4,
                [web_container("shop/catalog", "2.3.0", mem_limit="512Mi", mem_request="256Mi")],
                [healthy(), healthy()],
                age=60 * 24 * 9,
                replicas=2,
            ),
            Rev(
                5,
                [web_container("shop/catalog", "2.3.0", mem_limit="128Mi", mem_request="128Mi")],
                [oom(restarts=3)],
                age=20,
                replicas=1,
            ),
        ],
        replicas=2,
        progress="progressing",
    )
    scenario(
        "badrollout-oom-lowered-limit.yaml",
        "Look-alike of OOMKilled: revision 5 lowered the memory limit 512Mi -> 128Mi and OOMs; "
        "revision 4 is healthy.",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 4},
        target=("Deployment", "shop", "catalog"),
        objects=objs,
    )

    objs = deployment(
        "shop",
        "web",
        revs=[
            Rev(
                1,
                [web_container("shop/web", "1.4.2")],
                [healthy(), healthy(), healthy()],
                age=60 * 24 * 4,
                replicas=3,
            ),
            Rev(
                2,
                [web_container("shop/web", "1.4.3-rc1")],
                [
                    image_pull(
                        "rpc error: code = NotFound desc = failed to pull and unpack image "
                        f'"{img("shop/web", "1.4.3-rc1")}": failed to resolve reference '
                        f'"{img("shop/web", "1.4.3-rc1")}": {img("shop/web", "1.4.3-rc1")}: not '
                        "found"
                    )
                ],
                age=18,
                replicas=1,
            ),
        ],
        replicas=3,
        progress="progressing",
    )
    scenario(
        "badrollout-image-typo.yaml",
        "Look-alike of ImagePullError: revision 2 names a tag that does not exist; revision 1 is "
        "healthy.",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 1},
        target=("Deployment", "shop", "web"),
        objects=objs,
    )

    env_6 = [
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "url"}}}
    ]
    env_7 = [
        *env_6,
        {
            "name": "FEATURE_FLAGS_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "flags-token"}},
        },
    ]
    objs = deployment(
        "shop",
        "api",
        revs=[
            Rev(
                6,
                [web_container("shop/api", "9.12.0", env=env_6)],
                [healthy(), healthy()],
                age=60 * 24 * 11,
                replicas=2,
            ),
            Rev(
                7,
                [web_container("shop/api", "9.13.0", env=env_7)],
                [config_error("couldn't find key flags-token in Secret shop/api-db")],
                age=15,
                replicas=1,
            ),
        ],
        replicas=2,
        progress="progressing",
    )
    scenario(
        "badrollout-missing-config-key.yaml",
        "Look-alike of ConfigError: revision 7 adds an env var from a Secret key that does not "
        "exist; revision 6 is healthy.",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 6},
        target=("Deployment", "shop", "api"),
        objects=objs,
    )

    objs = deployment(
        "shop",
        "gateway",
        revs=[
            Rev(
                1,
                [web_container("shop/gateway", "1.9.0", readiness=http_probe("/readyz"))],
                [healthy(), healthy()],
                age=60 * 24 * 14,
                replicas=2,
            ),
            Rev(
                2,
                [web_container("shop/gateway", "1.10.0", readiness=http_probe("/ready"))],
                [not_ready("HTTP probe failed with statuscode: 404")],
                age=22,
                replicas=1,
            ),
        ],
        replicas=2,
        progress="deadline",
    )
    scenario(
        "badrollout-readiness.yaml",
        "Look-alike of ProbeFailure: revision 2 changed the readiness path and never becomes "
        "ready; revision 1 is healthy.",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 1},
        target=("Deployment", "shop", "gateway"),
        objects=objs,
    )

    objs = deployment(
        "shop",
        "inventory",
        revs=[
            Rev(8, [web_container("shop/inventory", "3.0.0")], [], age=60 * 24 * 30, replicas=0),
            Rev(
                9,
                [web_container("shop/inventory", "3.1.0")],
                [healthy(), healthy()],
                age=60 * 24 * 3,
                replicas=2,
            ),
            Rev(
                10,
                [web_container("shop/inventory", "3.2.0")],
                [crashloop(exit_code=1, restarts=4)],
                age=12,
                replicas=1,
            ),
        ],
        replicas=2,
        progress="progressing",
    )
    failing = next(p for p in pods_of(objs) if p["status"]["containerStatuses"][0]["restartCount"])
    scenario(
        "badrollout-pod-target.yaml",
        "The target is a crash-looping Pod of revision 10; its Deployment's revision 9 is healthy.",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 9},
        target=("Pod", "shop", failing["metadata"]["name"]),
        objects=objs,
        logs=[
            log(
                failing,
                'Traceback (most recent call last):\n  File "/app/main.py", line 4, in '
                "<module>\n    from inventory.sync import Syncer\nModuleNotFoundError: No module "
                "named 'inventory.sync'\n",
            )
        ],
    )


def build_image_pull() -> None:
    image = img("ml/inference", "2.0.0-cuda12")
    error = (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )
    objs = deployment(
        "ml",
        "inference",
        revs=[
            Rev(
                1,
                [
                    container(
                        "server",
                        image,
                        port=8000,
                        mem_limit="8Gi",
                        mem_request="6Gi",
                        cpu_request="2",
                    )
                ],
                [image_pull(error), image_pull(error, backoff=False)],
                age=20,
            )
        ],
        replicas=2,
        progress="progressing",
    )
    scenario(
        "imagepull-tag-not-found.yaml",
        "A new single-revision Deployment whose image tag does not exist.",
        category="ImagePullError",
        action="Escalate",
        target=("Deployment", "ml", "inference"),
        objects=objs,
    )

    image = "private.registry.example.com/platform/fluent-bit:3.1.9"
    error = (
        f'rpc error: code = Unknown desc = failed to pull and unpack image "{image}": failed to '
        f'resolve reference "{image}": pull access denied, repository does not exist or may '
        "require authorization: server message: insufficient_scope: authorization failed"
    )
    objs = daemonset(
        "logging",
        "fluent-bit",
        containers=[
            container("fluent-bit", image, port=2020, mem_limit="200Mi", mem_request="64Mi")
        ],
        pods=[image_pull(error, backoff=False), image_pull(error), image_pull(error)],
        image_pull_secrets=["regcred"],
    )
    scenario(
        "imagepull-private-registry-daemonset.yaml",
        "A DaemonSet pulling from a private registry without valid credentials.",
        category="ImagePullError",
        action="Escalate",
        target=("DaemonSet", "logging", "fluent-bit"),
        objects=objs,
    )

    objs = bare_pod(
        "default",
        "migrate-once",
        containers=[
            container("migrate", "registry.example.com/shop/migrate:v1.2.0:latest", port=None)
        ],
        pod_state=invalid_image(
            "Failed to apply default image tag "
            '"registry.example.com/shop/migrate:v1.2.0:latest": couldn\'t parse image name '
            '"registry.example.com/shop/migrate:v1.2.0:latest": invalid reference format'
        ),
    )
    scenario(
        "imagepull-invalid-name-pod.yaml",
        "A Pod whose image reference is malformed (InvalidImageName).",
        category="ImagePullError",
        action="Escalate",
        target=("Pod", "default", "migrate-once"),
        objects=objs,
    )


def build_config_error() -> None:
    objs = deployment(
        "shop",
        "storefront",
        revs=[
            Rev(
                1,
                [
                    web_container(
                        "shop/storefront",
                        "1.0.0",
                        env_from=[{"configMapRef": {"name": "app-config"}}],
                    )
                ],
                [
                    config_error('configmap "app-config" not found'),
                    config_error('configmap "app-config" not found'),
                ],
                age=15,
            )
        ],
        replicas=2,
        progress="progressing",
    )
    scenario(
        "config-missing-configmap.yaml",
        "Containers reference ConfigMap 'app-config' through envFrom; it does not exist.",
        category="ConfigError",
        action="Escalate",
        target=("Deployment", "shop", "storefront"),
        objects=objs,
    )

    env = [
        {
            "name": "DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}},
        }
    ]
    objs = deployment(
        "shop",
        "billing",
        revs=[
            Rev(
                3,
                [web_container("shop/billing", "5.0.2", env=env)],
                [config_error("couldn't find key password in Secret shop/db-credentials")],
                age=60 * 2,
            )
        ],
        replicas=1,
        progress="deadline",
    )
    scenario(
        "config-missing-secret-key.yaml",
        "A Secret exists but lacks the key 'password' that an env var needs.",
        category="ConfigError",
        action="Escalate",
        target=("Deployment", "shop", "billing"),
        objects=objs,
    )

    volumes = [{"name": "nginx-conf", "configMap": {"name": "nginx-conf", "defaultMode": 420}}]
    mounts = [{"name": "nginx-conf", "mountPath": "/etc/nginx/conf.d"}]
    mount_events = [
        (
            "Warning",
            "FailedMount",
            'MountVolume.SetUp failed for volume "nginx-conf" : configmap "nginx-conf" not found',
            13,
            11,
            0.5,
        ),
    ]
    objs = deployment(
        "ingress",
        "edge-proxy",
        revs=[
            Rev(
                1,
                [container("nginx", "docker.io/library/nginx:1.27.3", port=80, mounts=mounts)],
                [container_creating(mount_events)],
                age=11,
                volumes=volumes,
            )
        ],
        replicas=1,
        progress="progressing",
    )
    scenario(
        "config-configmap-volume.yaml",
        "Look-alike of VolumeError: FailedMount of a ConfigMap volume whose ConfigMap is missing.",
        category="ConfigError",
        action="Escalate",
        target=("Deployment", "ingress", "edge-proxy"),
        objects=objs,
    )

    env = [
        {
            "name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password"}},
        }
    ]
    objs = statefulset(
        "data",
        "redis",
        containers=[
            container(
                "redis",
                "docker.io/library/redis:7.4.1",
                port=6379,
                env=env,
                mem_limit="1Gi",
                mem_request="512Mi",
            )
        ],
        pods=[config_error('secret "redis-auth" not found')],
        replicas=3,
    )
    scenario(
        "config-statefulset-missing-secret.yaml",
        "The first pod of a StatefulSet cannot start: Secret 'redis-auth' is missing.",
        category="ConfigError",
        action="Escalate",
        target=("StatefulSet", "data", "redis"),
        objects=objs,
    )


def build_probe_failure() -> None:
    objs = deployment(
        "shop",
        "sessions",
        revs=[
            Rev(
                3,
                [web_container("shop/sessions", "2.2.0")],
                [
                    healthy(),
                    not_ready("HTTP probe failed with statuscode: 503", count=95),
                    healthy(),
                ],
                age=60 * 24,
            )
        ],
        replicas=3,
    )
    stuck = next(p for p in pods_of(objs) if not p["status"]["containerStatuses"][0]["ready"])
    scenario(
        "probe-readiness-one-pod.yaml",
        "One of three identical pods fails its readiness probe while its siblings are Ready: "
        "replace it.",
        category="ProbeFailure",
        action="DeletePod",
        params={"pod": stuck["metadata"]["name"]},
        target=("Deployment", "shop", "sessions"),
        objects=objs,
    )

    objs = deployment(
        "shop",
        "reports",
        revs=[
            Rev(
                2,
                [
                    web_container(
                        "shop/reports",
                        "1.6.0",
                        liveness=http_probe("/healthz", timeout=1, period=10, failure=3),
                    )
                ],
                [
                    liveness_restarts(
                        'Get "http://10.244.2.9:8080/healthz": context deadline exceeded '
                        "(Client.Timeout exceeded while awaiting headers)"
                    ),
                    liveness_restarts(
                        'Get "http://10.244.1.23:8080/healthz": context deadline exceeded '
                        "(Client.Timeout exceeded while awaiting headers)",
                        restarts=5,
                    ),
                ],
                age=60 * 24 * 3,
            )
        ],
        replicas=2,
    )
    scenario(
        "probe-liveness-timeouts.yaml",
        "Look-alike of CrashLoop: containers are restarted because the liveness probe times out "
        "(exit 137).",
        category="ProbeFailure",
        action="Escalate",
        target=("Deployment", "shop", "reports"),
        objects=objs,
    )

    objs = deployment(
        "shop",
        "search-api",
        revs=[
            Rev(
                1,
                [web_container("shop/search-api", "0.4.1")],
                [
                    not_ready("HTTP probe failed with statuscode: 503"),
                    not_ready("HTTP probe failed with statuscode: 503"),
                ],
                age=60,
            )
        ],
        replicas=2,
        progress="deadline",
    )
    scenario(
        "probe-readiness-all-pods.yaml",
        "Every pod of a single-revision Deployment fails readiness (its backend is down).",
        category="ProbeFailure",
        action="Escalate",
        target=("Deployment", "shop", "search-api"),
        objects=objs,
        logs=[
            log(
                pods_of(objs)[0],
                "WARN  elasticsearch cluster health is red; reporting not ready\n",
                previous=False,
            )
        ],
    )


def build_unschedulable() -> None:
    message = (
        "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 "
        "No preemption victims found for incoming pod."
    )
    objs = deployment(
        "ml",
        "trainer",
        revs=[
            Rev(
                1,
                [
                    container(
                        "trainer",
                        img("ml/trainer", "0.12.0"),
                        port=None,
                        mem_limit="48Gi",
                        mem_request="48Gi",
                        cpu_request="8",
                    )
                ],
                [unschedulable(message)],
                age=40,
            )
        ],
        replicas=1,
        progress="progressing",
    )
    scenario(
        "unschedulable-insufficient-memory.yaml",
        "A pod requests 48Gi of memory; no node has that much free.",
        category="Unschedulable",
        action="Escalate",
        target=("Deployment", "ml", "trainer"),
        objects=objs + [node(n) for n in NODES],
    )

    message = (
        "0/4 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 3 node(s) had untolerated taint {dedicated: "
        "batch}. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    )
    taint = [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
    objs = deployment(
        "shop",
        "notifications",
        revs=[
            Rev(
                2,
                [web_container("shop/notifications", "1.1.0")],
                [healthy(), unschedulable(message), unschedulable(message)],
                age=60 * 24,
                replicas=3,
            )
        ],
        replicas=3,
        progress="progressing",
    )
    scenario(
        "unschedulable-taints.yaml",
        "Look-alike of QuotaExceeded: pods exist but stay Pending because every worker node is "
        "tainted.",
        category="Unschedulable",
        action="Escalate",
        target=("Deployment", "shop", "notifications"),
        objects=objs + [node(n, taints=taint) for n in NODES],
    )

    message = (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    objs = statefulset(
        "gpu",
        "jupyter",
        containers=[
            container(
                "notebook",
                "quay.io/jupyter/pytorch-notebook:cuda12-2024-12-02",
                port=8888,
                mem_limit="16Gi",
                mem_request="8Gi",
                cpu_request="2",
            )
        ],
        pods=[unschedulable(message)],
        tmpl_extra={"node_selector": {"nvidia.com/gpu.present": "true"}},
    )
    scenario(
        "unschedulable-node-selector.yaml",
        "A StatefulSet pod selects GPU nodes that do not exist in the cluster.",
        category="Unschedulable",
        action="Escalate",
        target=("StatefulSet", "gpu", "jupyter"),
        objects=objs,
    )


def build_node_not_ready() -> None:
    unreachable = [
        {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": ts(6)},
        {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": ts(6)},
    ]
    dead = node(
        "node-b",
        ready="Unknown",
        reason="NodeStatusUnknown",
        message="Kubelet stopped posting node status.",
        taints=unreachable,
        heartbeat_ago=7,
    )
    objs = deployment(
        "shop",
        "web",
        revs=[
            Rev(
                4,
                [web_container("shop/web", "1.4.2")],
                [stale_on_dead_node(), healthy(), healthy()],
                age=60 * 24,
            )
        ],
        replicas=3,
        node_for=lambda rev, i: ["node-b", "node-a", "node-c"][i],
    )
    scenario(
        "node-status-unknown.yaml",
        "The target Node stopped posting status (Ready=Unknown, unreachable taints).",
        category="NodeNotReady",
        action="CordonNode",
        params={"node": "node-b"},
        target=("Node", None, "node-b"),
        objects=[
            dead,
            node("node-a"),
            node("node-c"),
            node_event(dead, "NodeNotReady", message="Node node-b status is now: NodeNotReady"),
            *objs,
        ],
        alerts=[alert("KubeNodeNotReady", "", summary="Node is not ready.", node="node-b")],
    )

    sick = node(
        "node-c",
        ready="False",
        reason="KubeletNotReady",
        message="PLEG is not healthy: pleg was last seen active 3m41.227s ago; threshold is 3m0s",
        taints=[
            {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": ts(4)}
        ],
        heartbeat_ago=0.4,
    )
    objs = deployment(
        "shop",
        "cache",
        revs=[
            Rev(
                2,
                [
                    container(
                        "memcached",
                        "docker.io/library/memcached:1.6.33",
                        port=11211,
                        mem_limit="1Gi",
                        mem_request="1Gi",
                    )
                ],
                [stale_on_dead_node(), stale_on_dead_node(), healthy()],
                age=60 * 24 * 2,
            )
        ],
        replicas=3,
        node_for=lambda rev, i: ["node-c", "node-c", "node-a"][i],
    )
    scenario(
        "node-kubelet-not-ready-workload.yaml",
        "Two of three pods of a Deployment sit on a node whose kubelet reports NotReady (PLEG).",
        category="NodeNotReady",
        action="CordonNode",
        params={"node": "node-c"},
        target=("Deployment", "shop", "cache"),
        objects=[
            *objs,
            sick,
            node("node-a"),
            node_event(
                sick,
                "NodeNotReady",
                message="Node node-c status is now: NodeNotReady",
                component="kubelet",
            ),
        ],
    )

    cordoned = node(
        "node-d",
        ready="False",
        reason="KubeletNotReady",
        message=(
            "container runtime network not ready: NetworkReady=false "
            "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not "
            "initialized"
        ),
        taints=[
            {
                "key": "node.kubernetes.io/unschedulable",
                "effect": "NoSchedule",
                "timeAdded": ts(30),
            },
            {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": ts(20)},
        ],
        unschedulable=True,
    )
    scenario(
        "node-already-cordoned.yaml",
        "A NotReady node (CNI not initialised) that is already cordoned: a human must repair it.",
        category="NodeNotReady",
        action="Escalate",
        target=("Node", None, "node-d"),
        objects=[
            cordoned,
            node_event(
                cordoned,
                "NodeNotSchedulable",
                message="Node node-d status is now: NodeNotSchedulable",
                component="kubelet",
                age=30,
            ),
        ],
    )


def build_volume_error() -> None:
    message = (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: "
        "0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "100Gi"}},
            "storageClassName": "fast-ssd",
        },
    }
    objs = statefulset(
        "data",
        "mysql",
        containers=[
            container(
                "mysql",
                "docker.io/library/mysql:8.4.3",
                port=3306,
                mem_limit="4Gi",
                mem_request="2Gi",
                cpu_request="1",
            )
        ],
        pods=[unschedulable(message, count=22)],
        replicas=1,
        claim_templates=[claim],
    )
    claim_obj = pvc(
        "data",
        "data-mysql-0",
        phase="Pending",
        storage_class="fast-ssd",
        size="100Gi",
        labels={"app.kubernetes.io/name": "mysql"},
    )
    scenario(
        "volume-storageclass-missing.yaml",
        "A StatefulSet's claim names StorageClass 'fast-ssd', which does not exist; the pod "
        "waits for it.",
        category="VolumeError",
        action="Escalate",
        target=("StatefulSet", "data", "mysql"),
        objects=[
            *objs,
            claim_obj,
            object_event(
                claim_obj,
                "ProvisioningFailed",
                message='storageclass.storage.k8s.io "fast-ssd" not found',
                component="persistentvolume-controller",
                count=41,
            ),
        ],
    )

    volume_name = f"pvc-{uid('pv', 'uploads')}"
    volumes = [{"name": "uploads", "persistentVolumeClaim": {"claimName": "uploads"}}]
    mounts = [{"name": "uploads", "mountPath": "/srv/uploads"}]
    events = [
        (
            "Warning",
            "FailedAttachVolume",
            f'Multi-Attach error for volume "{volume_name}" Volume is already exclusively '
            "attached to one node and can't be attached to another",
            1,
            14,
            14,
        ),
        (
            "Warning",
            "FailedMount",
            "Unable to attach or mount volumes: unmounted volumes=[uploads], unattached "
            "volumes=[uploads], failed to process volumes=[]: timed out waiting for the condition",
            6,
            12,
            0.5,
        ),
    ]
    objs = deployment(
        "shop",
        "uploads",
        revs=[
            Rev(
                3,
                [web_container("shop/uploads", "2.0.1", mounts=mounts)],
                [container_creating(events)],
                age=15,
                volumes=volumes,
            )
        ],
        replicas=1,
        strategy={"type": "Recreate"},
        progress="progressing",
    )
    scenario(
        "volume-multi-attach.yaml",
        "A rescheduled pod cannot attach its ReadWriteOnce volume: it is still attached to the "
        "old node.",
        category="VolumeError",
        action="Escalate",
        target=("Deployment", "shop", "uploads"),
        objects=[
            *objs,
            pvc("shop", "uploads", phase="Bound", storage_class="gp3", volume=volume_name),
        ],
    )

    claim_obj = pvc("analytics", "scratch-data", phase="Pending", storage_class="gp3", size="2Ti")
    scenario(
        "volume-pvc-target.yaml",
        "The target is a PersistentVolumeClaim the CSI driver cannot provision (cloud volume "
        "limit).",
        category="VolumeError",
        action="Escalate",
        target=("PersistentVolumeClaim", "analytics", "scratch-data"),
        objects=[
            claim_obj,
            object_event(
                claim_obj,
                "ExternalProvisioning",
                message=(
                    "Waiting for a volume to be created either by the external provisioner "
                    '"ebs.csi.aws.com" or manually by the system administrator. If volume creation '
                    "is delayed, please verify that the provisioner is running and correctly "
                    "registered."
                ),
                etype="Normal",
                component="persistentvolume-controller",
                count=58,
            ),
            object_event(
                claim_obj,
                "ProvisioningFailed",
                message=(
                    'failed to provision volume with StorageClass "gp3": rpc error: code = '
                    "Internal desc = Could not create volume "
                    '"pvc-5b1e0c7e-2f0b-4c77-9d6e-3f6c4d1a9e21": '
                    "could not create volume in EC2: VolumeLimitExceeded: You have exceeded your "
                    "maximum gp3 storage limit of 50 TiB in this region"
                ),
                component="ebs.csi.aws.com_ebs-csi-controller-6d5c9b8f7-q2w9x_4f1c",
                count=12,
            ),
        ],
    )


def build_quota() -> None:
    rs_name_hash = suffix(10, "shop", "web", 5, "hash")
    pod_name = f"web-{rs_name_hash}-{suffix(5, 'quota', 1)}"
    message = (
        f'pods "{pod_name}" is forbidden: exceeded quota: compute-quota, requested: '
        "limits.memory=512Mi, used: limits.memory=4Gi, limited: limits.memory=4Gi"
    )
    condition = [
        {
            "type": "ReplicaFailure",
            "status": "True",
            "lastTransitionTime": ts(9),
            "reason": "FailedCreate",
            "message": message,
        }
    ]
    objs = deployment(
        "shop",
        "web",
        revs=[
            Rev(
                5,
                [web_container("shop/web", "1.5.0", mem_limit="512Mi", mem_request="256Mi")],
                [healthy()] * 8,
                age=60 * 24,
                replicas=10,
            )
        ],
        replicas=10,
        rs_conditions={5: condition},
    )
    rs = next(o for o in objs if o["kind"] == "ReplicaSet")
    scenario(
        "quota-deployment-failedcreate.yaml",
        "Look-alike of Unschedulable: a scale-up to 10 replicas stops at 8 because the namespace "
        "memory quota is used up.",
        category="QuotaExceeded",
        action="Escalate",
        target=("Deployment", "shop", "web"),
        objects=[
            *objs,
            object_event(
                rs,
                "FailedCreate",
                message=f"Error creating: {message}",
                component="replicaset-controller",
                count=17,
                first=9,
            ),
            resource_quota(
                "shop",
                "compute-quota",
                hard={"limits.memory": "4Gi", "requests.cpu": "8", "pods": "40"},
                used={"limits.memory": "4Gi", "requests.cpu": "1200m", "pods": "8"},
            ),
        ],
        alerts=[
            alert(
                "KubeDeploymentReplicasMismatch",
                "shop",
                summary="Deployment has not matched the expected number of replicas.",
                deployment="web",
            )
        ],
    )

    objs = statefulset(
        "data",
        "kafka",
        containers=[
            container(
                "kafka",
                "docker.io/apache/kafka:3.9.0",
                port=9092,
                mem_limit="4Gi",
                mem_request="4Gi",
                cpu_request="2",
                cpu_limit="2",
            )
        ],
        pods=[healthy(), healthy()],
        replicas=3,
    )
    sts = objs[0]
    message = (
        'pods "kafka-2" is forbidden: exceeded quota: data-quota, requested: requests.cpu=2, '
        "used: requests.cpu=6, limited: requests.cpu=6"
    )
    scenario(
        "quota-statefulset.yaml",
        "The third Kafka broker cannot be created: the namespace CPU request quota is exhausted.",
        category="QuotaExceeded",
        action="Escalate",
        target=("StatefulSet", "data", "kafka"),
        objects=[
            *objs,
            object_event(
                sts,
                "FailedCreate",
                message=f"create Pod kafka-2 in StatefulSet kafka failed error: {message}",
                component="statefulset-controller",
                count=25,
            ),
            resource_quota(
                "data",
                "data-quota",
                hard={"requests.cpu": "6", "requests.memory": "24Gi"},
                used={"requests.cpu": "6", "requests.memory": "10Gi"},
            ),
        ],
    )


def build_service() -> None:
    objs = deployment(
        "shop",
        "catalog",
        revs=[
            Rev(3, [web_container("shop/catalog", "2.3.0")], [healthy(), healthy()], age=60 * 24)
        ],
        replicas=2,
        labels={"app": "catalog"},
    )
    svc = service("shop", "catalog", selector={"app": "catalog-v2"})
    scenario(
        "service-selector-mismatch.yaml",
        "The Service selects app=catalog-v2 but the pods are labelled app=catalog.",
        category="ServiceNoEndpoints",
        action="Escalate",
        target=("Service", "shop", "catalog"),
        objects=[*objs, svc, endpointslice(svc, [])],
        alerts=[
            alert(
                "ServiceNoEndpoints",
                "shop",
                summary="Service shop/catalog has no ready endpoints.",
                service="catalog",
            )
        ],
    )

    objs = deployment(
        "shop",
        "reviews",
        revs=[Rev(5, [web_container("shop/reviews", "1.2.0")], [], age=60 * 24 * 4, replicas=0)],
        replicas=0,
        labels={"app": "reviews"},
    )
    svc = service("shop", "reviews", selector={"app": "reviews"})
    scenario(
        "service-scaled-to-zero.yaml",
        "The Deployment behind the Service was scaled to zero replicas.",
        category="ServiceNoEndpoints",
        action="ScaleWorkload",
        params={"replicas": 1},
        target=("Service", "shop", "reviews"),
        objects=[*objs, svc, endpointslice(svc, [])],
    )

    objs = deployment(
        "shop",
        "ratings",
        revs=[
            Rev(
                2,
                [web_container("shop/ratings", "0.8.0")],
                [
                    not_ready("HTTP probe failed with statuscode: 500"),
                    not_ready("HTTP probe failed with statuscode: 500"),
                ],
                age=60 * 3,
            )
        ],
        replicas=2,
        labels={"app": "ratings"},
    )
    svc = service("shop", "ratings", selector={"app": "ratings"})
    scenario(
        "service-pods-not-ready.yaml",
        "The Service's pods all fail readiness, so the EndpointSlice has no ready endpoint.",
        category="ServiceNoEndpoints",
        action="Escalate",
        target=("Service", "shop", "ratings"),
        objects=[
            *objs,
            svc,
            endpointslice(svc, [endpoint_for(p, ready=False) for p in pods_of(objs)]),
        ],
    )


def build_evicted() -> None:
    message = (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 87236Ki. "
        "Container app was using 1472564Ki, request is 512Mi, has larger consumption of memory. "
    )
    objs = deployment(
        "shop",
        "feed",
        revs=[
            Rev(
                2,
                [web_container("shop/feed", "3.3.0", mem_limit="2Gi", mem_request="512Mi")],
                [evicted(message), evicted(message), healthy(), healthy(), healthy()],
                age=60 * 24,
            )
        ],
        replicas=3,
    )
    scenario(
        "evicted-memory-pressure.yaml",
        "Pods were evicted under node memory pressure while using ~1.4Gi against a 512Mi request.",
        category="Evicted",
        action="SetResources",
        params={"container": "app", "memoryRequest": "1726Mi"},
        target=("Deployment", "shop", "feed"),
        objects=objs,
    )

    message = (
        "The node was low on resource: ephemeral-storage. Threshold quantity: 8109934Ki, "
        "available: 5012780Ki. Container runner was using 21474836Ki, request is 0, has larger "
        "consumption of ephemeral-storage. "
    )
    objs = deployment(
        "ci",
        "runner",
        revs=[
            Rev(
                7,
                [
                    container(
                        "runner",
                        img("ci/runner", "17.6.0"),
                        port=None,
                        mem_limit="4Gi",
                        mem_request="2Gi",
                        cpu_request="1",
                    )
                ],
                [evicted(message), healthy()],
                age=60 * 6,
            )
        ],
        replicas=1,
    )
    scenario(
        "evicted-ephemeral-storage.yaml",
        "A CI runner filled the node's disk and was evicted for ephemeral-storage.",
        category="Evicted",
        action="Escalate",
        target=("Deployment", "ci", "runner"),
        objects=objs,
    )


def build_hpa() -> None:
    objs = deployment(
        "shop",
        "api",
        revs=[
            Rev(
                7,
                [web_container("shop/api", "9.13.0", cpu_request="500m")],
                [healthy() for _ in range(10)],
                age=60 * 24,
            )
        ],
        replicas=10,
    )
    scenario(
        "hpa-target-maxed.yaml",
        "The HPA target sits at maxReplicas=10 with CPU at 185% of a 70% target.",
        category="HPAMaxedOut",
        action="PatchHPA",
        params={"maxReplicas": 20, "minReplicas": 3},
        target=("HorizontalPodAutoscaler", "shop", "api"),
        objects=[
            *objs,
            hpa(
                "shop",
                "api",
                target_kind="Deployment",
                target_name="api",
                min_replicas=3,
                max_replicas=10,
                current=10,
                desired=10,
                cpu_target=70,
                cpu_current=185,
            ),
        ],
        alerts=[
            alert(
                "KubeHpaMaxedOut",
                "shop",
                summary="HPA is running at max replicas",
                horizontalpodautoscaler="api",
            )
        ],
    )

    objs = deployment(
        "shop",
        "search-frontend",
        revs=[
            Rev(
                2,
                [web_container("shop/search-frontend", "4.0.0", cpu_request="250m")],
                [healthy() for _ in range(6)],
                age=60 * 24,
            )
        ],
        replicas=6,
    )
    scenario(
        "hpa-deployment-target.yaml",
        "A Deployment whose HPA is pinned at maxReplicas=6 with CPU at 95% of an 80% target.",
        category="HPAMaxedOut",
        action="PatchHPA",
        params={"maxReplicas": 8, "minReplicas": 2},
        target=("Deployment", "shop", "search-frontend"),
        objects=[
            *objs,
            hpa(
                "shop",
                "search-frontend",
                target_kind="Deployment",
                target_name="search-frontend",
                min_replicas=2,
                max_replicas=6,
                current=6,
                desired=6,
                cpu_target=80,
                cpu_current=95,
            ),
        ],
    )


def build_unknown() -> None:
    objs = deployment(
        "shop",
        "web",
        revs=[
            Rev(
                4,
                [web_container("shop/web", "1.4.2")],
                [healthy(), healthy(), healthy()],
                age=60 * 24 * 2,
            )
        ],
        replicas=3,
    )
    scenario(
        "unknown-healthy-deployment.yaml",
        "A latency alert on a Deployment whose pods, nodes and rollout all look healthy.",
        category="Unknown",
        action="Escalate",
        target=("Deployment", "shop", "web"),
        objects=[*objs, *[node(n) for n in NODES]],
        alerts=[
            alert(
                "HighRequestLatency",
                "shop",
                summary="p99 latency of shop/web is above 2s for 10 minutes.",
                severity="critical",
                service="web",
            )
        ],
    )
    scenario(
        "unknown-target-missing.yaml",
        "The bundle does not contain the target at all (it was deleted before collection).",
        category="Unknown",
        action="Escalate",
        target=("Deployment", "shop", "legacy-importer"),
        objects=[node("node-a")],
    )


# -- Failure modes added for issue 19 (depth) --------------------------------------------------


def matrix(query: str, series: list[tuple[dict[str, str], list[float]]], *, step: int = 60) -> Obj:
    """A Prometheus range-query answer: one sample per ``step`` seconds, ending at collection."""
    end = int(COLLECTED.timestamp())
    return {
        "query": query,
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": labels,
                    "values": [
                        [end - (len(values) - 1 - i) * step, f"{v:g}"] for i, v in enumerate(values)
                    ],
                }
                for labels, values in series
            ],
        },
    }


def pod_labels(pod: Obj, container_name: str = "app") -> dict[str, str]:
    md = pod["metadata"]
    return {"namespace": md["namespace"], "pod": md["name"], "container": container_name}


def pressure_node(name: str, conditions: dict[str, tuple[str, str]], **kwargs: Any) -> Obj:
    """A Ready node whose listed conditions are True with (reason, message)."""
    obj = node(name, **kwargs)
    for cond in obj["status"]["conditions"]:
        if cond["type"] in conditions:
            reason, message = conditions[cond["type"]]
            cond.update(status="True", reason=reason, message=message, lastTransitionTime=ts(35))
    extra = [c for c in conditions if c == "NetworkUnavailable"]
    for cond_type in extra:
        reason, message = conditions[cond_type]
        obj["status"]["conditions"].insert(
            0,
            {
                "type": cond_type,
                "status": "True",
                "lastHeartbeatTime": ts(0.3),
                "lastTransitionTime": ts(18),
                "reason": reason,
                "message": message,
            },
        )
    return obj


def with_init(
    objects: list[Obj],
    init: Obj,
    status: Callable[[Obj], Obj],
) -> list[Obj]:
    """Give every pod of ``objects`` the init container ``init`` in the state ``status(pod)``:
    the pod is Pending, not Initialized, its main containers wait in PodInitializing."""
    for obj in objects:
        if obj["kind"] == "Pod":
            obj["spec"]["initContainers"] = [init]
            obj["status"]["phase"] = "Pending"
            obj["status"]["initContainerStatuses"] = [status(obj)]
            for cs in obj["status"].get("containerStatuses", []):
                cs.update(
                    ready=False,
                    started=False,
                    restartCount=0,
                    state={"waiting": {"reason": "PodInitializing"}},
                    lastState={},
                )
            for cond in obj["status"]["conditions"]:
                if cond["type"] == "Initialized":
                    cond.update(
                        status="False",
                        reason="ContainersNotInitialized",
                        message=f"containers with incomplete status: [{init['name']}]",
                    )
                if cond["type"] in {"Ready", "ContainersReady"}:
                    cond.update(status="False", reason="ContainersNotReady")
        elif obj["kind"] in {"Deployment", "ReplicaSet"}:
            obj["spec"]["template"]["spec"]["initContainers"] = [init]
    return objects


def pdb(
    namespace: str,
    name: str,
    *,
    selector: dict[str, str],
    bound: dict[str, Any],
    healthy_pods: int,
    desired: int,
    expected: int,
) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(
            "PodDisruptionBudget", name, namespace=namespace, age=60 * 24 * 60, generation=1
        ),
        "spec": {**bound, "selector": {"matchLabels": dict(selector)}},
        "status": {
            "observedGeneration": 1,
            "disruptionsAllowed": 0,
            "currentHealthy": healthy_pods,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": [
                {
                    "type": "DisruptionAllowed",
                    "status": "False",
                    "reason": "InsufficientPods",
                    "message": "",
                    "observedGeneration": 1,
                    "lastTransitionTime": ts(60),
                }
            ],
        },
    }


def build_node_pressure() -> None:
    disk = pressure_node(
        "node-b",
        {"DiskPressure": ("KubeletHasDiskPressure", "kubelet has disk pressure")},
        taints=[
            {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule", "timeAdded": ts(35)}
        ],
    )
    evicted_objs = deployment(
        "shop",
        "thumbnailer",
        revs=[
            Rev(
                3,
                [web_container("shop/thumbnailer", "2.0.1")],
                [
                    healthy(),
                    evicted(
                        "The node was low on resource: ephemeral-storage. "
                        "Threshold quantity: 4063226Ki, available: 3502216Ki. "
                    ),
                ],
                age=60 * 24,
            )
        ],
        replicas=1,
        node_for=lambda rev, i: "node-b",
    )
    scenario(
        "node-disk-pressure.yaml",
        "A Ready node reports DiskPressure, is tainted disk-pressure:NoSchedule, fails image GC "
        "and evicts pods.",
        category="NodePressure",
        action="Escalate",
        target=("Node", None, "node-b"),
        objects=[
            disk,
            *evicted_objs,
            node_event(
                disk,
                "EvictionThresholdMet",
                etype="Warning",
                component="kubelet",
                message="Attempting to reclaim ephemeral-storage",
            ),
            node_event(
                disk,
                "ImageGCFailed",
                etype="Warning",
                component="kubelet",
                message="Failed to garbage collect required amount of images. Attempted "
                "to free 6121629286 bytes, but only found 0 bytes eligible to free.",
            ),
        ],
        metrics=[
            matrix(
                'max by (node, condition) (kube_node_status_condition{node="node-b", '
                'condition=~"MemoryPressure|DiskPressure|PIDPressure|NetworkUnavailable",'
                ' status="true"}) > 0',
                [({"node": "node-b", "condition": "DiskPressure"}, [1, 1, 1])],
            )
        ],
    )
    pid = pressure_node(
        "node-c",
        {"PIDPressure": ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")},
        taints=[
            {"key": "node.kubernetes.io/pid-pressure", "effect": "NoSchedule", "timeAdded": ts(20)}
        ],
    )
    scenario(
        "node-pid-pressure.yaml",
        "A Ready node runs out of PIDs (PIDPressure=True, pid-pressure taint).",
        category="NodePressure",
        action="Escalate",
        target=("Node", None, "node-c"),
        objects=[
            pid,
            node_event(
                pid,
                "NodeHasInsufficientPID",
                component="kubelet",
                message="Node node-c status is now: NodeHasInsufficientPID",
            ),
        ],
    )
    net = pressure_node(
        "node-a",
        {"NetworkUnavailable": ("NoRouteCreated", "Node created without a route")},
        taints=[
            {
                "key": "node.kubernetes.io/network-unavailable",
                "effect": "NoSchedule",
                "timeAdded": ts(18),
            }
        ],
    )
    scenario(
        "node-network-unavailable.yaml",
        "A Ready node whose pod network is not configured (NetworkUnavailable=True, NoRouteCreated).",
        category="NodePressure",
        action="Escalate",
        target=("Node", None, "node-a"),
        objects=[net],
    )


def build_volume_full() -> None:
    data = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-reports"}}]
    objs = deployment(
        "analytics",
        "reports",
        revs=[
            Rev(
                4,
                [
                    web_container(
                        "analytics/reports",
                        "3.2.0",
                        mounts=[{"name": "data", "mountPath": "/var/lib/reports"}],
                    )
                ],
                [crashloop(exit_code=1, restarts=9)],
                age=60 * 24 * 3,
                volumes=data,
            )
        ],
        replicas=1,
        strategy={"type": "Recreate"},
    )
    claim = pvc(
        "analytics",
        "data-reports",
        phase="Bound",
        storage_class="gp3",
        size="20Gi",
        volume="pvc-" + uid("pv", "data-reports"),
    )
    pod = pods_of(objs)[0]
    scenario(
        "volume-full-consumer-enospc.yaml",
        "A Deployment crash-loops writing to its PVC: 'no space left on device'; the kubelet "
        "reports 99.6% of the volume used.",
        category="VolumeFull",
        action="Escalate",
        target=("Deployment", "analytics", "reports"),
        objects=[*objs, claim],
        logs=[
            log(
                pod,
                "2025-03-14T10:26:01Z INFO compacting partitions\n"
                "2025-03-14T10:26:03Z ERROR write /var/lib/reports/part-0042.parquet: "
                "no space left on device\n"
                "2025-03-14T10:26:03Z FATAL cannot flush buffer: write "
                "/var/lib/reports/wal/000118: no space left on device\n",
            )
        ],
        metrics=[
            matrix(
                "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes{"
                'namespace="analytics", persistentvolumeclaim="data-reports"}) / max by (namespace, '
                'persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes{namespace="analytics", '
                'persistentvolumeclaim="data-reports"})',
                [
                    (
                        {"namespace": "analytics", "persistentvolumeclaim": "data-reports"},
                        [0.97, 0.985, 0.996],
                    )
                ],
            )
        ],
    )
    objs = deployment(
        "shop",
        "postgres-orders",
        revs=[
            Rev(
                2,
                [
                    container(
                        "postgres",
                        "postgres:16.4",
                        port=5432,
                        mem_limit="2Gi",
                        mounts=[{"name": "pgdata", "mountPath": "/var/lib/postgresql"}],
                    )
                ],
                [healthy()],
                age=60 * 24 * 20,
                volumes=[
                    {"name": "pgdata", "persistentVolumeClaim": {"claimName": "pgdata-orders"}}
                ],
            )
        ],
        replicas=1,
        strategy={"type": "Recreate"},
    )
    claim = pvc(
        "shop",
        "pgdata-orders",
        phase="Bound",
        storage_class="gp3",
        size="50Gi",
        volume="pvc-" + uid("pv", "pgdata-orders"),
    )
    pod = pods_of(objs)[0]
    labels = {"namespace": "shop", "persistentvolumeclaim": "pgdata-orders"}
    scenario(
        "volume-full-pvc-target.yaml",
        "A PVC with 3 MiB left of 50Gi (kubelet volume stats); postgres logs 'could not extend "
        "file' but keeps running.",
        category="VolumeFull",
        action="Escalate",
        target=("PersistentVolumeClaim", "shop", "pgdata-orders"),
        objects=[*objs, claim],
        logs=[
            log(
                pod,
                "2025-03-14 10:22:41.117 UTC [2811] ERROR:  could not extend file "
                '"base/16384/24576.3": No space left on device\n'
                "2025-03-14 10:22:41.117 UTC [2811] HINT:  Check free disk space.\n",
                container="postgres",
                previous=False,
            )
        ],
        metrics=[
            matrix(
                "min by (namespace, persistentvolumeclaim) (kubelet_volume_stats_available_"
                'bytes{namespace="shop", persistentvolumeclaim="pgdata-orders"})',
                [(labels, [2.1e9, 4.4e8, 3.1e6])],
            ),
            matrix(
                "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_"
                'bytes{namespace="shop", persistentvolumeclaim="pgdata-orders"})',
                [(labels, [53687091200])],
            ),
        ],
    )


def build_dependency_down() -> None:
    payments = deployment(
        "shop",
        "payments",
        revs=[Rev(6, [web_container("shop/payments", "5.1.0")], [], age=60 * 2, replicas=0)],
        replicas=0,
        labels={"app": "payments"},
    )
    svc = service("shop", "payments", selector={"app": "payments"})
    checkout = deployment(
        "shop",
        "checkout",
        revs=[
            Rev(
                9,
                [
                    web_container(
                        "shop/checkout",
                        "3.0.4",
                        env=[
                            {
                                "name": "PAYMENTS_URL",
                                "value": "http://payments.shop.svc.cluster.local",
                            }
                        ],
                    )
                ],
                [crashloop(restarts=6), crashloop(restarts=5)],
                age=60 * 24,
            )
        ],
        replicas=2,
    )
    text = (
        '{"level":"info","msg":"starting checkout"}\n'
        '{"level":"error","msg":"health check of payments failed","error":"Get '
        '\\"http://payments.shop.svc.cluster.local/healthz\\": dial tcp '
        + svc["spec"]["clusterIP"]
        + ':80: connect: connection refused"}\n'
        '{"level":"fatal","msg":"dependency not reachable, exiting","error":"dial tcp '
        + svc["spec"]["clusterIP"]
        + ':80: connect: connection refused"}\n'
    )
    scenario(
        "dependency-down-scaled-to-zero.yaml",
        "checkout crash-loops on 'connection refused' to the payments Service, whose Deployment "
        "was scaled to zero.",
        category="DependencyDown",
        action="ScaleWorkload",
        params={"replicas": 1},
        target=("Deployment", "shop", "checkout"),
        objects=[*checkout, *payments, svc, endpointslice(svc, [])],
        logs=[log(p, text) for p in pods_of(checkout)],
    )
    redis = deployment(
        "shop",
        "redis",
        revs=[
            Rev(
                1,
                [container("redis", "redis:7.2", port=6379)],
                [not_ready("dial tcp 10.244.3.7:6379: connect: connection refused")],
                age=60 * 24 * 9,
            )
        ],
        replicas=1,
        labels={"app": "redis"},
    )
    rsvc = service("shop", "redis", selector={"app": "redis"}, port=6379, target_port=6379)
    cart = deployment(
        "shop",
        "cart",
        revs=[
            Rev(
                4,
                [
                    web_container(
                        "shop/cart", "1.9.0", env=[{"name": "REDIS_ADDR", "value": "redis:6379"}]
                    )
                ],
                [not_ready("HTTP probe failed with statuscode: 503") for _ in range(3)],
                age=60 * 24,
            )
        ],
        replicas=3,
    )
    scenario(
        "dependency-down-env-redis.yaml",
        "cart pods fail readiness; their REDIS_ADDR names the redis Service, whose only endpoint "
        "is not ready.",
        category="DependencyDown",
        action="Escalate",
        target=("Deployment", "shop", "cart"),
        objects=[
            *cart,
            *redis,
            rsvc,
            endpointslice(rsvc, [endpoint_for(p, ready=False) for p in pods_of(redis)], port=6379),
        ],
    )


def build_certificate() -> None:
    objs = deployment(
        "payments",
        "gateway",
        revs=[
            Rev(
                12,
                [web_container("payments/gateway", "8.4.1")],
                [crashloop(restarts=8), crashloop(restarts=8)],
                age=60 * 24 * 6,
            )
        ],
        replicas=2,
    )
    text = (
        "I0314 10:27:40.101 main.go:88] connecting to acquirer at api.acquirer.example:443\n"
        "E0314 10:27:41.311 client.go:214] tls handshake failed: tls: failed to verify "
        "certificate: x509: certificate has expired or is not yet valid: current time "
        "2025-03-14T10:27:41Z is after 2025-03-14T00:00:00Z\n"
        "F0314 10:27:41.312 main.go:95] cannot reach acquirer: x509: certificate has expired "
        "or is not yet valid: current time 2025-03-14T10:27:41Z is after 2025-03-14T00:00:00Z\n"
    )
    scenario(
        "cert-expired-upstream.yaml",
        "gateway crash-loops: the acquirer's TLS certificate expired at midnight (Go x509 error).",
        category="CertificateExpired",
        action="Escalate",
        target=("Deployment", "payments", "gateway"),
        objects=objs,
        logs=[log(p, text) for p in pods_of(objs)],
    )
    objs = deployment(
        "billing",
        "invoices",
        revs=[
            Rev(
                3,
                [web_container("billing/invoices", "2.2.0")],
                [not_ready("HTTP probe failed with statuscode: 503") for _ in range(2)],
                age=60 * 24 * 2,
            )
        ],
        replicas=2,
    )
    text = (
        "2025-03-14 10:25:02.311 ERROR [main] c.e.b.LedgerClient - ledger call failed\n"
        "javax.net.ssl.SSLHandshakeException: PKIX path validation failed: "
        "java.security.cert.CertPathValidatorException: validity check failed\n"
        "Caused by: java.security.cert.CertificateExpiredException: NotAfter: "
        "Thu Mar 13 23:59:59 UTC 2025\n"
    )
    scenario(
        "cert-expired-java-client.yaml",
        "invoices pods go unready; the JVM logs CertificateExpiredException calling the ledger.",
        category="CertificateExpired",
        action="Escalate",
        target=("Deployment", "billing", "invoices"),
        objects=objs,
        logs=[log(p, text, previous=False) for p in pods_of(objs)],
    )


def build_dns() -> None:
    objs = deployment(
        "shop",
        "recommender",
        revs=[
            Rev(
                5,
                [web_container("shop/recommender", "0.9.3")],
                [crashloop(restarts=7), crashloop(restarts=6)],
                age=60 * 24 * 2,
            )
        ],
        replicas=2,
    )
    text = (
        "2025/03/14 10:27:11 starting recommender\n"
        "2025/03/14 10:27:12 grpc: dial inventroy.shop.svc.cluster.local:9090: lookup "
        "inventroy.shop.svc.cluster.local on 10.96.0.10:53: no such host\n"
        "2025/03/14 10:27:17 fatal: lookup inventroy.shop.svc.cluster.local on "
        "10.96.0.10:53: no such host\n"
    )
    scenario(
        "dns-no-such-host.yaml",
        "recommender crash-loops: the name it dials (a typo, inventroy) does not resolve.",
        category="DNSFailure",
        action="Escalate",
        target=("Deployment", "shop", "recommender"),
        objects=objs,
        logs=[log(p, text) for p in pods_of(objs)],
    )
    objs = deployment(
        "shop",
        "notifier",
        revs=[
            Rev(
                2,
                [web_container("shop/notifier", "1.4.0")],
                [not_ready("HTTP probe failed with statuscode: 500") for _ in range(2)],
                age=60 * 24,
            )
        ],
        replicas=2,
    )
    text = (
        "Error: getaddrinfo EAI_AGAIN api.mailer.example\n"
        "    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:107:26)\n"
        "Error: getaddrinfo EAI_AGAIN api.mailer.example\n"
        "Error: getaddrinfo EAI_AGAIN api.mailer.example\n"
    )
    scenario(
        "dns-eai-again.yaml",
        "notifier pods go unready; Node.js logs getaddrinfo EAI_AGAIN for its mail provider.",
        category="DNSFailure",
        action="Escalate",
        target=("Deployment", "shop", "notifier"),
        objects=objs,
        logs=[log(p, text, previous=False) for p in pods_of(objs)],
    )


def build_cpu_throttling() -> None:
    objs = deployment(
        "shop",
        "pricing",
        revs=[
            Rev(
                4,
                [web_container("shop/pricing", "2.7.0", cpu_limit="500m", cpu_request="250m")],
                [healthy(), healthy()],
                age=60 * 24,
            )
        ],
        replicas=2,
    )
    pods = pods_of(objs)
    scenario(
        "cpu-throttled-limit.yaml",
        "pricing pods are Ready but CFS-throttled in 62% of periods at their 500m CPU limit.",
        category="CPUThrottling",
        action="SetResources",
        params={"container": "app", "cpuLimit": "800m"},
        target=("Deployment", "shop", "pricing"),
        objects=objs,
        metrics=[
            matrix(
                "sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{"
                'namespace="shop", pod=~"'
                + "|".join(p["metadata"]["name"] for p in pods)
                + '", container!=""}[5m])) / sum by (namespace, pod, container) '
                '(rate(container_cpu_cfs_periods_total{namespace="shop", pod=~"'
                + "|".join(p["metadata"]["name"] for p in pods)
                + '", container!=""}[5m]))',
                [(pod_labels(p), [0.41, 0.58, 0.62]) for p in pods],
            )
        ],
    )
    objs = deployment(
        "search",
        "indexer",
        revs=[
            Rev(
                8,
                [
                    web_container(
                        "search/indexer", "4.0.2", cpu_limit="1", cpu_request="1", name="indexer"
                    )
                ],
                [healthy(), healthy(), healthy()],
                age=60 * 24 * 3,
            )
        ],
        replicas=3,
    )
    scenario(
        "cpu-throttled-alert.yaml",
        "A firing CPUThrottlingHigh alert for the indexer container (1 CPU limit); no metrics.",
        category="CPUThrottling",
        action="SetResources",
        params={"container": "indexer", "cpuLimit": "1500m"},
        target=("Deployment", "search", "indexer"),
        objects=objs,
        alerts=[
            {
                **alert(
                    "CPUThrottlingHigh",
                    "search",
                    summary="Processes experience elevated CPU throttling.",
                    pod=pods_of(objs)[0]["metadata"]["name"],
                    container="indexer",
                ),
                "annotations": {
                    "description": "48.2% throttling of CPU in namespace search "
                    "for container indexer.",
                    "summary": "Processes experience elevated CPU throttling.",
                },
            }
        ],
    )


def build_disruption_blocked() -> None:
    draining = node(
        "node-b",
        unschedulable=True,
        taints=[
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": ts(40)}
        ],
    )
    objs = deployment(
        "payments",
        "ledger",
        revs=[
            Rev(
                7,
                [web_container("payments/ledger", "6.0.0")],
                [healthy(), healthy()],
                age=60 * 24 * 4,
            )
        ],
        replicas=2,
        node_for=lambda rev, i: "node-b",
    )
    labels = objs[0]["spec"]["selector"]["matchLabels"]
    scenario(
        "pdb-blocks-drain.yaml",
        "node-b is cordoned for a drain; ledger's PDB minAvailable=2 over 2 replicas allows no "
        "eviction.",
        category="DisruptionBlocked",
        action="Escalate",
        target=("Node", None, "node-b"),
        objects=[
            draining,
            *objs,
            pdb(
                "payments",
                "ledger",
                selector=labels,
                bound={"minAvailable": 2},
                healthy_pods=2,
                desired=2,
                expected=2,
            ),
        ],
    )
    draining = node("node-c", unschedulable=True)
    objs = deployment(
        "search",
        "zookeeper",
        revs=[
            Rev(
                2,
                [container("zookeeper", "zookeeper:3.9", port=2181)],
                [
                    healthy(),
                    not_ready("dial tcp 10.244.1.9:8080: connect: connection refused"),
                    healthy(),
                ],
                age=60 * 24 * 30,
            )
        ],
        replicas=3,
        node_for=lambda rev, i: "node-c",
    )
    labels = objs[0]["spec"]["selector"]["matchLabels"]
    scenario(
        "pdb-unhealthy-pods-block-drain.yaml",
        "node-c drains, but zookeeper's PDB (maxUnavailable=1) allows nothing: one pod is "
        "already unready.",
        category="DisruptionBlocked",
        action="Escalate",
        target=("Node", None, "node-c"),
        objects=[
            draining,
            *objs,
            pdb(
                "search",
                "zookeeper",
                selector=labels,
                bound={"maxUnavailable": 1},
                healthy_pods=2,
                desired=2,
                expected=3,
            ),
        ],
    )


def build_init_container() -> None:
    init = container(
        "migrate", img("shop/orders-migrations", "44"), port=None, command=["/migrate", "up"]
    )
    objs = deployment(
        "shop",
        "orders-api",
        revs=[
            Rev(3, [web_container("shop/orders-api", "4.4.0")], [healthy(), healthy()], age=60 * 24)
        ],
        replicas=2,
    )

    def crashing(pod: Obj) -> Obj:
        return {
            "name": "migrate",
            "image": init["image"],
            "imageID": _image_id(init["image"]),
            "containerID": f"containerd://{_cid(pod, 'migrate', n=5)}",
            "ready": False,
            "started": False,
            "restartCount": 6,
            "state": {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 5m0s restarting failed "
                    f"container=migrate pod={_pod_ref(pod)}",
                }
            },
            "lastState": terminated(
                "Error", 1, started=4, finished=3.9, cid=_cid(pod, "migrate", n=5)
            ),
        }

    objs = with_init(objs, init, crashing)
    pods = pods_of(objs)
    scenario(
        "init-container-crashloop.yaml",
        "orders-api pods stay in Init:CrashLoopBackOff: the migrate init container exits 1.",
        category="InitContainerFailure",
        action="Escalate",
        target=("Deployment", "shop", "orders-api"),
        objects=objs,
        logs=[
            log(
                p,
                "applying 0044_add_index.up.sql\nerror: migration failed: relation "
                '"orders_customer_idx" already exists in line 0: CREATE INDEX ...\n',
                container="migrate",
            )
            for p in pods
        ],
    )
    init = container(
        "wait-for-db",
        "busybox:1.36",
        port=None,
        command=[
            "sh",
            "-c",
            "until nc -z orders-db 5432; do echo waiting for orders-db; sleep 2; done",
        ],
    )
    objs = deployment(
        "shop",
        "fulfilment",
        revs=[Rev(2, [web_container("shop/fulfilment", "1.0.3")], [healthy()], age=60)],
        replicas=1,
    )

    def stuck(pod: Obj) -> Obj:
        return {
            "name": "wait-for-db",
            "image": init["image"],
            "imageID": _image_id(init["image"]),
            "containerID": f"containerd://{_cid(pod, 'wait-for-db')}",
            "ready": False,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": ts(42)}},
            "lastState": {},
        }

    objs = with_init(objs, init, stuck)
    scenario(
        "init-container-stuck.yaml",
        "fulfilment's wait-for-db init container has looped for 42 minutes (Init:0/1).",
        category="InitContainerFailure",
        action="Escalate",
        target=("Deployment", "shop", "fulfilment"),
        objects=objs,
        logs=[
            log(p, "waiting for orders-db\n" * 20, container="wait-for-db", previous=False)
            for p in pods_of(objs)
        ],
    )


def build_rollout_stuck() -> None:
    objs = deployment(
        "shop",
        "frontend",
        revs=[
            Rev(
                11,
                [web_container("shop/frontend", "7.1.0")],
                [healthy() for _ in range(4)],
                age=60 * 24 * 3,
            ),
            Rev(12, [web_container("shop/frontend", "7.2.0")], [], age=25, replicas=1),
        ],
        replicas=4,
        progress="deadline",
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
    )
    scenario(
        "rollout-stuck-no-room.yaml",
        "frontend's rollout exceeded its deadline with maxSurge=0/maxUnavailable=0; the new "
        "ReplicaSet has no pods and the old ones are fine.",
        category="RolloutStuck",
        action="Escalate",
        target=("Deployment", "shop", "frontend"),
        objects=objs,
    )

    def slow_ready() -> PodState:
        state = healthy(age=8)
        state.ready = False
        return state

    objs = deployment(
        "shop",
        "warehouse",
        revs=[
            Rev(
                4,
                [web_container("shop/warehouse", "3.3.0")],
                [healthy(), healthy()],
                age=60 * 24 * 8,
            ),
            Rev(5, [web_container("shop/warehouse", "3.4.0")], [slow_ready()], age=15),
        ],
        replicas=2,
        progress="deadline",
    )
    scenario(
        "rollout-stuck-not-ready.yaml",
        "warehouse exceeded its progress deadline: the new pod runs but is not Ready, with no "
        "probe event, crash or scheduling failure.",
        category="RolloutStuck",
        action="Escalate",
        target=("Deployment", "shop", "warehouse"),
        objects=objs,
    )


def build_pod_creation_failed() -> None:
    cases = [
        (
            "failedcreate-missing-serviceaccount.yaml",
            "shop",
            "exporter",
            'pods "exporter-{h}-" is forbidden: error looking up service account shop/exporter: '
            'serviceaccount "exporter" not found',
            "The new ReplicaSet cannot create pods: ServiceAccount 'exporter' does not exist.",
        ),
        (
            "failedcreate-podsecurity.yaml",
            "payments",
            "vault-agent",
            'pods "vault-agent-{h}-x2x7w" is forbidden: violates PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "app" must set '
            "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "
            '"app" must set securityContext.capabilities.drop=["ALL"])',
            "Pods are refused by PodSecurity restricted:latest (privilege escalation, capabilities).",
        ),
        (
            "failedcreate-admission-webhook.yaml",
            "shop",
            "legacy-batch",
            'admission webhook "validate.kyverno.svc-fail" denied the request: \n\npolicy '
            "Pod/shop/legacy-batch-{h}-8kq2n for resource violation: \n\nrequire-requests-limits:\n"
            "  validate-resources: 'validation error: CPU and memory resource requests and limits "
            "are required. rule validate-resources failed at path /spec/containers/0/resources/'",
            "A Kyverno validating webhook denies the pods (resource limits required).",
        ),
    ]
    for file, ns, name, message, description in cases:
        h = suffix(10, ns, name, 2, "hash")
        objs = deployment(
            ns,
            name,
            revs=[Rev(2, [web_container(f"{ns}/{name}", "1.0.0")], [], age=30, replicas=2)],
            replicas=2,
            progress="deadline",
            rs_conditions={
                2: [
                    {
                        "type": "ReplicaFailure",
                        "status": "True",
                        "lastTransitionTime": ts(30),
                        "reason": "FailedCreate",
                        "message": message.format(h=h),
                    }
                ]
            },
        )
        rs = next(o for o in objs if o["kind"] == "ReplicaSet")
        scenario(
            file,
            description,
            category="PodCreationFailed",
            action="Escalate",
            target=("Deployment", ns, name),
            objects=[
                *objs,
                object_event(
                    rs,
                    "FailedCreate",
                    message=f"Error creating: {message.format(h=h)}",
                    component="replicaset-controller",
                    count=14,
                ),
            ],
        )


def build_hpa_misconfigured() -> None:
    broken = hpa(
        "shop",
        "api-v2",
        target_kind="Deployment",
        target_name="api-v2",
        min_replicas=2,
        max_replicas=10,
        current=0,
        desired=0,
        cpu_target=70,
        cpu_current=0,
        limited=False,
    )
    broken["status"] = {
        "currentReplicas": 0,
        "desiredReplicas": 0,
        "currentMetrics": None,
        "conditions": [
            {
                "type": "AbleToScale",
                "status": "False",
                "lastTransitionTime": ts(90),
                "reason": "FailedGetScale",
                "message": "the HPA controller was unable to get the target's current "
                'scale: deployments/scale.apps "api-v2" not found',
            }
        ],
    }
    scenario(
        "hpa-missing-scale-target.yaml",
        "An HPA points at Deployment api-v2, which does not exist (AbleToScale=False, "
        "FailedGetScale).",
        category="HPAMisconfigured",
        action="Escalate",
        target=("HorizontalPodAutoscaler", "shop", "api-v2"),
        objects=[
            broken,
            object_event(
                broken,
                "FailedGetScale",
                message='deployments/scale.apps "api-v2" not found',
                component="horizontal-pod-autoscaler",
                count=120,
            ),
        ],
    )
    objs = deployment(
        "jobs",
        "worker",
        revs=[
            Rev(
                3,
                [container("worker", img("jobs/worker", "2.0.0"), port=None, cpu_request=None)],
                [healthy(), healthy()],
                age=60 * 24,
            )
        ],
        replicas=2,
    )
    pod_name = pods_of(objs)[0]["metadata"]["name"]
    noreq = hpa(
        "jobs",
        "worker",
        target_kind="Deployment",
        target_name="worker",
        min_replicas=2,
        max_replicas=12,
        current=2,
        desired=2,
        cpu_target=60,
        cpu_current=0,
        limited=False,
    )
    noreq["status"]["currentMetrics"] = [{"type": ""}]
    noreq["status"]["conditions"][1] = {
        "type": "ScalingActive",
        "status": "False",
        "lastTransitionTime": ts(60 * 20),
        "reason": "FailedGetResourceMetric",
        "message": "the HPA was unable to compute the replica count: failed to get cpu "
        f"utilization: missing request for cpu in container worker of Pod {pod_name}",
    }
    scenario(
        "hpa-target-without-requests.yaml",
        "The HPA cannot compute CPU utilization: container worker has no CPU request "
        "(ScalingActive=False).",
        category="HPAMisconfigured",
        action="SetResources",
        params={"container": "worker", "cpuRequest": "100m"},
        target=("HorizontalPodAutoscaler", "jobs", "worker"),
        objects=[*objs, noreq],
    )


def build_revision_aware() -> None:
    old_c = web_container("shop/sessions", "3.8.0", mem_limit="256Mi")
    new_c = web_container("shop/sessions", "3.9.0", mem_limit="256Mi")
    objs = deployment(
        "shop",
        "sessions",
        revs=[
            Rev(8, [old_c], [healthy()], age=60 * 24 * 5),
            Rev(9, [new_c], [healthy(age=50), healthy(age=50)], age=55),
        ],
        replicas=3,
    )
    rs_pods = {o["metadata"]["ownerReferences"][0]["name"]: [] for o in pods_of(objs)}
    for p in pods_of(objs):
        rs_pods[p["metadata"]["ownerReferences"][0]["name"]].append(p)
    old_pods, new_pods = list(rs_pods.values())
    mi = 1024 * 1024
    scenario(
        "badrollout-memory-leak.yaml",
        "Revision 9 of sessions climbs from 110Mi to 240Mi of its 256Mi limit in 50 minutes "
        "while revision 8 stays flat at 120Mi: a leak brought by the rollout, not a small limit.",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 8},
        target=("Deployment", "shop", "sessions"),
        objects=objs,
        metrics=[
            matrix(
                "max by (namespace, pod, container) (container_memory_working_set_bytes{"
                'namespace="shop", pod=~"sessions-.*", container!="", container!="POD"})',
                [(pod_labels(p), [v * mi for v in (120, 121, 119, 120, 122)]) for p in old_pods]
                + [(pod_labels(p), [v * mi for v in (110, 150, 185, 215, 240)]) for p in new_pods],
                step=600,
            )
        ],
    )
    big = web_container("shop/catalog-api", "5.0.0", mem_limit="96Gi", mem_request="64Gi")
    objs = deployment(
        "shop",
        "catalog-api",
        revs=[
            Rev(
                14,
                [web_container("shop/catalog-api", "5.0.0")],
                [healthy(), healthy(), healthy()],
                age=60 * 24 * 2,
            ),
            Rev(
                15,
                [big],
                [
                    unschedulable(
                        "0/3 nodes are available: 3 Insufficient memory. "
                        "preemption: 0/3 nodes are available: 3 No "
                        "preemption victims found for incoming pod."
                    )
                ],
                age=12,
            ),
        ],
        replicas=3,
        progress="progressing",
    )
    scenario(
        "badrollout-impossible-request.yaml",
        "Revision 15 only raised the memory request to 64Gi; its pod cannot be scheduled on any "
        "16Gi node while revision 14 ran fine: roll back, do not add nodes.",
        category="BadRollout",
        action="RollbackRollout",
        params={"toRevision": 14},
        target=("Deployment", "shop", "catalog-api"),
        objects=[*objs, *[node(n) for n in NODES]],
    )


def build_oom_inside() -> None:
    objs = deployment(
        "shop",
        "pdf-renderer",
        revs=[
            Rev(
                6,
                [web_container("shop/pdf-renderer", "1.12.0", mem_limit="512Mi")],
                [healthy(), healthy()],
                age=60 * 24 * 3,
            )
        ],
        replicas=2,
    )
    pods = pods_of(objs)
    text = (
        "[2025-03-14 10:12:54 +0000] [1] [INFO] Booting worker with pid: 311\n"
        "[2025-03-14 10:21:03 +0000] [1] [ERROR] Worker (pid:311) was sent SIGKILL! "
        "Perhaps out of memory?\n"
        "[2025-03-14 10:21:03 +0000] [1] [INFO] Booting worker with pid: 344\n"
        "[2025-03-14 10:28:40 +0000] [1] [ERROR] Worker (pid:344) was sent SIGKILL! "
        "Perhaps out of memory?\n"
    )
    scenario(
        "oom-worker-killed-no-restart.yaml",
        "gunicorn workers of pdf-renderer are OOM-killed inside running containers "
        "(container_oom_events_total rises, restartCount stays 0).",
        category="OOMKilled",
        action="SetResources",
        params={"container": "app", "memoryLimit": "768Mi"},
        target=("Deployment", "shop", "pdf-renderer"),
        objects=objs,
        logs=[log(p, text, previous=False) for p in pods],
        metrics=[
            matrix(
                'max by (namespace, pod, container) (container_oom_events_total{namespace="shop", '
                'pod=~"pdf-renderer-.*", container!="", container!="POD"})',
                [(pod_labels(p), [0, 1, 1, 2]) for p in pods],
                step=600,
            )
        ],
    )


def render(s: Scenario) -> Obj:
    doc: Obj = {
        "apiVersion": "kubemedic.dev/v1alpha1",
        "kind": "IncidentBundle",
        "target": s.target,
        "collectedAt": ts(0),
    }
    if s.alerts:
        doc["alerts"] = s.alerts
    doc["objects"] = s.objects
    if s.logs:
        doc["logs"] = s.logs
    if s.metrics:
        doc["metrics"] = s.metrics
    return doc


def main() -> None:
    for builder in (
        build_oom,
        build_crash_loop,
        build_bad_rollout,
        build_image_pull,
        build_config_error,
        build_probe_failure,
        build_unschedulable,
        build_node_not_ready,
        build_volume_error,
        build_quota,
        build_service,
        build_evicted,
        build_hpa,
        build_unknown,
        build_node_pressure,
        build_volume_full,
        build_dependency_down,
        build_certificate,
        build_dns,
        build_cpu_throttling,
        build_disruption_blocked,
        build_init_container,
        build_rollout_stuck,
        build_pod_creation_failed,
        build_hpa_misconfigured,
        build_revision_aware,
        build_oom_inside,
    ):
        builder()
    index = []
    for s in SCENARIOS:
        header = (
            f"# {s.description}\n# Generated by tests/scenarios/_generate.py; expected diagnosis "
            "in index.yaml.\n"
        )
        body = yaml.safe_dump(
            render(s), sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True
        )
        (HERE / s.file).write_text(header + body)
        entry: Obj = {"file": s.file, "category": s.category, "firstAction": s.action}
        if s.params:
            entry["firstActionParams"] = s.params
        entry["description"] = s.description
        index.append(entry)
    text = (
        "# Expected diagnosis of every scenario bundle: category, first action type and,\n"
        "# where it matters, a subset of the first action's params.\n"
        "# Generated with the bundles by tests/scenarios/_generate.py.\n"
    )
    text += yaml.safe_dump({"scenarios": index}, sort_keys=False, width=1000, allow_unicode=True)
    (HERE / "index.yaml").write_text(text)


if __name__ == "__main__":
    main()
