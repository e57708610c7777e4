"""The absolute address viewers and IPTV apps reach the channel at.

M3U playlists, the XMLTV guide and the HDHomeRun lineup hold absolute URLs. They come
from ``VVTV_PUBLIC_BASE_URL`` when it is set (the name a reverse proxy or a public
address serves), otherwise from the request itself: its scheme and ``Host`` header.

The Host header is the client's word. A hostile one cannot reach anyone else through
these answers (they go back to that client, marked ``Vary: Host`` and not cached by
shared caches), but it must not break out of a URL: it is checked to be a plain host
name, IPv4 or bracketed IPv6 address with an optional port, else the request is a 400.
Forwarded headers (``X-Forwarded-Host``/``-Proto``) are not trusted: behind a proxy, set
``VVTV_PUBLIC_BASE_URL``. This is the one place that decides the base URL; which Host
headers are answered at all (``VVTV_PUBLIC_HOSTS``) is decided before any route runs
(``vvtv.web.hosts``).
"""

from __future__ import annotations

import re

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
