"""The planning grid (SPEC §1.2): contiguous, non-overlapping, guardrails where the pool
allows them, duration balancing, higher scores first, reserves for every hour window."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vvtv.core.clock import utc
from vvtv.core.model import PlanItem, PlanState, SlotType
from vvtv.ownercard.card import EditorialProfile, OwnerCard, SchedulePolicy
from vvtv.plan.grid import Grid, floor_hour, hour_windows, plan_grid

NOW = utc(2026, 3, 1, 10)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def plan(
    n: int,
    theme: str,
    duration: float = 900.0,
    score: float = 0.5,
    state: PlanState = PlanState.CANDIDATE,
) -> PlanItem:
    return PlanItem(
        plan_id=f"plan-{n:05d}",
        source_url=f"https://videos.example.com/{n}.mp4",
        title=f"video {n}",
        duration_sec=duration,
        discovered_at=NOW - timedelta(days=1),
        state=state,
        score=score,
        theme=theme,
    )


def card(
    *,
    max_run: int = 2,
    unique: int = 3,
    target: int = 900,
    reserves: int = 2,
) -> OwnerCard:
    return OwnerCard(
        editorial_profile=EditorialProfile(
            target_avg_duration_sec=target,
            max_consecutive_same_theme=max_run,
            min_unique_themes_per_block=unique,
        ),
        schedule_policy=SchedulePolicy(reserves_per_hour=reserves),
    )


def grid_start(now: datetime, tail_end: datetime | None) -> datetime:
    return now if tail_end is None else max(now, tail_end)


def assert_well_formed(
    grid: Grid, pool: Sequence[PlanItem], start: datetime, horizon_end: datetime, per_hour: int
) -> None:
    """The invariants every grid keeps, whatever the pool."""
    # Every pool plan lands in exactly one list, in the state that list means.
    ids = [p.plan_id for p in grid.scheduled + grid.reserves + grid.unplanned]
    assert sorted(ids) == sorted(p.plan_id for p in pool)
    for p in grid.scheduled:
        assert (p.state, p.slot_type) == (PlanState.SCHEDULED, SlotType.MAIN)
        assert p.hour_window == floor_hour(p.start_at)
    for p in grid.reserves:
        assert (p.state, p.slot_type, p.start_at) == (PlanState.RESERVED, SlotType.RESERVE, None)
    for p in grid.unplanned:
        assert (p.state, p.slot_type, p.start_at, p.hour_window) == (
            PlanState.CANDIDATE,
            None,
            None,
            None,
        )
    # Contiguous from the start, hence no overlap; only the last plan may cross the horizon.
    if grid.scheduled:
        assert grid.scheduled[0].start_at == start
    for before, after in zip(grid.scheduled, grid.scheduled[1:], strict=False):
        assert after.start_at == before.end_at
        assert before.end_at < horizon_end
    # The grid reaches the horizon unless the pool ran out (or the committed part already does).
    if start >= horizon_end:
        assert not grid.scheduled and not grid.reserves
    elif not grid.scheduled or grid.end_at < horizon_end:
        assert not grid.reserves and not grid.unplanned
    # Reserves: per_hour for every hour window, earliest first, until the pool runs out.
    hours = hour_windows(grid.scheduled)
    per = Counter(p.hour_window for p in grid.reserves)
    assert set(per) <= set(hours)
    if grid.unplanned:
        assert all(per[h] == per_hour for h in hours)
    counts = [per[h] for h in hours]
    assert counts == sorted(counts, reverse=True)


def guardrail_violations(themes: Sequence[str], first_new: int, unique: int, max_run: int) -> list:
    """Windows (with at least one new plan) breaking a guardrail, as (kind, index) pairs."""
    bad = []
    if unique >= 2:
        for end in range(max(first_new, unique - 1), len(themes)):
            window = themes[end - unique + 1 : end + 1]
            if len(set(window)) < unique:
                bad.append(("unique", end))
    run = 0
    for i, theme in enumerate(themes):
        run = run + 1 if i > 0 and themes[i - 1] == theme else 1
        if i >= first_new and run > max_run:
            bad.append(("run", i))
    return bad


# --- strategies -----------------------------------------------------------------------

durations = st.integers(min_value=60, max_value=3600)
scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def any_pool(draw: st.DrawFn) -> list[PlanItem]:
    themes = draw(st.integers(min_value=1, max_value=6))
    rows = draw(
        st.lists(st.tuples(st.integers(0, themes - 1), durations, scores), min_size=0, max_size=60)
    )
    state = st.sampled_from([PlanState.CANDIDATE, PlanState.SCHEDULED, PlanState.RESERVED])
    return [plan(i, f"t{t}", d, s, draw(state)) for i, (t, d, s) in enumerate(rows)]


now_st = st.integers(min_value=0, max_value=24 * 60 - 1).map(lambda m: NOW + timedelta(minutes=m))
tail_st = st.none() | st.integers(min_value=-120, max_value=180)


@given(
    pool=any_pool(),
    now=now_st,
    tail=tail_st,
    horizon_hours=st.integers(1, 8),
    max_run=st.integers(1, 3),
    unique=st.integers(0, 4),
    per_hour=st.integers(0, 3),
)
@PROPERTY
def test_any_pool_gives_a_contiguous_grid_without_overlap(
    pool, now, tail, horizon_hours, max_run, unique, per_hour
):
    tail_end = None if tail is None else now + timedelta(minutes=tail)
    horizon_end = now + timedelta(hours=horizon_hours)
    grid = plan_grid(
        pool,
        now=now,
        horizon_end=horizon_end,
        committed_tail_end=tail_end,
        card=card(max_run=max_run, unique=unique, reserves=per_hour),
    )
    assert_well_formed(grid, pool, grid_start(now, tail_end), horizon_end, per_hour)


@st.composite
def feasible_case(draw: st.DrawFn):
    """A pool for which the guardrails can hold, by this condition (planning's docstring):
    with n = ceil(span / shortest duration) an upper bound on the scheduled plans,
    at least U themes with more than ceil(n / U) plans each when U >= 2, or at least two
    themes with n plans each when U <= 1. Extra themes may be tiny."""
    unique = draw(st.integers(0, 4))
    max_run = draw(st.integers(1, 3))
    now = draw(now_st)
    tail = draw(tail_st)
    tail_end = None if tail is None else now + timedelta(minutes=tail)
    horizon_hours = draw(st.integers(1, 4))
    horizon_end = now + timedelta(hours=horizon_hours)
    shortest = draw(st.integers(300, 1800))
    span = (horizon_end - grid_start(now, tail_end)).total_seconds()
    n = max(1, math.ceil(span / shortest))
    needed_themes = max(unique, 2)
    per_theme = math.ceil(n / unique) + 1 if unique >= 2 else n
    extra = draw(st.integers(0, 2))
    pool: list[PlanItem] = []
    for t in range(needed_themes + extra):
        count = per_theme if t < needed_themes else draw(st.integers(1, 3))
        for _ in range(count):
            d = draw(st.integers(shortest, shortest * 3))
            pool.append(plan(len(pool), f"t{t}", d, draw(scores)))
    # The committed tail keeps the guardrails itself (distinct themes, some from the pool).
    tail_themes = draw(
        st.lists(
            st.sampled_from([f"t{t}" for t in range(needed_themes + extra)] + ["x", "y"]),
            unique=True,
            max_size=max(0, unique - 1),
        )
    )
    return pool, now, tail_end, horizon_end, unique, max_run, tail_themes


@given(case=feasible_case())
@PROPERTY
def test_guardrails_hold_whenever_the_pool_allows(case):
    pool, now, tail_end, horizon_end, unique, max_run, tail_themes = case
    grid = plan_grid(
        pool,
        now=now,
        horizon_end=horizon_end,
        committed_tail_end=tail_end,
        card=card(max_run=max_run, unique=unique),
        committed_tail_themes=tail_themes,
    )
    assert_well_formed(grid, pool, grid_start(now, tail_end), horizon_end, 2)
    if grid_start(now, tail_end) < horizon_end:
        assert grid.end_at is not None and grid.end_at >= horizon_end
    themes = [*tail_themes, *(p.theme for p in grid.scheduled)]
    assert guardrail_violations(themes, len(tail_themes), unique, max_run) == []


@given(
    themes=st.integers(1, 8),
    per_hour=st.integers(1, 3),
    horizon_hours=st.integers(1, 6),
    now=now_st,
    data=st.data(),
)
@PROPERTY
def test_every_hour_window_gets_its_reserves_when_the_pool_allows(
    themes, per_hour, horizon_hours, now, data
):
    # Pool condition: after the main grid (at most horizon / shortest plans) at least
    # per_hour plans remain for each of its hour windows (at most horizon hours + 1).
    shortest = 600
    main_max = math.ceil(horizon_hours * 3600 / shortest)
    size = main_max + (horizon_hours + 1) * per_hour
    pool = [
        plan(i, f"t{data.draw(st.integers(0, themes - 1))}", data.draw(st.integers(600, 2400)))
        for i in range(size)
    ]
    horizon_end = now + timedelta(hours=horizon_hours)
    grid = plan_grid(
        pool,
        now=now,
        horizon_end=horizon_end,
        committed_tail_end=None,
        card=card(reserves=per_hour),
    )
    assert_well_formed(grid, pool, now, horizon_end, per_hour)
    per = Counter(p.hour_window for p in grid.reserves)
    assert [per[h] for h in hour_windows(grid.scheduled)] == [per_hour] * len(
        hour_windows(grid.scheduled)
    )


# --- examples -------------------------------------------------------------------------


def test_higher_scores_are_preferred():
    pool = [plan(i, f"t{i % 3}", 900, score=0.9 if i < 3 else 0.2) for i in range(6)]
    grid = plan_grid(
        pool,
        now=NOW,
        horizon_end=NOW + timedelta(minutes=45),
        committed_tail_end=None,
        card=card(reserves=0),
    )
    assert [p.plan_id for p in grid.scheduled] == ["plan-00000", "plan-00001", "plan-00002"]


def test_durations_are_balanced_toward_the_target():
    pool = [
        plan(0, "a", 1700, score=0.9),  # long first: the average is now far above 900 s
        plan(1, "b", 1700, score=0.8),
        plan(2, "b", 225, score=0.8),
        plan(3, "c", 900, score=0.1),
    ]
    grid = plan_grid(
        pool,
        now=NOW,
        horizon_end=NOW + timedelta(minutes=30),
        committed_tail_end=None,
        card=card(unique=2, reserves=0),
    )
    assert [p.plan_id for p in grid.scheduled] == ["plan-00000", "plan-00002"]


def test_the_grid_starts_where_the_committed_timeline_ends():
    pool = [plan(i, f"t{i % 4}") for i in range(20)]
    tail_end = NOW + timedelta(minutes=95)
    grid = plan_grid(
        pool,
        now=NOW,
        horizon_end=NOW + timedelta(hours=4),
        committed_tail_end=tail_end,
        card=card(),
    )
    assert grid.scheduled[0].start_at == tail_end
    # A committed timeline that already ended: the grid starts now.
    grid = plan_grid(
        pool,
        now=NOW,
        horizon_end=NOW + timedelta(hours=4),
        committed_tail_end=NOW - timedelta(hours=1),
        card=card(),
    )
    assert grid.scheduled[0].start_at == NOW


def test_guardrails_continue_across_the_committed_seam():
    pool = [plan(0, "x", score=1.0), plan(1, "y", score=0.5), plan(2, "z", score=0.4)]
    grid = plan_grid(
        pool,
        now=NOW,
        horizon_end=NOW + timedelta(minutes=15),
        committed_tail_end=NOW,
        card=card(unique=3, reserves=0),
        committed_tail_themes=["w", "x"],
    )
    assert [p.theme for p in grid.scheduled] == ["y"]


def test_a_pool_with_one_theme_still_fills_the_grid_without_dead_air():
    pool = [plan(i, "only", 600) for i in range(10)]
    grid = plan_grid(
        pool, now=NOW, horizon_end=NOW + timedelta(hours=1), committed_tail_end=None, card=card()
    )
    assert len(grid.scheduled) == 6
    assert grid.end_at == NOW + timedelta(hours=1)


def test_replanning_reschedules_uncommitted_plans_and_frees_the_rest():
    pool = [plan(i, f"t{i % 4}", 900, score=i / 20) for i in range(20)]
    first = plan_grid(
        pool, now=NOW, horizon_end=NOW + timedelta(hours=2), committed_tail_end=None, card=card()
    )
    # An hour later the first hour was committed; everything else is planned again.
    committed = first.scheduled[:4]
    again_pool = first.scheduled[4:] + first.reserves + first.unplanned
    later = NOW + timedelta(hours=1)
    second = plan_grid(
        again_pool,
        now=later,
        horizon_end=later + timedelta(hours=1),
        committed_tail_end=committed[-1].end_at,
        card=card(),
        committed_tail_themes=[p.theme for p in committed],
    )
    assert second.scheduled[0].start_at == committed[-1].end_at
    assert second.end_at >= later + timedelta(hours=1)
    assert_well_formed(second, again_pool, committed[-1].end_at, later + timedelta(hours=1), 2)
    # Plans that were scheduled or reserved and are left out go back to the pool, now;
    # plans that were plain candidates come back untouched (nothing to persist).
    was = {p.plan_id: p for p in again_pool}
    for p in second.unplanned:
        if was[p.plan_id].state is PlanState.CANDIDATE:
            assert p is was[p.plan_id]
        else:
            assert p.updated_at == later
    assert any(was[p.plan_id].state is not PlanState.CANDIDATE for p in second.unplanned)


def test_reserves_prefer_themes_that_fit_every_slot_of_their_hour():
    # With U=3 the hour airs a, b, c, a; a "d" reserve fits all four slots, while leftover
    # a/b/c plans only fit the slots of their own theme, so d wins despite its lower score.
    pool = [plan(i, t, 900, score=0.9) for i, t in enumerate("abcabc")]
    pool += [plan(10, "a", 900, 0.8), plan(11, "b", 900, 0.8), plan(12, "d", 900, 0.1)]
    grid = plan_grid(
        pool,
        now=NOW,
        horizon_end=NOW + timedelta(hours=1),
        committed_tail_end=None,
        card=card(unique=3, reserves=2),
    )
    assert [p.theme for p in grid.scheduled] == ["a", "b", "c", "a"]
    assert grid.reserves[0].theme == "d"
    assert all(p.hour_window == NOW for p in grid.reserves)


def test_an_hour_in_which_nothing_starts_is_covered_by_the_programme_airing_at_its_top():
    pool = [plan(0, "film", 2 * 3600, score=1.0)] + [plan(i, f"t{i}", 900) for i in range(1, 13)]
    grid = plan_grid(
        pool,
        now=NOW,
        horizon_end=NOW + timedelta(hours=3),
        committed_tail_end=None,
        card=card(reserves=2),
    )
    assert grid.scheduled[0].plan_id == "plan-00000"
    hours = [NOW + timedelta(hours=h) for h in range(3)]
    assert hour_windows(grid.scheduled) == hours
    assert Counter(p.hour_window for p in grid.reserves) == dict.fromkeys(hours, 2)


# --- malformed input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (plan(1, "a", state=PlanState.COMMITTED), "plan-00001 is COMMITTED"),
        (plan(1, "a", duration=0), "plan-00001 has duration 0"),
        (plan(1, "a", duration=math.nan), "plan-00001 has duration nan"),
        (plan(0, "a"), "plan-00000 appears twice"),
    ],
)
def test_a_pool_with_an_unplannable_plan_is_refused_naming_it(bad: PlanItem, message: str):
    with pytest.raises(ValueError, match=message):
        plan_grid(
            [plan(0, "a"), bad],
            now=NOW,
            horizon_end=NOW + timedelta(hours=1),
            committed_tail_end=None,
            card=card(),
        )


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        plan_grid(
            [],
            now=datetime(2026, 3, 1),
            horizon_end=NOW,
            committed_tail_end=None,
            card=card(),
        )


def test_the_inputs_are_not_modified():
    pool = [plan(i, f"t{i % 3}") for i in range(9)]
    before = [attrs.asdict(p) for p in pool]
    plan_grid(
        pool, now=NOW, horizon_end=NOW + timedelta(hours=1), committed_tail_end=None, card=card()
    )
    assert [attrs.asdict(p) for p in pool] == before
