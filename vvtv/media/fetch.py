"""Downloading what will air: HTTP(S) streaming or a local copy, hashed, bounded, atomic.

A fetched file appears in ``dest_dir`` only once it is complete: bytes go to a hidden ``.part`` file
that is renamed into place at the end, and any failure or cancellation deletes it. The final name is
the content's SHA-256 (plus the source's extension), so the same bytes from two URLs land on the
same file and the caller can dedupe by checksum.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import attrs
import httpx
import trio

from vvtv.core import tls
from vvtv.core.retry import RetryPolicy, retry_after

# Media types a video host legitimately answers with. Anything else (an HTML error page, JSON,
# a captive portal) is refused rather than handed to ffmpeg.
_MEDIA_TYPES = frozenset(
    {
        "application/octet-stream",
        "binary/octet-stream",
        "application/mp4",
        "application/ogg",
        "application/x-matroska",
        "application/mxf",
    }
)
_PLAYLIST_TYPES = frozenset(
    {"application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl"}
)
_WRITE_CHUNK = 1 << 20  # write buffer size
_HASH_CHUNK = 1 << 20
MAX_REDIRECTS = 5

#: Up to 3 retries after 0.5, 1, 2 s (+ up to 20 % jitter, so several fetches from one
#: busy host spread out); a host's ``Retry-After`` is honoured up to a minute.
MEDIA_RETRY = RetryPolicy(retries=3, base_s=0.5, cap_s=60.0, jitter=0.2)

UrlCheck = Callable[[str], bool]
"""Whether a URL may be requested (the card's allowlist); asked of every redirect hop."""


class FetchError(Exception):
    """A fetch that failed. ``reason_code`` is stable for audits and metrics:

    ``HTTP_<status>`` (408, 425, 429 and 5xx after retries), ``TIMEOUT``, ``TRANSPORT``,
    ``TOO_LARGE``, ``BAD_CONTENT_TYPE``, ``NOT_FOUND`` (a local path that does not exist),
    ``BAD_URL``, ``NOT_ALLOWED`` (the URL, or a redirect, leaves the allowlist),
    ``TOO_MANY_REDIRECTS``, ``IO``.
    """

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


@attrs.frozen
class Fetched:
    path: Path
    sha256: str
    size_bytes: int
    content_type: str


def is_acceptable_content_type(content_type: str) -> bool:
    """True for video/*, audio/*, generic binary types, or no declared type at all."""
    mime = content_type.split(";", 1)[0].strip().lower()
    return not mime or mime.startswith(("video/", "audio/")) or mime in _MEDIA_TYPES


def _suffix_of(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    # A suffix is only kept if it looks like an extension, never something path-like or huge.
    return suffix if 1 < len(suffix) <= 6 and suffix[1:].isalnum() else ""


def _local_source(url_or_path: str) -> Path | None:
    """The local path a target names (plain path or file:// URL), or None for http(s)."""
    if url_or_path.startswith(("http://", "https://")):
        return None
    if url_or_path.startswith("file://"):
        return Path(unquote(urlsplit(url_or_path).path))
    if "://" in url_or_path:
        raise FetchError("BAD_URL", f"{url_or_path}: only http(s), file:// and paths are fetched")
    return Path(url_or_path)


async def fetch(
    url_or_path: str,
    dest_dir: Path,
    *,
    client: httpx.AsyncClient | None = None,
    max_bytes: int,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    retry: RetryPolicy = MEDIA_RETRY,
    allowed: UrlCheck | None = None,
) -> Fetched:
    """Fetch a URL or local file into ``dest_dir`` as ``<sha256><ext>``; ``FetchError`` on failure.

    HTTP(S): streamed with httpx; what ``retry`` says is worth another attempt (transport
    errors, timeouts, 408, 425, 429, 5xx) is retried on its schedule (``trio.sleep``, so a mocked
    clock makes it instant; a ``Retry-After`` is honoured up to the policy's cap). Other 4xx fail
    at once.
    Local paths (or file:// URLs) are hard-linked when possible, else copied.

    ``allowed`` vets the URL (a local path too) and every redirect it leads to (at most
    ``MAX_REDIRECTS``): an allowlisted host that redirects elsewhere must not smuggle in
    media from a host the owner never allowed (``NOT_ALLOWED``, not retried).
    """
    if max_bytes <= 0:
        raise ValueError(f"fetch {url_or_path}: max_bytes must be positive, got {max_bytes}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    check = allowed or (lambda _url: True)
    _vet(url_or_path, check, url_or_path)
    local = _local_source(url_or_path)
    if local is not None:
        return await _fetch_local(local, dest_dir, max_bytes)
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )
    if client is None:
        async with tls.client(timeout=timeout) as own:
            return await _fetch_http(url_or_path, dest_dir, own, max_bytes, timeout, retry, check)
    return await _fetch_http(url_or_path, dest_dir, client, max_bytes, timeout, retry, check)


async def _fetch_http(
    url: str,
    dest_dir: Path,
    client: httpx.AsyncClient,
    max_bytes: int,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    allowed: UrlCheck,
) -> Fetched:
    k = 0
    while True:
        try:
            return await _download_once(url, dest_dir, client, max_bytes, timeout, retry, allowed)
        except _Retryable as exc:
            if k >= retry.retries:
                raise FetchError(
                    exc.code, f"{url}: {exc.detail} (gave up after {k + 1} attempts)"
                ) from None
            await retry.sleep(k, retry_after=exc.retry_after)
            k += 1


class _Retryable(Exception):
    def __init__(self, code: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after


def _vet(url: str, allowed: UrlCheck, origin: str) -> None:
    if not allowed(url):
        via = "" if url == origin else f" (redirected from {origin})"
        raise FetchError("NOT_ALLOWED", f"{url}{via}: host is not allowlisted")


async def _download_once(
    url: str,
    dest_dir: Path,
    client: httpx.AsyncClient,
    max_bytes: int,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    allowed: UrlCheck,
) -> Fetched:
    part = dest_dir / f".fetch-{uuid.uuid4().hex}.part"
    target = url
    try:
        try:
            # Redirects are followed by hand so that every hop is vetted before it is asked.
            for _hop in range(MAX_REDIRECTS + 1):
                _vet(target, allowed, url)
                async with client.stream(
                    "GET", target, timeout=timeout, follow_redirects=False
                ) as response:
                    if response.is_redirect and response.next_request is not None:
                        target = str(response.next_request.url)
                        continue
                    content_type = _check_response(response, url, max_bytes, retry)
                    digest, size = await _stream_to(response, part, url, max_bytes)
                    break
            else:
                raise FetchError(
                    "TOO_MANY_REDIRECTS", f"{url}: more than {MAX_REDIRECTS} redirects"
                )
        except httpx.TimeoutException as exc:
            raise _Retryable("TIMEOUT", f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            if not retry.retries_error(exc):
                raise FetchError("TRANSPORT", f"{url}: {type(exc).__name__}: {exc}") from None
            raise _Retryable("TRANSPORT", f"{type(exc).__name__}: {exc}") from None
        except httpx.InvalidURL as exc:
            raise FetchError("BAD_URL", f"{url}: {exc}") from None
        final = dest_dir / f"{digest}{_suffix_of(urlsplit(target).path)}"
        os.replace(part, final)
        return Fetched(final, digest, size, content_type)
    finally:
        # Reached with the part file still present only on failure or cancellation.
        part.unlink(missing_ok=True)


def _check_response(response: httpx.Response, url: str, max_bytes: int, retry: RetryPolicy) -> str:
    """The response's content type, once status, type and declared size are acceptable."""
    status = response.status_code
    if retry.retries_status(status):
        raise _Retryable(
            f"HTTP_{status}", f"server answered {status}", retry_after(response.headers)
        )
    if status >= 400:
        raise FetchError(f"HTTP_{status}", f"{url}: server answered {status}")
    content_type = response.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() in _PLAYLIST_TYPES:
        raise FetchError(
            "BAD_CONTENT_TYPE",
            f"{url}: an HLS playlist ({content_type}), not a media file; "
            "streams are not downloaded",
        )
    if not is_acceptable_content_type(content_type):
        raise FetchError("BAD_CONTENT_TYPE", f"{url}: content type {content_type!r} is not media")
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("TOO_LARGE", f"{url}: declares {declared} bytes, limit is {max_bytes}")
    return content_type


async def _stream_to(
    response: httpx.Response, part: Path, url: str, max_bytes: int
) -> tuple[str, int]:
    """Stream the body into ``part`` while hashing it; ``TOO_LARGE`` beyond ``max_bytes``.

    Writes are plain buffered writes of at most 1 MiB into the page cache (well under a
    millisecond), not thread hops: a hop costs about as much, and while a thread runs an
    autojumping MockClock would leap over the timeouts the tests exercise.
    """
    hasher = hashlib.sha256()
    size = 0
    with part.open("wb", buffering=_WRITE_CHUNK) as out:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchError("TOO_LARGE", f"{url}: more than {max_bytes} bytes, aborted")
            hasher.update(chunk)
            out.write(chunk)
    return hasher.hexdigest(), size


def _hash_file(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def _link_or_copy(source: Path, part: Path) -> None:
    try:
        os.link(source, part)
    except OSError:  # another filesystem, or links not allowed: copy instead
        shutil.copyfile(source, part)


async def _fetch_local(source: Path, dest_dir: Path, max_bytes: int) -> Fetched:
    if not source.is_file():
        raise FetchError("NOT_FOUND", f"{source}: no such file")
    size = source.stat().st_size
    if size > max_bytes:
        raise FetchError("TOO_LARGE", f"{source}: {size} bytes, limit is {max_bytes}")
    part = dest_dir / f".fetch-{uuid.uuid4().hex}.part"
    try:
        digest, size = await trio.to_thread.run_sync(_hash_file, source)
        await trio.to_thread.run_sync(_link_or_copy, source, part)
        final = dest_dir / f"{digest}{_suffix_of(source.name)}"
        os.replace(part, final)
    except OSError as exc:
        raise FetchError("IO", f"{source}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return Fetched(final, digest, size, "")
