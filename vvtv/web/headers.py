"""The security headers of every page the channel serves, in one place.

Pages (the dashboard and ``/watch``) get a strict Content-Security-Policy (only the
channel's own scripts, styles, media and connections; never framed), ``nosniff``, no
referrer and their own browsing context group; other public answers (playlists, guide,
JSON) get ``nosniff``. Add a header here and every page has it (SPEC §10: every HTML
response carries the security headers).

``SecurityHeaders`` (ASGI middleware, outside every route and the read endpoints answered
before quart) is where that is enforced: every answer gets ``COMMON``, and every
``text/html`` answer — the dashboard, a static ``.html`` file, any page added later —
gets ``PAGE`` and the dashboard's policy, unless its route set its own (``/watch`` does,
to allow the logo's origin). A route sets headers only where it differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

COMMON: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE: Mapping[str, str] = {
    **COMMON,
    "Cache-Control": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # browsers that predate CSP's frame-ancestors
}


def csp(*, img: tuple[str, ...] = ()) -> str:
    """A page's policy: everything from the channel itself; ``img`` adds image origins.

    ``media-src blob:`` is what hls.js needs (it feeds the video element through a
    MediaSource object URL); its transmuxing worker is a file of the channel's own
    (``workerPath``), so scripts and workers stay ``'self'``.
    """
    images = " ".join(("'self'", "data:", *img))
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
        "media-src 'self' blob:; connect-src 'self'; worker-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


DASHBOARD_CSP = csp()


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, for a policy; None for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def page_headers(policy: str) -> dict[str, str]:
    """Headers for an HTML page with Content-Security-Policy ``policy``."""
    return {**PAGE, "Content-Security-Policy": policy}


_COMMON_RAW = [(k.lower().encode(), v.encode()) for k, v in COMMON.items()]
_PAGE_RAW = [
    (k.lower().encode(), v.encode())
    for k, v in page_headers(DASHBOARD_CSP).items()
    if k not in COMMON
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every answer, the page headers on every
    HTML answer; what a route set itself is left as it is."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_security_headers(message["headers"])}
            await send(message)

        await self._inner(scope, receive, send_with_headers)


def with_security_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """``headers`` (ASGI pairs) plus whichever security headers they lack."""
    out = [(bytes(k).lower(), bytes(v)) for k, v in headers]
    present = {k for k, _ in out}
    content_type = next((v for k, v in out if k == b"content-type"), b"")
    extra = list(_COMMON_RAW)
    if content_type.split(b";")[0].strip().lower() == b"text/html":
        extra += _PAGE_RAW
    out += [(k, v) for k, v in extra if k not in present]
    return out
