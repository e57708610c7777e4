"""Fixtures for whole-channel tests: one real slate per session, a runtime per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.daemon.harness import make_settings
from vvtv.media.slate import ensure_slate
from vvtv.ownercard import ChannelProfile
from vvtv.settings import Settings


@pytest.fixture(scope="session")
def slate_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slate")
    prepared = trio.run(ensure_slate, root, ChannelProfile())
    return Path(prepared.dir)


@pytest.fixture
def settings(tmp_path: Path, slate_template: Path) -> Settings:
    return make_settings(tmp_path, slate_template)
