"""The published view: the status body the dashboards and ``/v1/status`` read, and how it
follows the timeline's air rule."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vvtv.air import status, timeline
from vvtv.air.emergency import EmergencyState
from vvtv.core.model import FallbackLevel

from .helpers import at, back_to_back, entry, shuffled_timelines, timeline_of


def test_buffer_state_is_shaped_like_v1_status():
    entries = [*back_to_back([600, 300]), entry("em", 900, 120, level=FallbackLevel.SLATE)]
    emergency = EmergencyState(active=True, override=True, entered_at=at(5), reason="operator")
    state = status.buffer_state(
        entries, at(60), emergency, target_minutes=60, critical_minutes=20, next_count=2
    )
    body = state.to_status_dict()
    assert body["state"] == "EMERGENCY"
    assert body["buffer_minutes"] == pytest.approx((1020 - 60) / 60, abs=1e-3)
    assert body["timestamp"] == "2026-03-02T12:01:00Z"
    assert body["now_playing"]["entry_id"] == "e000"
    assert body["now_playing"]["elapsed_s"] == 60
    assert body["now_playing"]["remaining_s"] == 540
    assert [n["entry_id"] for n in body["next"]] == ["e001", "em"]
    assert body["fallback_levels"] == {"0": 2, "1": 0, "2": 0, "3": 1}
    assert body["emergency_override"] is True
    assert body["emergency_since"] == "2026-03-02T12:00:05Z"


@settings(deadline=None)
@given(shuffled_timelines, st.sampled_from([0, 15, 45, 60, 700, 5000]), st.randoms())
def test_buffer_state_agrees_with_the_timeline_rules(rows, now_s, rnd):
    entries = timeline_of(rows)
    rnd.shuffle(entries)
    now = at(now_s)
    state = status.buffer_state(
        entries, now, EmergencyState(), target_minutes=60, critical_minutes=20, next_count=3
    )
    playing = timeline.now_playing(entries, now)
    assert state.buffer_minutes == timeline.buffer_minutes(entries, now)
    assert state.now_playing == (status.ItemView.of(playing.entry) if playing else None)
    assert state.elapsed_s == (playing.elapsed_s if playing else 0.0)
    assert state.remaining_s == (playing.remaining_s if playing else 0.0)
    assert state.next == tuple(
        status.ItemView.of(e) for e in timeline.next_entries(entries, now, 3)
    )
    upcoming = timeline.ahead(entries, now)
    assert sum(state.fallback_levels.values()) == len(upcoming)


@settings(deadline=None)
@given(shuffled_timelines, st.sampled_from([0, 15, 45, 60, 700]), st.floats(0, 1), st.randoms())
def test_the_published_state_moves_only_its_clock_fields_before_next_change(rows, now_s, frac, rnd):
    entries = timeline_of(rows)
    rnd.shuffle(entries)
    now = at(now_s)
    change = timeline.next_change(entries, now)
    if change is None:
        return
    later = now + (change - now) * frac * 0.999999
    emergency = EmergencyState(active=True, entered_at=now, reason="test")
    state = status.buffer_state(entries, now, emergency, target_minutes=60, critical_minutes=20)
    assert state.at(later) == status.buffer_state(
        entries, later, emergency, target_minutes=60, critical_minutes=20
    )


def test_an_item_view_dict_is_a_copy_the_caller_may_change():
    view = status.ItemView.of(entry("a", 0, 60))
    first = view.to_dict()
    first["title"] = "changed"
    assert view.to_dict()["title"] == "title a"


def test_buffer_state_refuses_a_naive_now_and_a_negative_next_count():
    with pytest.raises(ValueError, match="timezone-aware"):
        status.buffer_state(
            [], datetime(2026, 1, 1), EmergencyState(), target_minutes=60, critical_minutes=20
        )
    with pytest.raises(ValueError, match="next_count"):
        status.buffer_state(
            [], at(0), EmergencyState(), target_minutes=60, critical_minutes=20, next_count=-1
        )
