"""Operator settings: environment variables with the ``KUBEMEDIC_`` prefix, CLI flags on top."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        default="0.0.0.0", description="address for the metrics and health servers"
    )  # noqa: S104
    kubeconfig: str | None = Field(
        default=None, description="kubeconfig path; default in-cluster or $KUBECONFIG"
    )
    workers: int = Field(default=8, ge=1, le=256, description="concurrent Incident handlers")
