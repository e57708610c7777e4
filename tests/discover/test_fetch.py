"""Reading sources over real loopback HTTP: good feeds of each kind, and every way a feed can
fail (HTTP error, timeout, size cap, malformed, hostile) as a SourceError naming the feed and
its domain, without stopping the other sources."""

from __future__ import annotations

import httpx
import pytest
import trio

from tests.support.loopback import Loopback, Reply, closed_port, drip, redirect
from vvtv.core.retry import RetryPolicy
from vvtv.discover.sources import SourceError, SourceFailure, fetch_all
from vvtv.discover.sources.collect import _guarded
from vvtv.discover.sources.http import FEED_RETRY, fetch_feed
from vvtv.ownercard.card import SourceSpec

from . import feeds

FAST = httpx.Timeout(connect=1.0, read=0.5, write=1.0, pool=1.0)
CAP = 64 * 1024


async def test_good_feeds_of_every_kind_yield_their_candidates(
    web: Loopback, client: httpx.AsyncClient
):
    sources = [
        SourceSpec("ocean", "rss", web.serve("/ocean.xml", Reply(body=feeds.RSS_MRSS))),
        SourceSpec("alps", "rss", web.serve("/alps.atom", Reply(body=feeds.ATOM))),
        SourceSpec(
            "city",
            "jsonfeed",
            web.serve("/city.json", Reply(body=feeds.JSON_FEED, content_type="application/json")),
        ),
        SourceSpec(
            "moved",
            "rss",
            web.serve("/old.xml", redirect("/alps.atom", 301)),
        ),
    ]
    found, errors = await fetch_all(sources, client, max_bytes=CAP, timeout=FAST)
    assert errors == []
    assert [(c.source_name, c.title) for c in found] == [
        ("ocean", "Deep Blue"),
        ("ocean", "Reef Group"),
        ("ocean", "Enclosure Only"),
        ("alps", "Alpine Dawn"),
        ("city", "Night Traffic"),
        ("city", "Rain"),
        ("moved", "Alpine Dawn"),
    ]
    # The relative enclosure resolves against the feed's own URL on the loopback host.
    assert found[2].media_url == web.url_for("/media/enclosed.mp4")
    # JSON Feed's relative attachment too.
    assert found[5].media_url == web.url_for("/rain.webm")


FAILURES = [
    ("status500", Reply(status=500, body=b"boom"), "rss", "HTTP 500"),
    ("status404", Reply(status=404, body=b"gone"), "rss", "HTTP 404"),
    ("slow", Reply(body=feeds.RSS_MRSS, stall_before_body=30), "rss", "read timed out"),
    (
        "huge_streamed",
        Reply(body=drip(b"<rss>" + b"x" * 8192, times=100)),  # no Content-Length
        "rss",
        f"larger than the cap of {CAP} bytes",
    ),
    (
        "huge_declared",
        Reply(body=drip(b"x" * 8192, times=100), length=819200),
        "rss",
        f"feed is 819200 bytes, over the cap of {CAP}",
    ),
    ("malformed_xml", Reply(body=feeds.MALFORMED_XML), "rss", "malformed XML"),
    ("malformed_json", Reply(body=feeds.MALFORMED_JSON), "jsonfeed", "malformed JSON"),
    ("xml_bomb", Reply(body=feeds.BILLION_LAUGHS), "rss", "unsafe XML refused"),
    ("external_entity", Reply(body=feeds.EXTERNAL_ENTITY), "rss", "unsafe XML refused"),
    (
        "not_a_feed",
        Reply(body=b"<html/>", content_type="text/html"),
        "rss",
        "not an RSS, RSS 1.0 or Atom feed",
    ),
]


