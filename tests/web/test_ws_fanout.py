"""Live websocket fan-out under many clients: paced sends, stalled clients.

Real hypercorn on an ephemeral 127.0.0.1 port and real websocket clients, all in the
test's Trio run. A Trio instrument records which tasks run in which scheduler batch
(a batch ends at each I/O check: timers and sockets are only looked at in between).
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio
from quart_trio import QuartTrio
from trio_websocket import open_websocket_url

from tests.web.batches import BatchLog
from tests.web.conftest import StubChannel
from vvtv.core.signing import Verifier
from vvtv.observe.topics import DEFAULT_QUEUE
from vvtv.web import create_app, live_streams, serve

# The quart-trio task that runs a websocket route (live_stream) for one connection.
HANDLER_TASK = "quart_trio.asgi.TrioASGIWebsocketConnection.handle_websocket"


@asynccontextmanager
async def serving(channel: StubChannel, ws_chunk: int) -> AsyncIterator[tuple[str, QuartTrio]]:
    """The app over ``channel`` on 127.0.0.1:0; yields its ws:// base URL and the app."""
    app = create_app(channel, verifier=Verifier("t", "s"), ws_chunk=ws_chunk)
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=shutdown))
        yield url.replace("http://", "ws://"), app
        shutdown.set()


async def next_frame(ws, timeout: float = 10.0) -> dict:
    with trio.fail_after(timeout):
        return json.loads(await ws.get_message())


@pytest.mark.parametrize(("chunk", "paced"), [(5, True), (1000, False)])
async def test_one_update_to_many_clients_is_sent_a_chunk_at_a_time(
    tmp_path: Path, chunk: int, paced: bool
) -> None:
    """60 dashboards, chunk 5: no batch holds more than three chunks' handlers (a send
    through hypercorn is three task steps, each in the next batch) and other tasks run
    between the chunks. With one chunk for all (chunk 1000), the 60 run in one batch."""
    clients = 60
    channel = StubChannel(tmp_path)
    channel.topics.publish("buffer", {"v": 0})
    log = BatchLog()

    async def other(task_status: trio.TaskStatus[trio.lowlevel.Task]) -> None:
        task_status.started(trio.lowlevel.current_task())
        while True:
            await trio.lowlevel.checkpoint()

    async with serving(channel, chunk) as (url, _), AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(open_websocket_url(f"{url}/v1/ws/buffer"))
            for _ in range(clients)
        ]
        for ws in sockets:
            assert (await next_frame(ws))["seq"] == 1
        async with trio.open_nursery() as nursery:
            other_task = await nursery.start(other)
            trio.lowlevel.add_instrument(log)
            channel.topics.publish("buffer", {"v": 1})
            for ws in sockets:
                assert (await next_frame(ws))["data"] == {"v": 1}
            trio.lowlevel.remove_instrument(log)
            nursery.cancel_scope.cancel()

    per_batch = log.tasks_per_batch(HANDLER_TASK)
    assert sum(per_batch.values()) >= clients
    if paced:
        assert max(per_batch.values()) <= 3 * chunk
        assert len(per_batch) >= clients // chunk
        assert set(per_batch) <= set(log.steps_per_batch({other_task}))
    else:
        assert max(per_batch.values()) == clients


async def stalled_socket(port: int) -> trio.socket.SocketType:
    """A websocket client that completes the handshake and never reads again; its
    small receive buffer makes the server's sends to it block soon."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    await sock.send(
        b"GET /v1/ws/buffer HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await sock.recv(1)  # byte by byte: read nothing past the handshake
    assert b" 101 " in head.split(b"\r\n", 1)[0], head
    return sock


async def test_a_stalled_client_blocks_neither_the_pacer_nor_the_others(tmp_path: Path) -> None:
    """With a chunk of one, a stalled handler that held up the pacer would hold up
    everyone: the readers still get each of 100 large updates as it is published."""
    channel = StubChannel(tmp_path)
    pad = "x" * 100_000  # ~10 MB in all: far more than the stalled socket's buffers take
    channel.topics.publish("buffer", {"i": 0, "pad": pad})
    async with serving(channel, ws_chunk=1) as (url, app), AsyncExitStack() as stack:
        port = int(url.rsplit(":", 1)[1])
        stalled = await stalled_socket(port)
        stack.callback(stalled.close)
        readers = [
            await stack.enter_async_context(open_websocket_url(f"{url}/v1/ws/buffer"))
            for _ in range(10)
        ]
        for ws in readers:
            assert (await next_frame(ws))["seq"] == 1
        for i in range(1, 101):
            channel.topics.publish("buffer", {"i": i, "pad": pad})
            for ws in readers:
                assert (await next_frame(ws, timeout=5.0))["data"]["i"] == i
        # Meanwhile the stalled client's handler is stuck in a send, its updates queued
        # (and conflated: at most DEFAULT_QUEUE of them wait).
        pending = sorted(sub.pending for sub in live_streams(app)._subs)
        assert pending[:10] == [0] * 10
        assert 1 <= pending[10] <= DEFAULT_QUEUE
