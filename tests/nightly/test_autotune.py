"""Autotune: fine weights only, bounded by max_daily_adjustment_pct, explained by deltas."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.air.helpers import T0
from vvtv.core.model import DailyReport
from vvtv.nightly.autotune import BOUNDS, DayStats, TuneWeights, autotune
from vvtv.ownercard.card import AutotunePolicy

POLICY = AutotunePolicy(max_daily_adjustment_pct=5.0, enabled=True)


def test_a_high_fallback_rate_asks_for_more_reserves():
    stats = DayStats(items_aired=90, fallback_rate=0.25)
    new, deltas = autotune(TuneWeights(), stats, POLICY)
    assert new.reserve_ratio == pytest.approx(1.05)
    [d] = deltas
    assert d.field == "reserve_ratio" and d.to_dict()["pct"] == pytest.approx(5.0)
    assert "fallback rate 25%" in d.reason


def test_time_in_emergency_asks_for_more_reserves_even_with_few_fallbacks():
    new, _ = autotune(TuneWeights(), DayStats(items_aired=90, emergency_minutes=30), POLICY)
    assert 1.0 < new.reserve_ratio <= 1.05


def test_a_quiet_day_trims_reserves_a_little_but_never_below_the_cards_number():
    quiet = DayStats(items_aired=90, fallback_rate=0.0)
    new, _ = autotune(TuneWeights(reserve_ratio=1.5), quiet, POLICY)
    assert new.reserve_ratio == pytest.approx(1.5 * (1 - 0.025))
    # At the card's own number (ratio 1) there is nothing to trim: no change, no delta.
    assert autotune(TuneWeights(), quiet, POLICY) == (TuneWeights(), [])


def test_weights_stored_below_the_floor_by_an_earlier_version_read_as_the_floor():
    """Earlier versions let the ratio sink to 0.5, where it changed nothing."""
    assert TuneWeights.from_dict({"reserve_ratio": 0.975}).reserve_ratio == 1.0
    assert TuneWeights.from_dict({"reserve_ratio": 0.5}).reserve_ratio == 1.0
    with pytest.raises(ValueError, match=r"reserve_ratio must be between 1\.0 and 3\.0"):
        TuneWeights.from_dict({"reserve_ratio": 0.2})


def test_low_qa_pass_rate_raises_the_quality_weight():
    stats = DayStats(items_aired=90, fallback_rate=0.05, qa_pass_rate=0.7, qa_checked=100)
    new, deltas = autotune(TuneWeights(), stats, POLICY)
    assert new.quality_weight > 0.05
    assert {d.field for d in deltas} == {"quality_weight"}


def test_durations_far_from_target_raise_the_duration_weight():
    stats = DayStats(items_aired=90, fallback_rate=0.05, duration_deviation=0.6)
    new, _ = autotune(TuneWeights(), stats, POLICY)
    assert new.duration_weight == pytest.approx(0.21)


def test_disabled_changes_nothing():
    stats = DayStats(items_aired=90, fallback_rate=0.9, qa_pass_rate=0.1, qa_checked=10)
    new, deltas = autotune(TuneWeights(), stats, AutotunePolicy(enabled=False))
    assert new == TuneWeights() and deltas == []


def test_a_day_with_nothing_aired_changes_nothing():
    assert autotune(TuneWeights(), DayStats(), POLICY) == (TuneWeights(), [])


def test_stats_come_from_the_daily_report():
    report = DailyReport(
        date=T0.date(),
        generated_at=T0,
        summary={"items_aired": 12, "fallback_rate": 0.5, "qa_pass_rate": 0.8, "qa_checked": 4},
    )
    stats = DayStats.from_daily_report(report, duration_deviation=0.3)
    assert stats == DayStats(12, 0.5, 0.0, 0.8, 4, 0.3, None)


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        (DayStats(items_aired=1, fallback_rate=1.5), "fallback_rate must be between 0 and 1"),
        (DayStats(items_aired=-1), "items_aired must be an integer >= 0"),
        (DayStats(items_aired=1, emergency_minutes=float("inf")), "emergency_minutes must be"),
    ],
)
def test_bad_stats_are_refused(stats, message):
    with pytest.raises(ValueError, match=message):
        autotune(TuneWeights(), stats, POLICY)


def test_bad_weights_and_policy_are_refused():
    with pytest.raises(ValueError, match=r"reserve_ratio must be between 1\.0 and 3\.0"):
        autotune(TuneWeights(reserve_ratio=9), DayStats(items_aired=1), POLICY)
    with pytest.raises(ValueError, match=r"max_daily_adjustment_pct must be 0\.\.20"):
        autotune(
            TuneWeights(), DayStats(items_aired=1), AutotunePolicy(max_daily_adjustment_pct=50)
        )
    with pytest.raises(ValueError, match="unknown tune weight"):
        TuneWeights.from_dict({"buffer_target_minutes": 10})


def test_weights_round_trip_through_a_dict():
    w = TuneWeights(reserve_ratio=1.2)
    assert TuneWeights.from_dict(w.to_dict()) == w


stats_st = st.builds(
    DayStats,
    items_aired=st.integers(0, 500),
    fallback_rate=st.floats(0, 1),
    emergency_minutes=st.floats(0, 1440),
    qa_pass_rate=st.floats(0, 1),
    qa_checked=st.integers(0, 500),
    duration_deviation=st.none() | st.floats(0, 5),
    mood_match_rate=st.none() | st.floats(0, 1),
)
weights_st = st.builds(
    TuneWeights,
    **{name: st.floats(lo, hi) for name, (lo, hi) in BOUNDS.items()},
)


@settings(deadline=None)
@given(weights_st, stats_st, st.floats(0, 20), st.integers(1, 30))
def test_no_weight_ever_moves_more_than_the_daily_allowance(weights, stats, pct, days):
    policy = AutotunePolicy(max_daily_adjustment_pct=pct)
    for _ in range(days):
        new, deltas = autotune(weights, stats, policy)
        for name in attrs.fields_dict(TuneWeights):
            before, after = getattr(weights, name), getattr(new, name)
            assert abs(after - before) <= abs(before) * pct / 100 + 1e-12
            lo, hi = BOUNDS[name]
            assert lo <= after <= hi
        assert {d.field for d in deltas} == {
            n for n in attrs.fields_dict(TuneWeights) if getattr(new, n) != getattr(weights, n)
        }
        weights = new
