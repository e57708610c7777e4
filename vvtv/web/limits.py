"""The HTTP face's limits against slow, greedy and foreign clients, in one value.

``WebLimits.from_settings(settings)`` reads them from ``VVTV_HTTP_*``, ``VVTV_WS_*``,
``VVTV_PUBLIC_HOSTS`` and ``VVTV_ALLOWED_ORIGINS``; the defaults are what ``vvtv run``
uses when those are unset. Who enforces what:

- ``server.py`` (the connection, before HTTP): at most ``max_connections`` open at once
  (fewer if the process's file-descriptor limit is lower), an idle connection (its next
  request's headers not complete) closed after ``keepalive_s``, request headers at most
  ``max_header_bytes``, HTTP/2 over cleartext only when ``h2c``;
- ``body.py``: a request body must arrive within ``read_timeout_s`` of its headers;
- ``hosts.py``: the Host and websocket Origin checks (``hosts``);
- ``app.py``: live websockets, at most ``ws_max_clients`` at once and
  ``ws_max_clients_per_address`` from one client address, client messages read and
  dropped, none over ``ws_max_message_bytes``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

from vvtv.core.settings import Settings
from vvtv.web.hosts import HostPolicy


@attrs.frozen
class WebLimits:
    max_connections: int = 1024
    keepalive_s: float = 5.0
    read_timeout_s: float = 10.0
    max_header_bytes: int = 16 * 1024
    h2c: bool = False
    ws_max_clients: int = 1024
    ws_max_clients_per_address: int = 64
    ws_max_message_bytes: int = 4096
    hosts: HostPolicy = attrs.field(factory=HostPolicy)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebLimits:
        return cls(
            max_connections=settings.http_max_connections,
            keepalive_s=settings.http_keepalive_secs,
            read_timeout_s=settings.http_read_timeout_secs,
            max_header_bytes=settings.http_max_header_bytes,
            h2c=settings.http_h2c,
            ws_max_clients=settings.ws_max_clients,
            ws_max_clients_per_address=settings.ws_max_clients_per_address,
            ws_max_message_bytes=settings.ws_max_message_bytes,
            hosts=HostPolicy.build(
                bind_host=settings.api_bind.rpartition(":")[0],
                # The name the operator's own tools use (VVTV_API_URL) is one it answers to.
                public_hosts=(*settings.public_hosts, urlsplit(settings.api_url).hostname or ""),
                public_base_url=settings.public_base_url,
                allowed_origins=settings.allowed_origins,
            ),
        )
