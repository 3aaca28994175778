"""What one reconcile step works with: its dependencies, the Incident it changes, and the
side effects that wait for that change to be written.

A step changes the in-memory ``status`` of a :class:`Context` and then calls
:meth:`Context.write`. Events and metric updates are *pending* until that write succeeds:
a write refused with a conflict (someone else wrote first, or this replica lost the lead)
means the transition did not happen, so it must not be counted or announced either — the
next step will make it again and announce it then. That is what makes each transition
announce itself exactly once.

The target is read at most once per step (:meth:`Context.live`): deciding, the dry-run and
the apply all look at the same object, and a JSON patch's result replaces the cached copy.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from kubemedic.clients.kube import ConflictError, RawObject
from kubemedic.domain import lifecycle, view
from kubemedic.domain import patches as rem
from kubemedic.domain.approvals import ApprovalObject
from kubemedic.domain.policy import NamedPolicy
from kubemedic.models.audit_trail import ActionRecord
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.conditions import ConditionReason, ConditionStatus
from kubemedic.models.diagnosis import Action
from kubemedic.models.incident import IncidentSpec, IncidentStatus, Phase
from kubemedic.models.target import TargetRef

logger = logging.getLogger(__name__)

#: Test hook (only with KUBEMEDIC_ENABLE_FAULT_INJECTION=true): crash at this point.
FAULT_ENV: Final = "KUBEMEDIC_FAULT_CRASH_AT"
#: Longest Event message (the API server's limit).
MAX_EVENT_MESSAGE: Final = 1024


class RemediationClient(Protocol):
    """The cluster access remediation needs (clients/remediator.py implements it)."""

    def read(self, *, kind: str, namespace: str | None, name: str) -> RawObject | None: ...

    def json_patch(
        self,
        *,
        kind: str,
        namespace: str | None,
        name: str,
        ops: list[dict[str, Any]],
        dry_run: bool,
    ) -> RawObject: ...

    def delete_pod(self, *, namespace: str, name: str, uid: str, dry_run: bool) -> bool: ...

    def revision_template(self, deployment: RawObject, revision: int) -> RawObject | None: ...

    def gather(self, target: TargetRef, *, now: datetime) -> IncidentBundle | None: ...

    def policies(self) -> list[NamedPolicy]: ...

    def namespace_labels(self, namespace: str | None) -> dict[str, str]: ...

    def remediating_in(self, namespace: str, *, excluding: str) -> int: ...

    def limit_ranges(self, namespace: str) -> list[RawObject]: ...

    def hpas(self, namespace: str) -> list[RawObject]: ...

    def approvals(self, namespace: str) -> list[RawObject]: ...

    def write_approval_status(
        self, namespace: str, name: str, *, status: dict[str, Any]
    ) -> None: ...

    def read_incident(self, namespace: str, name: str) -> RawObject | None: ...

    def write_incident_status(
        self, namespace: str, name: str, *, status: dict[str, Any], resource_version: str
    ) -> RawObject: ...


@dataclass(frozen=True)
class RemediationDeps:
    remediator: RemediationClient
    operator_namespace: str
    extra_protected: tuple[str, ...] = ()
    verify_timeout: timedelta = timedelta(seconds=120)
    #: How long an approval stays valid, and how long an action waits for one, when no
    #: policy (or a policy without ``approvalTTLSeconds``) decided it.
    default_approval_ttl_seconds: int = 3600
    #: Checked before every write: a replica that lost the lead must not write.
    is_leader: Callable[[], bool] = field(default=lambda: True)


@dataclass(frozen=True)
class EventSpec:
    """An Event to post on the Incident (and on the target when ``on_target`` is given)."""

    type: str
    reason: str
    message: str
    on_target: RawObject | None = None


def describe(action: Action, action_id: str) -> str:
    """How messages name an action: ``Type Kind/name [id]``."""
    return f"{action.type.value} {action.target.kind}/{action.target.name} [{action_id}]"


def fingerprint_uid(fingerprint: str | None) -> str:
    """The uid part of a target fingerprint (see domain/patches.py)."""
    return (fingerprint or "").split("/", 1)[0]


@dataclass
class Context:
    """One reconcile step of one Incident."""

    deps: RemediationDeps
    incident: RawObject
    spec: IncidentSpec
    status: IncidentStatus
    now: datetime
    #: The Incident's unspent IncidentApprovals, oldest first (read once per step).
    approvals: list[ApprovalObject] = field(default_factory=list)
    #: Events of transitions that were written; the handler posts them.
    events: list[EventSpec] = field(default_factory=list)
    _pending_events: list[EventSpec] = field(default_factory=list)
    _pending_effects: list[Callable[[], None]] = field(default_factory=list)
    _targets: dict[tuple[str, str | None, str], RawObject | None] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return view.name_of(self.incident)

    @property
    def namespace(self) -> str:
        return view.namespace_of(self.incident)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def generation(self) -> int | None:
        return view.get_int(self.incident, "metadata", "generation")

    @property
    def client(self) -> RemediationClient:
        return self.deps.remediator

    # -- the target, read once per step ---------------------------------------------------

    def live(self, action: Action) -> RawObject | None:
        """The action's target as last read (or written) in this step."""
        key = (action.target.kind, action.target.namespace, action.target.name)
        if key not in self._targets:
            self._targets[key] = self.client.read(
                kind=action.target.kind, namespace=action.target.namespace, name=action.target.name
            )
        return self._targets[key]

    def fingerprint_for(self, action: Action, live: RawObject | None) -> str | None:
        """The fingerprint an action's record keeps, to refuse it once its object changed.

        NB: for an action on the Incident's own target, the fingerprint taken at diagnosis
        (an approval for a target that changed since is refused); for an action on another
        object (PatchHPA on the target's HPA, DeletePod on one of its pods), that object as
        first seen when the action was decided — comparing it with the Incident target's
        fingerprint would refuse every such action.
        """
        target = self.spec.target
        # A namespaced target named without a namespace is in the Incident's.
        namespaces = {target.namespace} if target.namespace else {None, self.namespace}
        same = (
            action.target.kind == target.kind.value
            and action.target.name == target.name
            and (action.target.namespace or None) in namespaces
        )
        if same or live is None:
            return self.status.target_fingerprint
        return rem.target_fingerprint(live)

    def patch(self, action: Action, ops: list[dict[str, Any]]) -> RawObject:
        """Apply a JSON patch to the action's target; the result becomes the cached copy."""
        result = self.client.json_patch(
            kind=action.target.kind,
            namespace=action.target.namespace,
            name=action.target.name,
            ops=ops,
            dry_run=False,
        )
        self._targets[(action.target.kind, action.target.namespace, action.target.name)] = result
        return result

    # -- the status ----------------------------------------------------------------------

    def history(self, step: str, message: str, action_id: str | None = None) -> None:
        self.status = lifecycle.with_history(
            self.status, step=step, message=message, now=self.now, action_id=action_id
        )

    def condition(
        self, type_: str, status: ConditionStatus, reason: ConditionReason, message: str
    ) -> None:
        self.status = lifecycle.with_condition(
            self.status,
            type=type_,
            condition_status=status,
            reason=reason,
            message=message,
            generation=self.generation,
            now=self.now,
        )

    def record(self, record: ActionRecord) -> None:
        self.status = lifecycle.with_record(self.status, record)

    def phase(self, phase: Phase) -> None:
        self.status = self.status.model_copy(update={"phase": phase})

    # -- side effects that wait for the write ----------------------------------------------

    def event(
        self, type_: str, reason: str, message: str, on_target: RawObject | None = None
    ) -> None:
        self._pending_events.append(
            EventSpec(type_, reason, message[:MAX_EVENT_MESSAGE], on_target)
        )

    def after_write(self, effect: Callable[[], None]) -> None:
        """Run ``effect`` (a metric update) once the status is written."""
        self._pending_effects.append(effect)

    def write(self) -> None:
        """Persist the status; ConflictError if someone else wrote first (nothing is lost).

        Only then are the pending Events kept for posting and the metric updates made.
        """
        if not self.deps.is_leader():
            raise ConflictError("this replica is no longer the leader")
        self.incident = self.client.write_incident_status(
            self.namespace,
            self.name,
            status=lifecycle.status_patch(self.status),
            resource_version=str(view.get(self.incident, "metadata", "resourceVersion")),
        )
        self.events.extend(self._pending_events)
        self._pending_events.clear()
        effects, self._pending_effects = self._pending_effects, []
        for effect in effects:
            effect()


def fault(point: str) -> None:
    """Crash here if a test asked for it (exactly-once under crashes); inert otherwise."""
    enabled = os.environ.get("KUBEMEDIC_ENABLE_FAULT_INJECTION") == "true"
    chance = float(os.environ.get("KUBEMEDIC_FAULT_PROBABILITY", "1"))
    if enabled and os.environ.get(FAULT_ENV) == point and random.random() < chance:  # noqa: S311
        logger.warning("fault injection: crashing %s", point)
        os._exit(137)
