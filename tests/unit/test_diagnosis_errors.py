"""We test these aspects: a diagnosis attempt that fails is counted by stage.

``kubemedic_diagnosis_errors_total{stage}`` goes up by exactly one for the stage that
raised (gather, enrich, rules, refine) and the error still propagates (the leader's loop
retries); a missing target is not an error (it is counted as not found). The gather stage is
replaced with a function (no cluster is read); enricher and refiner are plug-ins by design.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from kubemedic.clients.evidence import TargetNotFoundError
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis
from kubemedic.models.incident import IncidentSpec, IncidentStatus
from kubemedic.models.target import TargetKind, TargetRef
from kubemedic.service import diagnosis_pipeline as service
from kubemedic.service.diagnosis_pipeline import DiagnosisDeps, StageReport

NOW = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
TARGET = TargetRef(kind=TargetKind.DEPLOYMENT, namespace="shop", name="web")
STAGES = ("gather", "enrich", "rules", "refine")


def errors() -> dict[str, float]:
    return {
        s: REGISTRY.get_sample_value("kubemedic_diagnosis_errors_total", {"stage": s}) or 0.0
        for s in STAGES
    }


def not_found() -> float:
    return REGISTRY.get_sample_value("kubemedic_incident_target_not_found_total") or 0.0


class Broken:
    """An enricher and a refiner that fail with a bug."""

    async def enrich(
        self, bundle: IncidentBundle, *, spec: IncidentSpec, now: datetime
    ) -> tuple[IncidentBundle, StageReport | None]:
        raise KeyError("data")

    async def refine(
        self, bundle: IncidentBundle, rules: Diagnosis, *, spec: IncidentSpec
    ) -> tuple[Diagnosis, StageReport | None]:
        raise ZeroDivisionError


def run(deps: DiagnosisDeps) -> Any:
    return asyncio.run(
        service.diagnose_incident(
            deps,
            spec=IncidentSpec(target=TARGET),
            status=IncidentStatus(),
            incident_namespace="shop",
            generation=1,
            now=NOW,
        )
    )


@pytest.fixture
def gathered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        service, "gather_bundle", lambda _reader, target, now: IncidentBundle(target=target)
    )


def test_a_failing_gather_is_counted_once_and_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(_reader: object, _target: TargetRef, *, now: datetime) -> IncidentBundle:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(service, "gather_bundle", unreachable)
    before = errors()
    with pytest.raises(ConnectionRefusedError):
        run(DiagnosisDeps(reader=object()))  # type: ignore[arg-type]
    after = errors()
    assert {s: after[s] - before[s] for s in STAGES} == {
        "gather": 1.0,
        "enrich": 0.0,
        "rules": 0.0,
        "refine": 0.0,
    }


@pytest.mark.usefixtures("gathered")
@pytest.mark.parametrize(
    ("deps", "stage", "error"),
    [
        (DiagnosisDeps(reader=object(), enrichers=(Broken(),)), "enrich", KeyError),  # type: ignore[arg-type]
        (DiagnosisDeps(reader=object(), refiner=Broken()), "refine", ZeroDivisionError),  # type: ignore[arg-type]
    ],
)
def test_a_failing_stage_is_counted_under_its_name(
    deps: DiagnosisDeps, stage: str, error: type[Exception]
) -> None:
    before = errors()
    with pytest.raises(error):
        run(deps)
    after = errors()
    assert {s: after[s] - before[s] for s in STAGES} == {
        s: 1.0 if s == stage else 0.0 for s in STAGES
    }


@pytest.mark.usefixtures("gathered")
def test_a_successful_diagnosis_counts_no_error() -> None:
    before = errors()
    outcome = run(DiagnosisDeps(reader=object()))  # type: ignore[arg-type]
    assert outcome.target_found
    assert errors() == before


def test_a_missing_target_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(_reader: object, target: TargetRef, *, now: datetime) -> IncidentBundle:
        raise TargetNotFoundError(target.display())

    monkeypatch.setattr(service, "gather_bundle", missing)
    before, missing_before = errors(), not_found()
    outcome = run(DiagnosisDeps(reader=object()))  # type: ignore[arg-type]
    assert not outcome.target_found
    assert errors() == before
    assert not_found() == missing_before + 1
