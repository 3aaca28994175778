"""Incidents: a kopf index keeps every replica's cache warm; the leader's loop acts on it.

The loop and why there are no change handlers or timers: ``service/incident_loop.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from kubemedic.constants import API_GROUP, API_VERSION, INCIDENT_PLURAL
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


@kopf.on.startup()  # type: ignore[arg-type]  # NB: kopf injects the index by name
async def start_incident_loop(
    memo: OperatorRuntime, incident_index: kopf.Index[Key, kopf.Body], **_: Any
) -> None:
    memo.incident_loop = loop = IncidentLoop(memo, incident_index)
    stop = asyncio.Event()
    memo.incident_loop_task = Background(
        task=asyncio.create_task(loop.run(stop), name="incident-loop"), stop=stop
    )


@kopf.on.cleanup()
async def stop_incident_loop(memo: OperatorRuntime, **_: Any) -> None:
    if memo.incident_loop_task is not None:
        await memo.incident_loop_task.finish()
