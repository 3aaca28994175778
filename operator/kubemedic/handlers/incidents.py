"""Incidents: a kopf index keeps every replica's cache warm; the leader's loop acts on it.

NB: no create/update handlers and no timers. kopf records change-handler progress in
annotations on the shared object (with several replicas a standby would mark Incidents as
handled, or race the leader), and it puts a finalizer on every object that has a timer
(Incidents could not be deleted while the operator is down). An index keeps no state on
the object; every replica watches and indexes all Incidents, and only the leader's loop
(:class:`IncidentLoop`) acts: it diagnoses what is undiagnosed and advances remediations,
one task per Incident at a time. A new leader picks up every Incident within one tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from kubemedic.clients.remediation import ConflictError
from kubemedic.constants import API_GROUP, API_VERSION, APPROVAL_PLURAL, INCIDENT_PLURAL
from kubemedic.domain import scheduling
from kubemedic.domain.lifecycle import status_patch
from kubemedic.handlers import remediation
from kubemedic.models.conditions import ConditionType, find_condition
from kubemedic.models.incident import IncidentSpec, IncidentStatus
from kubemedic.service.diagnosis import diagnose_incident
from kubemedic.service.notifications import notify_transition
from kubemedic.settings import OperatorSettings

logger = logging.getLogger(__name__)

RESOURCE = (API_GROUP, API_VERSION, INCIDENT_PLURAL)
APPROVALS = (API_GROUP, API_VERSION, APPROVAL_PLURAL)

Key = tuple[str, str]


@kopf.index(*RESOURCE)  # type: ignore[arg-type]  # NB: kopf's protocol types only **kwargs
def incident_index(
    namespace: str, name: str, body: kopf.Body, memo: kopf.Memo, **_: Any
) -> dict[Key, kopf.Body]:
    """Every Incident, by (namespace, name): the warm cache the leader's loop reads.

    Every change also wakes the loop, so a new Incident or an approval is acted on at once
    rather than at the next tick.
    """
    loop = memo.get("incident_loop")
    if loop is not None:
        loop.touch((namespace, name))
    return {(namespace, name): body}


@kopf.index(*APPROVALS)  # type: ignore[arg-type]  # NB: kopf's protocol types only **kwargs
def approval_index(
    namespace: str, spec: kopf.Spec, status: kopf.Status, memo: kopf.Memo, **_: Any
) -> dict[Key, str] | None:
    """The action IDs of each Incident's unspent IncidentApprovals, by (namespace, Incident).

    A new decision wakes the loop for its Incident, so it is acted on at once; the state
    machine itself reads the approvals from the API server, not from this cache.
    """
    incident = str(spec.get("incident") or "")
    if not incident or status.get("spentAt"):
        return None
    loop = memo.get("incident_loop")
    if loop is not None:
        loop.touch((namespace, incident))
    return {(namespace, incident): str(spec.get("actionID") or "")}


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
        self,
        memo: kopf.Memo,
        index: kopf.Index[Key, kopf.Body],
        settings: OperatorSettings,
        approvals: kopf.Index[Key, str],
    ) -> None:
        self.memo, self.index, self.settings = memo, index, settings
        self.approvals = approvals
        self.running: dict[Key, asyncio.Task[None]] = {}
        self.last_target_check: dict[str, float] = {}
        self.slots = asyncio.Semaphore(settings.workers)
        self.wake = asyncio.Event()
        #: Incidents changed since their last reconcile started: acted on without waiting a tick.
        self.dirty: set[Key] = set()

    def touch(self, key: Key) -> None:
        """An Incident changed (called by the index): reconcile it as soon as it is free."""
        self.dirty.add(key)
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        tick = self.settings.remediation_interval_seconds
        next_tick = 0.0
        while not stop.is_set():
            self.wake.clear()
            now = asyncio.get_running_loop().time()
            # NB: a tick visits every open Incident (verification deadlines, rollouts
            # finishing); between ticks only the Incidents that changed are visited.
            everything = now >= next_tick
            if everything:
                next_tick = now + tick
            if self.memo["leadership"].is_leader:
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

    async def _one(self, key: Key, body: kopf.Body) -> None:
        async with self.slots:
            if not self.memo["leadership"].is_leader:
                return  # NB: lost the lead while waiting for a slot
            try:
                await self._reconcile(body)
            except ConflictError:
                logger.info("Incident %s/%s changed meanwhile; next tick", *key)
            except Exception:
                logger.exception("reconciling Incident %s/%s failed; retrying next tick", *key)

    async def _reconcile(self, body: kopf.Body) -> None:
        current = IncidentStatus.model_validate(dict(body.status))
        uid = str(body.metadata.uid)
        now = time.monotonic()
        last = self.last_target_check.get(uid)
        if scheduling.needs_diagnosis(
            current, last_target_check=last, now_monotonic=now, now=datetime.now(UTC)
        ):
            self.last_target_check[uid] = now
            await diagnose(body=body, status=current, memo=self.memo)
            return
        if scheduling.target_missing(current):
            return  # the target is still missing; looked for again every 10 s
        self.last_target_check.pop(uid, None)
        await remediation.advance(body=body, memo=self.memo)


async def diagnose(*, body: kopf.Body, status: IncidentStatus, memo: kopf.Memo) -> None:
    """Diagnose one Incident and write its status (optimistic concurrency)."""
    try:
        parsed = IncidentSpec.model_validate(dict(body.spec))
    except ValidationError as exc:
        # The API server validates the spec; this only fires for a CRD older than the operator.
        await asyncio.to_thread(
            memo["events"].post,
            dict(body),
            type="Warning",
            reason="InvalidSpec",
            message=f"spec is invalid: {exc.errors()[0]['msg']}",
        )
        return
    outcome = await diagnose_incident(
        memo["diagnosis_deps"],
        spec=parsed,
        status=status,
        incident_namespace=str(body.metadata.namespace),
        generation=body.metadata.get("generation"),
    )
    if scheduling.still_unknown(status, outcome.diagnosis.category if outcome.diagnosis else None):
        # NB: a young Unknown Incident is looked at again; while nothing new shows, only
        # the time of the look is recorded (no history, Event or notification each time).
        quiet = status.model_copy(
            update={"diagnosed_time": datetime.now(UTC).replace(microsecond=0)}
        )
        await asyncio.to_thread(
            memo["remediation_deps"].remediator.write_incident_status,
            str(body.metadata.namespace),
            str(body.metadata.name),
            status=status_patch(quiet),
            resource_version=str(body.metadata.get("resourceVersion")),
        )
        return
    settings: OperatorSettings = memo["settings"]
    new_status = await notify_transition(
        memo.get("notifier"),
        incident_name=str(body.metadata.name),
        incident_namespace=str(body.metadata.namespace),
        incident_uid=str(body.metadata.uid),
        spec=parsed,
        old_status=status,
        new_status=outcome.status,
        now=datetime.now(UTC),
        cooldown_seconds=settings.notify_cooldown_seconds,
    )
    if not memo["leadership"].is_leader:
        return  # NB: never write after losing the lead; the new leader diagnoses again
    await asyncio.to_thread(
        memo["remediation_deps"].remediator.write_incident_status,
        str(body.metadata.namespace),
        str(body.metadata.name),
        status=status_patch(new_status),
        resource_version=str(body.metadata.get("resourceVersion")),
    )
    if not outcome.target_found:
        if find_condition(status.conditions, ConditionType.TARGET_FOUND) is None:
            await asyncio.to_thread(
                memo["events"].post,
                dict(body),
                type="Warning",
                reason="TargetNotFound",
                message=f"{outcome.status.target} does not exist; retrying every {scheduling.MISSING_TARGET_RETRY_SECONDS:.0f}s",
            )
        return
    diagnosis = outcome.diagnosis
    assert diagnosis is not None
    actions = ", ".join(a.type.value for a in diagnosis.actions) or "none"
    await asyncio.to_thread(
        memo["events"].post,
        dict(body),
        type="Normal",
        reason="Diagnosed",
        message=f"{diagnosis.category.value} ({diagnosis.confidence:.0%}): {diagnosis.summary} "
        f"Proposed actions: {actions}."[:1024],
    )


@kopf.on.startup()  # type: ignore[arg-type]  # NB: kopf injects the index by name
async def start_incident_loop(
    memo: kopf.Memo,
    incident_index: kopf.Index[Key, kopf.Body],
    approval_index: kopf.Index[Key, str],
    **_: Any,
) -> None:
    loop = IncidentLoop(memo, incident_index, memo["settings"], approval_index)
    memo["incident_loop"] = loop
    memo["incident_loop_stop"] = stop = asyncio.Event()
    memo["incident_loop_task"] = asyncio.create_task(loop.run(stop), name="incident-loop")


async def _either(first: asyncio.Event, second: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


@kopf.on.cleanup()
async def stop_incident_loop(memo: kopf.Memo, **_: Any) -> None:
    if "incident_loop_task" in memo:
        memo["incident_loop_stop"].set()
        await memo["incident_loop_task"]
