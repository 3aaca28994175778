"""The registry of failure modes: which analyzer runs for which target kind, and how its
finding ranks against the others.

Adding a failure mode is one new module with an ``analyze_*`` function (see
:class:`~kubemedic.domain.analyzers.base.Analyzer`) and one ``AnalyzerSpec`` line below. The
tables :mod:`kubemedic.domain.rule_engine` ranks with (``PRECEDENCE``, ``EXPLAINS``, the
analyzers per target kind) are derived from ``SPECS``, so they cannot drift apart.

``precedence`` orders categories from cause to symptom (lower wins among strong findings);
the reasons, top to bottom:

- NodeNotReady: a dead node makes its pods look broken in every other way.
- BadRollout: a change just happened and the previous revision was healthy, so the change
  is the cause whatever the symptom (crash, OOM, image, config, probe); a rollback is the
  fastest recovery. Its analyzer already declines when the old revision fails too.
- QuotaExceeded: pods are not even created.
- ConfigError, ImagePullError, VolumeError: containers cannot be created or started; each
  names the missing object. Config beats Volume because a missing ConfigMap volume is
  reported as FailedMount.
- Unschedulable: pods cannot be placed (storage-related scheduling is a VolumeError).
- OOMKilled: the kernel's verdict is specific; it beats a generic crash.
- ProbeFailure: before CrashLoop because liveness-probe restarts look like crashes.
- CrashLoop: repeated exits with no more specific explanation.
- Evicted: evicted pods linger after their replacements run; a live failure matters more.
- ServiceNoEndpoints, HPAMaxedOut: the symptom seen from outside, or a capacity signal.

The failure modes added later slot in by the same reasoning:

- DisruptionBlocked, NodePressure (right after NodeNotReady): the node's state explains its
  pods' evictions and failures; a workload's pods on a pressured node are only a weak hint.
- PodCreationFailed (after QuotaExceeded): pods are not even created, for another reason.
- VolumeFull, CertificateExpired, DependencyDown, DNSFailure (after OOMKilled, before
  ProbeFailure and CrashLoop): the logs name the cause of the crash or the failed probes;
  the kernel's OOM verdict stays more specific. DependencyDown explains DNSFailure (a
  Service without endpoints is the reason a name does not resolve).
- InitContainerFailure (before ProbeFailure): an init container's crash is also a crash.
- RolloutStuck (after Evicted): a stalled rollout with no failing pod is the residue.
- HPAMisconfigured, CPUThrottling (before HPAMaxedOut): an HPA that cannot scale, a CPU
  limit that starves the pods; both are capacity signals with a precise fix.

``explains`` lists the symptoms a winning category accounts for: they do not lower its
confidence when they are found too.

``kinds`` are the target kinds the analyzer runs for: a Node is judged by the node analyzer,
a Service by the endpoints analyzer, a PersistentVolumeClaim by the volume analyzer;
workloads, pods and HPAs by all pod-level analyzers.
"""

import dataclasses
from collections.abc import Mapping
from typing import Final

from kubemedic.domain.analyzers import (
    bad_rollout,
    certificate,
    config_error,
    cpu_throttling,
    crash_loop,
    dependency_down,
    disruption_blocked,
    dns_failure,
    evicted,
    hpa_maxed_out,
    hpa_misconfigured,
    image_pull,
    init_container,
    node_not_ready,
    node_pressure,
    oom_killed,
    pod_creation_failed,
    probe_failure,
    quota_exceeded,
    rollout_stuck,
    service_no_endpoints,
    unschedulable,
    volume_error,
    volume_full,
)
from kubemedic.domain.analyzers.base import Analyzer
from kubemedic.models.diagnosis import Category
from kubemedic.models.target import TargetKind


@dataclasses.dataclass(frozen=True)
class AnalyzerSpec:
    """One failure mode: its category, where it applies, how it ranks, and its analyzer."""

    category: Category
    kinds: frozenset[TargetKind]
    precedence: int
    explains: frozenset[Category]
    fn: Analyzer


