"""The one reader of VOD playlists: the ``index.m3u8`` ffmpeg writes for a prepared asset.

Prepare reads it to record the asset's segments, and the Buffer reads it again when it loads
an asset to air (``vvtv.air.live_playlist.AssetSegments.from_playlist``). One parser with one
set of rules, so a playlist that passed prepare and QA is one the Buffer can air. The rules:

- line 1 is ``#EXTM3U``;
- each segment is an ``#EXTINF:<seconds>[,<title>]`` line, then its URI line, before any
  other ``#EXTINF``; the duration is a plain decimal number greater than 0 (a zero-length
  segment cannot air: the live window would list it and never move past it);
- a URI is a plain file name inside the asset's directory (``SEGMENT_NAME``: no directory, no
  ``..``, no scheme);
- the playlist lists at least one segment and ends with ``#EXT-X-ENDLIST`` (a playlist cut
  short is refused, not aired short);
- other tags, comments and blank lines are ignored.

Every refusal is a ``ValueError`` naming the playlist, the line and the rule.
"""

from __future__ import annotations

import math
import re
from typing import Any

import attrs

SEGMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
"""Segment file names: plain names, no directories, no ``..`` (see ``is_segment_name``)."""

_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?$")  # RFC 8216 decimal-floating-point, no sign
_EXTINF = "#EXTINF:"
_ENDLIST = "#EXT-X-ENDLIST"


def is_segment_name(name: object) -> bool:
    """True for a plain segment file name (the only names a playlist may list or we serve)."""
    return isinstance(name, str) and bool(SEGMENT_NAME.match(name)) and ".." not in name


def _segment_name(_inst: object, _attr: object, value: Any) -> None:
    if not is_segment_name(value):
        raise ValueError(f"segment file name {value!r} is not a plain file name")


def _positive_duration(_inst: object, _attr: object, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"segment duration_sec must be a positive number, got {value!r}")


@attrs.frozen
class Segment:
    """One segment of a prepared asset: its file inside the asset directory and its length."""

    path_name: str = attrs.field(validator=_segment_name)  # e.g. "seg_00000.ts"
    duration_sec: float = attrs.field(validator=_positive_duration)


def parse_vod_playlist(text: str, what: str = "playlist") -> tuple[Segment, ...]:
    """The segments of a prepared asset's VOD playlist, in order (rules: module docstring).

    ``what`` names the playlist in errors (a path, or ``playlist of <asset>``).
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != "#EXTM3U":
        raise ValueError(f"{what}: line 1 is not #EXTM3U (not an HLS playlist)")
    segments: list[Segment] = []
    pending: tuple[int, float] | None = None  # (line number, duration) of an unmatched EXTINF
    ended = False
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        if ended:
            raise ValueError(f"{what} line {number}: {line[:60]!r} after #EXT-X-ENDLIST")
        if line.startswith(_EXTINF):
            if pending is not None:
                raise ValueError(f"{what} line {pending[0]}: #EXTINF without a segment")
            pending = (number, _duration(line[len(_EXTINF) :], what, number))
        elif line == _ENDLIST:
            ended = True
        elif line.startswith("#"):
            continue  # other tags (TARGETDURATION, VERSION, ...) and comments
        else:
            if pending is None:
                raise ValueError(f"{what} line {number}: segment {line[:60]!r} has no #EXTINF")
            if not is_segment_name(line):
                raise ValueError(
                    f"{what} line {number}: segment {line[:60]!r} is not a plain file name "
                    "in the asset's directory"
                )
            segments.append(Segment(line, pending[1]))
            pending = None
    if pending is not None:
        raise ValueError(f"{what} line {pending[0]}: #EXTINF without a segment")
    if not segments:
        raise ValueError(f"{what}: no segments")
    if not ended:
        raise ValueError(f"{what}: no #EXT-X-ENDLIST (the playlist is cut short)")
    return tuple(segments)


def _duration(value: str, what: str, number: int) -> float:
    raw = value.split(",", 1)[0].strip()
    if not _DURATION.match(raw):
        raise ValueError(f"{what} line {number}: bad EXTINF duration {raw[:40]!r}")
    duration = float(raw)
    if not math.isfinite(duration):
        raise ValueError(f"{what} line {number}: EXTINF duration {raw[:40]!r} is out of range")
    if duration <= 0:
        raise ValueError(
            f"{what} line {number}: EXTINF duration {raw!r} is not > 0 (a segment that "
            "lasts nothing cannot air)"
        )
    return duration


def fits_target(segments: tuple[Segment, ...], target_sec: int) -> bool:
    """Every EXTINF is at most the target duration.

    RFC 8216 only requires the *rounded* EXTINF to fit; the live playlist promises the stricter
    rule, so a segment may exceed the target by no more than a rounding millisecond.
    """
    return all(s.duration_sec <= target_sec + 1e-3 for s in segments)
