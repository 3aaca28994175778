"""The alert intake's in-process index of alert Incidents, pure.

We test these aspects:
- only alert Incidents (``kubemedic.dev/source=alert`` with a target hash) are indexed, with
  their creation time and ``AlertResolved`` status read from the object;
- lookups by name, by target and by namespace agree after adds, replacements (a target hash
  that changed) and removals, and leave no empty buckets behind;
- a reservation counts at once and is replaced by the created object;
- a watch-confirmed entry stays confirmed when this replica's own write is observed later,
  and pruning drops only unconfirmed entries older than the horizon.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubemedic.domain import alert_mapping as alerts
from kubemedic.domain.alert_index import AlertIncidentIndex, entry_from_object

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def incident(
    name: str,
    *,
    namespace: str = "shop",
    target_hash: str = "aaa",
    created: datetime = T0,
    resolved: str | None = None,
    source: str = alerts.SOURCE_ALERT,
) -> dict[str, Any]:
    conditions = [{"type": "AlertResolved", "status": resolved}] if resolved else []
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": created.isoformat().replace("+00:00", "Z"),
            "labels": {alerts.SOURCE_LABEL: source, alerts.TARGET_HASH_LABEL: target_hash},
        },
        "status": {"conditions": [{"type": "Diagnosed", "status": "True"}, *conditions]},
    }


@pytest.mark.parametrize(
    ("obj", "indexed"),
    [
        (incident("a"), True),
        (incident("a", source="kubectl"), False),
        ({"metadata": {"name": "a", "namespace": "shop", "labels": {}}}, False),
        ({"metadata": "garbage"}, False),
        ({}, False),
    ],
)
def test_only_alert_incidents_are_indexed(obj: dict[str, Any], indexed: bool) -> None:
    assert (entry_from_object(obj, confirmed=True) is not None) == indexed


@pytest.mark.parametrize(("status", "expected"), [(None, None), ("True", True), ("False", False)])
def test_entry_reads_creation_and_alert_resolved(status: str | None, expected: bool | None) -> None:
    entry = entry_from_object(incident("a", resolved=status), confirmed=False)
    assert entry is not None
    assert entry.created == T0
    assert entry.alert_resolved is expected
    assert (entry.namespace, entry.name, entry.target_hash) == ("shop", "a", "aaa")


def test_lookups_by_name_target_and_namespace_stay_consistent() -> None:
    index = AlertIncidentIndex()
    index.observe(incident("a", created=T0), confirmed=True)
    index.observe(incident("b", created=T0 + timedelta(minutes=1)), confirmed=True)
    index.observe(incident("c", target_hash="bbb"), confirmed=True)
    index.observe(incident("d", namespace="other"), confirmed=True)
    assert len(index) == 4
    assert {e.name for e in index.for_target("shop", "aaa")} == {"a", "b"}
    assert index.for_target("other", "aaa")[0].name == "d"
    assert sorted(index.created_in("shop")) == [T0, T0, T0 + timedelta(minutes=1)]

    # The same Incident seen with another target hash moves between buckets.
    index.observe(incident("b", target_hash="bbb"), confirmed=True)
    assert {e.name for e in index.for_target("shop", "aaa")} == {"a"}
    assert {e.name for e in index.for_target("shop", "bbb")} == {"b", "c"}

    for name in ("a", "b", "c"):
        index.remove("shop", name)
    index.remove("shop", "never-there")
    assert index.get("shop", "a") is None
    assert index.for_target("shop", "bbb") == []
    assert index.created_in("shop") == []
    assert len(index) == 1


def test_a_reservation_counts_until_the_created_object_replaces_it() -> None:
    index = AlertIncidentIndex()
    reserved = index.reserve(namespace="shop", name="a", target_hash="aaa", now=T0)
    assert reserved.reserved and not reserved.confirmed
    assert index.created_in("shop") == [T0]
    entry = index.observe(incident("a", created=T0 + timedelta(seconds=1)), confirmed=False)
    assert entry is not None and not entry.reserved
    assert index.created_in("shop") == [T0 + timedelta(seconds=1)]


def test_confirmed_entries_stay_confirmed_and_survive_pruning() -> None:
    index = AlertIncidentIndex()
    index.observe(incident("watched", created=T0 - timedelta(hours=5)), confirmed=True)
    index.observe(incident("watched", created=T0 - timedelta(hours=5), resolved="True"),
                  confirmed=False)  # fmt: skip
    index.observe(incident("own-old", created=T0 - timedelta(hours=5)), confirmed=False)
    index.observe(incident("own-new", created=T0 - timedelta(minutes=5)), confirmed=False)

    watched = index.get("shop", "watched")
    assert watched is not None and watched.confirmed and watched.alert_resolved is True
    assert index.prune(older_than=T0 - timedelta(hours=1)) == 1
    assert {e.name for e in index} == {"watched", "own-new"}
