"""Downloading what will air: HTTP(S) streaming or a local copy, hashed, bounded, atomic.

A fetched file appears in ``dest_dir`` only once it is complete: bytes go to a hidden ``.part`` file
that is renamed into place at the end, and any failure or cancellation deletes it. The final name is
the content's SHA-256 (plus the source's extension), so the same bytes from two URLs land on the
same file and the caller can dedupe by checksum.

Media hosts are untrusted (ARCHITECTURE "Trust boundaries"), so every download:

- connects only through ``vvtv.guard.http``: the resolved address of the host and of every
  redirect hop is checked against ``addresses`` (the card's policy) before connecting, and each
  hop's URL against ``allowed`` (the card's host allowlist) before it is requested;
- is bounded in decoded bytes (``max_bytes``; a compressed body is inflated piece by piece,
  ``vvtv.guard.body``) and in time: per read (``read_timeout``), at a minimum average rate once
  a grace period has passed (a drip server is cut off), and in total (``Pace.deadline_for``:
  the grace plus the size cap, or the declared size, at the minimum rate). A caller such as the
  committer is therefore never held by one slow host for longer than that.

``fetch_head`` is the same vetted path for discovery's probe: it fetches a bounded head (and,
for an MP4 whose index sits at the end, the tail) into a local file that ffprobe then reads;
ffprobe itself never opens a URL (``vvtv.media.probe``). This was chosen over an in-process
relay that ffprobe would reach over HTTP: with a local file, ffmpeg's own network stack (its
redirects, reconnects, protocol handlers) is out of the picture entirely, the protocol
whitelist can be ``file`` for every run without exception, and the cost is bounded and known
(``HEAD_BYTES`` + ``TAIL_BYTES`` per probe, the probes per window capped by the card). What a
relay would do better (seek anywhere in the file) is only needed for non-"faststart" MP4s,
which the tail range covers.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import attrs
import httpx
import trio

from vvtv.core.retry import RetryPolicy, retry_after
from vvtv.core.settings import Settings
from vvtv.guard import http as guarded
from vvtv.guard.addresses import STRICT, AddressPolicy
from vvtv.guard.body import IDENTITY, PIECE, BodyRefused, iter_body
from vvtv.media.formats import MP4, mp4_index_range, sniff
from vvtv.media.formats import REASON as FORMAT_REFUSED

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
#: A probe's head is asked for once more after a second; discovery has other candidates.
HEAD_RETRY = RetryPolicy(retries=1, base_s=1.0, cap_s=10.0, jitter=0.2)
#: What discovery fetches to probe a remote candidate: the first 8 MiB (the container's
#: header and more than two seconds of video at 20 Mbit/s), and for an MP4 whose index
#: (``moov``) is not in the head, the last 8 MiB, where such files keep it.
HEAD_BYTES = 8 << 20
TAIL_BYTES = 8 << 20
#: Without a setting: 256 KiB/s on average (2 Mbit/s) once 30 s have passed.
DEFAULT_MIN_RATE = 256 * 1024
DEFAULT_GRACE_S = 30.0
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$")

UrlCheck = Callable[[str], bool]
"""Whether a URL may be requested (the card's allowlist); asked of every redirect hop."""


class FetchError(Exception):
    """A fetch that failed. ``reason_code`` is stable for audits and metrics:

    ``HTTP_<status>`` (408, 425, 429 and 5xx after retries), ``TIMEOUT``, ``TRANSPORT``,
    ``TOO_LARGE``, ``BAD_CONTENT_TYPE``, ``NOT_FOUND`` (a local path that does not exist),
    ``BAD_URL``, ``NOT_ALLOWED`` (the URL, or a redirect, leaves the allowlist),
    ``ADDRESS_REFUSED`` (the host, or a redirect's, resolves to an address the card does
    not allow), ``TOO_SLOW`` (under the minimum rate, or past the total deadline),
    ``ENCODING_REFUSED`` (stacked or unoffered ``Content-Encoding``), ``BAD_ENCODING``,
    ``MEDIA_FORMAT_REFUSED`` (the host says it sends an HLS playlist),
    ``TOO_MANY_REDIRECTS``, ``IO``. Only ``HTTP_<status>``, ``TIMEOUT`` and ``TRANSPORT``
    are ever retried.
    """

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


@attrs.frozen
class Pace:
    """How slow a download may be: ``min_rate`` bytes/s on average once ``grace_s`` passed.

    ``deadline_for(size)`` is the longest a download of ``size`` bytes may take in total.
    """

    min_rate: float = DEFAULT_MIN_RATE
    grace_s: float = DEFAULT_GRACE_S

    def __attrs_post_init__(self) -> None:
        if not self.min_rate > 0 or not self.grace_s >= 0:
            raise ValueError(f"pace needs min_rate > 0 and grace_s >= 0, got {self}")

    def deadline_for(self, size: int) -> float:
        return self.grace_s + size / self.min_rate

    @classmethod
    def from_settings(cls, settings: Settings) -> Pace:
        """``VVTV_DOWNLOAD_MIN_RATE_KB_S`` and ``VVTV_DOWNLOAD_GRACE_SECS``."""
        return cls(settings.download_min_rate_bytes, settings.download_grace_secs)


DEFAULT_PACE = Pace()


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


def _timeout(connect_timeout: float, read_timeout: float) -> httpx.Timeout:
    return httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
    )


