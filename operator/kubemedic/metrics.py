"""Prometheus metrics of the operator, all under the ``kubemedic_`` prefix."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

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
    "Diagnosis attempts that failed with an error (retried), by stage "
    "(gather, enrich, rules, refine).",
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
NOTIFICATIONS: Final = Counter(
    "kubemedic_notifications_total",
    "Incident notifications, by event and outcome (sent, failed, suppressed).",
    ["event", "outcome"],
)

# -- remediation ------------------------------------------------------------------------
ACTIONS: Final = Counter(
    "kubemedic_actions_total",
    "Remediation actions by type and outcome (applied, verified, reverted, failed, denied, ...).",
    ["type", "outcome"],
)
TIME_TO_REMEDIATE: Final = Histogram(
    "kubemedic_time_to_remediate_seconds",
    "Time from approval to a verified fix.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
MTTR: Final = Histogram(
    "kubemedic_mttr_seconds",
    "Time from detection to Resolved (mean time to recovery).",
    buckets=(5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)

# -- alerts -------------------------------------------------------------------------------
WEBHOOK_REQUESTS: Final = Counter(
    "kubemedic_webhook_requests_total",
    "Alertmanager webhook requests, by HTTP status code.",
    ["code"],
)
ALERTS_RECEIVED: Final = Counter(
    "kubemedic_alerts_received_total",
    "Alerts received, by status (firing, resolved) and source (webhook, poll).",
    ["status", "source"],
)
ALERT_INCIDENTS: Final = Counter(
    "kubemedic_alert_incidents_total",
    "What received alerts did to Incidents: Created, Updated, Deduplicated, CooledDown, "
    "Skipped (no target, protected or missing), Ignored (resolution without an Incident), "
    "RateLimited.",
    ["outcome"],
)
ALERTS_SKIPPED: Final = Counter(
    "kubemedic_alerts_skipped_total",
    "Alerts that opened no Incident and were answered Skipped, by reason (Unmappable, "
    "ProtectedNamespace, NamespaceNotFound, TargetNotFound).",
    ["reason"],
)
ALERTS_RATE_LIMITED: Final = Counter(
    "kubemedic_alerts_rate_limited_total",
    "Alerts that would have opened an Incident over a rate limit and were answered "
    "RateLimited, by reason (NamespaceRateLimit, TargetRateLimit).",
    ["reason"],
)
ALERT_INGESTION_SECONDS: Final = Histogram(
    "kubemedic_alert_ingestion_seconds",
    "Time from receiving an alert to its Incident being written (or found).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ALERT_POLLS: Final = Counter(
    "kubemedic_alert_polls_total",
    "Polls of Prometheus for firing alerts, by outcome (ok, failed).",
    ["outcome"],
)
PROMETHEUS_QUERIES: Final = Counter(
    "kubemedic_prometheus_queries_total",
    "PromQL evidence queries, by outcome (samples, empty, failed, unavailable).",
    ["outcome"],
)

# -- LLM (clients/llm.py, service/llm_refiner.py) ---------------------------------------------------

LLM_REQUESTS: Final = Counter(
    "kubemedic_llm_requests_total",
    "Requests to the model server, by endpoint and outcome (success, timeout, "
    "connection_error, rate_limited, server_error, client_error, cancelled, no_endpoint).",
    ["endpoint", "outcome"],
)
LLM_REQUEST_SECONDS: Final = Histogram(
    "kubemedic_llm_request_seconds",
    "Time for one LLM completion, retries and backoff included.",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),
)
LLM_TOKENS: Final = Counter(
    "kubemedic_llm_tokens_total",
    "Tokens the model server counted, by kind (prompt, completion).",
    ["kind"],
)
LLM_BREAKER_STATE: Final = Gauge(
    "kubemedic_llm_breaker_state",
    "Circuit breaker per model server endpoint: 0 closed, 1 half-open, 2 open.",
    ["endpoint"],
)
LLM_ENDPOINT_HEALTHY: Final = Gauge(
    "kubemedic_llm_endpoint_healthy",
    "Whether the endpoint's last /health check passed (1) or not (0).",
    ["endpoint"],
)
LLM_IN_FLIGHT: Final = Gauge(
    "kubemedic_llm_requests_in_flight",
    "Requests in flight per model server endpoint.",
    ["endpoint"],
)
LLM_FALLBACKS: Final = Counter(
    "kubemedic_llm_fallbacks_total",
    "Diagnoses that fell back to the rules, by reason (unavailable, refused, invalid_answer).",
    ["reason"],
)
LLM_DIAGNOSES: Final = Counter(
    "kubemedic_llm_diagnoses_total",
    "Diagnoses the LLM answered, by agreement with the rules.",
    ["agreement"],
)
LLM_REJECTED_ACTIONS: Final = Counter(
    "kubemedic_llm_rejected_actions_total",
    "Actions the LLM proposed that were refused (outside the catalog or the target scope).",
)
LLM_PROMPT_TOKENS: Final = Histogram(
    "kubemedic_llm_prompt_tokens",
    "Prompt size as kubemedic measured it before sending.",
    buckets=(512, 1024, 2048, 4096, 8192, 16384, 32768, 65536),
)

# -- leader election ------------------------------------------------------------------------
LEADER: Final = Gauge("kubemedic_leader_is_leader", "1 while this replica is the leader, else 0.")
LEADER_TRANSITIONS: Final = Counter(
    "kubemedic_leader_transitions_total", "Times this replica became the leader."
)
LEASE_REQUESTS: Final = Counter(
    "kubemedic_lease_requests_total",
    "API requests this replica sent for leader election.",
    ["verb"],
)
