"""Fetching a feed over HTTP(S) with httpx: timeouts, a size cap, retries, clear errors.

Every expected failure (cannot connect, a timeout, an HTTP error status, a body over
the cap, a redirect loop) becomes a ``SourceFailure`` carrying a ``SourceError`` that
names the feed, its domain and what went wrong. What may pass on its own (a 503, a
429, a reset connection: ``vvtv.core.retry``) is tried again first, within the fetch's
total deadline, so one hiccup does not count as a failed domain for the alert. The
cap is enforced while streaming, on the decoded body, inflated piece by piece
(``vvtv.guard.body``), so neither a lying ``Content-Length`` nor a compression bomb
(stacked encodings are refused outright) can make the daemon hold more than
``max_bytes``.

The client is the caller's: the daemon's is ``vvtv.guard.http.client``, which checks the
resolved address of the feed host and of every redirect hop (``AddressRefused``, never
retried: the answer will not change).
"""

from __future__ import annotations

import attrs
import httpx
import trio

from vvtv.core.retry import RetryPolicy, retry_after
from vvtv.discover.sources.candidate import SourceError, SourceFailure, domain_of
from vvtv.guard.body import ACCEPT_ENCODING, BodyRefused, read_body
from vvtv.guard.http import AddressRefused

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=5.0, pool=5.0)
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
#: A whole fetch (connect, headers, body) never takes longer than this, so a server
#: trickling bytes just under the read timeout cannot hold discovery forever.
DEFAULT_TOTAL_TIMEOUT = 60.0
USER_AGENT = "vvtv-discovery/0.1"
#: A feed may move (http to https, a new path), but not wander: five hops, each one's
#: address checked by the guarded client.
FEED_MAX_REDIRECTS = 5
#: Two more tries after 1 and 2 s (+ up to 20 % jitter); a feed asking for more than
#: 10 s waits for the next discovery window instead.
FEED_RETRY = RetryPolicy(retries=2, base_s=1.0, cap_s=10.0, jitter=0.2)


def _fail(source_name: str, url: str, reason: str) -> SourceFailure:
    return SourceFailure(SourceError(source_name, domain_of(url), f"{url}: {reason}"))


def _describe(exc: httpx.HTTPError | httpx.InvalidURL) -> str:
    if isinstance(exc, AddressRefused):
        return f"address refused: {exc.reason}"
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


@attrs.frozen
class FetchedFeed:
    """A feed's body with what the parser needs to read it: the ``Content-Type`` header (its
    ``charset`` decides the encoding) and the URL it came from after redirects (the base
    for relative links)."""

    body: bytes
    content_type: str | None
    url: str


async def fetch_feed(
    client: httpx.AsyncClient,
    url: str,
    *,
    source_name: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    retry: RetryPolicy = FEED_RETRY,
) -> FetchedFeed:
    """The body of ``url`` (at most ``max_bytes``), or ``SourceFailure`` saying why not.

    ``total_timeout`` bounds the whole fetch, retries and their waits included."""
    if not url.lower().startswith(("http://", "https://")):
        raise _fail(source_name, url, "a feed location must be an http(s) URL")
    with trio.move_on_after(total_timeout) as scope:
        k = 0
        while True:
            try:
                return await _stream(client, url, source_name, max_bytes, timeout, retry)
            except _Again as again:
                reason, wait = again.reason, again.retry_after
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                if not retry.retries_error(exc):
                    raise _fail(source_name, url, _describe(exc)) from None
                reason, wait = _describe(exc), None
            if k >= retry.retries:
                tries = f" (gave up after {k + 1} attempts)" if k else ""
                raise _fail(source_name, url, reason + tries)
            await retry.sleep(k, retry_after=wait)
            k += 1
    assert scope.cancelled_caught
    raise _fail(source_name, url, f"gave up after {total_timeout:g} s in total")


class _Again(Exception):
    """An answer worth another attempt (``retry.retries_status``)."""

    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


async def _stream(
    client: httpx.AsyncClient,
    url: str,
    source_name: str,
    max_bytes: int,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
) -> FetchedFeed:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": ACCEPT_ENCODING}
    async with client.stream(
        "GET", url, headers=headers, timeout=timeout, follow_redirects=True
    ) as response:
        if response.status_code >= 400:
            phrase = response.reason_phrase or ""
            reason = f"HTTP {response.status_code} {phrase}".strip()
            if retry.retries_status(response.status_code):
                raise _Again(reason, retry_after(response.headers))
            raise _fail(source_name, url, reason)
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _fail(
                source_name, url, f"feed is {int(declared)} bytes, over the cap of {max_bytes}"
            )
        try:
            body = await read_body(response, max_bytes=max_bytes)
        except BodyRefused as exc:
            if exc.code == "TOO_LARGE":
                raise _fail(
                    source_name, url, f"feed is larger than the cap of {max_bytes} bytes"
                ) from None
            raise _fail(source_name, url, exc.message) from None
        return FetchedFeed(body, response.headers.get("Content-Type"), str(response.url))
