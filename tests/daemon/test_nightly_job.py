"""The nightly job as a whole (SPEC §1.9): retention, the daily report, on Mondays the
weekly report of the ISO week that ended, autotune with an audited explanation; and the
Scheduler handing the reports to cloudsync. Real store, real actors, simulated time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import trio
import trio.testing

from actors.committer import Committer
from actors.context import ChannelContext
from actors.daemon import boot, take_leadership
from actors.discovery import Discovery
from actors.scheduler import Scheduler
from supervisors import ChildSpec, Runtime, Strategy, Supervisor
from supervisors.testing import Probe, Recording
from tests.daemon.harness import make_settings
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.messages import PublishDaily, PublishWeekly
from vvtv.core.model import (
    AuditEvent,
    DailyReport,
    EntryStatus,
    FallbackLevel,
    PipelineMetrics,
    PlanItem,
    QueueEntry,
    new_id,
)
from vvtv.core.settings import Settings
from vvtv.nightly.job import KEY_WEIGHTS, RETENTION_DAYS, run_nightly
from vvtv.store import Store, open_store

# Monday 2026-03-30, 03:00 UTC (the test card's zone is UTC): the nightly job reports on
# Sunday 29 March and, it being Monday, on ISO week 2026-W13 (23–29 March).
MONDAY = date(2026, 3, 30)
NIGHT = utc(2026, 3, 30, 3)
SUNDAY = date(2026, 3, 29)


def _event(at: datetime, event_type: str, **details: object) -> AuditEvent:
    return AuditEvent(event_id=new_id("evt"), at=at, event_type=event_type, details=details)


def seed_week(store: Store, now: datetime) -> None:
    """Daily reports for Monday–Saturday of W13 (and one of the week before, which must
    not count), Sunday's real activity, and rows old enough for retention."""
    for offset in range(7):  # 22 March (W12) .. 28 March (W13)
        day = date(2026, 3, 22) + timedelta(days=offset)
        store.save_daily_report(
            DailyReport(
                date=day,
                generated_at=now - timedelta(days=7 - offset),
                summary={"items_aired": 10, "minutes_aired": 100.0, "qa_checked": 4},
            )
        )
    # Sunday: two items aired at fallback level 0, and two QA results, one failed.
    for i, hour in enumerate((10, 11)):
        store.insert_queue_entry(
            QueueEntry(
                entry_id=f"sunday-{i}",
                asset_id=f"asset-{i}",
                start_at=utc(2026, 3, 29, hour),
                duration_sec=1800.0,
                title=f"Sunday {i}",
                fallback_level=FallbackLevel.MAIN,
                status=EntryStatus.AIRED,
            )
        )
    store.append_audit(_event(utc(2026, 3, 29, 9), "qa_result", passed=True))
    store.append_audit(_event(utc(2026, 3, 29, 9, 30), "qa_result", passed=False))
    # Retention: older than 90 days goes, younger stays.
    old = now - timedelta(days=RETENTION_DAYS + 1)
    young = now - timedelta(days=RETENTION_DAYS - 1)
    store.append_audit(_event(old, "ancient", marker="old"))
    store.append_audit(_event(young, "ancient", marker="young"))
    store.record_metrics(PipelineMetrics(at=old, buffer_minutes=1.0))
    store.record_metrics(PipelineMetrics(at=young, buffer_minutes=2.0))


def candidate_with_quality(now: datetime) -> PlanItem:
    return PlanItem(
        plan_id="plan-crisp",
        source_url="https://videos.example.org/crisp.mp4",
        title="Crisp",
        duration_sec=900.0,
        discovered_at=now - timedelta(days=1),
        quality_signals=2,
    )


