"""Operator settings: environment variables with the ``KUBEMEDIC_`` prefix, CLI flags on top."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kubemedic.domain.redaction import DEFAULT_ENV_VALUE_ALLOWLIST


class OperatorSettings(BaseSettings):
    """Everything ``kubemedic run`` can be told; each field is ``KUBEMEDIC_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="KUBEMEDIC_", extra="ignore")

    namespaces: list[str] = Field(
        default_factory=list, description="namespaces to watch; empty means all namespaces"
    )
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Prometheus /metrics; 0 disables"
    )
    health_port: int = Field(
        default=8080, ge=0, le=65535, description="liveness /healthz; 0 disables"
    )
    bind_address: str = Field(
        default="0.0.0.0",  # noqa: S104 - in a pod, probes and Prometheus come from outside
        description="address for the metrics and health servers",
    )
    kubeconfig: str | None = Field(
        default=None, description="kubeconfig path; default in-cluster or $KUBECONFIG"
    )
    workers: int = Field(default=8, ge=1, le=256, description="concurrent Incident handlers")
    bundle_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="largest bundle file `kubemedic diagnose --bundle` reads; larger ones are "
        "refused (exit 2)",
    )
    # -- remediation -----------------------------------------------------------------------
    operator_namespace: str = Field(
        default="kubemedic",
        validation_alias=AliasChoices("KUBEMEDIC_OPERATOR_NAMESPACE", "POD_NAMESPACE"),
        description="the operator's namespace: its RemediationPolicies may select other namespaces",
    )
    protected_namespaces: list[str] = Field(
        default_factory=list,
        description="namespaces never remediated, on top of kube-system, kube-public, kube-node-lease",
    )
    verify_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="how long an applied action may take to make the target healthy",
    )
    approval_ttl_seconds: int = Field(
        default=3600,
        ge=60,
        description="how long an approval stays valid, and how long an action waits for one, "
        "when no RemediationPolicy decided it",
    )
    # -- leader election (only the leader reconciles Incidents and applies actions) ------------
    leader_election: bool = Field(
        default=True, description="elect a leader on a Lease (off: always lead)"
    )
    lease_name: str = Field(default="kubemedic-leader", description="name of the Lease")
    lease_namespace: str | None = Field(
        default=None, description="namespace of the Lease (default: the operator's namespace)"
    )
    pod_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KUBEMEDIC_POD_NAME", "POD_NAME"),
        description="this replica's identity in the Lease (default: host name + random suffix)",
    )
    lease_duration_seconds: float = Field(
        default=15.0,
        gt=0,
        description="how long a standby waits for a silent leader (client-go default)",
    )
    renew_deadline_seconds: float = Field(
        default=10.0, gt=0, description="a leader that cannot renew within this stops acting"
    )
    retry_period_seconds: float = Field(
        default=2.0, gt=0, description="how often the leader renews"
    )
    remediation_interval_seconds: float = Field(
        default=2.0, gt=0, description="how often in-flight remediations are advanced"
    )
    # Notifications (docs/notifications.md). NB: a Slack webhook URL is itself the
    # credential, hence SecretStr: it never shows in a repr or a log of the settings.
    notify_url: SecretStr = Field(
        default=SecretStr(""),
        description="webhook that gets one message per Incident state change; empty disables",
    )
    notify_format: Literal["generic", "slack"] = Field(
        default="generic",
        description="'generic' (the kubemedic.dev/notification/v1 JSON) or 'slack'",
    )
    notify_token_file: Path | None = Field(
        default=None, description="file holding a bearer token for the webhook, re-read per message"
    )
    notify_cooldown_seconds: float = Field(
        default=300,
        ge=0,
        le=86400,
        description="least time between two messages of one Incident; urgent events skip it",
    )
    notify_timeout_seconds: float = Field(
        default=5, gt=0, le=60, description="time limit of one webhook request"
    )
    # -- alerts (docs/alerts.md) ------------------------------------------------------------
    webhook_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="port of the Alertmanager webhook (POST /alertmanager); 0 disables",
    )
    webhook_token_file: Path | None = Field(
        default=None,
        description="file holding the bearer token Alertmanager must send; required when "
        "`webhook_port` is set; re-read when it changes (a mounted Secret)",
    )
    webhook_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest webhook body accepted; larger ones are answered 413",
    )
    webhook_max_alerts: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="most alerts one webhook notification may hold; more are answered 413 "
        "(set Alertmanager's `max_alerts` to at most this)",
    )
    alert_label_overrides: bool = Field(
        default=False,
        description="let `exported_<label>` and `kubemedic_target_kind`/`_name` alert labels "
        "(written by the scraped application) override the scrape target's labels",
    )
    alert_skip_protected_namespaces: bool = Field(
        default=True,
        description="alerts about objects in protected namespaces (`protected_namespaces` and "
        "the built-in kube-system, kube-public, kube-node-lease) open no Incident",
    )
    alert_rate_limit_window_seconds: float = Field(
        default=3600, gt=0, le=7 * 86400, description="window of the two alert rate limits"
    )
    alert_max_incidents_per_namespace: int = Field(
        default=30,
        ge=0,
        description="most Incidents alerts may open in one namespace per window; 0 disables",
    )
    alert_max_incidents_per_target: int = Field(
        default=5,
        ge=0,
        description="most Incidents alerts may open about one object per window; 0 disables",
    )
    alert_namespace: str = Field(
        default="kubemedic",
        description="namespace of Incidents for alerts about cluster-scoped objects (Nodes)",
    )
    alert_cooldown_seconds: float = Field(
        default=600,
        ge=0,
        le=7 * 86400,
        description="after an alert opened an Incident for a target, other alerts about the "
        "same target open none for this long; 0 disables",
    )
    alert_poll_interval_seconds: float = Field(
        default=0,
        ge=0,
        description="read ALERTS{alertstate='firing'} from Prometheus this often; 0 disables",
    )
    prometheus_url: str | None = Field(
        default=None,
        description="Prometheus base URL for metric evidence and polling; unset disables both",
    )
    prometheus_token_file: Path | None = Field(
        default=None, description="file holding a bearer token for Prometheus, re-read per query"
    )
    prometheus_timeout_seconds: float = Field(
        default=5, gt=0, le=60, description="time limit of one PromQL query"
    )
    prometheus_lookback_seconds: float = Field(
        default=1800,
        ge=60,
        le=7 * 86400,
        description="metric evidence starts this long before the alert (or the Incident)",
    )
    # -- LLM (docs/llm.md); everything is off while no URL is set ----------------------------
    llm_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="base URLs of vLLM (OpenAI-compatible) replicas, comma-separated or a JSON "
        "list; KUBEMEDIC_LLM_URL takes a single one",
    )
    llm_url: str | None = Field(default=None, description="one base URL; joins `llm_urls`")
    llm_model: str = Field(
        default="", description="model name to request; empty: the first one /v1/models lists"
    )
    llm_api_key: SecretStr = Field(
        default=SecretStr(""), description="bearer token the server expects (vLLM --api-key)"
    )
    llm_tokenizer: str = Field(
        default="",
        description="tokenizer for prompt budgets: a local directory or a model id; empty: "
        "the server's /tokenize",
    )
    llm_request_timeout_seconds: float = Field(
        default=60, gt=0, le=600, description="time limit of one LLM request"
    )
    llm_total_timeout_seconds: float = Field(
        default=120, gt=0, le=1800, description="time limit of one LLM answer, retries included"
    )
    llm_max_attempts: int = Field(
        default=3, ge=1, le=10, description="requests per answer (retries on 429, 5xx, timeouts)"
    )
    llm_backoff_initial_seconds: float = Field(
        default=0.5, gt=0, le=60, description="random exponential backoff: its multiplier"
    )
    llm_backoff_max_seconds: float = Field(
        default=8, gt=0, le=300, description="random exponential backoff: its longest wait"
    )
    llm_max_concurrency: int = Field(
        default=4, ge=1, le=256, description="LLM requests in flight from this operator"
    )
    llm_breaker_failure_threshold: int = Field(
        default=5, ge=1, le=100, description="consecutive failures that open an endpoint's breaker"
    )
    llm_breaker_reset_seconds: float = Field(
        default=30, gt=0, le=3600, description="how long an open breaker stays open"
    )
    llm_health_interval_seconds: float = Field(
        default=15, gt=0, le=3600, description="how often each endpoint's /health is checked"
    )
    llm_priority: bool = Field(
        default=True,
        description="send vLLM's request `priority` for Critical and High incidents "
        "(needs --scheduling-policy priority; dropped automatically where refused)",
    )
    llm_redact_patterns: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="extra regular expressions to redact before anything is sent: a JSON "
        "list, or one per line; a group named `secret` limits the redaction to it",
    )
    llm_send_env_values: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ENV_VALUE_ALLOWLIST),
        description="env variable names (shell globs) whose values are sent to the model; "
        "other env variables are sent by name only (comma-separated or a JSON list)",
    )
    llm_send_commands: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="container names (shell globs) whose command, args, probe commands and "
        "probe headers are sent to the model; none by default (comma-separated or a JSON list)",
    )
    runbook_knowledge_namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="namespaces whose runbook ConfigMaps are read (comma-separated or a JSON "
        "list); empty: the operator's own namespace only",
    )
    llm_prompt_token_budget: int = Field(
        default=8192, ge=4096, le=1_000_000, description="most tokens a prompt may have"
    )
    llm_knowledge_token_budget: int = Field(
        default=2048, ge=0, le=500_000, description="tokens of runbook knowledge in the prompt"
    )
    llm_max_completion_tokens: int = Field(
        default=2048, ge=256, le=65536, description="most tokens the model may answer with"
    )
    runbook_knowledge_documents: int = Field(
        default=2,
        ge=0,
        le=10,
        description="most relevant runbook ConfigMap documents appended to an Incident's "
        "runbook, with or without an LLM; 0 disables",
    )
    runbook_knowledge_ttl_seconds: float = Field(
        default=60, ge=0, le=86400, description="how long runbook ConfigMaps are cached"
    )

    @field_validator(
        "llm_urls",
        "llm_send_env_values",
        "llm_send_commands",
        "runbook_knowledge_namespaces",
        mode="before",
    )
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("llm_redact_patterns", mode="before")
    @classmethod
    def _split_patterns(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [line for line in text.splitlines() if line.strip()]
        return value

    @field_validator("llm_redact_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                msg = f"`llm_redact_patterns`: {pattern!r} is not a regular expression: {exc}"
                raise ValueError(msg) from None
        return patterns

    @model_validator(mode="after")
    def _llm_consistent(self) -> Self:
        if self.llm_url and self.llm_url not in self.llm_urls:
            self.llm_urls = [self.llm_url, *self.llm_urls]
        for url in self.llm_urls:
            if not url.startswith(("http://", "https://")):
                msg = f"`llm_urls`: {url!r} must start with 'http://' or 'https://'"
                raise ValueError(msg)
        if self.llm_knowledge_token_budget > self.llm_prompt_token_budget // 2:
            msg = (
                "`llm_knowledge_token_budget` must be at most half of `llm_prompt_token_budget`"
                f" ({self.llm_prompt_token_budget // 2})"
            )
            raise ValueError(msg)
        return self
