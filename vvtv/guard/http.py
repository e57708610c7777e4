"""An httpx client for untrusted hosts: every connection goes to an address that was checked.

``client(policy)`` returns an ``httpx.AsyncClient`` whose connections are opened by
``GuardedBackend``: the host name is resolved once, every address it resolves to is
checked against the ``AddressPolicy``, and the TCP connection is made to the checked
address itself, not to the name. There is no second resolution between check and
connect, so a DNS answer that changes in between (rebinding) cannot slip an internal
address past the check. The request keeps its ``Host`` header and TLS keeps its SNI
and certificate check for the *name* (httpcore does both from the request's origin;
only the TCP connect is redirected to the checked address).

Redirects are requests like any other: each hop opens its connection through the same
backend, so a redirect to ``http://127.0.0.1:…`` or to a name resolving to
169.254.169.254 is refused before a byte is sent there.

A name that resolves to several addresses is refused if *any* of them is refused: a
public address next to an internal one is how rebinding attacks are staged, and no
legitimate content host needs it.

The client ignores the environment (``trust_env=False``): a proxy from ``HTTP_PROXY``
would resolve names itself (the check would see only the proxy), and ``.netrc``
credentials must never be offered to a content host.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx
import trio

from vvtv.core import tls
from vvtv.guard.addresses import AddressPolicy

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port)`` → the addresses it resolves to (IP strings), in preference order."""


class AddressRefused(httpx.ConnectError):
    """A connection refused by the address policy, before any packet was sent to it.

    A subclass of ``httpx.ConnectError`` so code that handles connection failures
    handles this one too; code that retries connection failures must not retry it
    (the answer will not change): ``final`` says so to ``vvtv.core.retry``.
    """

    final = True

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"{host}:{port} refused: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


async def resolve(host: str, port: int) -> list[str]:
    """The system resolver (``getaddrinfo``), each address once, in its order."""
    infos = await trio.socket.getaddrinfo(host, port, type=trio.socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


class GuardedBackend(httpcore.TrioBackend):
    """httpcore's Trio backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = resolve) -> None:
        self.policy = policy
        self.resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = trio.current_time() + (float("inf") if timeout is None else timeout)
        try:
            with trio.fail_at(deadline):
                addresses = await self.resolver(host, port)
        except trio.TooSlowError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            why = self.policy.refusal(address)
            if why is not None:
                shown = f"{host} resolves to {why}" if address != host else why
                raise AddressRefused(host, port, shown)
        last: Exception | None = None
        for address in addresses:
            remaining = max(0.0, deadline - trio.current_time())
            try:
                # An IP literal: trio connects to it without resolving anything.
                return await super().connect_tcp(
                    address, port, remaining, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(path, 0, "unix sockets are never opened for untrusted content")


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connection pool built on ``GuardedBackend``.

    httpx does not take a network backend, so the pool it built is replaced by an
    identical one that has ours (httpx is pinned below 0.29 in pyproject; the tests
    that prove the refusals fail loudly if a new httpx stops using ``_pool``).
    """

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or tls.client_context()
        super().__init__(verify=context, trust_env=False)
        limits = httpx.Limits()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(policy, resolver),
        )


def client(
    policy: AddressPolicy,
    *,
    resolver: Resolver = resolve,
    ssl_context: ssl.SSLContext | None = None,
    **options: Any,
) -> httpx.AsyncClient:
    """A new ``httpx.AsyncClient`` whose every connection obeys ``policy``.

    ``options`` go to ``httpx.AsyncClient`` (timeouts, ``follow_redirects``, headers);
    transport, proxies and environment are this module's to decide. ``resolver`` and
    ``ssl_context`` default to the system's resolver and the daemon's shared verifying
    TLS context; tests give their own (a name → loopback map, a throwaway CA).
    """
    for key in ("transport", "mounts", "proxy", "trust_env", "verify"):
        if key in options:
            raise TypeError(f"guard.http.client() decides {key!r} itself")
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, resolver, ssl_context), trust_env=False, **options
    )


__all__ = ["AddressRefused", "GuardedBackend", "GuardedTransport", "Resolver", "client", "resolve"]
