"""The curator: finds repetition ahead, proposes fixes, applies them only under policy."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vvtv.air import curator, timeline
from vvtv.air.curator import CuratorAction, CuratorMode, Mode, guardrails
from vvtv.ownercard.card import CuratorPolicy, EditorialProfile

from .helpers import at, back_to_back

EDITORIAL = EditorialProfile(
    target_avg_duration_sec=900, max_consecutive_same_theme=2, min_unique_themes_per_block=1
)
POLICY = CuratorPolicy(
    auto_apply=True,
    min_confidence=0.75,
    max_reorders_per_hour=4,
    lookahead_hours=3,
    frozen_minutes=10,
)
AUTO = CuratorMode()


def ids(entries):
    return [e.entry_id for e in timeline.ordered(entries)]


def themes(entries):
    return [e.theme for e in timeline.ordered(entries)]


def test_a_run_of_one_theme_longer_than_allowed_gets_a_swap():
    entries = back_to_back([600] * 6, themes=["news", "news", "news", "music", "sport", "art"])
    [s] = curator.review(entries, at(0), EDITORIAL, POLICY, AUTO)
    assert s.issue == "same_theme_run" and s.kind == "swap"
    assert s.before == ("e002", "e003") and s.after == ("e003", "e002")
    assert s.confidence == pytest.approx(0.95)
    assert "3 'news' items in a row (max 2)" in s.reason
    fixed = curator.apply(entries, s)
    assert themes(fixed) == ["news", "news", "music", "news", "sport", "art"]


def test_the_item_on_air_and_items_starting_soon_never_move():
    entries = back_to_back([300] * 6, themes=["news", "news", "news", "news", "music", "art"])
    # at 0 s: e000 on air, e001 (5 min) is within the 10 frozen minutes; e002 starts at 10 min
    for s in curator.review(entries, at(0), EDITORIAL, POLICY, AUTO):
        assert not {"e000", "e001"} & set(s.before)


def test_theme_saturation_swaps_in_an_item_from_beyond_the_lookahead():
    loose = EditorialProfile(900, max_consecutive_same_theme=10, min_unique_themes_per_block=1)
    policy = CuratorPolicy(lookahead_hours=1, frozen_minutes=10)
    entries = back_to_back([600] * 8, themes=["news"] * 6 + ["music", "art"])
    [s] = curator.review(entries, at(0), loose, policy, AUTO)
    assert s.issue == "theme_saturation" and s.kind == "swap"
    assert s.entry_ids == ("e005", "e006")
    assert s.confidence < 0.85


def test_two_long_items_back_to_back_get_a_short_one_between_them():
    entries = back_to_back([600, 600, 2000, 2000, 300, 600])
    [s] = curator.review(entries, at(0), EDITORIAL, POLICY, AUTO)
    assert s.issue == "long_block"
    fixed = curator.apply(entries, s)
    assert [e.duration_sec for e in timeline.ordered(fixed)][2:5] == [2000, 300, 2000]


def test_nothing_to_fix_means_no_suggestion_and_off_means_no_review():
    entries = back_to_back([600] * 6, themes=["a", "b", "a", "b", "c", "a"])
    assert curator.review(entries, at(0), EDITORIAL, POLICY, AUTO) == []
    bad = back_to_back([600] * 6, themes=["a", "a", "a", "b", "c", "d"])
    assert curator.review(bad, at(0), EDITORIAL, POLICY, CuratorMode(Mode.OFF)) == []


def test_a_suggestion_recorded_in_the_last_hour_is_not_repeated():
    entries = back_to_back([600] * 6, themes=["news", "news", "news", "music", "sport", "art"])
    [s] = curator.review(entries, at(0), EDITORIAL, POLICY, AUTO)
    recent = [CuratorAction(at(-1800), s, applied=False)]
    assert curator.review(entries, at(0), EDITORIAL, POLICY, AUTO, recent) == []
    older = [CuratorAction(at(-3601), s, applied=False)]
    assert curator.review(entries, at(0), EDITORIAL, POLICY, AUTO, older) == [s]


def test_apply_retimes_the_span_and_leaves_the_rest_alone():
    entries = back_to_back([100, 200, 300, 400, 500])
    s = curator.Suggestion(
        "reorder",
        "test",
        ("e003",),
        ("e001", "e002", "e003"),
        ("e003", "e001", "e002"),
        1,
        "",
        at(0),
    )
    out = timeline.ordered(curator.apply(entries, s))
    assert [e.entry_id for e in out] == ["e000", "e003", "e001", "e002", "e004"]
    assert [(e.start_at - at(0)).total_seconds() for e in out] == [0, 100, 500, 700, 1000]


def test_a_stale_suggestion_is_refused():
    entries = back_to_back([600] * 4)
    s = curator.Suggestion(
        "swap", "t", ("e001", "e002"), ("e001", "e003"), ("e003", "e001"), 1, "", at(0)
    )
    with pytest.raises(ValueError, match="stale curator suggestion"):
        curator.apply(entries, s)
    bad = curator.Suggestion("swap", "t", (), ("e001", "e002"), ("e002", "e009"), 1, "", at(0))
    with pytest.raises(ValueError, match="malformed"):
        curator.apply(entries, bad)


def decide(s, entries, *, mode=AUTO, policy=POLICY, applied=0, now_s=0):
    return curator.decide(
        s, policy, mode, applied, entries=entries, now=at(now_s), editorial=EDITORIAL
    )


def test_decide_applies_only_in_auto_mode_with_auto_apply_confidence_and_budget():
    entries = back_to_back([600] * 6, themes=["news", "news", "news", "music", "sport", "art"])
    [s] = curator.review(entries, at(0), EDITORIAL, POLICY, AUTO)
    assert decide(s, entries).action == "apply"
    assert decide(s, entries, mode=CuratorMode(Mode.ADVISE)).reason == "curator mode is advise"
    assert "auto_apply is off" in decide(s, entries, policy=CuratorPolicy(auto_apply=False)).reason
    strict = CuratorMode(min_confidence=0.97)
    assert "below 0.97" in decide(s, entries, mode=strict).reason
    assert "4 reorders applied in the last hour (max 4)" in decide(s, entries, applied=4).reason
    # ten minutes later the span starts within the frozen minutes
    assert "starts within 10 min" in decide(s, entries, now_s=601).reason


def test_decide_refuses_a_change_that_breaks_a_guardrail():
    entries = back_to_back([600] * 5, themes=["x", "a", "b", "a", "a"])
    s = curator.Suggestion(
        "swap", "t", ("e001", "e002"), ("e001", "e002"), ("e002", "e001"), 0.99, "", at(0)
    )
    assert decide(s, entries).reason == "the change would break a guardrail"


def test_applied_in_last_hour_counts_only_applied_actions_of_the_past_hour():
    s = curator.Suggestion("swap", "t", (), ("a", "b"), ("b", "a"), 1, "", at(0))
    actions = [
        CuratorAction(at(0), s, True),
        CuratorAction(at(100), s, False),
        CuratorAction(at(3000), s, True),
    ]
    assert curator.applied_in_last_hour(actions, at(3500)) == 2
    assert curator.applied_in_last_hour(actions, at(3700)) == 1


@pytest.mark.parametrize(
    ("mode", "limits", "message"),
    [
        ("sometimes", {}, "curator mode must be one of auto, advise, off"),
        ("auto", {"min_confidence": 0.5}, "between the OwnerCard's 0.75 and 1.0"),
        ("auto", {"min_confidence": True}, "min_confidence must be"),
        ("auto", {"max_reorders_per_hour": 9}, "between 0 and the OwnerCard's 4"),
        ("auto", {"max_reorders_per_hour": 1.5}, "max_reorders_per_hour must be an integer"),
        ("auto", {"max_theme_share": 0}, "max_theme_share must be between 0.1 and 1.0"),
        ("auto", {"speed": 3}, "unknown curator limit"),
    ],
)
def test_curator_mode_limits_stay_within_the_owner_cards(mode, limits, message):
    with pytest.raises(ValueError, match=message):
        CuratorMode.from_request(mode, limits, POLICY)


def test_a_valid_curator_mode_request_tightens_the_limits():
    mode = CuratorMode.from_request(
        "advise", {"min_confidence": 0.9, "max_reorders_per_hour": 1}, POLICY
    )
    assert mode.to_dict(POLICY) == {
        "mode": "advise",
        "min_confidence": 0.9,
        "max_reorders_per_hour": 1,
        "max_theme_share": 0.5,
        "auto_apply": True,
    }


THEMES = st.sampled_from(["news", "music", "sport", ""])
queues = st.lists(
    st.tuples(st.sampled_from([120.0, 300.0, 600.0, 900.0, 1500.0, 2400.0]), THEMES),
    min_size=2,
    max_size=25,
)
editorials = st.builds(
    EditorialProfile,
    target_avg_duration_sec=st.sampled_from([300, 900]),
    max_consecutive_same_theme=st.integers(1, 3),
    min_unique_themes_per_block=st.integers(1, 3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queues, editorials, st.floats(0, 1800), st.floats(0, 30), st.floats(0.25, 1))
def test_any_accepted_suggestion_keeps_guardrails_frozen_items_duration_and_contiguity(
    queue, editorial, now_s, frozen, share
):
    entries = back_to_back([d for d, _ in queue], themes=[t for _, t in queue])
    now = at(now_s)
    policy = CuratorPolicy(min_confidence=0.0, lookahead_hours=2, frozen_minutes=frozen)
    mode = CuratorMode(max_theme_share=share)
    for s in curator.review(entries, now, editorial, policy, mode):
        decision = curator.decide(s, policy, mode, 0, entries=entries, now=now, editorial=editorial)
        assert decision.apply, decision.reason  # review only proposes what decide accepts
        after = curator.apply(entries, s)
        ahead_before = timeline.ahead(entries, now)
        ahead_after = timeline.ahead(after, now)
        g0 = guardrails([e.theme for e in ahead_before], editorial)
        g1 = guardrails([e.theme for e in ahead_after], editorial)
        assert g1.no_worse_than(g0)
        limit = now + timedelta(minutes=frozen)
        before_by_id = {e.entry_id: e for e in entries}
        for e in after:
            old = before_by_id[e.entry_id]
            if old.start_at < limit:
                assert e.start_at == old.start_at, "frozen and on-air entries never move"
        assert sorted(ids(after)) == sorted(ids(entries))
        assert sum(e.duration_sec for e in after) == sum(e.duration_sec for e in entries)
        assert timeline.buffer_minutes(after, now) == pytest.approx(
            timeline.buffer_minutes(entries, now)
        )
        seq = timeline.ordered(after)
        for a, b in itertools.pairwise(seq):
            assert abs((b.start_at - a.end_at).total_seconds()) < 1e-3


def test_over_hours_of_review_the_reorders_per_hour_budget_holds():
    pattern = ["news", "news", "news", "news", "music", "sport"] * 30
    entries = back_to_back([300] * len(pattern), themes=pattern)
    actions: list[CuratorAction] = []
    now = at(0)
    while now < at(8 * 3600):
        for s in curator.review(entries, now, EDITORIAL, POLICY, AUTO, actions):
            n = curator.applied_in_last_hour(actions, now)
            decision = curator.decide(
                s, POLICY, AUTO, n, entries=entries, now=now, editorial=EDITORIAL
            )
            if decision.apply:
                entries = curator.apply(entries, s)
            actions.append(CuratorAction(now, s, decision.apply))
        now += timedelta(minutes=2)
    applied = [a.at for a in actions if a.applied]
    assert applied, "the curator did act"
    assert any(not a.applied for a in actions), "some suggestions were only recorded"
    for t in applied:
        window = [x for x in applied if t - timedelta(hours=1) < x <= t]
        assert len(window) <= POLICY.max_reorders_per_hour


def test_every_suggestion_is_audited_with_before_after_score_and_decision():
    entries = back_to_back([600] * 6, themes=["news", "news", "news", "music", "sport", "art"])
    [s] = curator.review(entries, at(0), EDITORIAL, POLICY, AUTO)
    decision = decide(s, entries)
    details = s.audit_details({e.entry_id: e.theme for e in entries}, decision)
    assert details == {
        "kind": "swap",
        "issue": "same_theme_run",
        "entry_ids": ["e002", "e003"],
        "before": ["e002", "e003"],
        "after": ["e003", "e002"],
        "confidence": 0.95,
        "reason": s.reason,
        "decision": "apply",
        "decision_reason": "confidence 0.95 ≥ 0.75",
        "themes_before": ["news", "music"],
        "themes_after": ["music", "news"],
    }
