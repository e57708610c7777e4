"""Fetching media over HTTP from a loopback server, and from local folders.

The loopback server stands for a media host on the internet, so every fetch here allows
127.0.0.0/8 explicitly (``fetch`` below); by default loopback is refused
(``tests/media/test_fetch_guard.py``).
"""

from __future__ import annotations

import hashlib
import ssl
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trio

from tests.support.loopback import Loopback, Reply, closed_port, redirect
from vvtv.core import tls
from vvtv.core.retry import RetryPolicy
from vvtv.guard.addresses import AddressPolicy
from vvtv.media import fetch as media_fetch
from vvtv.media.fetch import (
    MAX_REDIRECTS,
    MEDIA_RETRY,
    FetchError,
    is_acceptable_content_type,
)

LOOPBACK = AddressPolicy.from_entries(["127.0.0.0/8"])
fetch = partial(media_fetch.fetch, addresses=LOOPBACK)

BODY = bytes(range(256)) * 4096  # 1 MiB
ONE_RETRY = RetryPolicy(retries=1)


def visible(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


async def test_a_download_lands_under_its_checksum_with_the_right_size(
    server: Loopback, tmp_path: Path
) -> None:
    url = server.serve("/media/clip.mp4", BODY)
    got = await fetch(url, tmp_path, max_bytes=10 << 20)
    digest = hashlib.sha256(BODY).hexdigest()
    assert got.sha256 == digest
    assert got.size_bytes == len(BODY)
    assert got.path == tmp_path / f"{digest}.mp4"
    assert got.path.read_bytes() == BODY
    assert got.content_type == "video/mp4"
    assert visible(tmp_path) == [f"{digest}.mp4"]


async def test_the_same_bytes_from_two_urls_land_on_the_same_file(
    server: Loopback, tmp_path: Path
) -> None:
    a = await fetch(server.serve("/a.mp4", BODY), tmp_path, max_bytes=10 << 20)
    b = await fetch(server.serve("/b.mp4", BODY), tmp_path, max_bytes=10 << 20)
    assert a.path == b.path
    assert len(visible(tmp_path)) == 1


async def test_404_fails_at_once_without_retrying(
    server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    with pytest.raises(FetchError) as info:
        await fetch(server.url_for("/missing.mp4"), tmp_path, max_bytes=1 << 20)
    assert info.value.reason_code == "HTTP_404"
    assert server.hits("/missing.mp4") == 1
    assert visible(tmp_path) == []


async def test_503_then_200_is_retried_after_a_backoff(
    server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    server.serve("/flaky.mp4", Reply(503, b"busy", "text/plain"), Reply(200, BODY))
    start = trio.current_time()
    got = await fetch(
        server.url_for("/flaky.mp4"), tmp_path, max_bytes=10 << 20, retry=RetryPolicy(base_s=2.0)
    )
    assert got.size_bytes == len(BODY)
    assert server.hits("/flaky.mp4") == 2
    assert trio.current_time() - start >= 2.0  # waited the first back-off (virtual time)


async def test_429_honours_retry_after_and_gives_up_after_the_retries(
    server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    server.serve("/busy.mp4", Reply(429, b"", "text/plain", headers={"Retry-After": "7"}))
    start = trio.current_time()
    with pytest.raises(FetchError) as info:
        await fetch(
            server.url_for("/busy.mp4"), tmp_path, max_bytes=1 << 20, retry=RetryPolicy(retries=2)
        )
    assert info.value.reason_code == "HTTP_429"
    assert server.hits("/busy.mp4") == 3
    assert "gave up after 3 attempts" in info.value.message
    # The host asked for 7 s twice; the policy alone would have waited 0.3 + 0.6 s.
    assert 14.0 <= trio.current_time() - start < 15.0


async def test_a_retry_after_beyond_the_cap_waits_only_the_cap(
    server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    server.serve(
        "/later.mp4",
        Reply(503, b"", "text/plain", headers={"Retry-After": "86400"}),
        Reply(200, BODY),
    )
    start = trio.current_time()
    await fetch(server.url_for("/later.mp4"), tmp_path, max_bytes=10 << 20)
    assert server.hits("/later.mp4") == 2
    assert trio.current_time() - start == pytest.approx(MEDIA_RETRY.cap_s, abs=0.5)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
async def test_statuses_that_mean_not_now_are_retried(
    status: int, server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    server.serve(
        "/x.mp4",
        Reply(status, b"", "text/plain"),
        Reply(status, b"", "text/plain"),
        Reply(200, BODY),
    )
    got = await fetch(server.url_for("/x.mp4"), tmp_path, max_bytes=10 << 20)
    assert got.size_bytes == len(BODY)
    assert server.hits("/x.mp4") == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
async def test_statuses_that_mean_no_are_not_retried(
    status: int, server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    server.serve("/x.mp4", Reply(status, b"", "text/plain"))
    with pytest.raises(FetchError) as info:
        await fetch(server.url_for("/x.mp4"), tmp_path, max_bytes=10 << 20)
    assert info.value.reason_code == f"HTTP_{status}"
    assert server.hits("/x.mp4") == 1


async def test_a_server_that_stalls_times_out_after_retries(
    server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    server.serve("/stall.mp4", Reply(200, BODY, stall_before_body=3600))
    start = trio.current_time()
    with pytest.raises(FetchError) as info:
        await fetch(
            server.url_for("/stall.mp4"),
            tmp_path,
            max_bytes=10 << 20,
            read_timeout=5,
            retry=RetryPolicy(retries=1),
        )
    assert info.value.reason_code == "TIMEOUT"
    assert server.hits("/stall.mp4") == 2
    assert 10.0 <= trio.current_time() - start < 60.0
    assert visible(tmp_path) == []


async def test_a_declared_size_over_the_limit_is_refused_before_download(
    server: Loopback, tmp_path: Path
) -> None:
    url = server.serve("/big.mp4", BODY)
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=1000)
    assert info.value.reason_code == "TOO_LARGE"
    assert visible(tmp_path) == []


async def test_an_undeclared_size_over_the_limit_is_aborted_and_nothing_is_left(
    server: Loopback, tmp_path: Path
) -> None:
    server.serve("/sneaky.mp4", Reply(200, BODY, advertise_length=False))
    with pytest.raises(FetchError) as info:
        await fetch(server.url_for("/sneaky.mp4"), tmp_path, max_bytes=100_000)
    assert info.value.reason_code == "TOO_LARGE"
    assert visible(tmp_path) == []


async def test_an_html_page_is_refused_as_bad_content_type(
    server: Loopback, tmp_path: Path
) -> None:
    url = server.serve("/page.mp4", b"<html>nope</html>", content_type="text/html; charset=utf-8")
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=1 << 20)
    assert info.value.reason_code == "BAD_CONTENT_TYPE"
    assert "text/html" in info.value.message
    assert visible(tmp_path) == []


async def test_an_hls_playlist_is_refused_with_a_reason_saying_so(
    server: Loopback, tmp_path: Path
) -> None:
    url = server.serve("/live.m3u8", b"#EXTM3U\n", content_type="application/vnd.apple.mpegurl")
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=1 << 20)
    assert info.value.reason_code == "MEDIA_FORMAT_REFUSED"
    assert "HLS playlist" in info.value.message


def test_content_type_sanity_accepts_media_and_refuses_documents() -> None:
    for ok in ("video/mp4", "audio/mpeg", "application/octet-stream", "", "VIDEO/WebM"):
        assert is_acceptable_content_type(ok), ok
    for bad in ("text/html", "application/json", "text/plain", "application/xml"):
        assert not is_acceptable_content_type(bad), bad


async def test_a_refused_connection_is_a_transport_error_after_retries(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/x.mp4"  # nothing listens there
    with pytest.raises(FetchError) as info:
        await fetch(dead, tmp_path, max_bytes=1 << 20, retry=ONE_RETRY)
    assert info.value.reason_code == "TRANSPORT"


def only_loopback_ip(url: str) -> bool:
    """The allowlist of these tests: 127.0.0.1 is allowed, the name ``localhost`` is not."""
    return urlsplit(url).hostname == "127.0.0.1"


async def test_redirects_within_the_allowlist_are_followed(
    server: Loopback, tmp_path: Path
) -> None:
    server.serve("/new/clip.mp4", BODY)
    server.serve("/old.mp4", redirect("/new/clip.mp4", 302))
    got = await fetch(
        server.url_for("/old.mp4"), tmp_path, max_bytes=10 << 20, allowed=only_loopback_ip
    )
    assert got.path.read_bytes() == BODY
    assert server.hits("/new/clip.mp4") == 1


async def test_a_redirect_off_the_allowlist_is_refused_before_it_is_requested(
    server: Loopback, tmp_path: Path
) -> None:
    elsewhere = f"http://localhost:{server.port}/smuggled.mp4"
    server.serve("/smuggled.mp4", BODY)
    server.serve("/clip.mp4", redirect(elsewhere, 301))
    with pytest.raises(FetchError) as info:
        await fetch(
            server.url_for("/clip.mp4"), tmp_path, max_bytes=10 << 20, allowed=only_loopback_ip
        )
    assert info.value.reason_code == "NOT_ALLOWED"
    assert elsewhere in info.value.message and "redirected from" in info.value.message
    assert server.hits("/smuggled.mp4") == 0
    assert server.hits("/clip.mp4") == 1  # not retried
    assert visible(tmp_path) == []


async def test_a_url_off_the_allowlist_is_not_requested_at_all(
    server: Loopback, tmp_path: Path
) -> None:
    url = f"http://localhost:{server.port}/clip.mp4"
    with pytest.raises(FetchError) as info:
        await fetch(url, tmp_path, max_bytes=1 << 20, allowed=only_loopback_ip)
    assert info.value.reason_code == "NOT_ALLOWED"
    assert server.requests == []


async def test_a_redirect_loop_gives_up_with_a_reason(server: Loopback, tmp_path: Path) -> None:
    server.serve("/loop.mp4", redirect("/loop.mp4", 302))
    with pytest.raises(FetchError) as info:
        await fetch(server.url_for("/loop.mp4"), tmp_path, max_bytes=1 << 20)
    assert info.value.reason_code == "TOO_MANY_REDIRECTS"
    assert server.hits("/loop.mp4") == MAX_REDIRECTS + 1


async def test_a_cancelled_download_leaves_no_file(
    server: Loopback, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    server.serve("/slow.mp4", Reply(200, BODY, stall_before_body=20))
    with trio.move_on_after(10):
        await fetch(server.url_for("/slow.mp4"), tmp_path, max_bytes=10 << 20, read_timeout=60)
    assert visible(tmp_path) == []


async def test_a_local_file_is_linked_or_copied_under_its_checksum(tmp_path: Path) -> None:
    source = tmp_path / "folder" / "My Clip.MP4"
    source.parent.mkdir()
    source.write_bytes(BODY)
    dest = tmp_path / "dest"
    got = await fetch(str(source), dest, max_bytes=10 << 20)
    assert got.path == dest / f"{hashlib.sha256(BODY).hexdigest()}.mp4"
    assert got.path.read_bytes() == BODY
    got.path.unlink()  # removing the prepared source never touches the owner's folder
    assert source.read_bytes() == BODY
    again = await fetch(source.as_uri(), dest, max_bytes=10 << 20)
    assert again.sha256 == got.sha256


async def test_local_failures_are_named(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        await fetch(str(tmp_path / "gone.mp4"), tmp_path / "d", max_bytes=100)
    assert info.value.reason_code == "NOT_FOUND"
    big = tmp_path / "big.mp4"
    big.write_bytes(BODY)
    with pytest.raises(FetchError) as info:
        await fetch(str(big), tmp_path / "d", max_bytes=100)
    assert info.value.reason_code == "TOO_LARGE"
    with pytest.raises(FetchError) as info:
        await fetch("ftp://example.org/x.mp4", tmp_path / "d", max_bytes=100)
    assert info.value.reason_code == "BAD_URL"
    assert visible(tmp_path / "d") == []


async def test_every_download_shares_one_verifying_tls_context(
    server: Loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building a TLS context loads the CA bundle (40-70 ms on the event loop): a client
    # per download must reuse the daemon's one, and it must still check certificates.
    tls.client_context()  # the daemon warms it at boot
    loads: list[object] = []
    real_load = ssl.SSLContext.load_verify_locations

    def recording(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args)
        real_load(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", recording)
    url = server.serve("/media/clip.mp4", BODY)
    await fetch(url, tmp_path / "a", max_bytes=10 << 20)
    await fetch(url, tmp_path / "b", max_bytes=10 << 20)
    assert loads == []
    assert tls.client_context().verify_mode is ssl.CERT_REQUIRED
    assert tls.client_context().check_hostname
