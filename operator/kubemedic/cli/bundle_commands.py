"""``kubemedic bundle`` and ``kubemedic diagnose``: gather an IncidentBundle from a live
cluster, diagnose one offline; the bundle file reader and the diagnosis output formats.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kubemedic.cli.common import (
    EXIT_OK,
    UsageError,
    connect,
    fail,
    operator_settings,
    progress,
)
from kubemedic.clients.bundle_file import (
    DEFAULT_MAX_BYTES,
    BundleFileError,
    parse_yaml,
    read_regular_file,
)
from kubemedic.constants import API_GROUP, API_VERSION, INCIDENT_PLURAL
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis
from kubemedic.models.incident import IncidentSpec
from kubemedic.models.target import CLUSTER_SCOPED_KINDS, TargetKind, TargetRef

# -- bundle files -----------------------------------------------------------------


def load_bundle(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> IncidentBundle:
    """Read and validate a bundle file (YAML or JSON); UsageError names path and problem.

    Only a regular file of at most ``max_bytes`` is read, within nesting and number limits
    (``clients/bundle_file.py``): a FIFO, ``/dev/zero`` or a crafted file is an error, never
    a hang, a traceback or unbounded memory.
    """
    try:
        data = parse_yaml(read_regular_file(path, max_bytes=max_bytes))
    except BundleFileError as exc:
        raise UsageError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: a bundle must be a mapping with apiVersion '{API_GROUP}/{API_VERSION}' "
            f"and kind 'IncidentBundle', got {type(data).__name__}"
        )
    try:
        return IncidentBundle.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:10]:
            location = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"  {location}: {err['msg']}")
        raise UsageError(f"{path}: invalid IncidentBundle:\n" + "\n".join(problems)) from None


def dump_bundle(bundle: IncidentBundle) -> str:
    return yaml.safe_dump(
        bundle.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=False
    )


# -- output -----------------------------------------------------------------------


def diagnosis_contract(diagnosis: Diagnosis) -> dict[str, Any]:
    """The stable JSON contract of ``diagnose -o json`` (see README, 'Diagnosis JSON')."""
    return {
        "category": diagnosis.category.value,
        "summary": diagnosis.summary,
        "confidence": round(diagnosis.confidence, 3),
        "evidence": list(diagnosis.evidence),
        "actions": [
            {
                "type": a.type.value,
                "target": {
                    "kind": a.target.kind,
                    "namespace": a.target.namespace,
                    "name": a.target.name,
                },
                "params": a.params,
                "risk": a.risk.value,
            }
            for a in diagnosis.actions
        ],
        "runbook": diagnosis.runbook,
    }


def render_diagnosis(diagnosis: Diagnosis, fmt: str) -> str:
    contract = diagnosis_contract(diagnosis)
    if fmt == "json":
        return json.dumps(contract, indent=2)
    if fmt == "yaml":
        return yaml.safe_dump(contract, sort_keys=False)
    lines = [
        f"Category:   {contract['category']}",
        f"Confidence: {contract['confidence']:.0%}",
        f"Summary:    {contract['summary']}",
        "Evidence:",
        *[f"  - {e}" for e in contract["evidence"]],
        "Proposed actions:",
        *[
            f"  - {a['type']} {a['target']['kind']}/{a['target']['name']} "
            f"{json.dumps(a['params'], sort_keys=True)} (risk {a['risk']})"
            for a in contract["actions"]
        ],
        "",
        contract["runbook"],
    ]
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------


def cmd_diagnose(args: argparse.Namespace) -> int:
    bundle = load_bundle(Path(args.bundle), max_bytes=operator_settings().bundle_max_bytes)
    print(render_diagnosis(diagnose_bundle(bundle), args.output))
    return EXIT_OK


def parse_target(value: str, namespace: str | None) -> TargetRef:
    kind_text, sep, name = value.partition("/")
    if not sep or not name:
        raise UsageError(f"--target must look like KIND/NAME (e.g. Deployment/web), got '{value}'")
    kinds = {k.value.lower(): k for k in TargetKind} | {
        "deploy": TargetKind.DEPLOYMENT,
        "po": TargetKind.POD,
        "sts": TargetKind.STATEFULSET,
        "ds": TargetKind.DAEMONSET,
        "svc": TargetKind.SERVICE,
        "pvc": TargetKind.PERSISTENT_VOLUME_CLAIM,
        "hpa": TargetKind.HORIZONTAL_POD_AUTOSCALER,
        "no": TargetKind.NODE,
    }
    kind = kinds.get(kind_text.lower())
    if kind is None:
        allowed = ", ".join(k.value for k in TargetKind)
        raise UsageError(f"--target kind '{kind_text}' is not supported; use one of: {allowed}")
    try:
        return TargetRef(
            kind=kind, namespace=None if kind in CLUSTER_SCOPED_KINDS else namespace, name=name
        )
    except ValidationError as exc:
        raise UsageError(f"--target '{value}': {exc.errors()[0]['msg']}") from None


def cmd_bundle(args: argparse.Namespace) -> int:
    from kubemedic.clients.cluster import Access  # noqa: PLC0415
    from kubemedic.clients.evidence import (  # noqa: PLC0415
        TargetNotFoundError,
        gather_bundle,
        resource_of,
    )
    from kubemedic.clients.incidents import IncidentStore  # noqa: PLC0415
    from kubemedic.clients.kube import KubeReader  # noqa: PLC0415
    from kubemedic.domain.lifecycle import resolve_target  # noqa: PLC0415
    from kubemedic.service.metrics_evidence import enrich_bundle  # noqa: PLC0415

    if bool(args.target) == bool(args.incident):
        raise UsageError("give exactly one of --target KIND/NAME or --incident NAME")
    namespace = args.namespace or "default"
    settings = operator_settings()
    if args.incident:
        api = connect(
            args.kubeconfig,
            [Access("get", INCIDENT_PLURAL, group=API_GROUP, namespace=namespace)],
        )
        incident = IncidentStore(api).get(namespace, args.incident)
        if incident is None:
            fail(f"Incident {namespace}/{args.incident} not found")
        spec = IncidentSpec.model_validate(incident["spec"])
        target = resolve_target(spec.target, incident_namespace=namespace)
    else:
        target = parse_target(args.target, namespace)
        spec = IncidentSpec(target=target)
        group, resource = resource_of(target.kind)
        api = connect(
            args.kubeconfig,
            [Access("get", resource, group=group, namespace=target.namespace)],
        )
    reader = KubeReader(api)
    progress(f"gathering evidence for {target.display()} ...")
    try:
        bundle = gather_bundle(reader, target)
    except TargetNotFoundError:
        fail(f"{target.display()} not found")
    # The operator's enrichers too (the alert; PromQL with KUBEMEDIC_PROMETHEUS_URL), so the
    # file holds what the operator's diagnosis read.
    bundle, reports = enrich_bundle(bundle, spec=spec, settings=settings)
    for report in reports:
        progress(f"{report.condition_type}={report.status} ({report.reason}): {report.message}")
    text = dump_bundle(bundle)
    pods = sum(1 for o in bundle.objects if o.get("kind") == "Pod")
    events = sum(1 for o in bundle.objects if o.get("kind") == "Event")
    summary = (
        f"{len(bundle.objects)} objects ({pods} pods, {events} events), {len(bundle.logs)} logs"
    )
    if args.output and args.output != "-":
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {args.output}: {exc.strerror}")
        progress(f"wrote {args.output}: {summary}")
    else:
        sys.stdout.write(text)
        progress(summary)
    return EXIT_OK
