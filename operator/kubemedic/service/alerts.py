"""Alert ingestion: turn received alerts into Incidents, idempotently, from any replica.

The webhook (:mod:`kubemedic.service.webhook`) and the Prometheus poller (:func:`poll_alerts`)
both hand alerts to :meth:`AlertIngestor.ingest`. For each alert:

- **firing**: labels → target (:func:`kubemedic.domain.alerts.target_from_labels`); a Pod is
  followed through its controller ``ownerReferences`` to its Deployment, StatefulSet or
  DaemonSet, so alerts about three crash-looping pods are one incident about one workload.
  Then the Incidents already open for that target are listed by label: one with this
  alert's name means a repeat (``Deduplicated``, or ``Updated`` if it had resolved); one
  opened within the cooldown means ``CooledDown``; otherwise the Incident is created. A 409
  on create is another replica's win, also ``Deduplicated``.
- **resolved**: the Incident of that episode gets ``AlertResolved=True`` (status patch,
  guarded by resourceVersion, retried on conflict).

Labels that name an object which does not exist still create the Incident: the diagnosis
handler reports ``TargetFound=False`` and keeps looking, instead of the alert being retried
forever. Labels that name nothing are ``Skipped`` and answered 200: Alertmanager retrying
them would not help.

Concurrency: the alerts of one call run concurrently (bounded), on a thread pool of our own so
a burst of alerts does not starve the diagnosis of the default executor; alerts for the same
target are serialized (striped locks), so the cooldown check and the create are atomic within
a replica. NB: across replicas two *different* alerts about one target arriving within the
same ~10 ms can both create; the name-based dedup of the *same* alert is exact everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from kubemedic import metrics
from kubemedic.clients.incidents import IncidentStore
from kubemedic.clients.kube import ConflictError, KubeReader, RawObject
from kubemedic.clients.prometheus import PrometheusClient, PrometheusUnavailableError, PromQLError
from kubemedic.domain import alerts, lifecycle
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.incident import IncidentSpec, IncidentStatus
from kubemedic.models.target import TargetKind, TargetRef
from kubemedic.service.diagnosis import StageReport

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Alerts of one call in flight at once (each is a few API requests).
DEFAULT_CONCURRENCY: Final = 16
#: Locks alerts about one target are serialized on (by hash of the target).
LOCK_STRIPES: Final = 64
#: Reads-modify-writes of a status before giving up on conflicts.
STATUS_ATTEMPTS: Final = 5
FIRING_ALERTS_QUERY: Final = 'ALERTS{alertstate="firing"}'
ALERTS_FOR_STATE_QUERY: Final = "ALERTS_FOR_STATE"


@dataclass(frozen=True)
class AlertResult:
    """What one alert did; the webhook answers with a list of these."""

    fingerprint: str
    alertname: str
    status: str
    outcome: alerts.IngestOutcome
    incident: str | None = None
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "alertname": self.alertname,
            "status": self.status,
            "outcome": self.outcome.value,
        }
        if self.incident:
            body["incident"] = self.incident
        if self.message:
            body["message"] = self.message
        return body


class IngestError(RuntimeError):
    """Some alerts could not be written (the API server failed); the sender should retry.

    ``results`` holds what the others did.
    """

    def __init__(self, message: str, results: Sequence[AlertResult]) -> None:
        super().__init__(message)
        self.results = list(results)


@dataclass
class AlertIngestor:
    """Creates and updates Incidents for alerts; one per operator process."""

    incidents: IncidentStore
    reader: KubeReader
    alert_namespace: str = "kubemedic"
    cooldown: timedelta = timedelta(minutes=10)
    concurrency: int = DEFAULT_CONCURRENCY
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _executor: ThreadPoolExecutor = field(init=False, repr=False)
    _locks: tuple[asyncio.Lock, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="kubemedic-alerts"
        )
        self._locks = tuple(asyncio.Lock() for _ in range(LOCK_STRIPES))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    async def ingest(
        self, received: Sequence[alerts.ReceivedAlert], *, source: str
    ) -> list[AlertResult]:
        """Ingest every alert; raises :class:`IngestError` if any could not be written."""
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(alert: alerts.ReceivedAlert) -> AlertResult:
            async with semaphore:
                metrics.ALERTS_RECEIVED.labels(status=alert.status, source=source).inc()
                result = await self._ingest_one(alert)
                metrics.ALERT_INCIDENTS.labels(outcome=result.outcome.value).inc()
                metrics.ALERT_INGESTION_SECONDS.observe(time.perf_counter() - started)
                return result

        outcomes = await asyncio.gather(*(one(a) for a in received), return_exceptions=True)
        results: list[AlertResult] = []
        failures: list[str] = []
        for alert, outcome in zip(received, outcomes, strict=True):
            if isinstance(outcome, AlertResult):
                results.append(outcome)
                continue
            if not isinstance(outcome, Exception):
                raise outcome  # CancelledError, KeyboardInterrupt: not ours to swallow
            logger.warning("alert %s (%s) failed: %r", alert.alertname, alert.fingerprint, outcome)
            failures.append(f"{alert.alertname or alert.fingerprint}: {outcome}")
        if failures:
            msg = f"{len(failures)} of {len(received)} alerts failed: " + "; ".join(failures[:5])
            raise IngestError(msg, results)
        return results

    async def _ingest_one(self, alert: alerts.ReceivedAlert) -> AlertResult:
        try:
            hint = alerts.target_from_labels(alert.labels)
        except alerts.UnmappableAlertError as exc:
            return self._result(alert, alerts.IngestOutcome.SKIPPED, message=str(exc))
        namespace = alerts.incident_namespace(hint.target, alert_namespace=self.alert_namespace)
        name = alerts.incident_name(alert)
        if not alert.firing:
            return await self._resolve(alert, namespace=namespace, name=name)
        target = await self._io(self._workload_of, hint.target)
        lock = self._locks[zlib.crc32(target.display().encode()) % LOCK_STRIPES]
        async with lock:
            return await self._fire(alert, target=target, namespace=namespace, name=name)

    async def _fire(
        self, alert: alerts.ReceivedAlert, *, target: TargetRef, namespace: str, name: str
    ) -> AlertResult:
        now = self.clock()
        selector = f"{alerts.TARGET_HASH_LABEL}={alerts.target_hash(target)}"
        existing = await self._io(
            functools.partial(self.incidents.list, namespace, label_selector=selector)
        )
        same = next((obj for obj in existing if _name(obj) == name), None)
        if same is not None:
            return await self._update(alert, same, namespace=namespace, name=name)
        recent = alerts.within_cooldown(
            [alerts.ExistingIncident(name=_name(o), created=_created(o)) for o in existing],
            now=now,
            cooldown=self.cooldown,
        )
        if recent is not None:
            return self._result(
                alert,
                alerts.IngestOutcome.COOLED_DOWN,
                incident=f"{namespace}/{recent.name}",
                message=f"Incident {namespace}/{recent.name} was opened for "
                f"{target.display()} at {recent.created.isoformat()}, within the "
                f"{self.cooldown.total_seconds():.0f}s cooldown",
            )
        body = alerts.build_incident(alert, target=target, namespace=namespace, received_at=now)
        obj, created = await self._io(self.incidents.create, body)
        if created:
            return self._result(
                alert,
                alerts.IngestOutcome.CREATED,
                incident=f"{namespace}/{name}",
                message=f"about {target.display()}",
            )
        return await self._update(alert, obj, namespace=namespace, name=name)

    async def _resolve(
        self, alert: alerts.ReceivedAlert, *, namespace: str, name: str
    ) -> AlertResult:
        obj = await self._io(self.incidents.get, namespace, name)
        if obj is None:
            return self._result(
                alert,
                alerts.IngestOutcome.IGNORED,
                message=f"no Incident {namespace}/{name} (the alert was cooled down or skipped)",
            )
        return await self._update(alert, obj, namespace=namespace, name=name)

    async def _update(
        self, alert: alerts.ReceivedAlert, obj: RawObject, *, namespace: str, name: str
    ) -> AlertResult:
        """Record the alert's status on an existing Incident (resolved, or firing again)."""
        for _ in range(STATUS_ATTEMPTS):
            status = IncidentStatus.model_validate(obj.get("status") or {})
            metadata = obj.get("metadata") or {}
            new_status = alerts.status_for_alert(
                status, alert, generation=metadata.get("generation"), now=self.clock()
            )
            if new_status is None:
                return self._result(
                    alert, alerts.IngestOutcome.DEDUPLICATED, incident=f"{namespace}/{name}"
                )
            patch = lifecycle.status_patch(new_status)
            try:
                await self._io(
                    functools.partial(
                        self.incidents.patch_status,
                        namespace,
                        name,
                        status={"conditions": patch.get("conditions", [])},
                        resource_version=str(metadata.get("resourceVersion", "")),
                    )
                )
            except ConflictError:
                fresh = await self._io(self.incidents.get, namespace, name)
                if fresh is None:
                    break
                obj = fresh
                continue
            verb = "resolved" if not alert.firing else "firing again"
            return self._result(
                alert,
                alerts.IngestOutcome.UPDATED,
                incident=f"{namespace}/{name}",
                message=f"alert {verb}",
            )
        msg = f"Incident {namespace}/{name} kept changing; could not record the alert"
        raise RuntimeError(msg)

    def _workload_of(self, target: TargetRef) -> TargetRef:
        """A Pod's controlling Deployment/StatefulSet/DaemonSet; any other target as is.

        A pod that is gone, or that no workload controls (a bare pod, a Job's pod), stays
        the target: the diagnosis then says what it finds.
        """
        if target.kind is not TargetKind.POD or not target.namespace:
            return target
        namespace = target.namespace
        pod = self.reader.get(f"/api/v1/namespaces/{namespace}/pods/{target.name}")
        owner = alerts.controller_of(pod) if pod else None
        if owner is not None and owner[0] == "ReplicaSet":
            replicaset = self.reader.get(
                f"/apis/apps/v1/namespaces/{namespace}/replicasets/{owner[1]}"
            )
            owner = alerts.controller_of(replicaset) if replicaset else None
        kind = alerts.WORKLOAD_OWNER_KINDS.get(owner[0]) if owner else None
        if owner is None or kind is None:
            return target
        return TargetRef(kind=kind, namespace=namespace, name=owner[1])

    @staticmethod
    def _result(
        alert: alerts.ReceivedAlert,
        outcome: alerts.IngestOutcome,
        *,
        incident: str | None = None,
        message: str = "",
    ) -> AlertResult:
        return AlertResult(
            fingerprint=alert.fingerprint,
            alertname=alert.alertname,
            status=alert.status,
            outcome=outcome,
            incident=incident,
            message=message,
        )


