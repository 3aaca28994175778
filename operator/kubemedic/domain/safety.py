"""Do no harm: before any action is proposed, is the problem current, and is the target overloaded?

The analyzers recognise failure modes from what the cluster *recorded*; some records outlive
the problem. A crash loop that ended hours ago still shows ``restartCount=40`` and
``lastState.terminated.reason=OOMKilled``; restarting a workload that has been Ready since
only adds risk. And an overloaded workload looks sick (failing probes, slow restarts) while
its cure is capacity: deleting or restarting its pods removes capacity when it is scarcest.

:func:`assess` reads the bundle once into a :class:`Situation`:

- **recovered**: for failure modes read from past restarts (OOMKilled, CrashLoop,
  ProbeFailure), every live pod is Running and Ready with no container waiting or
  terminated now, no alert is firing, and at least one signal dates the problem: the last
  termination is older than ``RECENT_WINDOW`` before the bundle was collected, the restart
  counters in the bundle's metrics are flat over that window, or every alert is resolved.
  Without such a signal the problem counts as current (the engine acts as before).
- **overloaded**: the workload's HPA is at ``maxReplicas`` with a metric above its target,
  containers are CFS-throttled (``container_cpu_cfs_throttled_periods_total`` ratio above
  ``THROTTLED_RATIO``, or a firing ``CPUThrottlingHigh`` alert), or CPU usage is at
  ``SATURATED_RATIO`` of the CPU limit.
- **template containers**: the ``containers`` of the workload's pod template (what a
  SetResources patch can reach); a container only a pod has was injected by a mutating
  webhook (istio-proxy, linkerd-proxy), and a patch to the template cannot size it.

:data:`VETOES` then says, per action type, when it must not be proposed; :func:`apply`
drops vetoed actions from the winning finding, cites why, and puts the safe alternative in
their place: for an overload, PatchHPA from the HPA finding, else SetResources raising the
starved container's CPU limit (:func:`propose_cpu_limit`), else Escalate; for an injected
sidecar, Escalate naming the injector's annotation; for a recovered problem, nothing (one
Escalate that says so). :func:`screen` applies the same vetoes to the LLM's proposals.
"""

import dataclasses
import decimal
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from kubemedic.domain import analyzers, quantity, view
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Action, ActionType, Category
from kubemedic.models.target import ObjectRef

#: A problem whose last sign is older than this before the bundle is history.
RECENT_WINDOW: Final = timedelta(hours=1)
#: Failure modes read from past restarts, which can outlive the problem.
RESTART_CATEGORIES: Final = frozenset(
    {Category.OOM_KILLED, Category.CRASH_LOOP, Category.PROBE_FAILURE}
)
#: Share of CFS periods throttled above which a container is starved by its CPU limit.
THROTTLED_RATIO: Final = analyzers.cpu_throttling.THROTTLED_RATIO
#: CPU usage as a share of the CPU limit above which a container is saturated.
SATURATED_RATIO: Final = 0.9
#: Alert names (kubernetes-mixin) that mean overload, not sickness.
OVERLOAD_ALERTS: Final = frozenset({"CPUThrottlingHigh", "KubeHpaMaxedOut"})
#: Annotations mutating webhooks write when they inject a sidecar.
INJECTOR_ANNOTATION_RE: Final = re.compile(r"sidecar|inject|proxy", re.IGNORECASE)

RESTARTS_METRIC: Final = "kube_pod_container_status_restarts_total"
THROTTLED_METRIC: Final = analyzers.vocabulary.THROTTLED_METRIC
CPU_USAGE_METRIC: Final = "container_cpu_usage_seconds_total"


@dataclasses.dataclass(frozen=True)
class Situation:
    """What the bundle says about the target now, beyond the failure mode."""

    recovered: str = ""
    overloaded: tuple[str, ...] = ()
    cpu_starved: Mapping[str, decimal.Decimal] = dataclasses.field(default_factory=dict)
    template_containers: frozenset[str] | None = None
    injected_by: Mapping[str, str] = dataclasses.field(default_factory=dict)


# -- Is the problem current? ------------------------------------------------------------------


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _last_termination(pods: Sequence[object]) -> datetime | None:
    times = [
        stamp
        for pod in pods
        for status in view.container_statuses(pod)
        if (stamp := _parse_time(view.get_str(status, "lastState", "terminated", "finishedAt")))
    ]
    return max(times, default=None)


