"""Fixtures for the Alerter tests: the loopback receiver shared with tests/cloud."""

from __future__ import annotations

import pytest
import trio

from tests.cloud.loopback_receiver import Receiver, start_receiver
from vvtv.core.clock import TrioClock, utc


@pytest.fixture
async def clock(autojump_clock: trio.testing.MockClock) -> TrioClock:
    return TrioClock(utc(2026, 3, 1, 12))


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> Receiver:
    return await start_receiver(nursery)
