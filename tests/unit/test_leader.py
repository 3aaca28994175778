"""We test these aspects: leader election on a Lease, the pure part (kubemedic.domain.leader).

- timings must satisfy lease duration > renew deadline > retry period > 0, and a wrong set is
  refused with a message that names the rule and the values given;
- the next move: Create without a Lease, Renew our own, Acquire a free or released one, Wait
  while another holder's lease is live, Acquire once it expired; expiry is measured from when
  *we observed* the record on our clock, never from the holder's ``renewTime``;
- the Lease spec written for each move: renewing keeps ``acquireTime`` and the transition
  count, acquiring counts a transition, creating starts at zero; times are metav1.MicroTime;
- the released spec lets a standby take over at once, and keeps the transition count;
- a leader stops acting once its last successful renewal is older than the renew deadline.
"""

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from kubemedic.domain.leader import (
    LeaderTimings,
    LeaseRecord,
    Move,
    lease_spec,
    micro_time,
    next_move,
    precedes,
    released_spec,
    still_leading,
)

NOW = datetime(2025, 3, 14, 10, 30, 0, 123456, tzinfo=UTC)
NOW_MICRO = "2025-03-14T10:30:00.123456Z"
ME = "kubemedic-7d9f8c6b5-x2k4p"
OTHER = "kubemedic-7d9f8c6b5-q8w7e"
MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
TIMINGS = LeaderTimings()


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def lease(
    holder: str | None,
    *,
    duration: int | None = 15,
    acquire: str | None = "2025-03-14T09:00:00.000000Z",
    renew: str | None = "2025-03-14T10:29:58.000000Z",
    transitions: int | None = 4,
) -> dict[str, Any]:
    """A coordination.k8s.io/v1 Lease as the API server returns it (unset fields omitted)."""
    spec = {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "acquireTime": acquire,
        "renewTime": renew,
        "leaseTransitions": transitions,
    }
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "kubemedic-leader",
            "namespace": "kubemedic",
            "resourceVersion": "812",
        },
        "spec": {k: v for k, v in spec.items() if v is not None},
    }


def record(holder: str | None, **kwargs: Any) -> LeaseRecord:
    parsed = LeaseRecord.from_lease(lease(holder, **kwargs))
    assert parsed is not None
    return parsed


