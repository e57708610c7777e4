"""The live HLS playlist, computed from the timeline's prepared segments and the wall clock.

Nothing here touches files or HTTP: the Buffer hands in, for each timeline entry, the
ordered segments of its prepared asset (``AiringItem``); ``advance`` slides the window to
``now`` and numbers it; ``render`` writes the m3u8 text the API serves at
``/live/index.m3u8``. The persisted ``LiveCursor`` carries the numbering across restarts.

Rules (SPEC §1.7):

- Segment *k* of an entry is scheduled at ``start_at + sum(durations[:k])`` and is listed
  once that moment has passed (the live edge): the segment live at ``now`` is the newest
  one listed. As in the timeline, gaps under ``timeline.TOLERANCE`` are rounding: an item
  starting within it is live already (its first segment listed that much early). Entries
  air by the timeline's air rule (``vvtv.air.timeline``): an entry is cut where the next one
  starts, and never airs past its own ``duration_sec`` (a slate cut to fit a hole).
- The window is the newest listed segments: at least ``window_segments`` of them and at
  least ``min_window_sec`` of content (pass 3 × target duration), as far as history goes.
- Every segment ever listed has one media sequence number and one discontinuity sequence
  number, for life. ``EXT-X-MEDIA-SEQUENCE`` is the number of the window's first segment,
  ``EXT-X-DISCONTINUITY-SEQUENCE`` its discontinuity number; an ``EXT-X-DISCONTINUITY``
  tag separates two segments of different items (no tag precedes the first segment: its
  number already counts it). Both only grow, also across restarts: when the timeline
  under the window changed (or time jumped past the whole window) the new window is
  numbered after the last number ever given, as a new discontinuity.
- The window is never empty: with nothing on air at ``now`` ``advance`` raises
  ``NothingOnAir`` — the caller puts the slate on the timeline first
  (``vvtv.air.emergency.cover_playhead``).
- ``advance`` also reports which entries started and finished since the previous call
  (``AirEvent``), with their actual times, for the as-run log.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import attrs

from vvtv.air import timeline
from vvtv.core.convert import format_datetime, parse_datetime
from vvtv.core.model import QueueEntry
from vvtv.media.playlist import Segment, parse_vod_playlist


class NothingOnAir(RuntimeError):
    """The timeline has nothing on air at ``now``: the playlist would be empty or stale."""


def _as_tuple(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    return tuple(segments)


@attrs.frozen
class AssetSegments:
    """The ordered segments of one prepared asset, with each one's offset from its start."""

    asset_id: str
    segments: tuple[Segment, ...] = attrs.field(converter=_as_tuple)
    offsets: tuple[float, ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if not self.asset_id:
            raise ValueError("AssetSegments: asset_id is empty")
        if not self.segments:
            raise ValueError(f"AssetSegments {self.asset_id}: no segments")
        offsets, t = [], 0.0
        for s in self.segments:
            if not isinstance(s, Segment):
                raise ValueError(f"AssetSegments {self.asset_id}: {s!r} is not a Segment")
            offsets.append(t)
            t += s.duration_sec
        object.__setattr__(self, "offsets", tuple(offsets))

    @classmethod
    def from_playlist(cls, asset_id: str, text: str) -> AssetSegments:
        """The segments of a prepared asset's own VOD playlist, read by the one parser that
        prepare uses too (``vvtv.media.playlist``); ValueError naming the line if malformed."""
        return cls(asset_id, parse_vod_playlist(text, f"playlist of {asset_id}"))

    @property
    def duration_sec(self) -> float:
        return self.offsets[-1] + self.segments[-1].duration_sec


def target_duration_for(segment_seconds: int, assets: Iterable[AssetSegments]) -> int:
    """A target duration every segment fits (EXTINF rounded ≤ target), at least the profile's.

    The target must not change during a stream: compute it once from the channel profile
    and the slate, and let QA reject assets whose segments do not fit.
    """
    longest = max((s.duration_sec for a in assets for s in a.segments), default=0.0)
    return max(int(segment_seconds), round(longest))


@attrs.frozen
class AiringItem:
    """A timeline entry with the segments it airs."""

    entry_id: str
    asset_id: str
    start_at: datetime
    duration_sec: float
    segments: AssetSegments

    @property
    def end_at(self) -> datetime:
        return self.start_at + timedelta(seconds=self.duration_sec)


def airing_items(
    entries: Iterable[QueueEntry], segments: Mapping[str, AssetSegments]
) -> list[AiringItem]:
    """The entries that can air, in air order, each with its asset's segments.

    Raises ValueError naming the entry when its asset has no known segments.
    """
    out = []
    for e in timeline.ordered(entries):
        segs = segments.get(e.asset_id)
        if segs is None:
            raise ValueError(f"entry {e.entry_id}: no segments known for asset {e.asset_id}")
        out.append(AiringItem(e.entry_id, e.asset_id, e.start_at, e.duration_sec, segs))
    return out


# --- the window ----------------------------------------------------------------------


@attrs.frozen
class WindowSegment:
    """A segment in the live window, with its lifelong sequence numbers."""

    seq: int
    dsn: int
    entry_id: str
    asset_id: str
    index: int
    name: str
    duration_sec: float
    start_at: datetime
    discontinuity_before: bool = False


@attrs.frozen
class AirEvent:
    """An entry started or finished airing, at its actual time (for the as-run log)."""

    kind: str  # "started" | "finished"
    entry_id: str
    asset_id: str
    at: datetime


@attrs.frozen
class LiveWindow:
    media_sequence: int
    discontinuity_sequence: int
    segments: tuple[WindowSegment, ...]
    events: tuple[AirEvent, ...]
    live_entry_id: str
    at: datetime

    @property
    def duration_sec(self) -> float:
        return sum(s.duration_sec for s in self.segments)


@attrs.frozen
class OnAir:
    entry_id: str
    asset_id: str
    started_at: datetime


@attrs.frozen
class LiveCursor:
    """What survives a restart: the numbering of the last window and what was on air.

    ``window`` holds ``(entry_id, index, seq, dsn)`` for each segment of the last window.
    """

    at: datetime
    last_seq: int
    last_dsn: int
    window: tuple[tuple[str, int, int, int], ...]
    on_air: OnAir | None = None

    @property
    def media_sequence(self) -> int:
        return self.window[0][2] if self.window else self.last_seq + 1

    @property
    def discontinuity_sequence(self) -> int:
        return self.window[0][3] if self.window else self.last_dsn + 1

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-ready dict for the store."""
        return {
            "version": 1,
            "at": format_datetime(self.at),
            "media_sequence": self.media_sequence,
            "discontinuity_sequence": self.discontinuity_sequence,
            "last_seq": self.last_seq,
            "last_dsn": self.last_dsn,
            "window": [list(w) for w in self.window],
            "on_air": None
            if self.on_air is None
            else {
                "entry_id": self.on_air.entry_id,
                "asset_id": self.on_air.asset_id,
                "started_at": format_datetime(self.on_air.started_at),
            },
        }

    @classmethod
    def from_dict(cls, data: Any) -> LiveCursor:
        """Read a persisted cursor; ValueError saying which field is wrong."""
        try:
            if not isinstance(data, dict):
                raise ValueError("not an object")
            if data.get("version") != 1:
                raise ValueError(f"unknown version {data.get('version')!r}")
            at = parse_datetime(data["at"])
            last_seq, last_dsn = data["last_seq"], data["last_dsn"]
            for name, v in (("last_seq", last_seq), ("last_dsn", last_dsn)):
                if not isinstance(v, int) or isinstance(v, bool) or v < -1:
                    raise ValueError(f"{name} must be an integer >= -1, got {v!r}")
            window = []
            for i, w in enumerate(data["window"]):
                ok = (
                    isinstance(w, list | tuple)
                    and len(w) == 4
                    and isinstance(w[0], str)
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in w[1:])
                )
                if not ok:
                    raise ValueError(f"window[{i}] must be [entry_id, index, seq, dsn], got {w!r}")
                window.append((w[0], w[1], w[2], w[3]))
            on_air = None
            if data.get("on_air") is not None:
                o = data["on_air"]
                on_air = OnAir(
                    str(o["entry_id"]), str(o["asset_id"]), parse_datetime(o["started_at"])
                )
        except KeyError as exc:
            raise ValueError(f"live cursor: missing field {exc.args[0]!r}") from None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"live cursor: {exc}") from None
        return cls(at, last_seq, last_dsn, tuple(window), on_air)


@attrs.frozen
class _Listed:
    entry_id: str
    asset_id: str
    index: int
    name: str
    duration_sec: float
    start_at: datetime

    @property
    def key(self) -> tuple[str, int]:
        return (self.entry_id, self.index)


def _air_limit(items: Sequence[AiringItem], k: int) -> float:
    """Seconds item ``k`` may air: its own duration, cut by the next item's start."""
    limit = items[k].duration_sec
    if k + 1 < len(items):
        limit = min(limit, (items[k + 1].start_at - items[k].start_at).total_seconds())
    return limit


def _listed_count(item: AiringItem, limit_s: float, now: datetime) -> int:
    """How many of the item's segments have started by ``now`` within its air limit."""
    elapsed = min((now - item.start_at).total_seconds(), limit_s - 1e-9)
    if elapsed < 0:
        return 0
    return bisect.bisect_right(item.segments.offsets, elapsed)


def _window(
    items: Sequence[AiringItem], live: int, now: datetime, count: int, min_sec: float
) -> list[_Listed]:
    out: list[_Listed] = []
    total = 0.0
    for k in range(live, -1, -1):
        item = items[k]
        n = _listed_count(item, _air_limit(items, k), now)
        for j in range(n - 1, -1, -1):
            s = item.segments.segments[j]
            start = item.start_at + timedelta(seconds=item.segments.offsets[j])
            out.append(_Listed(item.entry_id, item.asset_id, j, s.path_name, s.duration_sec, start))
            total += s.duration_sec
            if len(out) >= count and total >= min_sec:
                return out[::-1]
    return out[::-1]


def _live_index(items: Sequence[AiringItem], now: datetime) -> tuple[int, datetime]:
    """The item live at ``now`` and the live edge to list segments up to.

    Exactly ``vvtv.air.timeline``'s rule: the last item started and not ended is live; else an
    item starting within ``TOLERANCE`` is live already (a rounding gap is not dead air),
    its first segment listed at most that much early.
    """
    starts = [i.start_at for i in items]
    k = bisect.bisect_right(starts, now) - 1
    if k >= 0:
        end = items[k].start_at + timedelta(seconds=_air_limit(items, k))
        if end > now:
            return k, now
    if k + 1 < len(items) and starts[k + 1] <= now + timeline.TOLERANCE:
        return k + 1, starts[k + 1]
    if k < 0:
        first = f"; the first entry starts at {format_datetime(starts[0])}" if starts else ""
        raise NothingOnAir(f"nothing on air at {format_datetime(now)}: nothing has started{first}")
    raise NothingOnAir(
        f"nothing on air at {format_datetime(now)}: entry {items[k].entry_id} ended at "
        f"{format_datetime(end)} and nothing follows it yet"
    )


def _is_boundary(prev: _Listed, seg: _Listed) -> bool:
    return seg.entry_id != prev.entry_id or seg.index != prev.index + 1


def _number(cursor: LiveCursor | None, listed: list[_Listed]) -> list[tuple[_Listed, int, int]]:
    """Give each listed segment its (seq, dsn), keeping the numbers it already had."""
    if cursor is not None and cursor.window:
        old = {(e, i): (seq, dsn) for e, i, seq, dsn in cursor.window}
        last_key = cursor.window[-1][:2]
        last_seq = cursor.window[-1][2]
        keys = [s.key for s in listed]
        if last_key in keys:
            r = keys.index(last_key)
            aligned = all(
                old.get(keys[i], (None, None))[0] == last_seq - (r - i)
                for i in range(r + 1)
                if last_seq - (r - i) >= cursor.media_sequence
            )
            if aligned:
                first = max(0, r - (last_seq - cursor.media_sequence))
                out: list[tuple[_Listed, int, int]] = []
                for i in range(first, len(listed)):
                    if i <= r:
                        seq, dsn = old[keys[i]]
                    else:
                        seq = last_seq + (i - r)
                        dsn = out[-1][2] + (1 if _is_boundary(out[-1][0], listed[i]) else 0)
                    out.append((listed[i], seq, dsn))
                return out
    # a fresh start, or the listed segments no longer continue the last window
    if cursor is None:
        seq, dsn = 0, 0
    else:
        seq, dsn = cursor.last_seq + 1, cursor.last_dsn + 1
    out = []
    for i, s in enumerate(listed):
        if i > 0 and _is_boundary(listed[i - 1], s):
            dsn += 1
        out.append((s, seq + i, dsn))
    return out


def _events(
    cursor: LiveCursor | None,
    items: Sequence[AiringItem],
    live: int,
    now: datetime,
    max_catchup_s: float,
) -> tuple[list[AirEvent], OnAir]:
    """What started and finished since the cursor's time, and what is on air now.

    Within ``max_catchup_s`` of the last call, every entry whose start passed in between
    started at its scheduled start and finished the one before it. Otherwise (first call,
    a long stop, or a timeline changed under the item on air) the previous item finished
    when we last saw it and the live one joins in progress at ``now``.
    """
    events: list[AirEvent] = []
    on_air = cursor.on_air if cursor is not None else None
    if cursor is not None and (now - cursor.at).total_seconds() <= max_catchup_s:
        for item in items[: live + 1]:
            if cursor.at < item.start_at <= now and (
                on_air is None or on_air.entry_id != item.entry_id
            ):
                if on_air is not None:
                    events.append(
                        AirEvent("finished", on_air.entry_id, on_air.asset_id, item.start_at)
                    )
                events.append(AirEvent("started", item.entry_id, item.asset_id, item.start_at))
                on_air = OnAir(item.entry_id, item.asset_id, item.start_at)
        stopped_at = now
    else:
        stopped_at = cursor.at if cursor is not None else now
    current = items[live]
    if on_air is None or on_air.entry_id != current.entry_id:
        if on_air is not None:
            events.append(AirEvent("finished", on_air.entry_id, on_air.asset_id, stopped_at))
        events.append(AirEvent("started", current.entry_id, current.asset_id, now))
        on_air = OnAir(current.entry_id, current.asset_id, now)
    return events, on_air


def advance(
    cursor: LiveCursor | None,
    items: Sequence[AiringItem],
    now: datetime,
    *,
    window_segments: int = 6,
    min_window_sec: float = 0.0,
    max_catchup_s: float = 60.0,
) -> tuple[LiveCursor, LiveWindow]:
    """Slide the live window to ``now``: the new cursor to persist and the window to render.

    ``items`` in any order (sorted here by the air rule). ``max_catchup_s``: if the previous
    call is older than this, the channel is taken to have been off air in between (the
    as-run log closes the old item at the cursor's time and starts the live one at ``now``).
    Raises ``NothingOnAir`` when nothing airs at ``now``; ValueError for bad input.
    """
    timeline.require_aware(now)
    if not isinstance(window_segments, int) or window_segments < 1:
        raise ValueError(f"window_segments must be an integer >= 1, got {window_segments!r}")
    if not math.isfinite(min_window_sec) or min_window_sec < 0:
        raise ValueError(f"min_window_sec must be >= 0, got {min_window_sec!r}")
    items = sorted(items, key=lambda i: (i.start_at, i.entry_id))
    ids = [i.entry_id for i in items]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise ValueError(f"entry {dup} appears twice on the timeline")
    live, edge = _live_index(items, now)
    listed = _window(items, live, edge, window_segments, min_window_sec)
    if not listed:
        raise NothingOnAir(f"nothing on air at {format_datetime(now)}: no segment has started")
    numbered = _number(cursor, listed)
    segments = tuple(
        WindowSegment(
            seq=seq,
            dsn=dsn,
            entry_id=s.entry_id,
            asset_id=s.asset_id,
            index=s.index,
            name=s.name,
            duration_sec=s.duration_sec,
            start_at=s.start_at,
            discontinuity_before=i > 0 and dsn != numbered[i - 1][2],
        )
        for i, (s, seq, dsn) in enumerate(numbered)
    )
    events, on_air = _events(cursor, items, live, edge, max_catchup_s)
    new_cursor = LiveCursor(
        at=now,
        last_seq=segments[-1].seq,
        last_dsn=segments[-1].dsn,
        window=tuple((s.entry_id, s.index, s.seq, s.dsn) for s in segments),
        on_air=on_air,
    )
    window = LiveWindow(
        media_sequence=segments[0].seq,
        discontinuity_sequence=segments[0].dsn,
        segments=segments,
        events=tuple(events),
        live_entry_id=items[live].entry_id,
        at=now,
    )
    return new_cursor, window


# --- lower rungs -----------------------------------------------------------------------


def rung_window(
    window: LiveWindow, rung_segments: Mapping[str, AssetSegments]
) -> tuple[LiveWindow, int]:
    """The window of a lower rung: the main window's timeline, segment for segment (same
    sequence numbers, discontinuities, durations and times), naming the rung's segment at the
    same index of each asset (``rung_segments``: asset id -> the rung's segments, checked to
    line up when loaded: ``vvtv.media.rungs.check_aligned``).

    An asset without the rung (prepared before it was asked for, or its rung failed) keeps
    its main segments: the rung's playlist never names a segment that does not exist, and an
    asset always sits behind a discontinuity, where a player expects a new stream. Returns
    the window and how many of its segments are such main ones.
    """
    fallback = 0
    segments = []
    for s in window.segments:
        rung = rung_segments.get(s.asset_id)
        if rung is None or s.index >= len(rung.segments):
            fallback += 1
            segments.append(s)
        else:
            segments.append(attrs.evolve(s, name=rung.segments[s.index].path_name))
    return attrs.evolve(window, segments=tuple(segments)), fallback


# --- the m3u8 text --------------------------------------------------------------------


# Rendered on every tick for the same few segments: URL-quoting is the costly part.
@functools.lru_cache(maxsize=1024)
def segment_uri(asset_id: str, name: str) -> str:
    """Where the API serves a segment: ``/live/seg/<asset_id>/<segment_file>``."""
    return f"/live/seg/{quote(asset_id, safe='')}/{quote(name, safe='')}"


def render(
    window: LiveWindow,
    target_duration: int,
    uri: Callable[[str, str], str] = segment_uri,
) -> str:
    """The live media playlist (HLS version 3) for a window.

    Refuses (ValueError) an empty window and any segment whose duration, rounded, exceeds
    the target duration (RFC 8216 §4.3.3.1). ``EXT-X-PROGRAM-DATE-TIME`` marks the wall
    time of the first segment and of each item start.
    """
    if not window.segments:
        raise ValueError("refusing to render an empty live playlist")
    if not isinstance(target_duration, int) or target_duration < 1:
        raise ValueError(f"target_duration must be an integer >= 1, got {target_duration!r}")
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{window.media_sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{window.discontinuity_sequence}",
    ]
    for i, s in enumerate(window.segments):
        if round(s.duration_sec) > target_duration:
            raise ValueError(
                f"segment {s.asset_id}/{s.name} lasts {s.duration_sec:.3f} s, more than the "
                f"target duration of {target_duration} s"
            )
        if s.discontinuity_before:
            lines.append("#EXT-X-DISCONTINUITY")
        if i == 0 or s.discontinuity_before:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(s.start_at)}")
        lines.append(f"#EXTINF:{s.duration_sec:.3f},")
        lines.append(uri(s.asset_id, s.name))
    return "\n".join(lines) + "\n"


def _pdt(at: datetime) -> str:
    return format_datetime(at.replace(microsecond=at.microsecond // 1000 * 1000))
