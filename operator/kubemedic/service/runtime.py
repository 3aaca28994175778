"""The operator's runtime: every client and dependency the handlers share, as one typed object.

``kubemedic run`` builds an :class:`OperatorRuntime` and hands it to kopf as the memo; every
handler receives it as ``memo``. It replaces a string-keyed dict, where a start-up step that
failed left keys missing and a later step died on a ``KeyError`` far from the cause: here
:func:`build_runtime` builds everything at once (or raises), and a field is typed.

NB: kopf gives each watched object a shallow copy of the memo; the runtime is shared state
(the loop, the leadership), so ``__copy__`` returns the object itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from kubemedic.clients.cluster import Access, load_api_client
from kubemedic.clients.events import EventRecorder
from kubemedic.clients.kube import KubeReader
from kubemedic.clients.leader import LeaderElector, default_identity
from kubemedic.clients.policies import PolicyStore
from kubemedic.clients.remediator import Remediator
from kubemedic.clients.webhook_notifier import WebhookNotifier
from kubemedic.constants import API_GROUP, APPROVAL_PLURAL, INCIDENT_PLURAL, POLICY_PLURAL
from kubemedic.domain.leader import LeaderTimings
from kubemedic.service.alert_intake import AlertIngestor
from kubemedic.service.diagnosis_pipeline import DiagnosisDeps
from kubemedic.service.llm_refiner import LLMRefiner, build_refiner
from kubemedic.service.metrics_evidence import build_enrichers
from kubemedic.service.notifications import build_notifier
from kubemedic.service.remediation import RemediationDeps
from kubemedic.settings import OperatorSettings

if TYPE_CHECKING:
    from kubemedic.service.incident_loop import IncidentLoop


class AlertIntake(Protocol):
    """The running alert intake (handlers/alertmanager_server.py): what the runtime needs of it.

    NB: a protocol, not the class: the intake's HTTP server lives in the handlers layer, which
    the service layer may not import.
    """

    @property
    def ingestor(self) -> AlertIngestor: ...

    async def stop(self) -> None: ...


class Leadership(Protocol):
    """Whether this replica may act now."""

    @property
    def is_leader(self) -> bool: ...


class AlwaysLeader:
    """Leader election off (a single replica, or tests): always act."""

    is_leader = True


@dataclass
class Background:
    """A task started with the operator, and the event that asks it to stop."""

    task: asyncio.Task[None]
    stop: asyncio.Event

    async def finish(self) -> None:
        self.stop.set()
        await self.task


@dataclass
class OperatorRuntime:
    """What the handlers share; built once by :func:`build_runtime`."""

    settings: OperatorSettings
    reader: KubeReader
    refiner: LLMRefiner
    diagnosis: DiagnosisDeps
    remediation: RemediationDeps
    notifier: WebhookNotifier | None
    policies: PolicyStore
    leadership: Leadership
    events: EventRecorder
    #: Set by the start-up handlers of the features they start.
    election: Background | None = None
    incident_loop: IncidentLoop | None = None
    incident_loop_task: Background | None = None
    alert_ingestion: AlertIntake | None = field(default=None)

    def __copy__(self) -> OperatorRuntime:
        return self  # NB: shared, see the module doc


def build_runtime(settings: OperatorSettings) -> OperatorRuntime:
    """Every client and dependency of the operator, from ``settings``.

    Raises ``ValueError`` for a setting that cannot work, and
    :class:`~kubemedic.clients.cluster.ClusterAccessError` without a usable kubeconfig.
    """
    reader = KubeReader(load_api_client(settings.kubeconfig))
    # NB: the refiner always runs: it adds runbook knowledge from ConfigMaps; it asks an
    # LLM only when KUBEMEDIC_LLM_URL(S) is set (docs/llm.md).
    refiner = build_refiner(settings, reader=reader)
    leadership = _leadership(settings, reader)
    remediator = Remediator(reader.api)
    return OperatorRuntime(
        settings=settings,
        reader=reader,
        refiner=refiner,
        diagnosis=DiagnosisDeps(
            reader=reader, enrichers=build_enrichers(settings), refiner=refiner
        ),
        remediation=RemediationDeps(
            remediator=remediator,
            operator_namespace=settings.operator_namespace,
            extra_protected=tuple(settings.protected_namespaces),
            verify_timeout=timedelta(seconds=settings.verify_timeout_seconds),
            default_approval_ttl_seconds=settings.approval_ttl_seconds,
            is_leader=lambda: leadership.is_leader,
        ),
        notifier=build_notifier(settings),
        policies=remediator.policy_store,
        leadership=leadership,
        events=EventRecorder(
            reader.api,
            instance=leadership.identity if isinstance(leadership, LeaderElector) else "kubemedic",
        ),
    )


def _leadership(settings: OperatorSettings, reader: KubeReader) -> LeaderElector | AlwaysLeader:
    if not settings.leader_election:
        return AlwaysLeader()
    return LeaderElector(
        reader.api,
        namespace=settings.lease_namespace or settings.operator_namespace,
        name=settings.lease_name,
        identity=default_identity(settings.pod_name),
        timings=LeaderTimings(
            lease_duration=timedelta(seconds=settings.lease_duration_seconds),
            renew_deadline=timedelta(seconds=settings.renew_deadline_seconds),
            retry_period=timedelta(seconds=settings.retry_period_seconds),
        ),
    )


def operator_access(settings: OperatorSettings) -> list[Access]:
    """The permissions without which ``kubemedic run`` cannot work at all, checked before
    kopf starts (the chart's RBAC grants these and more: ``charts/kubemedic/templates``)."""
    needs: list[Access] = []
    watched: list[str | None] = [*settings.namespaces] or [None]
    for namespace in watched:
        needs += [
            Access(verb, INCIDENT_PLURAL, group=API_GROUP, namespace=namespace)
            for verb in ("list", "watch", "patch")
        ]
        needs += [
            Access(
                "patch", INCIDENT_PLURAL, group=API_GROUP, namespace=namespace, subresource="status"
            ),
            Access("create", "events", namespace=namespace),
            Access("list", "pods", namespace=namespace),
        ]
    needs += [Access(verb, POLICY_PLURAL, group=API_GROUP) for verb in ("list", "watch")]
    needs += [Access(verb, APPROVAL_PLURAL, group=API_GROUP) for verb in ("list", "watch")]
    if settings.leader_election:
        lease_namespace = settings.lease_namespace or settings.operator_namespace
        needs.append(
            Access("create", "leases", group="coordination.k8s.io", namespace=lease_namespace)
        )
        needs += [
            Access(
                verb,
                "leases",
                group="coordination.k8s.io",
                namespace=lease_namespace,
                name=settings.lease_name,
            )
            for verb in ("get", "update")
        ]
    return needs
