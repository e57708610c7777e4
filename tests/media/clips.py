"""Tiny real media clips made with ffmpeg for the media tests (generated once per session)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_clip(
    path: Path,
    *,
    size: str = "1280x720",
    fps: int = 25,
    seconds: float = 4.0,
    video: str = "testsrc2",
    audio: str | None = "sine=f=440",
    volume_db: float = -14.0,
    gop: int | None = None,
    extra: tuple[str, ...] = (),
) -> Path:
    """An H.264/AAC clip (ultrafast, low bitrate) so the whole set takes a few seconds to make."""
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"{video}=s={size}:r={fps}:d={seconds}",
    ]  # fmt: skip
    if audio is not None:
        args += ["-f", "lavfi", "-i", f"{audio}:sample_rate=48000:d={seconds}"]
        args += ["-af", f"volume={volume_db}dB", "-ac", "2", "-c:a", "aac", "-b:a", "96k"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "600k"]
    args += ["-g", str(gop if gop is not None else fps * 6), "-movflags", "+faststart"]
    args += [*extra, str(path)]
    subprocess.run(args, check=True)
    return path


def make_silent_clip(path: Path, *, seconds: float = 4.0) -> Path:
    return make_clip(path, seconds=seconds, audio="anullsrc=channel_layout=stereo")


def make_truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    """The first part of a real clip: headers intact, media data cut off mid-stream."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