def _name(obj: RawObject) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _created(obj: RawObject) -> datetime:
    raw = (obj.get("metadata") or {}).get("creationTimestamp")
    try:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        # No timestamp (never from the API server): count it as just created, the safe side.
        return datetime.now(UTC)


# -- polling mode ---------------------------------------------------------------------------


def read_firing_alerts(prometheus: PrometheusClient) -> list[alerts.ReceivedAlert]:
    """Firing alerts from ``ALERTS``, with ``startsAt`` from ``ALERTS_FOR_STATE`` where present."""
    firing = prometheus.query(FIRING_ALERTS_QUERY)
    try:
        for_state = prometheus.query(ALERTS_FOR_STATE_QUERY)
    except PromQLError:
        for_state = {"result": []}
    active_at: dict[str, datetime] = {}
    for series in for_state.get("result") or []:
        labels = {k: v for k, v in (series.get("metric") or {}).items() if k != "__name__"}
        value = series.get("value") or [None, None]
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            active_at[alerts.label_fingerprint(labels)] = datetime.fromtimestamp(
                float(value[1]), UTC
            )
    received = []
    for series in firing.get("result") or []:
        alert = alerts.alert_from_series(series.get("metric") or {}, active_at=None)
        received.append(dataclasses.replace(alert, starts_at=active_at.get(alert.fingerprint)))
    return received


