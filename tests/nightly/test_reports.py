"""Daily and weekly reports: what aired, how, and how the pipeline did."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

from tests.air.helpers import entry
from vvtv.core.clock import utc
from vvtv.core.model import AuditEvent, EntryStatus, FallbackLevel, PipelineMetrics
from vvtv.nightly import reports

DAY = date(2026, 3, 2)
MIDNIGHT = utc(2026, 3, 2)


def s(seconds: float) -> float:
    """Seconds after midnight of DAY, as an offset for ``entry``'s T0 (12:00)."""
    return seconds - 12 * 3600


def ev(event_type: str, seconds: float, reason: str = "", **details) -> AuditEvent:
    return AuditEvent(
        event_id=f"ev-{event_type}-{seconds}",
        at=MIDNIGHT + timedelta(seconds=seconds),
        event_type=event_type,
        reason_code=reason,
        details=details,
    )


def sample(seconds: float, buffer: float, disruptions: int = 0) -> PipelineMetrics:
    return PipelineMetrics(
        at=MIDNIGHT + timedelta(seconds=seconds),
        buffer_minutes=buffer,
        qa_pass_rate=0.5,
        stream_disruptions=disruptions,
    )


NOW = utc(2026, 3, 3, 3)


def test_daily_report_summarises_what_aired():
    aired = [
        entry("before", s(-600), 1200),  # from 23:50 the day before: 10 min count
        entry("a", s(600), 600),
        entry("b", s(1200), 900, level=FallbackLevel.RESERVE),
        entry("c", s(2400), 300, level=FallbackLevel.SLATE),  # 5 min of dead air before it
        attrs.evolve(entry("skip", s(5000), 600), status=EntryStatus.SKIPPED),
    ]
    aired[2] = attrs.evolve(aired[2], slot_type="RESERVE")
    r = reports.daily_report(DAY, aired, [], [], NOW)
    assert r.date == DAY and r.generated_at == NOW
    sm = r.summary
    assert sm["items_aired"] == 3
    assert sm["minutes_aired"] == pytest.approx(10 + 10 + 15 + 5)
    assert sm["minutes_by_slot_type"] == {"MAIN": 20.0, "RESERVE": 15.0, "EMERGENCY": 5.0}
    assert sm["minutes_by_fallback_level"] == {"0": 20.0, "1": 15.0, "2": 0.0, "3": 5.0}
    assert sm["dead_air_seconds"] == pytest.approx(300)
    assert sm["fallback_rate"] == pytest.approx(2 / 3, abs=1e-4)


def test_daily_report_reads_emergency_qa_discovery_and_curator_from_the_audit_trail():
    events = [
        ev("emergency_exited", 600),  # emergency carried over from the previous day
        ev("emergency_entered", 3600),
        ev("emergency_exited", 3600 + 1800),
        ev("emergency_entered", 86400 - 600),  # still on at midnight
        ev("qa_result", 100, passed=True),
        ev("qa_result", 200, passed=True),
        ev("qa_result", 300, passed=False),
        ev("discovery_failed", 400, "DISCOVERY_FAILED_DOMAIN", domain="a.example"),
        ev("discovery_failed", 500, "DISCOVERY_FAILED_DOMAIN", domain="a.example"),
        ev("discovery_failed", 86400 + 5, "DISCOVERY_FAILED_DOMAIN", domain="next.day"),
        ev("curator_suggested", 700),
        ev("curator_suggested", 800),
        ev("curator_applied", 800),
    ]
    sm = reports.daily_report(DAY, [], events, [], NOW).summary
    assert sm["emergency_minutes"] == pytest.approx(10 + 30 + 10)
    assert sm["qa_pass_rate"] == pytest.approx(0.6667)
    assert sm["qa_checked"] == 3
    assert sm["discovery_failures"] == 2
    assert sm["discovery_failures_by_domain"] == {"a.example": 2}
    assert sm["curator_suggestions"] == 2 and sm["curator_actions"] == 1


def test_an_emergency_still_open_counts_until_now():
    events = [ev("emergency_entered", 3600)]
    sm = reports.daily_report(DAY, [], events, [], MIDNIGHT + timedelta(hours=2)).summary
    assert sm["emergency_minutes"] == pytest.approx(60)


def test_daily_metrics_come_from_the_samples_of_the_day():
    samples = [
        sample(-10, 1.0),
        sample(60, 50.0, 0),
        sample(120, 20.0, 2),
        sample(180, 80.0, 1),  # a restart reset the counter
    ]
    r = reports.daily_report(DAY, [], [], samples, NOW)
    assert r.metrics["samples"] == 3
    assert r.metrics["buffer_minutes_min"] == 20.0
    assert r.metrics["buffer_minutes_avg"] == pytest.approx(50.0)
    assert r.metrics["buffer_minutes_max"] == 80.0
    assert r.metrics["stream_disruptions"] == 3
    assert r.summary["qa_pass_rate"] == 0.5  # no QA events: the samples' average


