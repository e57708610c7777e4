"""Daily and weekly reports, and the date/week parsing the reports API uses (SPEC §3, §1.9).

Pure functions: the nightly job hands in what aired (the as-run entries, with their actual
start and duration), the day's audit events and metric samples; the report is computed
from them alone, so it can be rebuilt at any time from the store.

The audit events read here (the contract with whoever writes them):

- ``AuditType.EMERGENCY_ENTERED`` / ``EMERGENCY_EXITED``:
  emergency minutes;
- ``AuditType.QA_RESULT`` with ``details["passed"]: bool``: QA pass rate (when a day has none, the
  average ``qa_pass_rate`` of the metric samples is used);
- any event with ``reason_code == "DISCOVERY_FAILED_DOMAIN"`` (``details["domain"]``):
  discovery failures, by domain;
- ``AuditType.CURATOR_APPLIED`` / ``CURATOR_SUGGESTED``:
  curator actions.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from vvtv.core.audit import AuditType
from vvtv.core.model import (
    AuditEvent,
    DailyReport,
    EntryStatus,
    FallbackLevel,
    PipelineMetrics,
    QueueEntry,
    SlotType,
    WeeklyReport,
)

REASON_DISCOVERY_FAILED = "DISCOVERY_FAILED_DOMAIN"

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


# --- parsing (the original API's messages, exactly) ----------------------------------


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` → date; anything else → ValueError("invalid date format, use YYYY-MM-DD")."""
    if not isinstance(text, str) or not _DAY_RE.match(text):
        raise ValueError("invalid date format, use YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("invalid date format, use YYYY-MM-DD") from None


def parse_iso_week(text: str) -> tuple[date, date]:
    """``YYYY-Www`` → (Monday, Sunday) of that ISO week.

    Malformed text → ValueError("invalid week format, use YYYY-Www"); a week that does not
    exist (W00, W54, W53 of a 52-week year) → ValueError("invalid iso week").
    """
    match = _WEEK_RE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError("invalid week format, use YYYY-Www")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, week, 1)
        # 9999-W52 ends in year 10000, past what a date holds: refused like a missing week.
        return monday, monday + timedelta(days=6)
    except (ValueError, OverflowError):
        raise ValueError("invalid iso week") from None


def iso_week_of(day: date) -> str:
    """The ISO week label (``%G-W%V``) a day belongs to."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


# --- daily -------------------------------------------------------------------------


def day_bounds(day: date, tz: tzinfo = UTC) -> tuple[datetime, datetime]:
    """The instants a local day starts and ends (DST days are 23 or 25 hours long)."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _clip(a: datetime, b: datetime, lo: datetime, hi: datetime) -> float:
    """Seconds of [a, b) inside [lo, hi)."""
    return max(0.0, (min(b, hi) - max(a, lo)).total_seconds())


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _emergency_seconds(
    events: Sequence[AuditEvent], lo: datetime, hi: datetime, now: datetime
) -> float:
    """Seconds spent in emergency within [lo, hi), from the enter/exit events.

    An emergency still open at the end of the events lasts until ``min(hi, now)``; an exit
    without an enter in view means emergency was already on at ``lo`` (entered the day before).
    """
    total = 0.0
    since: datetime | None = None
    seen_any = False
    for ev in sorted(events, key=lambda e: e.at):
        if ev.event_type == AuditType.EMERGENCY_ENTERED:
            seen_any = True
            if since is None:
                since = ev.at
        elif ev.event_type == AuditType.EMERGENCY_EXITED:
            if since is None and not seen_any:
                since = lo
            seen_any = True
            if since is not None:
                total += _clip(since, ev.at, lo, hi)
            since = None
    if since is not None:
        total += _clip(since, min(hi, now), lo, hi)
    return total


def availability(
    up: Iterable[tuple[datetime, datetime]],
    lo: datetime,
    hi: datetime,
    *,
    since: datetime | None,
) -> dict[str, Any]:
    """How much of ``[lo, hi)`` the channel was on air, from its stretches of air ``up``.

    The measured span starts at ``since`` (the channel's first air) when that is later than
    ``lo``: the hours before a channel existed are not downtime. ``availability_pct`` is
    None when nothing of the span can be measured yet (a day before the first air, a fresh
    install); ``outages`` counts the gaps inside the span, one at its start included when
    the day began off air.
    """
    start = lo if since is None else max(lo, since)
    span = (hi - start).total_seconds()
    if since is None or span <= 0:
        return {
            "availability_pct": None,
            "measured_seconds": 0.0,
            "downtime_seconds": 0.0,
            "outages": 0,
        }
    covered = _merged((max(a, start), min(b, hi)) for a, b in up if b > start and a < hi)
    on_air = sum((b - a).total_seconds() for a, b in covered)
    # The off-air stretches: between the covered ones, and before the first / after the last.
    edges = [start, *(t for pair in covered for t in pair), hi]
    gaps = sum(1 for i in range(0, len(edges), 2) if edges[i + 1] > edges[i])
    return {
        "availability_pct": round(100.0 * on_air / span, 3),
        "measured_seconds": round(span, 3),
        "downtime_seconds": round(span - on_air, 3),
        "outages": gaps,
    }


