"""One pure analyzer per failure mode: ``analyze_*(index) -> Finding | None``.

Each analyzer reads a :class:`~kubemedic.domain.view.BundleView` and either recognises its
failure mode — returning a :class:`Finding` with a summary, a confidence, evidence lines that
cite the object and field they come from, and the proposed actions — or returns ``None``.
Analyzers do not know about each other (import-linter enforces it); :mod:`kubemedic.domain.rule_engine`
decides between them.

The package, as k8sgpt's ``pkg/analyzer``: one module per failure mode behind one interface.

- :mod:`.base`: the :class:`Finding`, the :class:`Analyzer` protocol, action constructors
  and fixed action risks, confidence helpers.
- :mod:`.vocabulary`: the kubelet's, scheduler's and controllers' reasons and message patterns.
- :mod:`.signals`: what is wrong with each pod and container, shared by several analyzers.
- one module per failure mode (:mod:`.oom_killed`, :mod:`.crash_loop`, :mod:`.bad_rollout`, ...).
- :mod:`.registry`: one :class:`AnalyzerSpec` per failure mode (category, target kinds,
  precedence, what it explains, the analyzer). Adding a failure mode = one module + one line.

Signals are the ones the control plane really writes, field by field: kubelet container
statuses and events, the scheduler's ``PodScheduled`` condition and FailedScheduling events,
ReplicaSet ``ReplicaFailure``, node conditions, PVC phases, EndpointSlice
``conditions.ready``, HPA ``ScalingLimited``. Analyzers never raise on odd data; the tests
feed them a table of malformed objects.

This module re-exports the names the rest of kubemedic uses, so callers write
``analyzers.Finding`` or ``analyzers.analyze_oom_killed`` without knowing the file layout.
"""

from kubemedic.domain.analyzers import cpu_throttling, vocabulary
from kubemedic.domain.analyzers.bad_rollout import analyze_bad_rollout
from kubemedic.domain.analyzers.base import (
    Analyzer,
    Finding,
    escalate,
    key_ref,
    make_action,
    object_ref,
    scaled_confidence,
    target_ref,
)
from kubemedic.domain.analyzers.certificate import analyze_certificate_expired
from kubemedic.domain.analyzers.config_error import (
    MissingReference,
    analyze_config_error,
    parse_missing_reference,
)
from kubemedic.domain.analyzers.cpu_throttling import analyze_cpu_throttling, propose_cpu_limit
from kubemedic.domain.analyzers.crash_loop import analyze_crash_loop
from kubemedic.domain.analyzers.dependency_down import analyze_dependency_down
from kubemedic.domain.analyzers.disruption_blocked import analyze_disruption_blocked
from kubemedic.domain.analyzers.dns_failure import analyze_dns_failure
from kubemedic.domain.analyzers.evicted import analyze_evicted
from kubemedic.domain.analyzers.hpa_maxed_out import analyze_hpa_maxed_out, propose_max_replicas
from kubemedic.domain.analyzers.hpa_misconfigured import analyze_hpa_misconfigured
from kubemedic.domain.analyzers.image_pull import analyze_image_pull_error
from kubemedic.domain.analyzers.init_container import analyze_init_container
from kubemedic.domain.analyzers.node_not_ready import analyze_node_not_ready
from kubemedic.domain.analyzers.node_pressure import analyze_node_pressure
from kubemedic.domain.analyzers.oom_killed import (
    analyze_oom_killed,
    memory_peak,
    propose_memory_limit,
)
from kubemedic.domain.analyzers.pod_creation_failed import analyze_pod_creation_failed
from kubemedic.domain.analyzers.probe_failure import analyze_probe_failure
from kubemedic.domain.analyzers.quota_exceeded import analyze_quota_exceeded
from kubemedic.domain.analyzers.registry import (
    ANALYZERS,
    EXPLAINS,
    PRECEDENCE,
    SPECS,
    AnalyzerSpec,
    specs_for,
)
from kubemedic.domain.analyzers.rollout_stuck import analyze_rollout_stuck
from kubemedic.domain.analyzers.service_no_endpoints import analyze_service_no_endpoints
from kubemedic.domain.analyzers.signals import (
    ContainerProblem,
    ProblemKind,
    container_problems,
    oom_inside,
)
from kubemedic.domain.analyzers.unschedulable import analyze_unschedulable, scheduler_reasons
from kubemedic.domain.analyzers.volume_error import analyze_volume_error
from kubemedic.domain.analyzers.volume_full import analyze_volume_full
from kubemedic.domain.catalog import ACTION_RISKS

__all__ = [
    "ACTION_RISKS",
    "ANALYZERS",
    "EXPLAINS",
    "PRECEDENCE",
    "SPECS",
    "Analyzer",
    "AnalyzerSpec",
    "ContainerProblem",
    "Finding",
    "MissingReference",
    "ProblemKind",
    "analyze_bad_rollout",
    "analyze_certificate_expired",
    "analyze_config_error",
    "analyze_cpu_throttling",
    "analyze_crash_loop",
    "analyze_dependency_down",
    "analyze_disruption_blocked",
    "analyze_dns_failure",
    "analyze_evicted",
    "analyze_hpa_maxed_out",
    "analyze_hpa_misconfigured",
    "analyze_image_pull_error",
    "analyze_init_container",
    "analyze_node_not_ready",
    "analyze_node_pressure",
    "analyze_oom_killed",
    "analyze_pod_creation_failed",
    "analyze_probe_failure",
    "analyze_quota_exceeded",
    "analyze_rollout_stuck",
    "analyze_service_no_endpoints",
    "analyze_unschedulable",
    "analyze_volume_error",
    "analyze_volume_full",
    "container_problems",
    "cpu_throttling",
    "escalate",
    "key_ref",
    "make_action",
    "memory_peak",
    "object_ref",
    "oom_inside",
    "parse_missing_reference",
    "propose_cpu_limit",
    "propose_max_replicas",
    "propose_memory_limit",
    "scaled_confidence",
    "scheduler_reasons",
    "specs_for",
    "target_ref",
    "vocabulary",
]
