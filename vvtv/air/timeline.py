"""The timeline: the ordered queue of ready entries, and what it says about the air.

Every function here is pure: entries and a ``now`` in, values out.

The air rule, shared with ``vvtv.air.live_playlist`` so the dashboard says what really airs:

- entries air in ``start_at`` order (ties broken by ``entry_id``); ``SKIPPED`` entries
  never air;
- an entry airs from its ``start_at`` until the next entry's ``start_at`` or its own
  end, whichever comes first (a later entry *cuts* an earlier one that overlaps it);
- the entry on air at ``now`` is the last one that started at or before ``now``, if it
  has not ended yet; otherwise nothing is on air (dead air; ``vvtv.air.emergency`` fills it).

Start times come from float durations, so neighbouring entries may overlap or leave a gap
of a fraction of a second. ``TOLERANCE`` absorbs that: a gap shorter than it does not
break contiguity.

Placement rule (``append``): a new entry always starts at ``timeline_end`` — the end of the
contiguous run of content from the playhead (or ``now`` when nothing is on air). A
committed item whose planned start is later than that end is placed at the end anyway,
and one that is late is placed there too: in nominal operation the timeline never has
holes, and the planned start is kept only to measure the delay.
"""

from __future__ import annotations

import bisect
import functools
import math
import operator
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from vvtv.core.convert import format_datetime
from vvtv.core.model import EntryStatus, FallbackLevel, QueueEntry, SlotType, new_id

if TYPE_CHECKING:
    from vvtv.air.emergency import EmergencyState

TOLERANCE = timedelta(seconds=1.0)
"""Gaps or overlaps shorter than this are float rounding, not holes."""


def require_aware(now: datetime, what: str = "now") -> None:
    """Refuse naive datetimes: 'which zone?' is a bug, and comparisons would fail later."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {now!r}")


def ordered(entries: Iterable[QueueEntry]) -> list[QueueEntry]:
    """The entries that can air, in air order (start, then entry_id)."""
    seq = [e for e in entries if e.status is not EntryStatus.SKIPPED]
    # The Buffer keeps its timeline in air order and these functions run ~10 times a
    # tick: checking the order (in C) is cheaper than sorting by a Python key. Equal
    # starts fall through to the sort, which orders them by entry_id.
    starts = [e.start_at for e in seq]
    if not all(map(operator.lt, starts, starts[1:])):
        seq.sort(key=_air_key)
    return seq


def _air_key(e: QueueEntry) -> tuple[datetime, str]:
    return (e.start_at, e.entry_id)


def _on_air_index(seq: Sequence[QueueEntry], now: datetime) -> int | None:
    """Index in ``seq`` (air order) of the entry on air at ``now``, by the air rule."""
    starts = [e.start_at for e in seq]
    i = bisect.bisect_right(starts, now) - 1
    if i < 0 or seq[i].end_at <= now:
        return None
    return i


def run_end(seq: Sequence[QueueEntry], i: int) -> datetime:
    """End of the contiguous run that begins with ``seq[i]``.

    The run continues while the next entry starts no later than the current one's end plus
    the tolerance; by the air rule the next entry then takes over at its own start, so the
    run ends where the last linked entry ends.
    """
    end = seq[i].end_at
    for e in seq[i + 1 :]:
        if e.start_at > end + TOLERANCE:
            break
        end = e.end_at
    return end


def playhead_run_start(seq: Sequence[QueueEntry], now: datetime) -> int | None:
    """The entry that begins the run under the playhead: the one on air, or one starting
    within the tolerance (a rounding gap right at the playhead is not dead air)."""
    i = _on_air_index(seq, now)
    if i is not None:
        return i
    starts = [e.start_at for e in seq]
    j = bisect.bisect_right(starts, now)
    if j < len(seq) and seq[j].start_at <= now + TOLERANCE:
        return j
    return None


def buffer_minutes(entries: Iterable[QueueEntry], now: datetime) -> float:
    """Minutes of contiguous content ahead of the playhead, from real durations.

    Counts the rest of the entry on air plus every following entry linked without a gap
    (gaps under ``TOLERANCE`` do not count as gaps); the first real gap ends the count.
    Nothing on air means 0.
    """
    require_aware(now)
    return minutes_until(playhead_run_end(entries, now), now)


def playhead_run_end(entries: Iterable[QueueEntry], now: datetime) -> datetime | None:
    """Where the contiguous run under the playhead ends; None when nothing is on air."""
    seq = ordered(entries)
    i = playhead_run_start(seq, now)
    return None if i is None else run_end(seq, i)


def minutes_until(end: datetime | None, now: datetime) -> float:
    """Buffer minutes from a run end (``playhead_run_end``): 0 for none or one passed."""
    return 0.0 if end is None else max(0.0, (end - now).total_seconds() / 60.0)


def timeline_end(entries: Iterable[QueueEntry], now: datetime) -> datetime:
    """Where new content goes: the end of the contiguous run from the playhead, else ``now``."""
    require_aware(now)
    seq = ordered(entries)
    i = playhead_run_start(seq, now)
    if i is None:
        return now
    return max(now, run_end(seq, i))


class NowPlaying(NamedTuple):
    entry: QueueEntry
    elapsed_s: float
    remaining_s: float


def now_playing(entries: Iterable[QueueEntry], now: datetime) -> NowPlaying | None:
    """The entry on air at ``now`` with seconds elapsed and remaining, or None (dead air).

    Remaining time honours the air rule: an entry cut by the next one ends at its start.
    Inside a rounding gap (< ``TOLERANCE``) the entry about to start is reported, at 0 s.
    """
    require_aware(now)
    seq = ordered(entries)
    i = playhead_run_start(seq, now)
    return None if i is None else _playing(seq, i, now)


def _air_end(seq: Sequence[QueueEntry], i: int) -> datetime:
    """When ``seq[i]`` stops airing: its end, or the next entry's start if that cuts it."""
    end = seq[i].end_at
    return min(end, seq[i + 1].start_at) if i + 1 < len(seq) else end