def daily_report(
    day: date,
    aired_entries: Sequence[QueueEntry],
    audit_events: Sequence[AuditEvent],
    metric_samples: Sequence[PipelineMetrics],
    now: datetime,
    *,
    tz: tzinfo = UTC,
    uptime: Sequence[tuple[datetime, datetime]] = (),
    on_air_since: datetime | None = None,
) -> DailyReport:
    """The report of one local day.

    ``aired_entries`` are as-run entries: ``start_at``/``duration_sec`` are when the item
    actually aired (SKIPPED entries are ignored). Everything is clipped to the day.

    summary: ``items_aired`` (items that started that day), ``minutes_aired``,
    ``minutes_by_slot_type``, ``minutes_by_fallback_level`` ("0".."3"), ``dead_air_seconds``
    (uncovered time between the first and last second aired that day — the channel being
    down is not counted here, it is ``downtime_seconds``), ``emergency_minutes``,
    ``qa_pass_rate``, ``qa_checked``, ``fallback_rate`` (share of items aired at fallback
    level ≥ 1), ``discovery_failures`` and ``discovery_failures_by_domain``,
    ``curator_suggestions``, ``curator_actions`` (applied), and ``availability_pct``,
    ``downtime_seconds``, ``outages`` (``availability``: from ``uptime``, the stretches of
    air the heartbeat recorded, over the day up to ``now`` since ``on_air_since``).
    metrics: ``buffer_minutes_min/avg/max``, ``samples``, ``stream_disruptions`` during the
    day (sum of the counter's increases, so a restart's reset does not go negative), and the
    last sample's ``plans_created``, ``plans_committed``, ``curator_actions``.
    """
    if now.tzinfo is None:
        raise ValueError("daily_report: now must be timezone-aware")
    lo, hi = day_bounds(day, tz)
    aired = [e for e in aired_entries if e.status is not EntryStatus.SKIPPED]
    in_day = [e for e in aired if _clip(e.start_at, e.end_at, lo, hi) > 0]

    by_slot = {s.value: 0.0 for s in SlotType}
    by_level = {str(int(f)): 0.0 for f in FallbackLevel}
    for e in in_day:
        secs = _clip(e.start_at, e.end_at, lo, hi)
        by_slot[SlotType(e.slot_type).value] += secs / 60.0
        by_level[str(int(e.fallback_level))] += secs / 60.0
    covered = _merged((max(e.start_at, lo), min(e.end_at, hi)) for e in in_day)
    holes = [(b, a) for (_, b), (a, _) in itertools.pairwise(covered)]
    if uptime:
        # Only while the channel ran: a hole while it was down is downtime, not dead air.
        up = _merged(uptime)
        dead_air = sum(_clip(a, b, ua, ub) for a, b in holes for ua, ub in up)
    else:
        dead_air = sum((b - a).total_seconds() for a, b in holes)

    started = [e for e in aired if lo <= e.start_at < hi]
    fallbacks = sum(1 for e in started if int(e.fallback_level) >= 1)

    day_events = [ev for ev in audit_events if lo <= ev.at < hi]
    qa = [ev for ev in day_events if ev.event_type == AuditType.QA_RESULT]
    qa_passed = sum(1 for ev in qa if ev.details.get("passed") is True)
    samples = sorted((m for m in metric_samples if lo <= m.at < hi), key=lambda m: m.at)
    if qa:
        qa_rate = qa_passed / len(qa)
    elif samples:
        qa_rate = sum(m.qa_pass_rate for m in samples) / len(samples)
    else:
        qa_rate = 1.0
    failures = [ev for ev in day_events if ev.reason_code == REASON_DISCOVERY_FAILED]
    by_domain = Counter(str(ev.details.get("domain", "")) for ev in failures)

    summary: dict[str, Any] = {
        "date": day.isoformat(),
        "items_aired": len(started),
        "minutes_aired": round(sum(by_slot.values()), 3),
        "minutes_by_slot_type": {k: round(v, 3) for k, v in by_slot.items()},
        "minutes_by_fallback_level": {k: round(v, 3) for k, v in by_level.items()},
        "dead_air_seconds": round(dead_air, 3),
        "emergency_minutes": round(_emergency_seconds(audit_events, lo, hi, now) / 60.0, 3),
        "qa_pass_rate": round(qa_rate, 4),
        "qa_checked": len(qa),
        "fallback_rate": round(fallbacks / len(started), 4) if started else 0.0,
        "discovery_failures": len(failures),
        "discovery_failures_by_domain": dict(sorted(by_domain.items())),
        "curator_suggestions": sum(
            1 for ev in day_events if ev.event_type == AuditType.CURATOR_SUGGESTED
        ),
        "curator_actions": sum(
            1 for ev in day_events if ev.event_type == AuditType.CURATOR_APPLIED
        ),
    }
    measured = availability(uptime, lo, min(hi, now), since=on_air_since)
    summary["availability_pct"] = measured["availability_pct"]
    summary["downtime_seconds"] = measured["downtime_seconds"]
    summary["outages"] = measured["outages"]
    metrics: dict[str, Any] = {"samples": len(samples)}
    if samples:
        buf = [m.buffer_minutes for m in samples]
        last = samples[-1]
        metrics |= {
            "buffer_minutes_min": round(min(buf), 3),
            "buffer_minutes_avg": round(sum(buf) / len(buf), 3),
            "buffer_minutes_max": round(max(buf), 3),
            "plans_created": last.plans_created,
            "plans_committed": last.plans_committed,
            "stream_disruptions": _increments(m.stream_disruptions for m in samples),
            "curator_actions": last.curator_actions,
        }
    return DailyReport(date=day, generated_at=now, summary=summary, metrics=metrics)


