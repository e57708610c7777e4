"""Real media for tests: tiny clips made by ffmpeg, and the channel's slate, made once.

``make_clip`` writes an H.264/AAC clip from ffmpeg's built-in sources (ultrafast, low
bitrate, ``moov`` first so it streams over HTTP). A distinct ``tone_hz`` makes distinct
bytes, hence a distinct checksum, when a test needs clips the channel must tell apart.

``ClipCache`` (the session fixture ``clip_cache``) makes each distinct clip once per test
session and hands out the same file to every test that asks for it: ask it instead of
``make_clip`` wherever the clip is only read. A test that changes or moves a clip copies
it first (``clip_cache.copy(dest, ...)``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import trio

from vvtv.media.slate import ensure_slate
from vvtv.ownercard.card import ChannelProfile


def make_clip(
    path: Path,
    *,
    seconds: float = 4.0,
    size: str = "1280x720",
    fps: int = 25,
    video: str = "testsrc2",
    tone_hz: int = 440,
    audio: str | None = "",
    volume_db: float = -14.0,
    gop: int | None = None,
    extra: tuple[str, ...] = (),
) -> Path:
    """Write an H.264 yuv420p / AAC 48 kHz stereo clip to ``path``; returns ``path``.

    ``video`` is a lavfi video source; ``audio`` a lavfi audio source (``""``: a sine at
    ``tone_hz``; ``None``: no audio stream). ``gop`` is the keyframe interval in frames
    (default: every 6 s, one per HLS segment). ``extra`` goes before the output name
    (``-metadata``, ``-vf`` ...).
    """
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"{video}=s={size}:r={fps}:d={seconds}",
    ]  # fmt: skip
    if audio is not None:
        source = audio or f"sine=f={tone_hz}"
        args += ["-f", "lavfi", "-i", f"{source}:sample_rate=48000:d={seconds}"]
        args += ["-af", f"volume={volume_db}dB", "-ac", "2", "-c:a", "aac", "-b:a", "96k"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "600k"]
    args += ["-g", str(gop if gop is not None else fps * 6), "-movflags", "+faststart"]
    args += [*extra, str(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(args, check=True)
    return path


def make_segments(
    directory: Path,
    *,
    seconds: float = 4.0,
    segment_seconds: int = 1,
    size: str = "160x120",
    fps: int = 25,
    tone_hz: int = 440,
) -> list[Path]:
    """Real HLS MPEG-TS segments of an H.264/AAC clip, cut by ffmpeg as ``prepare`` cuts
    them (keyframe every segment, timestamps from ffmpeg's 1.4 s mux delay): the files, in
    order. A tiny frame size keeps them a few kilobytes each."""
    directory.mkdir(parents=True, exist_ok=True)
    args = [
            "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}",
            "-f", "lavfi", "-i", f"sine=f={tone_hz}:sample_rate=48000:d={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-g", str(fps * segment_seconds), "-sc_threshold", "0",
            "-c:a", "aac", "-ac", "2", "-b:a", "64k",
            "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(directory / "seg_%05d.ts"),
            str(directory / "index.m3u8"),
    ]  # fmt: skip
    subprocess.run(args, check=True)
    return sorted(directory.glob("seg_*.ts"))


def make_silent_clip(path: Path, *, seconds: float = 4.0) -> Path:
    """A clip whose audio is digital silence."""
    return make_clip(path, seconds=seconds, audio="anullsrc=channel_layout=stereo")


def make_truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    """The first part of a real clip: headers intact, media data cut off mid-stream."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


class ClipCache:
    """Each distinct ``make_clip`` made once in ``root``; the same path handed out after."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def clip(self, **params: Any) -> Path:
        """The clip ``make_clip(**params)`` would write, made on first use."""
        key = _clip_key(params)
        path = self.root / f"clip-{hashlib.sha256(key.encode()).hexdigest()[:16]}.mp4"
        if not path.exists():
            partial = path.with_suffix(".partial.mp4")
            make_clip(partial, **params)
            os.replace(partial, path)  # never a half-made clip under the final name
        return path

    def copy(self, dest: Path, **params: Any) -> Path:
        """A private copy of the cached clip at ``dest``, for a test that changes or moves it."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.clip(**params), dest)
        return dest


def _clip_key(params: dict[str, Any]) -> str:
    """The same key for the same clip: defaults filled in, 2 and 2.0 alike."""
    bound = inspect.signature(make_clip).bind(Path("-"), **params)
    bound.apply_defaults()
    named = {k: v for k, v in bound.arguments.items() if k != "path"}
    normal = {
        k: float(v) if isinstance(v, int | float) and k != "extra" else v for k, v in named.items()
    }
    return json.dumps(normal, sort_keys=True, default=str)


def make_slate(root: Path, profile: ChannelProfile | None = None) -> Path:
    """Render the channel's slate under ``root``; the prepared slate's directory.

    The daemon reuses a usable slate it finds in ``<runtime>/hls/slate``, so tests copy
    this one there instead of spending ~6 s of ffmpeg per boot.
    """
    prepared = trio.run(ensure_slate, root, profile or ChannelProfile())
    return Path(prepared.dir)
