"""Shared fixtures (the helpers behind them live in ``tests/support``).

pytest-trio provides ``autojump_clock`` (a MockClock that jumps when idle).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio

from tests.support.loopback import Loopback, start_loopback, start_receiver
from tests.support.media import ClipCache, make_segments, make_slate
from vvtv.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite state database in the test's own directory."""
    s = open_store(tmp_path / "state" / "vvtv.db")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
async def loopback(nursery: trio.Nursery) -> AsyncIterator[Loopback]:
    """A loopback HTTP server in the test's Trio run (see ``tests.support.loopback``)."""
    yield await start_loopback(nursery)


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> AsyncIterator[Loopback]:
    """A loopback receiver (answers ``{"ok": true}`` to anything unless scripted otherwise)."""
    yield await start_receiver(nursery)


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory: pytest.TempPathFactory) -> ClipCache:
    """Each distinct ``make_clip`` made once per session (see ``tests.support.media``)."""
    return ClipCache(tmp_path_factory.mktemp("clip-cache"))


@pytest.fixture(scope="session")
def slate_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default channel's prepared slate, rendered once; tests copy it into a runtime."""
    return make_slate(tmp_path_factory.mktemp("slate"))


@pytest.fixture(scope="session")
def ts_segments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[bytes]]:
    """Two real assets' MPEG-TS segments (``a``, ``b``: four 1-second segments each, a
    different tone), as bytes, made once: what a live playlist lists."""
    root = tmp_path_factory.mktemp("ts-segments")
    return {
        name: [p.read_bytes() for p in make_segments(root / name, tone_hz=tone)]
        for name, tone in (("a", 440), ("b", 660))
    }