async def fetch(
    url_or_path: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    retry: RetryPolicy = MEDIA_RETRY,
    allowed: UrlCheck | None = None,
    addresses: AddressPolicy = STRICT,
    pace: Pace = DEFAULT_PACE,
    resolver: guarded.Resolver = guarded.resolve,
) -> Fetched:
    """Fetch a URL or local file into ``dest_dir`` as ``<sha256><ext>``; ``FetchError`` on failure.

    HTTP(S): streamed through the guarded client (``addresses``: where it may connect);
    what ``retry`` says is worth another attempt (transport errors, timeouts, 408, 425, 429,
    5xx) is retried on its schedule (``trio.sleep``, so a mocked clock makes it instant; a
    ``Retry-After`` is honoured up to the policy's cap). Other 4xx fail at once. The whole
    fetch, retries included, ends by ``pace.deadline_for(max_bytes)`` (``TOO_SLOW``).
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
    timeout = _timeout(connect_timeout, read_timeout)
    started = trio.current_time()
    with trio.move_on_after(pace.deadline_for(max_bytes)) as overall:
        async with guarded.client(addresses, resolver=resolver, timeout=timeout) as client:
            return await _fetch_http(
                url_or_path, dest_dir, client, max_bytes, timeout, retry, check, pace
            )
    assert overall.cancelled_caught
    raise _too_slow(url_or_path, trio.current_time() - started, pace)


def _too_slow(url: str, elapsed: float, pace: Pace) -> FetchError:
    return FetchError(
        "TOO_SLOW",
        f"{url}: not complete after {elapsed:.0f} s (at least {pace.min_rate / 1024:.0f} KiB/s "
        f"is expected once {pace.grace_s:g} s have passed)",
    )


async def _fetch_http(
    url: str,
    dest_dir: Path,
    client: httpx.AsyncClient,
    max_bytes: int,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    allowed: UrlCheck,
    pace: Pace,
) -> Fetched:
    k = 0
    while True:
        try:
            return await _download_once(
                url, dest_dir, client, max_bytes, timeout, retry, allowed, pace
            )
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


@asynccontextmanager
async def _vetted(
    client: httpx.AsyncClient,
    url: str,
    allowed: UrlCheck,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    headers: dict[str, str],
) -> AsyncIterator[tuple[httpx.Response, str]]:
    """The final response for ``url`` and where it came from, every hop vetted first.

    Redirects are followed by hand so that each hop's URL is checked against the
    allowlist before it is asked (the guarded client checks its address when it
    connects). Transport failures become ``_Retryable`` or ``FetchError``.
    """
    target = url
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            _vet(target, allowed, url)
            async with client.stream(
                "GET", target, headers=headers, timeout=timeout, follow_redirects=False
            ) as response:
                if response.is_redirect and response.next_request is not None:
                    target = str(response.next_request.url)
                    continue
                try:
                    yield response, target
                except BodyRefused as exc:
                    raise FetchError(exc.code, f"{url}: {exc.message}") from None
                return
        raise FetchError("TOO_MANY_REDIRECTS", f"{url}: more than {MAX_REDIRECTS} redirects")
    except guarded.AddressRefused as exc:
        via = "" if target == url else f" (redirected to {target})"
        raise FetchError("ADDRESS_REFUSED", f"{url}{via}: {exc.reason}") from None
    except httpx.TimeoutException as exc:
        raise _Retryable("TIMEOUT", f"timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        if not retry.retries_error(exc):
            raise FetchError("TRANSPORT", f"{url}: {type(exc).__name__}: {exc}") from None
        raise _Retryable("TRANSPORT", f"{type(exc).__name__}: {exc}") from None
    except httpx.InvalidURL as exc:
        raise FetchError("BAD_URL", f"{url}: {exc}") from None


async def _download_once(
    url: str,
    dest_dir: Path,
    client: httpx.AsyncClient,
    max_bytes: int,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    allowed: UrlCheck,
    pace: Pace,
) -> Fetched:
    part = dest_dir / f".fetch-{uuid.uuid4().hex}.part"
    started = trio.current_time()
    headers = {"Accept-Encoding": IDENTITY}
    try:
        with trio.CancelScope() as attempt:
            async with _vetted(client, url, allowed, timeout, retry, headers) as (response, final):
                content_type = _check_response(response, url, max_bytes, retry)
                declared = _declared_length(response)
                if declared is not None:
                    # A host that says how much it sends gets the time that much needs.
                    attempt.deadline = started + pace.deadline_for(declared)
                digest, size = await _stream_to(response, part, max_bytes, pace)
        if attempt.cancelled_caught:
            raise _too_slow(url, trio.current_time() - started, pace)
        final_path = dest_dir / f"{digest}{_suffix_of(urlsplit(final).path)}"
        os.replace(part, final_path)
        return Fetched(final_path, digest, size, content_type)
    finally:
        # Reached with the part file still present only on failure or cancellation.
        part.unlink(missing_ok=True)


def _declared_length(response: httpx.Response) -> int | None:
    if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
        return None  # the length of the encoded body says nothing of the decoded one
    declared = response.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


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
            FORMAT_REFUSED,
            f"{url}: an HLS playlist ({content_type}), not a media file; "
            "streams are not downloaded",
        )
    if not is_acceptable_content_type(content_type):
        raise FetchError("BAD_CONTENT_TYPE", f"{url}: content type {content_type!r} is not media")
    total = _total_size(response)
    if total is not None and total > max_bytes:
        raise FetchError("TOO_LARGE", f"{url}: declares {total} bytes, limit is {max_bytes}")
    return content_type


async def _stream_to(
    response: httpx.Response, part: Path, max_bytes: int, pace: Pace
) -> tuple[str, int]:
    """Stream the body into ``part`` while hashing it; ``BodyRefused`` beyond ``max_bytes``
    decoded bytes or under the minimum rate.

    Writes are plain buffered writes of at most 1 MiB into the page cache (well under a
    millisecond), not thread hops: a hop costs about as much, and while a thread runs an
    autojumping MockClock would leap over the timeouts the tests exercise.
    """
    hasher = hashlib.sha256()
    size = 0
    with part.open("wb", buffering=_WRITE_CHUNK) as out:
        async for chunk in iter_body(
            response, max_bytes=max_bytes, min_rate=pace.min_rate, grace=pace.grace_s
        ):
            size += len(chunk)
            hasher.update(chunk)
            out.write(chunk)
    return hasher.hexdigest(), size


# --- the head of a remote file, for discovery's probe ---------------------------------


def _total_size(response: httpx.Response) -> int | None:
    """The whole file's size: from ``Content-Range`` for a 206, else ``Content-Length``."""
    if response.status_code == 206:
        match = _CONTENT_RANGE.match(response.headers.get("content-range", "").strip())
        if match is None or match.group(3) == "*":
            return None
        return int(match.group(3))
    return _declared_length(response)


