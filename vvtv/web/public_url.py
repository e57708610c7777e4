"""The absolute address viewers and IPTV apps reach the channel at.

M3U playlists, the XMLTV guide and the HDHomeRun lineup hold absolute URLs. They come
from ``VVTV_PUBLIC_BASE_URL`` when it is set (the name a reverse proxy or a public
address serves), otherwise from the request itself: its scheme and ``Host`` header.

The Host header is the client's word. A hostile one cannot reach anyone else through
these answers (they go back to that client, marked ``Vary: Host`` and not cached by
shared caches), but it must not break out of a URL: it is checked to be a plain host
name, IPv4 or bracketed IPv6 address with an optional port, else the request is a 400.
Forwarded headers (``X-Forwarded-Host``/``-Proto``) are not trusted: behind a proxy, set
``VVTV_PUBLIC_BASE_URL``. This is the one place that decides the base URL, so a host
allowlist (``VVTV_PUBLIC_HOSTS``) belongs here too.
"""

from __future__ import annotations

import re
from typing import Any

from vvtv.web.params import BadInput

# DNS labels (underscores too: container hosts have them), IPv4, or bracketed IPv6.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?")
# Only what answers built from the Host header need: private to the client that asked.
HOST_DERIVED = {"Vary": "Host", "Cache-Control": "private, no-cache"}
CONFIGURED = {"Cache-Control": "no-cache"}


def base_url(configured: str | None, scheme: str, host: str) -> str:
    """``configured`` (already validated by Settings), else ``scheme://host`` (the request's
    Host header); 400 if that is missing or malformed."""
    if configured:
        return configured
    if not host or len(host) > 261 or not _HOST.fullmatch(host):
        raise BadInput(400, "missing or malformed Host header (set VVTV_PUBLIC_BASE_URL)")
    port = host.rpartition(":")[2] if not host.endswith("]") and ":" in host else ""
    if port and not 0 < int(port) <= 65535:
        raise BadInput(400, "malformed Host header: port out of range")
    return f"{'https' if scheme == 'https' else 'http'}://{host.lower()}"


def cache_headers(configured: str | None) -> dict[str, str]:
    """Caching for an answer that embeds the base URL."""
    return dict(CONFIGURED if configured else HOST_DERIVED)


class HostGuard:
    """ASGI middleware: a Host header the framework cannot even parse is a 400, not a 500.

    Quart (werkzeug) IDNA-encodes the host while it builds the request context, before any
    route or error handler runs: a label over 63 characters raised there and became a 500
    on every framework-served path. This refuses such a request up front, as JSON like any
    other bad input. A host allowlist would sit here too.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and not _encodable_host(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b'{"error":"malformed Host header"}'
            length = str(len(body)).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", length)]
            await send({"type": "http.response.start", "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self._inner(scope, receive, send)


def _encodable_host(scope: dict) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1").rpartition(":")[0] or value.decode("latin-1")
            if host.startswith("["):
                return True
            try:
                host.encode("idna")
            except UnicodeError:
                return False
            return True
    return True