# --- timings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lease_duration", "renew_deadline", "retry_period"),
    [(15, 10, 2), (60, 40, 5), (3, 2, 1), (1, 0.5, 0.1)],
)
def test_valid_timings(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    timings = LeaderTimings(seconds(lease_duration), seconds(renew_deadline), seconds(retry_period))

    assert timings.lease_duration > timings.renew_deadline > timings.retry_period


INVALID_TIMINGS: list[tuple[str, float, float, float, str]] = [
    ("renew deadline equals lease duration", 10, 10, 2, "got 10s, 10s, 2s"),
    ("renew deadline above lease duration", 10, 15, 2, "got 10s, 15s, 2s"),
    ("retry period equals renew deadline", 15, 10, 10, "got 15s, 10s, 10s"),
    ("retry period above renew deadline", 15, 10, 12, "got 15s, 10s, 12s"),
    ("zero retry period", 15, 10, 0, "got 15s, 10s, 0s"),
    ("negative retry period", 15, 10, -1, "got 15s, 10s, -1s"),
    ("fractions are shown as given", 2, 1.5, 1.5, "got 2s, 1.5s, 1.5s"),
]


@pytest.mark.parametrize(
    ("lease_duration", "renew_deadline", "retry_period", "values"),
    [pytest.param(a, b, c, v, id=case) for case, a, b, c, v in INVALID_TIMINGS],
)
def test_invalid_timings_are_refused_with_the_rule_and_the_values(
    lease_duration: float, renew_deadline: float, retry_period: float, values: str
) -> None:
    with pytest.raises(ValueError, match="leaseDuration > renewDeadline > retryPeriod > 0") as info:
        LeaderTimings(seconds(lease_duration), seconds(renew_deadline), seconds(retry_period))

    assert str(info.value).endswith(values)


def test_default_timings_are_client_gos() -> None:
    assert (TIMINGS.lease_duration, TIMINGS.renew_deadline, TIMINGS.retry_period) == (
        seconds(15),
        seconds(10),
        seconds(2),
    )


# --- reading a Lease -------------------------------------------------------------------------


def test_a_lease_is_read_into_a_record() -> None:
    assert record(OTHER) == LeaseRecord(
        holder=OTHER,
        lease_duration_seconds=15,
        acquire_time="2025-03-14T09:00:00.000000Z",
        renew_time="2025-03-14T10:29:58.000000Z",
        transitions=4,
    )


def test_a_fresh_lease_without_fields_reads_as_free() -> None:
    assert record(None, duration=None, acquire=None, renew=None, transitions=None) == LeaseRecord(
        holder="", lease_duration_seconds=0, acquire_time=None, renew_time=None, transitions=0
    )


@pytest.mark.parametrize("missing", [None, {}])
def test_no_lease_reads_as_none(missing: dict[str, Any] | None) -> None:
    assert LeaseRecord.from_lease(missing) is None


# --- the next move ---------------------------------------------------------------------------

MOVES: list[tuple[str, LeaseRecord | None, datetime | None, Move]] = [
    ("no lease yet", None, None, Move.CREATE),
    ("our own lease", record(ME), NOW - seconds(1), Move.RENEW),
    ("our own lease, long unrenewed", record(ME), NOW - seconds(3600), Move.RENEW),
    ("our own lease, never observed", record(ME), None, Move.RENEW),
    ("free lease", record(""), NOW - seconds(1), Move.ACQUIRE),
    ("released lease", record("", duration=1), NOW, Move.ACQUIRE),
    ("other holder, just observed", record(OTHER), NOW, Move.WAIT),
    ("other holder, observed 14.9 s ago", record(OTHER), NOW - seconds(14.9), Move.WAIT),
    ("other holder, observed exactly 15 s ago", record(OTHER), NOW - seconds(15), Move.ACQUIRE),
    ("other holder, observed a minute ago", record(OTHER), NOW - seconds(60), Move.ACQUIRE),
    ("other holder, never observed", record(OTHER), None, Move.ACQUIRE),
    ("other holder, longer lease", record(OTHER, duration=60), NOW - seconds(30), Move.WAIT),
    ("other holder, zero duration counts as 1 s", record(OTHER, duration=0), NOW, Move.WAIT),
    (
        "other holder, zero duration expires after 1 s",
        record(OTHER, duration=0),
        NOW - seconds(1),
        Move.ACQUIRE,
    ),
    # The holder's renewTime is on *its* clock: a skewed clock must not decide.
    (
        "renewTime far in the past but observed just now",
        record(OTHER, renew="2025-03-14T08:00:00.000000Z"),
        NOW - seconds(2),
        Move.WAIT,
    ),
    (
        "renewTime in the future but observed long ago",
        record(OTHER, renew="2025-03-14T11:00:00.000000Z"),
        NOW - seconds(20),
        Move.ACQUIRE,
    ),
]


@pytest.mark.parametrize(
    ("current", "observed_at", "expected"),
    [pytest.param(r, o, m, id=case) for case, r, o, m in MOVES],
)
def test_next_move(
    current: LeaseRecord | None, observed_at: datetime | None, expected: Move
) -> None:
    assert next_move(current, identity=ME, observed_at=observed_at, now=NOW) is expected


# --- the spec to write -----------------------------------------------------------------------


def test_renewing_keeps_acquire_time_and_transitions() -> None:
    spec = lease_spec(record(ME), identity=ME, timings=TIMINGS, now=NOW, move=Move.RENEW)

    assert spec == {
        "holderIdentity": ME,
        "leaseDurationSeconds": 15,
        "acquireTime": "2025-03-14T09:00:00.000000Z",
        "renewTime": NOW_MICRO,
        "leaseTransitions": 4,
    }


def test_renewing_a_lease_without_acquire_time_sets_it() -> None:
    spec = lease_spec(
        record(ME, acquire=None), identity=ME, timings=TIMINGS, now=NOW, move=Move.RENEW
    )

    assert spec["acquireTime"] == NOW_MICRO


@pytest.mark.parametrize(
    "current",
    [record(OTHER), record(""), record("", duration=1)],
    ids=["expired", "free", "released"],
)
def test_acquiring_counts_a_transition(current: LeaseRecord) -> None:
    spec = lease_spec(current, identity=ME, timings=TIMINGS, now=NOW, move=Move.ACQUIRE)

    assert spec == {
        "holderIdentity": ME,
        "leaseDurationSeconds": 15,
        "acquireTime": NOW_MICRO,
        "renewTime": NOW_MICRO,
        "leaseTransitions": 5,
    }


def test_creating_starts_at_zero_transitions() -> None:
    spec = lease_spec(None, identity=ME, timings=TIMINGS, now=NOW, move=Move.CREATE)

    assert spec == {
        "holderIdentity": ME,
        "leaseDurationSeconds": 15,
        "acquireTime": NOW_MICRO,
        "renewTime": NOW_MICRO,
        "leaseTransitions": 0,
    }


def test_the_lease_duration_written_is_ours() -> None:
    timings = LeaderTimings(seconds(60), seconds(40), seconds(5))

    for move, current in ((Move.RENEW, record(ME)), (Move.ACQUIRE, record(OTHER))):
        spec = lease_spec(current, identity=ME, timings=timings, now=NOW, move=move)
        assert spec["leaseDurationSeconds"] == 60


def test_a_written_lease_reads_back_as_ours() -> None:
    spec = lease_spec(record(OTHER), identity=ME, timings=TIMINGS, now=NOW, move=Move.ACQUIRE)
    written = LeaseRecord.from_lease({"spec": spec})

    assert next_move(written, identity=ME, observed_at=NOW, now=NOW) is Move.RENEW
    assert next_move(written, identity=OTHER, observed_at=NOW, now=NOW + seconds(14)) is Move.WAIT


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (NOW, NOW_MICRO),
        (datetime(2025, 3, 14, 10, 30, tzinfo=UTC), "2025-03-14T10:30:00.000000Z"),
        (datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2025-12-31T23:59:59.999999Z"),
    ],
)
def test_micro_time_format(moment: datetime, expected: str) -> None:
    assert micro_time(moment) == expected
    assert MICRO_TIME.match(micro_time(moment))