@pytest.mark.parametrize(
    ("name", "reply", "kind", "reason"), FAILURES, ids=[f[0] for f in FAILURES]
)
async def test_a_failing_feed_is_a_source_error_naming_feed_domain_and_reason(
    autojump_clock, web: Loopback, client: httpx.AsyncClient, name, reply, kind, reason
):
    url = web.serve(f"/{name}", reply)
    found, errors = await fetch_all(
        [SourceSpec(name, kind, url)], client, max_bytes=CAP, timeout=FAST
    )
    assert found == []
    (error,) = errors
    assert (error.source_name, error.domain) == (name, "127.0.0.1")
    assert error.reason.startswith(f"{url}: ")
    assert reason in error.reason


async def test_a_fetched_feed_carries_its_content_type_and_where_redirects_led(
    web: Loopback, client: httpx.AsyncClient
):
    kind = "application/rss+xml; charset=Shift_JIS"
    web.serve("/moved/feed.xml", Reply(body=feeds.RSS_MRSS, content_type=kind))
    old = web.serve("/feed.xml", redirect("/moved/feed.xml"))
    fetched = await fetch_feed(client, old, source_name="ocean", timeout=FAST)
    assert fetched.body == feeds.RSS_MRSS
    assert fetched.content_type == kind
    assert fetched.url == web.url_for("/moved/feed.xml")  # the base of its relative links


async def test_one_failing_source_never_stops_the_others(
    autojump_clock, web: Loopback, client: httpx.AsyncClient, tmp_path
):
    dead = f"http://127.0.0.1:{closed_port()}/feed.xml"
    sources = [
        SourceSpec("slow", "rss", web.serve("/slow", Reply(body=b"<rss/>", stall_before_body=60))),
        SourceSpec("dead", "rss", dead),
        SourceSpec("broken", "jsonfeed", web.serve("/broken", Reply(body=b"{"))),
        SourceSpec("ocean", "rss", web.serve("/ocean.xml", Reply(body=feeds.RSS_MRSS))),
        SourceSpec("nowhere", "folder", str(tmp_path / "missing")),
        SourceSpec("odd", "podcast", "https://example.com/x"),
        SourceSpec("ftp", "rss", "ftp://example.com/feed.xml"),
    ]
    found, errors = await fetch_all(sources, client, max_bytes=CAP, timeout=FAST)
    assert {c.source_name for c in found} == {"ocean"}
    assert len(found) == 3
    by_source = {e.source_name: e for e in errors}
    assert set(by_source) == {"slow", "dead", "broken", "nowhere", "odd", "ftp"}
    assert "read timed out" in by_source["slow"].reason
    assert "cannot connect" in by_source["dead"].reason
    assert by_source["nowhere"] == SourceError(
        "nowhere", "local", f"{tmp_path / 'missing'}: not a directory"
    )
    assert "unknown source kind 'podcast'" in by_source["odd"].reason
    assert by_source["odd"].domain == "example.com"
    assert "must be an http(s) URL" in by_source["ftp"].reason


async def test_sources_are_read_concurrently_so_stalled_feeds_cost_one_timeout_together(
    autojump_clock, web: Loopback, client: httpx.AsyncClient
):
    timeout = httpx.Timeout(connect=1.0, read=0.4, write=1.0, pool=1.0)
    stall = Reply(body=b"<rss/>", stall_before_body=10)
    sources = [SourceSpec(f"s{i}", "rss", web.serve(f"/s{i}", stall)) for i in range(4)]
    start = trio.current_time()
    _, errors = await fetch_all(
        sources, client, max_bytes=CAP, timeout=timeout, retry=RetryPolicy.never()
    )
    elapsed = trio.current_time() - start
    assert len(errors) == 4
    assert elapsed == pytest.approx(0.4, abs=0.01)  # one after another would take 1.6 s


async def test_a_trickling_server_is_cut_off_by_the_total_deadline(
    autojump_clock, web: Loopback, client: httpx.AsyncClient
):
    # 1 byte every 0.4 s never trips the 0.5 s read timeout; the total deadline does.
    url = web.serve("/trickle", Reply(body=drip(b"<", times=10_000, every=0.4)))
    with pytest.raises(SourceFailure) as caught:
        await fetch_feed(client, url, source_name="drip", timeout=FAST, total_timeout=5.0)
    assert caught.value.error.reason == f"{url}: gave up after 5 s in total"