def _points(series: object, *, with_value: bool) -> list[tuple[float, float]]:
    """``(time, value)`` samples of one series: its ``values`` (and its ``value``)."""
    raw = [*view.get_list(series, "values")]
    if with_value:
        raw.append(view.get(series, "value"))
    points: list[tuple[float, float]] = []
    for sample in raw:
        if isinstance(sample, list) and len(sample) == 2:  # [time, value]
            try:
                points.append((float(sample[0]), float(sample[1])))
            except (TypeError, ValueError):
                continue
    return points


def _restarts_flat(index: view.BundleView) -> bool | None:
    """Whether the bundle's restart counters are flat over the recent window (None: no data)."""
    verdict: bool | None = None
    for result in index.metrics():
        if RESTARTS_METRIC not in result.query:
            continue
        windowed = re.search(r"\b(increase|changes|delta|rate|irate)\s*\(", result.query)
        for series in view.dicts(view.get(result.data, "result")):
            if windowed:
                values = [v for _, v in _points(series, with_value=True)]
                if values:
                    verdict = (verdict is not False) and max(values) <= 0
                continue
            points = _points(series, with_value=False)
            if len(points) < 2:  # a counter needs two points to move
                continue
            last_time = points[-1][0]
            recent = [v for t, v in points if t >= last_time - RECENT_WINDOW.total_seconds()]
            verdict = (verdict is not False) and max(recent) <= min(recent)
    return verdict


def recovered_reason(index: view.BundleView, category: Category) -> str:
    """Why a restart-borne problem is over, or "" when it is (or may be) current."""
    if category not in RESTART_CATEGORIES:
        return ""
    pods = [pod for pod in index.scope_pods() if not view.is_terminal_pod(pod)]
    if not pods or not all(
        view.pod_phase(pod) == "Running" and view.is_pod_ready(pod) for pod in pods
    ):
        return ""
    if any(
        view.get_dict(status, "state", "waiting") or view.get_dict(status, "state", "terminated")
        for pod in pods
        for status in view.container_statuses(pod, include_init=False)
    ):
        return ""
    alerts = index.bundle.alerts
    if any(alert.status == "firing" for alert in alerts):
        return ""
    if category is Category.OOM_KILLED and analyzers.oom_inside(index):
        # NB: a worker killed inside a running container leaves every pod Ready.
        return ""
    reasons: list[str] = [f"{len(pods)}/{len(pods)} pods are Running and Ready now"]
    dated = False
    last = _last_termination(pods)
    collected = index.bundle.collected_at
    if last is not None and collected is not None:
        if collected - last < RECENT_WINDOW:
            return ""
        reasons.append(f"the last container termination was at {last.isoformat()}")
        dated = True
    flat = _restarts_flat(index)
    if flat is False:
        return ""
    if flat:
        reasons.append(f"{RESTARTS_METRIC} is flat over the last {RECENT_WINDOW}")
        dated = True
    if alerts:
        reasons.append("every alert is resolved")
        dated = True
    return "; ".join(reasons) if dated else ""


# -- Is the target overloaded? ----------------------------------------------------------------


def _hpa_overload(index: view.BundleView) -> list[str]:
    key = index.workload_ref()
    hpas = [] if key is None else index.hpas_for(key)
    target = index.target_object()
    if index.target.kind.value == "HorizontalPodAutoscaler" and target is not None:
        hpas = [target]
    lines: list[str] = []
    for hpa in hpas:
        max_replicas = view.get_int(hpa, "spec", "maxReplicas")
        current = view.get_int(hpa, "status", "currentReplicas")
        if max_replicas is None or current is None or current < max_replicas:
            continue
        targets = {
            view.get_str(m, "resource", "name"): view.get_int(
                m, "resource", "target", "averageUtilization"
            )
            for m in view.dicts(view.get(hpa, "spec", "metrics"))
        }
        for metric in view.dicts(view.get(hpa, "status", "currentMetrics")):
            name = view.get_str(metric, "resource", "name")
            used = view.get_int(metric, "resource", "current", "averageUtilization")
            wanted = targets.get(name)
            if used is not None and wanted and used > wanted:
                lines.append(
                    f"{view.cite(hpa)} is at maxReplicas={max_replicas} with {name} at "
                    f"{used}% of requests (target {wanted}%)"
                )
    return lines


