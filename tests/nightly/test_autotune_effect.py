"""Autotune's two aired signals and the rule that a change must change the plan (issue 17).

``aired_signals`` measures, from the programmes that aired, how far their durations were
from the card's target and how many carried a preferred mood; ``with_effect`` keeps only
the steps that change what the next re-plan does, and holds the others with why."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from tests.support.cards import make_card
from vvtv.core.clock import utc
from vvtv.core.model import EntryStatus, FallbackLevel, PlanItem, QueueEntry, SlotType
from vvtv.nightly.autotune import Delta, TuneWeights, aired_signals, with_effect
from vvtv.plan.grid import reserve_count

T0 = utc(2026, 3, 2, 12)
CARD = make_card(
    editorial_profile={"target_avg_duration_sec": 600},
    music_policy={"preferred_moods": ["calm"]},
)


def plan(pid: str, *, tags: tuple[str, ...] = (), signals: int | None = 0) -> PlanItem:
    return PlanItem(
        plan_id=pid,
        source_url=f"https://videos.example.org/{pid}.mp4",
        title=pid,
        duration_sec=600.0,
        discovered_at=T0 - timedelta(days=1),
        score=0.7,
        tags=tags,
        quality_signals=signals,
    )


def aired(
    pid: str | None,
    seconds: float,
    *,
    slot: SlotType = SlotType.MAIN,
    status: EntryStatus = EntryStatus.AIRED,
) -> QueueEntry:
    return QueueEntry(
        entry_id=f"q-{pid}-{seconds}",
        asset_id=f"a-{pid}",
        start_at=T0,
        duration_sec=seconds,
        title=str(pid),
        plan_id=pid,
        slot_type=slot,
        fallback_level=FallbackLevel.EMERGENCY_POOL
        if slot is SlotType.EMERGENCY
        else FallbackLevel.MAIN,
        status=status,
    )


# --- aired_signals ----------------------------------------------------------------------


def test_durations_against_the_target_and_moods_come_from_the_programmes_that_aired() -> None:
    plans = {"a": plan("a", tags=("calm",)), "b": plan("b"), "c": plan("c"), "d": plan("d")}
    entries = [
        aired("a", 600),  # on target
        aired("b", 900),  # 50 % long
        aired("c", 300, slot=SlotType.RESERVE),  # 50 % short, a reserve standing in
        aired("d", 1200),
        # not chosen by scoring, or never on air: they do not count
        aired(None, 3000, slot=SlotType.EMERGENCY),
        aired("d", 5000, status=EntryStatus.SKIPPED),
    ]
    deviation, moods = aired_signals(entries, plans, CARD)
    assert deviation == pytest.approx((0 + 0.5 + 0.5 + 1.0) / 4)
    assert moods == pytest.approx(1 / 4)


def test_no_programme_aired_or_no_preferred_mood_is_no_signal() -> None:
    assert aired_signals([aired(None, 30, slot=SlotType.EMERGENCY)], {}, CARD) == (None, None)
    no_moods = make_card(music_policy={"preferred_moods": []})
    deviation, moods = aired_signals([aired("a", 900)], {"a": plan("a")}, no_moods)
    assert deviation is not None and moods is None


# --- with_effect --------------------------------------------------------------------------


def step(field: str, before: float, after: float) -> Delta:
    return Delta(field, before, after, "test")


def test_a_reserve_step_is_taken_only_when_it_moves_a_whole_reserve_within_the_horizon() -> None:
    weights = TuneWeights()
    # 2 an hour over 24 h: 48 reserves. ×1.05 keeps 50; ×1.001 (2.002 an hour) still 48.
    assert reserve_count(T0, 24, 2, 1.001) == 48 and reserve_count(T0, 24, 2, 1.05) == 50
    small, big = step("reserve_ratio", 1.0, 1.001), step("reserve_ratio", 1.0, 1.05)
    new, taken, held = with_effect(weights, [small], pool=[], card=CARD, start=T0)
    assert new == weights and taken == []
    assert held[0].why == "48 reserves over the next 24 h either way"
    assert held[0].to_dict()["field"] == "reserve_ratio" and held[0].to_dict()["held"]
    new, taken, held = with_effect(weights, [big], pool=[], card=CARD, start=T0)
    assert new.reserve_ratio == 1.05 and taken == [big] and held == []


def test_a_scoring_step_is_taken_only_when_some_plan_in_the_pool_would_score_differently() -> None:
    weights = TuneWeights()
    mood = step("mood_weight", 0.08, 0.084)
    quality = step("quality_weight", 0.05, 0.0525)
    duration = step("duration_weight", 0.2, 0.21)
    plain = [plan("p1"), plan("p2")]  # no preferred mood, no quality signal, on target
    new, taken, held = with_effect(
        weights, [mood, quality, duration], pool=plain, card=CARD, start=T0
    )
    # Every plain plan is exactly on target (closeness 1): the duration weight moves them.
    assert taken == [duration] and new == attrs.evolve(weights, duration_weight=0.21)
    assert {h.delta.field for h in held} == {"mood_weight", "quality_weight"}
    assert all("no plan in the pool (2)" in h.why for h in held)

    richer = [*plain, plan("m", tags=("Calm",)), plan("q", signals=2)]
    new, taken, held = with_effect(weights, [mood, quality], pool=richer, card=CARD, start=T0)
    assert taken == [mood, quality] and held == []
    assert (new.mood_weight, new.quality_weight) == (0.084, 0.0525)


def test_plans_stored_before_their_quality_was_kept_do_not_count_as_moved() -> None:
    """Their score is kept as it was given, so no step moves them."""
    legacy = [plan("old", tags=("calm",), signals=None)]
    _, taken, held = with_effect(
        TuneWeights(), [step("mood_weight", 0.08, 0.084)], pool=legacy, card=CARD, start=T0
    )
    assert taken == [] and len(held) == 1
