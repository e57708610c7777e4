"""The quart-trio application: signed control API, live websockets, HLS, the dashboard.

``create_app(port, verifier=...)`` builds the app over a ``ChannelPort``; it holds
no channel state of its own. The read endpoints are answered in front of quart, at
the ASGI layer (``reads.py``). Rules every route follows:

- every error is JSON ``{"error": ...}`` (plus ``errors`` for an invalid OwnerCard);
  bad input is a 4xx, never a 5xx;
- control calls are verified (SPEC §3) against the real body, size-limited (413),
  parsed strictly (400), validated (422) and audited through the port; a refused one is
  a 401 saying only that (the precise reason goes to the log and the audit, rate-limited:
  ``refusals.py``);
- HTTP requests are counted by route, method and status, and timed by route;
- in front of everything (ASGI middleware): the Host and websocket Origin checks
  (``hosts.py``), the request body deadline (``body.py``) and the security headers of
  every answer (``headers.py``); the limits are one ``WebLimits`` (``limits.py``);
- live websockets are capped in all and per client address (``live_clients.py``), and
  what a client sends on one is read and dropped.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Protocol

import trio
from quart import Response, g, request, send_file, websocket
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import WebsocketMismatch

from vvtv.core.signing import AuthError, Verifier
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.topics import DEFAULT_CHUNK, Pacer
from vvtv.web import audience
from vvtv.web.body import BodyDeadline
from vvtv.web.control import OUTPUTS, apply_control
from vvtv.web.headers import DASHBOARD_CSP, SecurityHeaders, page_headers
from vvtv.web.hosts import HostGuard
from vvtv.web.limits import WebLimits
from vvtv.web.live_clients import TRY_AGAIN_LATER, LiveClients
from vvtv.web.openapi import openapi_document
from vvtv.web.params import BadInput, check_segment
from vvtv.web.port import ChannelPort, PortUnavailable
from vvtv.web.reads import ReadEndpoints, dump_json, known_method
from vvtv.web.refusals import RefusalLimiter
from vvtv.web.tuner import TunerStream

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
TS_TYPE = "video/mp2t"
LIVE_TOPICS = ("buffer", "alerts", "runtime")
# Segment names are unique per asset and never rewritten: cache them hard.
SEGMENT_CACHE = "public, max-age=86400, immutable"
WS_GOING_AWAY = 1001
CONNECTION_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, trio.BusyResourceError)
CONTROL_PREFIX = "/v1/control/"
# One answer for every refused signature: which check failed is the operator's business.
UNAUTHORIZED = (
    "unauthorized: check the control token and secret, the clock (x-vvtv-ts within 300 s) "
    "and that the request is not a replay"
)


class Closable(Protocol):
    def close(self) -> None: ...


class LiveStreams:
    """The app's open live streams (websocket subscriptions, tuner streams), so shutdown
    can end them cleanly."""

    def __init__(self) -> None:
        self._subs: set[Closable] = set()
        self.closing = False

    def add(self, sub: Closable) -> None:
        self._subs.add(sub)

    def discard(self, sub: Closable) -> None:
        self._subs.discard(sub)

    def __len__(self) -> int:
        return len(self._subs)

    def reopen(self) -> None:
        """Accept live streams again (the app is being served anew after a shutdown)."""
        self.closing = False

    def close(self) -> None:
        """End every live stream: each handler sends a 1001 close frame and returns."""
        self.closing = True
        for sub in list(self._subs):
            sub.close()


def live_streams(app: QuartTrio) -> LiveStreams:
    """The ``LiveStreams`` of an app made by ``create_app``."""
    return app.extensions["vvtv.air.live"]


def web_limits(app: QuartTrio) -> WebLimits:
    """The ``WebLimits`` an app made by ``create_app`` is served with."""
    return app.extensions["vvtv.limits"]


def web_metrics(app: QuartTrio) -> ChannelMetrics:
    """The metrics an app made by ``create_app`` records into."""
    return app.extensions["vvtv.metrics"]


def _json(body: Any, status: int = 200) -> Response:
    return Response(dump_json(body), status=status, content_type=JSON_TYPE)


def _error(status: int, message: str, **extra: Any) -> Response:
    return _json({"error": message, **extra}, status)


def create_app(
    port: ChannelPort,
    *,
    verifier: Verifier,
    max_body_bytes: int = 64 * 1024,
    ws_chunk: int = DEFAULT_CHUNK,
    public_base_url: str | None = None,
    limits: WebLimits | None = None,
) -> QuartTrio:
    """The vvtv web app over ``port``; control calls are checked by ``verifier``.

    Live websocket handlers are woken ``ws_chunk`` at a time per update
    (``vvtv.observe.topics.Pacer``). ``public_base_url`` (``VVTV_PUBLIC_BASE_URL``) is
    where viewers and IPTV apps reach the channel; None = each request's own address.
    ``limits`` (``WebLimits.from_settings``; defaults when None) are what the app and
    ``serve`` hold clients to.
    """
    limits = limits or WebLimits()
    if max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
    refusals = RefusalLimiter()
    app = QuartTrio(__name__, static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.config["JSON_SORT_KEYS"] = False
    # No redirects that rewrite paths (//a -> /a): a path either matches a route or is a 404.
    app.url_map.merge_slashes = False
    live = LiveStreams()
    app.extensions["vvtv.air.live"] = live
    # One pacer for all live streams of this app: it runs while the app is served.
    pacer = Pacer(ws_chunk)
    app.extensions["vvtv.pacer"] = pacer
    metrics = port.metrics
    app.extensions["vvtv.limits"] = limits
    app.extensions["vvtv.metrics"] = metrics
    clients = LiveClients(limits.ws_max_clients, limits.ws_max_clients_per_address)
    app.extensions["vvtv.live_clients"] = clients
    # Hot read endpoints are answered before quart sees the request (see reads.py).
    reads = ReadEndpoints(app.asgi_app, port, dump_json(openapi_document(max_body_bytes)))
    # The tuner's endless MPEG-TS stream owns its whole exchange too (see tuner.py).
    tuner = TunerStream(reads, port, live)
    # Quart's documented middleware hook; quart types asgi_app as its own bound method.
    guarded = HostGuard(
        BodyDeadline(
            SecurityHeaders(tuner),
            limits.read_timeout_s,
            on_timeout=lambda: metrics.http_refused.labels("body_timeout").inc(),
        ),
        limits.hosts,
        on_refused=lambda reason: metrics.http_refused.labels(reason).inc(),
    )
    app.asgi_app = guarded  # type: ignore[method-assign,assignment]
    app.extensions["vvtv.reads"] = reads
    app.extensions["vvtv.tuner"] = tuner
    audience.register(app, port, public_base_url=public_base_url)

    # ---- live fan-out pacing ---------------------------------------------------------

    @app.before_serving
    async def _start_pacer() -> None:
        app.nursery.start_soon(pacer.run)

    @app.after_serving
    async def _stop_pacer() -> None:
        # Else quart-trio's lifespan nursery would wait 5 s for it before cancelling.
        pacer.stop()

    # ---- request metrics and errors -------------------------------------------------

    @app.before_request
    async def _start_timer() -> None:
        g.vvtv_t0 = time.perf_counter()

    @app.after_request
    async def _record(response: Response) -> Response:
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        method = known_method(request.method)
        metrics.http_requests.labels(route, method, str(response.status_code)).inc()
        started = g.get("vvtv_t0")
        if started is not None:
            metrics.http_seconds.labels(route).observe(time.perf_counter() - started)
        return response

    @app.errorhandler(BadInput)
    async def _bad_input(exc: BadInput) -> Response:
        return _error(exc.status, exc.message, **exc.extra)

    @app.errorhandler(PortUnavailable)
    async def _unavailable(exc: PortUnavailable) -> Response:
        return _error(503, str(exc) or "unavailable, try again")

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 413:
            if request.path.startswith(CONTROL_PREFIX):
                await refuse("body_too_large", f"body over {max_body_bytes} bytes")
            response = _error(413, f"request body larger than {max_body_bytes} bytes")
            # The rest of the body is still on the wire, unread: this connection cannot
            # carry another request (the client's next one would hang behind it).
            response.headers["Connection"] = "close"
            return response
        if isinstance(exc, WebsocketMismatch):
            # A plain request to a websocket route: say what it takes (RFC 9110 §15.5.22).
            response = _error(426, "upgrade required: this route is a websocket")
            response.headers["Upgrade"] = "websocket"
            response.headers["Connection"] = "Upgrade"
            return response
        message = {404: "not found", 405: "method not allowed"}.get(status)
        response = _error(status, message or (exc.description or exc.name).rstrip("."))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            # RFC 9110 §15.5.6: a 405 lists the methods the route does answer.
            response.headers["Allow"] = ", ".join(sorted(set(exc.valid_methods)))
        if request.content_length or "transfer-encoding" in request.headers:
            # Refused before its body was read: on a kept-alive connection hypercorn then
            # waits for that body forever and the client's next request hangs behind it
            # (schemathesis found it: a 200, a 405 with a body, then anything). Close it.
            response.headers["Connection"] = "close"
        return response

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        # A bug or a port failure, not the client's fault: log it, never leak details.
        log.error("unhandled error in a web handler", exc_info=exc)
        return _error(500, "internal error")

    # ---- HLS segments (the playlist is a read endpoint) ------------------------------

    @app.get("/live/seg/<asset_id>/<name>")
    async def live_segment(asset_id: str, name: str) -> Response:
        check_segment(asset_id, name)
        path = port.segment_path(asset_id, name)
        if path is None or not await trio.Path(path).is_file():
            raise BadInput(404, "segment not found")
        response = await send_file(path, mimetype=TS_TYPE, conditional=True)
        response.headers["Cache-Control"] = SEGMENT_CACHE
        return response

    # ---- dashboard ---------------------------------------------------------------------

    @app.get("/")
    async def dashboard() -> Response:
        response = await app.send_static_file("index.html")
        # The page may hold the control secret: only its own scripts, styles and origin.
        response.headers.update(page_headers(DASHBOARD_CSP))
        return response

    # ---- signed control endpoints ------------------------------------------------------

    async def refuse(kind: str, reason: str) -> None:
        """Count a refused control call; log and audit it unless its kind is flooding."""
        metrics.control_refused.labels(kind).inc()
        suppressed = refusals.admit(kind, port.now().timestamp())
        if suppressed is None:
            return
        client = request.remote_addr or "unknown"
        action = request.path.removeprefix(CONTROL_PREFIX)[:64]
        log.warning(
            "refused control call %s %s from %s: %s (%d more like it not logged)",
            request.method,
            request.path[:128],
            client,
            reason,
            suppressed,
        )
        # Never a header's value: no token, no signature, not even their fingerprints.
        details = {"method": request.method, "kind": kind, "reason": reason}
        await port.audit_refusal(client, action, {**details, "suppressed": suppressed})

    async def authenticated_body() -> tuple[bytes, str]:
        """The verified raw body and who sent it; 413 / 401 otherwise."""
        # raises 413 past MAX_CONTENT_LENGTH
        body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
        try:
            verifier.verify(
                request.method, request.path, request.headers, body, port.now().timestamp()
            )
        except AuthError as exc:
            await refuse(exc.kind, exc.reason)
            raise BadInput(401, UNAUTHORIZED) from None
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
        return body, f"token:{fingerprint}@{request.remote_addr or 'unknown'}"

    async def control(kind: str) -> Response:
        body, who = await authenticated_body()
        reply = await apply_control(port, kind, body, who)
        return _json(reply.body, reply.status)

    # One route per call (each is its own rule in the metrics and the OpenAPI document);
    # what they do is vvtv.web.control, shared with the commands relayed by the edge.
    @app.post("/v1/control/reload-owner-card")
    async def reload_owner_card() -> Response:
        return await control("reload-owner-card")

    @app.post("/v1/control/emergency-mode")
    async def emergency_mode() -> Response:
        return await control("emergency-mode")

    @app.post("/v1/control/curator-mode")
    async def curator_mode() -> Response:
        return await control("curator-mode")

    @app.post("/v1/control/nightly")
    async def nightly() -> Response:
        return await control("nightly")

    @app.post("/v1/control/outputs/<name>")
    async def output_switch(name: str) -> Response:
        return await control(f"{OUTPUTS}{name}")

    # ---- live websockets ---------------------------------------------------------------

    @app.websocket("/v1/ws/<topic>")
    async def live_stream(topic: str) -> None:
        # Refused before accept: the client sees an HTTP error, not a socket.
        if topic not in LIVE_TOPICS or topic not in port.topics:
            raise BadInput(404, f"unknown live topic {topic!r}")
        if live.closing:
            raise BadInput(503, "server shutting down")
        address = websocket.remote_addr or "unknown"
        refused = clients.admit(address)
        if refused is not None:
            # Accepted to be closed at once: a browser shows a close reason to the page,
            # never the body of a refused handshake.
            kind, reason = refused
            metrics.http_refused.labels(kind).inc()
            await websocket.accept()
            await websocket.close(TRY_AGAIN_LATER, reason)
            return
        try:
            await _live_stream(topic)
        finally:
            clients.leave(address)

    async def _live_stream(topic: str) -> None:
        # Subscribe before accepting: whatever is published once the client sees the
        # handshake complete is already queued for it (no lost first update).
        sub = port.topics.subscribe(topic, pacer=pacer)
        live.add(sub)
        gauge = metrics.websocket_clients.labels(topic)
        gauge.inc()
        try:
            await websocket.accept()
            send = websocket.send
            gone = False
            async with trio.open_nursery() as nursery:
                # A live stream only talks: what the client says is read and dropped, so
                # it never queues up in the server (hypercorn closes a message over
                # ws_max_message_bytes with 1009 before it is even buffered whole).
                nursery.start_soon(_drop_client_messages)
                while True:
                    try:
                        frame = await sub.receive()
                    except trio.EndOfChannel:
                        break
                    try:
                        await send(frame)
                    except CONNECTION_GONE:
                        # The server tore the connection down under this send (the client
                        # broke the protocol): hypercorn closes the socket while a frame is
                        # on its way, and the send fails as "busy" or "broken".
                        gone = True
                        break
                nursery.cancel_scope.cancel()
            if not gone:
                await websocket.close(WS_GOING_AWAY, "server shutting down")
        finally:
            gauge.dec()
            live.discard(sub)
            sub.close()
            if sub.skipped_total:
                metrics.websocket_skipped.labels(topic).inc(sub.skipped_total)

    async def _drop_client_messages() -> None:
        while True:
            await websocket.receive()

    return app
