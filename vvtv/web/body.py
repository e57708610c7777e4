"""ASGI middleware: a request body must arrive in time, or the request is a 408.

hypercorn closes a connection that sits idle before its request's headers are complete
(``keep_alive_timeout``), but once the headers are in it waits for the body for ever: a
client that announces ``Content-Length: 65536`` and sends a byte a minute holds a
connection (and a file descriptor) for weeks. ``BodyDeadline`` gives the whole body
``seconds`` from the moment the app first asks for it; past that the app is cancelled
and the client gets a JSON 408 with ``Connection: close`` (hypercorn then closes the
connection, the rest of the body unread). A request whose body is complete, or that has
none, is not affected: the app may wait on ``receive`` as long as it likes (that is how
it learns of a disconnect).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio


class BodyDeadline:
    def __init__(
        self, inner: Any, seconds: float, on_timeout: Callable[[], None] | None = None
    ) -> None:
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self._inner = inner
        self.seconds = seconds
        self._on_timeout = on_timeout

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        deadline: float | None = None
        complete = False
        timed_out = False
        started = False

        async def timed_receive() -> dict:
            nonlocal deadline, complete, timed_out
            if complete:
                return await receive()
            if deadline is None:
                deadline = trio.current_time() + self.seconds
            with trio.move_on_at(deadline):
                message: dict = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    complete = True
                return message
            timed_out = True
            request_scope.cancel()
            await trio.lowlevel.checkpoint()  # raises Cancelled: the app stops here
            raise AssertionError("unreachable: the request's scope is cancelled")

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with trio.CancelScope() as request_scope:
            await self._inner(scope, timed_receive, tracking_send)
        if timed_out:
            if self._on_timeout is not None:
                self._on_timeout()
            if not started:
                await _request_timeout(send, self.seconds)


async def _request_timeout(send: Any, seconds: float) -> None:
    body = b'{"error": "request body not received within %g s of its headers"}' % seconds
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})
