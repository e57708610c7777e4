"""Session fixtures for the proof tests: the channel's slate, a folder of distinct clips,
and a real daemon for the API and log tests (one per module: a daemon outliving its module
would be a stray child process to the tests that count them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proof.daemon_process import Channel
from tests.support.media import make_clip

TOKEN = "proof-api-token"
SECRET = "proof-api-secret"

CLIP_SECONDS = 12.0
CLIP_TONES = (330, 440, 550)


@pytest.fixture(scope="session")
def slate(slate_template: Path) -> Path:
    """The default channel's prepared slate (made once per session), copied into runtimes."""
    return slate_template


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three distinct 720p clips, long enough that preparing one takes a moment."""
    folder = tmp_path_factory.mktemp("chaos-clips")
    for n, tone in enumerate(CLIP_TONES):
        make_clip(folder / f"clip{n}.mp4", seconds=CLIP_SECONDS, tone_hz=tone, gop=50)
    return folder


@pytest.fixture(scope="module")
def api_daemon(
    tmp_path_factory: pytest.TempPathFactory, slate: Path, clips: Path
) -> Iterator[Channel]:
    """A real ``vvtv run`` airing ``clips``, as systemd starts it (``INVOCATION_ID`` set, so
    it logs JSON lines), with known control credentials. Exits cleanly, no traceback."""
    root = tmp_path_factory.mktemp("api-daemon")
    channel = Channel(
        root,
        clips,
        slate,
        VVTV_CONTROL_TOKEN=TOKEN,
        VVTV_CONTROL_SECRET=SECRET,
        INVOCATION_ID="0123456789abcdef0123456789abcdef",
        VVTV_LOG_FORMAT="",
    )
    channel.start()
    yield channel
    assert channel.stop() == 0, channel.log()[-3000:]
    assert "Traceback" not in channel.log(), channel.log()[-5000:]
