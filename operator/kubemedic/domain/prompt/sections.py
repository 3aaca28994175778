"""The small evidence sections: incident, rule engine, scope, alerts, metrics and events.

Events: Warnings first, newest first, duplicates merged. Every text goes through the
redactor; every section is fitted to its budget (:func:`~kubemedic.domain.prompt.budget.finish`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kubemedic.domain import view
from kubemedic.domain.llm_output import ActionScope
from kubemedic.domain.prompt.budget import (
    MAX_EVENT_MESSAGE,
    MAX_RULE_EVIDENCE,
    Section,
    TokenCounter,
    finish,
    fit_list,
    fit_text,
    measure,
)
from kubemedic.domain.prompt.objects import prune
from kubemedic.domain.prompt.redacting import Redacts
from kubemedic.models.bundle import IncidentBundle
from kubemedic.models.diagnosis import Diagnosis
from kubemedic.models.incident import IncidentSpec


def _event_time(obj: Mapping[str, Any]) -> str:
    return (
        view.get_str(obj, "series", "lastObservedTime")
        or view.get_str(obj, "lastTimestamp")
        or view.get_str(obj, "deprecatedLastTimestamp")
        or view.get_str(obj, "eventTime")
        or view.get_str(obj, "firstTimestamp")
    )


def events_section(
    bundle: IncidentBundle, *, redactor: Redacts, counter: TokenCounter, budget: int
) -> Section:
    merged: dict[tuple[str, str, str], tuple[view.EventInfo, str]] = {}
    for obj in bundle.objects:
        # NB: redacted before parse_event cuts the message: a secret cut in half by a
        # truncation may no longer look like one.
        event = view.parse_event(
            redactor.redact_object(obj) if view.kind_of(obj) == "Event" else obj
        )
        if event is None:
            continue
        subject = f"{event.object_kind}/{event.object_namespace}/{event.object_name}".replace(
            "//", "/"
        )
        key = (subject, event.reason, event.message)
        when = _event_time(obj)
        if key in merged:
            previous, previous_when = merged[key]
            event = dataclasses.replace(event, count=previous.count + event.count)
            when = max(when, previous_when)
        merged[key] = (event, when)
    ordered = sorted(
        merged.items(),
        key=lambda item: (item[1][0].type != "Warning", _neg_time(item[1][1]), item[0]),
    )
    entries: list[dict[str, Any]] = []
    used = 0
    omitted = 0
    for position, ((subject, _, _), (event, when)) in enumerate(ordered, start=1):
        entry = {
            "id": f"event:{position}",
            "object": subject,
            "type": event.type,
            "reason": event.reason,
            "count": event.count,
            "last": when,
            "message": view.truncate(event.message, MAX_EVENT_MESSAGE),
        }
        size = measure(counter, entry) if used < budget else budget + 1
        if used + size > budget:
            omitted += 1
            continue
        entries.append(prune(entry))
        used += size
    return finish(entries, omitted=omitted, counter=counter, budget=budget)


def _neg_time(when: str) -> str:
    # NB: RFC 3339 strings sort like times; invert the characters to sort newest first.
    return "".join(chr(0x10FFFF - ord(c)) for c in when) if when else "\U0010ffff"


def alerts_section(
    bundle: IncidentBundle, *, redactor: Redacts, counter: TokenCounter, budget: int
) -> Section:
    items = [
        {
            "id": f"alert:{n}",
            **redactor.redact_object(
                alert.model_dump(mode="json", by_alias=True, exclude_none=True)
            ),
        }
        for n, alert in enumerate(bundle.alerts, start=1)
    ]
    kept, _, omitted = fit_list(items, counter=counter, budget=budget)
    return finish(kept, omitted=omitted, counter=counter, budget=budget)


def _summarise_metric(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    series_list = []
    for series in view.dicts(data.get("result"))[:10]:
        samples = [series.get("value"), *view.get_list(series, "values")]
        values = [
            float(s[1]) for s in samples if isinstance(s, list) and len(s) == 2 and _is_number(s[1])
        ]
        entry: dict[str, Any] = {"metric": view.str_map(series.get("metric"))}
        if values:
            entry.update(last=values[-1], max=max(values), min=min(values), samples=len(values))
        series_list.append(entry)
    return series_list


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def metrics_section(
    bundle: IncidentBundle, *, redactor: Redacts, counter: TokenCounter, budget: int
) -> Section:
    items = [
        {
            "id": f"metric:{n}",
            "query": redactor.redact_text(metric.query),
            "series": redactor.redact_object(_summarise_metric(metric.data)),
        }
        for n, metric in enumerate(bundle.metrics, start=1)
    ]
    kept, _, omitted = fit_list(items, counter=counter, budget=budget)
    return finish(kept, omitted=omitted, counter=counter, budget=budget)


def incident_section(
    bundle: IncidentBundle,
    spec: IncidentSpec | None,
    *,
    redactor: Redacts,
    counter: TokenCounter,
    budget: int,
) -> Section:
    value: dict[str, Any] = {"id": "incident", "target": bundle.target.display()}
    if spec is not None:
        value.update(
            severity=spec.severity.value,
            source=spec.source.value,
            summary=redactor.redact_text(spec.summary),
        )
        fixed = measure(counter, value)
        value["description"] = fit_text(
            redactor.redact_text(spec.description), max(budget - fixed - 8, 0), counter
        )
    value = prune(value)
    return Section(value, measure(counter, value), refs=("incident",))


def rules_section(
    rules: Diagnosis, *, redactor: Redacts, counter: TokenCounter, budget: int
) -> Section:
    evidence = [
        {"id": f"rules:{n}", "text": view.truncate(redactor.redact_text(line), MAX_RULE_EVIDENCE)}
        for n, line in enumerate(rules.evidence, start=1)
    ]
    value: dict[str, Any] = {
        "category": rules.category.value,
        "confidence": rules.confidence,
        "summary": redactor.redact_text(rules.summary),
        "actions": [
            redactor.redact_object(a.model_dump(mode="json", by_alias=True)) for a in rules.actions
        ],
        "evidence": evidence,
    }
    while evidence and measure(counter, value) > budget:
        evidence.pop()
    if measure(counter, value) > budget:
        value["actions"] = [{"type": a.type.value} for a in rules.actions]
    return Section(value, measure(counter, value), refs=tuple(e["id"] for e in evidence))


def scope_section(scope: ActionScope, *, counter: TokenCounter, budget: int) -> Section:
    names = scope.display()
    value: dict[str, Any] = {"objects": names, "containers": sorted(scope.containers)}
    while len(value["objects"]) > 1 and measure(counter, value) > budget:
        value["objects"] = value["objects"][:-1]
    return Section(value, measure(counter, value))
