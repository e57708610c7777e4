"""The OwnerCard reloads the way an operator expects (SPEC §2): on SIGHUP and when the file
is saved, validated first, the card in force kept when the new one is invalid."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import trio
import trio.testing

from actors.context import ChannelContext
from actors.daemon import _reload_on_sighup, boot, watch_card_file
from tests.support.waiting import wait_until
from vvtv.core.settings import Settings


def edit_card(settings: Settings, old: str, new: str) -> None:
    path = Path(settings.owner_card_path)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def rejections(ch: ChannelContext, who: str) -> list:
    return [
        e
        for e in ch.store.query_audit(event_type="owner_card_rejected", limit=None)
        if e.actor == who
    ]


POLL_S = 0.05  # how often the test's watcher looks at the file (real time)


async def test_saving_the_card_file_applies_it_and_an_invalid_save_keeps_the_card(
    settings: Settings, nursery: trio.Nursery
) -> None:
    """A saved card is validated and applied; an invalid save is refused once, naming the
    field, and the card in force stays."""
    ch = await boot(settings)
    nursery.start_soon(watch_card_file, ch, POLL_S)
    await trio.testing.wait_all_tasks_blocked()  # the watcher has the file's first stamp

    edit_card(settings, "buffer_target_minutes: 60", "buffer_target_minutes: 75")
    await wait_until("the new card", lambda: ch.card.schedule_policy.buffer_target_minutes == 75)
    assert ch.store.latest_card_version().applied_by == "file-change"  # type: ignore[union-attr]

    # Critical at or above target is refused with the field named; 75 stays in force.
    edit_card(settings, "buffer_critical_minutes: 20", "buffer_critical_minutes: 90")
    await wait_until("the rejection", lambda: rejections(ch, "file-change"))
    (rejected,) = rejections(ch, "file-change")
    assert any("buffer_critical_minutes" in e for e in rejected.details["errors"])
    assert ch.card.schedule_policy.buffer_target_minutes == 75
    # Watch six more polls of the unchanged (still invalid) file: none refuses it again.
    # This sleep is the observation window of the rule, not a wait for something to happen.
    await trio.sleep(6 * POLL_S)
    assert len(rejections(ch, "file-change")) == 1
    nursery.cancel_scope.cancel()


async def test_sighup_reloads_the_card_from_its_file(
    settings: Settings, nursery: trio.Nursery
) -> None:
    ch = await boot(settings)
    nursery.start_soon(_reload_on_sighup, ch)
    await trio.testing.wait_all_tasks_blocked()  # the signal receiver is installed
    edit_card(settings, "commit_lead_hours: 4", "commit_lead_hours: 3")
    os.kill(os.getpid(), signal.SIGHUP)
    await wait_until("the reload", lambda: ch.card.schedule_policy.commit_lead_hours == 3)
    assert ch.store.latest_card_version().applied_by == "SIGHUP"  # type: ignore[union-attr]
    nursery.cancel_scope.cancel()