async def test_monday_nightly_saves_the_weekly_report_applies_retention_and_audits_autotune(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    with offload.inline():
        ch = await boot(settings, clock=TrioClock(NIGHT))
        try:
            seed_week(ch.store, NIGHT)
            # A candidate with quality signals: the quality weight changes its score.
            ch.store.insert_plans([candidate_with_quality(NIGHT)])
            result = await run_nightly(
                ch.store, ch.cards, ch.clock, ch.tz, MONDAY, settings.exports_dir
            )
            store = ch.store

            # Yesterday's report, from what really aired.
            daily = store.get_daily_report(SUNDAY)
            assert daily is not None
            assert daily.summary["items_aired"] == 2
            assert daily.summary["qa_checked"] == 2
            assert result.export_path.name == "audit-2026-03-29.json"
            assert result.export_path.is_file()

            # The weekly report of W13: six saved days plus Sunday, not 22 March (W12).
            weekly = store.get_weekly_report("2026-W13")
            assert weekly is not None and result.weekly == weekly
            assert weekly.summary["days_reported"] == 7
            assert weekly.summary["items_aired"] == 6 * 10 + 2
            assert weekly.summary["qa_checked"] == 6 * 4 + 2
            assert store.get_weekly_report("2026-W12") is None

            # Retention ran inside it: the 91-day-old event and sample are gone.
            assert result.retention["audit_events"] == 1
            assert result.retention["metric_samples"] == 1
            markers = [e.details["marker"] for e in store.query_audit(event_type="ancient")]
            assert markers == ["young"]
            samples = store.metrics_between(NIGHT - timedelta(days=365), NIGHT)
            assert [m.buffer_minutes for m in samples] == [2.0]

            # Autotune: a 50 % QA pass rate → more weight on quality, bounded by 5 % a day,
            # audited with before/after/deltas. No fallbacks would trim reserves, but the
            # ratio is at the card's own number already: nothing to trim, no delta.
            tuned = store.query_audit(event_type="autotune")
            assert len(tuned) == 1
            details = tuned[0].details
            assert set(details["deltas"]) == {"quality_weight"}
            assert details["after"]["reserve_ratio"] == details["before"]["reserve_ratio"] == 1.0
            assert 0.05 < details["after"]["quality_weight"] <= 0.05 * 1.05
            assert details["deltas"]["quality_weight"]["before"] == 0.05
            assert store.get_live_value(KEY_WEIGHTS) == details["after"]
            assert result.tune_deltas == details["deltas"]

            # And the run itself is in the audit trail with its summary.
            (run,) = store.query_audit(event_type="nightly")
            assert run.details["weekly"] == "2026-W13"
            assert run.details["report_day"] == "2026-03-29"
        finally:
            ch.store.close()


async def test_a_tuesday_nightly_builds_no_weekly_report_and_no_unchanged_autotune_event(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    """Nothing aired yesterday: no signal, weights unchanged, no autotune event."""
    with offload.inline():
        ch = await boot(settings, clock=TrioClock(NIGHT + timedelta(days=1)))
        try:
            tuesday = MONDAY + timedelta(days=1)
            result = await run_nightly(
                ch.store, ch.cards, ch.clock, ch.tz, tuesday, settings.exports_dir
            )
            assert result.weekly is None
            assert ch.store.get_weekly_report("2026-W14") is None
            assert ch.store.get_daily_report(MONDAY) is not None
            assert ch.store.query_audit(event_type="autotune") == []
            assert result.tune_deltas == {}
        finally:
            ch.store.close()


@asynccontextmanager
async def scheduling_with_cloudsync(
    settings: Settings, epoch: datetime, recording: Recording
) -> AsyncIterator[ChannelContext]:
    with offload.inline():
        ch = await boot(settings, clock=TrioClock(epoch), force_nightly=True)
        await take_leadership(ch)
        tree = Supervisor(
            "pipeline",
            [
                ChildSpec("cloudsync", lambda: Probe(recording)),
                ChildSpec("committer", lambda: Committer(ch)),
                ChildSpec("discovery", lambda: Discovery(ch)),
                ChildSpec("scheduler", lambda: Scheduler(ch)),
            ],
            strategy=Strategy.REST_FOR_ONE,
        )
        runtime = Runtime(tree)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(runtime.run)
                try:
                    yield ch
                finally:
                    runtime.shutdown()
        finally:
            ch.store.close()


async def test_the_scheduler_hands_the_daily_and_weekly_reports_to_cloudsync(
    tmp_path: Path, slate_template: Path, autojump_clock: trio.testing.MockClock
) -> None:
    settings = make_settings(tmp_path, slate_template)
    with open_store(settings.state_db) as store:
        seed_week(store, NIGHT)
    recording = Recording()
    async with scheduling_with_cloudsync(settings, NIGHT, recording):
        await recording.wait_until(
            lambda: any(isinstance(m, PublishWeekly) for m in recording.messages("cloudsync")),
            timeout=120,
        )
    sent = recording.messages("cloudsync")
    daily = [m for m in sent if isinstance(m, PublishDaily)]
    weekly = [m for m in sent if isinstance(m, PublishWeekly)]
    assert len(daily) == 1 and len(weekly) == 1
    assert daily[0].day == SUNDAY
    assert daily[0].summary["items_aired"] == 2
    assert weekly[0].week == "2026-W13"
    assert weekly[0].summary["items_aired"] == 62
