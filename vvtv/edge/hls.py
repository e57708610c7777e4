"""What the edge must hold for a live window, and how far behind it is (pure).

The contract (cloud/worker/PROTOCOL.md §5): every segment is uploaded once, then the
playlist that lists only stored segments; the edge's window only moves forward. The
publisher keeps an ``EdgeHls`` (what it believes the edge holds: refreshed from
``GET /v1/ingest/hls`` after a start or a conflict) and, for each window the Buffer
publishes, uploads ``missing(window, held)`` in order and then ``playlist(window, ...)``.

- **Numbering is the origin's.** The playlist is the origin's window rendered by the same
  code (``vvtv.air.live_playlist.render``), so ``EXT-X-MEDIA-SEQUENCE`` and
  ``EXT-X-DISCONTINUITY-SEQUENCE`` at the edge equal the origin's; only the segment URIs
  change, to the edge's relative ``seg/<asset_id>/<name>``.
- **Skipping ahead.** The publisher always works on the newest window: segments that
  slid out while the edge was unreachable are never uploaded. The backlog is one window.
- **Names are immutable at the edge** (viewers cache segments for a year). A segment whose
  name is already stored there with other bytes (the slate re-rendered for a new channel
  profile keeps its names), or whose name the edge does not accept, goes up under a name
  derived from its content (``content_name``): the same bytes always get the same name,
  so a restarted publisher finds them again.
- **Lag** is counted in segments: the origin window's end (``END = media sequence +
  segments``) minus the last END the edge accepted (``EDGE_LAGGING``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from vvtv.air.live_playlist import LiveWindow, WindowSegment, render

EDGE_ASSET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
EDGE_SEGMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.ts")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def ref(asset_id: str, name: str) -> str:
    """The edge's name for a stored segment: ``<asset_id>/<name>``."""
    return f"{asset_id}/{name}"


def end_sequence(window: LiveWindow) -> int:
    """END of a window: the media sequence after its last segment."""
    return window.segments[-1].seq + 1 if window.segments else window.media_sequence


def content_name(name: str, data: bytes) -> str:
    """An edge-safe name for a segment, derived from its bytes: ``<stem>-<sha256:16>.ts``."""
    stem = _UNSAFE.sub("_", name.removesuffix(".ts"))[:100] or "seg"
    if not stem[0].isalnum():
        stem = "s" + stem
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}.ts"


def publishable(asset_id: str) -> bool:
    """Whether the edge accepts this asset id (vvtv's own ids always are)."""
    return EDGE_ASSET_ID.fullmatch(asset_id) is not None


@attrs.define
class EdgeHls:
    """What the publisher believes one channel's edge holds.

    ``names`` maps an origin segment ``(asset_id, name)`` to the name it has at the edge,
    only where they differ (``content_name``). ``end_sequence`` is None until the edge has
    accepted a playlist (or said it has one).
    """

    stored: set[str] = attrs.field(factory=set)
    names: dict[tuple[str, str], str] = attrs.field(factory=dict)
    media_sequence: int | None = None
    discontinuity_sequence: int | None = None
    end_sequence: int | None = None

    @classmethod
    def from_edge(cls, body: Any) -> EdgeHls:
        """The answer of ``GET /v1/ingest/hls``; ValueError naming what is malformed."""
        if not isinstance(body, dict):
            raise ValueError("edge HLS state: not a JSON object")
        stored = body.get("stored")
        if not isinstance(stored, list) or not all(isinstance(r, str) for r in stored):
            raise ValueError("edge HLS state: stored must be a list of segment names")
        held = cls(stored=set(stored))
        playlist = body.get("playlist")
        if playlist is not None:
            if not isinstance(playlist, dict):
                raise ValueError("edge HLS state: playlist must be an object or null")
            numbers = {}
            for key in ("media_sequence", "discontinuity_sequence", "end_sequence"):
                value = playlist.get(key)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"edge HLS state: playlist.{key} must be an integer >= 0")
                numbers[key] = value
            held.media_sequence = numbers["media_sequence"]
            held.discontinuity_sequence = numbers["discontinuity_sequence"]
            held.end_sequence = numbers["end_sequence"]
        return held

    def edge_name(self, segment: WindowSegment) -> str:
        return self.names.get((segment.asset_id, segment.name), segment.name)

    def holds(self, segment: WindowSegment) -> bool:
        return ref(segment.asset_id, self.edge_name(segment)) in self.stored

    def accepted(self, window: LiveWindow, *rungs: LiveWindow) -> None:
        """The edge took the playlist of ``window`` (and those of the lower ``rungs``).

        From now on only its segments are known to be stored: the edge deletes a segment a
        few minutes after it leaves the playlist (``HLS_SEGMENT_GRACE_S``), so believing in
        older ones would only grow this set for the channel's life. One that airs again
        (the slate) is simply uploaded again (``200 stored: false`` if it is still there).
        """
        self.media_sequence = window.media_sequence
        self.discontinuity_sequence = window.discontinuity_sequence
        self.end_sequence = end_sequence(window)
        segments = [s for w in (window, *rungs) for s in w.segments]
        self.stored = {ref(s.asset_id, self.edge_name(s)) for s in segments}
        listed = {(s.asset_id, s.name) for s in segments}
        self.names = {k: v for k, v in self.names.items() if k in listed}

    def forget(self, refs: Iterable[str]) -> None:
        """The edge says these are not stored (the cron deleted them, or never were)."""
        self.stored.difference_update(refs)


