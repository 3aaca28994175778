"""Operator-wide kopf settings, leader election and shutdown.

The clients themselves are built before kopf starts (``kubemedic run`` checks the cluster,
then builds the :class:`~kubemedic.service.runtime.OperatorRuntime` that every handler gets
as its ``memo``), so no start-up step can half-fail and be retried while the others run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from kubemedic.clients.leader import LeaderElector
from kubemedic.constants import FINALIZER, PROGRESS_PREFIX
from kubemedic.service.runtime import Background, OperatorRuntime


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: OperatorRuntime, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    # NB: kopf's default progress storage writes `status.kopf`, which our structural
    # CRD schema prunes; annotations under our own group survive and are namespaced.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PROGRESS_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PROGRESS_PREFIX, key="last-handled-configuration"
    )
    # kopf posts log lines as Events from INFO up; we post our own, meaningful Events.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = memo.settings.workers
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30


@kopf.on.startup()
async def start_leader_election(memo: OperatorRuntime, **_: Any) -> None:
    if isinstance(memo.leadership, LeaderElector):
        stop = asyncio.Event()
        memo.election = Background(
            task=asyncio.create_task(memo.leadership.run(stop), name="leader-election"), stop=stop
        )


@kopf.on.cleanup()
async def stop_leader_election(memo: OperatorRuntime, **_: Any) -> None:
    # NB: releasing the Lease here lets a standby take over at once on a rolling update.
    if memo.election is not None:
        await memo.election.finish()


@kopf.on.cleanup()
async def close_llm(memo: OperatorRuntime, **_: Any) -> None:
    """Close the model server connections."""
    await memo.refiner.aclose()
