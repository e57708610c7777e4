"""Which names the channel answers to, and which pages may open its live websockets.

Two browser attacks, two checks, both before any route runs (``HostGuard``):

- **DNS rebinding.** A page on ``evil.example`` re-points its own name at the channel's
  address and then reads the channel as "same origin". Its requests still carry
  ``Host: evil.example``: a request is answered only when its Host is a name the channel
  is known by (``HostPolicy.host_allowed``): ``localhost``, the bind address, the names of
  ``VVTV_PUBLIC_BASE_URL`` and ``VVTV_API_URL``, the names in ``VVTV_PUBLIC_HOSTS``, or any
  IP address literal
  (a rebinding attack always carries the attacker's *name*; a page whose origin is the
  channel's own IP address is the channel's own page, and this is what lets LAN players
  and HDHomeRun clients reach ``http://192.168.1.20:7070`` with no configuration). Any
  other Host is a 421 with a JSON error saying which variable to set.
- **Cross-site websockets.** Browsers do not apply CORS to websockets: any page the
  operator visits could open ``ws://127.0.0.1:7070/v1/ws/runtime`` and read the live state.
  A websocket handshake is accepted only without an ``Origin`` (not a browser), from the
  channel's own origin (the Origin's host and port are the request's Host, or ``localhost``,
  127.0.0.1, [::1] or the bind address on the server's port), or from an origin listed in
  ``VVTV_ALLOWED_ORIGINS``; anything else is a 403 before the handshake completes.

A Host header that is not a DNS name or an IP address (with an optional port) is a 400:
the framework cannot even build a request from some (a label over 63 characters made
quart raise while IDNA-encoding it), and none is a name the channel is known by.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from vvtv.core.hostnames import (
    DEFAULT_PORTS,
    LOOPBACK_NAMES,
    is_ip,
    normal_name,
    parse_origin,
    split_host,
)

__all__ = ["HostGuard", "HostPolicy", "parse_origin", "split_host"]


@attrs.frozen
class HostPolicy:
    """The names the channel is known by and the extra origins its websockets accept.

    ``names``: host names besides the built-in ones (``VVTV_PUBLIC_HOSTS``, the bind host,
    the public base URL's host); ``origins``: normalised ``scheme://host:port`` strings
    (``VVTV_ALLOWED_ORIGINS``). An empty policy still answers ``localhost`` and any IP.
    """

    names: frozenset[str] = frozenset()
    origins: frozenset[tuple[str, str, int]] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        bind_host: str = "127.0.0.1",
        public_hosts: Iterable[str] = (),
        public_base_url: str | None = None,
        allowed_origins: Iterable[str] = (),
    ) -> HostPolicy:
        """From the settings' values; ``ValueError`` naming what is malformed."""
        names = set()
        for raw in (bind_host, *(h for h in public_hosts if h)):
            name = normal_name(raw)
            if name is None:
                raise ValueError(f"not a host name or IP address: {raw!r}")
            names.add(name)
        if public_base_url:
            origin = parse_origin(_origin_part(public_base_url))
            if origin is None:
                raise ValueError(f"not an http(s) base URL: {public_base_url!r}")
            names.add(origin[1])
        origins = set()
        for raw in allowed_origins:
            parsed = parse_origin(raw)
            if parsed is None:
                raise ValueError(f"not an origin (scheme://host[:port]): {raw!r}")
            origins.add(parsed)
        # 0.0.0.0 and :: are where the server listens, not names anyone reaches it by.
        names -= {"0.0.0.0", "::"}
        return cls(frozenset(names), frozenset(origins))

    def host_allowed(self, name: str) -> bool:
        """Whether a request whose Host is ``name`` (normalised) is answered."""
        return name in LOOPBACK_NAMES or name in self.names or is_ip(name)

    def origin_allowed(self, origin: str, host: tuple[str, int | None], server_port: int) -> bool:
        """Whether a websocket opened from page ``origin`` is accepted, for a request whose
        (allowed) Host is ``host`` and that reached the server's ``server_port``."""
        parsed = parse_origin(origin)
        if parsed is None:
            return False
        if parsed in self.origins:
            return True
        scheme, name, port = parsed
        host_name, host_port = host
        if name == host_name and port == (host_port or DEFAULT_PORTS[scheme]):
            return True  # the page came from where this request went: same origin
        return port == server_port and (name in LOOPBACK_NAMES or name in self.names)


class HostGuard:
    """ASGI middleware: refuses a request whose Host or (websocket) Origin is not allowed.

    A malformed Host is a 400, an unknown one a 421, a foreign websocket Origin a 403: each
    a JSON ``{"error": ...}`` answered before any route runs (a websocket's refusal is an
    HTTP answer to its handshake where the server supports that, else a 1008 close).
    ``on_refused(reason)`` is told each refusal (for the metrics).
    """

    def __init__(self, inner: Any, policy: HostPolicy, on_refused: Any = None) -> None:
        self._inner = inner
        self.policy = policy
        self._on_refused = on_refused

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self._inner(scope, receive, send)
            return
        headers = _headers(scope, (b"host", b"origin"))
        refusal = self._check(scope, headers)
        if refusal is None:
            await self._inner(scope, receive, send)
            return
        status, reason, message = refusal
        if self._on_refused is not None:
            self._on_refused(reason)
        await _refuse(scope, send, status, message)

    def _check(self, scope: dict, headers: dict[bytes, str]) -> tuple[int, str, str] | None:
        raw_host = headers.get(b"host")
        host: tuple[str, int | None] | None = None
        if raw_host is not None:
            host = split_host(raw_host)
            if host is None:
                return 400, "malformed_host", "malformed Host header"
            if not self.policy.host_allowed(host[0]):
                return (
                    421,
                    "unknown_host",
                    f"this channel does not answer to the name {host[0][:100]!r}; if it is "
                    "reached by that name, add it to VVTV_PUBLIC_HOSTS",
                )
        origin = headers.get(b"origin")
        if scope["type"] == "websocket" and origin is not None:
            server_port = (scope.get("server") or ("", 0))[1] or 0
            where = host or ("", None)
            if not self.policy.origin_allowed(origin, where, server_port):
                return (
                    403,
                    "foreign_origin",
                    f"websocket from origin {origin[:100]!r} refused: only the channel's own "
                    "pages and VVTV_ALLOWED_ORIGINS may open live streams",
                )
        return None


async def _refuse(scope: dict, send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in (scope.get("extensions") or {}):
        start = {"type": "websocket.http.response.start", "status": status, "headers": headers}
        await send(start)
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


def _headers(scope: dict, names: tuple[bytes, ...]) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in scope.get("headers", ()):
        if name in names and name not in found:
            found[name] = value.decode("latin-1")
    return found


def _origin_part(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.split("/", 1)[0]
