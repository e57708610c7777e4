"""Session fixtures for the chaos tests: a folder of distinct tiny clips and a pre-made slate.

Import the fixtures into a test module (``from chaos_fixtures import clips, slate``) so
pytest registers them there. Pytest then keeps one fixture per importing module, so the
files themselves are made once per session under the session's base temp dir and reused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.proof.daemon_process import make_clip, make_slate

CLIP_SECONDS = 12.0
CLIP_TONES = (330, 440, 550)


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Path]) -> Path:
    """``make(folder)``'s result, made on first use in this session and reused after."""
    folder = factory.getbasetemp() / name
    done = folder / ".made"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        result = make(folder)
        done.write_text(str(result))
    return Path(done.read_text())


def _clips(folder: Path) -> Path:
    for n, tone in enumerate(CLIP_TONES):
        make_clip(folder / f"clip{n}.mp4", seconds=CLIP_SECONDS, tone_hz=tone)
    return folder


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three distinct 720p clips, long enough that preparing one takes a moment."""
    return made_once(tmp_path_factory, "chaos-clips", _clips)


@pytest.fixture(scope="session")
def slate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default channel's prepared slate, copied into each runtime."""
    return made_once(tmp_path_factory, "chaos-slate", lambda folder: make_slate(folder / "hls"))
