"""A card whose push outputs change again and again: the outputs follow it without taking the
daemon down.

Each change of the card's outputs rebuilds the ``outputs`` subtree, which the root supervisor
counts as a restart (it gives up past 10 a minute). Simulated time; the outputs are switched
off in the card, so no ffmpeg is started.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio
import trio.testing

from actors.outputs import REBUILD_BURST, REBUILD_WINDOW_S
from tests.daemon.harness import CARD, make_settings, running_channel
from tests.support.cards import write_card
from vvtv.core.clock import utc

EPOCH = utc(2026, 3, 2, 12)


def card_with(*names: str) -> dict:
    outputs = [{"name": n, "url": f"rtmp://127.0.0.1:9/live/{n}", "enabled": False} for n in names]
    return {**CARD, "outputs": outputs}


async def test_a_card_reloaded_in_a_loop_is_followed_without_exhausting_the_root_supervisor(
    tmp_path: Path,
    slate_template: Path,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="actors.outputs")
    settings = make_settings(tmp_path, slate_template, card_with())
    async with running_channel(settings, epoch=EPOCH) as daemon:
        ch = daemon.ch
        await trio.sleep(5)
        # Eleven different sets of outputs in 55 s: one a rebuild each would be 11 restarts
        # of ``outputs`` inside a minute, past the root's limit of 10.
        for i in range(11):
            write_card(settings.owner_card_path, **card_with(f"out{i}"))
            assert ch.reload_card("test").ok
            await trio.sleep(5)
        await trio.sleep(2 * REBUILD_WINDOW_S)
        # The last card is the one in force, and the daemon is still running it.
        assert ch.outputs.names() == ["out10"]
        assert [o["name"] for o in ch.outputs.view(ch.clock.now())] == ["out10"]
    rebuilds = [r for r in caplog.records if r.getMessage().endswith(": rebuilding")]
    # 3 at once, then the rest together once the window allows: far fewer than 11.
    assert REBUILD_BURST <= len(rebuilds) <= 2 * REBUILD_BURST, [r.getMessage() for r in rebuilds]
    deferred = [r for r in caplog.records if "rebuilding in" in r.getMessage()]
    assert deferred
