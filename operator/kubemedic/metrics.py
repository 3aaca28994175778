"""Prometheus metrics of the operator, all under the ``kubemedic_`` prefix."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

INCIDENTS_DIAGNOSED: Final = Counter(
    "kubemedic_incidents_diagnosed_total",
    "Incidents diagnosed, by category and engine.",
    ["category", "engine"],
)
TARGET_NOT_FOUND: Final = Counter(
    "kubemedic_incident_target_not_found_total",
    "Diagnosis attempts that found no target object.",
)
DIAGNOSIS_ERRORS: Final = Counter(
    "kubemedic_diagnosis_errors_total",
    "Diagnosis attempts that failed with an error (retried).",
    ["stage"],
)
GATHER_SECONDS: Final = Histogram(
    "kubemedic_evidence_gather_seconds",
    "Time to gather an IncidentBundle from the cluster.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DIAGNOSE_SECONDS: Final = Histogram(
    "kubemedic_diagnosis_seconds",
    "Time for the rule engine to diagnose a bundle.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
