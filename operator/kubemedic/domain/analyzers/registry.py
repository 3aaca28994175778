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
    config_error,
    crash_loop,
    evicted,
    hpa_maxed_out,
    image_pull,
    node_not_ready,
    oom_killed,
    probe_failure,
    quota_exceeded,
    service_no_endpoints,
    unschedulable,
    volume_error,
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
_NOTHING: Final[frozenset[Category]] = frozenset()

# fmt: off
#: Every failure mode, in precedence order (see the module docstring for the reasoning).
SPECS: Final[tuple[AnalyzerSpec, ...]] = (
    AnalyzerSpec(Category.NODE_NOT_READY, POD_LEVEL_KINDS | _NODE, 10, frozenset({
        Category.PROBE_FAILURE, Category.CRASH_LOOP, Category.EVICTED, Category.VOLUME_ERROR,
    }), node_not_ready.analyze_node_not_ready),
    AnalyzerSpec(Category.BAD_ROLLOUT, POD_LEVEL_KINDS, 20, frozenset({
        Category.OOM_KILLED, Category.CRASH_LOOP, Category.IMAGE_PULL_ERROR,
        Category.CONFIG_ERROR, Category.PROBE_FAILURE, Category.HPA_MAXED_OUT,
    }), bad_rollout.analyze_bad_rollout),
    AnalyzerSpec(Category.QUOTA_EXCEEDED, POD_LEVEL_KINDS, 30, frozenset({
        Category.HPA_MAXED_OUT, Category.UNSCHEDULABLE,
    }), quota_exceeded.analyze_quota_exceeded),
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
    AnalyzerSpec(Category.PROBE_FAILURE, POD_LEVEL_KINDS, 90, frozenset({
        Category.CRASH_LOOP,
    }), probe_failure.analyze_probe_failure),
    AnalyzerSpec(Category.CRASH_LOOP, POD_LEVEL_KINDS, 100, _NOTHING,
                 crash_loop.analyze_crash_loop),
    AnalyzerSpec(Category.EVICTED, POD_LEVEL_KINDS, 110, _NOTHING, evicted.analyze_evicted),
    AnalyzerSpec(Category.SERVICE_NO_ENDPOINTS, _SERVICE, 120, _NOTHING,
                 service_no_endpoints.analyze_service_no_endpoints),
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
