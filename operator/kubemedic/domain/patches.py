"""Remediation, the pure part: fingerprints, idempotency markers, patches, verification.

Every change is a JSON patch (RFC 6902) built here from the *live* object and applied by
clients/remediator.py. Three things make an action apply at most once:

1. the intent (with an idempotency key) is written to the Incident status before applying;
2. the patch carries a ``test`` of the target's ``metadata.generation`` as it was when the
   action was decided — once the change is in, the generation moved on, so any retry of
   the same patch is rejected atomically by the API server;
3. the same patch stamps ``actions.kubemedic.dev/<key>`` on the target, so a restarted or
   another replica can tell the action was applied and record the result instead.

Values are deterministic (absolute replicas, limits, the revision's template), so even a
patch applied twice would converge to the same state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from kubemedic.domain import view
from kubemedic.domain.catalog import CATALOG
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Action, ActionType

MARKER_PREFIX: Final = "actions.kubemedic.dev/"
RESTARTED_AT_ANNOTATION: Final = "kubectl.kubernetes.io/restartedAt"
#: Markers older than this are dropped when a new one is stamped (rate limits look back 1h).
MARKER_RETENTION_HOURS: Final = 24
_WAITING_FAILURES: Final = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)

JsonPatch = list[dict[str, Any]]


class RemediationError(ValueError):
    """An action cannot be applied to the live object; the message says why."""


def idempotency_key(incident_uid: str, action_id: str) -> str:
    """A short key, unique per (incident, action), stamped on the target."""
    return hashlib.sha256(f"{incident_uid}/{action_id}".encode()).hexdigest()[:16]


def target_fingerprint(obj: Mapping[str, Any]) -> str:
    """What must not change between diagnosis and applying: uid and spec generation.

    Nodes have no generation; their ``spec.unschedulable`` is what our actions touch.
    """
    uid = view.uid_of(obj)
    if view.kind_of(obj) == "Node":
        return f"{uid}/unschedulable={bool(view.get(obj, 'spec', 'unschedulable'))}"
    generation = view.get_int(obj, "metadata", "generation")
    return f"{uid}/{generation if generation is not None else 0}"


def marker_key(key: str) -> str:
    return f"{MARKER_PREFIX}{key}"


def has_marker(obj: Mapping[str, Any], key: str) -> bool:
    """Whether the action with this idempotency key was applied to ``obj``."""
    return marker_key(key) in view.annotations_of(obj)


def _marker_time(value: str) -> datetime:
    """The time in a marker's JSON; a time without an offset is taken as UTC."""
    stamped = datetime.fromisoformat(str(json.loads(value).get("time")))
    return stamped if stamped.tzinfo is not None else stamped.replace(tzinfo=UTC)


def marker_times(obj: Mapping[str, Any]) -> list[datetime]:
    """When kubemedic applied actions to ``obj`` (from its markers), for rate limits."""
    times = []
    for name, value in view.annotations_of(obj).items():
        if not name.startswith(MARKER_PREFIX):
            continue
        try:
            times.append(_marker_time(value))
        except (ValueError, TypeError, AttributeError):
            continue
    return times


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _marker_ops(
    obj: Mapping[str, Any], *, key: str, action: Action, incident: str, now: datetime
) -> JsonPatch:
    value = json.dumps(
        {
            "action": action.type.value,
            "id": action.id,
            "incident": incident,
            "time": now.isoformat(),
        },
        sort_keys=True,
    )
    annotations = view.annotations_of(obj)
    if not isinstance(view.get(obj, "metadata", "annotations"), dict):
        return [{"op": "add", "path": "/metadata/annotations", "value": {marker_key(key): value}}]
    ops: JsonPatch = []
    for name, old in annotations.items():
        if name.startswith(MARKER_PREFIX):
            try:
                stamped = _marker_time(old)
            except (ValueError, TypeError, AttributeError):
                continue
            if (now - stamped).total_seconds() > MARKER_RETENTION_HOURS * 3600:
                ops.append({"op": "remove", "path": f"/metadata/annotations/{_escape(name)}"})
    ops.append(
        {"op": "add", "path": f"/metadata/annotations/{_escape(marker_key(key))}", "value": value}
    )
    return ops


def _generation_test(obj: Mapping[str, Any]) -> JsonPatch:
    generation = view.get_int(obj, "metadata", "generation")
    if generation is None:
        return [{"op": "test", "path": "/metadata/uid", "value": view.uid_of(obj)}]
    return [{"op": "test", "path": "/metadata/generation", "value": generation}]


def _container_index(obj: Mapping[str, Any], name: str) -> int:
    containers = view.get_list(obj, "spec", "template", "spec", "containers")
    for index, container in enumerate(containers):
        if isinstance(container, dict) and container.get("name") == name:
            return index
    raise RemediationError(f"container '{name}' is not in {view.cite(obj)}'s pod template")


@dataclass(frozen=True)
class PatchPlan:
    """What to send: a JSON patch (or a pod deletion) and the patch that undoes it."""

    ops: JsonPatch
    revert: JsonPatch | None
    delete_pod_uid: str | None = None


