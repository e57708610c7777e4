"""The Buffer's curator on a running channel (SPEC §1.8), in simulated time.

Five items of one theme in a row break the OwnerCard's ``max_consecutive_same_theme: 2``;
the curator reviews the timeline every minute and proposes to bring another theme in. In
``auto`` mode the change is applied to the live timeline and the store and audited as
``curator_applied``; in ``advise`` mode it is only audited as ``curator_suggested``; ``off``
does nothing.
"""

from __future__ import annotations

import itertools

import trio
import trio.testing

from tests.daemon.harness import looped_asset, running_channel
from vvtv.core.clock import utc
from vvtv.core.messages import AssetReady, SetCuratorMode
from vvtv.core.model import EntryStatus, QueueEntry
from vvtv.core.settings import Settings

EPOCH = utc(2026, 3, 2, 12)
THEMES = ["news"] * 5 + ["sport", "music", "sport", "music", "sport", "music"]


async def queue_run_of_one_theme(daemon) -> list[str]:
    """Eleven 10-minute programmes, the first five all 'news'; returns their asset ids."""
    ch = daemon.ch
    buffer = daemon.runtime.ref("buffer")
    ids = []
    for i, theme in enumerate(THEMES):
        asset = looped_asset(ch, f"p{i:02d}-{theme}", 600)
        await buffer.cast(
            AssetReady(
                asset_id=asset.asset_id,
                plan_id=None,
                title=f"Programme {i}",
                theme=theme,
                duration_sec=asset.duration_sec,
                planned_start=None,
            )
        )
        ids.append(asset.asset_id)
    return ids


def programmes_in_store(ch) -> list[QueueEntry]:
    """The programmes on the stored timeline, in air order (the slate left out)."""
    entries = ch.store.queue_after(EPOCH)
    return sorted(
        (e for e in entries if e.asset_id != ch.slate_id and e.status is not EntryStatus.SKIPPED),
        key=lambda e: e.start_at,
    )


def longest_run(themes: list[str]) -> int:
    best = run = 0
    for i, t in enumerate(themes):
        run = run + 1 if i and themes[i - 1] == t else 1
        best = max(best, run)
    return best


async def test_auto_mode_applies_a_reorder_to_the_live_timeline_and_audits_it(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        queued = await queue_run_of_one_theme(daemon)
        await trio.sleep(1)
        before = programmes_in_store(ch)
        assert [e.asset_id for e in before] == queued
        assert longest_run([e.theme for e in before]) == 5

        await trio.sleep(65)  # one review (every 60 s)

        applied = ch.store.query_audit(event_type="curator_applied", limit=None)
        assert len(applied) == 1
        details = applied[0].details
        assert details["issue"] == "same_theme_run"
        assert details["decision"] == "apply"
        assert details["confidence"] >= 0.75
        assert details["before"] != details["after"]
        assert sorted(details["before"]) == sorted(details["after"])

        # The store's timeline is in the new order: the span reads as "after", re-timed
        # back to back, and nothing else moved or changed length.
        after = programmes_in_store(ch)
        ids = [e.entry_id for e in after]
        span = details["after"]
        start = ids.index(span[0])
        assert ids[start : start + len(span)] == span
        assert sorted(e.asset_id for e in after) == sorted(queued)
        for a, b in itertools.pairwise(after):
            assert b.start_at == a.end_at
        assert after[0].start_at == before[0].start_at
        assert after[-1].end_at == before[-1].end_at
        assert longest_run([e.theme for e in after]) < 5
        assert [e.theme for e in after] != [e.theme for e in before]

        # The Buffer airs what the store says: its published queue has the new order.
        shown = [item["entry_id"] for item in ch.queue_view if item["entry_id"] in ids]
        assert shown == ids


async def test_advise_mode_only_audits_the_suggestion_and_leaves_the_timeline(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        reply = await daemon.runtime.ref("buffer").call(SetCuratorMode("advise", who="test"))
        assert reply["mode"] == "advise"
        queued = await queue_run_of_one_theme(daemon)
        await trio.sleep(1)
        before = programmes_in_store(ch)

        await trio.sleep(65)

        suggested = ch.store.query_audit(event_type="curator_suggested", limit=None)
        assert suggested, "advise mode records what it would do"
        assert all(e.details["decision"] == "record_only" for e in suggested)
        assert any(e.details["issue"] == "same_theme_run" for e in suggested)
        assert "advise" in suggested[0].details["why"]
        assert ch.store.query_audit(event_type="curator_applied", limit=None) == []
        after = programmes_in_store(ch)
        assert [(e.entry_id, e.start_at) for e in after] == [
            (e.entry_id, e.start_at) for e in before
        ]
        assert [e.asset_id for e in after] == queued


async def test_off_mode_neither_suggests_nor_changes_anything(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        await daemon.runtime.ref("buffer").call(SetCuratorMode("off", who="test"))
        await queue_run_of_one_theme(daemon)
        await trio.sleep(1)
        before = programmes_in_store(ch)

        await trio.sleep(5 * 60)

        for kind in ("curator_suggested", "curator_applied"):
            assert ch.store.query_audit(event_type=kind, limit=None) == []
        after = programmes_in_store(ch)
        assert [(e.entry_id, e.start_at) for e in after] == [
            (e.entry_id, e.start_at) for e in before
        ]