#: Target kinds judged by their pods (the pod-level analyzers).
POD_LEVEL_KINDS: Final = frozenset(
    {
        TargetKind.DEPLOYMENT,
        TargetKind.STATEFULSET,
        TargetKind.DAEMONSET,
        TargetKind.POD,
        TargetKind.HORIZONTAL_POD_AUTOSCALER,
    }
)
_NODE: Final = frozenset({TargetKind.NODE})
_SERVICE: Final = frozenset({TargetKind.SERVICE})
_PVC: Final = frozenset({TargetKind.PERSISTENT_VOLUME_CLAIM})
#: Failure modes read from the pods' logs also judge a Service (through its selected pods).
_LOGGED: Final = POD_LEVEL_KINDS | _SERVICE
#: Symptoms of a cause that the containers' logs name (crash, failed probes, waiting init).
_LOG_SYMPTOMS: Final = frozenset(
    {
        Category.CRASH_LOOP,
        Category.PROBE_FAILURE,
        Category.INIT_CONTAINER_FAILURE,
        Category.SERVICE_NO_ENDPOINTS,
    }
)
_NOTHING: Final[frozenset[Category]] = frozenset()

# fmt: off
#: Every failure mode, in precedence order (see the module docstring for the reasoning).
SPECS: Final[tuple[AnalyzerSpec, ...]] = (
    AnalyzerSpec(Category.NODE_NOT_READY, POD_LEVEL_KINDS | _NODE, 10, frozenset({
        Category.PROBE_FAILURE, Category.CRASH_LOOP, Category.EVICTED, Category.VOLUME_ERROR,
    }), node_not_ready.analyze_node_not_ready),
    AnalyzerSpec(Category.DISRUPTION_BLOCKED, POD_LEVEL_KINDS | _NODE, 12, _NOTHING,
                 disruption_blocked.analyze_disruption_blocked),
    AnalyzerSpec(Category.NODE_PRESSURE, POD_LEVEL_KINDS | _NODE, 15, frozenset({
        Category.EVICTED, Category.PROBE_FAILURE, Category.CRASH_LOOP,
    }), node_pressure.analyze_node_pressure),
    AnalyzerSpec(Category.BAD_ROLLOUT, POD_LEVEL_KINDS, 20, frozenset({
        Category.OOM_KILLED, Category.CRASH_LOOP, Category.IMAGE_PULL_ERROR,
        Category.CONFIG_ERROR, Category.PROBE_FAILURE, Category.HPA_MAXED_OUT,
        Category.UNSCHEDULABLE, Category.INIT_CONTAINER_FAILURE, Category.ROLLOUT_STUCK,
    }), bad_rollout.analyze_bad_rollout),
    AnalyzerSpec(Category.QUOTA_EXCEEDED, POD_LEVEL_KINDS, 30, frozenset({
        Category.HPA_MAXED_OUT, Category.UNSCHEDULABLE,
    }), quota_exceeded.analyze_quota_exceeded),
    AnalyzerSpec(Category.POD_CREATION_FAILED, POD_LEVEL_KINDS, 32, frozenset({
        Category.ROLLOUT_STUCK,
    }), pod_creation_failed.analyze_pod_creation_failed),
    AnalyzerSpec(Category.CONFIG_ERROR, POD_LEVEL_KINDS, 40, frozenset({
        Category.VOLUME_ERROR,
    }), config_error.analyze_config_error),
    AnalyzerSpec(Category.IMAGE_PULL_ERROR, POD_LEVEL_KINDS, 50, _NOTHING,
                 image_pull.analyze_image_pull_error),
    AnalyzerSpec(Category.VOLUME_ERROR, POD_LEVEL_KINDS | _PVC, 60, frozenset({
        Category.UNSCHEDULABLE,
    }), volume_error.analyze_volume_error),
    AnalyzerSpec(Category.UNSCHEDULABLE, POD_LEVEL_KINDS, 70, _NOTHING,
                 unschedulable.analyze_unschedulable),
    AnalyzerSpec(Category.OOM_KILLED, POD_LEVEL_KINDS, 80, frozenset({
        Category.CRASH_LOOP, Category.PROBE_FAILURE, Category.EVICTED,
    }), oom_killed.analyze_oom_killed),
    AnalyzerSpec(Category.VOLUME_FULL, POD_LEVEL_KINDS | _PVC, 82, _LOG_SYMPTOMS,
                 volume_full.analyze_volume_full),
    AnalyzerSpec(Category.CERTIFICATE_EXPIRED, _LOGGED, 84, _LOG_SYMPTOMS,
                 certificate.analyze_certificate_expired),
    AnalyzerSpec(Category.DEPENDENCY_DOWN, _LOGGED, 86, _LOG_SYMPTOMS | {Category.DNS_FAILURE},
                 dependency_down.analyze_dependency_down),
    AnalyzerSpec(Category.DNS_FAILURE, _LOGGED, 88, _LOG_SYMPTOMS,
                 dns_failure.analyze_dns_failure),
    AnalyzerSpec(Category.INIT_CONTAINER_FAILURE, POD_LEVEL_KINDS, 89, frozenset({
        Category.CRASH_LOOP,
    }), init_container.analyze_init_container),
    AnalyzerSpec(Category.PROBE_FAILURE, POD_LEVEL_KINDS, 90, frozenset({
        Category.CRASH_LOOP,
    }), probe_failure.analyze_probe_failure),
    AnalyzerSpec(Category.CRASH_LOOP, POD_LEVEL_KINDS, 100, _NOTHING,
                 crash_loop.analyze_crash_loop),
    AnalyzerSpec(Category.EVICTED, POD_LEVEL_KINDS, 110, _NOTHING, evicted.analyze_evicted),
    AnalyzerSpec(Category.ROLLOUT_STUCK, POD_LEVEL_KINDS, 115, _NOTHING,
                 rollout_stuck.analyze_rollout_stuck),
    AnalyzerSpec(Category.SERVICE_NO_ENDPOINTS, _SERVICE, 120, _NOTHING,
                 service_no_endpoints.analyze_service_no_endpoints),
    AnalyzerSpec(Category.HPA_MISCONFIGURED, POD_LEVEL_KINDS, 125, frozenset({
        Category.HPA_MAXED_OUT,
    }), hpa_misconfigured.analyze_hpa_misconfigured),
    AnalyzerSpec(Category.CPU_THROTTLING, POD_LEVEL_KINDS, 127, _NOTHING,
                 cpu_throttling.analyze_cpu_throttling),
    AnalyzerSpec(Category.HPA_MAXED_OUT, POD_LEVEL_KINDS, 130, _NOTHING,
                 hpa_maxed_out.analyze_hpa_maxed_out),
)
# fmt: on

_ORDERED: Final = tuple(sorted(SPECS, key=lambda spec: spec.precedence))

#: Categories from cause to symptom; Unknown (no analyzer matched) is last.
PRECEDENCE: Final[tuple[Category, ...]] = (
    *(spec.category for spec in _ORDERED),
    Category.UNKNOWN,
)

#: Symptoms a winning category accounts for (they do not lower its confidence).
EXPLAINS: Final[Mapping[Category, frozenset[Category]]] = {
    spec.category: spec.explains for spec in SPECS if spec.explains
}

#: Every analyzer, in precedence order.
ANALYZERS: Final[tuple[Analyzer, ...]] = tuple(spec.fn for spec in _ORDERED)


def specs_for(kind: TargetKind) -> tuple[AnalyzerSpec, ...]:
    """The failure modes judged for a target of ``kind``, in precedence order.

    A kind no spec names is judged by the pod-level analyzers, as a workload would be.
    """
    specs = tuple(spec for spec in _ORDERED if kind in spec.kinds)
    return specs or tuple(spec for spec in _ORDERED if spec.kinds >= POD_LEVEL_KINDS)
