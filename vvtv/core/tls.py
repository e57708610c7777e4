"""Outgoing HTTP clients, and the TLS context they all share.

Building a TLS context loads and parses the whole CA bundle: 40-70 ms of CPU on the
project machine, and ``httpx.AsyncClient()`` builds a new one each time it is created,
on the event loop. Discovery opens a client every window, a fetch without a client,
the Alerter's webhook and CloudSync each delivery round their own, so each would stall
the air and the dashboards for that long. An ``SSLContext`` is meant to be shared: this
one is built once (the daemon warms it in a worker thread at boot) and keeps httpx's
defaults (certificate and host name checked). Open clients with ``client()``.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    """httpx's default verifying context, built on first use and reused afterwards."""
    return httpx.create_ssl_context()


def client(**options: Any) -> httpx.AsyncClient:
    """A new ``httpx.AsyncClient`` with ``options``, on the shared TLS context."""
    return httpx.AsyncClient(verify=client_context(), **options)
