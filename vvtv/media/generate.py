"""Making clips locally with ffmpeg's built-in sources (the slate, the demo library).

Generated clips already conform to the channel profile (H.264 yuv420p at the profile's size and
frame rate, a keyframe every segment, AAC stereo at the profile's rate), so ``prepare`` remuxes
them instead of encoding them a second time.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from vvtv.media.ffmpeg import ffmpeg_args, run_tool
from vvtv.media.formats import MP4, input_args, lavfi_input
from vvtv.ownercard.card import ChannelProfile

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)


def find_font() -> Path | None:
    """A TrueType font for ``drawtext``, or None (then clips carry no text)."""
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    if shutil.which("fc-match"):
        try:
            found = subprocess.run(
                ["fc-match", "-f", "%{file}", "sans:bold"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
        if found and Path(found).is_file():
            return Path(found)
    return None


def _filter_path(path: Path) -> str | None:
    """A path quoted for a filter option, or None if it holds characters we will not escape."""
    text = str(path)
    if any(c in text for c in "'\\\n"):
        return None
    return f"'{text}'"


def drawtext(font: Path | None, textfile: Path, *, size: int, y: str) -> str | None:
    """A centred ``drawtext`` over a translucent box reading ``textfile`` (no text escaping)."""
    font_arg, text_arg = (_filter_path(font) if font else None), _filter_path(textfile)
    if font_arg is None or text_arg is None:
        return None
    return (
        f"drawtext=fontfile={font_arg}:textfile={text_arg}:fontsize={size}:fontcolor=white"
        f":box=1:boxcolor=black@0.55:boxborderw={size // 3}:x=(w-tw)/2:y={y}"
    )


async def render_clip(
    out: Path,
    *,
    video: str,
    audio: str,
    seconds: float,
    profile: ChannelProfile,
    text: str | None = None,
    text_size: int = 40,
    text_y: str = "h-th-60",
    metadata: Mapping[str, str] | None = None,
    timeout: float = 300.0,
    video_kbps: int = 1200,
) -> Path:
    """Render ``video`` (a lavfi source chain) and ``audio`` (a lavfi source) into ``out``.

    The file is written under a hidden temporary name next to ``out`` and renamed at the end, so
    a folder scanner never sees a partial clip. ``text`` is drawn if a font is available.
    """
    w, h, fps = profile.width, profile.height, profile.fps
    chain = [video, "format=yuv420p", f"scale={w}:{h}:flags=bilinear", "setsar=1"]
    textfile = out.with_name(f".{out.stem}-{uuid.uuid4().hex[:6]}.txt")
    tmp = out.with_name(f".{out.stem}-{uuid.uuid4().hex[:6]}.tmp{out.suffix}")
    try:
        if text:
            textfile.write_text(text, encoding="utf-8")
            overlay = drawtext(find_font(), textfile, size=text_size, y=text_y)
            if overlay:
                chain.append(overlay)
        gop = fps * profile.segment_seconds
        meta: list[str] = []
        for key, value in (metadata or {}).items():
            meta += ["-metadata", f"{key}={value}"]
        args = ffmpeg_args(
            "-v", "error",
            *lavfi_input(",".join(chain)),
            *lavfi_input(audio),
            "-t", f"{seconds:.3f}", "-map", "0:v:0", "-map", "1:a:0",
            "-r", str(fps), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-b:v", f"{video_kbps}k", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
            "-c:a", "aac", "-b:a", f"{profile.audio_bitrate_kbps}k",
            "-ar", str(profile.audio_rate), "-ac", str(profile.audio_channels),
            *meta, "-movflags", "+faststart", str(tmp),
        )  # fmt: skip
        await run_tool(args, timeout=timeout, what=str(out))
        tmp.replace(out)
        return out
    finally:
        tmp.unlink(missing_ok=True)
        textfile.unlink(missing_ok=True)


async def loop_clip(
    clip: Path,
    out: Path,
    *,
    seconds: float,
    metadata: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> Path:
    """``clip`` repeated to ``seconds`` by stream copy (a remux: nothing is encoded), in ``out``.

    A clip that lasts a whole number of GOPs keeps its keyframes on the same grid across every
    repeat. Written under a hidden temporary name and renamed, like ``render_clip``.
    """
    if not seconds > 0:
        raise ValueError(f"loop_clip: seconds must be positive, got {seconds!r}")
    tmp = out.with_name(f".{out.stem}-{uuid.uuid4().hex[:6]}.tmp{out.suffix}")
    meta: list[str] = []
    for key, value in (metadata or {}).items():
        meta += ["-metadata", f"{key}={value}"]
    try:
        args = ffmpeg_args(
            "-v", "error",
            # Repeat the input without end; -t cuts the output at the programme's length.
            # Our own clip, opened as what render_clip wrote (MP4, a local file) and no more.
            "-stream_loop", "-1", *input_args(clip, MP4),
            "-t", f"{seconds:.3f}", "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
            *meta, "-movflags", "+faststart", str(tmp),
        )  # fmt: skip
        await run_tool(args, timeout=timeout, what=str(out))
        tmp.replace(out)
        return out
    finally:
        tmp.unlink(missing_ok=True)
