"""Operator-wide kopf settings and shared clients."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import kopf

from kubemedic.clients.events import EventRecorder
from kubemedic.clients.kube import KubeReader, load_api_client
from kubemedic.clients.leader import LeaderElector, default_identity
from kubemedic.clients.remediation import Remediator
from kubemedic.constants import FINALIZER, PROGRESS_PREFIX
from kubemedic.domain.leader import LeaderTimings
from kubemedic.service.diagnosis import DiagnosisDeps
from kubemedic.service.llm import build_refiner
from kubemedic.service.notifications import build_notifier
from kubemedic.service.prometheus import build_enrichers
from kubemedic.service.remediation import RemediationDeps
from kubemedic.settings import OperatorSettings


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    operator_settings: OperatorSettings = memo.setdefault("settings", OperatorSettings())
    settings.persistence.finalizer = FINALIZER
    # NB: kopf's default progress storage writes `status.kopf`, which our structural
    # CRD schema prunes; annotations under our own group survive and are namespaced.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PROGRESS_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PROGRESS_PREFIX, key="last-handled-configuration"
    )
    # kopf posts log lines as Events from INFO up; we post our own, meaningful Events.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = operator_settings.workers
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 30
    memo["reader"] = KubeReader(load_api_client(operator_settings.kubeconfig))
    # NB: the refiner always runs: it adds runbook knowledge from ConfigMaps; it asks an
    # LLM only when KUBEMEDIC_LLM_URL(S) is set (docs/llm.md).
    memo["llm_refiner"] = build_refiner(operator_settings, reader=memo["reader"])
    memo["diagnosis_deps"] = DiagnosisDeps(
        reader=memo["reader"],
        enrichers=build_enrichers(operator_settings),
        refiner=memo["llm_refiner"],
    )
    memo["notifier"] = build_notifier(operator_settings)

    memo["leadership"] = leadership = _leadership(operator_settings, memo["reader"].api)
    memo["events"] = EventRecorder(
        memo["reader"].api,
        instance=leadership.identity if isinstance(leadership, LeaderElector) else "kubemedic",
    )
    remediator = Remediator(memo["reader"].api)
    memo["policy_store"] = remediator.policy_store
    memo["remediation_deps"] = RemediationDeps(
        remediator=remediator,
        operator_namespace=operator_settings.operator_namespace,
        extra_protected=tuple(operator_settings.protected_namespaces),
        verify_timeout=timedelta(seconds=operator_settings.verify_timeout_seconds),
        default_approval_ttl_seconds=operator_settings.approval_ttl_seconds,
        is_leader=lambda: leadership.is_leader,
    )


@kopf.on.cleanup()
async def close_llm(memo: kopf.Memo, **_: Any) -> None:
    """Close the model server connections."""
    refiner = memo.get("llm_refiner")
    if refiner is not None:
        await refiner.aclose()


class AlwaysLeader:
    """Leader election off (a single replica, or tests): always act."""

    is_leader = True


def _leadership(settings: OperatorSettings, api: Any) -> LeaderElector | AlwaysLeader:
    if not settings.leader_election:
        return AlwaysLeader()
    return LeaderElector(
        api,
        namespace=settings.lease_namespace or settings.operator_namespace,
        name=settings.lease_name,
        identity=default_identity(settings.pod_name),
        timings=LeaderTimings(
            lease_duration=timedelta(seconds=settings.lease_duration_seconds),
            renew_deadline=timedelta(seconds=settings.renew_deadline_seconds),
            retry_period=timedelta(seconds=settings.retry_period_seconds),
        ),
    )


@kopf.on.startup()
async def start_leader_election(memo: kopf.Memo, **_: Any) -> None:
    leadership = memo["leadership"]
    if isinstance(leadership, LeaderElector):
        memo["election_stop"] = stop = asyncio.Event()
        memo["election_task"] = asyncio.create_task(leadership.run(stop), name="leader-election")


@kopf.on.cleanup()
async def stop_leader_election(memo: kopf.Memo, **_: Any) -> None:
    # NB: releasing the Lease here lets a standby take over at once on a rolling update.
    if "election_task" in memo:
        memo["election_stop"].set()
        await memo["election_task"]