async def fetch_head(
    url: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    head_bytes: int = HEAD_BYTES,
    tail_bytes: int = TAIL_BYTES,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    retry: RetryPolicy = HEAD_RETRY,
    allowed: UrlCheck | None = None,
    addresses: AddressPolicy = STRICT,
    pace: Pace = DEFAULT_PACE,
    resolver: guarded.Resolver = guarded.resolve,
) -> Path:
    """The first ``head_bytes`` of a remote media file, in a local file for ffprobe.

    The same vetted path as ``fetch`` (allowlist per hop, address policy, bounded body,
    minimum rate, a total deadline; the same ``FetchError`` codes), asking for a byte
    range. When the host says how big the file is, the local file is made that big
    (sparse: the missing middle reads as zeros and takes no disk), so ffprobe sees the
    real size; a file over ``max_bytes`` is refused (``TOO_LARGE``) as its download
    would be. An MP4 whose index (``moov``) is not in the head gets its last
    ``tail_bytes`` too, where non-"faststart" files keep it. The caller deletes the file.
    """
    check = allowed or (lambda _url: True)
    _vet(url, check, url)
    if _local_source(url) is not None:
        raise FetchError("BAD_URL", f"{url}: a local file is probed where it is, not fetched")
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f".head-{uuid.uuid4().hex}{_suffix_of(urlsplit(url).path)}"
    timeout = _timeout(connect_timeout, read_timeout)
    started = trio.current_time()
    ok = False
    try:
        with trio.move_on_after(pace.deadline_for(head_bytes + tail_bytes)) as overall:
            async with guarded.client(addresses, resolver=resolver, timeout=timeout) as client:
                k = 0
                while True:
                    try:
                        written, total, final = await _head_once(
                            client, url, path, head_bytes, max_bytes, timeout, retry, check, pace
                        )
                        break
                    except _Retryable as exc:
                        if k >= retry.retries:
                            raise FetchError(
                                exc.code, f"{url}: {exc.detail} (gave up after {k + 1} attempts)"
                            ) from None
                        await retry.sleep(k, retry_after=exc.retry_after)
                        k += 1
                missing = _index_range(path, written, total, tail_bytes)
                if missing is not None:
                    await _range_into(client, final, path, *missing, timeout, retry, check, pace)
                if total is not None and total > written:
                    with path.open("r+b") as f:
                        f.truncate(total)
                ok = True
                return path
        assert overall.cancelled_caught
        raise _too_slow(url, trio.current_time() - started, pace)
    finally:
        if not ok:
            path.unlink(missing_ok=True)


