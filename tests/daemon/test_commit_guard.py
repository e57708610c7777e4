"""The commit window against hostile media hosts: a refused item loses only itself, a reserve
takes its slot, and nothing of it reaches what the channel prepared.

Real committer, real loopback hosts, real ffmpeg for the reserve that airs instead.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import trio
import trio.testing

from actors.committer import Committer
from actors.daemon import boot
from tests.daemon.harness import commit_plan, make_settings
from tests.support.hostile import hls_playlist, make_secret_ts, mean_rgb
from tests.support.loopback import Reply, drip, start_loopback
from vvtv.core import offload
from vvtv.core.model import PlanState, SlotType


def dropped_reasons(ch, plan_id: str) -> list[str]:
    return [
        e.reason_code
        for e in ch.store.query_audit(event_type="plan_transition", limit=None)
        if e.plan_id == plan_id and e.details.get("to") == "DROPPED"
    ]


def red(rgb: tuple[int, int, int]) -> bool:
    r, g, b = rgb
    return r > 200 and g < 40 and b < 40


async def test_a_playlist_posing_as_mp4_is_refused_and_its_private_segment_never_airs(
    tmp_path: Path, slate_template: Path, media: dict[str, bytes], nursery: trio.Nursery
) -> None:
    # The reproduction: a 138-byte playlist served as x.mp4 whose only segment is a
    # private file on this machine. It was prepared, passed QA and would have aired.
    secret = make_secret_ts(tmp_path / "private" / "secret.ts")
    web = await start_loopback(nursery)
    playlist = hls_playlist(secret.as_uri())
    main_url = web.serve("/x.mp4", playlist, content_type="video/mp4")
    spare_url = web.serve("/grid.mp4", media["grid"], content_type="video/mp4")
    settings = make_settings(tmp_path / "channel", slate_template)
    with offload.inline():
        ch = await boot(settings)
        try:
            soon = ch.clock.now() + timedelta(hours=1)
            main = commit_plan(main_url, "X", soon, PlanState.SCHEDULED, SlotType.MAIN)
            spare = commit_plan(spare_url, "Grid", soon, PlanState.RESERVED, SlotType.RESERVE)
            ch.store.insert_plans([main, spare])
            outcome = await Committer(ch).run_window("trace-playlist")

            assert (outcome.selected, outcome.queued, outcome.fell_back) == (1, 1, 1)
            assert ch.store.require_plan(main.plan_id).state is PlanState.DROPPED
            assert dropped_reasons(ch, main.plan_id) == ["MEDIA_FORMAT_REFUSED"]
            reserve = ch.store.require_plan(spare.plan_id)
            assert (reserve.state, reserve.start_at) == (PlanState.COMMITTED, main.start_at)
            assert ch.store.assets_for_plan(main.plan_id) == []
            # Nothing the channel prepared shows the private file's (red) frames.
            prepared = [d for d in settings.hls_dir.iterdir() if d.name != "slate"]
            assert prepared and not any(red(mean_rgb(d / "index.m3u8")) for d in prepared)
            assert not list((settings.media_dir / "incoming").iterdir())
        finally:
            ch.store.close()


async def test_a_drip_host_cannot_hold_the_commit_window(
    tmp_path: Path,
    slate_template: Path,
    media: dict[str, bytes],
    nursery: trio.Nursery,
    mock_clock: trio.testing.MockClock,
) -> None:
    # One byte every 2 s: under the read timeout for ever. The download is cut once it
    # falls behind the minimum rate after the grace (settings), is not retried, and the
    # reserve of the hour takes the slot. Time advances only while the fetch waits.
    web = await start_loopback(nursery)
    main_url = web.serve("/drip.mp4", Reply(body=drip(b"\x00", times=10**6, every=2.0)))
    spare_url = web.serve("/grid.mp4", media["grid"], content_type="video/mp4")
    settings = make_settings(
        tmp_path,
        slate_template,
        VVTV_DOWNLOAD_MIN_RATE_KB_S="64",
        VVTV_DOWNLOAD_GRACE_SECS="30",
    )
    with offload.inline():
        ch = await boot(settings)
        try:
            soon = ch.clock.now() + timedelta(hours=1)
            main = commit_plan(main_url, "Drip", soon, PlanState.SCHEDULED, SlotType.MAIN)
            spare = commit_plan(spare_url, "Grid", soon, PlanState.RESERVED, SlotType.RESERVE)
            ch.store.insert_plans([main, spare])

            def main_dropped() -> bool:
                return ch.store.require_plan(main.plan_id).state is PlanState.DROPPED

            outcomes = []

            async def window() -> None:
                outcomes.append(await Committer(ch).run_window("trace-drip"))

            started = trio.current_time()
            async with trio.open_nursery() as inner:
                inner.start_soon(window)
                while not main_dropped():
                    await trio.testing.wait_all_tasks_blocked(cushion=0.01)
                    if main_dropped():
                        break
                    ahead = trio.lowlevel.current_statistics().seconds_to_next_deadline
                    mock_clock.jump(max(ahead, 0.0))
                held = trio.current_time() - started

            assert held < 40, f"the drip held the window for {held:.0f} s"
            (outcome,) = outcomes
            assert (outcome.selected, outcome.queued, outcome.fell_back) == (1, 1, 1)
            assert dropped_reasons(ch, main.plan_id) == ["FETCH_TOO_SLOW"]
            assert web.hits("/drip.mp4") == 1  # not retried: it would be as slow again
            assert ch.store.require_plan(spare.plan_id).state is PlanState.COMMITTED
        finally:
            ch.store.close()
