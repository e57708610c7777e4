"""Session fixtures for the chaos tests: a folder of distinct tiny clips and a pre-made slate.

Import the fixtures into a test module (``from chaos_fixtures import clips, slate``) so
pytest registers them there; they are made once per session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from .daemon_process import make_clip, make_slate
except ImportError:  # tests/proof is not a package: pytest put this folder on sys.path
    from daemon_process import make_clip, make_slate

CLIP_SECONDS = 12.0
CLIP_TONES = (330, 440, 550)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three distinct 720p clips, long enough that preparing one takes a moment."""
    folder = tmp_path_factory.mktemp("chaos-clips")
    for n, tone in enumerate(CLIP_TONES):
        make_clip(folder / f"clip{n}.mp4", seconds=CLIP_SECONDS, tone_hz=tone)
    return folder


@pytest.fixture(scope="session")
def slate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default channel's prepared slate, copied into each runtime."""
    return make_slate(tmp_path_factory.mktemp("chaos-slate") / "hls")
