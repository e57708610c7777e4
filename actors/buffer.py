"""The Buffer: what airs, now and next, and the promise never to go off air.

Owns the timeline (the ordered queue entries from a few minutes ago onward), emergency
mode, the live HLS window and the as-run log. Every second it:

1. covers the playhead with the slate if nothing is on air (the dead-air rule);
2. measures the buffer (contiguous ready minutes ahead) and steps emergency mode
   (enter below critical, leave back at target, or as the operator says);
3. while in emergency, fills the timeline from the emergency pool, then the slate;
4. slides the live playlist to the wall clock and writes what started and finished
   airing to the audit trail (the as-run log), and every ``HEARTBEAT_S`` a heartbeat
   (``vvtv.store.uptime``: today's availability is measured from it);
5. publishes its state to the ``buffer`` topic.

Receives: ``AssetReady`` from the committer, ``SetEmergencyOverride`` and
``SetCuratorMode`` from the API (replies: the status dict / the curator mode).
"""

from __future__ import annotations

import contextlib
import logging
import math
import operator
import shutil
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import attrs
import trio

from actors.context import ChannelContext
from supervisors import Actor, ActorContext, ActorError
from vvtv.air import emergency, live_playlist, master, timeline
from vvtv.air.curator import CuratorAction, CuratorMode, applied_in_last_hour, decide, review
from vvtv.air.curator import apply as apply_suggestion
from vvtv.air.emergency import EmergencyState
from vvtv.air.live import RungPlaylist
from vvtv.air.status import BufferState, ItemView, StatusDict, buffer_state
from vvtv.core.audit import AuditType
from vvtv.core.messages import AssetReady, EvaluateAlerts, SetCuratorMode, SetEmergencyOverride
from vvtv.core.model import (
    AssetItem,
    AuditEvent,
    EntryStatus,
    FallbackLevel,
    PlanState,
    QAStatus,
    QueueEntry,
    SlotType,
    new_id,
)
from vvtv.media import rungs
from vvtv.nightly import job
from vvtv.observe.stats import pipeline_metrics
from vvtv.ownercard.card import ChannelProfile, Rendition
from vvtv.store.uptime import HEARTBEAT_S

log = logging.getLogger(__name__)

TICK_S = 1.0
# Unwatched (no dashboard on the buffer topic), the Buffer wakes when the live stream can
# change, at its next segment boundary, and at least this often (see ``_wait_s``).
IDLE_TICK_S = 6.0
POOL_REFRESH_S = 60.0
CURATOR_EVERY_S = 60.0
PRUNE_EVERY_S = 600.0
SAMPLE_EVERY_S = 60.0
# Emergency fillers reach a little past critical so the buffer does not flap at the line.
FILL_MARGIN_MINUTES = 5.0
# Keep this many recently prepared QA-passed assets on disk as the emergency pool.
POOL_KEEP = 40
HISTORY_S = 300.0

# What ``Buffer._calm`` was worked out for: entries, emergency state, schedule policy, until.
CalmKey = tuple[list[QueueEntry], EmergencyState, Any, datetime | None]


@attrs.frozen(eq=False)
class StatusFrame:
    """The published state's structure for one timeline until its next start or end
    (``timeline.next_change``): what is on air, next and queued, and where the ready
    programming ends. In between only the clock fields move (``BufferState.at``)."""

    entries: list[QueueEntry]
    emergency: EmergencyState
    policy: Any
    until: datetime | None
    state: BufferState
    real_end: datetime | None  # the run under the playhead, unstarted trailing fillers aside

    def holds(
        self, entries: list[QueueEntry], state: EmergencyState, policy: Any, now: datetime
    ) -> bool:
        return (
            self.entries is entries
            and self.emergency is state
            and self.policy is policy
            and self.until is not None
            and now < self.until
        )


KEY_CURSOR = "hls_cursor"
KEY_EMERGENCY = "emergency"
KEY_CURATOR = "curator_mode"


