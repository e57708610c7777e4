"""A real channel in the test's own Trio run: real store, real actors, real HTTP.

Media is real too: the slate is made once per session with ffmpeg and copied into
each test's runtime; "programmes" are assets whose playlists loop the slate's real
segments for as long as a test needs, so nothing here is a fake of our own code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import trio

from actors.context import ChannelContext
from actors.daemon import Daemon, boot, run
from tests.support.cards import folder_source
from tests.support.channel import channel_settings
from vvtv.core import offload
from vvtv.core.clock import TrioClock
from vvtv.core.model import AssetItem, PlanItem, PlanState, QAReport, QAStatus, SlotType, new_id
from vvtv.core.settings import Settings
from vvtv.media.playlist import Segment
from vvtv.plan.grid import floor_hour

# The sample card, with what the whole-channel tests rely on: 10-minute programmes, the
# loopback hosts allowed, "forbidden" a blocked keyword, "calm" the one preferred mood.
# The test's loopback servers stand for hosts on the internet: their range is allowed
# explicitly (by default feeds and media never reach loopback or private addresses).
CARD: dict[str, Any] = {
    "editorial_profile": {"target_avg_duration_sec": 600},
    "search_policy": {
        "allowlist_domains": ["localhost", "127.0.0.1"],
        "blocked_keywords": ["forbidden"],
        "allow_private_addresses": ["127.0.0.0/8"],
    },
    "music_policy": {"preferred_moods": ["calm"]},
    "sources": [folder_source("library", "library")],
}


def make_settings(
    root: Path, slate_template: Path, card: dict[str, Any] | None = None, **env: str
) -> Settings:
    """Settings for a channel rooted at ``root`` (runtime under ``root/runtime``), its card
    ``CARD`` unless given."""
    return channel_settings(root, slate_template, card=CARD if card is None else card, **env)


def looped_asset(
    ch: ChannelContext, asset_id: str, seconds: float, *, title: str = ""
) -> AssetItem:
    """A QA-passed asset on disk whose playlist loops the slate's real segments."""
    slate = ch.settings.hls_dir / "slate"
    segments = [Segment(p.name, 6.0) for p in sorted(slate.glob("seg_*.ts"))]
    directory = ch.settings.hls_dir / asset_id
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXT-X-PLAYLIST-TYPE:VOD"]
    total, i = 0.0, 0
    names = set()
    while total < seconds - 1e-6:
        seg = segments[i % len(segments)]
        length = min(seg.duration_sec, seconds - total)
        lines += [f"#EXTINF:{length:.3f},", seg.path_name]
        names.add(seg.path_name)
        total += length
        i += 1
    lines.append("#EXT-X-ENDLIST")
    (directory / "index.m3u8").write_text("\n".join(lines) + "\n")
    for name in names:
        target = directory / name
        if not target.exists():
            target.hardlink_to(slate / name)
    asset = AssetItem(
        asset_id=asset_id,
        plan_id="",
        source_url=f"test:{asset_id}",
        checksum=asset_id,
        local_path=str(directory),
        created_at=ch.clock.now(),
        duration_sec=round(total, 3),
        qa_status=QAStatus.PASSED,
        qa=QAReport(passed=True, height=720),
        segments_dir=str(directory),
        segment_count=i,
        emergency_eligible=True,
    )
    ch.store.save_asset(asset)
    return asset


@asynccontextmanager
async def running_channel(
    settings: Settings, *, epoch: datetime | None = None, **boot_args: object
) -> AsyncIterator[Daemon]:
    """Boot and run a channel in this Trio run; stop it gracefully on exit.

    With an ``epoch`` the channel runs on Trio's (mock) clock from that wall time, and
    offloaded work runs inline so the mock clock never jumps past a worker thread.
    """
    clock = TrioClock(epoch) if epoch is not None else None
    with offload.inline() if epoch is not None else nullcontext():
        ch = await boot(settings, clock=clock, **boot_args)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            daemon: Daemon = await nursery.start(
                lambda task_status: run(ch, signals=False, task_status=task_status)
            )
            try:
                yield daemon
            finally:
                daemon.runtime.shutdown()


def commit_plan(
    url: str,
    title: str,
    start: datetime,
    state: PlanState = PlanState.SCHEDULED,
    slot: SlotType = SlotType.MAIN,
) -> PlanItem:
    """A 4-second plan for the commit window: scheduled at ``start``, or a reserve of its hour."""
    return PlanItem(
        plan_id=new_id("plan"),
        source_url=url,
        title=title,
        duration_sec=4.0,
        discovered_at=start - timedelta(hours=5),
        state=state,
        theme="calm",
        start_at=start if state is PlanState.SCHEDULED else None,
        slot_type=slot,
        hour_window=floor_hour(start),
    )