def _playing(seq: Sequence[QueueEntry], i: int, now: datetime) -> NowPlaying:
    """``now_playing`` for ``seq`` in air order whose run under the playhead starts at ``i``."""
    entry = seq[i]
    end = _air_end(seq, i)
    elapsed = max(0.0, (now - entry.start_at).total_seconds())
    remaining = max(0.0, (end - max(now, entry.start_at)).total_seconds())
    return NowPlaying(entry, elapsed, remaining)


def next_entries(entries: Iterable[QueueEntry], now: datetime, n: int) -> list[QueueEntry]:
    """The next ``n`` entries that start after ``now``, in air order."""
    require_aware(now)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    upcoming = [e for e in ordered(entries) if e.start_at > now]
    playing = now_playing(entries, now)
    if playing is not None:
        upcoming = [e for e in upcoming if e.entry_id != playing.entry.entry_id]
    return upcoming[:n]


def ahead(entries: Iterable[QueueEntry], now: datetime) -> list[QueueEntry]:
    """The entry on air (if any) and every entry that starts later, in air order."""
    require_aware(now)
    seq = ordered(entries)
    i = playhead_run_start(seq, now)
    if i is not None:
        return seq[i:]
    return [e for e in seq if e.start_at > now]


def next_change(entries: Iterable[QueueEntry], now: datetime) -> datetime | None:
    """The first instant after ``now`` at which the air rule may answer differently for
    the same entries: an entry coming within ``TOLERANCE`` of its start, starting, or
    ending. Until then what is on air, what follows and which entries have not started
    stay the same, and buffer minutes fall with the clock. None when no such instant."""
    require_aware(now)
    instants = (t for e in entries for t in (e.start_at - TOLERANCE, e.start_at, e.end_at))
    return min((t for t in instants if t > now), default=None)


def drop_finished(
    entries: Iterable[QueueEntry], now: datetime, keep_seconds: float = 300.0
) -> list[QueueEntry]:
    """The timeline without entries that ended more than ``keep_seconds`` ago.

    Keep a few minutes of history: the live playlist's window reaches back into it.
    """
    require_aware(now)
    horizon = now - timedelta(seconds=keep_seconds)
    return [e for e in ordered(entries) if e.end_at > horizon]