def build_patch(
    action: Action,
    live: Mapping[str, Any],
    *,
    key: str,
    incident: str,
    now: datetime,
    rollback_template: Mapping[str, Any] | None = None,
) -> PatchPlan:
    """The JSON patch that applies ``action`` to ``live`` (with its precondition and marker)."""
    kind = view.kind_of(live)
    spec = CATALOG[action.type]
    allowed = spec.target_kinds
    if not spec.applied:
        raise RemediationError(f"{action.type.value} applies nothing")
    if kind not in allowed:
        wanted = ", ".join(allowed[:-1]) + (" or " if len(allowed) > 1 else "") + allowed[-1]
        raise RemediationError(
            f"{action.type.value} needs a {wanted}, not {kind or 'an object without a kind'}"
        )
    guard = _generation_test(live)
    marker = _marker_ops(live, key=key, action=action, incident=incident, now=now)
    params = action.params
    if action.type is ActionType.RESTART_ROLLOUT:
        if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            raise RemediationError(
                f"RestartRollout needs a Deployment, StatefulSet or DaemonSet, not {kind}"
            )
        template_annotations = view.get(live, "spec", "template", "metadata", "annotations")
        if isinstance(template_annotations, dict):
            path = f"/spec/template/metadata/annotations/{_escape(RESTARTED_AT_ANNOTATION)}"
            change: JsonPatch = [{"op": "add", "path": path, "value": now.isoformat()}]
        else:
            change = [
                {
                    "op": "add",
                    "path": "/spec/template/metadata/annotations",
                    "value": {RESTARTED_AT_ANNOTATION: now.isoformat()},
                }
            ]
        return PatchPlan(ops=guard + change + marker, revert=None)
    if action.type is ActionType.ROLLBACK_ROLLOUT:
        if kind != "Deployment" or rollback_template is None:
            raise RemediationError(
                f"RollbackRollout needs a Deployment and the revision's template, not {kind}"
            )
        template = json.loads(json.dumps(rollback_template))
        labels = template.get("metadata", {}).get("labels", {})
        labels.pop("pod-template-hash", None)
        current = view.get(live, "spec", "template")
        return PatchPlan(
            ops=[*guard, {"op": "replace", "path": "/spec/template", "value": template}, *marker],
            revert=[{"op": "replace", "path": "/spec/template", "value": current}],
        )
    if action.type is ActionType.SCALE_WORKLOAD:
        current_replicas = view.get(live, "spec", "replicas")
        return PatchPlan(
            ops=[
                *guard,
                {"op": "add", "path": "/spec/replicas", "value": int(params["replicas"])},
                *marker,
            ],
            revert=[{"op": "add", "path": "/spec/replicas", "value": current_replicas}]
            if current_replicas is not None
            else None,
        )
    if action.type is ActionType.SET_RESOURCES:
        index = _container_index(live, str(params["container"]))
        path = f"/spec/template/spec/containers/{index}/resources"
        current = view.get_dict(live, "spec", "template", "spec", "containers", index, "resources")
        wanted = json.loads(json.dumps(current))
        for param, section, resource in (
            ("memoryLimit", "limits", "memory"),
            ("memoryRequest", "requests", "memory"),
            ("cpuLimit", "limits", "cpu"),
            ("cpuRequest", "requests", "cpu"),
        ):
            if params.get(param) is not None:
                wanted.setdefault(section, {})[resource] = params[param]
        name_test = {
            "op": "test",
            "path": f"/spec/template/spec/containers/{index}/name",
            "value": params["container"],
        }
        return PatchPlan(
            ops=[*guard, name_test, {"op": "add", "path": path, "value": wanted}, *marker],
            revert=[name_test, {"op": "add", "path": path, "value": current}],
        )
    if action.type is ActionType.CORDON_NODE:
        was = bool(view.get(live, "spec", "unschedulable"))
        return PatchPlan(
            ops=[
                {"op": "test", "path": "/metadata/uid", "value": view.uid_of(live)},
                {"op": "add", "path": "/spec/unschedulable", "value": True},
                *marker,
            ],
            revert=[{"op": "add", "path": "/spec/unschedulable", "value": was}],
        )
    if action.type is ActionType.PATCH_HPA:
        ops: JsonPatch = [
            {"op": "add", "path": "/spec/maxReplicas", "value": int(params["maxReplicas"])}
        ]
        revert: JsonPatch = [
            {
                "op": "add",
                "path": "/spec/maxReplicas",
                "value": view.get(live, "spec", "maxReplicas"),
            }
        ]
        if params.get("minReplicas") is not None:
            ops.append(
                {"op": "add", "path": "/spec/minReplicas", "value": int(params["minReplicas"])}
            )
            revert.append(
                {
                    "op": "add",
                    "path": "/spec/minReplicas",
                    "value": view.get(live, "spec", "minReplicas"),
                }
            )
        return PatchPlan(ops=[*guard, *ops, *marker], revert=revert)
    if action.type is ActionType.DELETE_POD:
        if kind != "Pod":
            raise RemediationError(f"DeletePod needs a Pod, not {kind}")
        return PatchPlan(ops=[], revert=None, delete_pod_uid=view.uid_of(live))
    raise RemediationError(f"{action.type.value} applies nothing")


