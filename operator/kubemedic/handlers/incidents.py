"""Incidents: a kopf index keeps every replica's cache warm; the leader's loop acts on it.

The loop and why there are no change handlers or timers: ``service/incident_loop.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from kubemedic.constants import API_GROUP, API_VERSION, APPROVAL_PLURAL, INCIDENT_PLURAL
from kubemedic.service.incident_loop import IncidentLoop, Key
from kubemedic.service.runtime import Background, OperatorRuntime


@kopf.index(API_GROUP, API_VERSION, INCIDENT_PLURAL)  # type: ignore[arg-type]  # NB: kopf's protocol types only **kwargs
def incident_index(
    namespace: str, name: str, body: kopf.Body, memo: OperatorRuntime, **_: Any
) -> dict[Key, kopf.Body]:
    """Every Incident, by (namespace, name): the warm cache the leader's loop reads.

    Every change also wakes the loop, so a new Incident or an approval is acted on at once
    rather than at the next tick.
    """
    if memo.incident_loop is not None:
        memo.incident_loop.touch((namespace, name))
    return {(namespace, name): body}


@kopf.index(API_GROUP, API_VERSION, APPROVAL_PLURAL)  # type: ignore[arg-type]  # NB: kopf's protocol types only **kwargs
def approval_index(
    namespace: str, spec: kopf.Spec, status: kopf.Status, memo: OperatorRuntime, **_: Any
) -> dict[Key, str] | None:
    """The action IDs of each Incident's unspent IncidentApprovals, by (namespace, Incident).

    A new decision wakes the loop for its Incident, so it is acted on at once; the state
    machine itself reads the approvals from the API server, not from this cache.
    """
    incident = str(spec.get("incident") or "")
    if not incident or status.get("spentAt"):
        return None
    if memo.incident_loop is not None:
        memo.incident_loop.touch((namespace, incident))
    return {(namespace, incident): str(spec.get("actionID") or "")}


@kopf.on.startup()  # type: ignore[arg-type]  # NB: kopf injects the indexes by name
async def start_incident_loop(
    memo: OperatorRuntime,
    incident_index: kopf.Index[Key, kopf.Body],
    approval_index: kopf.Index[Key, str],
    **_: Any,
) -> None:
    memo.incident_loop = loop = IncidentLoop(memo, incident_index, approval_index)
    stop = asyncio.Event()
    memo.incident_loop_task = Background(
        task=asyncio.create_task(loop.run(stop), name="incident-loop"), stop=stop
    )


@kopf.on.cleanup()
async def stop_incident_loop(memo: OperatorRuntime, **_: Any) -> None:
    if memo.incident_loop_task is not None:
        await memo.incident_loop_task.finish()
