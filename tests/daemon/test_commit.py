"""The commit window on real media: only what airs within the lead, reserves for failures,
and nothing the Buffer could not air reaches it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from actors.committer import Committer
from actors.daemon import boot
from tests.daemon.harness import commit_plan, running_channel
from tests.support.loopback import redirect, start_loopback
from vvtv.core.model import PlanState, QAStatus, SlotType
from vvtv.core.settings import Settings
from vvtv.media.port import FfmpegMedia
from vvtv.media.prepare import Prepared
from vvtv.ownercard.card import OwnerCard
from vvtv.store import open_store


async def test_failures_fall_back_to_reserves_of_the_same_hour_and_nothing_is_made_twice(
    settings: Settings, media: dict[str, bytes], nursery: trio.Nursery
) -> None:
    server = await start_loopback(nursery)
    good = server.serve("/bars.mp4", media["bars"])
    same_bytes = server.serve("/bars-mirror.mp4", media["bars"])
    silent = server.serve("/silent.mp4", media["silent"])
    reserve = server.serve("/grid.mp4", media["grid"])
    missing = server.url_for("/missing.mp4")
    # An allowlisted host redirecting to one that is not (127.0.0.2 is loopback too).
    server.serve("/moved.mp4", redirect(f"http://127.0.0.2:{server.port}/bars.mp4"))
    moved = server.url_for("/moved.mp4")

    ch = await boot(settings)
    now = ch.clock.now()
    soon = now + timedelta(hours=1)
    later = now + timedelta(hours=6)  # beyond the 4-hour commit lead
    main = commit_plan(good, "Bars", soon, PlanState.SCHEDULED, SlotType.MAIN)
    broken = commit_plan(
        missing, "Missing", soon + timedelta(seconds=4), PlanState.SCHEDULED, SlotType.MAIN
    )
    quiet = commit_plan(
        silent, "Silence", soon + timedelta(seconds=8), PlanState.SCHEDULED, SlotType.MAIN
    )
    mirror = commit_plan(
        same_bytes, "Mirror", soon + timedelta(seconds=12), PlanState.SCHEDULED, SlotType.MAIN
    )
    elsewhere = commit_plan(
        moved, "Moved", soon + timedelta(seconds=16), PlanState.SCHEDULED, SlotType.MAIN
    )
    spare = commit_plan(reserve, "Grid", soon, PlanState.RESERVED, SlotType.RESERVE)
    far = commit_plan(good + "?later", "Later", later, PlanState.SCHEDULED, SlotType.MAIN)
    ch.store.insert_plans([main, broken, quiet, mirror, elsewhere, spare, far])

    committer = Committer(ch)
    outcome = await committer.run_window("trace-test")

    state = {
        p.plan_id: ch.store.require_plan(p.plan_id)
        for p in (main, broken, quiet, mirror, elsewhere, spare, far)
    }
    assert state[main.plan_id].state is PlanState.COMMITTED
    # The 404 is dropped with its reason, and the hour's reserve takes its slot.
    assert state[broken.plan_id].state is PlanState.DROPPED
    assert state[spare.plan_id].state is PlanState.COMMITTED
    assert state[spare.plan_id].slot_type is SlotType.RESERVE
    assert state[spare.plan_id].start_at == broken.start_at
    # The silent clip fails QA, measured on the prepared file; no reserve is left for it.
    assert state[quiet.plan_id].state is PlanState.DROPPED
    # The same bytes from another URL are not prepared a second time.
    assert state[mirror.plan_id].state is PlanState.DROPPED
    # Outside the commit lead: untouched, nothing downloaded.
    assert state[far.plan_id].state is PlanState.SCHEDULED
    assert server.hits("/bars.mp4?later") == 0
    # A redirect off the allowlist is refused before it is followed.
    assert state[elsewhere.plan_id].state is PlanState.DROPPED
    assert (outcome.selected, outcome.queued, outcome.fell_back) == (5, 2, 1)

    reasons = {
        e.plan_id: e.reason_code
        for e in ch.store.query_audit(event_type="plan_transition", limit=None)
        if e.details.get("to") == "DROPPED"
    }
    assert reasons[broken.plan_id] == "FETCH_HTTP_404"
    assert reasons[quiet.plan_id] == "QA_REJECTED"
    assert reasons[mirror.plan_id] == "DUPLICATE_CHECKSUM"
    assert reasons[elsewhere.plan_id] == "FETCH_NOT_ALLOWED"
    rejected = [a for a in ch.store.assets_for_plan(quiet.plan_id)]
    assert rejected and rejected[0].qa_status is QAStatus.REJECTED
    assert any("silence" in r for r in rejected[0].qa.reasons)
    assert not Path(rejected[0].local_path).exists()  # a rejected asset leaves no segments

    # Running the window again commits nothing twice and fetches nothing again.
    hits = len(server.requests)
    again = await committer.run_window("trace-again")
    assert again.queued == 0 and len(server.requests) == hits
    # Fetched sources are removed once prepared; no partial downloads are left.
    assert not [p for p in (ch.settings.media_dir / "incoming").iterdir()]
    ch.store.close()


class ZeroLengthLastSegment(FfmpegMedia):
    """The real media layer, whose prepared playlist ends with a zero-length segment
    (``#EXTINF:0.000000,``), as an ffmpeg that cut off a last sliver of a frame writes it.
    Before the one parser, prepare and QA passed such an asset and the Buffer refused it."""

    async def prepare(
        self, source: Path, hls_root: Path, asset_id: str, card: OwnerCard
    ) -> Prepared:
        prepared = await super().prepare(source, hls_root, asset_id, card)
        lines = prepared.playlist.read_text().splitlines()
        last = max(i for i, line in enumerate(lines) if line.startswith("#EXTINF:"))
        lines[last] = "#EXTINF:0.000000,"
        prepared.playlist.write_text("\n".join(lines) + "\n")
        return prepared


async def test_an_asset_with_a_zero_length_segment_is_refused_at_qa_and_never_reaches_the_buffer(
    settings: Settings, media: dict[str, bytes], nursery: trio.Nursery
) -> None:
    server = await start_loopback(nursery)
    url = server.serve("/bars.mp4", media["bars"])
    plan = commit_plan(url, "Bars", datetime.now(UTC) + timedelta(hours=1))
    with open_store(settings.state_db) as store:
        store.insert_plans([plan])

    async with running_channel(settings, media=ZeroLengthLastSegment()) as daemon:
        ch = daemon.ch
        with trio.fail_after(60):  # the commit window runs at start-up, on real ffmpeg
            while not ch.store.query_audit(event_type="window_commit", limit=None):
                await trio.sleep(0.05)
        dropped = ch.store.require_plan(plan.plan_id)
        (asset,) = ch.store.assets_for_plan(plan.plan_id)
        buffer = daemon.runtime.node("buffer").cell.actor
        queued = ch.store.queue_after(datetime.now(UTC) - timedelta(days=1), include_skipped=True)
        transition = ch.store.query_audit(event_type="plan_transition", plan_id=plan.plan_id)

    assert server.hits("/bars.mp4") == 1
    assert dropped.state is PlanState.DROPPED
    assert [e.reason_code for e in transition if e.details.get("to") == "DROPPED"] == [
        "QA_REJECTED"
    ]
    # Refused with the reason the Buffer would have given, naming the playlist and the line.
    assert asset.qa_status is QAStatus.REJECTED
    (reason,) = [r for r in asset.qa.reasons if r.startswith("playlist refused")]
    assert "index.m3u8 line" in reason and "EXTINF duration '0.000000' is not > 0" in reason
    # The Buffer never heard of it: not queued, not loaded, not in the emergency pool.
    assert asset.asset_id not in {e.asset_id for e in queued}
    assert asset.asset_id not in buffer.segments
    assert asset.asset_id not in {a.asset_id for a in buffer.pool}