class VerdictState(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    PENDING = "Pending"


@dataclass(frozen=True)
class Verdict:
    state: VerdictState
    message: str


def _failing_pods(pods: Sequence[Mapping[str, Any]]) -> list[str]:
    failing = []
    for pod in pods:
        if view.is_terminal_pod(pod) or view.get(pod, "metadata", "deletionTimestamp"):
            continue
        for status in view.container_statuses(pod):
            reason = view.get_str(status, "state", "waiting", "reason")
            restarts = view.get_int(status, "restartCount") or 0
            if reason in _WAITING_FAILURES or (restarts > 0 and not status.get("ready")):
                failing.append(f"{view.name_of(pod)} ({reason or f'restartCount={restarts}'})")
                break
    return failing


def verify_action(
    action: Action,
    *,
    bundle: IncidentBundle | None,
    applied_generation: int | None,
    deleted_pod_gone: bool,
) -> Verdict:
    """Is the target healthy after ``action``? Pending until it is, or until it clearly is not."""
    if action.type is ActionType.DELETE_POD:
        if deleted_pod_gone:
            return Verdict(VerdictState.PASSED, "the pod was deleted; its controller replaces it")
        return Verdict(VerdictState.PENDING, "waiting for the pod to be gone")
    if bundle is None:
        return Verdict(VerdictState.FAILED, "the target no longer exists")
    index = view.BundleView(bundle)
    target = index.target_object()
    if target is None:
        return Verdict(VerdictState.FAILED, "the target no longer exists")
    view.kind_of(target)
    if action.type is ActionType.CORDON_NODE:
        if view.get(target, "spec", "unschedulable") is True:
            return Verdict(
                VerdictState.PASSED, f"{view.cite(target)} is cordoned (spec.unschedulable=true)"
            )
        return Verdict(VerdictState.PENDING, "waiting for spec.unschedulable=true")
    if action.type is ActionType.PATCH_HPA:
        wanted = int(action.params["maxReplicas"])
        if view.get_int(target, "spec", "maxReplicas") == wanted:
            return Verdict(VerdictState.PASSED, f"{view.cite(target)} spec.maxReplicas={wanted}")
        return Verdict(VerdictState.PENDING, f"waiting for spec.maxReplicas={wanted}")
    observed = view.get_int(target, "status", "observedGeneration") or 0
    if applied_generation is not None and observed < applied_generation:
        return Verdict(
            VerdictState.PENDING, f"the controller has not seen generation {applied_generation} yet"
        )
    current_pods = _current_pods(index, target)
    failing = _failing_pods(current_pods)
    if failing:
        return Verdict(
            VerdictState.FAILED, "still failing after the change: " + ", ".join(failing[:5])
        )
    desired, ready, updated = _replica_counts(target)
    if desired == 0 and not _scaled_to_zero_on_purpose(action):
        # NB: "0/0 ready" is not healthy: a workload with no replicas serves nothing.
        return Verdict(
            VerdictState.FAILED, f"{view.cite(target)}: no replicas are available (0 desired)"
        )
    if (
        desired is not None
        and ready is not None
        and ready >= desired
        and (updated is None or updated >= desired)
    ) and all(view.is_pod_ready(p) for p in _live(current_pods)):
        return Verdict(
            VerdictState.PASSED,
            f"{view.cite(target)}: {ready}/{desired} replicas updated and ready",
        )
    return Verdict(
        VerdictState.PENDING,
        f"{view.cite(target)}: {ready or 0}/{desired} ready, rollout in progress",
    )


def _scaled_to_zero_on_purpose(action: Action) -> bool:
    """Only a ScaleWorkload to 0 (which the bounds let through only when a policy allows it
    for a rule-engine proposal) may leave a workload without replicas."""
    return action.type is ActionType.SCALE_WORKLOAD and int(action.params["replicas"]) == 0


def _live(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Pods that count: not finished (Evicted, Succeeded) and not being deleted."""
    return [
        p
        for p in pods
        if not view.is_terminal_pod(p) and not view.get(p, "metadata", "deletionTimestamp")
    ]


def _current_pods(index: view.BundleView, target: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if view.kind_of(target) == "Deployment":
        revisions = index.revisions(target)
        return list(revisions[-1].pods) if revisions else []
    return list(index.owned_by(target, "Pod"))


def _replica_counts(target: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    if view.kind_of(target) == "DaemonSet":
        return (
            view.get_int(target, "status", "desiredNumberScheduled"),
            view.get_int(target, "status", "numberReady") or 0,
            view.get_int(target, "status", "updatedNumberScheduled") or 0,
        )
    desired = view.get_int(target, "spec", "replicas")
    return (
        1 if desired is None else desired,
        view.get_int(target, "status", "readyReplicas") or 0,
        view.get_int(target, "status", "updatedReplicas") or 0,
    )
