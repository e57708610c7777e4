"""Serving the app with hypercorn inside the caller's nursery, guarded against slow and
greedy clients (STACK-NOTES; ``vvtv/web/limits.py``).

``serve(app, bind, shutdown=event, limits=..., task_status=...)`` binds (``127.0.0.1:0``
picks a free port), reports the real URL through ``task_status``, and on ``shutdown`` first
ends the live websocket streams (1001 close frames) so the graceful shutdown does not wait
``graceful_timeout`` for them, then stops the server.

What a client can hold, and for how long:

- **Connections.** At most ``limits.max_connections`` at once, and never more than the
  process's file-descriptor limit leaves room for (``FD_RESERVE`` stay free for the state
  database, media files, ffmpeg's pipes). At the cap, a newcomer takes the place of the
  connection that has been waiting on its client the longest: idle (a keep-alive client
  between requests, or one still dribbling its request's headers, which is what a
  slowloris attack is) or still sending its request's body. When every connection is
  busy being answered (live streams, downloads) the newcomer gets a 503 and is closed.
  So 140 half-sent requests cannot lock a well-behaved client out, whatever the fd limit.
- **Idle time.** A connection with no request in progress, including one whose first
  request's headers are not complete yet, is closed after ``limits.keepalive_s``
  (hypercorn's keep-alive timeout, which also runs from the moment a connection opens).
- **Headers and bodies.** Request target and headers at most ``limits.max_header_bytes``
  (a JSON 431 beyond, and the connection closed); a body must arrive within
  ``limits.read_timeout_s`` (``body.py``, 408).
- **HTTP/2.** hypercorn upgrades cleartext connections to HTTP/2 on ``Upgrade: h2c`` or
  the HTTP/2 preface; that is a second protocol stack for every client to reach, with
  its own limits, and nothing here needs it: only when ``limits.h2c`` is set.
- **Websocket messages.** At most ``limits.ws_max_message_bytes``: beyond, the client gets
  a 1009 close frame and the connection is closed at once (hypercorn would wait for the
  client's close frame while writing all it sends meanwhile into the message's buffer,
  never emptied once over the limit); what stays under is read and dropped by the app
  (``app.py``). No
  ``permessage-deflate``: a compressed message is inflated whole (about 1,000 times its
  size) before its size can be checked, and the live streams' small JSON frames gain
  little from it (each client's copy would be compressed separately, too).

hypercorn 0.18 has no connection cap and no switch for h2c, so this runs its trio worker
loop (``hypercorn.trio.run.worker_serve``, the same steps) with a connection handler of
its own: hypercorn's ``TCPServer`` for a plain TCP stream, built with an HTTP/1.1
protocol that ignores h2c upgrades unless allowed, and reporting idle/busy to the gate.
TLS is never terminated here (a reverse proxy does that), so the TLS branch is not kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import resource
from collections.abc import Callable
from typing import Any

import attrs
import h11
import hypercorn.config
import trio
from hypercorn.events import Closed, RawData, Updated
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.ws_stream import FrameTooLargeError, WebsocketBuffer, WSStream
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import parse_socket_addr, repr_socket_addr, wrap_app
from quart_trio import QuartTrio

from vvtv.observe.metrics import ChannelMetrics
from vvtv.web.app import live_streams, web_limits, web_metrics
from vvtv.web.limits import WebLimits

log = logging.getLogger(__name__)

# File descriptors kept free of client connections: the state database and its WAL, media
# and segment files being served, ffmpeg's pipes, the outbound HTTP clients.
FD_RESERVE = 64
REFUSE_TIMEOUT_S = 1.0
# Refusals answered at once (each holds its descriptor up to REFUSE_TIMEOUT_S); beyond
# that, a newcomer over the cap is closed without an answer.
MAX_REFUSING = 16
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"content-length: 57\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    b'{"error": "too many connections; try again in a moment"}\n'
)


def hypercorn_config(
    bind: str, *, limits: WebLimits | None = None, graceful_timeout: float = 3.0
) -> hypercorn.config.Config:
    """A quiet config (no access log; the app records request metrics) with ``limits``."""
    if not bind or ":" not in bind:
        raise ValueError(f"bind must be HOST:PORT, got {bind!r}")
    limits = limits or WebLimits()
    config = hypercorn.config.Config()
    config.bind = [bind]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.keep_alive_timeout = limits.keepalive_s
    config.h11_max_incomplete_size = limits.max_header_bytes
    config.h2_max_header_list_size = limits.max_header_bytes
    config.websocket_max_message_size = limits.ws_max_message_bytes
    # The app drains websocket messages as they come: a short queue is plenty.
    config.max_app_queue_size = 4
    # Hypercorn's errors through our handlers (vvtv.core.logs: JSON lines under systemd),
    # not a stderr handler of its own that would print text lines in between.
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def connection_cap(configured: int) -> int:
    """``configured``, or fewer if the file-descriptor limit leaves less room."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft - FD_RESERVE))


