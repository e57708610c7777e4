"""Each metric says what it counts (issue 17): the HELP text of the original's seven gauges
names the span the value really covers, checked against the value the channel computes
from a state database with history on both sides of that span."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from vvtv.core.audit import AuditType
from vvtv.core.clock import utc
from vvtv.core.model import (
    AuditEvent,
    EntryStatus,
    FallbackLevel,
    PlanItem,
    PlanState,
    QueueEntry,
    new_id,
)
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.stats import pipeline_metrics
from vvtv.store import Store

NOW = utc(2026, 4, 2, 12)
OLD = NOW - timedelta(hours=30)  # before the last 24 hours
RECENT = NOW - timedelta(hours=2)


def _plan(i: int, at: datetime) -> PlanItem:
    return PlanItem(
        plan_id=f"plan-{i}",
        source_url=f"https://videos.example.org/{i}.mp4",
        title=f"Programme {i}",
        duration_sec=600.0,
        discovered_at=at,
    )


def _event(at: datetime, kind: AuditType, reason: str = "") -> AuditEvent:
    return AuditEvent(event_id=new_id("evt"), at=at, event_type=kind, reason_code=reason)


def _aired(at: datetime, level: FallbackLevel) -> QueueEntry:
    return QueueEntry(
        entry_id=new_id("q"),
        asset_id=new_id("a"),
        start_at=at,
        duration_sec=600.0,
        title="aired",
        fallback_level=level,
        status=EntryStatus.AIRED,
    )


def seed_history(store: Store) -> None:
    """Two discovery windows (30 h and 2 h ago), and on each side of the 24-hour line:
    QA results, curator actions, disruptions and aired items."""
    store.insert_plans([_plan(i, OLD) for i in range(3)] + [_plan(i, RECENT) for i in (3, 4)])
    store.transition_plan("plan-0", PlanState.SCHEDULED, OLD, actor="test")
    store.transition_plan("plan-0", PlanState.COMMITTED, OLD, actor="test")
    store.transition_plan("plan-0", PlanState.AIRED, OLD, actor="test")
    store.transition_plan("plan-3", PlanState.SCHEDULED, RECENT, actor="test")
    store.transition_plan("plan-3", PlanState.COMMITTED, RECENT, actor="test")
    store.transition_plan("plan-1", PlanState.SCHEDULED, OLD, actor="test")
    store.transition_plan("plan-1", PlanState.COMMITTED, OLD, actor="test")
    store.transition_plan("plan-1", PlanState.DROPPED, OLD, actor="test")  # fetch failed
    store.append_audit_many(
        [
            _event(OLD, AuditType.QA_RESULT, "QA_REJECTED"),
            _event(OLD, AuditType.QA_RESULT, "QA_REJECTED"),
            _event(RECENT, AuditType.QA_RESULT, "QA_PASSED"),
            _event(RECENT, AuditType.QA_RESULT, "QA_PASSED"),
            _event(RECENT, AuditType.QA_RESULT, "QA_PASSED"),
            _event(RECENT, AuditType.QA_RESULT, "QA_REJECTED"),
            _event(OLD, AuditType.CURATOR_APPLIED),
            _event(RECENT, AuditType.CURATOR_APPLIED),
            _event(OLD, AuditType.STREAM_DISRUPTION),
            _event(OLD, AuditType.STREAM_DISRUPTION),
            _event(RECENT, AuditType.STREAM_DISRUPTION),
        ]
    )
    for at, level in (
        (OLD, FallbackLevel.SLATE),
        (OLD, FallbackLevel.RESERVE),
        (RECENT, FallbackLevel.MAIN),
        (RECENT, FallbackLevel.MAIN),
        (RECENT, FallbackLevel.MAIN),
        (RECENT, FallbackLevel.EMERGENCY_POOL),
    ):
        store.insert_queue_entry(_aired(at, level))


def exposed(metrics: ChannelMetrics) -> dict[str, tuple[str, float]]:
    families = text_string_to_metric_families(metrics.render().decode())
    return {f.name: (f.documentation, f.samples[0].value) for f in families if f.samples}


def test_each_original_gauge_says_the_span_it_counts(store: Store) -> None:
    seed_history(store)
    metrics = ChannelMetrics(process_metrics=False)
    metrics.record(pipeline_metrics(store, NOW, buffer_minutes=42.0))
    metrics.buffer_minutes.set(42.0)
    shown = exposed(metrics)

    # name: (what the value must be, words its HELP must use)
    expected = {
        # all time: both discovery windows; plans are never deleted
        "vvtv_plans_created": (5, ("since the state database was created", "all time")),
        # all time, committed and not dropped since (plan-0 aired, plan-3 committed;
        # plan-1 was committed then dropped)
        "vvtv_plans_committed": (2, ("COMMITTED or AIRED now", "all time")),
        # the last 24 hours only: the two rejections 30 h ago do not count
        "vvtv_qa_pass_rate": (0.75, ("last 24 hours",)),
        "vvtv_fallback_rate": (0.25, ("last 24 hours",)),
        "vvtv_curator_actions": (1, ("last 24 hours",)),
        "vvtv_stream_disruptions": (1, ("last 24 hours",)),
        "vvtv_buffer_minutes": (42.0, ("ahead of the playhead",)),
    }
    for name, (value, words) in expected.items():
        help_text, seen = shown[name]
        assert seen == value, name
        for word in words:
            assert word in help_text, f"{name}: HELP {help_text!r} does not say {word!r}"
        assert "latest window" not in help_text, name


def test_no_metric_help_claims_a_window_it_does_not_have() -> None:
    """ "latest window" was said of all-time totals; no metric of the channel is a gauge of
    one scheduler window, so none may say so."""
    metrics = ChannelMetrics(process_metrics=False)
    for family in text_string_to_metric_families(metrics.render().decode()):
        assert "window" not in family.documentation.replace("Scheduler windows", ""), (
            family.name,
            family.documentation,
        )
