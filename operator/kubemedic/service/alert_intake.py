"""Alert ingestion: turn received alerts into Incidents, idempotently, from any replica.

The webhook (:mod:`kubemedic.handlers.alertmanager_server`) and the Prometheus poller (:func:`poll_alerts`)
both hand alerts to :meth:`AlertIngestor.ingest`. Every alert gets exactly one outcome
(:class:`kubemedic.domain.alert_mapping.IngestOutcome`); none is dropped silently. For each alert:

- **labels → target** (:func:`kubemedic.domain.alert_mapping.target_from_labels`, trusting
  ``exported_*``/``kubemedic_target_*`` only when the settings say so); nothing to map, or a
  protected namespace → ``Skipped`` with the reason.
- **firing**: a repeat of an alert whose Incident the index knows is ``Deduplicated`` without
  a request (or ``Updated`` if it had resolved). Otherwise the namespace and the object must
  exist (cached reads; else ``Skipped``: a retry cannot help, so it is answered 200 and never
  retried forever), and a Pod is followed through its controller ``ownerReferences`` to its
  Deployment, StatefulSet or DaemonSet, so alerts about three crash-looping pods are one
  incident about one workload. Then, from the index: an Incident for the target within the
  cooldown → ``CooledDown``; a namespace or target at its rate limit → ``RateLimited``;
  otherwise the Incident is created. A 409 on create is another replica's win, also
  ``Deduplicated``.
- **resolved**: the Incident of that episode gets ``AlertResolved=True`` (status patch,
  guarded by resourceVersion, retried on conflict).

The index (:class:`kubemedic.domain.alert_index.AlertIncidentIndex`) is seeded by one LIST at
start (:meth:`AlertIngestor.start`) and kept current by the operator's watch of Incidents
(:meth:`AlertIngestor.observe_event`, fed by a kopf event handler) and by this replica's own
writes, so a new alert costs no LIST. The cooldown check, the rate-limit check and the
reservation of the new Incident in the index happen in one synchronous step on the event
loop, so within a replica they are atomic without locks. NB: across replicas two *different*
alerts about one target arriving within the watch's delay (milliseconds) can both create;
the name-based dedup of the *same* alert is exact everywhere (the create's 409).

Concurrency: the alerts of one call run concurrently (bounded); every API request runs on a
thread pool of our own of ``concurrency`` threads, which bounds the creates and reads of all
calls together, and keeps a burst of alerts from starving the diagnosis of the default
executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from kubemedic import metrics
from kubemedic.clients.evidence import object_path
from kubemedic.clients.incidents import IncidentStore, NamespaceNotFoundError
from kubemedic.clients.kube import ConflictError, KubeReader, RawObject
from kubemedic.clients.prometheus import PrometheusClient, PrometheusUnavailableError, PromQLError
from kubemedic.domain import alert_mapping as alerts
from kubemedic.domain import lifecycle
from kubemedic.domain.alert_index import AlertIncidentIndex, IndexedIncident
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.incident import IncidentSpec, IncidentStatus
from kubemedic.models.target import DNS_LABEL_PATTERN, TargetKind, TargetRef
from kubemedic.service.diagnosis_pipeline import StageReport

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Alerts of one call in flight at once, and API requests in flight of all calls together.
DEFAULT_CONCURRENCY: Final = 16
#: Reads-modify-writes of a status before giving up on conflicts.
STATUS_ATTEMPTS: Final = 5
#: How long a read of a namespace or target is reused: a burst about one object reads it
#: once; a namespace created a moment after a Skipped alert is seen on a later notification.
LOOKUP_TTL_SECONDS: Final = 5.0
#: Cached reads kept at most (expired ones are dropped first).
MAX_CACHED_LOOKUPS: Final = 20_000
#: Distinct objects of one kind in one namespace in one call from which they are read with
#: one LIST instead of one GET each (10,000 alerts about 10,000 pods: one request, not 10,000).
BULK_LOOKUP_THRESHOLD: Final = 32
#: How often unconfirmed index entries past the cooldown and the rate-limit window are pruned.
PRUNE_INTERVAL_SECONDS: Final = 60.0
FIRING_ALERTS_QUERY: Final = 'ALERTS{alertstate="firing"}'
ALERTS_FOR_STATE_QUERY: Final = "ALERTS_FOR_STATE"
ALERT_SELECTOR: Final = f"{alerts.SOURCE_LABEL}={alerts.SOURCE_ALERT}"
_PLAIN_NAMESPACE: Final = re.compile(DNS_LABEL_PATTERN)

#: What a lookup of an object says: whether it exists, and its controller ``(kind, name)``.
Lookup = tuple[bool, tuple[str, str] | None]


@dataclass(frozen=True)
class AlertResult:
    """What one alert did; the webhook answers with a list of these."""

    fingerprint: str
    alertname: str
    status: str
    outcome: alerts.IngestOutcome
    incident: str | None = None
    message: str = ""
    reason: alerts.OutcomeReason | None = None

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
        if self.reason is not None:
            body["reason"] = self.reason.value
        return body


class IngestError(RuntimeError):
    """Some alerts could not be written (the API server failed); the sender should retry.

    ``results`` holds what the others did.
    """

    def __init__(self, message: str, results: Sequence[AlertResult]) -> None:
        super().__init__(message)
        self.results = list(results)


@dataclass(frozen=True)
class IntakeRules:
    """Which alerts may open Incidents (from the settings; see docs/alerts.md)."""

    #: Let ``exported_*`` and ``kubemedic_target_*`` labels override the target's labels.
    trust_label_overrides: bool = False
    #: Namespaces whose alerts are skipped (empty: none).
    skip_namespaces: frozenset[str] = frozenset()
    limits: alerts.RateLimits = field(
        default_factory=lambda: alerts.RateLimits(window=timedelta(hours=1))
    )


@dataclass
class AlertIngestor:
    """Creates and updates Incidents for alerts; one per operator process."""

    incidents: IncidentStore
    reader: KubeReader
    alert_namespace: str = "kubemedic"
    cooldown: timedelta = timedelta(minutes=10)
    rules: IntakeRules = field(default_factory=IntakeRules)
    concurrency: int = DEFAULT_CONCURRENCY
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    index: AlertIncidentIndex = field(default_factory=AlertIncidentIndex)
    _executor: ThreadPoolExecutor = field(init=False, repr=False)
    #: Namespaces the watch covers once started (empty tuple: all); ``None``: not started.
    _watched: tuple[str, ...] | None = field(default=None, init=False, repr=False)
    _lookups: dict[str, tuple[float, asyncio.Future[Lookup]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _pruned_at: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="kubemedic-alerts"
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    # -- the index ------------------------------------------------------------------------

    async def start(self, *, namespaces: Sequence[str]) -> None:
        """Seed the index with one LIST of the alert Incidents the watch will cover.

        ``namespaces``: the operator's watched namespaces (empty: all). Names that are
        patterns rather than namespaces are not listed, and their Incidents are looked up
        per alert instead.
        """
        plain = tuple(n for n in namespaces if _PLAIN_NAMESPACE.fullmatch(n))
        if namespaces and not plain:
            return
        try:
            found = await self._io(
                functools.partial(self.incidents.list_all, label_selector=ALERT_SELECTOR,
                                  namespaces=plain)
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the intake works without it, only slower
            # NB: then nothing is taken as known: resolutions are read one by one, and a
            # repeat is deduplicated by the create's 409.
            logger.warning("cannot list alert Incidents to seed the index: %s", exc)
            return
        for obj in found:
            self.index.observe(obj, confirmed=True)
        self._watched = plain
        logger.info("alert index seeded with %d alert Incidents", len(self.index))

    def observe_event(self, event_type: str | None, body: RawObject) -> None:
        """An alert Incident as the operator's watch saw it (``DELETED`` removes it)."""
        metadata = body.get("metadata") or {}
        if event_type == "DELETED":
            self.index.remove(str(metadata.get("namespace", "")), str(metadata.get("name", "")))
            return
        self.index.observe(body, confirmed=True)

    def _knows_all_of(self, namespace: str) -> bool:
        """Whether the index holds every alert Incident of ``namespace`` (seeded + watched)."""
        return self._watched is not None and (not self._watched or namespace in self._watched)

    # -- ingestion --------------------------------------------------------------------------

    async def ingest(
        self, received: Sequence[alerts.ReceivedAlert], *, source: str
    ) -> list[AlertResult]:
        """Ingest every alert; raises :class:`IngestError` if any could not be written."""
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(self.concurrency)
        await self._prefetch(received)

        async def one(alert: alerts.ReceivedAlert) -> AlertResult:
            async with semaphore:
                metrics.ALERTS_RECEIVED.labels(status=alert.status, source=source).inc()
                result = await self._ingest_one(alert)
                metrics.ALERT_INCIDENTS.labels(outcome=result.outcome.value).inc()
                if result.outcome is alerts.IngestOutcome.SKIPPED and result.reason:
                    metrics.ALERTS_SKIPPED.labels(reason=result.reason.value).inc()
                if result.outcome is alerts.IngestOutcome.RATE_LIMITED and result.reason:
                    metrics.ALERTS_RATE_LIMITED.labels(reason=result.reason.value).inc()
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
            hint = alerts.target_from_labels(
                alert.labels, trust_overrides=self.rules.trust_label_overrides
            )
        except alerts.UnmappableAlertError as exc:
            return self._skipped(alert, alerts.OutcomeReason.UNMAPPABLE, str(exc))
        protected = alerts.protected_reason(hint.target, protected=self.rules.skip_namespaces)
        if protected is not None:
            return self._skipped(alert, alerts.OutcomeReason.PROTECTED_NAMESPACE, protected)
        namespace = alerts.incident_namespace(hint.target, alert_namespace=self.alert_namespace)
        name = alerts.incident_name(alert)
        if not alert.firing:
            return await self._resolve(alert, namespace=namespace, name=name)
        known = self.index.get(namespace, name)
        if known is not None:
            return await self._repeat(alert, known)
        missing = await self._missing(hint.target)
        if missing is not None:
            return self._skipped(alert, *missing)
        target = await self._workload_of(hint.target)
        return await self._fire(alert, target=target, namespace=namespace, name=name)

    async def _fire(
        self, alert: alerts.ReceivedAlert, *, target: TargetRef, namespace: str, name: str
    ) -> AlertResult:
        # NB: from here to the reservation nothing awaits: the checks and the reservation are
        # one step that no other alert on this event loop can interleave with.
        now = self.clock()
        self._prune(now)
        same = self.index.get(namespace, name)
        if same is not None:
            return await self._repeat(alert, same)
        hashed = alerts.target_hash(target)
        existing = self.index.for_target(namespace, hashed)
        recent = alerts.within_cooldown(
            [alerts.ExistingIncident(name=e.name, created=e.created) for e in existing],
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
        limited = alerts.rate_limited(
            namespace=namespace,
            target=target,
            namespace_created=self.index.created_in(namespace),
            target_created=[e.created for e in existing],
            now=now,
            limits=self.rules.limits,
        )
        if limited is not None:
            reason, message = limited
            return self._result(
                alert, alerts.IngestOutcome.RATE_LIMITED, message=message, reason=reason
            )
        self.index.reserve(namespace=namespace, name=name, target_hash=hashed, now=now)
        body = alerts.build_incident(alert, target=target, namespace=namespace, received_at=now)
        try:
            obj, created = await self._io(self.incidents.create, body)
        except NamespaceNotFoundError as exc:
            self.index.remove(namespace, name)
            return self._skipped(alert, alerts.OutcomeReason.NAMESPACE_NOT_FOUND, str(exc))
        except BaseException:
            self.index.remove(namespace, name)
            raise
        self.index.observe(obj, confirmed=False)
        if created:
            return self._result(
                alert,
                alerts.IngestOutcome.CREATED,
                incident=f"{namespace}/{name}",
                message=f"about {target.display()}",
            )
        return await self._update(alert, obj, namespace=namespace, name=name)

    async def _repeat(self, alert: alerts.ReceivedAlert, known: IndexedIncident) -> AlertResult:
        """An alert whose Incident the index knows: nothing to write unless its state flips."""
        incident = f"{known.namespace}/{known.name}"
        unchanged = known.alert_resolved is not True if alert.firing else known.alert_resolved
        if unchanged:
            return self._result(alert, alerts.IngestOutcome.DEDUPLICATED, incident=incident)
        obj = await self._io(self.incidents.get, known.namespace, known.name)
        if obj is None and known.reserved:
            # Its create is still in flight: a repeat of the alert needs nothing more.
            if alert.firing:
                return self._result(alert, alerts.IngestOutcome.DEDUPLICATED, incident=incident)
            return self._ignored(alert, known.namespace, known.name)
        if obj is None:
            self.index.remove(known.namespace, known.name)
            if alert.firing:
                return await self._ingest_one(alert)  # deleted meanwhile: a new Incident
            return self._ignored(alert, known.namespace, known.name)
        return await self._update(alert, obj, namespace=known.namespace, name=known.name)

    async def _resolve(
        self, alert: alerts.ReceivedAlert, *, namespace: str, name: str
    ) -> AlertResult:
        known = self.index.get(namespace, name)
        if known is not None:
            return await self._repeat(alert, known)
        if self._knows_all_of(namespace):
            return self._ignored(alert, namespace, name)
        obj = await self._io(self.incidents.get, namespace, name)
        if obj is None:
            return self._ignored(alert, namespace, name)
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
                patched = await self._io(
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
            self.index.observe(patched, confirmed=False)
            verb = "resolved" if not alert.firing else "firing again"
            return self._result(
                alert,
                alerts.IngestOutcome.UPDATED,
                incident=f"{namespace}/{name}",
                message=f"alert {verb}",
            )
        msg = f"Incident {namespace}/{name} kept changing; could not record the alert"
        raise RuntimeError(msg)

    # -- reads of the target ----------------------------------------------------------------

    async def _lookup(self, path: str) -> Lookup:
        """Whether the object at ``path`` exists and its controller; one read per
        :data:`LOOKUP_TTL_SECONDS` however many alerts ask at once (failures are not kept)."""
        now = time.monotonic()
        cached = self._lookups.get(path)
        if cached is not None and cached[0] > now:
            return await asyncio.shield(cached[1])
        if len(self._lookups) >= MAX_CACHED_LOOKUPS:
            for key in [k for k, (expiry, _) in self._lookups.items() if expiry <= now]:
                del self._lookups[key]
            if len(self._lookups) >= MAX_CACHED_LOOKUPS:
                self._lookups.clear()
        future = asyncio.ensure_future(self._io(self._read, path))
        self._lookups[path] = (now + LOOKUP_TTL_SECONDS, future)
        try:
            return await asyncio.shield(future)
        except Exception:
            self._lookups.pop(path, None)
            raise

    async def _prefetch(self, received: Sequence[alerts.ReceivedAlert]) -> None:
        """Read with one LIST the objects a call names many of in one namespace.

        Only an optimisation: anything it cannot read is looked up one by one later.
        """
        wanted: dict[tuple[TargetKind, str], set[str]] = {}
        now = time.monotonic()
        for alert in received:
            if not alert.firing:
                continue
            try:
                target = alerts.target_from_labels(
                    alert.labels, trust_overrides=self.rules.trust_label_overrides
                ).target
            except alerts.UnmappableAlertError:
                continue
            if target.namespace is None or target.namespace in self.rules.skip_namespaces:
                continue
            path = object_path(kind=target.kind, namespace=target.namespace, name=target.name)
            cached = self._lookups.get(path)
            if cached is None or cached[0] <= now:
                wanted.setdefault((target.kind, target.namespace), set()).add(target.name)
        for (kind, namespace), names in wanted.items():
            if len(names) < BULK_LOOKUP_THRESHOLD:
                continue
            exists, _ = await self._lookup(f"/api/v1/namespaces/{namespace}")
            if exists:
                await self._list_into_cache(kind, namespace, names)

    async def _list_into_cache(self, kind: TargetKind, namespace: str, names: set[str]) -> None:
        collection = object_path(kind=kind, namespace=namespace, name="-").rsplit("/", 1)[0]
        try:
            listed = await self._io(functools.partial(self.reader.get, collection, from_cache=True))
        except Exception as exc:  # noqa: BLE001 - optional: the per-object reads will tell
            logger.info("listing %s for a burst of alerts failed, reading one by one: %s",
                        collection, exc)  # fmt: skip
            return
        items = (listed or {}).get("items")
        if not isinstance(items, list):
            return
        found: dict[str, Lookup] = {}
        for item in items:
            name = (item.get("metadata") or {}).get("name") if isinstance(item, dict) else None
            if isinstance(name, str):
                found[name] = (True, alerts.controller_of(item))
        loop = asyncio.get_running_loop()
        expiry = time.monotonic() + LOOKUP_TTL_SECONDS
        for name in names:
            future: asyncio.Future[Lookup] = loop.create_future()
            future.set_result(found.get(name, (False, None)))
            self._lookups[f"{collection}/{name}"] = (expiry, future)

    def _read(self, path: str) -> Lookup:
        obj = self.reader.get(path, from_cache=True)
        return (obj is not None, alerts.controller_of(obj) if obj is not None else None)

    async def _missing(self, target: TargetRef) -> tuple[alerts.OutcomeReason, str] | None:
        """Why no Incident can be opened about ``target`` (its namespace or itself is gone)."""
        if target.namespace is not None:
            exists, _ = await self._lookup(f"/api/v1/namespaces/{target.namespace}")
            if not exists:
                return alerts.OutcomeReason.NAMESPACE_NOT_FOUND, (
                    f"namespace '{target.namespace}' does not exist; nothing was created"
                )
        path = object_path(kind=target.kind, namespace=target.namespace, name=target.name)
        exists, _ = await self._lookup(path)
        if not exists:
            return alerts.OutcomeReason.TARGET_NOT_FOUND, (
                f"{target.display()} does not exist; nothing was created"
            )
        return None

    async def _workload_of(self, target: TargetRef) -> TargetRef:
        """A Pod's controlling Deployment/StatefulSet/DaemonSet; any other target as is.

        A pod that no workload controls (a bare pod, a Job's pod) stays the target.
        """
        if target.kind is not TargetKind.POD or not target.namespace:
            return target
        namespace = target.namespace
        _, owner = await self._lookup(
            object_path(kind=TargetKind.POD, namespace=namespace, name=target.name)
        )
        if owner is not None and owner[0] == "ReplicaSet":
            _, owner = await self._lookup(
                f"/apis/apps/v1/namespaces/{namespace}/replicasets/{owner[1]}"
            )
        kind = alerts.WORKLOAD_OWNER_KINDS.get(owner[0]) if owner else None
        if owner is None or kind is None:
            return target
        return TargetRef(kind=kind, namespace=namespace, name=owner[1])

    def _prune(self, now: datetime) -> None:
        moment = time.monotonic()
        if moment - self._pruned_at < PRUNE_INTERVAL_SECONDS:
            return
        self._pruned_at = moment
        horizon = max(self.cooldown, self.rules.limits.window)
        self.index.prune(older_than=now - horizon)

    # -- answers ----------------------------------------------------------------------------

    def _skipped(
        self, alert: alerts.ReceivedAlert, reason: alerts.OutcomeReason, message: str
    ) -> AlertResult:
        return self._result(alert, alerts.IngestOutcome.SKIPPED, message=message, reason=reason)

    def _ignored(self, alert: alerts.ReceivedAlert, namespace: str, name: str) -> AlertResult:
        return self._result(
            alert,
            alerts.IngestOutcome.IGNORED,
            message=f"no Incident {namespace}/{name} (the alert was cooled down, rate-limited "
            "or skipped)",
        )

    @staticmethod
    def _result(
        alert: alerts.ReceivedAlert,
        outcome: alerts.IngestOutcome,
        *,
        incident: str | None = None,
        message: str = "",
        reason: alerts.OutcomeReason | None = None,
    ) -> AlertResult:
        return AlertResult(
            fingerprint=alert.fingerprint,
            alertname=alert.alertname,
            status=alert.status,
            outcome=outcome,
            incident=incident,
            message=message,
            reason=reason,
        )


# -- polling mode ---------------------------------------------------------------------------


async def read_firing_alerts(prometheus: PrometheusClient) -> list[alerts.ReceivedAlert]:
    """Firing alerts from ``ALERTS``, with ``startsAt`` from ``ALERTS_FOR_STATE`` where present."""
    firing = await prometheus.query(FIRING_ALERTS_QUERY)
    try:
        for_state = await prometheus.query(ALERTS_FOR_STATE_QUERY)
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
            firing = await read_firing_alerts(prometheus)
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
