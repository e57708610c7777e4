"""Reading the VOD playlists ffmpeg writes for a prepared asset."""

from __future__ import annotations

import math

import attrs


@attrs.frozen
class Segment:
    path_name: str  # file name inside the asset directory, e.g. "seg_00000.ts"
    duration_sec: float


def parse_vod_playlist(text: str, what: str = "playlist") -> tuple[Segment, ...]:
    """The segments of a media playlist (``#EXTINF:<d>,`` then a URI line), in order."""
    if not text.startswith("#EXTM3U"):
        raise ValueError(f"{what}: not an HLS playlist (no #EXTM3U header)")
    segments: list[Segment] = []
    pending: float | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            value = line[len("#EXTINF:") :].split(",", 1)[0]
            try:
                pending = float(value)
            except ValueError:
                raise ValueError(f"{what} line {number}: bad EXTINF duration {value!r}") from None
            if not math.isfinite(pending) or pending < 0:
                raise ValueError(f"{what} line {number}: bad EXTINF duration {value!r}")
        elif line and not line.startswith("#"):
            if pending is None:
                raise ValueError(f"{what} line {number}: segment {line!r} has no EXTINF")
            if "/" in line or line.startswith("."):
                raise ValueError(f"{what} line {number}: segment {line!r} is not a local name")
            segments.append(Segment(line, pending))
            pending = None
    if not segments:
        raise ValueError(f"{what}: no segments")
    return tuple(segments)


def fits_target(segments: tuple[Segment, ...], target_sec: int) -> bool:
    """Every EXTINF is at most the target duration.

    RFC 8216 only requires the *rounded* EXTINF to fit; the live playlist promises the stricter
    rule, so a segment may exceed the target by no more than a rounding millisecond.
    """
    return all(s.duration_sec <= target_sec + 1e-3 for s in segments)
