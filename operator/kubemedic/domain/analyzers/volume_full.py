"""VolumeFull: a PersistentVolumeClaim that is full or about to be, and its consumers failing.

Signals: the kubelet's volume stats in the bundle's metrics
(``kubelet_volume_stats_available_bytes`` at or near zero, or used/capacity at
``FULL_RATIO``; a ratio at ``FILLING_RATIO`` is "filling"), and the consumers' logs and
events saying "no space left on device" (ENOSPC). Either alone is enough; both together
are near certain. No automatic fix exists (kubemedic does not resize volumes or delete
data), so the finding escalates with the claim, its size and the commands to expand it.
"""

from typing import Final

from kubemedic.domain import quantity, view
from kubemedic.domain.analyzers import base, signals, vocabulary
from kubemedic.models.diagnosis import Category
from kubemedic.models.target import TargetKind

#: A volume is full at this share of its capacity used (or under FULL_BYTES available).
FULL_RATIO: Final = 0.97
FULL_BYTES: Final = 64 * 1024 * 1024
#: And filling at this share (weaker finding: not broken yet).
FILLING_RATIO: Final = 0.9


def _claims(index: view.BundleView) -> set[tuple[str, str]]:
    """``(namespace, claim)`` of the target claim, or of every claim the scope's pods mount."""
    target = index.target
    if target.kind is TargetKind.PERSISTENT_VOLUME_CLAIM:
        return {(target.namespace or "", target.name)}
    return {
        (view.namespace_of(pod), claim)
        for pod in index.scope_pods()
        for claim in view.claim_names(pod)
    }


def _usage(index: view.BundleView, claims: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Per full or filling claim, the evidence line from the kubelet's volume stats."""
    found: dict[tuple[str, str], tuple[float, str]] = {}

    def key_of(series: signals.Series) -> tuple[str, str] | None:
        key = (series.labels.get("namespace", ""), series.labels.get("persistentvolumeclaim", ""))
        if key in claims:
            return key
        if len(claims) == 1 and not key[1]:
            return next(iter(claims))
        return None

    capacity = {
        key: s.last
        for s in signals.metric_series(index, vocabulary.VOLUME_CAPACITY_METRIC)
        if (key := key_of(s)) is not None and "/" not in s.query
    }
    for s in signals.metric_series(index, vocabulary.VOLUME_AVAILABLE_METRIC):
        key = key_of(s)
        if key is None or "/" in s.query:
            continue
        size = capacity.get(key)
        used_ratio = 1 - s.last / size if size else None
        if s.last <= FULL_BYTES or (used_ratio is not None and used_ratio >= FILLING_RATIO):
            ratio = used_ratio if used_ratio is not None else 1.0
            line = (
                f"Metric {vocabulary.VOLUME_AVAILABLE_METRIC} persistentvolumeclaim "
                f"'{key[1]}': {quantity.format_bytes(max(int(s.last), 0))} available"
                + (f" of {quantity.format_bytes(int(size))}" if size else "")
            )
            found[key] = (1.0 if s.last <= FULL_BYTES else ratio, line)
    for s in signals.metric_series(index, vocabulary.VOLUME_USED_METRIC):
        key = key_of(s)
        if key is None or key in found or "/" not in s.query:
            continue
        if s.last >= FILLING_RATIO:
            line = (
                f"Metric {vocabulary.VOLUME_USED_METRIC}/capacity persistentvolumeclaim "
                f"'{key[1]}': {s.last:.1%} used"
            )
            found[key] = (s.last, line)
    return {
        key: line + (" (full)" if ratio >= FULL_RATIO else " (filling)")
        for key, (ratio, line) in found.items()
    }


def analyze_volume_full(index: view.BundleView) -> base.Finding | None:
    """A claim the kubelet reports (nearly) full, or consumers failing with ENOSPC."""
    claims = _claims(index)
    usage = _usage(index, claims)
    pods = index.scope_pods()
    logs = signals.log_matches(index, vocabulary.NO_SPACE_RE, pods=pods)
    events = signals.event_matches(index, vocabulary.NO_SPACE_RE, objects=pods)
    if not usage and not logs and not events:
        return None
    full = any(line.endswith("(full)") for line in usage.values())
    if not usage and not claims:
        # NB: ENOSPC without a claim is the node's or an emptyDir's disk, not a volume.
        return None
    claim_ns, claim = next(iter(sorted(usage) or sorted(claims)))
    evidence = [*usage.values(), *(m.cite("a full disk") for m in logs)]
    evidence.extend(event.cite() for event in events)
    pvc = index.pvc(claim_ns, claim)
    size = view.get_str(pvc, "status", "capacity", "storage") or view.get_str(
        pvc, "spec", "resources", "requests", "storage"
    )
    if pvc is not None:
        evidence.append(
            f"{view.cite(pvc)} status.capacity.storage={size or '?'} "
            f"storageClassName={view.get_str(pvc, 'spec', 'storageClassName') or '(default)'}"
        )
    broken = full or bool(logs) or bool(events)
    state = "full" if broken else "filling up"
    confidence = 0.9 if usage and (logs or events) else 0.85 if broken else 0.62
    summary = (
        f"PersistentVolumeClaim {claim_ns}/{claim} is {state}"
        + (f" ({size})" if size else "")
        + ("; its consumers fail with 'no space left on device'" if logs or events else "")
        + ". Expand the claim or free space."
    )
    instructions = (
        f"Expand PersistentVolumeClaim {claim_ns}/{claim}: if its StorageClass has "
        "allowVolumeExpansion=true, `kubectl patch pvc "
        f'{claim} -n {claim_ns} -p \'{{"spec":{{"resources":{{"requests":{{"storage":'
        '"<bigger>"}}}}}}\'`; otherwise free space (rotate logs, drop old data, compact) or '
        "migrate to a bigger volume. Do not delete the pod: a full volume stays full."
    )
    return base.escalation(
        index,
        Category.VOLUME_FULL,
        summary=summary,
        confidence=confidence,
        evidence=evidence,
        instructions=instructions,
        facts={"namespace": claim_ns, "claim": claim, "pod": logs[0].pod if logs else ""},
    )
