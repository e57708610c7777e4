"""Emergency mode: hysteresis, operator override, filling from the pool then the slate."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vvtv.air import emergency, timeline
from vvtv.air.emergency import EmergencyState
from vvtv.core.audit import AuditType
from vvtv.core.model import FallbackLevel, SlotType

from .helpers import T0, asset, at, back_to_back, entry

CRIT, TARGET = 20, 60


def run(state, buffers):
    """Step through buffer readings; return the active flag after each and the transitions."""
    flags, transitions = [], []
    for i, b in enumerate(buffers):
        state, tr = emergency.step(state, b, CRIT, TARGET, at(i))
        flags.append(state.active)
        if tr:
            transitions.append(tr.kind)
    return state, flags, transitions


def test_enters_below_critical_and_exits_only_back_at_target():
    _, flags, transitions = run(EmergencyState(), [30, 21, 19.9, 25, 59.9, 60, 40, 20])
    assert flags == [False, False, True, True, True, False, False, False]
    assert transitions == ["entered", "exited"]


def test_entering_records_when_and_why():
    state, tr = emergency.step(EmergencyState(), 5.0, CRIT, TARGET, at(7))
    assert state.active and state.entered_at == at(7)
    assert "below critical" in state.reason
    assert tr.event_type == AuditType.EMERGENCY_ENTERED
    assert tr.audit_details()["buffer_minutes"] == 5.0


def test_operator_override_on_holds_until_released_even_with_a_full_buffer():
    state, tr = emergency.set_override(EmergencyState(), True, at(0))
    assert state.active and tr.kind == "entered"
    state, flags, transitions = run(state, [120, 120, 120])
    assert flags == [True, True, True] and transitions == []
    state, tr = emergency.set_override(state, None, at(10))
    assert tr is None and state.active  # release: the buffer decides at the next step
    state, tr = emergency.step(state, 120, CRIT, TARGET, at(11))
    assert not state.active and tr.kind == "exited"


def test_operator_override_off_holds_even_with_an_empty_buffer():
    state, _ = emergency.step(EmergencyState(), 0, CRIT, TARGET, at(0))
    state, tr = emergency.set_override(state, False, at(1))
    assert not state.active and tr.kind == "exited"
    state, flags, _ = run(state, [0, 0, 0])
    assert flags == [False, False, False]
    state, _ = emergency.set_override(state, None, at(5))
    state, tr = emergency.step(state, 0, CRIT, TARGET, at(6))
    assert state.active and tr.kind == "entered"


def test_toggle_flips_the_current_mode():
    state, _ = emergency.set_override(EmergencyState(), None, at(0), toggle=True)
    assert state.active and state.override is True
    state, _ = emergency.set_override(state, None, at(1), toggle=True)
    assert not state.active and state.override is False


@pytest.mark.parametrize(
    ("buf", "crit", "target", "message"),
    [
        (10, 60, 60, "critical minutes must be lower than target"),
        (10, -1, 60, "critical minutes must be a number >= 0"),
        (float("nan"), 20, 60, "buffer_minutes must be a finite number"),
    ],
)
def test_step_refuses_bad_input(buf, crit, target, message):
    with pytest.raises(ValueError, match=message):
        emergency.step(EmergencyState(), buf, crit, target, at(0))


def test_bad_override_value_is_refused():
    with pytest.raises(ValueError, match="override must be true, false or null"):
        emergency.set_override(EmergencyState(), "yes", at(0))


@settings(deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=200), max_size=60))
def test_hysteresis_never_flaps_between_critical_and_target(buffers):
    state = EmergencyState()
    for i, b in enumerate(buffers):
        before = state.active
        state, tr = emergency.step(state, b, CRIT, TARGET, at(i))
        if tr and tr.kind == "entered":
            assert not before and b < CRIT
        if tr and tr.kind == "exited":
            assert before and b >= TARGET
        if CRIT <= b < TARGET:
            assert state.active == before


# --- filling ---------------------------------------------------------------------

SLATE = asset("slate", 30)


def test_fill_gap_uses_the_pool_least_recently_aired_first():
    pool = [
        asset("recent", 300, last_aired_s=-100),
        asset("old", 300, last_aired_s=-5000),
        asset("never", 300),
    ]
    fillers = emergency.fill_gap([], T0, 15, pool, SLATE)
    assert [f.asset_id for f in fillers] == ["never", "old", "recent"]
    assert all(f.fallback_level is FallbackLevel.EMERGENCY_POOL for f in fillers)
    assert all(f.slot_type is SlotType.EMERGENCY for f in fillers)
    assert [f.start_at for f in fillers] == [at(0), at(300), at(600)]


def test_fill_gap_starts_at_the_end_of_the_timeline_and_reaches_the_horizon():
    entries = back_to_back([300, 300])
    fillers = emergency.fill_gap(entries, at(60), 20, [asset("p", 240)], SLATE)
    assert fillers[0].start_at == at(600)
    combined = entries + fillers
    assert timeline.buffer_minutes(combined, at(60)) >= 20


def test_fill_gap_never_repeats_an_asset_back_to_back_when_the_pool_has_a_choice():
    pool = [asset("a", 100), asset("b", 100, last_aired_s=-10)]
    entries = [entry("x", 0, 50, asset="a")]  # "a" just aired: "b" must follow
    fillers = emergency.fill_gap(entries, at(10), 10, pool, SLATE)
    ids = ["a"] + [f.asset_id for f in fillers]
    assert all(x != y for x, y in itertools.pairwise(ids))


def test_a_single_asset_pool_may_repeat():
    fillers = emergency.fill_gap([], T0, 10, [asset("only", 120)], SLATE)
    assert [f.asset_id for f in fillers] == ["only"] * 5


def test_with_an_empty_pool_the_slate_loops():
    fillers = emergency.fill_gap([], T0, 2, [], SLATE)
    assert [f.asset_id for f in fillers] == ["slate"] * 4
    assert all(f.fallback_level is FallbackLevel.SLATE for f in fillers)
    assert fillers[-1].end_at == at(120)


def test_every_filler_shows_a_title_never_an_asset_id():
    import attrs

    pool = [
        asset("a1", 60),  # its plan's title is given
        attrs.evolve(asset("a2", 60), source_url="file:///media/demo/night_drift.mp4"),
        attrs.evolve(asset("a3", 60), source_url="https://cdn.example.com/"),
    ]
    fillers = emergency.fill_gap([], T0, 4, pool, SLATE, titles={"a1": "Harbour at dawn"})
    titles = {f.asset_id: f.title for f in fillers}
    assert titles == {"a1": "Harbour at dawn", "a2": "night drift", "a3": "Rerun"}
    assert emergency.cover_playhead([], T0, SLATE).title == "Slate"
    assert emergency.fill_gap([], T0, 1, [], SLATE)[0].title == "Slate"


def test_assets_that_did_not_pass_qa_never_air():
    fillers = emergency.fill_gap([], T0, 5, [asset("bad", 60, passed=False)], SLATE)
    assert {f.asset_id for f in fillers} == {"slate"}


def test_a_hole_too_short_for_the_pool_gets_the_slate_cut_to_fit():
    entries = [entry("a", 0, 100), entry("b", 120, 600)]
    fillers = emergency.fill_gap(entries, at(10), 5, [asset("p", 300)], SLATE)
    assert len(fillers) == 1
    assert fillers[0].asset_id == "slate"
    assert fillers[0].start_at == at(100) and fillers[0].end_at == at(120)


def test_dead_air_is_covered_by_the_slate_whatever_the_mode():
    entries = [entry("late", 20, 600)]
    slate = emergency.cover_playhead(entries, T0, SLATE)
    assert slate is not None and slate.start_at == T0 and slate.duration_sec == 20
    assert slate.fallback_level is FallbackLevel.SLATE
    assert timeline.now_playing([*entries, slate], T0).entry is slate
    assert emergency.cover_playhead(back_to_back([60]), T0, SLATE) is None


def test_a_slate_shorter_than_a_second_is_refused():
    with pytest.raises(ValueError, match=r"slate slate has duration 0\.5 s"):
        emergency.fill_gap([], T0, 5, [], asset("slate", 0.5))


def test_negative_horizon_is_refused():
    with pytest.raises(ValueError, match="horizon_minutes must be >= 0"):
        emergency.fill_gap([], T0, -1, [], SLATE)


pools = st.lists(st.tuples(st.floats(min_value=1, max_value=900), st.booleans()), max_size=6).map(
    lambda xs: [asset(f"p{i}", d, passed=ok) for i, (d, ok) in enumerate(xs)]
)
timelines = st.lists(
    st.tuples(st.floats(min_value=0, max_value=1800), st.floats(min_value=1, max_value=900)),
    max_size=6,
).map(lambda xs: [entry(f"t{i}", s, d) for i, (s, d) in enumerate(xs)])


@settings(deadline=None)
@given(timelines, pools, st.floats(min_value=0, max_value=120), st.floats(0, 3600))
def test_after_fill_gap_the_air_is_covered_up_to_the_horizon(entries, pool, horizon, now_s):
    now = at(now_s)
    fillers = emergency.fill_gap(entries, now, horizon, pool, SLATE)
    combined = entries + fillers
    assert timeline.buffer_minutes(combined, now) >= horizon - 1e-6
    # existing entries never move, and pool fillers never overlap what follows them
    assert all(e in combined for e in entries)
    for f in fillers:
        assert f.start_at >= now - timedelta(seconds=1)
        if f.fallback_level is FallbackLevel.EMERGENCY_POOL:
            assert any(a.asset_id == f.asset_id and a.qa_status.value == "PASSED" for a in pool)


# --- the tick ----------------------------------------------------------------------


def tick(entries, now, state, pool=(), slate=SLATE):
    return emergency.keep_on_air(
        entries, now, state, critical=CRIT, target=TARGET, pool=list(pool), slate=slate
    )


def test_an_empty_channel_gets_the_slate_at_once_enters_emergency_and_is_filled():
    plan = tick([], T0, EmergencyState(), pool=[asset("p", 300)])
    assert plan.transition.kind == "entered"
    assert plan.added[0].asset_id == "slate" and plan.added[0].start_at == T0
    assert plan.buffer_minutes >= CRIT + 5


def test_long_pool_assets_never_end_an_emergency_by_themselves():
    state = EmergencyState()
    entries: list = []
    for k in range(0, 3 * 3600, 60):
        plan = tick(entries, at(k), state, pool=[asset("long", 3000), asset("long2", 2900)])
        state = plan.state
        entries += plan.added
        assert state.active, f"left emergency at {k} s with only fillers queued"


def test_a_full_timeline_of_main_content_needs_nothing():
    entries = back_to_back([600] * 12)
    plan = tick(entries, at(0), EmergencyState())
    assert plan.added == () and plan.transition is None and not plan.state.active


def test_trailing_fillers_that_have_not_started_make_way_for_main_content():
    main = entry("m", 0, 300)
    on_air = entry("f0", 300, 60, level=FallbackLevel.EMERGENCY_POOL)
    queued = [
        entry("f1", 360, 60, level=FallbackLevel.EMERGENCY_POOL),
        entry("f2", 420, 30, level=FallbackLevel.SLATE),
    ]
    kept, dropped = timeline.drop_trailing_fallback([main, on_air, *queued], at(310))
    assert [e.entry_id for e in kept] == ["m", "f0"]
    assert dropped == queued
    new = timeline.append(kept, at(310), asset_id="x", title="X", duration_sec=600)
    assert new.start_at == at(360)