def append(
    entries: Iterable[QueueEntry],
    now: datetime,
    *,
    asset_id: str,
    title: str,
    duration_sec: float,
    theme: str = "",
    plan_id: str | None = None,
    slot_type: SlotType = SlotType.MAIN,
    fallback_level: FallbackLevel = FallbackLevel.MAIN,
    trace_id: str = "",
    entry_id: str | None = None,
) -> QueueEntry:
    """A new entry for ready content, placed at ``timeline_end`` (see the module docstring).

    Returns the entry only; the caller adds it to its timeline and persists it.
    """
    require_aware(now)
    if not asset_id:
        raise ValueError("append: asset_id is empty")
    if not isinstance(duration_sec, int | float) or not math.isfinite(duration_sec):
        raise ValueError(f"append: duration_sec of asset {asset_id} is not a number")
    if duration_sec <= 0:
        raise ValueError(
            f"append: duration_sec of asset {asset_id} must be > 0, got {duration_sec}"
        )
    return QueueEntry(
        entry_id=entry_id or new_id("entry"),
        asset_id=asset_id,
        start_at=timeline_end(entries, now),
        duration_sec=float(duration_sec),
        title=title,
        plan_id=plan_id,
        theme=theme,
        slot_type=slot_type,
        fallback_level=fallback_level,
        created_at=now,
        trace_id=trace_id,
    )


def drop_trailing_fallback(
    entries: Iterable[QueueEntry],
    now: datetime,
    min_level: FallbackLevel = FallbackLevel.EMERGENCY_POOL,
) -> tuple[list[QueueEntry], list[QueueEntry]]:
    """Split off emergency fillers queued at the end of the timeline that have not started.

    Returns ``(kept, dropped)``. Main content that becomes ready during an emergency should
    air as soon as the filler on air ends, not after every filler queued behind it: drop the
    trailing fillers (the caller marks them SKIPPED), ``append`` the new entry, and let the
    next ``emergency.fill_gap`` top the timeline up again. Fillers followed by other content,
    and the one on air, are kept.
    """
    require_aware(now)
    seq = ordered(entries)
    cut = len(seq)
    while cut > 0 and seq[cut - 1].fallback_level >= min_level and seq[cut - 1].start_at > now:
        cut -= 1
    dropped_ids = {e.entry_id for e in seq[cut:]}
    kept = [e for e in entries if e.entry_id not in dropped_ids]
    return kept, seq[cut:]


def programming_end(entries: Iterable[QueueEntry], now: datetime) -> datetime:
    """Where the next ready content will air: ``timeline_end`` once the emergency fillers
    that have not started are set aside (``Buffer.place`` replaces them with content).

    The planner anchors the uncommitted grid here, so planned starts follow the real air
    timeline rather than drifting from it by every plan dropped without a reserve.
    """
    real, _ = drop_trailing_fallback(entries, now)
    return timeline_end(real, now)


def retime(entries: Sequence[QueueEntry], start_at: datetime) -> list[QueueEntry]:
    """The entries, in the given order, re-timed back to back from ``start_at``."""
    out: list[QueueEntry] = []
    at = start_at
    for e in entries:
        out.append(e if e.start_at == at else attrs.evolve(e, start_at=at))
        at = at + timedelta(seconds=e.duration_sec)
    return out


# --- the published state ------------------------------------------------------------


@attrs.frozen
class ItemView:
    """One timeline entry as the dashboard shows it."""

    entry_id: str
    asset_id: str
    title: str
    theme: str
    start_at: datetime
    duration_sec: float
    slot_type: SlotType
    fallback_level: FallbackLevel

    @classmethod
    def of(cls, e: QueueEntry) -> ItemView:
        return cls(
            e.entry_id,
            e.asset_id,
            e.title,
            e.theme,
            e.start_at,
            e.duration_sec,
            e.slot_type,
            e.fallback_level,
        )

    def to_dict(self) -> dict[str, Any]:
        # A copy: the caller may change its dict, never the memoised one.
        return dict(_item_dict(self))


# The Buffer publishes the same few items on every tick (on air, next five) and the queue
# view after every change; formatting their times is most of the cost. Views are frozen
# values, so a view's dict never changes.
@functools.lru_cache(maxsize=1024)
def _item_dict(view: ItemView) -> dict[str, Any]:
    return {
        "entry_id": view.entry_id,
        "asset_id": view.asset_id,
        "title": view.title,
        "theme": view.theme,
        "start_at": _iso(view.start_at),
        "duration_sec": round(view.duration_sec, 3),
        "slot_type": view.slot_type.value,
        "fallback_level": int(view.fallback_level),
    }