def _metric_overload(index: view.BundleView) -> tuple[list[str], dict[str, decimal.Decimal]]:
    """Evidence of CPU starvation, and the starved containers with their CPU limit."""
    lines: list[str] = []
    starved: dict[str, decimal.Decimal] = {}
    limits = analyzers.cpu_throttling.cpu_limits(index)
    for result in index.metrics():
        for labels, value in view.iter_metric_samples(result):
            container = labels.get("container", "")
            limit = limits.get(container)
            if THROTTLED_METRIC in result.query and THROTTLED_RATIO < value <= 1:
                line = (
                    f"Metric {THROTTLED_METRIC} container '{container or '?'}': "
                    f"{value:.0%} of CFS periods throttled"
                )
            elif (
                CPU_USAGE_METRIC in result.query
                and limit
                and value >= SATURATED_RATIO * float(limit)
            ):
                line = (
                    f"Metric {CPU_USAGE_METRIC} container '{container}': {value:.2f} cores "
                    f"used of a {quantity.format_quantity(limit)} CPU limit"
                )
            else:
                continue
            lines.append(line)
            if limit:
                starved[container] = limit
    for alert in index.bundle.alerts:
        name = alert.labels.get("alertname", "")
        if alert.status == "firing" and name in OVERLOAD_ALERTS:
            lines.append(f"Alert {name} (firing)")
    return list(dict.fromkeys(lines)), starved


#: A starved container's new CPU limit: 1.5x, rounded up to 100m, at most 2x.
propose_cpu_limit: Final = analyzers.propose_cpu_limit


# -- Which containers can a template patch reach? ---------------------------------------------


def _template_containers(index: view.BundleView) -> frozenset[str] | None:
    workload = index.workload()
    if workload is None:
        return None
    spec = view.pod_template_spec(workload)
    names = [view.get_str(c, "name") for c in view.dicts(spec.get("containers"))]
    return frozenset(name for name in names if name) or None


def _injectors(index: view.BundleView) -> dict[str, str]:
    """The annotations that explain injected containers (``container -> annotation``)."""
    found: dict[str, str] = {}
    for pod in index.scope_pods():
        keys = sorted(k for k in view.annotations_of(pod) if INJECTOR_ANNOTATION_RE.search(k))
        for status in view.container_statuses(pod):
            name = view.get_str(status, "name")
            if name and keys:
                found.setdefault(name, keys[0])
    return found


def assess(index: view.BundleView, category: Category) -> Situation:
    """The :class:`Situation` of the bundle's target for a finding of ``category``."""
    starvation, starved = _metric_overload(index)
    return Situation(
        recovered=recovered_reason(index, category),
        overloaded=tuple(dict.fromkeys([*_hpa_overload(index), *starvation])),
        cpu_starved=starved,
        template_containers=_template_containers(index),
        injected_by=_injectors(index),
    )


# -- When each action must not be proposed ----------------------------------------------------

Veto = Callable[[Action, Situation], str]


def _when_recovered(_action: Action, situation: Situation) -> str:
    return f"the problem has recovered ({situation.recovered})" if situation.recovered else ""


def _when_overloaded(_action: Action, situation: Situation) -> str:
    if not situation.overloaded:
        return ""
    return f"the target is overloaded and this removes capacity ({situation.overloaded[0]})"


def _when_not_in_template(action: Action, situation: Situation) -> str:
    container = str(action.params.get("container", ""))
    if situation.template_containers is None or container in situation.template_containers:
        return ""
    return f"container '{container}' is not in the pod template (injected by a webhook)"


#: Per action type, the situations in which it must not be proposed (Escalate: never vetoed).
VETOES: Final[Mapping[ActionType, tuple[Veto, ...]]] = {
    ActionType.DELETE_POD: (_when_recovered, _when_overloaded),
    ActionType.RESTART_ROLLOUT: (_when_recovered, _when_overloaded),
    ActionType.SET_RESOURCES: (_when_recovered, _when_not_in_template),
    ActionType.ROLLBACK_ROLLOUT: (_when_recovered,),
    ActionType.SCALE_WORKLOAD: (_when_recovered,),
    ActionType.PATCH_HPA: (_when_recovered,),
    ActionType.CORDON_NODE: (_when_recovered,),
    ActionType.ESCALATE: (),
}


def veto(action: Action, situation: Situation) -> str:
    """Why ``action`` must not be proposed in ``situation``, or "" when it may be."""
    for rule in VETOES.get(action.type, ()):
        reason = rule(action, situation)
        if reason:
            return reason
    return ""


