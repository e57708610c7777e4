"""What a media file really holds (ffprobe), and whether it really decodes in HD.

The original trusted an "HD" flag from the source; here the discovery side asks ``confirm_hd``,
which decodes the first seconds of video, so a stream that lies about itself or does not decode
is rejected with the reason.

Only local files are read, each through ``vvtv.media.formats.untrusted_input`` (a real media
container, local file protocol only): ffprobe never opens a URL. A remote candidate is probed
on the head of the file that discovery fetched through the vetted client
(``vvtv.media.fetch.fetch_head``). A file that is not a media container is refused as
``MediaFormatRefused`` (``MEDIA_FORMAT_REFUSED``); ``confirm_hd`` reports it with that code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs

from vvtv.media.ffmpeg import FFPROBE, MediaError, ProbeError, ffmpeg_args, run_tool
from vvtv.media.formats import REASON as FORMAT_REFUSED
from vvtv.media.formats import (
    MediaFormatRefused,
    own_hls_input,
    refusal_from_stderr,
    untrusted_input,
)

__all__ = ["HDCheck", "MediaFormatRefused", "ProbeError", "ProbeResult", "confirm_hd", "probe"]

# Container metadata keys whose values are comma-separated tag lists.
_TAG_KEYS = ("genre", "keywords", "comment", "tags", "category")


@attrs.frozen
class ProbeResult:
    duration_sec: float | None
    width: int | None
    height: int | None
    fps: float | None
    video_codec: str | None
    pix_fmt: str | None
    audio_codec: str | None
    audio_rate: int | None
    audio_channels: int | None
    format_name: str
    title: str | None
    tags: tuple[str, ...]
    field_order: str | None = None  # "progressive", "tt", "bb", … (None: not reported)
    sar: float | None = None  # sample (pixel) aspect ratio; None when unset (square)

    @property
    def interlaced(self) -> bool:
        return self.field_order in ("tt", "bb", "tb", "bt")

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


@attrs.frozen
class HDCheck:
    """The verdict of ``confirm_hd``: ``ok`` only if the video decodes and is tall enough."""

    ok: bool
    reason: str
    height: int | None
    code: str = ""  # "MEDIA_FORMAT_REFUSED" when the file was refused before any decoding


def is_url(target: str) -> bool:
    return "://" in target


def _check_local(target: str) -> Path:
    if is_url(target):
        raise ProbeError(
            f"probe {target}: ffprobe reads only local files; fetch the head of remote media "
            "through the vetted client first (vvtv.media.fetch.fetch_head)"
        )
    path = Path(target)
    if not path.is_file():
        raise ProbeError(f"probe {target}: no such file")
    return path


def _parse_rate(text: Any) -> float | None:
    """``"25/1"`` or ``"30000/1001"`` to frames per second; ``None`` for ``0/0`` or junk."""
    if not isinstance(text, str) or "/" not in text:
        return None
    num, _, den = text.partition("/")
    try:
        n, d = float(num), float(den)
    except ValueError:
        return None
    return round(n / d, 3) if n > 0 and d > 0 else None


def _parse_ratio(text: Any) -> float | None:
    """``"16:15"`` to 1.0667; ``None`` for ``"0:1"``, ``"1:1"`` treated as 1.0."""
    if not isinstance(text, str) or ":" not in text:
        return None
    num, _, den = text.partition(":")
    try:
        n, d = float(num), float(den)
    except ValueError:
        return None
    return round(n / d, 4) if n > 0 and d > 0 else None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and f >= 0 else None  # NaN and negatives mean "unknown"


def _split_tags(format_tags: dict[str, Any]) -> tuple[str, ...]:
    lowered = {str(k).lower(): v for k, v in format_tags.items()}
    seen: dict[str, None] = {}
    for key in _TAG_KEYS:
        value = lowered.get(key)
        if not isinstance(value, str):
            continue
        for part in re.split(r"[,;]", value):
            tag = part.strip()
            if tag:
                seen.setdefault(tag, None)
    return tuple(seen)


def parse_ffprobe_json(data: dict[str, Any], target: str) -> ProbeResult:
    """Build a ``ProbeResult`` from ffprobe's ``-show_format -show_streams`` JSON."""
    fmt = data.get("format")
    streams = data.get("streams")
    if not isinstance(fmt, dict) or not isinstance(streams, list):
        raise ProbeError(f"probe {target}: ffprobe output has no format/streams section")
    video = next(
        (
            s
            for s in streams
            if isinstance(s, dict)
            and s.get("codec_type") == "video"
            # Cover art is a one-frame "video" stream; it is not the programme.
            and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    audio = next(
        (s for s in streams if isinstance(s, dict) and s.get("codec_type") == "audio"), None
    )
    if video is None and audio is None:
        raise ProbeError(f"probe {target}: no audio or video stream")
    raw_tags = fmt.get("tags")
    tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
    title = next((v for k, v in tags.items() if str(k).lower() == "title"), None)
    duration = _as_float(fmt.get("duration"))
    # The container's duration can count a start offset (an MP4 whose streams begin at
    # 35,990 s reports 36,002 s for 12 s of media): when the streams say how long they
    # are, the programme is as long as its longest stream.
    lengths = [_as_float(s.get("duration")) for s in (video, audio) if s is not None]
    longest = max((d for d in lengths if d is not None), default=None)
    if longest is not None and (duration is None or duration > longest + 1.0):
        duration = longest
    fps = None
    if video is not None:
        fps = _parse_rate(video.get("avg_frame_rate")) or _parse_rate(video.get("r_frame_rate"))
    return ProbeResult(
        duration_sec=duration,
        width=_as_int(video.get("width")) if video else None,
        height=_as_int(video.get("height")) if video else None,
        fps=fps,
        video_codec=video.get("codec_name") if video else None,
        pix_fmt=video.get("pix_fmt") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_rate=_as_int(audio.get("sample_rate")) if audio else None,
        audio_channels=_as_int(audio.get("channels")) if audio else None,
        format_name=str(fmt.get("format_name") or ""),
        title=str(title).strip() or None if title is not None else None,
        tags=_split_tags(tags),
        field_order=video.get("field_order") if video else None,
        sar=_parse_ratio(video.get("sample_aspect_ratio")) if video else None,
    )


async def probe(target: str, *, timeout: float = 30.0) -> ProbeResult:
    """Probe a local media file with ffprobe; ``ProbeError`` if it cannot, and
    ``MediaFormatRefused`` (a ``ProbeError``) if it is not a media container we read."""
    return await _probe(untrusted_input(_check_local(target)), target, timeout)


async def probe_own_hls(playlist: str, *, timeout: float = 30.0) -> ProbeResult:
    """Probe a VOD playlist ``prepare`` wrote (QA): HLS of local segments only."""
    return await _probe(own_hls_input(_check_local(playlist)), playlist, timeout)


async def _probe(inputs: list[str], target: str, timeout: float) -> ProbeResult:
    args = [
        FFPROBE, "-v", "error", *inputs,
        "-print_format", "json", "-show_format", "-show_streams",
    ]  # fmt: skip
    try:
        result = await run_tool(args, timeout=timeout, what=target)
    except MediaError as exc:
        refused = refusal_from_stderr(exc.stderr_tail.replace(" | ", "\n"), target)
        if refused is not None:
            raise refused from exc
        raise ProbeError(f"probe {target}: {exc}") from exc
    try:
        data = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise ProbeError(f"probe {target}: ffprobe printed invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ProbeError(f"probe {target}: ffprobe printed unexpected JSON")
    return parse_ffprobe_json(data, target)


_FRAME_RE = re.compile(r"^frame=(\d+)\s*$", re.MULTILINE)


async def count_decoded_frames(
    target: str, *, seconds: float | None, timeout: float
) -> tuple[int, list[str]]:
    """Decode the first video stream (the first ``seconds``, or all) and discard the frames.

    Returns the number of frames decoded and the error lines ffmpeg logged while decoding.
    ``0:V:0`` (capital V) skips cover art, which some files carry as a first "video" stream.
    """
    limit = ["-t", f"{seconds:g}"] if seconds is not None else []
    args = ffmpeg_args(
        "-v",
        "error",
        *limit,
        *untrusted_input(_check_local(target)),
        "-map",
        "0:V:0",
        "-f",
        "null",
        "-progress",
        "pipe:1",
        "-nostats",
        "-",
    )
    result = await run_tool(args, timeout=timeout, check=False, what=target)
    frames = [int(m) for m in _FRAME_RE.findall(result.stdout.decode("ascii", "replace"))]
    errors = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    if result.returncode != 0 and not errors:
        errors = [f"ffmpeg exited with {result.returncode}"]
    return (frames[-1] if frames else 0), errors


async def confirm_hd(
    target: str, min_height: int, *, seconds: float = 2.0, timeout: float = 30.0
) -> HDCheck:
    """Really decode the first ``seconds`` of video and check its height against ``min_height``.

    ``ok=False`` with the reason when the target cannot be probed, has no video, is below
    ``min_height``, or does not decode (zero frames, or decoder errors logged).
    """
    try:
        info = await probe(target, timeout=timeout)
    except MediaFormatRefused as exc:
        return HDCheck(False, exc.reason, None, FORMAT_REFUSED)
    except ProbeError as exc:
        return HDCheck(False, exc.reason, None)
    if not info.has_video:
        return HDCheck(False, f"{target}: no video stream", None)
    height = info.height
    if height is None:
        return HDCheck(False, f"{target}: video height unknown", None)
    if height < min_height:
        return HDCheck(
            False, f"{target}: height {height}p is below the minimum {min_height}p", height
        )
    try:
        frames, errors = await count_decoded_frames(target, seconds=seconds, timeout=timeout)
    except ProbeError as exc:  # the file went away or changed under us
        return HDCheck(False, exc.reason, height)
    except MediaError as exc:
        return HDCheck(False, f"{target}: decode failed: {exc}", height)
    if errors:
        return HDCheck(
            False, f"{target}: decode errors in the first {seconds:g}s: {errors[-1]}", height
        )
    if frames == 0:
        return HDCheck(False, f"{target}: no video frame decoded in the first {seconds:g}s", height)
    return HDCheck(True, f"decoded {frames} frames at {height}p", height)
