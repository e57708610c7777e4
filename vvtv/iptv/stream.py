"""The live playlist's segments, in order, for the tuner's continuous MPEG-TS stream.

An HDHomeRun client (Plex, Jellyfin, Emby) reads one endless MPEG-TS stream, not HLS.
The channel's segments are MPEG-TS already, so the stream is the live playlist's segments
sent back to back as they appear: ``live_segments`` reads the media sequence number and
segment URIs the channel itself wrote (``vvtv.air.live_playlist``), and the web layer
sends each segment it has not sent yet, rewritten onto one continuous timeline
(``vvtv.outputs.rebase``, shared with the push outputs, which follow the air the same way).
"""

from __future__ import annotations

import re

import attrs

_SEGMENT_URI = re.compile(r"^/live/seg/([^/]+)/([^/]+)$")
_MEDIA_SEQUENCE = "#EXT-X-MEDIA-SEQUENCE:"


@attrs.frozen
class LiveSegment:
    sequence: int
    asset_id: str
    name: str


def live_segments(playlist: str) -> list[LiveSegment]:
    """The segments of a live playlist written by the channel, numbered; [] if unreadable."""
    sequence: int | None = None
    out: list[LiveSegment] = []
    for line in playlist.splitlines():
        line = line.strip()
        if line.startswith(_MEDIA_SEQUENCE):
            try:
                sequence = int(line[len(_MEDIA_SEQUENCE) :])
            except ValueError:
                return []
        elif line and not line.startswith("#"):
            match = _SEGMENT_URI.match(line)
            if sequence is None or match is None:
                return []
            out.append(LiveSegment(sequence + len(out), match[1], match[2]))
    return out


def to_send(segments: list[LiveSegment], last_sent: int | None, lead: int = 2) -> list[LiveSegment]:
    """What a stream sends next: the newest ``lead`` segments at first, then every newer one.

    Starting ``lead`` segments behind the live edge fills the client's buffer at once. A
    client that fell behind the window (or a channel restart that renumbered it) resumes
    at the live edge rather than waiting for numbers that will never come.
    """
    if not segments:
        return []
    if last_sent is None or last_sent < segments[0].sequence - 1:
        return segments[-lead:]
    if last_sent > segments[-1].sequence:
        return segments[-lead:]  # numbering restarted behind us: rejoin at the edge
    return [s for s in segments if s.sequence > last_sent]