def test_a_local_day_follows_the_time_zone():
    paris = ZoneInfo("Europe/Paris")
    lo, hi = reports.day_bounds(date(2026, 3, 29), paris)  # DST starts: a 23 h day
    assert (hi - lo) == timedelta(hours=23)
    aired = [entry("late", s(23 * 3600 + 1800), 600)]  # 23:30 UTC = 00:30 Paris next day
    assert reports.daily_report(DAY, aired, [], [], NOW, tz=paris).summary["items_aired"] == 0
    assert reports.daily_report(DAY, aired, [], [], NOW).summary["items_aired"] == 1


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        reports.daily_report(DAY, [], [], [], NOW.replace(tzinfo=None))


def test_weekly_report_adds_up_the_days_of_the_week():
    def day_report(d: date, items: int, qa: float, checked: int, bmin: float, n: int):
        return reports.DailyReport(
            date=d,
            generated_at=NOW,
            summary={
                "items_aired": items,
                "minutes_aired": items * 10.0,
                "minutes_by_slot_type": {"MAIN": items * 10.0},
                "dead_air_seconds": 5,
                "emergency_minutes": 1.5,
                "qa_pass_rate": qa,
                "qa_checked": checked,
                "fallback_rate": 0.1,
                "discovery_failures": 1,
                "discovery_failures_by_domain": {"x.example": 1},
                "curator_actions": 2,
            },
            metrics={
                "samples": n,
                "buffer_minutes_min": bmin,
                "buffer_minutes_avg": bmin + 10,
                "buffer_minutes_max": bmin + 20,
                "stream_disruptions": 1,
            },
        )

    days = [
        day_report(date(2026, 3, 2), 10, 1.0, 10, 30, 100),
        day_report(date(2026, 3, 3), 20, 0.5, 30, 25, 300),
        day_report(date(2026, 3, 9), 99, 0.0, 99, 0, 99),  # next week: ignored
    ]
    w = reports.weekly_report("2026-W10", days, NOW)
    assert w.week == "2026-W10"
    sm = w.summary
    assert sm["days_reported"] == 2
    assert sm["items_aired"] == 30 and sm["minutes_aired"] == 300
    assert sm["minutes_by_slot_type"] == {"MAIN": 300}
    assert sm["dead_air_seconds"] == 10 and sm["emergency_minutes"] == 3
    assert sm["qa_pass_rate"] == pytest.approx((10 * 1.0 + 30 * 0.5) / 40)
    assert sm["fallback_rate"] == pytest.approx(0.1)
    assert sm["discovery_failures_by_domain"] == {"x.example": 2}
    assert w.metrics["buffer_minutes_min"] == 25
    assert w.metrics["buffer_minutes_avg"] == pytest.approx((40 * 100 + 35 * 300) / 400)
    assert w.metrics["stream_disruptions"] == 2


def test_weekly_report_refuses_a_bad_week():
    with pytest.raises(ValueError, match="invalid week format, use YYYY-Www"):
        reports.weekly_report("2026-10", [], NOW)


# --- availability (SPEC §9: 99.5 %) -------------------------------------------------------


def at(hours: float):
    return MIDNIGHT + timedelta(hours=hours)


def test_availability_is_the_share_of_the_day_the_air_ran():
    up = [(at(0), at(6)), (at(6.5), at(24))]  # down 06:00-06:30
    got = reports.availability(up, at(0), at(24), since=at(-48))
    assert got == {
        "availability_pct": pytest.approx(100 * 23.5 / 24, abs=0.001),
        "measured_seconds": 86400.0,
        "downtime_seconds": 1800.0,
        "outages": 1,
    }


def test_availability_counts_from_the_first_air_and_every_gap_at_the_edges():
    # First on air at 10:00: the hours before the channel existed are not downtime.
    first = reports.availability([(at(10), at(24))], at(0), at(24), since=at(10))
    assert (first["availability_pct"], first["outages"]) == (100.0, 0)
    # Off at midnight until 01:00, and off again from 23:00.
    edges = reports.availability([(at(1), at(23))], at(0), at(24), since=at(-1))
    assert edges["outages"] == 2 and edges["downtime_seconds"] == 7200.0
    # Down all day.
    dark = reports.availability([], at(0), at(24), since=at(-1))
    assert (dark["availability_pct"], dark["outages"]) == (0.0, 1)
    # Never on air yet (a fresh install): nothing to measure.
    assert reports.availability([], at(0), at(24), since=None)["availability_pct"] is None


def test_the_daily_report_publishes_availability_and_leaves_downtime_out_of_dead_air():
    aired = [entry("a", s(0), 3600), entry("b", s(5400), 3600)]  # 00:00-01:00, 01:30-02:30
    up = [(at(0), at(1)), (at(1.5), at(2.5))]  # the daemon was down 01:00-01:30
    r = reports.daily_report(DAY, aired, [], [], at(2.5), uptime=up, on_air_since=at(0))
    assert r.summary["availability_pct"] == pytest.approx(80.0)
    assert r.summary["downtime_seconds"] == 1800.0
    assert r.summary["outages"] == 1
    assert r.summary["dead_air_seconds"] == 0.0  # the hole was downtime, not dead air
    # The same hole while the daemon ran is dead air.
    ran = reports.daily_report(DAY, aired, [], [], at(2.5), uptime=[(at(0), at(2.5))],
                               on_air_since=at(0))  # fmt: skip
    assert ran.summary["dead_air_seconds"] == 1800.0
    assert ran.summary["availability_pct"] == 100.0
