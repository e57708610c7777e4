"""Run the whole channel for simulated days and measure what the as-run record says.

The real daemon (``actors.daemon.boot`` and ``run``: the supervision tree, the SQLite
store, the planner, the Buffer) runs in the caller's Trio run, which must use a
``trio.testing.MockClock(autojump_threshold=0)``: the daemon's ``TrioClock`` follows it,
so days pass in seconds. Its only fake is ``InstantMedia``; its feed is a real HTTP
server on 127.0.0.1 (``FeedServer``) that publishes new items, some broken, and goes
down for six hours.

``run_simweek`` returns a ``SimWeek``: everything needed to judge the run, taken from
the store (the audit trail is the as-run log) and from samples of the Buffer's status.
"""

from __future__ import annotations

import resource
import time as wallclock
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import attrs
import trio

from actors.daemon import Daemon, boot, run
from tests.proof.instant_media import InstantMedia
from tests.proof.simweek_feed import FeedPlan, FeedServer
from tests.support.cards import feed_source, loopback_hosts
from tests.support.channel import channel_settings
from tests.support.loopback import start_loopback
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.model import AuditEvent, QAStatus, SlotType
from vvtv.core.settings import Settings
from vvtv.store import Store

# A Monday, 04:00 UTC: nightly (03:00) first runs 23 h in, so N days see N nightlies.
EPOCH = utc(2026, 3, 2, 4)
CRITICAL_MIN = 20.0
TARGET_MIN = 60.0
SAMPLE_EVERY_S = 60.0
# Loop lag means nothing under a mock clock; sampling it twice a second costs 1.2 M
# wake-ups a simulated week.
LOOP_LAG_S = 300.0
# After the feed is back, discovery (hourly) and a commit window must run before the
# buffer can refill: below critical is still "the drought" for this long.
RECOVERY_GRACE = timedelta(hours=2)
TABLES = (
    "plans",
    "assets",
    "queue_entries",
    "audit_events",
    "metric_samples",
    "outbox",
    "live_state",
    "reports",
    "owner_card_versions",
)


def make_settings(root: Path, slate_template: Path, feed_url: str) -> Settings:
    """A throwaway channel under ``root`` whose only source is the loopback feed."""
    card = {
        "editorial_profile": {"target_avg_duration_sec": 720},
        # The loopback feed stands for a host on the internet: its range is allowed.
        "search_policy": loopback_hosts(blocked_keywords=["forbidden"]),
        "schedule_policy": {
            "buffer_target_minutes": TARGET_MIN,
            "buffer_critical_minutes": CRITICAL_MIN,
            "timezone": "UTC",
        },
        "music_policy": {"preferred_moods": ["calm"]},
        "sources": [feed_source("simfeed", feed_url, kind="jsonfeed")],
    }
    return channel_settings(root, slate_template, card=card)


@attrs.frozen
class Sample:
    at: datetime
    buffer_minutes: float  # ready programming ahead
    state: str
    covered_minutes: float  # everything that will air, emergency fillers included


