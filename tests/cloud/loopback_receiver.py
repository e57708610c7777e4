"""A real HTTP receiver on 127.0.0.1 that records what it got and fails on demand.

It stands in for what lies outside the machine (the cloud ingest API, a webhook
endpoint). It runs under hypercorn inside the test's own Trio run, so it shares
the test's (mock) clock: a "slow" answer is a ``trio.sleep`` that autojump
skips, and "down" really closes the listening socket (connection refused) until
``up()`` binds the same port again.

Modes, consumed in order from ``script`` (then ``default``): ``"ok"`` (200),
an integer status (500, 429, 400, ...), ``("slow", seconds)`` then 200,
``("retry-after", seconds)``: 503 with ``Retry-After: seconds``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import Any

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

Mode = str | int | tuple[str, float]


@attrs.frozen
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # trio.current_time() when the request arrived
    answered: int

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.requests: list[Received] = []  # every answered request, whatever the answer
        self.arrived = 0  # requests whose body was read, answered or still being held
        self.script: deque[Mode] = deque()
        self.default: Mode = "ok"
        self.port = 0
        self._stop: trio.Event | None = None
        self._stopped: trio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx: what the receiver actually took in."""
        return [r for r in self.requests if 200 <= r.answered < 300]

    def then(self, *modes: Mode) -> None:
        self.script.extend(modes)

    def answer_always(self, mode: Mode) -> None:
        self.script.clear()
        self.default = mode

    async def up(self) -> None:
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.graceful_timeout = 0.1
        self._stop = trio.Event()
        self._stopped = trio.Event()
        binds = await self._nursery.start(self._serve, config, self._stop, self._stopped)
        self.port = int(binds[0].rsplit(":", 1)[1])

    async def down(self) -> None:
        """Stop listening: clients now get connection refused."""
        assert self._stop is not None and self._stopped is not None
        self._stop.set()
        await self._stopped.wait()

    async def _serve(
        self,
        config: Config,
        stop: trio.Event,
        stopped: trio.Event,
        task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            await serve(self._app, config, shutdown_trigger=stop.wait, task_status=task_status)
        finally:
            stopped.set()

    def _next_mode(self) -> Mode:
        return self.script.popleft() if self.script else self.default

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        arrived = trio.current_time()
        self.arrived += 1
        mode = self._next_mode()
        status = 200
        extra: list[tuple[bytes, bytes]] = []
        if isinstance(mode, tuple) and mode[0] == "retry-after":
            status = 503
            extra.append((b"retry-after", f"{mode[1]:g}".encode()))
        elif isinstance(mode, tuple):
            await trio.sleep(mode[1])
        elif isinstance(mode, int):
            status = mode
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(
            Received(scope["method"], scope["path"], headers, body, arrived, status)
        )
        reply = json.dumps({"ok": status < 300}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), *extra],
            }
        )
        await send({"type": "http.response.body", "body": reply})


async def start_receiver(nursery: trio.Nursery, modes: Iterable[Mode] = ()) -> Receiver:
    receiver = Receiver(nursery)
    receiver.then(*modes)
    await receiver.up()
    return receiver
