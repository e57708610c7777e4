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
import math
import operator
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import attrs

from vvtv.core.model import EntryStatus, FallbackLevel, QueueEntry, SlotType, new_id

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
    return None if i is None else playing_at(seq, i, now)


def air_end(seq: Sequence[QueueEntry], i: int) -> datetime:
    """When ``seq[i]`` stops airing: its end, or the next entry's start if that cuts it."""
    end = seq[i].end_at
    return min(end, seq[i + 1].start_at) if i + 1 < len(seq) else end


def playing_at(seq: Sequence[QueueEntry], i: int, now: datetime) -> NowPlaying:
    """``now_playing`` for ``seq`` in air order whose run under the playhead starts at ``i``."""
    entry = seq[i]
    end = air_end(seq, i)
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
