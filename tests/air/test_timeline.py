"""The timeline: buffer minutes from real durations, what is on air, where new content goes."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vvtv.air import timeline
from vvtv.core.model import EntryStatus, FallbackLevel

from .helpers import T0, at, back_to_back, entry, shuffled_timelines, timeline_of


def test_buffer_counts_the_rest_of_the_item_on_air_plus_what_follows():
    entries = back_to_back([600, 300, 900])  # 0..1800 s
    assert timeline.buffer_minutes(entries, at(100)) == pytest.approx((1800 - 100) / 60)


def test_buffer_is_real_minutes_not_entries_times_ten():
    entries = back_to_back([30, 30, 30])
    assert timeline.buffer_minutes(entries, at(0)) == pytest.approx(1.5)


def test_a_gap_ends_the_count():
    entries = [entry("a", 0, 600), entry("b", 600, 600), entry("c", 1300, 600)]
    assert timeline.buffer_minutes(entries, at(0)) == pytest.approx(20.0)


def test_gaps_and_overlaps_below_the_tolerance_are_rounding_not_holes():
    entries = [entry("a", 0, 600), entry("b", 600.4, 600), entry("c", 1200.0, 600)]
    # b overlaps c by 0.4 s: c cuts b, and the run ends where c ends
    assert timeline.buffer_minutes(entries, at(0)) == pytest.approx(30.0)


def test_nothing_on_air_means_zero_buffer_even_with_content_later():
    entries = [entry("a", 60, 600)]
    assert timeline.buffer_minutes(entries, at(0)) == 0.0
    assert timeline.now_playing(entries, at(0)) is None
    assert timeline.timeline_end(entries, at(0)) == at(0)


def test_content_starting_within_the_tolerance_counts_as_on_air():
    entries = [entry("a", 0.5, 600)]
    assert timeline.buffer_minutes(entries, at(0)) == pytest.approx(600.5 / 60)
    playing = timeline.now_playing(entries, at(0))
    assert playing is not None and playing.entry.entry_id == "a" and playing.elapsed_s == 0.0


def test_skipped_entries_never_air():
    a, b = entries = back_to_back([600, 600])
    skipped = [a, attrs.evolve(b, status=EntryStatus.SKIPPED)]
    assert timeline.buffer_minutes(entries, at(0)) == pytest.approx(20.0)
    assert timeline.buffer_minutes(skipped, at(0)) == pytest.approx(10.0)


def test_now_playing_reports_elapsed_and_remaining():
    entries = back_to_back([600, 300])
    playing = timeline.now_playing(entries, at(650))
    assert playing is not None
    assert playing.entry.entry_id == "e001"
    assert playing.elapsed_s == pytest.approx(50)
    assert playing.remaining_s == pytest.approx(250)


def test_a_later_entry_cuts_an_overlapping_earlier_one():
    entries = [entry("long", 0, 1000), entry("next", 600, 300)]
    playing = timeline.now_playing(entries, at(100))
    assert playing is not None and playing.remaining_s == pytest.approx(500)
    assert timeline.now_playing(entries, at(700)).entry.entry_id == "next"
    # after "next" ends, "long" does not resume: it was cut
    assert timeline.now_playing(entries, at(950)) is None
    assert timeline.buffer_minutes(entries, at(100)) == pytest.approx(800 / 60)


def test_next_entries_are_the_upcoming_ones_in_air_order():
    entries = list(reversed(back_to_back([60] * 6)))
    nxt = timeline.next_entries(entries, at(90), 3)
    assert [e.entry_id for e in nxt] == ["e002", "e003", "e004"]


def test_append_places_new_content_at_the_end_of_the_contiguous_timeline():
    entries = back_to_back([600, 600])
    new = timeline.append(entries, at(10), asset_id="x", title="X", duration_sec=300)
    assert new.start_at == at(1200)
    assert new.created_at == at(10)


def test_append_on_an_empty_or_dead_timeline_starts_now():
    assert timeline.append([], at(5), asset_id="x", title="X", duration_sec=30).start_at == at(5)
    old = back_to_back([60])
    assert timeline.append(old, at(500), asset_id="x", title="X", duration_sec=30).start_at == at(
        500
    )


def test_programming_ends_where_content_ends_not_behind_fillers_still_to_air():
    content = back_to_back([600, 600])
    on_air = entry("f-on-air", 1200, 300, level=FallbackLevel.EMERGENCY_POOL)
    behind = entry("f-behind", 1200, 300, level=FallbackLevel.EMERGENCY_POOL)
    waiting = entry("f-next", 1500, 300, level=FallbackLevel.EMERGENCY_POOL)
    # The next committed item airs after the content, replacing the fillers queued behind.
    assert timeline.timeline_end([*content, behind], at(10)) == at(1500)
    assert timeline.programming_end([*content, behind], at(10)) == at(1200)
    # A filler already on air is not cut: new content starts when it ends.
    assert timeline.programming_end([on_air, waiting], at(1250)) == at(1500)
    assert timeline.programming_end([], at(10)) == at(10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"asset_id": "", "duration_sec": 10}, "asset_id is empty"),
        ({"asset_id": "x", "duration_sec": 0}, "must be > 0"),
        ({"asset_id": "x", "duration_sec": float("nan")}, "not a number"),
        ({"asset_id": "x", "duration_sec": "10"}, "not a number"),
    ],
)
def test_append_refuses_bad_input_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        timeline.append([], at(0), title="X", **kwargs)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        timeline.buffer_minutes([], datetime(2026, 1, 1))


def test_retime_lays_entries_back_to_back():
    entries = [entry("a", 50, 100), entry("b", 500, 200)]
    out = timeline.retime(entries, at(0))
    assert [e.start_at for e in out] == [at(0), at(100)]


def test_drop_finished_keeps_recent_history_for_the_live_window():
    entries = back_to_back([60] * 10)
    kept = timeline.drop_finished(entries, at(400), keep_seconds=120)
    assert [e.entry_id for e in kept] == [f"e{i:03d}" for i in range(4, 10)]


durations = st.lists(st.floats(min_value=1, max_value=3600), min_size=1, max_size=30)


@settings(deadline=None)
@given(durations, st.floats(min_value=0, max_value=1))
def test_buffer_of_a_contiguous_timeline_is_its_end_minus_now(ds, frac):
    entries = back_to_back(ds)
    total = sum(ds)
    now = at(frac * total * 0.999)
    expected = (at(total) - now).total_seconds() / 60
    assert timeline.buffer_minutes(entries, now) == pytest.approx(expected, abs=1e-6)
    assert timeline.timeline_end(entries, now) == entries[-1].end_at


@settings(deadline=None)
@given(durations, st.integers(min_value=0, max_value=29), st.floats(min_value=2, max_value=600))
def test_a_real_gap_anywhere_stops_the_count_there(ds, k, gap):
    k = k % len(ds)
    entries = back_to_back(ds[: k + 1]) + back_to_back(ds[k + 1 :], start_s=sum(ds[: k + 1]) + gap)
    expected = sum(ds[: k + 1]) / 60
    assert timeline.buffer_minutes(entries, T0) == pytest.approx(expected, abs=1e-6)


@settings(deadline=None)
@given(shuffled_timelines, st.randoms())
def test_ordered_is_air_order_without_skipped_entries(rows, rnd):
    entries = timeline_of(rows)
    rnd.shuffle(entries)
    assert timeline.ordered(entries) == sorted(
        (e for e in entries if e.status is not EntryStatus.SKIPPED),
        key=lambda e: (e.start_at, e.entry_id),
    )


@settings(deadline=None)
@given(shuffled_timelines, st.sampled_from([0, 15, 45, 60, 700]), st.floats(0, 1), st.randoms())
def test_nothing_the_air_rule_says_changes_before_next_change(rows, now_s, frac, rnd):
    entries = timeline_of(rows)
    rnd.shuffle(entries)
    now = at(now_s)
    change = timeline.next_change(entries, now)
    if change is None:
        assert all(e.end_at <= now for e in entries)
        return
    assert change > now
    later = now + (change - now) * frac * 0.999999

    def said(t: datetime) -> tuple:
        playing = timeline.now_playing(entries, t)
        real, _ = timeline.drop_trailing_fallback(entries, t)
        return (
            playing.entry.entry_id if playing else None,
            [e.entry_id for e in timeline.ahead(entries, t)],
            [e.entry_id for e in timeline.next_entries(entries, t, 5)],
            [e.entry_id for e in real],
            timeline.buffer_minutes(entries, t) > 0,
        )

    assert said(later) == said(now)
    if timeline.buffer_minutes(entries, now) > 0:  # drains minute for minute
        drained = (later - now).total_seconds() / 60
        assert timeline.buffer_minutes(entries, later) == pytest.approx(
            timeline.buffer_minutes(entries, now) - drained, abs=1e-6
        )
