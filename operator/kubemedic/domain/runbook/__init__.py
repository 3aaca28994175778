"""Markdown runbooks: what happened, the evidence, the checks, the proposed actions, how to verify.

A runbook is for the human on call, so it is written as steps with the exact ``kubectl``
commands for this incident (namespace, names and containers filled in). It is rendered
deterministically from the finding and the target — no timestamps, no randomness — so the
same bundle always yields the same text and a diff between two runbooks shows a real change.

Per category there is one recipe (:data:`RECIPES`) of checks and verification steps; the
names they need (``pod``, ``container``, ``node``, ...) come from ``Finding.facts`` with safe
placeholders such as ``<pod>`` when a fact is unknown.
"""

import json
from collections.abc import Mapping
from typing import Final

from kubemedic.domain import analyzers
from kubemedic.domain.catalog import action_command
from kubemedic.domain.runbook import cluster_recipes, workload_recipes
from kubemedic.domain.runbook.common import Recipe, Step, fill_names
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import TargetRef

RECIPES: Final[Mapping[Category, Recipe]] = {
    Category.OOM_KILLED: workload_recipes.oom,
    Category.CRASH_LOOP: workload_recipes.crash,
    Category.BAD_ROLLOUT: workload_recipes.bad_rollout,
    Category.IMAGE_PULL_ERROR: workload_recipes.image_pull,
    Category.CONFIG_ERROR: workload_recipes.config,
    Category.PROBE_FAILURE: workload_recipes.probe,
    Category.UNSCHEDULABLE: workload_recipes.unschedulable,
    Category.NODE_NOT_READY: workload_recipes.node,
    Category.VOLUME_ERROR: workload_recipes.volume,
    Category.QUOTA_EXCEEDED: workload_recipes.quota,
    Category.SERVICE_NO_ENDPOINTS: workload_recipes.service,
    Category.EVICTED: workload_recipes.evicted,
    Category.HPA_MAXED_OUT: workload_recipes.hpa,
    Category.NODE_PRESSURE: cluster_recipes.node_pressure,
    Category.VOLUME_FULL: cluster_recipes.volume_full,
    Category.DEPENDENCY_DOWN: cluster_recipes.dependency,
    Category.CERTIFICATE_EXPIRED: cluster_recipes.certificate,
    Category.DNS_FAILURE: cluster_recipes.dns,
    Category.CPU_THROTTLING: cluster_recipes.throttling,
    Category.DISRUPTION_BLOCKED: cluster_recipes.disruption,
    Category.INIT_CONTAINER_FAILURE: cluster_recipes.init_container,
    Category.ROLLOUT_STUCK: cluster_recipes.rollout_stuck,
    Category.POD_CREATION_FAILED: cluster_recipes.pod_creation,
    Category.HPA_MISCONFIGURED: cluster_recipes.hpa_misconfigured,
    Category.UNKNOWN: workload_recipes.unknown,
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
    names = fill_names(finding, target)
    checks, verify = RECIPES.get(finding.category, workload_recipes.unknown)(names)
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
