"""A commit window makes its items ready concurrently (``VVTV_PREPARE_CONCURRENCY``) and still
commits them in air order, once each, whatever finishes first, whatever crashes.

Real media throughout (ffmpeg prepares real clips from a folder source); the slow first item
is a 1080p clip that must be transcoded, the others conforming clips that are only remuxed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest
import trio

from actors.committer import Committer
from actors.daemon import boot
from tests.daemon.harness import commit_plan, make_settings
from tests.support.loopback import Reply, start_loopback
from tests.support.media import ClipCache
from tests.support.waiting import wait_until
from vvtv.core.clock import TrioClock
from vvtv.core.model import PlanItem, PlanState, QAReport
from vvtv.core.settings import Settings
from vvtv.media.port import FfmpegMedia
from vvtv.media.prepare import Prepared
from vvtv.ownercard.card import OwnerCard
from vvtv.store import open_store

REPO = Path(__file__).resolve().parents[2]


class CountingMedia(FfmpegMedia):
    """The real media layer, counting how many items are being made ready at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.finished: list[str] = []

    async def make_ready(
        self,
        source: Path,
        hls_root: Path,
        asset_id: str,
        card: OwnerCard,
        expected_duration: float | None,
    ) -> tuple[Prepared, QAReport]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            return await super().make_ready(source, hls_root, asset_id, card, expected_duration)
        finally:
            self.in_flight -= 1
            self.finished.append(asset_id)


def library_plans(
    root: Path, clip_cache: ClipCache, start: datetime, n_quick: int
) -> list[PlanItem]:
    """A slow 1080p item first in air order, then ``n_quick`` distinct conforming clips."""
    library = root / "library"
    slow = clip_cache.copy(library / "slow.mp4", seconds=10, size="1920x1080", tone_hz=220)
    paths = [slow] + [
        clip_cache.copy(library / f"quick{i}.mp4", seconds=4, tone_hz=300 + 50 * i)
        for i in range(n_quick)
    ]
    return [
        attrs.evolve(
            commit_plan(path.as_uri(), path.stem, start + timedelta(seconds=12 * i)),
            duration_sec=10.0 if i == 0 else 4.0,
        )
        for i, path in enumerate(paths)
    ]


def committed_in_order(settings_db: Path) -> list[str]:
    """Plan ids in the order of their COMMITTED transitions."""
    store = open_store(settings_db)
    try:
        return [
            e.plan_id or ""
            for e in store.query_audit(event_type="plan_transition", limit=None)
            if e.details.get("to") == "COMMITTED"
        ]
    finally:
        store.close()


@pytest.mark.parametrize("limit", [1, 2])
async def test_items_are_made_ready_side_by_side_up_to_the_limit_and_committed_in_air_order(
    tmp_path: Path, slate_template: Path, clip_cache: ClipCache, limit: int
) -> None:
    settings = make_settings(tmp_path, slate_template, VVTV_PREPARE_CONCURRENCY=str(limit))
    media = CountingMedia()
    ch = await boot(settings, media=media)
    plans = library_plans(tmp_path, clip_cache, ch.clock.now() + timedelta(hours=1), 3)
    ch.store.insert_plans(plans)

    outcome = await Committer(ch).run_window("trace-concurrent")

    assert (outcome.selected, outcome.queued, outcome.failed) == (4, 4, 0)
    assert media.most == limit  # never more at once than the setting allows
    if limit > 1:
        # The quick items were ready before the slow first one...
        slow_asset = ch.store.assets_for_plan(plans[0].plan_id)[0].asset_id
        assert media.finished.index(slow_asset) > 0
    # ...and every item is still committed in air order, once.
    assert committed_in_order(settings.state_db) == [p.plan_id for p in plans]
    ch.store.close()


async def test_the_same_bytes_twice_are_made_ready_once_by_the_earlier_slot_even_if_it_is_slower(
    settings: Settings, media: dict[str, bytes], nursery: trio.Nursery
) -> None:
    server = await start_loopback(nursery)
    # The earlier slot's host is slow; its mirror, later in air order, answers at once.
    slow = server.serve("/slow-bars.mp4", Reply(200, media["bars"], stall_before_body=1.5))
    fast = server.serve("/bars.mp4", media["bars"])
    other = server.serve("/grid.mp4", media["grid"])
    ch = await boot(attrs.evolve(settings, prepare_concurrency=3))
    soon = ch.clock.now() + timedelta(hours=1)
    first = commit_plan(slow, "Bars", soon)
    middle = commit_plan(other, "Grid", soon + timedelta(seconds=4))
    mirror = commit_plan(fast, "Bars again", soon + timedelta(seconds=8))
    ch.store.insert_plans([first, middle, mirror])

    outcome = await Committer(ch).run_window("trace-duplicate")

    assert (outcome.queued, outcome.failed) == (2, 1)
    assert ch.store.require_plan(first.plan_id).state is PlanState.COMMITTED
    assert ch.store.require_plan(mirror.plan_id).state is PlanState.DROPPED
    (dropped,) = [
        e
        for e in ch.store.query_audit(event_type="plan_transition", limit=None)
        if e.plan_id == mirror.plan_id
    ]
    assert dropped.reason_code == "DUPLICATE_CHECKSUM"
    assert committed_in_order(settings.state_db) == [first.plan_id, middle.plan_id]
    assert list((settings.media_dir / "incoming").iterdir()) == []
    ch.store.close()


