"""Session fixtures for the proof tests: the channel's slate and a folder of distinct clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.media import make_clip

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
