"""The OwnerCard reloads the way an operator expects (SPEC §2): on SIGHUP and when the file
is saved, validated first, the card in force kept when the new one is invalid."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import trio

from actors.context import ChannelContext
from actors.daemon import _reload_on_sighup, boot, watch_card_file
from vvtv.core.settings import Settings


def edit_card(settings: Settings, old: str, new: str) -> None:
    path = Path(settings.owner_card_path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


async def until(predicate, what: str, seconds: float = 10.0) -> None:
    with trio.move_on_after(seconds):
        while not predicate():
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out waiting for {what}")


def rejections(ch: ChannelContext, who: str) -> list:
    return [
        e
        for e in ch.store.query_audit(event_type="owner_card_rejected", limit=None)
        if e.actor == who
    ]


async def test_saving_the_card_file_applies_it_and_an_invalid_save_keeps_the_card(
    settings: Settings, nursery: trio.Nursery
) -> None:
    ch = await boot(settings)
    nursery.start_soon(watch_card_file, ch, 0.05)
    await trio.sleep(0.1)

    edit_card(settings, "buffer_target_minutes: 60", "buffer_target_minutes: 75")
    await until(lambda: ch.card.schedule_policy.buffer_target_minutes == 75, "the new card")
    assert ch.store.latest_card_version().applied_by == "file-change"  # type: ignore[union-attr]

    # Critical at or above target is refused with the field named; 75 stays in force.
    edit_card(settings, "buffer_critical_minutes: 20", "buffer_critical_minutes: 90")
    await until(lambda: rejections(ch, "file-change"), "the rejection")
    (rejected,) = rejections(ch, "file-change")
    assert any("buffer_critical_minutes" in e for e in rejected.details["errors"])
    assert ch.card.schedule_policy.buffer_target_minutes == 75
    await trio.sleep(0.3)  # an unchanged (still invalid) file is not refused again
    assert len(rejections(ch, "file-change")) == 1
    nursery.cancel_scope.cancel()


async def test_sighup_reloads_the_card(settings: Settings, nursery: trio.Nursery) -> None:
    ch = await boot(settings)
    nursery.start_soon(_reload_on_sighup, ch)
    await trio.sleep(0.1)  # the signal receiver is installed
    edit_card(settings, "commit_lead_hours: 4", "commit_lead_hours: 3")
    os.kill(os.getpid(), signal.SIGHUP)
    await until(lambda: ch.card.schedule_policy.commit_lead_hours == 3, "the reload")
    assert ch.store.latest_card_version().applied_by == "SIGHUP"  # type: ignore[union-attr]
    nursery.cancel_scope.cancel()