@attrs.define
class SimWeek:
    """A finished run: the raw record and the figures derived from it."""

    days: float
    start: datetime
    end: datetime
    wall_s: float
    outage: tuple[datetime, datetime]
    samples: list[Sample]
    events: dict[str, list[AuditEvent]]
    untraceable: list[str]
    rows_per_day: list[dict[str, int]]
    rss_mb_per_day: list[float]
    daily_reports: list[str]
    missing_reports: list[str]
    buffer_sizes: dict[str, int]
    feed_served: int
    feed_refused: int
    fetches: int
    restarts: dict[str, int]

    # --- the figures -----------------------------------------------------------------

    def air_intervals(self) -> list[tuple[datetime, datetime]]:
        """[start, end) of everything that aired, from the as-run log."""
        started = {e.details["entry_id"]: e for e in self.events["aired_started"]}
        finished = {e.details["entry_id"]: e for e in self.events["aired_finished"]}
        out = []
        for entry_id, ev in started.items():
            begin = datetime.fromisoformat(ev.details["at"])
            done = finished.get(entry_id)
            end = datetime.fromisoformat(done.details["at"]) if done else self.end
            out.append((begin, end))
        return sorted(out)

    def dead_air_s(self) -> float:
        """Seconds between the first second on air and the end with nothing airing."""
        covered_to = self.start
        dead = 0.0
        for begin, end in self.air_intervals():
            if begin > covered_to:
                dead += (begin - covered_to).total_seconds()
            covered_to = max(covered_to, end)
        if covered_to < self.end:
            dead += (self.end - covered_to).total_seconds()
        return dead

    def min_buffer_minutes(self, *, outside_drought: bool = False) -> float:
        values = [
            s.buffer_minutes
            for s in self.samples
            if not (outside_drought and self.in_drought(s.at))
        ]
        return min(values, default=0.0)

    def in_drought(self, at: datetime) -> bool:
        """Boot (nothing discovered yet) and the feed outage, with time to recover."""
        exits = [e.at for e in self.events["emergency_exited"]]
        boot_end = exits[0] if exits else self.end
        begin, end = self.outage
        return at <= boot_end or begin <= at <= end + RECOVERY_GRACE

    def below_critical_outside_drought(self) -> list[Sample]:
        return [
            s for s in self.samples if s.buffer_minutes < CRITICAL_MIN and not self.in_drought(s.at)
        ]

    def emergency_spans(self) -> list[tuple[datetime, datetime | None]]:
        entered = [e.at for e in self.events["emergency_entered"]]
        exited = [e.at for e in self.events["emergency_exited"]]
        return [(a, exited[i] if i < len(exited) else None) for i, a in enumerate(entered)]

    def aired_items(self) -> int:
        return len(self.events["aired_started"])

    def nightly_runs(self) -> int:
        return len(self.events["nightly"])

    def rss_growth_mb(self) -> float:
        """Resident memory growth after the first simulated day (start-up caches warm)."""
        if len(self.rss_mb_per_day) < 2:
            return 0.0
        return round(self.rss_mb_per_day[-1] - self.rss_mb_per_day[0], 1)

    def summary(self) -> dict[str, Any]:
        return {
            "simulated_days": self.days,
            "wall_s": round(self.wall_s, 2),
            "dead_air_s": round(self.dead_air_s(), 3),
            "min_buffer_minutes": round(self.min_buffer_minutes(), 2),
            "min_buffer_minutes_outside_drought": round(
                self.min_buffer_minutes(outside_drought=True), 2
            ),
            "emergency_entries": len(self.events["emergency_entered"]),
            "emergency_exits": len(self.events["emergency_exited"]),
            "aired_items": self.aired_items(),
            "untraceable_items": len(self.untraceable),
            "nightly_runs": self.nightly_runs(),
            "missing_daily_reports": len(self.missing_reports),
            "rss_growth_mb": self.rss_growth_mb(),
            "actor_restarts": sum(self.restarts.values()),
        }


# --- running ---------------------------------------------------------------------------


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table_rows(store: Store) -> dict[str, int]:
    return {t: store._read_one(f"SELECT count(*) FROM {t}")[0] for t in TABLES}


async def run_simweek(
    root: Path, slate_template: Path, days: float, plan: FeedPlan | None = None
) -> SimWeek:
    """Run the channel for ``days`` simulated days (under the caller's MockClock)."""
    plan = plan or FeedPlan(epoch=EPOCH)
    wall0 = wallclock.perf_counter()
    # Offloaded work (the hourly re-plan, the nightly job) runs inline, as in every mock-clock
    # test: waiting for a worker thread looks blocked, so the clock would jump ahead for as
    # long as the thread works (at ~10,000x real time, 0.1 s of thread work is ~15 simulated
    # minutes: the week once saw discovery's call time out after 900 s and race the committer).
    with offload.inline():
        return await _run(root, slate_template, days, plan, wall0)


async def _run(
    root: Path, slate_template: Path, days: float, plan: FeedPlan, wall0: float
) -> SimWeek:
    clock = TrioClock(plan.epoch)
    feed = FeedServer(plan, clock)
    media = InstantMedia()
    samples: list[Sample] = []
    rows: list[dict[str, int]] = []
    rss: list[float] = []
    async with trio.open_nursery() as nursery:
        await start_loopback(nursery, feed.server)
        settings = make_settings(root, slate_template, feed.url)
        ch = await boot(settings, clock=clock, media=media)
        daemon: Daemon = await nursery.start(
            lambda task_status: run(
                ch, signals=False, loop_lag_interval=LOOP_LAG_S, task_status=task_status
            )
        )
        nursery.start_soon(_sample_buffer, daemon, samples)
        end = plan.epoch + timedelta(days=days)
        day = plan.epoch
        while day < end:
            day = min(end, day + timedelta(days=1))
            await clock.sleep_until(day)
            rows.append(table_rows(ch.store))
            rss.append(rss_mb())
        events = _events(ch.store)
        untraceable = find_untraceable(ch.store, events)
        reports, missing = _daily_reports(ch.store, plan.epoch, end)
        buffer = _buffer_sizes(daemon)
        restarts = {
            name: daemon.runtime.node(name).restarts
            for name in ("api", "buffer", "committer", "discovery", "scheduler", "alerter")
        }
        daemon.runtime.shutdown()
        nursery.cancel_scope.cancel()
    return SimWeek(
        days=days,
        start=plan.epoch,
        end=end,
        wall_s=wallclock.perf_counter() - wall0,
        outage=plan.outage,
        samples=samples,
        events=events,
        untraceable=untraceable,
        rows_per_day=rows,
        rss_mb_per_day=rss,
        daily_reports=reports,
        missing_reports=missing,
        buffer_sizes=buffer,
        feed_served=feed.served,
        feed_refused=feed.refused,
        fetches=media.fetches,
        restarts=restarts,
    )