@attrs.frozen
class BufferState:
    """What the Buffer publishes on every change and at least once a second."""

    state: str  # "RUNNING" | "EMERGENCY"
    buffer_minutes: float
    timestamp: datetime
    target_minutes: float
    critical_minutes: float
    now_playing: ItemView | None = None
    elapsed_s: float = 0.0
    remaining_s: float = 0.0
    next: tuple[ItemView, ...] = ()
    fallback_levels: dict[int, int] = attrs.field(factory=dict)
    emergency_override: bool | None = None
    emergency_since: datetime | None = None
    emergency_reason: str = ""
    # Not published: where the clock fields are measured to (see ``at``).
    run_end: datetime | None = None
    playing_until: datetime | None = None

    def at(self, now: datetime) -> BufferState:
        """This state at a later ``now``, before ``next_change`` of its entries: what is on
        air, next and queued is the same, only the clock fields move. The Buffer publishes
        every few seconds and this is a fraction of ``buffer_state``'s cost."""
        playing = self.now_playing
        if playing is None or self.playing_until is None:
            elapsed = remaining = 0.0
        else:
            elapsed = max(0.0, (now - playing.start_at).total_seconds())
            remaining = max(0.0, (self.playing_until - max(now, playing.start_at)).total_seconds())
        return attrs.evolve(
            self,
            timestamp=now,
            buffer_minutes=minutes_until(self.run_end, now),
            elapsed_s=elapsed,
            remaining_s=remaining,
        )

    def to_status_dict(self) -> dict[str, Any]:
        """The ``/v1/status`` body (JSON-ready: ISO strings, plain numbers)."""
        playing: dict[str, Any] | None = None
        if self.now_playing is not None:
            playing = self.now_playing.to_dict() | {
                "elapsed_s": round(self.elapsed_s, 3),
                "remaining_s": round(self.remaining_s, 3),
            }
        return {
            "state": self.state,
            "buffer_minutes": round(self.buffer_minutes, 3),
            "timestamp": _iso(self.timestamp),
            "buffer_target_minutes": self.target_minutes,
            "buffer_critical_minutes": self.critical_minutes,
            "now_playing": playing,
            "next": [item.to_dict() for item in self.next],
            "fallback_levels": {str(int(k)): v for k, v in sorted(self.fallback_levels.items())},
            "emergency_override": self.emergency_override,
            "emergency_since": _iso(self.emergency_since) if self.emergency_since else None,
            "emergency_reason": self.emergency_reason,
        }


def buffer_state(
    entries: Iterable[QueueEntry],
    now: datetime,
    emergency: EmergencyState,
    *,
    target_minutes: float,
    critical_minutes: float,
    next_count: int = 5,
) -> BufferState:
    """The published state of the timeline at ``now``.

    ``fallback_levels`` counts the entries on air or ahead by fallback level (all four
    levels always present, so a dashboard can chart them without guessing).
    """
    require_aware(now)
    if next_count < 0:
        raise ValueError(f"next_count must be >= 0, got {next_count}")
    # Built several times a minute by the Buffer: order the timeline and find the playhead
    # once, rather than through ``now_playing``/``ahead``/``buffer_minutes``/``next_entries``
    # (each of which sorts again); the values are theirs.
    seq = ordered(entries)
    i = playhead_run_start(seq, now)
    playing = None if i is None else _playing(seq, i, now)
    upcoming = seq[i:] if i is not None else [e for e in seq if e.start_at > now]
    end = None if i is None else run_end(seq, i)
    playing_id = playing.entry.entry_id if playing else None
    following = [e for e in seq if e.start_at > now and e.entry_id != playing_id]
    levels = {int(level): 0 for level in FallbackLevel}
    for e in upcoming:
        levels[int(e.fallback_level)] += 1
    return BufferState(
        state="EMERGENCY" if emergency.active else "RUNNING",
        buffer_minutes=minutes_until(end, now),
        timestamp=now,
        target_minutes=target_minutes,
        critical_minutes=critical_minutes,
        now_playing=ItemView.of(playing.entry) if playing else None,
        elapsed_s=playing.elapsed_s if playing else 0.0,
        remaining_s=playing.remaining_s if playing else 0.0,
        next=tuple(ItemView.of(e) for e in following[:next_count]),
        fallback_levels=levels,
        emergency_override=emergency.override,
        emergency_since=emergency.entered_at if emergency.active else None,
        emergency_reason=emergency.reason if emergency.active else "",
        run_end=end,
        playing_until=None if i is None else _air_end(seq, i),
    )


def _iso(value: datetime) -> str:
    return format_datetime(value)
