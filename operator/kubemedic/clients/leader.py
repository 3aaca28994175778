"""Lease-based leader election, the I/O part (decisions in domain/leader.py).

The elector runs as an asyncio task beside kopf. Standbys do not poll: a watch on the one
Lease (field selector on its name) tells them at once when it is renewed, released or
taken, so a released Lease is acquired within milliseconds and a standby sends no
requests while the leader renews. The leader writes the Lease once per retry period,
using the resourceVersion of its own last write (409 → someone else wrote: re-read).

Own-clock times use ``time.monotonic()``: wall-clock jumps must not extend leadership.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from kubemedic import metrics
from kubemedic.domain import leader as election

logger = logging.getLogger(__name__)

WATCH_TIMEOUT_SECONDS: Final = 300
REQUEST_TIMEOUT_SECONDS: Final = 5.0


def default_identity(pod_name: str | None) -> str:
    """The pod name (unique in a namespace), else host + a random suffix."""
    if pod_name:
        return pod_name
    import socket  # noqa: PLC0415 - only when no pod name is given

    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


class LeaderElector:
    """Acquires and renews one Lease; ``is_leader`` says whether to act right now."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        timings: election.LeaderTimings,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.api = api
        self.coord = client.CoordinationV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace, self.name, self.identity, self.timings = namespace, name, identity, timings
        self.on_change = on_change
        self._record: election.LeaseRecord | None = None
        self._resource_version: str | None = None
        self._observed_at: float | None = None  # monotonic time we saw the record change
        self._last_renewed: float | None = None  # monotonic time of our last successful write
        self._leading = False
        self._lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()

    # -- state ---------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True only while the last renewal is within the renew deadline (checked now)."""
        with self._lock:
            last = self._last_renewed
        leading = (
            last is not None
            and time.monotonic() - last < self.timings.renew_deadline.total_seconds()
        )
        if self._leading and not leading:
            self._set_leading(False, "renew deadline passed without a successful renewal")
        return leading and self._leading

    def _set_leading(self, leading: bool, why: str) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        metrics.LEADER.set(1 if leading else 0)
        if leading:
            metrics.LEADER_TRANSITIONS.inc()
            logger.info("%s became the leader (%s)", self.identity, why)
        else:
            logger.warning("%s stopped leading (%s)", self.identity, why)
        message = f"{self.identity} {'became leader' if leading else 'stopped leading'}: {why}"
        # NB: in a thread: is_leader may run on the event loop, which must never block.
        threading.Thread(
            target=self._post_event, args=("LeaderElection", message), daemon=True
        ).start()
        if self.on_change is not None:
            self.on_change(leading)

    def _observe(self, lease: dict[str, Any] | None) -> None:
        record = election.LeaseRecord.from_lease(lease)
        version = str((lease or {}).get("metadata", {}).get("resourceVersion") or "")
        with self._lock:
            if record is not None and election.precedes(record, self._record):
                # NB: a watch event can arrive after our own write returned a newer version;
                # taking it would make the next renewal conflict (409) for nothing.
                return
            if record != self._record:
                self._record = record
                self._observed_at = time.monotonic()
            if lease:
                self._resource_version = version

    # -- API calls -------------------------------------------------------------------------

    def _read(self) -> dict[str, Any] | None:
        metrics.LEASE_REQUESTS.labels(verb="get").inc()
        try:
            lease = self.coord.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        result: dict[str, Any] = self.api.sanitize_for_serialization(lease)
        return result

    def _write(self, spec: dict[str, Any], *, create: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }
        if create:
            metrics.LEASE_REQUESTS.labels(verb="create").inc()
            lease = self.coord.create_namespaced_lease(
                self.namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        else:
            body["metadata"]["resourceVersion"] = self._resource_version
            metrics.LEASE_REQUESTS.labels(verb="update").inc()
            lease = self.coord.replace_namespaced_lease(
                self.name, self.namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        result: dict[str, Any] = self.api.sanitize_for_serialization(lease)
        return result

    def try_acquire_or_renew(self) -> bool:
        """One election step (blocking); True if we hold the Lease afterwards."""
        now_wall = datetime.now(UTC)
        with self._lock:
            record, observed = self._record, self._observed_at
        if record is None or (self._leading and self._resource_version is None):
            self._observe(self._read())
            with self._lock:
                record, observed = self._record, self._observed_at
        observed_wall = (
            datetime.now(UTC) - _seconds(time.monotonic() - observed)
            if observed is not None
            else None
        )
        move = election.next_move(
            record, identity=self.identity, observed_at=observed_wall, now=now_wall
        )
        if move is election.Move.WAIT:
            return False
        if move is election.Move.ACQUIRE:
            # Re-read before taking: the watch may lag, and the write must carry a fresh version.
            self._observe(self._read())
            with self._lock:
                record, observed = self._record, self._observed_at
            observed_wall = datetime.now(UTC) - _seconds(
                time.monotonic() - (observed or time.monotonic())
            )
            move = election.next_move(
                record, identity=self.identity, observed_at=observed_wall, now=now_wall
            )
            if move is election.Move.WAIT:
                return False
        spec = election.lease_spec(
            record, identity=self.identity, timings=self.timings, now=now_wall, move=move
        )
        started = time.monotonic()
        try:
            written = self._write(spec, create=move is election.Move.CREATE)
        except ApiException as exc:
            if exc.status in (409, 422):
                self._observe(self._read())  # lost a race or stale version: re-evaluate next tick
                return False
            raise
        self._observe(written)
        with self._lock:
            # NB: count from when the write was sent, not when it returned: the lease may
            # have been extended on the server no earlier than that.
            self._last_renewed = started
        self._set_leading(
            True, "acquired the lease" if move is not election.Move.RENEW else "renewed"
        )
        return True

    def release(self) -> None:
        """Give the Lease up at once (on SIGTERM) so a standby takes over without waiting."""
        self._stopping.set()
        if not self._leading:
            return
        with self._lock:
            record = self._record
        self._set_leading(False, "released the lease on shutdown")
        with self._lock:
            self._last_renewed = None
        if record is None:
            return
        try:
            self._write(election.released_spec(record, now=datetime.now(UTC)), create=False)
        except ApiException as exc:
            logger.warning("could not release the lease: HTTP %s", exc.status)

    # -- the loop ---------------------------------------------------------------------------

    def _watch(self) -> None:
        """Blocking: mirror the Lease into our observation, wake the loop on every change."""
        while not self._stopping.is_set():
            watcher = watch.Watch()
            try:
                for event in watcher.stream(
                    self.coord.list_namespaced_lease,
                    self.namespace,
                    field_selector=f"metadata.name={self.name}",
                    timeout_seconds=WATCH_TIMEOUT_SECONDS,
                    _request_timeout=WATCH_TIMEOUT_SECONDS + 10,
                ):
                    if self._stopping.is_set():
                        break
                    obj = event.get("object")
                    lease = self.api.sanitize_for_serialization(obj) if obj is not None else None
                    self._observe(None if event.get("type") == "DELETED" else lease)
                    self._wakeup()
            except Exception as exc:  # noqa: BLE001 - the watch is an optimisation; polling goes on
                logger.debug("lease watch ended: %r", exc)
                self._stopping.wait(1.0)
            finally:
                watcher.stop()

    def _wakeup(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Campaign until ``stop`` is set; then release the Lease if we hold it."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        watcher = threading.Thread(target=self._watch, name="lease-watch", daemon=True)
        watcher.start()
        try:
            while not stop.is_set():
                try:
                    await asyncio.to_thread(self.try_acquire_or_renew)
                except ApiException as exc:
                    logger.error("leader election step failed: %s", self._explain(exc))
                except Exception as exc:  # noqa: BLE001 - API down: keep trying; is_leader lapses
                    logger.warning("leader election step failed: %r", exc)
                self.is_leader  # noqa: B018 - re-checks the renew deadline, logs a lost lead
                self._wake.clear()
                timeout = self._sleep_seconds()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(self._wake.wait(), stop.wait()), timeout=timeout)
        finally:
            await asyncio.to_thread(self.release)

    def _explain(self, exc: ApiException) -> str:
        """A message a person can act on for the API errors a misconfiguration causes."""
        where = f"Lease {self.namespace}/{self.name}"
        if exc.status == 404:
            return (
                f"namespace '{self.namespace}' does not exist, so the {where} cannot be created: create "
                "the namespace, set KUBEMEDIC_OPERATOR_NAMESPACE (or KUBEMEDIC_LEASE_NAMESPACE), or run "
                "a single replica with KUBEMEDIC_LEADER_ELECTION=false; until then this replica never acts"
            )
        if exc.status == 403:
            return (
                f"forbidden to read or write the {where}: grant get/create/update on "
                "coordination.k8s.io leases in that namespace (the Helm chart's Role does)"
            )
        return f"HTTP {exc.status} on the {where}: {exc.reason}"

    def _sleep_seconds(self) -> float:
        retry = self.timings.retry_period.total_seconds()
        if self._leading:
            return retry
        with self._lock:
            record, observed = self._record, self._observed_at
        if record is None or not record.holder or observed is None:
            return retry
        remaining = record.lease_duration_seconds - (time.monotonic() - observed)
        return max(0.05, min(retry, remaining))

    def _post_event(self, reason: str, message: str) -> None:
        now = datetime.now(UTC)
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{self.name}.", "namespace": self.namespace},
            "involvedObject": {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "name": self.name,
                "namespace": self.namespace,
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Normal",
            "source": {"component": "kubemedic", "host": self.identity},
            "firstTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "count": 1,
            "reportingComponent": "kubemedic",
            "reportingInstance": self.identity,
        }
        try:
            self.core.create_namespaced_event(
                self.namespace, event, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
        except Exception as exc:  # noqa: BLE001 - an Event is informational only
            logger.debug("could not post the leader election event: %r", exc)


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
