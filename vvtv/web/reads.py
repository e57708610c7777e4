"""The read endpoints, answered straight at the ASGI layer.

Dashboards, soak runs and Prometheus poll these all day, so they skip the framework:
quart's request context, hooks and response objects cost about half the throughput of
a bare ASGI app on this stack (ops/bench/api.py measures both). Each handler is a
plain async function ``(port, query) -> Reply``; ``ReadEndpoints`` routes by exact
path, validates, records the request metrics and sends the answer. Everything it does
not know (control calls, segments, the dashboard, websockets) goes to quart.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from vvtv.core import offload
from vvtv.iptv.guide import public_status as public_status_view
from vvtv.observe.metrics import CONTENT_TYPE as METRICS_TYPE
from vvtv.web.params import BadInput, parse_day, parse_plans_query, parse_week
from vvtv.web.port import ChannelPort

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
M3U8_TYPE = "application/vnd.apple.mpegurl"

Headers = tuple[tuple[bytes, bytes], ...]
PUBLIC_HEADERS: Headers = ((b"cache-control", b"no-cache"), (b"x-content-type-options", b"nosniff"))
# Label values must stay few: any other method a client invents is counted as OTHER.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def known_method(method: str) -> str:
    return method if method in METHODS else "OTHER"


class Reply:
    """A finished answer: status, body bytes, content type and extra headers."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self, status: int, body: bytes, content_type: str = JSON_TYPE, headers: Headers = ()
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


