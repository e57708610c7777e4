"""Fixtures for the cloud tests: a clock on Trio's time, an HTTP client and the edge (the
loopback ``receiver`` is shared: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.support.edge import EdgeWorker, running_edge
from vvtv.core.clock import TrioClock, utc


@pytest.fixture
async def clock(autojump_clock: trio.testing.MockClock) -> TrioClock:
    return TrioClock(utc(2026, 3, 1, 12))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # A new connection per request: workerd closes a kept-alive connection when it has been
    # idle a while, and a test polling it every half second lost that race ("Server
    # disconnected without sending a response"). The channel's own edge client retries an
    # idempotent request once for this (vvtv/edge/client.py); the tests' polls need not.
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as c:
        yield c


@pytest.fixture
def edge_worker(tmp_path: Path) -> Iterator[EdgeWorker]:
    """The edge (cloud/worker) in workerd on 127.0.0.1, channel "main" (tests/support/edge.py)."""
    with running_edge(tmp_path / "edge") as edge:
        yield edge
