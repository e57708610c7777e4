"""The nightly job (SPEC §1.9): export, retention, reports, autotune.

Run at 03:00 local for the local date that just began; it reports on the day before,
which is complete by then. On Mondays it also builds the weekly report of the ISO week
that just ended. Slow database work runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs

from vvtv.core import offload
from vvtv.core.audit import AuditType
from vvtv.core.clock import Clock
from vvtv.core.model import (
    AuditEvent,
    DailyReport,
    EntryStatus,
    QueueEntry,
    WeeklyReport,
    new_id,
)
from vvtv.nightly.autotune import DayStats, TuneWeights, aired_signals, autotune, with_effect
from vvtv.nightly.reports import (
    availability,
    daily_report,
    day_bounds,
    iso_week_of,
    weekly_report,
)
from vvtv.ownercard.holder import OwnerCardHolder
from vvtv.plan.grid import MAX_POOL, PLANNABLE
from vvtv.store import Store

RETENTION_DAYS = 90
KEY_WEIGHTS = "autotune_weights"
# The report day the weights were last tuned on: a forced run and the 03:00 run of the
# same date must not both adjust (the OwnerCard bounds the adjustment *per day*).
KEY_TUNED_ON = "autotune_report_day"


@attrs.frozen
class NightlyResult:
    day: date
    export_path: Path
    retention: dict[str, int]
    daily: DailyReport
    weekly: WeeklyReport | None
    tune_deltas: dict[str, Any]
    # Steps autotune computed but did not take, because they would change nothing planned.
    tune_held: dict[str, Any] = attrs.field(factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "report_day": self.day.isoformat(),
            "export": str(self.export_path),
            "retention": self.retention,
            "weekly": self.weekly.week if self.weekly else None,
            "autotune": self.tune_deltas,
            "autotune_held": self.tune_held,
        }


def _report_day(
    store: Store, day: date, tz: ZoneInfo, now: datetime
) -> tuple[DailyReport, list[QueueEntry]]:
    """The day's report, and the entries that started airing that day."""
    start, end = day_bounds(day, tz)
    aired = [
        e
        for e in store.queue_between(start - timedelta(hours=6), end)
        if e.status in (EntryStatus.AIRED, EntryStatus.AIRING)
    ]
    events = store.query_audit(since=start, until=end, limit=None)
    samples = store.metrics_between(start, end)
    started = [e for e in aired if start <= e.start_at < end]
    report = daily_report(
        day,
        aired,
        events,
        samples,
        now,
        tz=tz,
        uptime=store.uptime_between(start, end, now),
        on_air_since=store.first_beat(),
    )
    return report, started


def availability_today(store: Store, tz: ZoneInfo, now: datetime) -> float | None:
    """Today's ``availability_pct`` so far (the local date at ``now``); None before the
    channel's first air."""
    start, _ = day_bounds(now.astimezone(tz).date(), tz)
    measured = availability(
        store.uptime_between(start, now, now), start, now, since=store.first_beat()
    )
    pct: float | None = measured["availability_pct"]
    return pct


def day_so_far(store: Store, tz: ZoneInfo, now: datetime) -> DailyReport:
    """Today's report (the local date at ``now``) from what happened until ``now``, marked
    ``partial``: computed when asked, never stored (the nightly job reports the whole day
    once it is over). On a fresh install it is empty and valid."""
    today = now.astimezone(tz).date()
    report, _ = _report_day(store, today, tz, now)
    return attrs.evolve(report, partial=True)


def _nightly_sync(
    store: Store,
    cards: OwnerCardHolder,
    now: datetime,
    tz: ZoneInfo,
    local_date: date,
    exports: Path,
    forced: bool = False,
) -> NightlyResult:
    day = local_date - timedelta(days=1)
    export_path = store.export_audit(day, exports, tz=tz)
    counts = store.apply_retention(now, days=RETENTION_DAYS)
    uptime_pruned = store.prune_uptime(now - timedelta(days=RETENTION_DAYS))
    daily, aired = _report_day(store, day, tz, now)
    store.save_daily_report(daily)
    weekly = None
    # Monday: the ISO week that ended yesterday. A forced run any day rebuilds the last
    # complete week's report too, so an operator's run publishes both (the cloud outbox
    # sends a week once: a report already delivered is not sent again).
    if local_date.isoweekday() == 1 or forced:
        sunday = local_date - timedelta(days=local_date.isoweekday())
        week = iso_week_of(sunday)
        monday = sunday - timedelta(days=6)
        days = [store.get_daily_report(monday + timedelta(days=i)) for i in range(7)]
        weekly = weekly_report(week, [d for d in days if d is not None], now)
        store.save_weekly_report(weekly)
    deltas, held = _autotune(store, cards, daily, aired, now)
    retention = {**attrs.asdict(counts), "uptime": uptime_pruned}
    return NightlyResult(day, export_path, retention, daily, weekly, deltas, held)


def _autotune(
    store: Store,
    cards: OwnerCardHolder,
    daily: DailyReport,
    aired: list[QueueEntry],
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Adjust the fine weights within the OwnerCard's daily bound, once per report day;
    keep and audit only the changes that change what is planned next, and say which
    steps were held (``autotune.with_effect``)."""
    if store.get_live_value(KEY_TUNED_ON) == daily.date.isoformat():
        return {}, {}
    card = cards.card
    stored = store.get_live_value(KEY_WEIGHTS)
    weights = TuneWeights.from_dict(stored) if stored else TuneWeights()
    plans = {
        pid: p for pid in {e.plan_id for e in aired if e.plan_id} if (p := store.get_plan(pid))
    }
    deviation, moods = aired_signals(aired, plans, card)
    stats = DayStats.from_daily_report(daily, duration_deviation=deviation, mood_match_rate=moods)
    _, steps = autotune(weights, stats, card.autotune_policy)
    # The plans the next re-plan considers (``actors.discovery``): a change must move them.
    pool = store.list_plans(PLANNABLE, limit=MAX_POOL * 4).items if steps else []
    new, changes, held_back = with_effect(weights, steps, pool=pool, card=card, start=now)
    deltas = {d.field: d.to_dict() for d in changes}
    held = {h.delta.field: h.to_dict() for h in held_back}
    store.set_live_value(KEY_TUNED_ON, daily.date.isoformat())
    if new != weights:
        store.set_live_value(KEY_WEIGHTS, new.to_dict())
        store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=now,
                event_type=AuditType.AUTOTUNE,
                actor="nightly",
                details={"before": weights.to_dict(), "after": new.to_dict(), "deltas": deltas},
            )
        )
    return deltas, held


async def run_nightly(
    store: Store,
    cards: OwnerCardHolder,
    clock: Clock,
    tz: ZoneInfo,
    local_date: date,
    exports: Path,
    *,
    forced: bool = False,
) -> NightlyResult:
    """Run the nightly job for ``local_date``; ``forced``: on demand (see ``_nightly_sync``)."""
    now = clock.now()
    result = await offload.run_sync(
        _nightly_sync, store, cards, now, tz, local_date, exports, forced
    )
    store.append_audit(
        AuditEvent(
            event_id=new_id("evt"),
            at=clock.now(),
            event_type=AuditType.NIGHTLY,
            actor="scheduler",
            details=result.summary(),
        )
    )
    return result
