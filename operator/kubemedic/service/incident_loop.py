"""The leader's work loop over the Incident index: one in-flight task per Incident.

NB: no kopf create/update handlers and no kopf timers. kopf records change-handler progress
in annotations on the shared object (with several replicas a standby would mark Incidents as
handled, or race the leader), and it puts a finalizer on every object that has a timer
(Incidents could not be deleted while the operator is down). An index keeps no state on the
object: every replica watches and indexes all Incidents (``handlers/incidents.py``), and only
the leader's loop acts: it diagnoses what is undiagnosed and advances remediations, one task
per Incident at a time, with at most ``workers`` in flight. A new leader picks up every
Incident within one tick. What to do with an Incident is decided in ``domain/scheduling.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from kubemedic.clients.kube import ConflictError
from kubemedic.domain import scheduling
from kubemedic.models.incident import IncidentStatus
from kubemedic.service import incident_steps
from kubemedic.service.runtime import OperatorRuntime

logger = logging.getLogger(__name__)

#: (namespace, name) of an Incident.
Key = tuple[str, str]
#: The index: every Incident's latest body by key (kopf's ``Index[Key, Body]``).
IncidentIndex = Mapping[Key, Any]
#: (namespace, Incident) -> the action IDs of its unspent IncidentApprovals.
ApprovalIndex = Mapping[Key, Any]


def is_open(status: Any, approved_ids: Collection[str]) -> bool:
    """Whether an Incident (as kopf cached it) has anything left for the operator to do."""
    try:
        current = IncidentStatus.model_validate(dict(status or {}))
    except ValueError:
        return False
    return scheduling.is_open(current, approved_ids, now=datetime.now(UTC))


class IncidentLoop:
    """The leader's work loop over the index: one in-flight task per Incident."""

    def __init__(
        self, runtime: OperatorRuntime, index: IncidentIndex, approvals: ApprovalIndex
    ) -> None:
        #: The action IDs of each Incident's unspent IncidentApprovals (handlers' kopf index).
        self.approvals = approvals
        self.runtime, self.index = runtime, index
        self.running: dict[Key, asyncio.Task[None]] = {}
        self.last_target_check: dict[str, float] = {}
        self.slots = asyncio.Semaphore(runtime.settings.workers)
        self.wake = asyncio.Event()
        #: Incidents changed since their last reconcile started: acted on without waiting a tick.
        self.dirty: set[Key] = set()

    def touch(self, key: Key) -> None:
        """An Incident changed (called by the index): reconcile it as soon as it is free."""
        self.dirty.add(key)
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        tick = self.runtime.settings.remediation_interval_seconds
        next_tick = 0.0
        while not stop.is_set():
            self.wake.clear()
            now = asyncio.get_running_loop().time()
            # NB: a tick visits every open Incident (verification deadlines, rollouts
            # finishing); between ticks only the Incidents that changed are visited.
            everything = now >= next_tick
            if everything:
                next_tick = now + tick
            if self.runtime.leadership.is_leader:
                self._dispatch(None if everything else set(self.dirty))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_either(stop, self.wake), timeout=max(0.0, next_tick - now))
        for task in self.running.values():
            task.cancel()

    def _dispatch(self, only: set[Key] | None) -> None:
        for key in list(self.index) if only is None else only:
            if key in self.running:
                continue
            self.dirty.discard(key)
            bodies = list(self.index.get(key, ()))
            if not bodies:
                continue
            body = bodies[-1]
            approved = list(self.approvals.get(key, ()))
            if body.metadata.get("deletionTimestamp") or not is_open(body.status, approved):
                continue
            task = asyncio.create_task(self._one(key, body), name=f"incident:{key[0]}/{key[1]}")
            self.running[key] = task
            task.add_done_callback(self._forget(key))

    def _forget(self, key: Key) -> Callable[[asyncio.Task[None]], None]:
        def forget(_task: asyncio.Task[None]) -> None:
            self.running.pop(key, None)
            if key in self.dirty:
                self.wake.set()  # it changed while it was being reconciled: look again now

        return forget

    async def _one(self, key: Key, body: Any) -> None:
        async with self.slots:
            if not self.runtime.leadership.is_leader:
                return  # NB: lost the lead while waiting for a slot
            try:
                await self._reconcile(body)
            except ConflictError:
                logger.info("Incident %s/%s changed meanwhile; next tick", *key)
            except Exception:
                logger.exception("reconciling Incident %s/%s failed; retrying next tick", *key)

    async def _reconcile(self, body: Any) -> None:
        current = IncidentStatus.model_validate(dict(body.status))
        uid = str(body.metadata.uid)
        now = time.monotonic()
        last = self.last_target_check.get(uid)
        if scheduling.needs_diagnosis(
            current, last_target_check=last, now_monotonic=now, now=datetime.now(UTC)
        ):
            self.last_target_check[uid] = now
            await incident_steps.diagnose(self.runtime, body=body, status=current)
            return
        if scheduling.target_missing(current):
            return  # the target is still missing; looked for again every 10 s
        self.last_target_check.pop(uid, None)
        await incident_steps.advance(self.runtime, body=body)


async def _either(first: asyncio.Event, second: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