@pytest.mark.parametrize("status", [408, 425, 429, 500, 503])
async def test_a_feed_that_says_not_now_is_read_again_before_it_counts_as_failed(
    autojump_clock, web: Loopback, client: httpx.AsyncClient, status: int
):
    busy = Reply(status=status, body=b"busy", content_type="text/plain")
    url = web.serve("/feed.xml", busy, Reply(body=feeds.RSS_MRSS))
    start = trio.current_time()
    found, errors = await fetch_all([SourceSpec("ocean", "rss", url)], client, timeout=FAST)
    assert errors == [] and len(found) == 3
    assert web.hits("/feed.xml") == 2
    # FEED_RETRY's first wait: 1 s, plus at most 20 % jitter
    assert 1.0 <= trio.current_time() - start < 1.3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
async def test_a_feed_that_says_no_is_asked_once(
    autojump_clock, web: Loopback, client: httpx.AsyncClient, status: int
):
    url = web.serve("/feed.xml", Reply(status=status, body=b"no", content_type="text/plain"))
    _, [error] = await fetch_all([SourceSpec("ocean", "rss", url)], client, timeout=FAST)
    assert f"HTTP {status}" in error.reason and "gave up" not in error.reason
    assert web.hits("/feed.xml") == 1


async def test_a_feed_that_stays_busy_fails_after_its_retries_honouring_retry_after(
    autojump_clock, web: Loopback, client: httpx.AsyncClient
):
    busy = Reply(status=503, body=b"", content_type="text/plain", headers={"Retry-After": "4"})
    url = web.serve("/feed.xml", busy)
    start = trio.current_time()
    with pytest.raises(SourceFailure) as caught:
        await fetch_feed(client, url, source_name="ocean", timeout=FAST)
    assert (
        caught.value.error.reason
        == f"{url}: HTTP 503 Service Unavailable (gave up after 3 attempts)"
    )
    assert web.hits("/feed.xml") == FEED_RETRY.attempts == 3
    assert 8.0 <= trio.current_time() - start < 8.5  # asked 4 s twice, more than 1 s and 2 s


async def test_retries_stay_inside_the_total_deadline(
    autojump_clock, web: Loopback, client: httpx.AsyncClient
):
    busy = Reply(status=503, body=b"", content_type="text/plain", headers={"Retry-After": "10"})
    url = web.serve("/feed.xml", busy)
    start = trio.current_time()
    with pytest.raises(SourceFailure) as caught:
        await fetch_feed(client, url, source_name="ocean", timeout=FAST, total_timeout=15.0)
    assert caught.value.error.reason == f"{url}: gave up after 15 s in total"
    assert trio.current_time() - start == pytest.approx(15.0, abs=0.1)
    assert web.hits("/feed.xml") == 2


async def test_an_unreachable_feed_is_tried_again_then_named_as_such(
    autojump_clock, client: httpx.AsyncClient
):
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    with pytest.raises(SourceFailure) as caught:
        await fetch_feed(client, url, source_name="dead", timeout=FAST)
    assert "cannot connect" in caught.value.error.reason
    assert caught.value.error.reason.endswith("(gave up after 3 attempts)")


def test_a_parser_that_raises_unexpectedly_fails_its_source_alone():
    """The readers turn every problem into a SourceFailure or a refused item (the corpus
    tests hold them to it); should one still raise, that source fails with the error,
    never the whole discovery round."""

    def buggy(data: bytes, **_: object) -> tuple[list, list]:
        raise KeyError("surprise")

    with pytest.raises(SourceFailure) as caught:
        _guarded(buggy, b"<rss/>", source_name="odd", feed_url="https://odd.example/f.xml")
    error = caught.value.error
    assert (error.source_name, error.domain, error.item) == ("odd", "odd.example", None)
    assert "KeyError: 'surprise'" in error.reason and "vvtv bug" in error.reason