def missing(window: LiveWindow, held: EdgeHls) -> list[WindowSegment]:
    """The window's segments the edge does not hold yet, in play order."""
    return [s for s in window.segments if not held.holds(s)]


def behind_origin(window: LiveWindow, held: EdgeHls) -> bool:
    """Whether the edge holds a later window than this one: the origin's numbering went
    back (its state restored from a backup), so the edge would refuse every playlist until
    it forgets its own (``DELETE /v1/ingest/hls/index.m3u8``)."""
    return held.end_sequence is not None and end_sequence(window) < held.end_sequence


def from_sequence(window: LiveWindow, first: int) -> LiveWindow | None:
    """The window from media sequence ``first`` on (None if nothing is left).

    The edge refuses a playlist whose media sequence is below the one it holds: should the
    origin's window ever reach further back than what was published (a longer window
    after a shorter one), the head is left out, numbers unchanged.
    """
    kept = [s for s in window.segments if s.seq >= first]
    if not kept:
        return None
    if len(kept) == len(window.segments):
        return window
    head = attrs.evolve(kept[0], discontinuity_before=False)
    return attrs.evolve(
        window,
        media_sequence=head.seq,
        discontinuity_sequence=head.dsn,
        segments=(head, *kept[1:]),
    )


def playlist(window: LiveWindow, target_duration: int, names: Mapping[tuple[str, str], str]) -> str:
    """The edge's playlist for ``window``: the origin's text with edge segment URIs."""
    return render(
        window,
        target_duration,
        uri=lambda asset_id, name: f"seg/{asset_id}/{names.get((asset_id, name), name)}",
    )


def lag_segments(origin_end: int | None, edge_end: int | None, since_end: int | None) -> int | None:
    """How many segments the edge's playlist is behind the origin's.

    ``edge_end`` is the last END the edge accepted; before any (a fresh edge, or one
    unreachable since start-up) the lag counts from ``since_end``, the origin's END when
    the publisher started. None while the origin has no window.
    """
    if origin_end is None:
        return None
    reference = edge_end if edge_end is not None else since_end
    if reference is None:
        return 0
    return max(0, origin_end - reference)


@attrs.define
class PublisherHealth:
    """How the HLS publisher is doing, for EDGE_LAGGING and the metrics.

    Shared by every incarnation of the publisher and the Alerter's input port (built once
    by the composition root), so a restarted publisher does not reset the lag it is in.
    """

    origin_end: int | None = None  # END of the origin's newest window
    edge_end: int | None = None  # END of the last playlist the edge accepted
    since_end: int | None = None  # the origin's END when publishing began (lag before any)
    last_error: str = ""
    last_ok_at: datetime | None = None

    def lag(self) -> int | None:
        return lag_segments(self.origin_end, self.edge_end, self.since_end)

    def saw_origin(self, end: int) -> None:
        self.origin_end = end
        if self.since_end is None:
            self.since_end = end

    def accepted(self, end: int, at: datetime) -> None:
        self.edge_end = end
        self.last_error = ""
        self.last_ok_at = at

    def failed(self, error: str) -> None:
        self.last_error = error