def test_micro_time_of_a_non_utc_moment_is_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))

    assert micro_time(NOW.astimezone(berlin)) == NOW_MICRO


# --- release ---------------------------------------------------------------------------------


def test_release_empties_the_holder_and_keeps_transitions() -> None:
    assert released_spec(record(ME), now=NOW) == {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": NOW_MICRO,
        "renewTime": NOW_MICRO,
        "leaseTransitions": 4,
    }


def test_a_standby_takes_a_released_lease_at_once() -> None:
    released = LeaseRecord.from_lease({"spec": released_spec(record(ME), now=NOW)})

    move = next_move(released, identity=OTHER, observed_at=NOW, now=NOW)
    spec = lease_spec(released, identity=OTHER, timings=TIMINGS, now=NOW, move=move)

    assert move is Move.ACQUIRE
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == (OTHER, 5)


# --- still leading ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_renewed", "leading"),
    [
        (None, False),
        (NOW, True),
        (NOW - seconds(2), True),
        (NOW - seconds(9.999), True),
        (NOW - seconds(10), False),
        (NOW - seconds(14), False),  # the lease has not expired yet, but we must be quiet
    ],
)
def test_a_leader_acts_only_within_the_renew_deadline(
    last_renewed: datetime | None, leading: bool
) -> None:
    assert still_leading(last_renewed=last_renewed, now=NOW, timings=TIMINGS) is leading


# -- ordering watch events without comparing resourceVersions -------------------------------


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # the same term: a later renewal
        ({"renew": "2025-03-14T10:29:58.000000Z"}, {"renew": "2025-03-14T10:30:00.000001Z"}),
        # a new term wins even if its holder's clock is behind
        (
            {"renew": "2025-03-14T10:30:00.000000Z", "transitions": 4},
            {"renew": "2025-03-14T10:29:00.000000Z", "transitions": 5},
        ),
    ],
)
def test_a_stale_watch_event_precedes_what_was_observed(
    older: dict[str, Any], newer: dict[str, Any]
) -> None:
    assert precedes(record(ME, **older), record(ME, **newer))
    assert not precedes(record(ME, **newer), record(ME, **older))


def test_records_that_cannot_be_ordered_are_not_called_stale() -> None:
    assert not precedes(record(ME), None)
    assert not precedes(record(ME), record(ME))
    assert not precedes(record(ME, renew=None), record(ME))
    assert not precedes(record(ME, renew="not a time"), record(ME))
    # NB: resourceVersions play no part: "9" vs "10" would have been misordered as text.
    assert not precedes(record(OTHER, transitions=5), record(ME, transitions=4))
