"""A commit window whose main item's host stalls: the fetch times out after its retries,
the plan is dropped as FETCH_TIMEOUT, and a reserve of the same hour airs in its slot.

Real media, a real loopback host, the real committer. Time is a MockClock advanced by the
test only while the stalled fetch waits (to its next timer), so the read timeouts and
back-offs pass instantly while ffmpeg's own timeouts, later, run untouched.
"""

from __future__ import annotations

from datetime import timedelta

import trio
import trio.testing

from actors.committer import Committer
from actors.daemon import boot
from tests.daemon.harness import commit_plan
from tests.support.loopback import Reply, start_loopback
from vvtv.core import offload
from vvtv.core.model import PlanState, SlotType
from vvtv.core.settings import Settings


async def test_a_stalled_fetch_times_out_after_retries_and_a_reserve_of_the_hour_takes_the_slot(
    settings: Settings,
    media: dict[str, bytes],
    nursery: trio.Nursery,
    mock_clock: trio.testing.MockClock,
) -> None:
    server = await start_loopback(nursery)
    server.serve("/stall.mp4", Reply(200, media["grid"], stall_before_body=24 * 3600))
    stalled = server.url_for("/stall.mp4")
    spare_url = server.serve("/grid.mp4", media["grid"])

    with offload.inline():
        ch = await boot(settings)
        try:
            soon = ch.clock.now() + timedelta(hours=1)
            main = commit_plan(stalled, "Stalled", soon, PlanState.SCHEDULED, SlotType.MAIN)
            spare = commit_plan(spare_url, "Grid", soon, PlanState.RESERVED, SlotType.RESERVE)
            ch.store.insert_plans([main, spare])

            def main_dropped() -> bool:
                return ch.store.require_plan(main.plan_id).state is PlanState.DROPPED

            outcomes = []

            async def window() -> None:
                outcomes.append(await Committer(ch).run_window("trace-timeout"))

            async with trio.open_nursery() as inner:
                inner.start_soon(window)
                # Advance time only while the stalled fetch waits for its next timer.
                while not main_dropped():
                    await trio.testing.wait_all_tasks_blocked(cushion=0.01)
                    if main_dropped():
                        break
                    ahead = trio.lowlevel.current_statistics().seconds_to_next_deadline
                    mock_clock.jump(max(ahead, 0.0))

            (outcome,) = outcomes
            assert (outcome.selected, outcome.queued, outcome.fell_back) == (1, 1, 1)
            # It really tried again before giving up (1 attempt + retries).
            assert server.hits("/stall.mp4") >= 2
            assert ch.store.require_plan(main.plan_id).state is PlanState.DROPPED
            reserve = ch.store.require_plan(spare.plan_id)
            assert reserve.state is PlanState.COMMITTED
            assert reserve.slot_type is SlotType.RESERVE
            assert reserve.start_at == main.start_at
            dropped = [
                e
                for e in ch.store.query_audit(event_type="plan_transition", limit=None)
                if e.plan_id == main.plan_id and e.details.get("to") == "DROPPED"
            ]
            assert [e.reason_code for e in dropped] == ["FETCH_TIMEOUT"]
            assert ch.store.assets_for_plan(spare.plan_id)
            assert not list((ch.settings.media_dir / "incoming").iterdir())
        finally:
            ch.store.close()
