"""The tuner's continuous MPEG-TS stream (``/iptv/channel.ts``), answered at the ASGI layer.

HDHomeRun clients (Plex, Jellyfin, Emby) read one endless MPEG-TS stream. It is the
live playlist's segments sent back to back as they appear (``vvtv.iptv.stream``), from
two segments behind the live edge, rewritten onto one continuous timeline by the same
rebaser the push outputs use (``vvtv.outputs.rebase``): an item change is no timestamp
reset for the client's demuxer. At most ``tuners`` streams run at once (the HDHomeRun
``TunerCount``): one more is refused with 503, as a busy tuner is.

Why ASGI and not a quart route: a stream must end the moment its viewer leaves, and
free its tuner whatever happened. Here the handler owns the whole exchange: it listens
for the client's disconnect while it sends, and its ``finally`` always releases the
tuner (a framework response body that never started would never release it). Streams
end at shutdown like the live websockets (``LiveStreams.close``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import trio

from vvtv.core import offload
from vvtv.iptv.hdhomerun import TUNER_COUNT
from vvtv.iptv.stream import live_segments, to_send
from vvtv.outputs.rebase import Rebaser
from vvtv.web.params import BadInput, check_segment
from vvtv.web.port import ChannelPort
from vvtv.web.reads import dump_json, known_method

log = logging.getLogger(__name__)

TS_TYPE = b"video/mp2t"
POLL_S = 1.0
"""How often a stream looks for a new segment (segments are seconds long)."""


class _Stream:
    """One running stream; ``close()`` ends it (at shutdown)."""

    def __init__(self) -> None:
        self.scope = trio.CancelScope()

    def close(self) -> None:
        self.scope.cancel()


class TunerStream:
    """ASGI middleware: answers ``path`` with the live MPEG-TS stream, passes the rest on."""

    def __init__(
        self,
        inner: Any,
        port: ChannelPort,
        live: Any,
        *,
        path: str = "/iptv/channel.ts",
        tuners: int = TUNER_COUNT,
        poll_s: float = POLL_S,
    ) -> None:
        self._inner = inner
        self._port = port
        self._live = live  # vvtv.web.app.LiveStreams: refuses new streams, ends them at shutdown
        self.path = path
        self.tuners = tuners
        self.poll_s = poll_s
        self.active = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await self._inner(scope, receive, send)
            return
        method = scope["method"]
        started = time.perf_counter()
        status = 200
        try:
            if method not in ("GET", "HEAD"):
                status = 405
                await _refuse(send, 405, "method not allowed", (b"allow", b"GET, HEAD"))
            elif self._live.closing:
                status = 503
                await _refuse(send, 503, "server shutting down")
            elif self.active >= self.tuners:
                status = 503
                message = f"all {self.tuners} tuners are busy"
                await _refuse(send, 503, message, (b"retry-after", b"10"))
            else:
                await self._stream(method, receive, send)
        finally:
            metrics = self._port.metrics
            metrics.http_requests.labels(self.path, known_method(method), str(status)).inc()
            metrics.http_seconds.labels(self.path).observe(time.perf_counter() - started)

    async def _stream(self, method: str, receive: Any, send: Any) -> None:
        self.active += 1
        stream = _Stream()
        self._live.add(stream)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", TS_TYPE),
                        (b"cache-control", b"no-store"),
                        (b"x-content-type-options", b"nosniff"),
                    ],
                }
            )
            if method == "GET":
                with stream.scope:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
                        await self._pump(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self._live.discard(stream)
            self.active -= 1

    async def _pump(self, send: Any) -> None:
        last: int | None = None
        rebaser = Rebaser()  # one timeline per viewer, from the first segment it is sent
        while True:
            for segment in to_send(live_segments(self._port.live_playlist()), last):
                last = segment.sequence
                data = await self._read(segment.asset_id, segment.name)
                if data:
                    data = await offload.run_sync(rebaser.rebase, data)
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            await trio.sleep(self.poll_s)

    async def _read(self, asset_id: str, name: str) -> bytes:
        try:
            check_segment(asset_id, name)
        except BadInput:
            return b""
        path = self._port.segment_path(asset_id, name)
        if path is None:
            return b""
        try:
            return await trio.Path(path).read_bytes()
        except OSError as exc:
            # Pruned between the playlist and the read: skip it, the stream goes on.
            log.warning("tuner stream: segment %s/%s unreadable: %s", asset_id, name, exc)
            return b""


async def _until_disconnect(receive: Any, scope: trio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def _refuse(send: Any, status: int, message: str, *extra: tuple[bytes, bytes]) -> None:
    body = dump_json({"error": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
