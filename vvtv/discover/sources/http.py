"""Fetching a feed over HTTP(S) with httpx: timeouts, a size cap, clear errors.

Every expected failure (cannot connect, a timeout, an HTTP error status, a body over
the cap, a redirect loop) becomes a ``SourceFailure`` carrying a ``SourceError`` that
names the feed, its domain and what went wrong. The cap is enforced while streaming,
on the decoded body, so neither a lying ``Content-Length`` nor a compression bomb can
make the daemon hold more than ``max_bytes``.
"""

from __future__ import annotations

import httpx
import trio

from vvtv.discover.sources.candidate import SourceError, SourceFailure, domain_of

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=5.0, pool=5.0)
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
#: A whole fetch (connect, headers, body) never takes longer than this, so a server
#: trickling bytes just under the read timeout cannot hold discovery forever.
DEFAULT_TOTAL_TIMEOUT = 60.0
USER_AGENT = "vvtv-discovery/0.1"


def _fail(source_name: str, url: str, reason: str) -> SourceFailure:
    return SourceFailure(SourceError(source_name, domain_of(url), f"{url}: {reason}"))


def _describe(exc: httpx.HTTPError | httpx.InvalidURL) -> str:
    kinds = {
        httpx.ConnectTimeout: "connect timed out",
        httpx.ReadTimeout: "read timed out",
        httpx.WriteTimeout: "write timed out",
        httpx.PoolTimeout: "timed out waiting for a connection",
        httpx.ConnectError: "cannot connect",
        httpx.TooManyRedirects: "too many redirects",
        httpx.RemoteProtocolError: "broken HTTP response",
        httpx.DecodingError: "cannot decode the response body",
    }
    for kind, words in kinds.items():
        if isinstance(exc, kind):
            detail = str(exc).strip()
            return f"{words} ({detail})" if detail else words
    return f"{type(exc).__name__}: {exc}"


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    source_name: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
) -> bytes:
    """The body of ``url`` (at most ``max_bytes``), or ``SourceFailure`` saying why not."""
    if not url.lower().startswith(("http://", "https://")):
        raise _fail(source_name, url, "a feed location must be an http(s) URL")
    with trio.move_on_after(total_timeout) as scope:
        try:
            return await _stream(client, url, source_name, max_bytes, timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _fail(source_name, url, _describe(exc)) from None
    assert scope.cancelled_caught
    raise _fail(source_name, url, f"gave up after {total_timeout:g} s in total")


async def _stream(
    client: httpx.AsyncClient, url: str, source_name: str, max_bytes: int, timeout: httpx.Timeout
) -> bytes:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    async with client.stream(
        "GET", url, headers=headers, timeout=timeout, follow_redirects=True
    ) as response:
        if response.status_code >= 400:
            phrase = response.reason_phrase or ""
            raise _fail(source_name, url, f"HTTP {response.status_code} {phrase}".strip())
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _fail(
                source_name, url, f"feed is {int(declared)} bytes, over the cap of {max_bytes}"
            )
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _fail(source_name, url, f"feed is larger than the cap of {max_bytes} bytes")
        return bytes(body)
