"""Emergency mode: when to enter and leave it, and what fills the air meanwhile (SPEC §1.6).

- ``step`` is the hysteresis state machine: enter when the buffer drops below
  ``buffer_critical_minutes``, leave only when it is back at ``buffer_target_minutes``.
  An operator override (on or off) wins over the buffer until it is released
  (``override=None``); after release the hysteresis takes over from the current state.
- ``fill_gap`` fills the timeline from the pre-validated emergency pool (QA passed,
  least-recently-aired first, no back-to-back repeat when the pool has a choice), and
  with the locally generated slate where the pool has nothing (empty pool, or a hole too
  short for any pool asset). Pool entries are fallback level 2, slate entries level 3,
  both slot type EMERGENCY.
- ``cover_playhead`` is the dead-air rule, independent of the mode (an operator may force
  emergency off with an empty timeline): if nothing is on air at ``now``, the slate is.

``keep_on_air`` is the Buffer's tick in one call: ``cover_playhead``, ``step``, and while
active ``fill_gap`` with ``horizon_minutes = buffer_critical_minutes`` plus a margin.
Filling only to critical, not target, is deliberate: emergency ends when *main* content
brings the buffer back to target. When main content becomes ready during an emergency, the
Buffer first drops the trailing fillers (``timeline.drop_trailing_fallback``) so the new
content airs next.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs

from vvtv.air import timeline
from vvtv.core.audit import AuditType
from vvtv.core.model import AssetItem, FallbackLevel, QAStatus, QueueEntry, SlotType, new_id

MIN_FILLER_SEC = 1.0
"""Pool assets shorter than this are ignored; a slate shorter than this is refused."""


@attrs.frozen
class EmergencyState:
    """Whether emergency mode is on, and why.

    ``override``: True = operator forced it on, False = forced off, None = automatic.
    """

    active: bool = False
    override: bool | None = None
    entered_at: datetime | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "override": self.override,
            "entered_at": self.entered_at.isoformat() if self.entered_at else None,
            "reason": self.reason,
        }


@attrs.frozen
class Transition:
    """Emergency mode was entered or left; the Buffer audits and publishes it."""

    kind: str  # "entered" | "exited"
    at: datetime
    reason: str
    buffer_minutes: float | None = None
    override: bool | None = None

    @property
    def event_type(self) -> AuditType:
        if self.kind == "entered":
            return AuditType.EMERGENCY_ENTERED
        return AuditType.EMERGENCY_EXITED

    def audit_details(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "buffer_minutes": None
            if self.buffer_minutes is None
            else round(self.buffer_minutes, 3),
            "override": self.override,
        }


def _enter(state: EmergencyState, now: datetime, reason: str, buf: float | None):
    new = attrs.evolve(state, active=True, entered_at=now, reason=reason)
    return new, Transition("entered", now, reason, buf, state.override)


def _exit(state: EmergencyState, now: datetime, reason: str, buf: float | None):
    new = attrs.evolve(state, active=False, entered_at=None, reason="")
    return new, Transition("exited", now, reason, buf, state.override)


def _check_thresholds(critical: float, target: float) -> None:
    for name, value in (("critical", critical), ("target", target)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"emergency: {name} minutes must be a number >= 0, got {value!r}")
    if critical >= target:
        raise ValueError(
            f"emergency: critical minutes must be lower than target minutes "
            f"(got {critical} >= {target})"
        )


def step(
    state: EmergencyState,
    buffer_minutes: float,
    critical: float,
    target: float,
    now: datetime,
) -> tuple[EmergencyState, Transition | None]:
    """The next state given the buffer; a ``Transition`` when the mode changed."""
    timeline.require_aware(now)
    _check_thresholds(critical, target)
    if not isinstance(buffer_minutes, int | float) or not math.isfinite(buffer_minutes):
        raise ValueError(
            f"emergency: buffer_minutes must be a finite number, got {buffer_minutes!r}"
        )
    if state.override is True:
        if not state.active:
            return _enter(state, now, "operator override on", buffer_minutes)
        return state, None
    if state.override is False:
        if state.active:
            return _exit(state, now, "operator override off", buffer_minutes)
        return state, None
    if not state.active and buffer_minutes < critical:
        reason = f"buffer {buffer_minutes:.1f} min below critical {critical:g} min"
        return _enter(state, now, reason, buffer_minutes)
    if state.active and buffer_minutes >= target:
        reason = f"buffer {buffer_minutes:.1f} min back at target {target:g} min"
        return _exit(state, now, reason, buffer_minutes)
    return state, None


def set_override(
    state: EmergencyState, override: bool | None, now: datetime, *, toggle: bool = False
) -> tuple[EmergencyState, Transition | None]:
    """Apply an operator command: on, off, release (None), or toggle the current mode.

    On and off take effect at once (the transition is returned); release keeps the current
    mode and lets the next ``step`` decide by the buffer.
    """
    timeline.require_aware(now)
    if toggle:
        override = not state.active
    if override not in (True, False, None):
        raise ValueError(f"emergency override must be true, false or null, got {override!r}")
    state = attrs.evolve(state, override=override)
    if override is True and not state.active:
        return _enter(state, now, "operator override on", None)
    if override is False and state.active:
        return _exit(state, now, "operator override off", None)
    return state, None


# --- filling the air ---------------------------------------------------------------


def _check_slate(slate: AssetItem) -> None:
    if not isinstance(slate, AssetItem):
        raise ValueError(f"emergency: slate must be an AssetItem, got {type(slate).__name__}")
    if not math.isfinite(slate.duration_sec) or slate.duration_sec < MIN_FILLER_SEC:
        raise ValueError(
            f"emergency: slate {slate.asset_id} has duration {slate.duration_sec!r} s; "
            f"it must be at least {MIN_FILLER_SEC} s"
        )


SLATE_TITLE = "Slate"
RERUN_TITLE = "Rerun"


def asset_title(a: AssetItem) -> str:
    """A title for a pool asset whose plan's title is not known: its source file's name
    (``night_drift.mp4`` → "night drift"), else "Rerun"; never the internal asset id."""
    path = urlsplit(a.source_url).path if "://" in a.source_url else ""
    stem = PurePosixPath(unquote(path)).stem if path else ""
    name = " ".join(stem.replace("_", " ").replace("-", " ").split())
    return name[:120] if name else RERUN_TITLE


def _filler(
    a: AssetItem,
    start: datetime,
    duration: float,
    level: FallbackLevel,
    now: datetime,
    titles: Mapping[str, str],
    themes: Mapping[str, str],
) -> QueueEntry:
    default = SLATE_TITLE if level is FallbackLevel.SLATE else asset_title(a)
    return QueueEntry(
        entry_id=new_id("emg"),
        asset_id=a.asset_id,
        start_at=start,
        duration_sec=duration,
        title=titles.get(a.asset_id, default),
        # No plan_id: a rerun is not its plan's slot, and the store keeps one live entry
        # per plan, so a filler carrying it was silently not stored and crashed the Buffer
        # when it aired. The asset (and trace_id) still tie the filler to plan, fetch and QA.
        plan_id=None,
        theme=themes.get(a.asset_id, ""),
        slot_type=SlotType.EMERGENCY,
        fallback_level=level,
        created_at=now,
        trace_id=a.trace_id,
    )


def cover_playhead(
    entries: Sequence[QueueEntry],
    now: datetime,
    slate: AssetItem,
    *,
    title: str = SLATE_TITLE,
) -> QueueEntry | None:
    """The dead-air rule: a slate entry starting at ``now`` if nothing is on air, else None.

    The slate is shortened so it ends where the next entry starts, if that comes sooner.
    """
    timeline.require_aware(now)
    _check_slate(slate)
    if timeline.now_playing(entries, now) is not None:
        return None
    duration = slate.duration_sec
    later = [e for e in timeline.ordered(entries) if e.start_at > now]
    if later:
        duration = min(duration, (later[0].start_at - now).total_seconds())
    return _filler(slate, now, duration, FallbackLevel.SLATE, now, {slate.asset_id: title}, {})


def fill_gap(
    entries: Sequence[QueueEntry],
    now: datetime,
    horizon_minutes: float,
    pool: Sequence[AssetItem],
    slate: AssetItem,
    *,
    titles: Mapping[str, str] | None = None,
    themes: Mapping[str, str] | None = None,
) -> list[QueueEntry]:
    """Fillers so that the air is covered from ``now`` to at least ``now + horizon_minutes``.

    Existing entries are never moved: fillers go into the holes between them (a pool asset
    only where it fits whole; otherwise the slate, shortened to the hole) and after the end
    of the timeline (pool assets in least-recently-aired order, the slate looped when the
    pool is empty). Pool assets that did not pass QA or are shorter than ``MIN_FILLER_SEC``
    are never used. "Recently aired" is ``AssetItem.last_aired_at`` or the latest start of
    the asset on the timeline, whichever is later; never-aired assets come first, ties in
    pool order. An asset is not placed next to itself when another one would do.

    ``titles``/``themes`` map asset ids to what the entries should show (the pool's
    AssetItems carry neither).
    """
    timeline.require_aware(now)
    _check_slate(slate)
    if not isinstance(horizon_minutes, int | float) or not math.isfinite(horizon_minutes):
        raise ValueError(
            f"fill_gap: horizon_minutes must be a finite number, got {horizon_minutes!r}"
        )
    if horizon_minutes < 0:
        raise ValueError(f"fill_gap: horizon_minutes must be >= 0, got {horizon_minutes}")
    titles = dict(titles or {})
    themes = dict(themes or {})
    usable = [
        a
        for a in pool
        if a.qa_status is QAStatus.PASSED
        and math.isfinite(a.duration_sec)
        and a.duration_sec >= MIN_FILLER_SEC
        and a.asset_id != slate.asset_id
    ]
    seq = timeline.ordered(entries)
    last_used: dict[str, datetime | None] = {a.asset_id: a.last_aired_at for a in usable}
    for e in seq:
        if e.asset_id in last_used:
            prev = last_used[e.asset_id]
            last_used[e.asset_id] = e.start_at if prev is None else max(prev, e.start_at)

    def pick(room_s: float | None, avoid: set[str]) -> AssetItem | None:
        fits = [a for a in usable if room_s is None or a.duration_sec <= room_s + 1e-6]
        fits = [a for a in fits if a.asset_id not in avoid] or fits
        if not fits:
            return None
        order = {a.asset_id: i for i, a in enumerate(usable)}
        return min(
            fits,
            key=lambda a: (
                last_used[a.asset_id] is not None,
                last_used[a.asset_id] or now,
                order[a.asset_id],
            ),
        )

    goal = now + timedelta(minutes=horizon_minutes)
    fillers: list[QueueEntry] = []
    first = timeline.playhead_run_start(seq, now)
    if first is None:
        cursor, prev_asset = now, None
        nxt = bisect.bisect_right([e.start_at for e in seq], now)
    else:
        cursor, last = _chain(seq, first)
        prev_asset, nxt = seq[last].asset_id, last + 1
    # invariant: seq[nxt] (if any) starts after cursor + TOLERANCE, i.e. there is a hole
    while cursor < goal:
        hole_end = seq[nxt].start_at if nxt < len(seq) else None
        room = None if hole_end is None else (hole_end - cursor).total_seconds()
        avoid = {prev_asset} if prev_asset else set()
        if hole_end is not None:
            avoid.add(seq[nxt].asset_id)
        chosen = pick(room, avoid)
        if chosen is not None:
            level, duration = FallbackLevel.EMERGENCY_POOL, chosen.duration_sec
            last_used[chosen.asset_id] = cursor
        else:
            chosen, level = slate, FallbackLevel.SLATE
            duration = slate.duration_sec if room is None else min(slate.duration_sec, room)
        new = _filler(chosen, cursor, duration, level, now, titles, themes)
        fillers.append(new)
        cursor, prev_asset = new.end_at, new.asset_id
        if hole_end is not None and cursor + timeline.TOLERANCE >= hole_end:
            cursor, last = _chain(seq, nxt)
            prev_asset, nxt = seq[last].asset_id, last + 1
    return fillers


def _chain(seq: Sequence[QueueEntry], i: int) -> tuple[datetime, int]:
    """End of the contiguous run starting at ``seq[i]``, and the index of its last entry."""
    end = seq[i].end_at
    j = i
    while j + 1 < len(seq) and seq[j + 1].start_at <= end + timeline.TOLERANCE:
        j += 1
        end = seq[j].end_at
    return end, j


@attrs.frozen
class TickPlan:
    """What one Buffer tick decided: the new mode, and the entries to add to the timeline."""

    state: EmergencyState
    transition: Transition | None
    added: tuple[QueueEntry, ...]
    buffer_minutes: float


def keep_on_air(
    entries: Sequence[QueueEntry],
    now: datetime,
    state: EmergencyState,
    *,
    critical: float,
    target: float,
    pool: Sequence[AssetItem],
    slate: AssetItem,
    margin_minutes: float = 5.0,
    titles: Mapping[str, str] | None = None,
    themes: Mapping[str, str] | None = None,
) -> TickPlan:
    """One tick of the air: no dead air, emergency hysteresis, emergency fill while active.

    The mode follows the buffer of real content: emergency fillers queued at the end of the
    timeline that have not started do not count (``timeline.drop_trailing_fallback``), so
    fillers never end an emergency by themselves, however long the pool's assets are.
    ``buffer_minutes`` in the result counts everything that will air, for publishing.
    """
    added: list[QueueEntry] = []
    slate_now = cover_playhead(entries, now, slate)
    if slate_now is not None:
        added.append(slate_now)
    current = [*entries, *added]
    real, _ = timeline.drop_trailing_fallback(current, now)
    buf = timeline.buffer_minutes(real, now)
    state, transition = step(state, buf, critical, target, now)
    if state.active:
        added += fill_gap(
            current,
            now,
            critical + margin_minutes,
            pool,
            slate,
            titles=titles,
            themes=themes,
        )
    return TickPlan(
        state=state,
        transition=transition,
        added=tuple(added),
        buffer_minutes=timeline.buffer_minutes([*entries, *added], now),
    )
