"""Diagnose one Incident: gather evidence, run the engine, compute the new status.

The same ``diagnose_bundle`` runs here and in ``kubemedic diagnose --bundle``, so the
bundle file of an incident reproduces its diagnosis.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from kubemedic import metrics
from kubemedic.clients.evidence import TargetNotFoundError, gather_bundle
from kubemedic.clients.kube import KubeReader
from kubemedic.domain import lifecycle
from kubemedic.domain.diagnose import diagnose_bundle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis
from kubemedic.models.incident import IncidentSpec, IncidentStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiagnosisOutcome:
    """The new status and what to tell people about it."""

    status: IncidentStatus
    target_found: bool
    diagnosis: Diagnosis | None = None
    bundle: IncidentBundle | None = None


def diagnose_incident(
    reader: KubeReader,
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
        bundle = gather_bundle(reader, target, now=now)
    except TargetNotFoundError:
        metrics.TARGET_NOT_FOUND.inc()
        return DiagnosisOutcome(
            status=lifecycle.status_target_missing(
                status, target=target, generation=generation, now=now
            ),
            target_found=False,
        )
    metrics.GATHER_SECONDS.observe(time.perf_counter() - started)
    started = time.perf_counter()
    diagnosis = diagnose_bundle(bundle)
    metrics.DIAGNOSE_SECONDS.observe(time.perf_counter() - started)
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
    )
    return DiagnosisOutcome(
        status=new_status, target_found=True, diagnosis=diagnosis, bundle=bundle
    )
