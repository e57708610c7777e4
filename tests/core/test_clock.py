from datetime import timedelta

import trio

from vvtv.core.clock import TrioClock, utc


async def test_trio_clock_follows_trio_time(autojump_clock: trio.testing.MockClock) -> None:
    clock = TrioClock(epoch=utc(2026, 3, 1, 12))
    assert clock.now() == utc(2026, 3, 1, 12)
    await trio.sleep(90)
    assert clock.now() == utc(2026, 3, 1, 12, 1, 30)


async def test_sleep_until_wakes_at_the_wall_time(autojump_clock: trio.testing.MockClock) -> None:
    clock = TrioClock(epoch=utc(2026, 3, 1, 12))
    target = utc(2026, 3, 2, 3)
    await clock.sleep_until(target)
    assert clock.now() - target < timedelta(milliseconds=1)
