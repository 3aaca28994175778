"""Prometheus evidence: run the PromQL templates for an incident and put the answers in the bundle.

:class:`PrometheusEnricher` is a :class:`~kubemedic.service.diagnosis_pipeline.BundleEnricher`: it
runs after the Kubernetes evidence is gathered and before the rules diagnose, so what it adds
is part of the bundle (and of ``kubemedic bundle`` files) and the pure ``diagnose_bundle``
can use it — the OOMKilled analyzer sizes the new memory limit from the working-set peak.

It never fails a diagnosis. It reports condition ``MetricsCollected``:

- ``True``/``Queried``: some queries returned samples (the message sums them up);
- ``False``/``NoSamples``: Prometheus answered, but has none of these series (is
  kube-state-metrics or the kubelet scraped?);
- ``False``/``PrometheusUnavailable``: Prometheus did not answer; the diagnosis proceeds
  without metrics. The first failure stops the remaining queries: one unreachable
  Prometheus costs one timeout, not one per query.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from kubemedic import metrics
from kubemedic.clients.prometheus import PrometheusClient, PrometheusUnavailableError, PromQLError
from kubemedic.domain import promql
from kubemedic.models.bundle import IncidentBundle, MetricResult
from kubemedic.models.conditions import ConditionReason, ConditionStatus, ConditionType
from kubemedic.models.incident import IncidentSpec
from kubemedic.service.alert_intake import AlertContextEnricher
from kubemedic.service.diagnosis_pipeline import BundleEnricher, StageReport
from kubemedic.settings import OperatorSettings

logger = logging.getLogger(__name__)

#: Longest condition message we write (the CRD allows 32 KiB; a screenful is plenty).
MAX_MESSAGE: Final = 2000


class PrometheusEnricher:
    """Adds PromQL results over a window around the incident to ``bundle.metrics``."""

    def __init__(
        self, client: PrometheusClient, *, lookback: timedelta = promql.DEFAULT_LOOKBACK
    ) -> None:
        self.client = client
        self.lookback = lookback

    async def enrich(
        self, bundle: IncidentBundle, *, spec: IncidentSpec, now: datetime
    ) -> tuple[IncidentBundle, StageReport | None]:
        queries = promql.render_queries(bundle.target, pods=promql.pods_of(bundle.objects))
        if not queries:
            return bundle, None
        window = promql.query_window(
            now=now,
            alert_start=spec.alert.starts_at if spec.alert is not None else None,
            lookback=self.lookback,
        )
        results, report = await self._run(queries, window)
        if results:
            bundle = bundle.model_copy(update={"metrics": [*bundle.metrics, *results]})
        return bundle, report

    async def _run(
        self, queries: list[promql.RenderedQuery], window: promql.Window
    ) -> tuple[list[MetricResult], StageReport]:
        results: list[MetricResult] = []
        lines: list[str] = []
        rejected: list[str] = []
        for query in queries:
            try:
                if query.template.range:
                    data = await self.client.query_range(
                        query.promql,
                        start=window.start,
                        end=window.end,
                        step_seconds=window.step_seconds,
                    )
                else:
                    data = await self.client.query(query.promql, at=window.end)
            except PrometheusUnavailableError as exc:
                metrics.PROMETHEUS_QUERIES.labels(outcome="unavailable").inc()
                logger.warning("metric evidence skipped: %s", exc)
                return results, _report(
                    ConditionStatus.FALSE,
                    ConditionReason.PROMETHEUS_UNAVAILABLE,
                    f"{exc}; diagnosed without metrics",
                )
            except PromQLError as exc:
                metrics.PROMETHEUS_QUERIES.labels(outcome="failed").inc()
                logger.warning("%s", exc)
                rejected.append(query.template.name)
                continue
            result = MetricResult(query=query.promql, data=promql.bounded_data(data))
            results.append(result)
            line = promql.summarize(query, result)
            metrics.PROMETHEUS_QUERIES.labels(outcome="samples" if line else "empty").inc()
            if line:
                lines.append(line)
        minutes = (window.end - window.start).total_seconds() / 60
        tail = f"; rejected by Prometheus: {', '.join(rejected)}" if rejected else ""
        if not lines:
            return results, _report(
                ConditionStatus.FALSE,
                ConditionReason.NO_SAMPLES,
                f"none of {len(queries)} PromQL queries over the last {minutes:.0f}m returned "
                f"samples (are kube-state-metrics and the kubelet scraped?){tail}",
            )
        return results, _report(
            ConditionStatus.TRUE,
            ConditionReason.QUERIED,
            f"{len(lines)} of {len(queries)} PromQL queries over the last {minutes:.0f}m "
            f"returned samples: " + "; ".join(lines) + tail,
        )


def _report(status: ConditionStatus, reason: ConditionReason, message: str) -> StageReport:
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return StageReport(
        condition_type=ConditionType.METRICS_COLLECTED.value,
        status=status,
        reason=reason,
        message=message,
    )


def build_enrichers(settings: OperatorSettings) -> tuple[BundleEnricher, ...]:
    """The enrichers the settings ask for: the alert always, Prometheus when configured."""
    enrichers: list[BundleEnricher] = [AlertContextEnricher()]
    if settings.prometheus_url:
        client = PrometheusClient(
            settings.prometheus_url,
            timeout_seconds=settings.prometheus_timeout_seconds,
            token_file=settings.prometheus_token_file,
        )
        enrichers.append(
            PrometheusEnricher(
                client, lookback=timedelta(seconds=settings.prometheus_lookback_seconds)
            )
        )
    return tuple(enrichers)


def enrich_bundle(
    bundle: IncidentBundle,
    *,
    spec: IncidentSpec,
    settings: OperatorSettings,
    now: datetime | None = None,
) -> tuple[IncidentBundle, list[StageReport]]:
    """Run the enrichers the settings configure, as the operator does before diagnosing.

    For ``kubemedic bundle``: with ``KUBEMEDIC_PROMETHEUS_URL`` set, the file then holds the
    same metrics the operator's diagnosis read, so it reproduces that diagnosis.
    """

    async def run() -> tuple[IncidentBundle, list[StageReport]]:
        enriched, reports = bundle, []
        for enricher in build_enrichers(settings):
            enriched, report = await enricher.enrich(
                enriched, spec=spec, now=now or datetime.now(UTC)
            )
            if report is not None:
                reports.append(report)
        return enriched, reports

    return asyncio.run(run())
