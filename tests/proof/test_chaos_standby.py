"""Two daemons on one state database: exactly one is active; the standby takes over.

Both run in this Trio run under the autojump clock (the lock TTL passes in simulated
time), with the real actor tree, store and HTTP API. The first one "dies" without
releasing the scheduler lock, as a SIGKILL would leave it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import trio

from actors.daemon import LOCK_TTL_S, STANDBY_POLL_S, boot
from tests.proof.chaos_inprocess import STEP_S, Hosted, channel_settings
from tests.support.waiting import wait_until
from vvtv.core import offload
from vvtv.core.clock import TrioClock

EPOCH = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
COMMIT_INTERVAL_S = 30 * 60  # the OwnerCard default


async def test_the_second_daemon_waits_as_standby_and_takes_over_within_the_lock_ttl(
    tmp_path: Path, slate: Path, autojump_clock: trio.testing.MockClock
) -> None:
    with offload.inline():  # simulated time: no worker threads
        settings = channel_settings(tmp_path, slate)
        clock = TrioClock(EPOCH)
        first = await boot(settings, clock=clock)
        second = await boot(settings, clock=clock)
        async with trio.open_nursery() as nursery:
            a = Hosted(first).start(nursery)
            await a.leading.wait()
            b = Hosted(second).start(nursery)

            # Ten minutes side by side: only the first one leads.
            await trio.sleep(600)
            assert b.daemon is None and second.leadership.token is None
            assert second.api_url == "", "the standby serves the API"
            windows = first.store.count_audit(event_type="window_commit")
            assert windows >= 1
            # One scheduler ran the windows: each slot once, not once per daemon.
            slots = first.store.query_audit(event_type="window_commit", limit=None)
            assert len({e.details["slot"] for e in slots}) == len(slots) == windows
            assert first.store.count_audit(event_type="window_discovery") == 1
            assert first.leadership.token is not None

            lock = first.store.lock_info(first.leadership.name)
            assert lock is not None and lock.expires_at is not None
            a.kill()
            await wait_until(
                "the standby takes the lock",
                lambda: second.leadership.token is not None,
                within=LOCK_TTL_S + STANDBY_POLL_S,
                step=STEP_S,
            )
            assert second.clock.now() >= lock.expires_at, "the standby took a valid lock"
            await wait_until("the new leader is up", b.leading.is_set, within=60, step=STEP_S)
            assert second.leadership.token > 1, "the new leader's fencing token is not newer"

            # The new leader runs the channel: the next commit window happens under it.
            await trio.sleep(COMMIT_INTERVAL_S + 60)
            assert second.api_url
            assert second.store.count_audit(event_type="window_commit") > windows
            await b.stop()
            nursery.cancel_scope.cancel()
