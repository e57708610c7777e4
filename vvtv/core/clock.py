"""One source of "now" for the whole channel.

Actors and domain code never call ``datetime.now()`` or ``time.time()``: they ask a
``Clock``. ``TrioClock`` follows Trio's clock, so under ``trio.testing.MockClock``
with autojump a simulated week runs in seconds and every schedule stays exact.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

import trio


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep_until(self, when: datetime) -> None: ...


class TrioClock:
    """Wall time anchored once, then advanced by Trio's (possibly mocked) clock.

    ``epoch`` is the wall time that corresponds to the Trio time at construction;
    without it the real wall clock is read once, at start-up.
    """

    def __init__(self, epoch: datetime | None = None) -> None:
        if epoch is None:
            epoch = datetime.fromtimestamp(time.time(), UTC)
        if epoch.tzinfo is None:
            raise ValueError("TrioClock epoch must be timezone-aware")
        self._epoch = epoch.astimezone(UTC)
        self._t0 = trio.current_time()

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=trio.current_time() - self._t0)

    def trio_deadline(self, when: datetime) -> float:
        """The Trio deadline that corresponds to a wall time."""
        return self._t0 + (when - self._epoch).total_seconds()

    async def sleep_until(self, when: datetime) -> None:
        await trio.sleep_until(self.trio_deadline(when))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A UTC datetime, for tests and fixtures."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