class Buffer(Actor):
    mailbox_size: ClassVar[int] = 64
    accepts: ClassVar[tuple[type, ...]] = (AssetReady, SetEmergencyOverride, SetCuratorMode)

    def __init__(self, ch: ChannelContext) -> None:
        self.ch = ch
        self.entries: list[QueueEntry] = []
        self.segments: dict[str, live_playlist.AssetSegments] = {}
        self.asset_dirs: dict[str, Path] = {}
        # rung name -> asset id -> the rung's segments, for the rungs the card asks for
        # (``channel.renditions``); an asset missing from it airs its main segments there.
        self.rung_segments: dict[str, dict[str, live_playlist.AssetSegments]] = {}
        self._renditions: tuple[Rendition, ...] = ()
        self._master: tuple[ChannelProfile, str] | None = None
        self.pool: list[AssetItem] = []
        self.pool_titles: dict[str, str] = {}
        self.emergency = EmergencyState()
        self.cursor: live_playlist.LiveCursor | None = None
        self.curator_mode = CuratorMode()
        self.curator_actions: list[CuratorAction] = []
        self.slate: AssetItem | None = None
        self.ctx: ActorContext | None = None
        self._next_pool = self._next_curator = self._next_prune = self._next_sample = 0.0
        self._next_beat = 0.0
        self._availability: float | None = None  # today's, at the last sample
        self._next_boundary: datetime | None = None
        self._last_tick_s: float | None = None
        self._pool_version: tuple[int, int] | None = None
        self._plan_titles: dict[str, str] = {}  # of the pool's plans
        self._calm_key: CalmKey | None = None
        self._frame: StatusFrame | None = None  # see ``status``
        self._view_of: list[QueueEntry] | None = None  # the entries ch.queue_view shows

    # --- start-up --------------------------------------------------------------------

    async def started(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        ch = self.ch
        now = ch.clock.now()
        store = ch.store
        self.slate = store.get_asset(ch.slate_id)
        if self.slate is None:
            raise RuntimeError(f"slate asset {ch.slate_id!r} is missing from the store")
        self._load_segments(self.slate)
        values = store.live_values()
        if values.get(KEY_CURSOR):
            self.cursor = live_playlist.LiveCursor.from_dict(values[KEY_CURSOR])
        if values.get(KEY_EMERGENCY):
            self.emergency = _emergency_from(values[KEY_EMERGENCY])
        if values.get(KEY_CURATOR):
            saved = dict(values[KEY_CURATOR])
            self.curator_mode = CuratorMode.from_request(
                saved.pop("mode", "auto"), saved, ch.card.curator_policy
            )
        self.entries = store.queue_after(now - timedelta(seconds=HISTORY_S))
        for entry in list(self.entries):
            if not self._ensure_segments(entry.asset_id):
                self._skip(entry, "ASSET_MISSING")
        self._reconcile(now)
        self._refresh_pool()
        self.tick()
        ctx.start_soon(self._ticker)

    def _reconcile(self, now: datetime) -> None:
        """Queue committed plans whose hand-off was lost (a crash between commit and queue)."""
        queued = {e.plan_id for e in self.ch.store.queue_after(now - timedelta(hours=1))}
        for plan in self.ch.store.plans_in_flight():
            if plan.state is not PlanState.COMMITTED or plan.plan_id in queued:
                continue
            if plan.end_at is not None and plan.end_at < now - timedelta(hours=6):
                continue
            for asset in self.ch.store.assets_for_plan(plan.plan_id):
                if asset.qa_status is QAStatus.PASSED:
                    self.place(
                        AssetReady(
                            asset_id=asset.asset_id,
                            plan_id=plan.plan_id,
                            title=plan.title,
                            theme=plan.theme,
                            duration_sec=asset.duration_sec,
                            planned_start=plan.start_at,
                            slot_type=plan.slot_type or SlotType.MAIN,
                            trace_id=plan.trace_id,
                        )
                    )
                    break

    async def stopping(self) -> None:
        # A clean stop: the air ran until now (a crash is counted from the last beat).
        try:
            self.ch.store.beat(self.ch.leadership.owner, self.ch.clock.now())
        except Exception as exc:  # a full disk must not turn a clean stop into a crash
            log.warning(
                "last heartbeat not written (availability counts from the one before): %s", exc
            )

    # --- messages --------------------------------------------------------------------

    async def handle(self, msg: object) -> object:
        if isinstance(msg, AssetReady):
            self.place(msg)
            self.tick()
            return None
        if isinstance(msg, SetEmergencyOverride):
            return self.override(msg)
        if isinstance(msg, SetCuratorMode):
            return self.set_curator_mode(msg)
        raise AssertionError(f"unexpected message {msg!r}")

    def place(self, msg: AssetReady) -> QueueEntry | None:
        """Put ready content on the timeline, replacing emergency fillers not yet on air."""
        ch = self.ch
        now = ch.clock.now()
        if not (math.isfinite(msg.duration_sec) and msg.duration_sec > 0):
            # QA refuses such assets; one arriving anyway (a damaged row, a bad sender)
            # must not take the timeline arithmetic, and the air, down with it.
            log.error(
                "asset %s announced with duration %r s; not queued", msg.asset_id, msg.duration_sec
            )
            return None
        if not self._ensure_segments(msg.asset_id):
            log.warning("asset %s has no prepared segments; not queued", msg.asset_id)
            return None
        if msg.plan_id and any(e.plan_id == msg.plan_id for e in self.entries):
            return None
        for filler in [
            e for e in self.entries if e.slot_type is SlotType.EMERGENCY and e.start_at > now
        ]:
            self._skip(filler, "REPLACED_BY_CONTENT")
        entry = timeline.append(
            self.entries,
            now,
            asset_id=msg.asset_id,
            title=msg.title,
            duration_sec=msg.duration_sec,
            theme=msg.theme,
            plan_id=msg.plan_id,
            slot_type=msg.slot_type,
            fallback_level=msg.fallback_level,
            trace_id=msg.trace_id,
        )
        if not ch.store.insert_queue_entry(entry):
            return None  # already queued (idempotent by plan)
        self.entries = timeline.ordered([*self.entries, entry])
        self._audit(
            AuditType.QUEUED,
            "",
            entry,
            {
                "start_at": entry.start_at.isoformat(),
                "planned_start": msg.planned_start.isoformat() if msg.planned_start else None,
                "slot_type": entry.slot_type.value,
                "fallback_level": int(entry.fallback_level),
            },
        )
        return entry

    def override(self, msg: SetEmergencyOverride) -> StatusDict:
        now = self.ch.clock.now()
        state, transition = emergency.set_override(
            self.emergency, msg.enabled, now, toggle=msg.toggle
        )
        self._set_emergency(state, transition, who=msg.who)
        self.tick()
        return self.status()

    def set_curator_mode(self, msg: SetCuratorMode) -> dict[str, Any]:
        policy = self.ch.card.curator_policy
        try:
            mode = CuratorMode.from_request(msg.mode, msg.limits, policy)
        except ValueError as exc:
            return {"error": str(exc)}  # the API validates first; never crash on a bad one
        self.curator_mode = mode
        self.ch.store.set_live_value(KEY_CURATOR, {"mode": msg.mode, **msg.limits})
        self._audit(AuditType.CURATOR_MODE, "", None, {"who": msg.who, **mode.to_dict(policy)})
        self._publish(self.ch.clock.now())
        return mode.to_dict(policy)

    # --- the tick --------------------------------------------------------------------

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(self._wait_s())
            self.tick()

    def _wait_s(self) -> float:
        """Until the next tick: a second while a dashboard watches the buffer topic;
        otherwise until the live stream's next segment boundary (only then can the playlist,
        the as-run log or what is on air change), at most ``IDLE_TICK_S``. Messages (new
        content, overrides) still tick at once. Under a mock clock this is the difference
        between 604,800 ticks a simulated week and about 100,000."""
        if self._next_boundary is None or self.ch.topics["buffer"].subscriber_count > 0:
            return TICK_S
        ahead = (self._next_boundary - self.ch.clock.now()).total_seconds()
        # A millisecond past the boundary, so the tick sees the new segment as started.
        return min(IDLE_TICK_S, ahead + 0.001) if ahead > 0 else TICK_S

    def tick(self) -> None:
        ch = self.ch
        now = ch.clock.now()
        card = ch.card
        policy = card.schedule_policy
        assert self.slate is not None
        clock_s = trio.current_time()
        elapsed = 0.0 if self._last_tick_s is None else clock_s - self._last_tick_s
        self._last_tick_s = clock_s
        if clock_s >= self._next_pool:
            self._refresh_pool()
            self._next_pool = clock_s + POOL_REFRESH_S

        if not self._calm(now):
            self._keep_on_air(now)
        if self.emergency.active:
            ch.metrics.emergency_seconds.inc(elapsed)
        if clock_s >= self._next_curator:
            self._curate(now)
            self._next_curator = clock_s + CURATOR_EVERY_S
        self._air(now)
        kept = timeline.drop_finished(self.entries, now, HISTORY_S)
        if kept != self.entries:  # the same list while nothing ended: see ``_calm``
            self.entries = kept
        if clock_s >= self._next_beat:
            # The air is running: the heartbeat availability is measured from.
            ch.store.beat(ch.leadership.owner, now)
            self._next_beat = clock_s + HEARTBEAT_S
        if clock_s >= self._next_sample:
            self._sample(now)
            self._next_sample = clock_s + SAMPLE_EVERY_S
        if clock_s >= self._next_prune:
            self._prune()
            self._next_prune = clock_s + PRUNE_EVERY_S
        if not self._calm(now):
            self._calm_key = (self.entries, self.emergency, policy, self._calm_until(now))
        self._publish(now)

    def _keep_on_air(self, now: datetime) -> None:
        """The dead-air rule, then the emergency step and fill."""
        assert self.slate is not None
        policy = self.ch.card.schedule_policy
        cover = emergency.cover_playhead(self.entries, now, self.slate)
        if cover is not None:
            self._add_fillers([cover])
            self._audit(
                AuditType.STREAM_DISRUPTION, "NOTHING_ON_AIR", cover, {"covered_by": "slate"}
            )
        # The mode follows real content only: fillers never end an emergency by themselves.
        plan = emergency.keep_on_air(
            self.entries,
            now,
            self.emergency,
            critical=policy.buffer_critical_minutes,
            target=policy.buffer_target_minutes,
            pool=self.pool,
            slate=self.slate,
            margin_minutes=FILL_MARGIN_MINUTES,
            titles=self.pool_titles,
        )
        self._set_emergency(plan.state, plan.transition)
        self._add_fillers(plan.added)

    def _calm(self, now: datetime) -> bool:
        """Whether ``_keep_on_air`` is sure to change nothing now (see ``_calm_until``):
        the timeline, the mode and the policy are those it was worked out for, in time."""
        key = self._calm_key
        return (
            key is not None
            and key[0] is self.entries
            and key[1] is self.emergency
            and key[2] is self.ch.card.schedule_policy
            and key[3] is not None
            and now < key[3]
        )

    def _calm_until(self, now: datetime) -> datetime | None:
        """Until when the dead-air rule and the emergency step cannot act on this timeline.

        They act only when nothing is on air, in emergency (or forced into it), or when the
        ready programming is below critical. What is on air and which fillers have not
        started change only at an entry's start or end (``timeline.next_change``); between
        those instants the ready programming drains with the clock, so the moment it
        reaches critical is known. Skipping the work until then is most ticks of a day.
        """
        if self.emergency.active or self.emergency.override is True:
            return None
        if timeline.now_playing(self.entries, now) is None:
            return None
        real, _ = timeline.drop_trailing_fallback(self.entries, now)
        critical = self.ch.card.schedule_policy.buffer_critical_minutes
        spare = timeline.buffer_minutes(real, now) - critical
        change = timeline.next_change(self.entries, now)
        if spare <= 0 or change is None:
            return None
        # A millisecond early: the emergency step compares float minutes with critical.
        return min(change, now + timedelta(minutes=spare) - timedelta(milliseconds=1))

    def _air(self, now: datetime) -> None:
        """Slide the live window, render the playlist, and write the as-run log."""
        ch = self.ch
        since, until = now - timedelta(seconds=HISTORY_S), now + timedelta(minutes=1)
        near = [e for e in self.entries if e.end_at > since and e.start_at <= until]
        items = live_playlist.airing_items(near, self.segments)
        target = self._target_duration()
        cursor, window = live_playlist.advance(
            self.cursor,
            items,
            now,
            window_segments=max(3, math.ceil(3 * target / ch.card.channel.segment_seconds)),
            min_window_sec=3.0 * target,
        )
        if self.cursor is None or cursor.window != self.cursor.window or window.events:
            ch.store.set_live_value(KEY_CURSOR, cursor.to_dict())
        self.cursor = cursor
        for event in window.events:
            self._as_run(event)
        newest = window.segments[-1].start_at
        self._next_boundary = newest + timedelta(seconds=window.segments[-1].duration_sec)
        ch.live.publish(
            live_playlist.render(window, target),
            dict(self.asset_dirs),
            newest,
            window=window,
            target_duration=target,
            master=self._master_playlist(),
            rungs=self._rung_playlists(window, target),
        )

    def _master_playlist(self) -> str:
        """The master playlist of the card in force (rendered again only when it changes:
        the Buffer ticks tens of thousands of times a day)."""
        profile = self.ch.card.channel
        if self._master is None or self._master[0] is not profile:
            self._master = (profile, master.render_master(profile))
        return self._master[1]

    def _rung_playlists(
        self, window: live_playlist.LiveWindow, target: int
    ) -> dict[str, RungPlaylist]:
        """The lower rungs' live playlists: the main window, each asset's rung segments."""
        renditions = self.ch.card.channel.renditions
        if renditions != self._renditions:
            # The card changed its rungs: look again at every asset on hand (a rung made
            # before, under the same name, is used; an asset without one airs its main one).
            self._renditions = renditions
            self.rung_segments = {}
            for asset_id, directory in self.asset_dirs.items():
                self._load_rungs(asset_id, directory)
        out = {}
        for rung in renditions:
            rung_window, fallback = live_playlist.rung_window(
                window, self.rung_segments.get(rung.name, {})
            )
            self.ch.metrics.rendition_fallback_segments.labels(rung.name).set(fallback)
            out[rung.name] = RungPlaylist(
                live_playlist.render(rung_window, target), rung_window, fallback
            )
        return out

    def _load_rungs(self, asset_id: str, directory: Path) -> None:
        main = self.segments.get(asset_id)
        if main is None:
            return
        for rung in self._renditions:
            try:
                made = rungs.read_rung(directory, rung)
                rungs.check_aligned(
                    main.segments, made, rungs.ALIGN_TOLERANCE_S, f"{asset_id} rung {rung.name}"
                )
            except rungs.RungError:
                continue  # never made (an older asset) or unusable: its main segments air
            self.rung_segments.setdefault(rung.name, {})[asset_id] = live_playlist.AssetSegments(
                asset_id, made
            )

    def _as_run(self, event: live_playlist.AirEvent) -> None:
        ch = self.ch
        entry = next((e for e in self.entries if e.entry_id == event.entry_id), None)
        if entry is None:
            entry = ch.store.get_queue_entry(event.entry_id)
        if entry is None:
            return
        status = EntryStatus.AIRING if event.kind == "started" else EntryStatus.AIRED
        with ch.store.transaction():
            ch.store.set_entry_status(entry.entry_id, status)
            self._audit(
                AuditType.AIRED_STARTED if event.kind == "started" else AuditType.AIRED_FINISHED,
                "",
                entry,
                {
                    "at": event.at.isoformat(),
                    "slot_type": entry.slot_type.value,
                    "fallback_level": int(entry.fallback_level),
                    "title": entry.title,
                },
            )
            if event.kind == "started":
                ch.store.mark_asset_aired(entry.asset_id, event.at)
                ch.metrics.fallback_levels.labels(level=str(int(entry.fallback_level))).inc()
            elif entry.plan_id and entry.slot_type is not SlotType.EMERGENCY:
                plan = ch.store.get_plan(entry.plan_id)
                if plan is not None and plan.state is PlanState.COMMITTED:
                    ch.store.transition_plan(
                        plan.plan_id, PlanState.AIRED, event.at, actor="buffer"
                    )
        self.entries = [
            attrs.evolve(e, status=status) if e.entry_id == entry.entry_id else e
            for e in self.entries
        ]

    def _curate(self, now: datetime) -> None:
        """Review the next hours for repetition; apply only what the policy allows."""
        ch = self.ch
        card = ch.card
        policy = card.curator_policy
        hour_ago = now - timedelta(hours=1)
        self.curator_actions = [a for a in self.curator_actions if a.at > hour_ago]
        themes = {e.entry_id: e.theme for e in self.entries}
        suggestions = review(
            self.entries,
            now,
            card.editorial_profile,
            policy,
            self.curator_mode,
            self.curator_actions,
        )
        for suggestion in suggestions:
            decision = decide(
                suggestion,
                policy,
                self.curator_mode,
                applied_in_last_hour(self.curator_actions, now),
                entries=self.entries,
                now=now,
                editorial=card.editorial_profile,
            )
            details = {
                **suggestion.audit_details(themes),
                "decision": decision.action,
                "why": decision.reason,
            }
            self.curator_actions.append(CuratorAction(now, suggestion, decision.apply))
            if not decision.apply:
                ch.metrics.curator_decisions.labels(kind="suggested").inc()
                self._audit(AuditType.CURATOR_SUGGESTED, "", None, details)
                continue
            after = apply_suggestion(self.entries, suggestion)
            changed = [e for e in after if e not in self.entries]
            ch.store.update_queue_entries(changed)
            self.entries = timeline.ordered(after)
            ch.metrics.curator_decisions.labels(kind="applied").inc()
            self._audit(AuditType.CURATOR_APPLIED, "", None, details)
            # One change per review: the next review sees the new order.
            break

    # --- helpers ---------------------------------------------------------------------

    def _add_fillers(self, fillers: Sequence[QueueEntry]) -> None:
        if not fillers:
            return
        for f in fillers:
            self._ensure_segments(f.asset_id)
        self.ch.store.insert_queue_entries(fillers)
        self.entries = timeline.ordered([*self.entries, *fillers])

    def _skip(self, entry: QueueEntry, reason: str) -> None:
        self.ch.store.set_entry_status(entry.entry_id, EntryStatus.SKIPPED)
        self.entries = [e for e in self.entries if e.entry_id != entry.entry_id]
        if entry.slot_type is not SlotType.EMERGENCY:
            self._audit(AuditType.ENTRY_SKIPPED, reason, entry, {})

    def _set_emergency(
        self,
        state: EmergencyState,
        transition: emergency.Transition | None,
        who: str = "",
    ) -> None:
        if state == self.emergency:
            return
        self.emergency = state
        self.ch.store.set_live_value(KEY_EMERGENCY, state.to_dict())
        self.ch.metrics.emergency_active.set(1 if state.active else 0)
        if transition is not None:
            details = transition.audit_details()
            if who:
                details["who"] = who
            self._audit(transition.event_type, "", None, details)
            self._nudge_alerter()

    def _nudge_alerter(self) -> None:
        """Emergency changed: let the Alerter evaluate now rather than within the minute."""
        if self.ctx is None:
            return
        # The Alerter also evaluates on its own schedule, so a full mailbox loses nothing.
        with contextlib.suppress(ActorError, trio.WouldBlock):
            self.ctx.ref("alerter").cast_nowait(EvaluateAlerts(reason="emergency changed"))

    def _refresh_pool(self) -> None:
        # The pool is a function of the assets table (and of the plans' titles, which do
        # not change): reload it only when the table changed since the last reload. A
        # reload is every eligible asset through cattrs plus a plan read per asset.
        version = self.ch.store.assets_version()
        if version == self._pool_version:
            return
        self._pool_version = version
        pool = [a for a in self.ch.store.emergency_pool() if a.asset_id != self.ch.slate_id]
        known = {a.asset_id for a in self.pool}
        self.pool = [a for a in pool if self._ensure_segments(a.asset_id)]
        if any(a.asset_id not in known for a in self.pool):
            # New QA-passed content beats the slate: let the next fill use it.
            now = self.ch.clock.now()
            for e in self.entries:
                if e.fallback_level is FallbackLevel.SLATE and e.start_at > now:
                    self._skip(e, "REPLACED_BY_POOL")
        # A plan's title never changes: read only the plans new to the pool.
        titles = {}
        for plan_id in {a.plan_id for a in self.pool if a.plan_id}:
            title = self._plan_titles.get(plan_id)
            if title is None:
                plan = self.ch.store.get_plan(plan_id)
                title = plan.title if plan is not None else None
            if title is not None:
                titles[plan_id] = title
        self._plan_titles = titles
        self.pool_titles = {
            a.asset_id: titles.get(a.plan_id) or emergency.asset_title(a) for a in self.pool
        }

    def _ensure_segments(self, asset_id: str) -> bool:
        if asset_id in self.segments:
            return True
        asset = self.ch.store.get_asset(asset_id)
        return asset is not None and self._load_segments(asset)

    def _load_segments(self, asset: AssetItem) -> bool:
        directory = Path(asset.segments_dir or asset.local_path)
        try:
            text = (directory / "index.m3u8").read_text()
            self.segments[asset.asset_id] = live_playlist.AssetSegments.from_playlist(
                asset.asset_id, text
            )
        except (OSError, ValueError) as exc:
            log.warning("asset %s cannot air: %s", asset.asset_id, exc)
            return False
        self.asset_dirs[asset.asset_id] = directory
        self._load_rungs(asset.asset_id, directory)
        return True

    def _target_duration(self) -> int:
        assert self.slate is not None
        return live_playlist.target_duration_for(
            self.ch.card.channel.segment_seconds, [self.segments[self.slate.asset_id]]
        )

    def _prune(self) -> None:
        """Bound disk use: keep what is on the timeline, the slate and the newest pool."""
        ch = self.ch
        keep = {e.asset_id for e in self.entries} | {ch.slate_id}
        newest = sorted(self.pool, key=lambda a: a.created_at, reverse=True)[:POOL_KEEP]
        keep |= {a.asset_id for a in newest}
        for asset in self.pool:
            if asset.asset_id in keep:
                continue
            ch.store.save_asset(attrs.evolve(asset, emergency_eligible=False))
            shutil.rmtree(self.asset_dirs.get(asset.asset_id, Path("/nonexistent")), True)
            self.segments.pop(asset.asset_id, None)
            self.asset_dirs.pop(asset.asset_id, None)
            for by_asset in self.rung_segments.values():
                by_asset.pop(asset.asset_id, None)
        self.pool = [a for a in self.pool if a.asset_id in keep]

    def _sample(self, now: datetime) -> None:
        """Record the seven pipeline figures (alerts and reports read these samples)."""
        ch = self.ch
        sample = pipeline_metrics(
            ch.store,
            now,
            buffer_minutes=timeline.buffer_minutes(
                timeline.drop_trailing_fallback(self.entries, now)[0], now
            ),
        )
        ch.store.record_metrics(sample)
        ch.metrics.record(sample)
        self._availability = job.availability_today(ch.store, ch.tz, now)
        if self._availability is not None:
            ch.metrics.availability_pct.set(self._availability)

    def status(self) -> StatusDict:
        """The published state. ``buffer_minutes`` counts ready programming, not the
        emergency fillers queued behind it (the figure emergency mode and BUFFER_CRITICAL
        follow); ``air_covered_minutes`` counts everything that will air, fillers included;
        ``card_warnings`` are the warnings of the OwnerCard in force."""
        policy = self.ch.card.schedule_policy
        now = self.ch.clock.now()
        frame = self._frame
        if frame is not None and frame.holds(self.entries, self.emergency, policy, now):
            state, real_end = frame.state.at(now), frame.real_end
        else:
            state = buffer_state(
                self.entries,
                now,
                self.emergency,
                target_minutes=policy.buffer_target_minutes,
                critical_minutes=policy.buffer_critical_minutes,
            )
            real, _ = timeline.drop_trailing_fallback(self.entries, now)
            real_end = timeline.playhead_run_end(real, now)
            until = timeline.next_change(self.entries, now)
            self._frame = StatusFrame(self.entries, self.emergency, policy, until, state, real_end)
        status = state.to_status_dict()
        status["air_covered_minutes"] = status["buffer_minutes"]
        status["buffer_minutes"] = round(timeline.minutes_until(real_end, now), 3)
        status["curator_mode"] = self.curator_mode.mode.value
        status["availability_pct"] = self._availability
        last = self.ch.live.last_segment_at
        status["last_segment_age_s"] = (
            round((self.ch.clock.now() - last).total_seconds(), 3) if last else None
        )
        # What the card in force asks for that vvtv does not do (and its other warnings):
        # the dashboard shows them, so a setting that does nothing is never silent.
        status["card_warnings"] = list(self.ch.cards.loaded.warnings)
        return status

    def _publish(self, now: datetime) -> None:
        status = self.status()
        self.ch.metrics.buffer_minutes.set(status["buffer_minutes"])
        self.ch.topics["buffer"].publish(status)
        # The queue view only changes when an entry ends or the timeline changes, not with
        # every tick: rebuild it (a formatted dict per entry) only then. Entries are frozen
        # and replaced on every change, so the same objects mean the same view.
        ahead = timeline.ahead(self.entries, now)
        shown = self._view_of
        if shown is None or len(ahead) != len(shown) or not all(map(operator.is_, ahead, shown)):
            self._view_of = ahead
            self.ch.queue_view = [ItemView.of(e).to_dict() for e in ahead]

    def _audit(
        self, event_type: AuditType, reason: str, entry: QueueEntry | None, details: dict
    ) -> None:
        self.ch.store.append_audit(
            AuditEvent(
                event_id=new_id("evt"),
                at=self.ch.clock.now(),
                event_type=event_type,
                reason_code=reason,
                actor="buffer",
                plan_id=entry.plan_id if entry else None,
                asset_id=entry.asset_id if entry else None,
                trace_id=entry.trace_id if entry else "",
                details={"entry_id": entry.entry_id, **details} if entry else details,
            )
        )


def _emergency_from(data: dict[str, Any]) -> EmergencyState:
    from vvtv.core.convert import parse_datetime

    entered = data.get("entered_at")
    return EmergencyState(
        active=bool(data.get("active")),
        override=data.get("override"),
        entered_at=parse_datetime(entered) if entered else None,
        reason=str(data.get("reason", "")),
    )
