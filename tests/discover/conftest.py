"""Discovery fixtures: real clips made once per session with ffmpeg, a loopback HTTP server."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import httpx
import pytest
import trio

from .loopback import Loopback, start_loopback


def make_clip(path: Path, size: str, *, seconds: float = 2.0, extra: tuple[str, ...] = ()) -> Path:
    """A tiny H.264/AAC stereo clip (ultrafast, moov first so it streams over HTTP)."""
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=s={size}:r=25:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f=440:sample_rate=48000:d={seconds}",
        "-ac", "2", "-c:a", "aac", "-b:a", "64k",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "400k",
        "-movflags", "+faststart", *extra, str(path),
    ]  # fmt: skip
    subprocess.run(args, check=True)
    return path


@attrs.frozen
class Clips:
    hd720: Path  # 1280x720, title/genre metadata
    sd480: Path  # 854x480
    corrupt: Path  # a real clip's header over bytes that are not video
    garbage: Path  # not media at all


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    d = tmp_path_factory.mktemp("discovery-clips")
    hd = make_clip(
        d / "hd720.mp4",
        "1280x720",
        extra=("-metadata", "title=Ocean Waves", "-metadata", "genre=nature, calm"),
    )
    sd = make_clip(d / "sd480.mp4", "854x480")
    data = hd.read_bytes()
    corrupt = d / "corrupt.mp4"
    # Keep the first 8 KiB (ftyp + moov: ffprobe still sees a 720p stream), then noise.
    corrupt.write_bytes(data[:8192] + bytes((i * 7919) % 251 for i in range(len(data) - 8192)))
    garbage = d / "garbage.mp4"
    garbage.write_bytes(b"this is not a video\n" * 200)
    return Clips(hd720=hd, sd480=sd, corrupt=corrupt, garbage=garbage)


@pytest.fixture
async def web(nursery: trio.Nursery) -> AsyncIterator[Loopback]:
    yield await start_loopback(nursery)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c
