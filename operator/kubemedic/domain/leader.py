"""Leader election on a coordination.k8s.io/v1 Lease, the pure part (client-go's semantics).

* A candidate may take the Lease when it has no holder, or when the holder has not renewed
  it for ``leaseDurationSeconds`` — measured on *our* clock from the moment *we observed*
  the last change of the Lease record, never from ``renewTime`` (clocks of two machines
  disagree; client-go does the same).
* The holder renews every ``retry_period``. A leader that has not renewed successfully
  within ``renew_deadline`` (< lease duration) stops acting at once: it cannot know whether
  another replica will take over after the lease duration, so it must be quiet before then.
* Writes carry the Lease's ``resourceVersion``: of two candidates racing, exactly one wins.
* On shutdown the holder releases the Lease (empty holder, 1 s duration) so a standby takes
  over at once instead of waiting for expiry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

MICRO_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True)
class LeaderTimings:
    """lease_duration > renew_deadline > retry_period, as client-go requires."""

    lease_duration: timedelta = timedelta(seconds=15)
    renew_deadline: timedelta = timedelta(seconds=10)
    retry_period: timedelta = timedelta(seconds=2)

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > timedelta(0):
            msg = (
                "leader election timings must satisfy leaseDuration > renewDeadline > retryPeriod > 0, "
                f"got {self.lease_duration.total_seconds():g}s, {self.renew_deadline.total_seconds():g}s, "
                f"{self.retry_period.total_seconds():g}s"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class LeaseRecord:
    """The fields of a Lease's spec that election uses."""

    holder: str
    lease_duration_seconds: int
    acquire_time: str | None
    renew_time: str | None
    transitions: int

    @classmethod
    def from_lease(cls, lease: dict[str, Any] | None) -> LeaseRecord | None:
        if not lease:
            return None
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            transitions=int(spec.get("leaseTransitions") or 0),
        )


class Move(StrEnum):
    """What a candidate should do now."""

    CREATE = "Create"  # no Lease yet
    ACQUIRE = "Acquire"  # free or expired: take it (a transition)
    RENEW = "Renew"  # ours: renew it
    WAIT = "Wait"  # someone else holds a live lease


def next_move(
    record: LeaseRecord | None, *, identity: str, observed_at: datetime | None, now: datetime
) -> Move:
    """Decide from the Lease as last read, and when we saw it change."""
    if record is None:
        return Move.CREATE
    if record.holder == identity:
        return Move.RENEW
    if not record.holder:
        return Move.ACQUIRE
    duration = timedelta(seconds=max(record.lease_duration_seconds, 1))
    if observed_at is None or now - observed_at >= duration:
        return Move.ACQUIRE
    return Move.WAIT


def micro_time(moment: datetime) -> str:
    """A metav1.MicroTime string (UTC; a naive moment is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(MICRO_TIME_FORMAT)


def lease_spec(
    record: LeaseRecord | None, *, identity: str, timings: LeaderTimings, now: datetime, move: Move
) -> dict[str, Any]:
    """The spec to write for ``move`` (CREATE, ACQUIRE or RENEW)."""
    stamp = micro_time(now)
    if move is Move.RENEW and record is not None:
        return {
            "holderIdentity": identity,
            "leaseDurationSeconds": int(timings.lease_duration.total_seconds()),
            "acquireTime": record.acquire_time or stamp,
            "renewTime": stamp,
            "leaseTransitions": record.transitions,
        }
    transitions = 0 if record is None else record.transitions + 1
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": int(timings.lease_duration.total_seconds()),
        "acquireTime": stamp,
        "renewTime": stamp,
        "leaseTransitions": transitions,
    }


def released_spec(record: LeaseRecord, *, now: datetime) -> dict[str, Any]:
    """What the holder writes on shutdown so a standby can take over at once."""
    stamp = micro_time(now)
    return {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": stamp,
        "renewTime": stamp,
        "leaseTransitions": record.transitions,
    }


def precedes(record: LeaseRecord, than: LeaseRecord | None) -> bool:
    """Whether ``record`` is an earlier state of the Lease than ``than``.

    NB: resourceVersions are opaque strings (the API conventions forbid comparing them for
    order), so the order comes from the record itself: every change of holder increments
    ``leaseTransitions``, and within one holder's term ``renewTime`` only moves forward
    (one clock writes it). A record that cannot be ordered is not called earlier.
    """
    if than is None:
        return False
    if record.transitions != than.transitions:
        return record.transitions < than.transitions
    mine, theirs = _parse_micro_time(record.renew_time), _parse_micro_time(than.renew_time)
    return mine is not None and theirs is not None and mine < theirs


def _parse_micro_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def still_leading(*, last_renewed: datetime | None, now: datetime, timings: LeaderTimings) -> bool:
    """A leader acts only while its last successful renewal is within the renew deadline."""
    return last_renewed is not None and now - last_renewed < timings.renew_deadline
