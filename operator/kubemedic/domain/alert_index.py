"""The alert Incidents a replica knows of, for deduplication, cooldown and rate limits.

Why an in-process index rather than a request per alert: the cooldown, the rate limits and
the "is this a repeat?" question all ask about Incidents that already exist. Listing them by
label for every alert made each new alert cost a LIST and capped a burst at the API
server's list rate. Instead the service keeps this index up to date from the operator's own
watch of Incidents (every replica watches them anyway) plus the Incidents it creates itself,
and answers all three questions in memory.

Design decisions:

- **What an entry holds** is only what those decisions need: namespace, name, target hash,
  creation time and the ``AlertResolved`` condition's status — not the Incident.
- **Own creates count at once** (:meth:`AlertIncidentIndex.reserve` before the create, then
  :meth:`AlertIncidentIndex.observe` with the object the API server returned), so a burst of
  alerts about one target within one replica opens one Incident: checking and reserving
  happen in one synchronous step, which nothing on the event loop can interleave.
- **Entries the watch has confirmed stay until the watch says the Incident is gone**;
  reservations and creates in namespaces outside the watch are forgotten after
  :meth:`AlertIncidentIndex.prune`'s horizon (by then the cooldown and the rate-limit window
  are over, and creating again is still idempotent: the name is fixed).

Pure: no I/O, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from kubemedic.domain.alert_mapping import SOURCE_ALERT, SOURCE_LABEL, TARGET_HASH_LABEL
from kubemedic.models.conditions import ConditionType

_ALERT_RESOLVED: Final = ConditionType.ALERT_RESOLVED.value

Key = tuple[str, str]


@dataclass(frozen=True)
class IndexedIncident:
    """What the intake needs to know about one alert Incident."""

    namespace: str
    name: str
    target_hash: str
    created: datetime
    #: ``AlertResolved``'s status: ``True``, ``False`` or ``None`` (no condition yet).
    alert_resolved: bool | None = None
    #: Seen in a list or watch (else only reserved or created by this replica).
    confirmed: bool = False
    #: Reserved for a create still in flight (not yet answered by the API server).
    reserved: bool = False


def entry_from_object(obj: Mapping[str, Any], *, confirmed: bool) -> IndexedIncident | None:
    """The index entry for an Incident as the API server returns it; ``None`` if it is
    not an alert Incident (no ``kubemedic.dev/source=alert`` or target-hash label)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    labels = metadata.get("labels")
    if not isinstance(labels, Mapping) or labels.get(SOURCE_LABEL) != SOURCE_ALERT:
        return None
    target_hash = labels.get(TARGET_HASH_LABEL)
    namespace, name = metadata.get("namespace"), metadata.get("name")
    if not (isinstance(target_hash, str) and isinstance(namespace, str) and isinstance(name, str)):
        return None
    return IndexedIncident(
        namespace=namespace,
        name=name,
        target_hash=target_hash,
        created=_timestamp(metadata.get("creationTimestamp")),
        alert_resolved=_alert_resolved(obj.get("status")),
        confirmed=confirmed,
    )


def _timestamp(raw: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        # No timestamp (never from the API server): the far past would let a burst through;
        # a reservation carries its own time, so this is only a malformed object.
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _alert_resolved(status: object) -> bool | None:
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    for condition in conditions if isinstance(conditions, list) else []:
        if isinstance(condition, Mapping) and condition.get("type") == _ALERT_RESOLVED:
            return {"True": True, "False": False}.get(str(condition.get("status")))
    return None


class AlertIncidentIndex:
    """Alert Incidents by name, by target and by namespace."""

    def __init__(self) -> None:
        self._by_key: dict[Key, IndexedIncident] = {}
        self._by_target: dict[Key, dict[str, IndexedIncident]] = {}
        self._by_namespace: dict[str, dict[str, IndexedIncident]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[IndexedIncident]:
        return iter(list(self._by_key.values()))

    def get(self, namespace: str, name: str) -> IndexedIncident | None:
        return self._by_key.get((namespace, name))

    def for_target(self, namespace: str, target_hash: str) -> list[IndexedIncident]:
        """Incidents about one target (``namespace`` is where its Incidents live)."""
        return list(self._by_target.get((namespace, target_hash), {}).values())

    def created_in(self, namespace: str) -> list[datetime]:
        """Creation times of the alert Incidents in ``namespace``."""
        return [entry.created for entry in self._by_namespace.get(namespace, {}).values()]

    def put(self, entry: IndexedIncident) -> None:
        """Add or replace an entry (a confirmed entry is never downgraded to unconfirmed)."""
        key = (entry.namespace, entry.name)
        old = self._by_key.get(key)
        if old is not None:
            if old.confirmed and not entry.confirmed:
                entry = replace(entry, confirmed=True)
            if old.target_hash != entry.target_hash:
                self._unlink(old)
        self._by_key[key] = entry
        self._by_target.setdefault((entry.namespace, entry.target_hash), {})[entry.name] = entry
        self._by_namespace.setdefault(entry.namespace, {})[entry.name] = entry

    def observe(self, obj: Mapping[str, Any], *, confirmed: bool) -> IndexedIncident | None:
        """Record an Incident as the API server returned it (a list, a watch event, a write)."""
        entry = entry_from_object(obj, confirmed=confirmed)
        if entry is not None:
            self.put(entry)
        return entry

    def reserve(
        self, *, namespace: str, name: str, target_hash: str, now: datetime
    ) -> IndexedIncident:
        """Count an Incident about to be created (undo with :meth:`remove` if it is not)."""
        entry = IndexedIncident(
            namespace=namespace, name=name, target_hash=target_hash, created=now, reserved=True
        )
        self.put(entry)
        return entry

    def remove(self, namespace: str, name: str) -> None:
        entry = self._by_key.pop((namespace, name), None)
        if entry is not None:
            self._unlink(entry)

    def prune(self, *, older_than: datetime) -> int:
        """Forget unconfirmed entries created before ``older_than``; how many were dropped."""
        stale = [e for e in self._by_key.values() if not e.confirmed and e.created < older_than]
        for entry in stale:
            self.remove(entry.namespace, entry.name)
        return len(stale)

    def _unlink(self, entry: IndexedIncident) -> None:
        target_key = (entry.namespace, entry.target_hash)
        by_target = self._by_target.get(target_key, {})
        by_target.pop(entry.name, None)
        if not by_target:
            self._by_target.pop(target_key, None)
        by_namespace = self._by_namespace.get(entry.namespace, {})
        by_namespace.pop(entry.name, None)
        if not by_namespace:
            self._by_namespace.pop(entry.namespace, None)