async def _head_once(
    client: httpx.AsyncClient,
    url: str,
    path: Path,
    head_bytes: int,
    max_bytes: int,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    allowed: UrlCheck,
    pace: Pace,
) -> tuple[int, int | None, str]:
    """Write the head into ``path``: (bytes written, the file's total size if known, the
    URL the redirects led to)."""
    headers = {"Accept-Encoding": IDENTITY, "Range": f"bytes=0-{head_bytes - 1}"}
    async with _vetted(client, url, allowed, timeout, retry, headers) as (response, final):
        _check_response(response, url, max_bytes, retry)
        total = _total_size(response)
        written = await _write_range(response, path, 0, head_bytes, pace)
    return written, total, final


async def _range_into(
    client: httpx.AsyncClient,
    url: str,
    path: Path,
    start: int,
    end: int,
    timeout: httpx.Timeout,
    retry: RetryPolicy,
    allowed: UrlCheck,
    pace: Pace,
) -> None:
    """Bytes ``start`` to ``end`` (exclusive) of the file, written at their place in
    ``path`` (best effort: a host that ignores ranges leaves the file as it was)."""
    headers = {"Accept-Encoding": IDENTITY, "Range": f"bytes={start}-{end - 1}"}
    try:
        async with _vetted(client, url, allowed, timeout, retry, headers) as (response, _):
            match = _CONTENT_RANGE.match(response.headers.get("content-range", "").strip())
            if response.status_code != 206 or match is None or int(match.group(1)) != start:
                return
            await _write_range(response, path, start, end - start, pace)
    except _Retryable:
        return  # the head alone is still worth probing


async def _write_range(
    response: httpx.Response, path: Path, offset: int, limit: int, pace: Pace
) -> int:
    """Write at most ``limit`` bytes of the body at ``offset``; stops reading after that."""
    written = 0
    mode = "r+b" if path.exists() else "wb"
    with path.open(mode) as out:
        out.seek(offset)
        # Decoded pieces are at most PIECE bytes: reading stops at the limit, so a
        # compressed head cannot inflate past limit + PIECE.
        async for chunk in iter_body(
            response, max_bytes=limit + PIECE, min_rate=pace.min_rate, grace=pace.grace_s
        ):
            keep = chunk[: limit - written]
            out.write(keep)
            written += len(keep)
            if written >= limit:
                break
    return written


def _index_range(
    path: Path, written: int, total: int | None, budget: int
) -> tuple[int, int] | None:
    """The range still needed for ffprobe to read an MP4 whose index is not in the head."""
    if total is None or total <= written:
        return None
    with path.open("rb") as f:
        if sniff(f.read(64)) is not MP4:
            return None
        return mp4_index_range(f, written, total, budget)


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
