"""The scenario corpus as data: its parts, their expectations, and what counts as harm.

Shared by ``tests/unit/test_realistic_scenarios.py`` and ``bench/diagnosis_accuracy.py`` so
the test and the benchmark judge a diagnosis the same way.

Parts: ``original`` (tests/scenarios/*.yaml, written together with the rule engine),
``realistic`` (tests/scenarios/realistic/, written independently; misses may be studied) and
``heldout`` (tests/scenarios/heldout/, same provenance, scored only at the end, never tuned on).

A first action is *harmful* when it makes things worse whatever the category is:

- the problem is over (``recovered``): anything but Escalate acts on a healthy workload;
- the target is overloaded (``overloaded``): DeletePod or RestartRollout remove capacity;
- SetResources names a container that no pod template in the bundle has (an injected
  sidecar): the patch cannot change it;
- the index lists the action type as ``forbidden`` for this situation.
"""

import dataclasses
import functools
from pathlib import Path
from typing import Any

import yaml

from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import ActionType, Diagnosis

HERE = Path(__file__).resolve().parent
PARTS: dict[str, Path] = {
    "original": HERE,
    "realistic": HERE / "realistic",
    "heldout": HERE / "heldout",
}
#: Kinds whose ``spec.template`` is what SetResources patches.
TEMPLATE_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
OVERLOAD_HARM = frozenset({ActionType.DELETE_POD, ActionType.RESTART_ROLLOUT})


@dataclasses.dataclass(frozen=True)
class Case:
    part: str
    entry: dict[str, Any]

    @property
    def file(self) -> str:
        return str(self.entry["file"])

    @property
    def id(self) -> str:
        return f"{self.part}/{self.file}"

    @property
    def path(self) -> Path:
        return PARTS[self.part] / self.file

    def expected_failure(self) -> str | None:
        """Why the engine is expected to miss this case today, or None."""
        if needs := self.entry.get("needsCategory"):
            return f"needs category {needs}"
        if miss := self.entry.get("knownMiss"):
            return f"engine miss recorded: {miss}"
        return None

    def expected_harm(self) -> str | None:
        """Why the engine is expected to propose a harmful first action today, or None."""
        harm = self.entry.get("knownHarm")
        return f"harm recorded: {harm}" if harm else None


def index(part: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load((PARTS[part] / "index.yaml").read_text())[
        "scenarios"
    ]
    return entries


def cases(*parts: str) -> list[Case]:
    return [Case(part, entry) for part in parts for entry in index(part)]


@functools.cache
def load(path: Path) -> IncidentBundle:
    return IncidentBundle.model_validate(yaml.safe_load(path.read_text()))


def is_correct(entry: dict[str, Any], result: Diagnosis) -> bool:
    """Category, first action type and the expected subset of its params all match."""
    first = result.actions[0]
    params = entry.get("firstActionParams") or {}
    return (
        result.category.value == entry["category"]
        and first.type.value == entry["firstAction"]
        and all(first.params.get(key) == value for key, value in params.items())
    )


def template_containers(bundle: IncidentBundle) -> set[str]:
    """Names of the containers in every pod template of the bundle (bare pods: their spec)."""
    names: set[str] = set()
    workloads = [o for o in bundle.objects if o.get("kind") in TEMPLATE_KINDS]
    for obj in workloads:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        names |= {c.get("name") for c in spec.get("containers", []) or []}
    if not workloads:
        for pod in (o for o in bundle.objects if o.get("kind") == "Pod"):
            names |= {c.get("name") for c in pod.get("spec", {}).get("containers", []) or []}
    return names


def harms(entry: dict[str, Any], bundle: IncidentBundle, result: Diagnosis) -> list[str]:
    """Why the first action of ``result`` is harmful here (empty when it is not)."""
    first = result.actions[0]
    found = []
    if entry.get("recovered") and first.type is not ActionType.ESCALATE:
        found.append(f"{first.type.value} on a recovered target")
    if entry.get("overloaded") and first.type in OVERLOAD_HARM:
        found.append(f"{first.type.value} on an overloaded target")
    if first.type is ActionType.SET_RESOURCES:
        container = first.params.get("container")
        if container not in template_containers(bundle):
            found.append(f"SetResources for container {container!r} that no template has")
    if first.type.value in entry.get("forbidden", []):
        found.append(f"{first.type.value} is forbidden here")
    return found
