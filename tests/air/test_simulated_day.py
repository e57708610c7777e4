"""A day of air driven by the domain alone, the way the Buffer drives it.

Each tick: the dead-air rule, the emergency step, emergency fill while active, the live
window, history pruning. Main content arrives as it would from the Committer, except for
a two-hour outage. The day must have no dead air, one emergency that starts in the outage
and ends once the buffer is back at target, and a complete as-run log.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import attrs
import pytest

from vvtv.air import emergency, live_playlist, timeline
from vvtv.air.emergency import EmergencyState
from vvtv.core.model import EntryStatus, FallbackLevel, QueueEntry
from vvtv.nightly import reports

from .helpers import T0, asset
from .test_hls import segs

CRIT, TARGET_MIN, TICK = 20, 60, 15


class Channel:
    def __init__(self):
        self.entries: list[QueueEntry] = []
        self.state = EmergencyState()
        self.cursor: live_playlist.LiveCursor | None = None
        self.slate = asset("slate", 30)
        self.pool = [asset(f"pool{i}", 240 + 60 * i) for i in range(3)]
        self.segments = {a.asset_id: segs(a.asset_id, a.duration_sec) for a in self.pool}
        self.segments["slate"] = segs("slate", 30)
        self.transitions: list[emergency.Transition] = []
        self.events: list[live_playlist.AirEvent] = []
        self.entry_by_id: dict[str, QueueEntry] = {}
        self.made = itertools.count()
        self.dropped = 0

    def add(self, entry: QueueEntry) -> None:
        self.entries.append(entry)
        self.entry_by_id[entry.entry_id] = entry

    def main_ready(self, now, minutes: float) -> None:
        # main content airs next: trailing emergency fillers make way for it
        self.entries, dropped = timeline.drop_trailing_fallback(self.entries, now)
        self.dropped += len(dropped)
        n = next(self.made)
        aid = f"main{n}"
        self.segments[aid] = segs(aid, minutes * 60)
        self.add(
            timeline.append(
                self.entries, now, asset_id=aid, title=f"show {n}", duration_sec=minutes * 60
            )
        )

    def tick(self, now) -> None:
        plan = emergency.keep_on_air(
            self.entries,
            now,
            self.state,
            critical=CRIT,
            target=TARGET_MIN,
            pool=self.pool,
            slate=self.slate,
        )
        self.state = plan.state
        if plan.transition is not None:
            self.transitions.append(plan.transition)
        for e in plan.added:
            self.add(e)
        assert timeline.now_playing(self.entries, now) is not None, f"dead air at {now}"
        items = live_playlist.airing_items(self.entries, self.segments)
        self.cursor, window = live_playlist.advance(self.cursor, items, now, min_window_sec=18)
        assert window.segments
        self.events.extend(window.events)
        self.entries = timeline.drop_finished(self.entries, now, keep_seconds=600)


def test_a_day_with_an_outage_has_no_dead_air_and_one_emergency_that_ends_at_target():
    ch = Channel()
    outage = (T0 + timedelta(hours=6), T0 + timedelta(hours=8))
    now, end = T0, T0 + timedelta(hours=24)
    last_refill = now
    while now < end:
        ahead_min = (timeline.timeline_end(ch.entries, now) - now).total_seconds() / 60
        in_outage = outage[0] <= now < outage[1]
        # the committer keeps about 70 minutes ready, one item per minute at most
        if not in_outage and ahead_min < 70 and now - last_refill >= timedelta(minutes=1):
            ch.main_ready(now, 10)
            last_refill = now
        ch.tick(now)
        now += timedelta(seconds=TICK)

    kinds = [(t.kind, t.at) for t in ch.transitions]
    # the very first tick starts empty: emergency covers the start-up, then the outage
    assert [k for k, _ in kinds] == ["entered", "exited", "entered", "exited"]
    entered, exited = kinds[2][1], kinds[3][1]
    assert outage[0] < entered < outage[0] + timedelta(minutes=60)
    assert outage[1] < exited
    assert ch.transitions[3].buffer_minutes >= TARGET_MIN

    # the as-run log: every start after the first closes the previous item at that instant
    starts = [e for e in ch.events if e.kind == "started"]
    finishes = [e for e in ch.events if e.kind == "finished"]
    assert len(finishes) == len(starts) - 1
    for fin, nxt in zip(finishes, starts[1:], strict=True):
        assert fin.at == nxt.at
    # the as-run log: each finished item with its actual start and duration
    opened = {}
    aired = []
    for e in ch.events:
        if e.kind == "started":
            opened[e.entry_id] = e.at
        else:
            started = opened.pop(e.entry_id)
            aired.append(
                attrs.evolve(
                    ch.entry_by_id[e.entry_id],
                    start_at=started,
                    duration_sec=(e.at - started).total_seconds(),
                    status=EntryStatus.AIRED,
                )
            )
    assert [a.entry_id for a in aired] == [s.entry_id for s in starts[:-1]]
    levels = {int(e.fallback_level) for e in aired}
    assert {0, 2} <= levels, "main content and the emergency pool both aired"
    assert ch.dropped > 0, "queued fillers made way for main content"

    report = reports.daily_report(T0.date(), aired, [], [], end, tz=T0.tzinfo)
    assert report.summary["dead_air_seconds"] == 0
    on_air_min = (starts[-1].at - starts[0].at).total_seconds() / 60
    assert report.summary["minutes_aired"] == pytest.approx(min(on_air_min, 12 * 60), abs=0.1)
    assert report.summary["minutes_by_fallback_level"][str(int(FallbackLevel.EMERGENCY_POOL))] > 0
