"""ConfigError: containers that cannot be created because a ConfigMap, Secret or key is missing.

The kubelet's message names the missing object (:func:`parse_missing_reference`); the
Escalate instructions say exactly what to create.
"""

import dataclasses

from kubemedic.domain import view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category


@dataclasses.dataclass(frozen=True)
class MissingReference:
    """A ConfigMap or Secret (or one key of it) that a pod references but does not exist."""

    kind: str
    namespace: str
    name: str
    key: str | None

    def instruction(self) -> str:
        if self.key:
            return (
                f"add key '{self.key}' to {self.kind} '{self.name}' in namespace '{self.namespace}'"
            )
        return f"create {self.kind} '{self.name}' in namespace '{self.namespace}'"

    def command(self) -> str:
        if self.kind == "ConfigMap":
            return f"kubectl get configmap {self.name} -n {self.namespace} -o yaml"
        return f"kubectl get secret {self.name} -n {self.namespace} -o jsonpath='{{.data}}'"


def parse_missing_reference(message: str, namespace: str) -> MissingReference | None:
    """The ConfigMap/Secret a kubelet error message says is missing."""
    text = message[: vocabulary.MAX_SCAN]
    key_match = vocabulary.MISSING_KEY_RE.search(text)
    if key_match:
        return MissingReference(
            kind=key_match[2], namespace=key_match[3], name=key_match[4], key=key_match[1]
        )
    object_match = vocabulary.MISSING_OBJECT_RE.search(text)
    if object_match:
        kind = "ConfigMap" if object_match[1].lower() == "configmap" else "Secret"
        return MissingReference(kind=kind, namespace=namespace, name=object_match[2], key=None)
    return None


def analyze_config_error(index: view.BundleView) -> base.Finding | None:
    """Containers that cannot be created because a ConfigMap, Secret or key is missing."""
    problems = signals.scope_problems(index, [signals.ProblemKind.CONFIG])
    if not problems:
        return None
    missing: dict[MissingReference, None] = {}
    for problem in problems:
        ref = parse_missing_reference(problem.message, problem.namespace)
        if ref is not None:
            missing[ref] = None
    first = problems[0]
    evidence = signals.cite_problems(problems)
    pods_by_name = {view.name_of(pod): pod for pod in index.scope_pods()}
    for problem in problems[: base.MAX_CITED_PODS]:
        pod = pods_by_name.get(problem.pod)
        for event in index.events_for(pod) if pod is not None else []:
            if event.type == "Warning" and event.reason in {"Failed", "FailedMount"}:
                evidence.append(event.cite())
    workload_key = index.workload_ref()
    subject = base.describe_workload(workload_key, f"Pod {first.namespace}/{first.pod}")
    if missing:
        todo = "; ".join(ref.instruction() for ref in missing)
        checks = " ".join(f"`{ref.command()}`" for ref in missing)
        instructions = (
            f"{todo[0].upper()}{todo[1:]} (referenced by {subject}), or remove the reference from "
            "the pod "
            f"template. Check with {checks}. The kubelet retries on its own once it exists."
        )
        what = ", ".join(
            f"{ref.kind} '{ref.name}'" + (f" key '{ref.key}'" if ref.key else "") for ref in missing
        )
        summary = f"{subject} cannot start its containers: {what} is missing."
        confidence = base.scaled_confidence(0.92, signals.count_affected_pods(problems))
    else:
        instructions = (
            f"The kubelet cannot create container '{first.container}' of {subject}: "
            f"{view.truncate(first.message, 300)}. Fix the referenced configuration."
        )
        summary = f"{subject} cannot create its containers ({first.reason})."
        confidence = base.scaled_confidence(0.75, signals.count_affected_pods(problems))
    facts = {"pod": first.pod, "container": first.container, "namespace": first.namespace}
    if missing:
        ref = next(iter(missing))
        facts |= {"missing_kind": ref.kind, "missing_name": ref.name, "missing_key": ref.key or ""}
    return base.escalation(
        index,
        Category.CONFIG_ERROR,
        summary=summary,
        confidence=confidence,
        evidence=evidence,
        instructions=instructions,
        facts=facts,
    )
