"""Every change autotune audits changes what is planned next (issue 17, SPEC §1.9).

The same candidates are planned before and after a nightly job whose autotune moved each
of its four weights, on a real store with the real Discovery actor: the reserves kept and
the scores the planner ranks by differ in the direction of each audited delta. A step
that would change nothing planned is held, not audited as a change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import trio.testing

from actors.context import ChannelContext
from actors.daemon import boot
from actors.discovery import Discovery
from tests.daemon.harness import CARD, make_settings
from vvtv.core import offload
from vvtv.core.audit import AuditType
from vvtv.core.clock import TrioClock, utc
from vvtv.core.model import (
    AuditEvent,
    EntryStatus,
    FallbackLevel,
    PlanItem,
    PlanState,
    QueueEntry,
    SlotType,
    new_id,
)
from vvtv.nightly.autotune import TuneWeights
from vvtv.nightly.job import KEY_WEIGHTS, run_nightly

NIGHT = utc(2026, 3, 30, 3)  # Monday 03:00 UTC: the job reports on Sunday 29 March
MONDAY = NIGHT.date()
SUNDAY_NOON = utc(2026, 3, 29, 12)
TARGET = 600  # the harness card's editorial_profile.target_avg_duration_sec
THEMES = ("news", "sport", "art", "science", "travel")

# The candidates, planned before and after. Their scores come from what they are
# (duration, tags, quality signals kept at discovery) under the weights in force.
PROBES = {
    "on-target": dict(duration=TARGET),
    "off-target": dict(duration=TARGET * 2.5),  # closeness 0: no duration bonus at all
    "calm": dict(tags=("calm",)),  # a preferred mood of the harness card
    "crisp": dict(signals=3),  # "4k", "1080p", "stereo"
    "plain": dict(),
}


def candidate(pid: str, i: int, *, duration: float = 900.0, tags=(), signals: int = 0):
    return PlanItem(
        plan_id=pid,
        source_url=f"https://videos.example.org/{pid}.mp4",
        title=pid,
        duration_sec=float(duration),
        discovered_at=NIGHT - timedelta(days=2),
        score=0.5,
        theme=THEMES[i % len(THEMES)],
        tags=tuple(tags),
        quality_signals=signals,
    )


def seed_pool(ch: ChannelContext) -> None:
    """The five probes, and enough ordinary candidates for a day of grid and reserves."""
    probes = [candidate(pid, i, **kw) for i, (pid, kw) in enumerate(PROBES.items())]
    rest = [candidate(f"filler-{i:03d}", i) for i in range(220)]
    ch.store.insert_plans([*probes, *rest])


def seed_sunday(
    ch: ChannelContext,
    *,
    seconds: float,
    tags: tuple[str, ...],
    fallbacks: int,
    qa_passed: int,
) -> None:
    """Ten programmes aired on Sunday (``fallbacks`` of them reserves standing in), each
    ``seconds`` long with ``tags``, and ten QA results of which ``qa_passed`` passed."""
    aired = [
        PlanItem(
            plan_id=f"sunday-{i}",
            source_url=f"https://videos.example.org/sunday-{i}.mp4",
            title=f"Sunday {i}",
            duration_sec=seconds,
            discovered_at=SUNDAY_NOON - timedelta(days=1),
            state=PlanState.AIRED,
            tags=tags,
        )
        for i in range(10)
    ]
    ch.store.insert_plans(aired)
    start = SUNDAY_NOON
    for i, plan in enumerate(aired):
        reserve = i < fallbacks
        ch.store.insert_queue_entry(
            QueueEntry(
                entry_id=f"q-sunday-{i}",
                asset_id=f"a-sunday-{i}",
                start_at=start,
                duration_sec=seconds,
                title=plan.title,
                plan_id=plan.plan_id,
                slot_type=SlotType.RESERVE if reserve else SlotType.MAIN,
                fallback_level=FallbackLevel.RESERVE if reserve else FallbackLevel.MAIN,
                status=EntryStatus.AIRED,
            )
        )
        start += timedelta(seconds=seconds)
    ch.store.append_audit_many(
        AuditEvent(
            event_id=new_id("evt"),
            at=SUNDAY_NOON + timedelta(minutes=i),
            event_type=AuditType.QA_RESULT,
            reason_code="QA_PASSED" if i < qa_passed else "QA_REJECTED",
            details={"passed": i < qa_passed},
        )
        for i in range(10)
    )


def scores(ch: ChannelContext) -> dict[str, float]:
    return {pid: ch.store.require_plan(pid).score for pid in PROBES}


def reserves(ch: ChannelContext) -> int:
    return ch.store.count_plans()[PlanState.RESERVED]


async def plan_around_the_nightly(
    settings, **sunday: object
) -> tuple[dict, dict, int, int, ChannelContext, object]:
    """Plan, run the nightly job after ``sunday``'s day on air, plan again."""
    ch = await boot(settings, clock=TrioClock(NIGHT))
    seed_pool(ch)
    discovery = Discovery(ch)
    await discovery.replan(NIGHT)
    before, kept_before = scores(ch), reserves(ch)
    seed_sunday(ch, **sunday)  # type: ignore[arg-type]
    result = await run_nightly(ch.store, ch.cards, ch.clock, ch.tz, MONDAY, settings.exports_dir)
    await discovery.replan(NIGHT)
    return before, scores(ch), kept_before, reserves(ch), ch, result


