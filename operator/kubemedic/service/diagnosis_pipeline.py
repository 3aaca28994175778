"""Diagnose one Incident: gather evidence, run the engines, compute the new status.

The same ``diagnose_bundle`` runs here and in ``kubemedic diagnose --bundle``, so the
bundle file of an incident reproduces its rule diagnosis.

Pipeline (each optional stage is a plug-in on :class:`DiagnosisDeps`)::

    gather_bundle (Kubernetes)  →  enrich (e.g. Prometheus metrics)  →  diagnose_bundle (rules)
        →  refine (e.g. the LLM)  →  status_diagnosed

An enricher or refiner that fails never fails the diagnosis: the rules' answer stands
and the stage reports its own condition. A stage that raises anyway (the API server
unreachable while gathering, a bug) fails the attempt: it is counted in
``kubemedic_diagnosis_errors_total{stage}`` and the leader's loop retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from kubemedic import metrics
from kubemedic.clients.evidence import TargetNotFoundError, gather_bundle
from kubemedic.clients.kube import KubeReader
from kubemedic.domain import lifecycle, view
from kubemedic.domain import patches as remediation
from kubemedic.domain.rule_engine import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.conditions import ConditionReason, ConditionStatus
from kubemedic.models.diagnosis import Diagnosis
from kubemedic.models.incident import IncidentSpec, IncidentStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageReport:
    """What an optional stage wants recorded: a condition (type, status, reason, message)."""

    condition_type: str
    status: ConditionStatus
    reason: ConditionReason
    message: str


class BundleEnricher(Protocol):
    """Adds evidence to a gathered bundle (e.g. PromQL results)."""

    async def enrich(
        self, bundle: IncidentBundle, *, spec: IncidentSpec, now: datetime
    ) -> tuple[IncidentBundle, StageReport | None]: ...


class DiagnosisRefiner(Protocol):
    """Refines the rules' diagnosis (e.g. with the LLM); returns it unchanged on failure."""

    async def refine(
        self, bundle: IncidentBundle, rules: Diagnosis, *, spec: IncidentSpec
    ) -> tuple[Diagnosis, StageReport | None]: ...


@dataclass(frozen=True)
class DiagnosisDeps:
    """The clients a diagnosis uses; optional stages are None when not configured."""

    reader: KubeReader
    enrichers: Sequence[BundleEnricher] = field(default_factory=tuple)
    refiner: DiagnosisRefiner | None = None


@dataclass(frozen=True)
class DiagnosisOutcome:
    """The new status and what to tell people about it."""

    status: IncidentStatus
    target_found: bool
    diagnosis: Diagnosis | None = None
    bundle: IncidentBundle | None = None
    reports: tuple[StageReport, ...] = ()


@contextlib.contextmanager
def _stage(name: str) -> Iterator[None]:
    """Count an error that escapes a stage (then let it propagate)."""
    try:
        yield
    except TargetNotFoundError:
        raise  # NB: not an error: the Incident waits for its target
    except Exception:
        metrics.DIAGNOSIS_ERRORS.labels(stage=name).inc()
        raise


async def diagnose_incident(
    deps: DiagnosisDeps,
    *,
    spec: IncidentSpec,
    status: IncidentStatus,
    incident_namespace: str,
    generation: int | None,
    now: datetime | None = None,
) -> DiagnosisOutcome:
    """Gather, diagnose and return the Incident's next status (nothing is written here)."""
    now = now or datetime.now(UTC)
    target = lifecycle.resolve_target(spec.target, incident_namespace=incident_namespace)
    status = lifecycle.status_detected(status, target=target, now=now)
    started = time.perf_counter()
    try:
        with _stage("gather"):
            bundle = await asyncio.to_thread(gather_bundle, deps.reader, target, now=now)
    except TargetNotFoundError:
        metrics.TARGET_NOT_FOUND.inc()
        return DiagnosisOutcome(
            status=lifecycle.status_target_missing(
                status, target=target, generation=generation, now=now
            ),
            target_found=False,
        )
    metrics.GATHER_SECONDS.observe(time.perf_counter() - started)
    reports: list[StageReport] = []
    for enricher in deps.enrichers:
        with _stage("enrich"):
            bundle, report = await enricher.enrich(bundle, spec=spec, now=now)
        if report:
            reports.append(report)
    started = time.perf_counter()
    with _stage("rules"):
        diagnosis = diagnose_bundle(bundle)
    metrics.DIAGNOSE_SECONDS.observe(time.perf_counter() - started)
    if deps.refiner is not None:
        with _stage("refine"):
            diagnosis, report = await deps.refiner.refine(bundle, diagnosis, spec=spec)
        if report:
            reports.append(report)
    metrics.INCIDENTS_DIAGNOSED.labels(
        category=diagnosis.category.value, engine=diagnosis.engine
    ).inc()
    new_status = lifecycle.status_diagnosed(
        status,
        target=target,
        diagnosis=diagnosis,
        digest=lifecycle.bundle_digest(bundle),
        generation=generation,
        now=now,
        target_fingerprint=_target_fingerprint(bundle),
    )
    new_status = lifecycle.status_with_reports(
        new_status,
        reports=[(r.condition_type, r.status, r.reason, r.message) for r in reports],
        generation=generation,
        now=now,
    )
    return DiagnosisOutcome(
        status=new_status,
        target_found=True,
        diagnosis=diagnosis,
        bundle=bundle,
        reports=tuple(reports),
    )


def _target_fingerprint(bundle: IncidentBundle) -> str | None:
    target = view.BundleView(bundle).target_object()
    return remediation.target_fingerprint(target) if target is not None else None


__all__ = [
    "BundleEnricher",
    "DiagnosisDeps",
    "DiagnosisOutcome",
    "DiagnosisRefiner",
    "StageReport",
    "diagnose_incident",
]