async def poll_alerts(
    *,
    prometheus: PrometheusClient,
    ingestor: AlertIngestor,
    interval_seconds: float,
    iterations: int | None = None,
) -> None:
    """Every ``interval_seconds``: ingest the firing alerts, and resolve those that left.

    NB: which alerts were firing is remembered in this process only: an alert that ends
    while the operator restarts is not marked resolved (the webhook has no such gap).
    """
    previous: dict[str, alerts.ReceivedAlert] = {}
    done = 0
    while iterations is None or done < iterations:
        done += 1
        try:
            firing = await asyncio.to_thread(read_firing_alerts, prometheus)
        except (PrometheusUnavailableError, PromQLError) as exc:
            metrics.ALERT_POLLS.labels(outcome="failed").inc()
            logger.warning("polling Prometheus for alerts failed: %s", exc)
        else:
            current = {alerts.incident_name(a): a for a in firing}
            now = datetime.now(UTC)
            ended = [
                alerts.resolved(alert, ends_at=now)
                for key, alert in previous.items()
                if key not in current
            ]
            try:
                await ingestor.ingest([*current.values(), *ended], source="poll")
            except IngestError as exc:
                metrics.ALERT_POLLS.labels(outcome="failed").inc()
                logger.warning("ingesting polled alerts failed, retrying next poll: %s", exc)
            else:
                metrics.ALERT_POLLS.labels(outcome="ok").inc()
                previous = current
        await asyncio.sleep(interval_seconds)


# -- the alert in the bundle ----------------------------------------------------------------


class AlertContextEnricher:
    """Puts the Incident's alert (``spec.alert``) into the bundle's ``alerts``."""

    async def enrich(
        self, bundle: IncidentBundle, *, spec: IncidentSpec, now: datetime
    ) -> tuple[IncidentBundle, StageReport | None]:
        del now
        if spec.alert is None:
            return bundle, None
        alert = spec.alert.to_bundle_alert()
        if alert in bundle.alerts:
            return bundle, None
        return bundle.model_copy(update={"alerts": [*bundle.alerts, alert]}), None
