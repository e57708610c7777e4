"""What ffmpeg and ffprobe may open, and how: real media containers, from local files only.

A media file from a feed is untrusted, and ffmpeg is far more than a decoder: its HLS,
concat and ffconcat demuxers open the files and URLs a playlist names (a 138-byte
playlist served as ``x.mp4`` whose segment is ``file:///…/secret.ts`` put the secret's
frames on air), its image demuxers read whole sequences of files, and its network
protocols reach any host. So every ffmpeg/ffprobe run on a file that came from outside
goes through ``untrusted_input``:

1. the file is sniffed by its first bytes (``sniff``), and only a real media container
   (MP4/QuickTime, Matroska/WebM, MPEG-TS, MPEG-PS, AVI, FLV, MXF, Ogg) is let through.
   Anything else (a playlist, an ffconcat script, text, an image, unknown bytes) is
   refused here, before ffmpeg opens it, as ``MediaFormatRefused`` (reason code
   ``MEDIA_FORMAT_REFUSED``), with what it looked like;
2. ffmpeg is then told exactly what to read: ``-protocol_whitelist file`` (the file
   itself and nothing over the network, whatever the file names inside),
   ``-format_whitelist`` of the container demuxers, and ``-f <demuxer>`` forcing the one
   we sniffed, so ffmpeg's own probing never gets to pick a playlist demuxer. Two locks:
   a sniffing mistake still meets ffmpeg's refusal ("Format not on whitelist").

Our own inputs keep their own, equally narrow whitelists: the HLS that ``prepare`` wrote
(``own_hls_input``: HLS of local ``.ts`` segments) and the lavfi graphs the slate and the
demo clips are rendered from (``lavfi_input``).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import attrs

from vvtv.media.ffmpeg import MediaError, ProbeError

REASON = "MEDIA_FORMAT_REFUSED"
SNIFF_BYTES = 4096  # enough for every signature below (three MPEG-TS packets need 564)


@attrs.frozen
class Container:
    demuxer: str  # the ffmpeg demuxer forced with -f
    name: str  # for people


MP4 = Container("mov", "MP4/QuickTime")
MATROSKA = Container("matroska", "Matroska/WebM")
MPEGTS = Container("mpegts", "MPEG-TS")
MPEGPS = Container("mpeg", "MPEG program stream")
AVI = Container("avi", "AVI")
FLV = Container("flv", "FLV")
MXF = Container("mxf", "MXF")
OGG = Container("ogg", "Ogg")
CONTAINERS = (MP4, MATROSKA, MPEGTS, MPEGPS, AVI, FLV, MXF, OGG)

# ffmpeg matches a demuxer against the whitelist by any of its names ("mov" is the
# demuxer "mov,mp4,m4a,3gp,3g2,mj2"; "matroska" is "matroska,webm").
FORMAT_WHITELIST = ",".join(c.demuxer for c in CONTAINERS)
PROTOCOL_WHITELIST = "file"

# Top-level ISO BMFF boxes a file may start with (ftyp first in any modern MP4).
_MP4_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"})
_TS_PACKET = 188


class MediaFormatRefused(ProbeError, MediaError):
    """A file that is not a media container we let ffmpeg read (``MEDIA_FORMAT_REFUSED``).

    Both a ``ProbeError`` and a ``MediaError``, so every caller that already handles a
    file that does not probe or prepare handles this one; callers that audit reasons
    catch it first for its own code.
    """

    code = REASON

    def __init__(self, reason: str) -> None:
        Exception.__init__(self, reason)
        self.reason = reason
        self.stderr_tail = ""


def _mpegts(head: bytes, packet: int, offset: int) -> bool:
    syncs = [offset + i * packet for i in range(3)]
    if len(head) <= syncs[-1]:
        syncs = [s for s in syncs if s < len(head)]
        if len(syncs) < 1 or len(head) < packet:
            return False
    return all(head[s] == 0x47 for s in syncs)


def sniff(head: bytes) -> Container | None:
    """The container ``head`` (a file's first bytes) starts, or None if not one we read."""
    if len(head) >= 8 and head[4:8] in _MP4_FIRST_BOXES:
        (size,) = struct.unpack(">I", head[:4])
        if size in (0, 1) or size >= 8:
            return MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MATROSKA
    if _mpegts(head, _TS_PACKET, 0) or _mpegts(head, 192, 4):  # TS, or M2TS (192-byte)
        return MPEGTS
    if head.startswith(b"\x00\x00\x01\xba"):
        return MPEGPS
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return AVI
    if head.startswith(b"FLV\x01"):
        return FLV
    if head.startswith(b"\x06\x0e\x2b\x34\x02\x05\x01\x01"):
        return MXF
    if head.startswith(b"OggS"):
        return OGG
    return None


def mp4_index_range(f: BinaryIO, have: int, total: int, budget: int) -> tuple[int, int] | None:
    """Where an MP4's index (``moov``) lies when the first ``have`` bytes lack it.

    Walks the top-level boxes of the file ``f`` (only the ``have`` bytes present are
    read). Returns None when ``moov`` is there whole (or the file is not laid out as
    expected), else the byte range to fetch, at most ``budget`` long: the rest of a
    ``moov`` cut by the head, or the end of the file when the index comes after the media
    data (a file written without "faststart").
    """
    offset = 0
    for _ in range(1024):
        if offset + 8 > have:
            return None
        f.seek(offset)
        size, kind = struct.unpack(">I4s", f.read(8))
        if size == 1:
            if offset + 16 > have:
                return None
            (size,) = struct.unpack(">Q", f.read(8))
        elif size == 0:
            size = total - offset  # to the end of the file
        if size < 8:
            return None
        end = offset + size
        if kind == b"moov":
            return None if end <= have else (have, min(end, have + budget))
        if end >= have:
            # The index comes after this box (usually mdat): it sits at the end.
            return (max(end, total - budget), total) if end < total else None
        offset = end
    return None


def describe(head: bytes) -> str:
    """What a refused file looks like, for the refusal's reason."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = text[:64].lower()
    if text.startswith(b"#EXTM3U") or b"#ext-x-" in head.lower():
        return "an HLS playlist (#EXTM3U), which makes ffmpeg open the files it names"
    if lowered.startswith(b"ffconcat") or lowered.startswith(b"file "):
        return "an ffconcat/concat script, which makes ffmpeg open the files it names"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<mpd"):
        return "an XML document (a DASH manifest?), not a media file"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "an HTML page, not a media file"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff"):
        return "an image, not a video container"
    if not head:
        return "an empty file"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head[:512]):
        return "text, not a media file"
    return "not a media container vvtv reads (MP4, Matroska/WebM, MPEG-TS/PS, AVI, FLV, MXF, Ogg)"


def sniff_file(path: Path) -> Container:
    """The container of ``path``; ``MediaFormatRefused`` (or ``ProbeError`` if unreadable)."""
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        raise ProbeError(f"probe {path}: cannot read ({exc.strerror or exc})") from None
    container = sniff(head)
    if container is None:
        raise MediaFormatRefused(f"{REASON}: {path} is {describe(head)}")
    return container


def input_args(path: Path, container: Container) -> list[str]:
    """ffmpeg/ffprobe options that open ``path`` as ``container`` and nothing else."""
    return [
        "-protocol_whitelist", PROTOCOL_WHITELIST,
        "-format_whitelist", FORMAT_WHITELIST,
        "-f", container.demuxer,
        "-i", str(path),
    ]  # fmt: skip


def untrusted_input(path: Path | str) -> list[str]:
    """``input_args`` for a file from outside, once ``sniff_file`` has let it through."""
    path = Path(path)
    return input_args(path, sniff_file(path))


def own_hls_input(playlist: Path | str) -> list[str]:
    """Open a VOD playlist ``prepare`` wrote: HLS of local ``.ts`` segments, nothing more."""
    return [
        "-protocol_whitelist", PROTOCOL_WHITELIST,
        "-format_whitelist", "hls,mpegts",
        "-allowed_extensions", "ts",
        "-f", "hls",
        "-i", str(playlist),
    ]  # fmt: skip


def lavfi_input(graph: str) -> list[str]:
    """A lavfi source graph we wrote (the slate, the demo clips, silence): lavfi only."""
    return ["-format_whitelist", "lavfi", "-f", "lavfi", "-i", graph]


def refusal_from_stderr(stderr: str, what: str) -> MediaFormatRefused | None:
    """ffmpeg's own whitelist refusal, if that is why it failed (the second lock)."""
    for line in stderr.splitlines():
        if "not on whitelist" in line:
            return MediaFormatRefused(f"{REASON}: {what}: ffmpeg refused it ({line.strip()})")
    return None
