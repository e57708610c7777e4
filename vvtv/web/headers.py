"""The security headers of every page the channel serves, in one place.

Pages (the dashboard and ``/watch``) get a strict Content-Security-Policy (only the
channel's own scripts, styles, media and connections; never framed), ``nosniff``, no
referrer and their own browsing context group; other public answers (playlists, guide,
JSON) get ``nosniff``. Add a header here and every page has it (SPEC §10: every HTML
response carries the security headers).
"""

from __future__ import annotations

from collections.abc import Mapping
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