@attrs.define(eq=False)
class _Slot:
    scope: trio.CancelScope
    since: float  # when it became idle, or when its request started
    idle: bool = True
    connection: _Connection | None = None

    def waiting_on_client(self) -> bool:
        """Idle, or its request's body not all in: holding the slot for the client."""
        return self.idle or (self.connection is not None and self.connection.receiving_body())


class ConnectionGate:
    """The open connections, at most ``limit``: at the limit a newcomer takes the place of
    the connection waiting on its client the longest, or is refused when every one is busy
    being answered."""

    def __init__(self, limit: int, metrics: ChannelMetrics | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self._open: set[_Slot] = set()
        self._metrics = metrics

    def __len__(self) -> int:
        return len(self._open)

    def states(self) -> dict[str, int]:
        """How many connections are idle, receiving a request body, or being answered."""
        counts = {"idle": 0, "receiving_body": 0, "busy": 0}
        for slot in self._open:
            if slot.idle:
                counts["idle"] += 1
            elif slot.waiting_on_client():
                counts["receiving_body"] += 1
            else:
                counts["busy"] += 1
        return counts

    def enter(self) -> _Slot | None:
        if len(self._open) >= self.limit:
            waiting = [s for s in self._open if s.waiting_on_client()]
            if not waiting:
                self.count("connection_busy")
                return None
            oldest = min(waiting, key=lambda s: s.since)
            oldest.scope.cancel()
            self._open.discard(oldest)
            self.count("connection_evicted")
        slot = _Slot(trio.CancelScope(), trio.current_time())
        self._open.add(slot)
        self._gauge()
        return slot

    def set_idle(self, slot: _Slot, idle: bool) -> None:
        slot.idle, slot.since = idle, trio.current_time()

    def leave(self, slot: _Slot) -> None:
        self._open.discard(slot)
        self._gauge()

    def count(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.http_refused.labels(reason).inc()

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.http_connections.set(len(self._open))


class _MessageBuffer(WebsocketBuffer):
    """hypercorn's buffer for one websocket message, checked before it grows: over the
    limit it keeps nothing and tells ``on_overflow`` (once)."""

    def __init__(self, max_length: int, on_overflow: Callable[[], None]) -> None:
        super().__init__(max_length)
        self._on_overflow = on_overflow
        self.overflowed = False

    def extend(self, event: Any) -> None:
        if self.overflowed or self.length + len(event.data) > self.max_length:
            if not self.overflowed:
                self.overflowed = True
                self._on_overflow()
            raise FrameTooLargeError()
        super().extend(event)


class _H11(H11Protocol):
    """hypercorn's HTTP/1.1 without websocket compression and, unless ``h2c``, without the
    switch to HTTP/2: ``Upgrade: h2c`` is ignored (RFC 9110 lets a server ignore an
    upgrade) and ``PRI *`` (the HTTP/2 preface) is then an unknown method."""

    def __init__(
        self,
        *args: Any,
        h2c: bool,
        max_header_bytes: int,
        on_ws_overflow: Callable[[], None],
    ) -> None:
        super().__init__(*args)
        self._h2c = h2c
        self._max_header_bytes = max_header_bytes
        self._on_ws_overflow = on_ws_overflow

    async def _check_protocol(self, event: h11.Request) -> None:
        if self._h2c:
            await super()._check_protocol(event)

    async def _create_stream(self, request: h11.Request) -> None:
        # h11 bounds only a request still incomplete; one that arrives whole in a single
        # read (up to 64 KiB) is measured here.
        size = len(request.target) + sum(len(k) + len(v) + 4 for k, v in request.headers)
        if size > self._max_header_bytes:
            await self._refuse_headers(size)
            return
        headers = [(k, v) for k, v in request.headers if k != b"sec-websocket-extensions"]
        if len(headers) != len(request.headers):
            request = h11.Request(
                method=request.method,
                target=request.target,
                headers=headers,
                http_version=request.http_version,
            )
        await super()._create_stream(request)
        if isinstance(self.stream, WSStream):
            limit = self.config.websocket_max_message_size
            self.stream.buffer = _MessageBuffer(limit, self._on_ws_overflow)

    def receiving_body(self) -> bool:
        return self.connection.their_state is h11.SEND_BODY

    async def _refuse_headers(self, size: int) -> None:
        body = json.dumps(
            {"error": f"request headers of {size} bytes; at most {self._max_header_bytes}"}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await self._send_h11_event(h11.Response(status_code=431, headers=headers))
        await self._send_h11_event(h11.Data(data=body))
        await self._send_h11_event(h11.EndOfMessage())
        await self.send(Closed())


class _Connection(TCPServer):
    """hypercorn's connection handler for a plain TCP stream, with our HTTP/1.1 protocol,
    reporting idle and busy to the gate, and ended once a 1009 close frame is out."""

    def __init__(
        self, *args: Any, gate: ConnectionGate, slot: _Slot, h2c: bool, max_header_bytes: int
    ) -> None:
        super().__init__(*args)
        self._gate = gate
        self._slot = slot
        self._h2c = h2c
        self._max_header_bytes = max_header_bytes
        self._h11: _H11 | None = None
        self._abort_after_send = False

    def receiving_body(self) -> bool:
        """Whether the request in progress is still waiting for its body."""
        h11_protocol = self._h11
        return (
            h11_protocol is not None
            and self.protocol.protocol is h11_protocol
            and (h11_protocol.receiving_body())
        )

    async def protocol_send(self, event: Any) -> None:
        if isinstance(event, Updated):
            self._gate.set_idle(self._slot, event.idle)
        await super().protocol_send(event)
        if self._abort_after_send and isinstance(event, RawData):
            # That was the 1009 close frame: done with this client.
            self._slot.scope.cancel()

    def _ws_overflow(self) -> None:
        # hypercorn sends the 1009 close frame next; the connection ends once it is out.
        self._abort_after_send = True
        self._gate.count("ws_message_too_big")

    async def run(self) -> None:
        # TCPServer.run for a stream that is not TLS, with the protocol chosen here.
        try:
            socket = self.stream.socket  # a plain SocketStream: TLS is not terminated here
            client = parse_socket_addr(socket.family, socket.getpeername())
            server = parse_socket_addr(socket.family, socket.getsockname())
            async with TaskGroup() as task_group:
                self._task_group = task_group
                args = (
                    self.app,
                    self.config,
                    self.context,
                    task_group,
                    ConnectionState(self.state),
                    False,
                    client,
                    server,
                    self.protocol_send,
                )
                self.protocol = ProtocolWrapper(*args, alpn_protocol="http/1.1")
                self._h11 = _H11(
                    *args,
                    h2c=self._h2c,
                    max_header_bytes=self._max_header_bytes,
                    on_ws_overflow=self._ws_overflow,
                )
                self.protocol.protocol = self._h11
                await self.protocol.initiate()
                await self.idle_task.restart(self._task_group, self._idle_timeout)
                await self._read_data()
        except OSError:
            pass
        finally:
            await self._close()


async def _refuse(stream: trio.SocketStream) -> None:
    """Answer 503 and close; what the client sent meanwhile is read and dropped first (for
    up to ``REFUSE_TIMEOUT_S``), else closing over unread data resets the connection and
    the client may never see the answer."""
    with (
        trio.move_on_after(REFUSE_TIMEOUT_S),
        contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
    ):
        await stream.send_all(_BUSY)
        await stream.send_eof()
        while await stream.receive_some(65536):
            pass


async def serve(
    app: QuartTrio,
    bind: str,
    *,
    shutdown: trio.Event,
    limits: WebLimits | None = None,
    graceful_timeout: float = 3.0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown`` is set; ``task_status.started(url)`` with the bound URL.

    ``limits`` default to the app's own (``create_app(..., limits=)``)."""
    limits = limits or web_limits(app)
    config = hypercorn_config(bind, limits=limits, graceful_timeout=graceful_timeout)
    live_streams(app).reopen()
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    lifespan_state: dict = {}
    lifespan = Lifespan(wrapped, config, lifespan_state)
    context = WorkerContext(None)
    gate = ConnectionGate(connection_cap(limits.max_connections), web_metrics(app))
    app.extensions["vvtv.connections"] = gate

    refusing = 0

    async def handle(stream: trio.SocketStream) -> None:
        nonlocal refusing
        slot = gate.enter()
        if slot is None:
            if refusing < MAX_REFUSING:
                refusing += 1
                try:
                    await _refuse(stream)
                finally:
                    refusing -= 1
            return
        try:
            with slot.scope:
                slot.connection = connection = _Connection(
                    wrapped,
                    config,
                    context,
                    ConnectionState(lifespan_state.copy()),
                    stream,
                    gate=gate,
                    slot=slot,
                    h2c=limits.h2c,
                    max_header_bytes=limits.max_header_bytes,
                )
                await connection.run()
        finally:
            gate.leave(slot)

    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        async with trio.open_nursery() as server_nursery:
            sockets = config.create_sockets()
            listeners = []
            for sock in sockets.insecure_sockets:
                sock.listen(config.backlog)
                listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
            url = "http://" + repr_socket_addr(sock.family, sock.getsockname())
            log.info("serving %s; at most %d connections", url, gate.limit)
            task_status.started(url)
            try:
                async with trio.open_nursery() as accept_nursery:
                    accept_nursery.start_soon(
                        lambda: trio.serve_listeners(
                            handle, listeners, handler_nursery=server_nursery
                        )
                    )
                    await shutdown.wait()
                    live_streams(app).close()
                    accept_nursery.cancel_scope.cancel()
            finally:
                # As hypercorn: idle connections close at once, busy ones get the grace.
                await context.terminated.set()
                server_nursery.cancel_scope.deadline = trio.current_time() + graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()