async def _sample_buffer(daemon: Daemon, out: list[Sample]) -> None:
    ch = daemon.ch
    while True:
        await trio.sleep(SAMPLE_EVERY_S)
        status = ch.topics["buffer"].latest
        if status:
            minutes = float(status["buffer_minutes"])
            covered = float(status.get("air_covered_minutes", minutes))
            out.append(Sample(ch.clock.now(), minutes, status["state"], covered))


EVENT_TYPES = (
    "aired_started",
    "aired_finished",
    "queued",
    "qa_result",
    "plan_transition",
    "emergency_entered",
    "emergency_exited",
    "nightly",
    "stream_disruption",
    "window_discovery",
    "window_commit",
    "discovery_source_failed",
)


def _events(store: Store) -> dict[str, list[AuditEvent]]:
    out: dict[str, list[AuditEvent]] = {}
    for kind in EVENT_TYPES:
        out[kind] = store.query_audit(event_type=kind, limit=None)
    return out


def find_untraceable(store: Store, events: dict[str, list[AuditEvent]]) -> list[str]:
    """Every aired entry that does not trace back through queue, QA, fetch and plan.

    Main and reserve content: a ``queued`` event for the entry, a passed ``qa_result``
    for its asset, the asset's fetch record (source URL and checksum) and the plan's
    ``plan_transition`` to committed. Emergency fillers re-air an asset that passed QA
    before: its queue row, its ``qa_result`` and its plan's transitions. The slate is
    generated, not fetched: it traces to its asset row.
    """
    queued = {e.details.get("entry_id") for e in events["queued"]}
    qa_passed = {e.asset_id for e in events["qa_result"] if e.details.get("passed")}
    transitions: dict[str, set[str]] = defaultdict(set)
    for e in events["plan_transition"]:
        if e.plan_id:
            transitions[e.plan_id].add(str(e.details.get("to", "")).upper())
    finished = {e.details.get("entry_id") for e in events["aired_finished"]}
    last = events["aired_started"][-3:]  # still on air at the end: no finish yet
    problems = []
    for ev in events["aired_started"]:
        entry_id = ev.details["entry_id"]
        entry = store.get_queue_entry(entry_id)
        asset = store.get_asset(ev.asset_id or "")
        why = []
        if entry is None:
            why.append("no queue entry")
        if asset is None:
            why.append("no asset")
        elif asset.asset_id != "slate":
            if asset.qa_status is not QAStatus.PASSED or ev.asset_id not in qa_passed:
                why.append("no passed qa_result")
            if not asset.source_url or not asset.checksum:
                why.append("no fetch record")
            if "COMMITTED" not in transitions.get(asset.plan_id, set()):
                why.append(f"plan {asset.plan_id} never committed")
            slot = entry.slot_type if entry else None
            if slot in (SlotType.MAIN, SlotType.RESERVE) and entry_id not in queued:
                why.append("no queued event")
        if entry_id not in finished and ev not in last:
            why.append("no aired_finished")
        if why:
            problems.append(f"{entry_id} ({ev.asset_id}): {', '.join(why)}")
    return problems


def _daily_reports(store: Store, start: datetime, end: datetime) -> tuple[list[str], list[str]]:
    """Report days expected: every day that ended before a nightly ran (the boot day
    included: its nightly reports on it)."""
    found, missing = [], []
    day = start.date()
    while datetime.combine(day + timedelta(days=1), time(3, tzinfo=UTC)) <= end:
        (found if store.get_daily_report(day) is not None else missing).append(day.isoformat())
        day += timedelta(days=1)
    return found, missing


def _buffer_sizes(daemon: Daemon) -> dict[str, int]:
    """The Buffer's in-memory collections (bounded by design: history, timeline, pool)."""
    node = daemon.runtime.node("buffer")
    actor = node.cell.actor if node.cell is not None else None
    if actor is None:
        return {}
    return {
        "entries": len(actor.entries),
        "segments": len(actor.segments),
        "pool": len(actor.pool),
        "curator_actions": len(actor.curator_actions),
    }
