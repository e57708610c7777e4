"""Signed requests from the channel to the edge, with every outcome a value.

Each request is signed with the channel's ingest credential (``VVTV_CLOUDFLARE_TOKEN`` /
``VVTV_CLOUDFLARE_SECRET``) over the full path it is sent to (the base URL's prefix
included, the query string not) and carries a fresh ``x-vvtv-nonce``: the edge accepts each
signature once, and the publisher and the agent repeat requests (a retry, the next long
poll). A transport failure, a timeout and an unreadable answer are ``EdgeAnswer``s with no
status, so callers decide about retries without catching anything.

Answers are read up to ``MAX_ANSWER_BYTES``: the edge's JSON is small, and a misbehaving
proxy in between must not grow the daemon's memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs
import httpx
import trio

from vvtv.core.clock import Clock
from vvtv.core.signing import new_nonce, signed_headers

MAX_ANSWER_BYTES = 1024 * 1024
_CLOSED = "RemoteProtocolError"  # the server closed the connection without answering
DEFAULT_TIMEOUT_S = 30.0


@attrs.frozen
class EdgeAnswer:
    """What one request got: the status (None when no answer came), the JSON body, and
    a one-line description of what went wrong (empty on success)."""

    status: int | None
    body: Any = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def field(self, name: str) -> Any:
        """``body[name]`` when the body is an object, else None."""
        return self.body.get(name) if isinstance(self.body, dict) else None


class EdgeClient:
    """Requests to one channel's routes on the edge (``base_url`` may end in ``/c/<id>``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        secret: str,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"edge URL must be http(s)://host[/path], got {base_url!r}")
        if not token or not secret:
            raise ValueError("the edge needs the channel's token and secret")
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self.token = token
        self.secret = secret
        self.http = http
        self.clock = clock
        self.timeout = timeout

    def url(self, path: str) -> str:
        return self.base_url + path

    async def call(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        query: Mapping[str, str | int] | None = None,
        content_type: str | None = "application/json",
        timeout: float | None = None,
        idempotent: bool | None = None,
    ) -> EdgeAnswer:
        """One signed request to ``path`` (under the base URL); never raises for the network.

        A kept-alive connection the server closed just as the request went out fails with
        no answer at all; an ``idempotent`` request (GET, PUT, DELETE unless told otherwise)
        is then sent once more, freshly signed, on a new connection, as browsers do.
        """
        if not path.startswith("/"):
            raise ValueError(f"edge path must start with '/', got {path!r}")
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        answer = await self._once(method, path, body, query, content_type, timeout)
        if idempotent and answer.status is None and answer.error.startswith(_CLOSED):
            answer = await self._once(method, path, body, query, content_type, timeout)
        return answer

    async def _once(
        self,
        method: str,
        path: str,
        body: bytes,
        query: Mapping[str, str | int] | None,
        content_type: str | None,
        timeout: float | None,
    ) -> EdgeAnswer:
        headers = signed_headers(
            self.token,
            self.secret,
            method,
            self._prefix + path,
            body,
            self.clock.now().timestamp(),
            nonce=new_nonce(),
        )
        if body and content_type:
            headers["content-type"] = content_type
        url = self.url(path) + (f"?{urlencode(dict(query))}" if query else "")
        limit = self.timeout if timeout is None else timeout
        with trio.move_on_after(limit) as scope:
            try:
                async with self.http.stream(
                    method, url, content=body, headers=headers, timeout=limit
                ) as reply:
                    raw = await _read_capped(reply)
            except httpx.HTTPError as exc:
                detail = str(exc)
                return EdgeAnswer(None, error=f"{type(exc).__name__}: {detail}".rstrip(": "))
        if scope.cancelled_caught:
            return EdgeAnswer(None, error=f"no answer within {limit:g} s")
        if raw is None:
            return EdgeAnswer(None, error=f"answer larger than {MAX_ANSWER_BYTES} bytes")
        status = reply.status_code
        try:
            data = json.loads(raw) if raw else None
        except (UnicodeDecodeError, ValueError):
            data = None
            if 200 <= status < 300:
                return EdgeAnswer(None, error=f"HTTP {status} with a body that is not JSON")
        if 200 <= status < 300:
            return EdgeAnswer(status, data)
        message = data.get("error") if isinstance(data, dict) else None
        text = message if isinstance(message, str) else raw[:200].decode("utf-8", "replace")
        return EdgeAnswer(status, data, f"HTTP {status}: {text}")


async def _read_capped(reply: httpx.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
