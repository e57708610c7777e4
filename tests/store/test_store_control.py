"""The daemon's bookkeeping: leader lock with fencing, outbox, counters, alerts, reports,
OwnerCard versions, and the state recovered at boot."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.store.state_builders import T0, asset, entry, minutes, plan, scheduled
from vvtv.core.model import (
    AlertState,
    DailyReport,
    EntryStatus,
    FallbackLevel,
    PlanState,
    QAStatus,
    Severity,
    WeeklyReport,
)
from vvtv.core.signing import AuthError, Verifier, signed_headers
from vvtv.store import FencingError, LiveCounters, Store, open_store

# --- scheduler lock ---------------------------------------------------------------------------


def test_only_one_instance_holds_the_lock_until_its_ttl_expires(store: Store) -> None:
    assert store.acquire_lock("scheduler", "a", T0) == 1
    assert store.acquire_lock("scheduler", "b", T0 + timedelta(seconds=29)) is None
    assert store.acquire_lock("scheduler", "a", T0 + timedelta(seconds=10)) == 1  # holder keeps it
    assert store.acquire_lock("scheduler", "b", T0 + timedelta(seconds=41)) == 2  # expired


def test_renewing_keeps_the_lock_and_a_released_lock_goes_to_the_next_with_a_new_token(
    store: Store,
) -> None:
    token = store.acquire_lock("scheduler", "a", T0, ttl=30)
    assert token is not None
    assert store.renew_lock("scheduler", "a", token, T0 + timedelta(seconds=25))
    assert store.acquire_lock("scheduler", "b", T0 + timedelta(seconds=50)) is None
    assert store.release_lock("scheduler", "a", token)
    assert store.acquire_lock("scheduler", "b", T0 + timedelta(seconds=51)) == token + 1


def test_a_renewal_is_refused_after_expiry_after_release_and_for_another_owner(
    store: Store,
) -> None:
    token = store.acquire_lock("scheduler", "a", T0, ttl=30)
    assert token is not None
    assert not store.renew_lock("scheduler", "b", token, T0 + timedelta(seconds=5))
    assert not store.renew_lock("scheduler", "a", token + 1, T0 + timedelta(seconds=5))
    assert not store.renew_lock("scheduler", "a", token, T0 + timedelta(seconds=30))  # expired
    assert not store.renew_lock("other", "a", token, T0 + timedelta(seconds=5))
    token = store.acquire_lock("scheduler", "a", T0 + timedelta(seconds=31), ttl=30)
    assert token is not None and store.release_lock("scheduler", "a", token)
    assert not store.renew_lock("scheduler", "a", token, T0 + timedelta(seconds=32))
    info = store.lock_info("scheduler")
    assert info is not None and info.owner is None and info.expires_at is None


def test_fencing_refuses_a_stale_leaders_writes(store: Store) -> None:
    old = store.acquire_lock("scheduler", "a", T0)
    assert old is not None and store.check_fence("scheduler", old)
    # "a" stalls past its TTL; "b" takes over
    new = store.acquire_lock("scheduler", "b", T0 + timedelta(seconds=60))
    assert new is not None and new > old
    assert not store.check_fence("scheduler", old)
    assert not store.renew_lock("scheduler", "a", old, T0 + timedelta(seconds=61))
    store.insert_plans([plan("p1")])
    with pytest.raises(FencingError, match="fencing token 1 is stale"), store.transaction():
        store.require_fence("scheduler", old)
        store.transition_plan("p1", PlanState.SCHEDULED, T0)
    assert store.require_plan("p1").state is PlanState.CANDIDATE
    with store.transaction():
        store.require_fence("scheduler", new)
        store.transition_plan("p1", PlanState.SCHEDULED, T0)
    assert store.require_plan("p1").state is PlanState.SCHEDULED


def test_a_stale_leader_cannot_release_the_new_leaders_lock(store: Store) -> None:
    old = store.acquire_lock("scheduler", "a", T0)
    store.acquire_lock("scheduler", "b", T0 + timedelta(minutes=5))
    assert old is not None and not store.release_lock("scheduler", "a", old)
    info = store.lock_info("scheduler")
    assert info is not None and info.owner == "b" and info.token == 2


# --- outbox -------------------------------------------------------------------------------------


def test_outbox_delivers_in_order_and_a_backing_off_head_blocks_the_rest(store: Store) -> None:
    ids = [store.enqueue("webhook", {"n": i}, now=T0) for i in range(3)]
    assert [i.payload["n"] for i in store.due("webhook", T0)] == [0, 1, 2]
    store.mark_failed(ids[0], "HTTP 503", T0 + timedelta(seconds=30), now=T0)
    assert store.due("webhook", T0 + timedelta(seconds=10)) == []
    assert store.next_due_at("webhook") == T0 + timedelta(seconds=30)
    due = store.due("webhook", T0 + timedelta(seconds=30))
    assert [i.id for i in due] == ids and due[0].attempts == 1 and due[0].last_error == "HTTP 503"
    store.mark_delivered(ids[0], now=T0)
    assert store.pending_count("webhook") == 2
    assert store.pending_count("cloud") == 0


def test_a_permanent_failure_stops_blocking_the_queue(store: Store) -> None:
    first = store.enqueue("cloud", {"n": 1}, now=T0)
    store.enqueue("cloud", {"n": 2}, now=T0)
    store.mark_failed(first, "HTTP 400", None, now=T0)
    assert [i.payload["n"] for i in store.due("cloud", T0)] == [2]
    failed = store.get_outbox_item(first)
    assert failed is not None and failed.status == "failed"


def test_dedupe_key_makes_enqueue_idempotent_even_after_delivery(store: Store) -> None:
    first = store.enqueue("cloud", {"date": "2026-03-01"}, dedupe_key="daily:2026-03-01", now=T0)
    store.mark_delivered(first, now=T0)
    again = store.enqueue("cloud", {"date": "x"}, dedupe_key="daily:2026-03-01", now=T0)
    assert again == first and store.pending_count("cloud") == 0


def test_coalescing_replaces_the_pending_item_with_the_latest(store: Store) -> None:
    old = store.enqueue("cloud", {"buffer": 50}, coalesce_key="status", now=T0)
    store.enqueue("cloud", {"daily": 1}, now=T0)
    new = store.enqueue("cloud", {"buffer": 55}, coalesce_key="status", now=T0)
    assert new != old
    assert [i.payload for i in store.due("cloud", T0)] == [{"daily": 1}, {"buffer": 55}]
    store.mark_delivered(old, now=T0)  # a delivery of the replaced payload finishing late
    store.mark_failed(old, "timeout", T0 + minutes(1), now=T0)  # or failing late
    assert store.pending_count("cloud") == 2
    assert store.due("cloud", T0)[-1].attempts == 0


# --- counters, cursors, alert states, reports, card versions --------------------------------


def test_live_counters_persist_and_never_go_backwards(store: Store) -> None:
    assert store.get_live_counters() == LiveCounters(0, 0)
    store.set_live_counters(LiveCounters(media_sequence=120, discontinuity_sequence=7))
    assert store.get_live_counters() == LiveCounters(120, 7)
    with pytest.raises(ValueError, match="must not go backwards"):
        store.set_live_counters(LiveCounters(media_sequence=119, discontinuity_sequence=7))
    store.set_live_value("position", {"entry_id": "e1", "offset_sec": 12.5})
    assert store.get_live_value("position") == {"entry_id": "e1", "offset_sec": 12.5}
    assert store.get_live_value("missing", 3) == 3


def test_cursors_are_named_instants(store: Store) -> None:
    assert store.get_cursor("discovery") is None
    store.set_cursor("discovery", T0)
    store.set_cursor("discovery", T0 + timedelta(hours=1))
    store.set_cursor("nightly", T0)
    assert store.cursors() == {"discovery": T0 + timedelta(hours=1), "nightly": T0}


def test_alert_states_round_trip(store: Store) -> None:
    state = AlertState(
        code="BUFFER_CRITICAL", severity=Severity.CRITICAL, active=True, firing_since=T0
    )
    store.save_alert_states({"BUFFER_CRITICAL": state})
    store.save_alert_state(AlertState(code="QA_PASS_RATE_LOW", severity=Severity.HIGH))
    loaded = store.load_alert_states()
    assert loaded["BUFFER_CRITICAL"] == state and set(loaded) == {
        "BUFFER_CRITICAL",
        "QA_PASS_RATE_LOW",
    }


def test_reports_are_stored_by_date_and_iso_week(store: Store) -> None:
    daily = DailyReport(date=date(2026, 3, 1), generated_at=T0, summary={"aired": 90})
    store.save_daily_report(daily)
    store.save_daily_report(DailyReport(date=date(2026, 3, 1), generated_at=T0, summary={"a": 1}))
    assert store.get_daily_report(date(2026, 3, 1)).summary == {"a": 1}  # type: ignore[union-attr]
    assert store.get_daily_report(date(2026, 3, 2)) is None
    weekly = WeeklyReport(week="2026-W09", generated_at=T0, metrics={"qa": 0.9})
    store.save_weekly_report(weekly)
    assert store.get_weekly_report("2026-W09") == weekly


def test_card_versions_are_recorded_and_audited(store: Store) -> None:
    v1 = store.record_card_version("a" * 64, "schema_version: 1\n", T0, applied_by="startup")
    v2 = store.record_card_version("b" * 64, "x", T0 + minutes(1), diff={"k": {"old": 1}})
    assert v2.id > v1.id and store.latest_card_version() == v2
    assert [v.id for v in store.card_versions()] == [v2.id, v1.id]
    assert store.count_audit(event_type="owner_card_applied") == 2


# --- inputs for the alert rules ----------------------------------------------------------------


def test_qa_pass_rate_and_fallback_rate_over_a_window(store: Store) -> None:
    assert store.qa_pass_rate(T0, T0 + timedelta(days=1)) is None
    for i, status in enumerate([QAStatus.PASSED] * 3 + [QAStatus.REJECTED, QAStatus.PENDING]):
        store.save_asset(asset(f"a{i}", qa_status=status, created_at=T0 + minutes(i)))
    assert store.qa_pass_rate(T0, T0 + timedelta(days=1)) == 0.75
    levels = [FallbackLevel.MAIN, FallbackLevel.RESERVE, FallbackLevel.MAIN, FallbackLevel.SLATE]
    store.insert_queue_entries(
        [entry(f"e{i}", T0 + minutes(10 * i), fallback_level=lv) for i, lv in enumerate(levels)]
    )
    assert store.fallback_rate(T0, T0 + timedelta(hours=1)) == 0.5
    assert store.fallback_rate(T0 - timedelta(days=1), T0) is None
    # What went on air only: e0 (main) aired, e1 (reserve) is airing, e3 (slate) was skipped.
    assert store.fallback_rate(T0, T0 + timedelta(hours=1), aired_only=True) is None
    store.set_entry_status("e0", EntryStatus.AIRED)
    store.set_entry_status("e1", EntryStatus.AIRING)
    store.set_entry_status("e3", EntryStatus.SKIPPED)
    assert store.fallback_rate(T0, T0 + timedelta(hours=1), aired_only=True) == 0.5
    store.set_entry_status("e2", EntryStatus.AIRED)
    assert store.fallback_rate(T0, T0 + timedelta(hours=1), aired_only=True) == 1 / 3


# --- recovery -----------------------------------------------------------------------------------


def test_recover_loads_the_timeline_plans_in_flight_and_bookkeeping(store: Store) -> None:
    store.insert_plans(
        [
            scheduled("next", T0 + minutes(30)),
            scheduled("reserve", T0 + minutes(40), state=PlanState.RESERVED),
            plan("pool"),
            plan("gone", state=PlanState.DROPPED),
        ]
    )
    store.transition_plan("next", PlanState.COMMITTED, T0)
    store.save_asset(asset("asset-e2"))
    store.insert_queue_entries(
        [entry("e1", T0 - minutes(30)), entry("e2", T0 - minutes(5)), entry("e3", T0 + minutes(5))]
    )
    store.set_entry_status("e3", EntryStatus.SKIPPED)
    store.set_cursor("commit", T0)
    store.set_live_counters(LiveCounters(500, 12))
    store.save_alert_state(AlertState(code="X", severity=Severity.HIGH, active=True))
    store.record_card_version("c" * 64, "text", T0)

    state = store.recover(T0)
    assert [e.entry_id for e in state.queue] == ["e2"]
    assert set(state.assets) == {"asset-e2"}
    assert [p.plan_id for p in state.plans_in_flight] == ["next", "reserve"]
    assert state.plan_counts[PlanState.CANDIDATE] == 1
    assert state.cursors == {"commit": T0}
    assert state.live_counters == LiveCounters(500, 12)
    assert state.alert_states["X"].active
    assert state.card_version is not None and state.card_version.sha256 == "c" * 64


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["acquire", "renew", "release"]),
            st.sampled_from(["a", "b", "c"]),
            st.integers(0, 45),  # seconds to advance before the step
        ),
        max_size=25,
    )
)
def test_lock_tokens_only_grow_and_only_the_latest_token_passes_the_fence(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, str, int]]
) -> None:
    s = open_store(tmp_path_factory.mktemp("lock") / "vvtv.db")
    now = T0
    held: dict[str, int] = {}  # owner -> the token it believes it holds
    highest = 0
    for op, owner, advance in steps:
        now += timedelta(seconds=advance)
        if op == "acquire":
            token = s.acquire_lock("scheduler", owner, now)
            if token is not None:
                assert token >= highest
                if token > highest:  # a takeover: every other believer is now stale
                    highest = token
                held[owner] = token
        elif op == "renew" and owner in held:
            if not s.renew_lock("scheduler", owner, held[owner], now):
                assert held[owner] != highest or not s.lock_info("scheduler").held_at(now)  # type: ignore[union-attr]
        elif op == "release" and owner in held:
            s.release_lock("scheduler", owner, held.pop(owner))
        for believer, token in held.items():
            info = s.lock_info("scheduler")
            assert s.check_fence("scheduler", token) == (
                token == highest and info is not None and info.owner == believer
            )
    s.close()


# --- signed control calls ---------------------------------------------------------------------


def test_a_signature_is_remembered_once_and_forgotten_after_the_window(store: Store) -> None:
    assert store.remember_signature("abc", ts=1000, forget_before=700)
    assert not store.remember_signature("abc", ts=1000, forget_before=700)  # a replay
    assert store.remember_signature("def", ts=1001, forget_before=701)
    # 300 s later "abc" is outside the window: dropped, so the table stays small.
    assert store.remember_signature("ghi", ts=1301, forget_before=1001)
    with closing(sqlite3.connect(store.path)) as db:
        rows = db.execute("SELECT signature FROM seen_signatures ORDER BY ts").fetchall()
    assert [r[0] for r in rows] == ["def", "ghi"]


def test_a_replay_is_refused_by_a_new_verifier_on_the_same_database(tmp_path: Path) -> None:
    # What an API restart (or a daemon restart) does: a new Verifier, the same store.
    path = tmp_path / "vvtv.db"
    headers = signed_headers("tok", "sec", "POST", "/v1/control/emergency-mode", b"{}", 5000.0)
    with open_store(path) as first:
        Verifier("tok", "sec", memory=first).verify(
            "POST", "/v1/control/emergency-mode", headers, b"{}", now=5001.0
        )
    with open_store(path) as second:
        verifier = Verifier("tok", "sec", memory=second)
        with pytest.raises(AuthError, match="replayed signature"):
            verifier.verify("POST", "/v1/control/emergency-mode", headers, b"{}", now=5010.0)
