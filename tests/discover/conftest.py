"""Discovery fixtures: real clips (made once per session), the loopback web, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import httpx
import pytest

from tests.support.loopback import Loopback
from tests.support.media import ClipCache

HD720 = {
    "seconds": 2.0,
    "extra": ("-metadata", "title=Ocean Waves", "-metadata", "genre=nature, calm"),
}
SD480 = {"seconds": 2.0, "size": "854x480"}


@attrs.frozen
class Clips:
    hd720: Path  # 1280x720, title/genre metadata
    sd480: Path  # 854x480
    corrupt: Path  # a real clip's header over bytes that are not video
    garbage: Path  # not media at all


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, clip_cache: ClipCache) -> Clips:
    d = tmp_path_factory.mktemp("discovery-clips")
    hd = clip_cache.clip(**HD720)
    data = hd.read_bytes()
    corrupt = d / "corrupt.mp4"
    # Keep the first 8 KiB (ftyp + moov: ffprobe still sees a 720p stream), then noise.
    corrupt.write_bytes(data[:8192] + bytes((i * 7919) % 251 for i in range(len(data) - 8192)))
    garbage = d / "garbage.mp4"
    garbage.write_bytes(b"this is not a video\n" * 200)
    return Clips(hd720=hd, sd480=clip_cache.clip(**SD480), corrupt=corrupt, garbage=garbage)


@pytest.fixture
def web(loopback: Loopback) -> Loopback:
    """The loopback server standing in for the feed and media hosts."""
    return loopback


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c