def children_of(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the live processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(stat.parent.name), name))
    return found


async def test_cancelling_a_window_mid_prepare_kills_every_ffmpeg_and_publishes_nothing(
    tmp_path: Path, slate_template: Path, clip_cache: ClipCache
) -> None:
    settings = make_settings(tmp_path, slate_template, VVTV_PREPARE_CONCURRENCY="2")
    ch = await boot(settings)
    plans = library_plans(tmp_path, clip_cache, ch.clock.now() + timedelta(hours=1), 3)
    ch.store.insert_plans(plans)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Committer(ch).run_window, "trace-cancelled")
        await wait_until(  # real time
            "two items' ffmpeg running side by side",
            lambda: len([c for c in children_of(os.getpid()) if c[1] == "ffmpeg"]) >= 2,
            within=60,
            step=0.01,
        )
        nursery.cancel_scope.cancel()

    assert children_of(os.getpid()) == []  # no ffmpeg (or ffprobe) survives the cancel
    assert sorted(p.name for p in settings.hls_dir.iterdir()) == ["slate"]
    assert list((settings.media_dir / "incoming").iterdir()) == []
    assert all(ch.store.require_plan(p.plan_id).state is PlanState.SCHEDULED for p in plans)
    ch.store.close()


def start_window(root: Path, slate: Path, trace: str) -> subprocess.Popen[bytes]:
    log = (root / f"{trace}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.daemon.window_process", str(root), str(slate), trace],
        cwd=REPO,
        env={**os.environ, "VVTV_PREPARE_CONCURRENCY": "2"},
        stdout=log,
        stderr=log,
        start_new_session=True,  # its own process group: killed with its ffmpeg, as systemd does
    )


async def test_a_window_sigkilled_mid_way_then_run_again_commits_every_item_once_in_air_order(
    tmp_path: Path, slate_template: Path, clip_cache: ClipCache
) -> None:
    settings: Settings = make_settings(tmp_path, slate_template)
    store = open_store(settings.state_db)
    plans = library_plans(tmp_path, clip_cache, TrioClock().now() + timedelta(hours=1), 3)
    store.insert_plans(plans)
    store.close()
    slow, first_quick = plans[0].plan_id, plans[1].plan_id

    def qa_done() -> set[str]:
        s = open_store(settings.state_db)
        try:
            return {e.plan_id or "" for e in s.query_audit(event_type="qa_result", limit=None)}
        finally:
            s.close()

    proc = start_window(tmp_path, slate_template, "first")
    try:

        def quick_item_judged() -> bool:
            assert proc.poll() is None, (tmp_path / "first.log").read_text()
            return first_quick in qa_done()

        await wait_until("the quick item through QA", quick_item_judged, within=120)  # real time
        assert slow not in qa_done(), "the slow item finished first: nothing to show"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # Ready but behind the slow item in air order: nothing committed out of order.
    assert committed_in_order(settings.state_db) == []

    again = start_window(tmp_path, slate_template, "second")
    assert again.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()
    assert committed_in_order(settings.state_db) == [p.plan_id for p in plans]
    store = open_store(settings.state_db)
    try:
        for plan in plans:
            assert store.require_plan(plan.plan_id).state is PlanState.COMMITTED
            (asset,) = [a for a in store.assets_for_plan(plan.plan_id)]
            assert Path(asset.local_path, "index.m3u8").is_file()
    finally:
        store.close()
    assert not list(settings.hls_dir.glob(".tmp-*"))
    assert list((settings.media_dir / "incoming").iterdir()) == []


async def test_places_go_to_the_earliest_turn_waiting_and_a_cancelled_waiter_passes_on(
    autojump_clock: object,
) -> None:
    from actors.committer import _Turns

    turns = _Turns(1)
    order: list[int] = []

    async def take(turn: int, hold: float) -> None:
        async with turns.ticket(turn):
            order.append(turn)
            await trio.sleep(hold)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(take, 9, 1.0)  # holds the only place
        await trio.sleep(0.1)
        for turn in (5, 2, 7):
            nursery.start_soon(take, turn, 1.0)
        await trio.sleep(0.1)
        with trio.CancelScope() as gone:  # a waiter cancelled before its turn comes
            gone.cancel()
            async with turns.ticket(1):
                order.append(1)
        late = turns.ticket(3)  # taken now, entered later: still ahead of 5 and 7
        await trio.sleep(1.0)
        async with late:
            order.append(3)
    assert order == [9, 2, 3, 5, 7]
    assert turns.holders == 0
    with pytest.raises(ValueError, match="at least 1"):
        _Turns(0)
