"""Wait for a condition with a timeout and a failure message that says what was seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold in time; the message shows the last observation."""


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.25,
    what: str,
    describe: Callable[[], object] | None = None,
) -> T:
    """Call ``probe`` until it returns a truthy value and return that value.

    On timeout, fail with ``what`` and, if given, ``describe()`` — the state that was
    observed last — so a failing test says why, not just that it waited.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
        except Exception as exc:  # noqa: BLE001 - transient API errors are retried
            last_error, value = exc, None
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = describe() if describe is not None else None
            detail = f"\nlast observed: {seen}" if seen is not None else ""
            if last_error is not None:
                detail += f"\nlast error: {last_error!r}"
            msg = f"timed out after {timeout:.0f}s waiting for {what}{detail}"
            raise WaitTimeout(msg)
        time.sleep(interval)
