"""The action catalog: what each action type is, in one place.

For every :class:`~kubemedic.models.diagnosis.ActionType`: its fixed risk, the kinds of
object it may act on, its parameter model, whether kubemedic applies it (Escalate only
tells a person), and the ``kubectl`` command a person would run instead. The rule engine,
the LLM's answer schema and its validation, the prompt, the patch builder and the runbook
all read this table, so they cannot disagree about what an action may touch.

Risks are fixed per action type, not per situation, so a policy that auto-approves "Low"
knows exactly what it approves:

- Low: RestartRollout (pods are replaced one by one under the rollout strategy), DeletePod
  (its controller recreates it), Escalate (nothing is applied).
- Medium: RollbackRollout, ScaleWorkload, SetResources, PatchHPA — each changes a spec that
  someone wrote, and is undone by changing it back.
- High: CordonNode — it affects every workload that could schedule on the node.

The parameter models stay in models/diagnosis.py (``Action`` validates its params with them
and models cannot import domain); :data:`CATALOG` names them.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Mapping
from typing import Final

from kubemedic.models.base import KubeModel
from kubemedic.models.diagnosis import PARAMS_MODELS, Action, ActionType, Risk
from kubemedic.models.target import TargetKind

#: In this order in the prompt and the answer schema.
_WORKLOADS: Final = ("Deployment", "StatefulSet", "DaemonSet")


@dataclasses.dataclass(frozen=True)
class ActionSpec:
    """One action type in the catalog."""

    risk: Risk
    #: The kinds of object the action may act on.
    target_kinds: tuple[str, ...]
    params: type[KubeModel]
    #: Whether kubemedic changes the cluster for it (Escalate only tells a person).
    applied: bool = True


CATALOG: Final[Mapping[ActionType, ActionSpec]] = {
    ActionType.RESTART_ROLLOUT: ActionSpec(
        Risk.LOW, _WORKLOADS, PARAMS_MODELS[ActionType.RESTART_ROLLOUT]
    ),
    ActionType.DELETE_POD: ActionSpec(Risk.LOW, ("Pod",), PARAMS_MODELS[ActionType.DELETE_POD]),
    ActionType.ESCALATE: ActionSpec(
        Risk.LOW,
        tuple(sorted({k.value for k in TargetKind} | {"ReplicaSet"})),
        PARAMS_MODELS[ActionType.ESCALATE],
        applied=False,
    ),
    ActionType.ROLLBACK_ROLLOUT: ActionSpec(
        Risk.MEDIUM, ("Deployment",), PARAMS_MODELS[ActionType.ROLLBACK_ROLLOUT]
    ),
    ActionType.SCALE_WORKLOAD: ActionSpec(
        Risk.MEDIUM, ("Deployment", "StatefulSet"), PARAMS_MODELS[ActionType.SCALE_WORKLOAD]
    ),
    ActionType.SET_RESOURCES: ActionSpec(
        Risk.MEDIUM, _WORKLOADS, PARAMS_MODELS[ActionType.SET_RESOURCES]
    ),
    ActionType.PATCH_HPA: ActionSpec(
        Risk.MEDIUM, ("HorizontalPodAutoscaler",), PARAMS_MODELS[ActionType.PATCH_HPA]
    ),
    ActionType.CORDON_NODE: ActionSpec(Risk.HIGH, ("Node",), PARAMS_MODELS[ActionType.CORDON_NODE]),
}

#: The fixed risk of every action type.
ACTION_RISKS: Final[Mapping[ActionType, Risk]] = {t: s.risk for t, s in CATALOG.items()}
#: The kinds each action type may act on.
ACTION_TARGET_KINDS: Final[Mapping[ActionType, tuple[str, ...]]] = {
    t: s.target_kinds for t, s in CATALOG.items()
}


def _set_resources_flags(params: Mapping[str, object]) -> str:
    limits = [
        f"{r}={params[k]}"
        for r, k in (("cpu", "cpuLimit"), ("memory", "memoryLimit"))
        if k in params
    ]
    requests = [
        f"{r}={params[k]}"
        for r, k in (("cpu", "cpuRequest"), ("memory", "memoryRequest"))
        if k in params
    ]
    return (f" --limits={','.join(limits)}" if limits else "") + (
        f" --requests={','.join(requests)}" if requests else ""
    )


def action_command(action: Action) -> str | None:
    """The kubectl command equivalent to an action, for a human who applies it by hand."""
    target, params = action.target, action.params
    ns = f" -n {shlex.quote(target.namespace)}" if target.namespace else ""
    ref = f"{target.kind.lower()}/{shlex.quote(target.name)}"
    patch = json.dumps({"spec": params}, sort_keys=True, separators=(",", ":"))
    commands: dict[ActionType, str] = {
        ActionType.RESTART_ROLLOUT: f"kubectl rollout restart {ref}{ns}",
        ActionType.ROLLBACK_ROLLOUT: (
            f"kubectl rollout undo {ref}{ns} --to-revision={params.get('toRevision')}"
        ),
        ActionType.SCALE_WORKLOAD: f"kubectl scale {ref}{ns} --replicas={params.get('replicas')}",
        ActionType.SET_RESOURCES: (
            f"kubectl set resources {ref}{ns} -c {shlex.quote(str(params.get('container')))}"
            f"{_set_resources_flags(params)}"
        ),
        ActionType.DELETE_POD: f"kubectl delete pod {shlex.quote(str(params.get('pod')))}{ns}",
        ActionType.CORDON_NODE: f"kubectl cordon {shlex.quote(str(params.get('node')))}",
        ActionType.PATCH_HPA: (
            f"kubectl patch hpa {shlex.quote(target.name)}{ns} --type=merge -p {shlex.quote(patch)}"
        ),
    }
    # NB: Escalate has no command on purpose: a human decides what to run.
    return commands.get(action.type)


__all__ = [
    "ACTION_RISKS",
    "ACTION_TARGET_KINDS",
    "CATALOG",
    "ActionSpec",
    "action_command",
]
