"""Remediation, the state machine: decide, approve, dry-run, record intent, apply, verify, revert.

The modules, in the order an action passes through them:

- ``context``: the dependencies, the Incident being changed, and side effects that wait
  for the status write (so a refused write announces nothing);
- ``transitions``: every transition and what it announces (record state, phase,
  conditions, history, Event, metric) in one table;
- ``decide``: the policy's decision on a fresh diagnosis, dry-runs, patch plans;
- ``approvals``: IncidentApprovals (on the operator's clock, spent once used), and actions
  that waited too long for one;
- ``apply``: bounds, rate limits, intent, the patch (exactly once);
- ``finish``: verification, revert, resolution;
- ``reconcile``: one step, :func:`reconcile_remediation`.

The patch side (markers, generation tests, verdicts) is pure: domain/patches.py.
"""

from kubemedic.service.remediation.context import (
    FAULT_ENV,
    EventSpec,
    RemediationClient,
    RemediationDeps,
)
from kubemedic.service.remediation.reconcile import ReconcileResult, reconcile_remediation

__all__ = [
    "FAULT_ENV",
    "EventSpec",
    "ReconcileResult",
    "RemediationClient",
    "RemediationDeps",
    "reconcile_remediation",
]