def _default_json(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    return str(value)


def dump_json(value: Any) -> bytes:
    """Compact JSON; datetimes and dates as ISO strings, anything else odd as ``str``."""
    return json.dumps(value, separators=(",", ":"), default=_default_json).encode()


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(status, dump_json(value))


def error_reply(status: int, message: str, **extra: Any) -> Reply:
    return Reply(status, dump_json({"error": message, **extra}))


Query = Mapping[str, str]
Handler = Callable[[ChannelPort, Query], Awaitable[Reply]]


async def status(port: ChannelPort, query: Query) -> Reply:
    return json_reply(port.status())


async def public_status(port: ChannelPort, query: Query) -> Reply:
    # What viewers poll (the watch page): titles and times only, see vvtv.iptv.guide.
    channel = port.channel_info()
    body = public_status_view(port.now(), port.queue(), channel, channel.logo(""))
    return Reply(200, dump_json(body), headers=PUBLIC_HEADERS)


async def queue(port: ChannelPort, query: Query) -> Reply:
    items = port.queue()
    return json_reply({"count": len(items), "items": items})


async def plans(port: ChannelPort, query: Query) -> Reply:
    state, limit, offset = parse_plans_query(
        query.get("state"), query.get("limit"), query.get("offset")
    )
    page = await port.plans(state, limit, offset)
    return json_reply({"limit": limit, "offset": offset, **page})


async def daily_report(port: ChannelPort, query: Query) -> Reply:
    day = parse_day(query.get("date"))
    report = await port.daily_report(day)
    if report is None:
        return error_reply(404, f"no daily report for {day.isoformat()}")
    return json_reply(report)


async def weekly_report(port: ChannelPort, query: Query) -> Reply:
    week = parse_week(query.get("week"))
    report = await port.weekly_report(week)
    if report is None:
        return error_reply(404, f"no weekly report for {week}")
    return json_reply(report)


async def alerts(port: ChannelPort, query: Query) -> Reply:
    active = port.alerts()
    return json_reply(
        {
            "count": len(active),
            "alerts": active,
            "inhibited": sum(1 for a in active if a.get("inhibited_by")),
            "startup_grace_until": port.alerts_grace_until(),
        }
    )


async def outputs(port: ChannelPort, query: Query) -> Reply:
    items = port.outputs()
    return json_reply({"count": len(items), "outputs": items})


async def runtime(port: ChannelPort, query: Query) -> Reply:
    return json_reply(port.runtime_snapshot())


async def prometheus(port: ChannelPort, query: Query) -> Reply:
    # prometheus-client spends ~12 us a sample: 5-15 ms for our ~400, in one step. In a
    # worker thread the event loop gets the GIL back every switch interval (5 ms) instead.
    return Reply(200, await offload.run_sync(port.metrics.render), METRICS_TYPE)


async def healthz(port: ChannelPort, query: Query) -> Reply:
    return json_reply({"status": "ok"})


async def readyz(port: ChannelPort, query: Query) -> Reply:
    checks = port.readiness()
    ready = bool(checks) and all(checks.values())
    return json_reply({"ready": ready, "checks": checks}, 200 if ready else 503)


LIVE_HEADERS: Headers = ((b"cache-control", b"no-cache"),)
# A lower rung's playlist: /live/480p.m3u8 (``Rendition.name``).
RUNG_ROUTE = "/live/<rendition>.m3u8"
_RUNG_PATH = re.compile(r"/live/([0-9]{3,4}p)\.m3u8")


async def live_playlist(port: ChannelPort, query: Query) -> Reply:
    return Reply(200, port.live_playlist().encode(), M3U8_TYPE, LIVE_HEADERS)


async def live_master(port: ChannelPort, query: Query) -> Reply:
    text = port.live_master()
    if not text:
        return error_reply(503, "the channel has no live window yet, try again")
    return Reply(200, text.encode(), M3U8_TYPE, LIVE_HEADERS)


def rung_playlist(name: str) -> Handler:
    async def answer(port: ChannelPort, query: Query) -> Reply:
        text = port.live_rung(name)
        if text is None:
            return error_reply(404, f"the channel has no rendition {name}")
        return Reply(200, text.encode(), M3U8_TYPE, LIVE_HEADERS)

    return answer


READ_ROUTES: dict[str, Handler] = {
    "/v1/status": status,
    "/v1/public/status": public_status,
    "/v1/queue": queue,
    "/v1/plans": plans,
    "/v1/reports/daily": daily_report,
    "/v1/reports/weekly": weekly_report,
    "/v1/alerts": alerts,
    "/v1/outputs": outputs,
    "/v1/runtime": runtime,
    "/metrics": prometheus,
    "/healthz": healthz,
    "/readyz": readyz,
    "/live/index.m3u8": live_playlist,
    "/live/master.m3u8": live_master,
}


def _query(raw: bytes) -> dict[str, str]:
    # Like werkzeug's request.args.get: UTF-8 with replacement, first value wins.
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        query.setdefault(key, value)
    return query


class ReadEndpoints:
    """ASGI middleware: answers ``READ_ROUTES`` (+ ``/openapi.json``) itself, passes the rest on."""

    def __init__(self, inner: Any, port: ChannelPort, openapi_json: bytes) -> None:
        self._inner = inner
        self._port = port
        self._metrics = port.metrics
        openapi_reply = Reply(200, openapi_json)

        async def openapi(port: ChannelPort, query: Query) -> Reply:
            return openapi_reply

        self._routes: dict[str, Handler] = {**READ_ROUTES, "/openapi.json": openapi}
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path answered here, as the OpenAPI document names them."""
        return (*self._routes, RUNG_ROUTE.replace("<", "{").replace(">", "}"))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        route = scope.get("path", "")
        handler = self._routes.get(route) if scope["type"] == "http" else None
        if handler is None and scope["type"] == "http" and (rung := _RUNG_PATH.fullmatch(route)):
            # One metrics label for every rung path asked for, existing or not.
            handler, route = rung_playlist(rung.group(1)), RUNG_ROUTE
        if handler is None:
            await self._inner(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            reply = error_reply(405, "method not allowed")
        else:
            reply = await self._answer(handler, scope)
        headers = [
            (b"content-type", reply.content_type.encode()),
            (b"content-length", str(len(reply.body)).encode()),
            *reply.headers,
        ]
        if reply.status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        body = b"" if method == "HEAD" else reply.body
        await send({"type": "http.response.body", "body": body})
        self._record(route, known_method(method), reply.status, time.perf_counter() - started)

    async def _answer(self, handler: Handler, scope: dict) -> Reply:
        try:
            return await handler(self._port, _query(scope.get("query_string", b"")))
        except BadInput as exc:
            return error_reply(exc.status, exc.message, **exc.extra)
        except Exception:
            # The port failed (a bug, or the channel is in trouble): say so without details.
            log.exception("read endpoint %s failed", scope.get("path"))
            return error_reply(500, "internal error")

    def _record(self, route: str, method: str, status: int, seconds: float) -> None:
        # Cache the labelled children: .labels() costs more than the increment itself.
        key = (route, method, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._metrics.http_requests.labels(route, method, str(status))
            self._counters[key] = counter
        counter.inc()
        timer = self._timers.get(route)
        if timer is None:
            timer = self._timers[route] = self._metrics.http_seconds.labels(route)
        timer.observe(seconds)
