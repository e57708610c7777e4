"""Shared fixtures. pytest-trio provides ``autojump_clock`` (a MockClock that jumps when idle)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vvtv.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite state database in the test's own directory."""
    s = open_store(tmp_path / "state" / "vvtv.db")
    try:
        yield s
    finally:
        s.close()
