"""Fixtures for the Alerter tests: a clock on Trio's time (`receiver` is in tests/conftest.py)."""

from __future__ import annotations

import pytest
import trio

from vvtv.core.clock import TrioClock, utc


@pytest.fixture
async def clock(autojump_clock: trio.testing.MockClock) -> TrioClock:
    return TrioClock(utc(2026, 3, 1, 12))