def gap(s: dict[str, float], a: str, b: str) -> float:
    return s[a] - s[b]


@pytest.fixture
def card_settings(tmp_path: Path, slate_template: Path):
    card = {**CARD, "schedule_policy": {"timezone": "UTC"}}
    return make_settings(tmp_path, slate_template, card=card)


async def test_a_bad_day_moves_all_four_weights_up_and_tomorrows_plan_follows(
    card_settings, autojump_clock: trio.testing.MockClock
) -> None:
    """Sunday: 4 of 10 programmes were reserves (fallback 40 %), every one 2.5 × the target
    duration, none with a preferred mood, half the QA results failed."""
    with offload.inline():
        before, after, kept_before, kept_after, ch, result = await plan_around_the_nightly(
            card_settings, seconds=TARGET * 2.5, tags=("rainy",), fallbacks=4, qa_passed=5
        )
        try:
            (tuned,) = ch.store.query_audit(event_type=AuditType.AUTOTUNE)
            deltas = tuned.details["deltas"]
            assert set(deltas) == {
                "reserve_ratio",
                "duration_weight",
                "mood_weight",
                "quality_weight",
            }
            assert all(d["after"] > d["before"] for d in deltas.values())
            assert result.tune_held == {}  # type: ignore[attr-defined]

            # reserve_ratio up: more reserves kept for the same grid.
            assert kept_after > kept_before
            # duration_weight up: closeness to the target counts for more.
            assert gap(after, "on-target", "off-target") > gap(before, "on-target", "off-target")
            # mood_weight up: a preferred mood counts for more.
            assert gap(after, "calm", "plain") > gap(before, "calm", "plain")
            # quality_weight up: quality signals count for more.
            assert gap(after, "crisp", "plain") > gap(before, "crisp", "plain")
            stored = TuneWeights.from_dict(ch.store.get_live_value(KEY_WEIGHTS)).to_dict()
            assert stored == pytest.approx({n: d["after"] for n, d in deltas.items()}, abs=1e-6)
        finally:
            ch.store.close()


async def test_a_good_day_moves_all_four_weights_down_and_tomorrows_plan_follows(
    card_settings, autojump_clock: trio.testing.MockClock
) -> None:
    """Weights raised by earlier nights; Sunday: no fallback, every programme on target and
    calm, every QA result passed."""
    with offload.inline():
        high = TuneWeights(
            reserve_ratio=1.5, duration_weight=0.3, mood_weight=0.12, quality_weight=0.08
        )
        ch = await boot(card_settings, clock=TrioClock(NIGHT))
        ch.store.set_live_value(KEY_WEIGHTS, high.to_dict())
        ch.store.close()
        before, after, kept_before, kept_after, ch, _ = await plan_around_the_nightly(
            card_settings, seconds=float(TARGET), tags=("calm",), fallbacks=0, qa_passed=10
        )
        try:
            (tuned,) = ch.store.query_audit(event_type=AuditType.AUTOTUNE)
            deltas = tuned.details["deltas"]
            assert set(deltas) == set(high.to_dict())
            assert all(d["after"] < d["before"] for d in deltas.values())
            assert kept_after < kept_before
            assert gap(after, "on-target", "off-target") < gap(before, "on-target", "off-target")
            assert gap(after, "calm", "plain") < gap(before, "calm", "plain")
            assert gap(after, "crisp", "plain") < gap(before, "crisp", "plain")
        finally:
            ch.store.close()


async def test_a_step_that_would_change_nothing_planned_is_held_not_audited(
    tmp_path: Path, slate_template: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Nothing in the pool has a preferred mood or a quality signal: the mood and quality
    steps the day asked for would move no score, so they are held, with why, and only the
    duration step (which does move the pool) is audited."""
    card = {**CARD, "schedule_policy": {"timezone": "UTC"}}
    settings = make_settings(tmp_path, slate_template, card=card)
    with offload.inline():
        ch = await boot(settings, clock=TrioClock(NIGHT))
        try:
            ch.store.insert_plans(candidate(f"plain-{i}", i) for i in range(40))
            seed_sunday(ch, seconds=TARGET * 2.5, tags=("rainy",), fallbacks=0, qa_passed=5)
            result = await run_nightly(
                ch.store, ch.cards, ch.clock, ch.tz, MONDAY, settings.exports_dir
            )
            (tuned,) = ch.store.query_audit(event_type=AuditType.AUTOTUNE)
            assert set(tuned.details["deltas"]) == {"duration_weight"}
            assert set(result.tune_held) == {"mood_weight", "quality_weight"}
            for held in result.tune_held.values():
                assert held["held"] == "no plan in the pool (40) would score differently"
            stored = TuneWeights.from_dict(ch.store.get_live_value(KEY_WEIGHTS))
            assert (stored.mood_weight, stored.quality_weight) == (0.08, 0.05)
            (run,) = ch.store.query_audit(event_type=AuditType.NIGHTLY)
            assert set(run.details["autotune_held"]) == {"mood_weight", "quality_weight"}
        finally:
            ch.store.close()