def display_ref(ref: ObjectRef) -> str:
    """``Kind/namespace/name`` of an action target."""
    return "/".join(part for part in (ref.kind, ref.namespace, ref.name) if part)


def _replacement(
    action: Action,
    reason: str,
    *,
    situation: Situation,
    others: Sequence[analyzers.Finding],
    index: view.BundleView,
) -> list[Action]:
    if situation.recovered:
        return []
    if situation.overloaded and action.type in {ActionType.DELETE_POD, ActionType.RESTART_ROLLOUT}:
        patches = [a for f in others for a in f.actions if a.type is ActionType.PATCH_HPA]
        if patches:
            return patches[:1]
        workload = index.workload_ref()
        reachable = situation.template_containers or frozenset()
        raises = [
            analyzers.make_action(
                ActionType.SET_RESOURCES,
                analyzers.key_ref(workload),
                params={"container": name, "cpuLimit": propose_cpu_limit(limit)},
            )
            for name, limit in sorted(situation.cpu_starved.items())
            if workload is not None and name in reachable
        ]
        if raises:
            return raises
        return [
            analyzers.escalate(
                analyzers.base.owner_ref(index),
                reason=f"{index.target.display()} is overloaded",
                instructions=(
                    f"Do not delete or restart pods: {reason}. Add capacity instead: raise the "
                    "HPA's maxReplicas or the workload's replicas, or raise the CPU limit "
                    "(resources.limits.cpu) of the throttled container, then check node capacity."
                ),
            )
        ]
    container = str(action.params.get("container", ""))
    annotation = situation.injected_by.get(container, "")
    return [
        analyzers.escalate(
            action.target,
            reason=f"container '{container}' is injected, not in the pod template",
            instructions=(
                f"Container '{container}' is not in the pod template of {display_ref(action.target)}"
                + (
                    f"; it was injected by a mutating webhook (annotation '{annotation}')"
                    if annotation
                    else "; a mutating webhook injected it"
                )
                + ". Size it through the injector's configuration or the pod template's "
                "annotations for it (e.g. sidecar.istio.io/proxyMemoryLimit), not with a patch "
                f"to the template: wanted {dict(action.params)}."
            ),
        )
    ]


def apply(
    index: view.BundleView,
    finding: analyzers.Finding,
    others: Sequence[analyzers.Finding],
) -> analyzers.Finding:
    """``finding`` with every vetoed action replaced by its safe alternative, and why."""
    situation = assess(index, finding.category)
    actions: list[Action] = []
    notes: list[str] = []
    for action in finding.actions:
        reason = veto(action, situation)
        if not reason:
            actions.append(action)
            continue
        notes.append(f"Not proposed: {action.type.value} {display_ref(action.target)}: {reason}")
        actions.extend(
            a
            for a in _replacement(action, reason, situation=situation, others=others, index=index)
            if a not in actions
        )
    summary = finding.summary
    if situation.recovered:
        notes.insert(0, f"Recovered: {situation.recovered}")
        summary = f"Recovered, no action needed now: {summary}"
        actions = [
            analyzers.escalate(
                analyzers.base.owner_ref(index),
                reason=f"{finding.category.value} on {index.target.display()} has recovered",
                instructions=(
                    "Nothing to do now: the problem is over "
                    f"({situation.recovered}). If it comes back, the next incident is "
                    "diagnosed as current; to find the cause, read the runbook."
                ),
            )
        ]
    elif situation.overloaded and notes:
        notes.extend(f"Overload: {line}" for line in situation.overloaded)
    if not notes:
        return finding
    return dataclasses.replace(
        finding,
        summary=summary,
        evidence=(*notes, *finding.evidence),
        actions=tuple(actions),
    )


def screen(
    bundle: IncidentBundle, category: Category, actions: Sequence[Action]
) -> tuple[list[Action], list[tuple[Action, str]]]:
    """Actions proposed by another engine (the LLM), split into kept and vetoed-with-reason.

    The LLM's proposals pass the same vetoes as the rules' own: a model that reads
    "CrashLoopBackOff" in an old event must not restart a workload that has recovered.
    """
    situation = assess(view.BundleView(bundle), category)
    kept: list[Action] = []
    vetoed: list[tuple[Action, str]] = []
    for action in actions:
        reason = veto(action, situation)
        if reason:
            vetoed.append((action, reason))
        else:
            kept.append(action)
    return kept, vetoed