def _increments(values: Iterable[int]) -> int:
    """Sum of the increases of a counter sampled over time (a reset to 0 counts from 0)."""
    total, prev = 0, None
    for v in values:
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return total


# --- weekly ------------------------------------------------------------------------

_SUMMED = (
    "items_aired",
    "minutes_aired",
    "dead_air_seconds",
    "emergency_minutes",
    "qa_checked",
    "discovery_failures",
    "curator_suggestions",
    "curator_actions",
)


def weekly_report(
    iso_week: str, daily_reports: Sequence[DailyReport], now: datetime
) -> WeeklyReport:
    """The week's report from its daily reports (days outside the week are ignored).

    Counts and minutes are summed; ``qa_pass_rate`` is weighted by items checked,
    ``fallback_rate`` by items aired; buffer min is the week's min, avg is weighted by
    samples. ``days_reported`` says how many of the 7 days had a report.
    """
    monday, sunday = parse_iso_week(iso_week)
    days = sorted((r for r in daily_reports if monday <= r.date <= sunday), key=lambda r: r.date)
    summary: dict[str, Any] = {"week": iso_week, "days_reported": len(days)}
    for key in _SUMMED:
        summary[key] = round(sum(r.summary.get(key, 0) for r in days), 3)
    for key in (
        "minutes_by_slot_type",
        "minutes_by_fallback_level",
        "discovery_failures_by_domain",
    ):
        merged: Counter[str] = Counter()
        for r in days:
            merged.update(r.summary.get(key, {}))
        summary[key] = {k: round(v, 3) for k, v in sorted(merged.items())}
    summary["qa_pass_rate"] = _weighted(days, "qa_pass_rate", "qa_checked", default=1.0)
    summary["fallback_rate"] = _weighted(days, "fallback_rate", "items_aired", default=0.0)

    metrics: dict[str, Any] = {"samples": sum(r.metrics.get("samples", 0) for r in days)}
    sampled = [r for r in days if r.metrics.get("samples", 0) > 0]
    if sampled:
        metrics["buffer_minutes_min"] = min(r.metrics["buffer_minutes_min"] for r in sampled)
        metrics["buffer_minutes_max"] = max(r.metrics["buffer_minutes_max"] for r in sampled)
        metrics["buffer_minutes_avg"] = round(
            sum(r.metrics["buffer_minutes_avg"] * r.metrics["samples"] for r in sampled)
            / metrics["samples"],
            3,
        )
        metrics["stream_disruptions"] = sum(r.metrics.get("stream_disruptions", 0) for r in sampled)
    return WeeklyReport(week=iso_week, generated_at=now, summary=summary, metrics=metrics)


def _weighted(days: Sequence[DailyReport], key: str, weight: str, default: float) -> float:
    total = sum(r.summary.get(weight, 0) for r in days)
    if total == 0:
        return default
    return round(sum(r.summary.get(key, 0.0) * r.summary.get(weight, 0) for r in days) / total, 4)
