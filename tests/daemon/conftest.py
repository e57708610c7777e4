"""Fixtures for whole-channel tests: a runtime per test (the session's slate copied in), media."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.daemon.harness import make_settings
from vvtv.core.settings import Settings
from vvtv.media.generate import render_clip
from vvtv.ownercard.card import ChannelProfile


@pytest.fixture
def settings(tmp_path: Path, slate_template: Path) -> Settings:
    return make_settings(tmp_path, slate_template)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real 4-second 720p clips, made once: two with sound, one silent."""
    root = tmp_path_factory.mktemp("commit-media")

    async def render() -> dict[str, bytes]:
        out = {}
        for name, audio in (
            ("bars", "sine=f=440:sample_rate=48000"),
            ("grid", "sine=f=660:sample_rate=48000"),
            ("silent", "anullsrc=r=48000:cl=stereo"),
        ):
            pattern = "testsrc2" if name == "grid" else "smptehdbars"
            path = await render_clip(
                root / f"{name}.mp4",
                video=f"{pattern}=s=1280x720:r=25",
                audio=audio,
                seconds=4,
                profile=ChannelProfile(),
            )
            out[name] = path.read_bytes()
        return out

    return trio.run(render)
