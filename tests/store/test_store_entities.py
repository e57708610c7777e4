"""The store's entities: plans with legal transitions only, assets, the queue, the audit trail."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta

import pytest
from attrs import evolve

from tests.store.state_builders import T0, asset, entry, minutes, plan, scheduled
from vvtv.core.model import (
    AuditEvent,
    EntryStatus,
    FallbackLevel,
    IllegalTransition,
    PipelineMetrics,
    PlanState,
    QAStatus,
    SlotType,
)
from vvtv.store import NotFoundError, Store

# --- plans ------------------------------------------------------------------------------


def test_a_plan_reads_back_exactly_as_written(store: Store) -> None:
    p = scheduled("p1", T0, tags=("calm", "sea"), slot_type=SlotType.MAIN, hour_window=T0)
    assert store.insert_plans([p]) == 1
    assert store.get_plan("p1") == p
    assert store.get_plan("nope") is None


def test_inserting_a_known_plan_id_again_changes_nothing(store: Store) -> None:
    store.insert_plans([plan("p1", title="first")])
    assert store.insert_plans([plan("p1", title="second"), plan("p2")]) == 1
    assert store.require_plan("p1").title == "first"


def test_a_legal_transition_is_written_with_its_audit_event(store: Store) -> None:
    store.insert_plans([plan("p1")])
    moved = store.transition_plan(
        "p1", PlanState.SCHEDULED, T0, actor="discovery", start_at=T0 + minutes(60)
    )
    assert moved.state is PlanState.SCHEDULED and moved.start_at == T0 + minutes(60)
    assert store.require_plan("p1") == moved
    (event,) = store.query_audit(plan_id="p1")
    assert event.event_type == "plan_transition" and event.actor == "discovery"
    assert event.details == {"from": "CANDIDATE", "to": "SCHEDULED"}


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], PlanState.COMMITTED),  # CANDIDATE -> COMMITTED skips planning
        ([], PlanState.AIRED),
        ([PlanState.SCHEDULED, PlanState.COMMITTED], PlanState.SCHEDULED),  # no way back
        ([PlanState.SCHEDULED, PlanState.COMMITTED, PlanState.AIRED], PlanState.DROPPED),
        ([PlanState.DROPPED], PlanState.SCHEDULED),
    ],
)
def test_an_illegal_transition_is_refused_and_nothing_is_written(
    store: Store, path: list[PlanState], illegal: PlanState
) -> None:
    store.insert_plans([plan("p1")])
    for state in path:
        store.transition_plan("p1", state, T0)
    before = store.require_plan("p1")
    audits = store.count_audit()
    with pytest.raises(IllegalTransition, match="is not allowed"):
        store.transition_plan("p1", illegal, T0 + minutes(1))
    assert store.require_plan("p1") == before
    assert store.count_audit() == audits


def test_a_transaction_block_rolls_back_every_write_on_error(store: Store) -> None:
    store.insert_plans([plan("a")])
    with pytest.raises(RuntimeError), store.transaction():
        store.transition_plan("a", PlanState.SCHEDULED, T0)
        store.save_asset(asset("x"))
        raise RuntimeError("boom")
    assert store.require_plan("a").state is PlanState.CANDIDATE
    assert store.get_asset("x") is None


def test_a_failed_nested_block_is_undone_and_the_outer_transaction_carries_on(
    store: Store,
) -> None:
    store.insert_plans([plan("a"), plan("b")])
    with store.transaction():
        store.transition_plan("a", PlanState.SCHEDULED, T0)
        with pytest.raises(RuntimeError), store.transaction():
            store.save_asset(asset("half-done"))
            raise RuntimeError("inner failure")
        store.transition_plan("b", PlanState.RESERVED, T0)
    assert store.get_asset("half-done") is None
    assert store.require_plan("a").state is PlanState.SCHEDULED
    assert store.require_plan("b").state is PlanState.RESERVED


def test_transition_of_an_unknown_plan_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="unknown plan 'ghost'"):
        store.transition_plan("ghost", PlanState.SCHEDULED, T0)


def test_upsert_refuses_a_state_change_that_skips_the_rules(store: Store) -> None:
    store.insert_plans([plan("p1")])
    with pytest.raises(IllegalTransition):
        store.upsert_plan(plan("p1", state=PlanState.AIRED))
    store.upsert_plan(plan("p1", score=0.9))  # same state: a plain update
    assert store.require_plan("p1").score == 0.9


def test_listing_plans_by_state_pages_and_counts(store: Store) -> None:
    store.insert_plans([scheduled(f"s{i}", T0 + minutes(10 * (9 - i))) for i in range(10)])
    store.insert_plans([plan(f"c{i}") for i in range(5)])
    page = store.list_plans([PlanState.SCHEDULED], limit=3, offset=2)
    assert page.total == 10
    assert [p.plan_id for p in page.items] == ["s7", "s6", "s5"]  # by start_at
    everything = store.list_plans(limit=100)
    assert everything.total == 15 and everything.items[0].start_at is None  # unplanned first
    newest = store.list_plans([PlanState.SCHEDULED], limit=2, newest_first=True)
    assert [p.plan_id for p in newest.items] == ["s0", "s1"]
    assert store.list_plans([]).total == 0
    assert store.count_plans()[PlanState.CANDIDATE] == 5
    assert store.count_plans()[PlanState.AIRED] == 0


def test_plans_starting_in_a_window_are_half_open_and_ordered(store: Store) -> None:
    store.insert_plans(
        [
            scheduled("before", T0 - minutes(1)),
            scheduled("first", T0),
            scheduled("reserve", T0 + minutes(30), state=PlanState.RESERVED),
            scheduled("edge", T0 + minutes(240)),
        ]
    )
    window = store.plans_starting_between(T0, T0 + minutes(240))
    assert [p.plan_id for p in window] == ["first", "reserve"]
    only_scheduled = store.plans_starting_between(T0, T0 + minutes(240), [PlanState.SCHEDULED])
    assert [p.plan_id for p in only_scheduled] == ["first"]


def test_reserves_of_the_hour_first_best_score_first_then_the_nearest_hours(
    store: Store,
) -> None:
    hour = T0.replace(minute=0)
    store.insert_plans(
        [
            plan("r1", state=PlanState.RESERVED, hour_window=hour, score=0.5),
            plan("r2", state=PlanState.RESERVED, hour_window=hour, score=0.8),
            plan("later", state=PlanState.RESERVED, hour_window=hour + timedelta(hours=3)),
            plan("next", state=PlanState.RESERVED, hour_window=hour + timedelta(hours=1)),
            plan("main", state=PlanState.SCHEDULED, hour_window=hour),
        ]
    )
    assert [p.plan_id for p in store.reserves_nearest(hour)] == ["r2", "r1", "next", "later"]


def test_a_stored_plan_that_cannot_be_used_is_refused_on_read_by_every_listing(
    store: Store,
) -> None:
    """A row written before durations were checked (``1e12`` s overflows every datetime)
    or whose data no longer loads is never handed to a caller that computes with it."""
    store.insert_plans(
        [
            scheduled("good", T0),
            scheduled("huge", T0 + minutes(10), duration_sec=1e12),
            scheduled("nan", T0 + minutes(20), duration_sec=float("nan")),
            scheduled("broken", T0 + minutes(30)),
            plan("r-huge", state=PlanState.RESERVED, hour_window=T0, duration_sec=1e12),
        ]
    )
    with store.transaction() as c:
        c.execute("UPDATE plans SET data = '{\"plan_id\": 7}' WHERE plan_id = 'broken'")

    page = store.list_plans([PlanState.SCHEDULED])
    assert [p.plan_id for p in page.items] == ["good"] and page.total == 4
    refused = dict(page.refused)
    assert set(refused) == {"huge", "nan", "broken"}
    assert "1e+12 s is over the 172800 s ceiling" in refused["huge"]
    assert "does not load" in refused["broken"]
    assert [p.plan_id for p in store.plans_starting_between(T0, T0 + minutes(60))] == ["good"]
    assert [p.plan_id for p in store.plans_in_flight()] == ["good"]
    assert store.reserves_nearest(T0) == []

    # Refusing them drops them for good, audited with the field, the source and why.
    for plan_id, why in refused.items():
        store.refuse_plan(plan_id, why, T0, actor="discovery")
    assert store.list_plans([PlanState.SCHEDULED]).refused == []
    assert store.require_plan("huge").state is PlanState.DROPPED
    events = {e.plan_id: e for e in store.query_audit(reason_code="ITEM_REJECTED")}
    assert set(events) == {"huge", "nan", "broken"}
    assert events["huge"].details["field"] == "duration_sec"
    assert events["broken"].details["field"] == "data"
    store.refuse_plan("huge", "again", T0)  # already dropped: nothing more happens
    assert len(store.query_audit(reason_code="ITEM_REJECTED")) == 3


def test_is_known_matches_url_or_title_across_everything_ever_stored(store: Store) -> None:
    store.insert_plans([plan("old", state=PlanState.DROPPED)])
    assert store.is_known("example.com/old.mp4", "something else")
    assert store.is_known("other.com/x", "title old")
    assert not store.is_known("other.com/x", "another title")
    assert not store.is_known("", "")


# --- assets -----------------------------------------------------------------------------


def test_an_asset_keeps_its_qa_report(store: Store) -> None:
    a = asset("a1")
    store.save_asset(a)
    assert store.get_asset("a1") == a
    assert store.asset_by_checksum("sha-a1") == a
    assert store.assets_for_plan("plan-of-a1") == [a]
    assert store.get_assets(["a1", "missing"]) == {"a1": a}


def test_the_emergency_pool_holds_passed_eligible_assets_least_recently_aired_first(
    store: Store,
) -> None:
    store.save_asset(asset("aired-long-ago", emergency_eligible=True, last_aired_at=T0))
    store.save_asset(asset("never", emergency_eligible=True))
    store.save_asset(asset("recent", emergency_eligible=True, last_aired_at=T0 + timedelta(days=1)))
    store.save_asset(asset("rejected", emergency_eligible=True, qa_status=QAStatus.REJECTED))
    store.save_asset(asset("not-eligible"))
    pool = [a.asset_id for a in store.emergency_pool()]
    assert pool == ["never", "aired-long-ago", "recent"]
    store.mark_asset_aired("never", T0 + timedelta(days=2))
    assert [a.asset_id for a in store.emergency_pool(limit=2)] == ["aired-long-ago", "recent"]


def test_the_assets_version_moves_with_every_asset_write_and_only_then(store: Store) -> None:
    before = store.assets_version()
    assert store.assets_version() == before  # reading changes nothing
    store.set_live_value("hls_cursor", {"at": "now"})
    store.insert_queue_entries([entry("e1", T0)])
    assert store.assets_version() == before  # other tables do not count
    store.save_asset(asset("a1", emergency_eligible=True))
    saved = store.assets_version()
    assert saved != before
    store.mark_asset_aired("a1", T0)
    assert store.assets_version() != saved
    # Another connection's commit (a second daemon, an ops tool) counts too.
    seen = store.assets_version()
    other = Store.open(store.path)
    try:
        other.save_asset(asset("a2", emergency_eligible=True))
    finally:
        other.close()
    assert store.assets_version() != seen


# --- queue ------------------------------------------------------------------------------


def test_queueing_is_idempotent_per_plan(store: Store) -> None:
    first = entry("e1", T0, plan_id="p1")
    assert store.insert_queue_entries([first]) == [first]
    again = entry("e2", T0 + minutes(10), plan_id="p1")
    assert store.insert_queue_entries([again, first]) == []
    assert [e.entry_id for e in store.queue_after(T0)] == ["e1"]


def test_a_skipped_entry_frees_its_plan_for_a_new_entry(store: Store) -> None:
    store.insert_queue_entry(entry("e1", T0, plan_id="p1"))
    store.set_entry_status("e1", EntryStatus.SKIPPED)
    assert store.insert_queue_entry(entry("e2", T0, plan_id="p1"))
    assert store.insert_queue_entry(entry("e3", T0, plan_id=None))  # emergency fill, no plan
    assert store.insert_queue_entry(entry("e4", T0, plan_id=None))


def test_the_timeline_after_t_holds_entries_still_ending_after_t(store: Store) -> None:
    store.insert_queue_entries(
        [
            entry("past", T0 - minutes(20)),  # ends at T0 - 10
            entry("on-air", T0 - minutes(5)),  # ends at T0 + 5
            entry("next", T0 + minutes(5), fallback_level=FallbackLevel.RESERVE),
            entry("skipped", T0 + minutes(15)),
        ]
    )
    store.set_entry_status("skipped", EntryStatus.SKIPPED)
    assert [e.entry_id for e in store.queue_after(T0)] == ["on-air", "next"]
    assert len(store.queue_after(T0, include_skipped=True)) == 3
    assert [e.entry_id for e in store.queue_between(T0, T0 + minutes(60))] == ["next"]


def test_retimed_entries_are_replaced_in_one_transaction(store: Store) -> None:
    store.insert_queue_entries([entry("a", T0), entry("b", T0 + minutes(10))])
    a, b = store.queue_after(T0)
    store.update_queue_entries([evolve(b, start_at=T0), evolve(a, start_at=T0 + minutes(10))])
    assert [e.entry_id for e in store.queue_after(T0)] == ["b", "a"]
    with pytest.raises(NotFoundError):
        store.update_queue_entries([evolve(a, entry_id="ghost")])


# --- audit ------------------------------------------------------------------------------


def event(i: int, at_minutes: float, **kw: object) -> AuditEvent:
    return AuditEvent(
        event_id=f"ev{i}",
        at=T0 + minutes(at_minutes),
        event_type="test",
        **kw,  # type: ignore[arg-type]
    )


def test_audit_queries_filter_by_time_type_reason_and_plan(store: Store) -> None:
    store.append_audit_many(
        [
            event(1, 0, reason_code="DISCOVERY_FAILED_DOMAIN", details={"domain": "a.com"}),
            event(2, 10, plan_id="p1"),
            event(3, 20, reason_code="DISCOVERY_FAILED_DOMAIN"),
        ]
    )
    assert [e.event_id for e in store.query_audit(since=T0 + minutes(5))] == ["ev2", "ev3"]
    assert [e.event_id for e in store.query_audit(until=T0 + minutes(10))] == ["ev1"]
    assert store.count_audit(reason_code="DISCOVERY_FAILED_DOMAIN") == 2
    assert store.count_audit(reason_code="DISCOVERY_FAILED_DOMAIN", since=T0 + minutes(1)) == 1
    assert store.query_audit(plan_id="p1")[0].event_id == "ev2"
    assert store.query_audit(event_type="test", limit=1)[0].details == {"domain": "a.com"}


def test_the_audit_trail_is_append_only(store: Store) -> None:
    store.append_audit(event(1, 0))
    conn = store.db.conn
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_events SET event_type = 'forged'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_events")
    assert store.count_audit() == 1


def test_export_writes_the_days_events_as_a_json_array_ordered_by_time(
    store: Store, tmp_path
) -> None:
    day_start = T0.replace(hour=0)
    store.append_audit_many(
        [
            AuditEvent("late", day_start + timedelta(hours=23, minutes=59), "x"),
            AuditEvent("early", day_start, "x", details={"n": 1}),
            AuditEvent("next-day", day_start + timedelta(days=1), "x"),
            AuditEvent("prev-day", day_start - timedelta(seconds=1), "x"),
        ]
    )
    path = store.export_audit(date(2026, 3, 1), tmp_path / "exports")
    assert path.name == "audit-2026-03-01.json"
    doc = json.loads(path.read_text())
    assert [e["event_id"] for e in doc] == ["early", "late"]
    assert doc[0]["at"] == "2026-03-01T00:00:00Z" and doc[0]["details"] == {"n": 1}
    empty = json.loads(store.export_audit(date(2020, 1, 1), tmp_path / "exports").read_text())
    assert empty == []


def test_retention_drops_only_audit_and_samples_older_than_90_days(store: Store) -> None:
    now = T0 + timedelta(days=100)
    store.append_audit_many(
        [AuditEvent(f"old{i}", T0 + timedelta(minutes=i), "x") for i in range(7)]
        + [AuditEvent("new", now - timedelta(days=89), "x")]
    )
    store.record_metrics(PipelineMetrics(at=T0))
    store.record_metrics(PipelineMetrics(at=now, buffer_minutes=55.0))
    counts = store.apply_retention(now, days=90)
    assert (counts.audit_events, counts.metric_samples) == (7, 1)
    assert [e.event_id for e in store.query_audit()] == ["new"]
    assert store.latest_metrics().buffer_minutes == 55.0  # type: ignore[union-attr]
    # the append-only guard is back in force after retention
    with pytest.raises(sqlite3.IntegrityError):
        store.db.conn.execute("DELETE FROM audit_events")


def test_probe_rejections_are_remembered_by_url_and_expire_with_retention(store: Store) -> None:
    store.remember_probe_rejections(
        [
            ("https://a.example/sd.mp4", "HD_NOT_CONFIRMED", "480p"),
            ("https://b.example/x.mp4", "HD_NOT_CONFIRMED", "360p"),
            ("", "X", "no url"),
        ],
        T0,
    )
    assert store.probe_rejected_since("https://a.example/sd.mp4", T0)
    assert not store.probe_rejected_since("https://a.example/sd.mp4", T0 + timedelta(seconds=1))
    assert not store.probe_rejected_since("https://a.example/other.mp4", T0 - timedelta(days=1))
    assert not store.probe_rejected_since("", T0 - timedelta(days=1))
    # The latest verdict wins: b, looked at again later, outlives the retention.
    later = T0 + timedelta(days=95)
    store.remember_probe_rejections([("https://b.example/x.mp4", "DURATION_UNKNOWN", "?")], later)
    counts = store.apply_retention(T0 + timedelta(days=100), days=90)
    assert counts.probe_rejections == 1
    assert not store.probe_rejected_since("https://a.example/sd.mp4", T0)
    assert store.probe_rejected_since("https://b.example/x.mp4", later)


def test_metric_samples_by_range_and_baseline(store: Store) -> None:
    for h in range(5):
        store.record_metrics(PipelineMetrics(at=T0 + timedelta(hours=h), fallback_rate=h / 10))
    assert len(store.metrics_between(T0, T0 + timedelta(hours=2))) == 2
    base = store.latest_metrics(at_or_before=T0 + timedelta(hours=2, minutes=30))
    assert base is not None and base.fallback_rate == 0.2


def test_audit_details_store_datetimes_and_enums_in_their_json_shape(store: Store) -> None:
    store.append_audit(
        AuditEvent("e1", T0, "x", details={"at": T0, "state": PlanState.AIRED, "n": 1})
    )
    (e,) = store.query_audit()
    assert e.details == {"at": "2026-03-01T12:00:00Z", "state": "AIRED", "n": 1}
    with pytest.raises(TypeError, match="not JSON-able"):
        store.append_audit(AuditEvent("e2", T0, "x", details={"bad": object()}))
    assert store.count_audit() == 1
