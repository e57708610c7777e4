"""Staying close to the air, and what an output shows about itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vvtv.outputs.pace import Pace
from vvtv.outputs.state import OutputBoard

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_push_that_keeps_up_sends_every_segment() -> None:
    pace = Pace(max_ahead_s=16)
    sent = 0.0
    for k in range(100):  # a 4 s segment every 4 s, two of them at once to start
        now = max(0.0, 4.0 * (k - 1))
        assert pace.admit(now, sent)
        sent += 4.0
    assert pace.skipped == 0


def test_a_push_running_ahead_of_the_air_skips_until_it_is_back_within_bounds() -> None:
    pace = Pace(max_ahead_s=8)
    assert pace.admit(0.0, 0.0)
    # Segments 10 % longer than the time they aired in: the backlog grows...
    sent, now, skipped = 0.0, 0.0, 0
    for _ in range(200):
        if pace.admit(now, sent):
            sent += 4.4
        else:
            skipped += 1
        now += 4.0
        assert pace.ahead_s(now, sent) <= 8 + 4.4  # ...but never past the bound
    assert skipped == pace.skipped > 0


def test_a_starved_push_is_not_ahead() -> None:
    pace = Pace(max_ahead_s=8)
    pace.admit(0.0, 0.0)
    assert pace.ahead_s(60.0, 4.0) == 0.0  # nothing came for a minute: ffmpeg waits
    assert pace.admit(60.0, 4.0)


def test_pace_needs_a_positive_bound() -> None:
    with pytest.raises(ValueError, match="max_ahead_s"):
        Pace(0)


def test_the_board_lists_outputs_in_the_cards_order_and_says_who_is_down() -> None:
    board = OutputBoard()
    up, down = board.state("youtube"), board.state("twitch")
    board.state("spare")
    up.enabled = down.enabled = True
    up.status, up.connected_since = "connected", T0
    down.status, down.down_since = "retrying", T0
    now = T0 + timedelta(seconds=90)
    assert board.down(now) == {"twitch": 90.0}
    youtube, twitch, spare = board.view(now)
    assert (youtube["connected"], youtube["uptime_s"], youtube["down_s"]) == (True, 90.0, None)
    assert (twitch["status"], twitch["down_s"], twitch["uptime_s"]) == ("retrying", 90.0, 0.0)
    assert (spare["enabled"], spare["status"]) == (False, "disabled")
    board.keep(["spare", "youtube"])
    assert board.names() == ["spare", "youtube"]
