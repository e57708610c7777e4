"""Hostile and broken feeds against a real channel: each source fails alone, with its reason.

``tests/discover`` checks the feed parsers and the capped fetch one source at a time;
here a real ``vvtv run`` has them all in its OwnerCard next to a good feed, served by a
loopback server (it stands in for the web) that records what it sent. Rules: an XML bomb
and an external entity are refused as unsafe XML (nothing expanded, no file read), a feed
streamed without end is cut at the cap (the server sends little more than the cap), a
declared oversize feed is not read, malformed XML/JSON and a feed that is not a feed each
fail their source with the reason audited, and so do an unknown encoding and JSON nested
100,000 deep; the good feed's item is accepted, and so are the good items of two feeds
whose other items are refused one by one (``ITEM_REJECTED``: a duration of 1e12 s, a URL
that does not parse, a local file, a 5,000-digit number), never fetched; no actor crashed
and the daemon writes no traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.proof.daemon_process import Channel
from tests.support.cards import feed_source, loopback_hosts, write_card
from tests.support.loopback import Loopback, Pause, Reply, loopback_in_thread
from tests.support.media import make_clip
from tests.support.waiting import wait_for
from vvtv.discover.sources.http import DEFAULT_MAX_BYTES

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><item><title>&lol9;</title></item></channel></rss>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&secret;</title>
<enclosure url="http://127.0.0.1/x.mp4" type="video/mp4"/></item></channel></rss>
"""
FEEDS: dict[str, tuple[str, bytes]] = {
    "bomb": ("rss", BOMB),
    "xxe": ("rss", XXE),
    "malformed_xml": ("rss", b"<rss version='2.0'><channel><item><title>Broken</channel></rss>"),
    "malformed_json": ("jsonfeed", b'{"version": "https://jsonfeed.org/version/1.1", "items": [ {'),
    "json_not_a_feed": ("jsonfeed", b"[1, 2, 3]"),
    "html": ("rss", b"<!doctype html><html><body>Not a feed</body></html>"),
    "empty": ("rss", b""),
    "binary": ("rss", bytes(range(256)) * 64),
    "unknown_encoding": ("rss", b'<?xml version="1.0" encoding="x-klingon"?><rss><channel/></rss>'),
    "deep_json": (
        "jsonfeed",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000,
    ),
}
# Feeds whose bad items must lose only themselves: the good item next to them is planned.
MIXED = "mixed"
MIXED_JSON = "mixed_json"
ENDLESS = "endless"  # streamed without a length, for ever
DECLARED = "declared"  # says it is 1 GiB


def endless_feed() -> Iterator[bytes]:
    """An RSS document that does not end: ``<rss>``, then items to 20 times the cap."""
    yield b"<rss>"
    chunk = b"<item><title>x</title></item>" * 2000
    for _ in range(20 * DEFAULT_MAX_BYTES // len(chunk) + 1):
        yield chunk


class Web:
    """The loopback web: the feeds, one good clip, and a record of what each path sent."""

    def __init__(self, clip: Path, server: Loopback) -> None:
        self.clip = clip
        self.server = server
        self.url = server.base
        xml = "application/xml"
        for name, (_, body) in FEEDS.items():
            server.serve(f"/feed/{name}", Reply(body=body, content_type=xml))
        server.serve("/feed/good", lambda _: Reply(body=self.good_feed(), content_type=xml))
        server.serve("/media/good.mp4", clip.read_bytes())
        server.serve(
            f"/feed/{MIXED}",
            lambda _: Reply(
                body=self.mixed_feed(), content_type="application/rss+xml; charset=Shift_JIS"
            ),
        )
        server.serve(
            f"/feed/{MIXED_JSON}",
            lambda _: Reply(body=self.mixed_json(), content_type="application/feed+json"),
        )
        server.serve("/media/mixed.mp4", clip.read_bytes())
        server.serve("/media/json.mp4", clip.read_bytes())
        # Streamed without a length: far more than the cap, unless the reader stops.
        server.serve(
            f"/feed/{ENDLESS}",
            lambda _: Reply(body=endless_feed(), content_type="application/rss+xml", chunked=True),
        )
        # Says 1 GiB, sends 64 KiB, then keeps the connection open.
        server.serve(
            f"/feed/{DECLARED}",
            Reply(body=[b"<rss>" + b" " * 65536, Pause(math.inf)], length=1 << 30),
        )

    def mixed_feed(self) -> bytes:
        return f"""<?xml version="1.0" encoding="Shift_JIS"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Mixed</title>
<item><title>Liar</title><media:content url="{self.url}/media/liar.mp4" type="video/mp4"
 duration="1e12"/></item>
<item><title>Broken URL</title><enclosure url="http://[::1/x.mp4" type="video/mp4"/></item>
<item><title>Local file</title><enclosure url="file:///etc/passwd" type="video/mp4"/></item>
<item><title>東京の夜景</title>
<enclosure url="{self.url}/media/mixed.mp4" type="video/mp4"/>
<media:content url="{self.url}/media/mixed.mp4" type="video/mp4" duration="6" height="720"/>
</item></channel></rss>""".encode("shift_jis")

    def mixed_json(self) -> bytes:
        digits = "9" * 5000  # once: ValueError from Python's int parser, the whole window lost
        return (
            '{"version": "https://jsonfeed.org/version/1.1", "items": ['
            f'{{"title": "Huge", "attachments": [{{"url": "{self.url}/media/huge.mp4",'
            f' "duration_in_seconds": {digits}}}]}},'
            f'{{"title": "Json good clip", "attachments": [{{"url": "{self.url}/media/json.mp4",'
            ' "mime_type": "video/mp4", "duration_in_seconds": 6}]}]}'
        ).encode()

    def good_feed(self) -> bytes:
        return f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Good</title>
<item><title>Good clip</title><guid>good-1</guid>
<enclosure url="{self.url}/media/good.mp4" type="video/mp4" length="{self.clip.stat().st_size}"/>
<media:content url="{self.url}/media/good.mp4" type="video/mp4" duration="6" height="720"/>
</item></channel></rss>""".encode()

    @property
    def card_sources(self) -> list[dict[str, str]]:
        feeds = [(name, kind) for name, (kind, _) in FEEDS.items()]
        feeds += [(ENDLESS, "rss"), (DECLARED, "rss"), ("good", "rss")]
        feeds += [(MIXED, "rss"), (MIXED_JSON, "jsonfeed")]
        return [feed_source(name, f"{self.url}/feed/{name}", kind) for name, kind in feeds]


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    clip = make_clip(
        tmp_path_factory.mktemp("feeds-media") / "good.mp4", seconds=6, tone_hz=520, gop=50
    )
    with loopback_in_thread() as server:
        yield Web(clip, server)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory, slate: Path, web: Web) -> Iterator[Channel]:
    root = tmp_path_factory.mktemp("feeds-channel")
    empty = root / "library"
    empty.mkdir()
    channel = Channel(root, empty, slate)
    write_card(
        channel.card,
        search_policy=loopback_hosts(),
        schedule_policy={"timezone": "UTC"},
        sources=web.card_sources,
    )
    channel.start()
    try:
        wait_for(
            "the first discovery window",
            lambda: channel.audit("window_discovery", "scheduler"),
            timeout=120,
        )
        yield channel
    finally:
        channel.stop()
    assert "Traceback" not in channel.log(), channel.log()[-5000:]


def failures(channel: Channel) -> dict[str, str]:
    rows = channel.query(
        "SELECT json_extract(details, '$.source'), json_extract(details, '$.reason')"
        " FROM audit_events WHERE event_type = 'discovery_source_failed'"
    )
    return {source: reason for source, reason in rows}


def test_every_broken_or_hostile_feed_fails_alone_with_its_reason(channel: Channel) -> None:
    failed = failures(channel)
    for name in [*FEEDS, ENDLESS, DECLARED]:
        assert failed.get(name), f"{name} did not fail with a reason: {failed}"
    assert not {"good", MIXED, MIXED_JSON} & set(failed)
    assert "unsafe XML refused" in failed["bomb"]
    assert "unsafe XML refused" in failed["xxe"]
    assert "cap" in failed[ENDLESS] and "cap" in failed[DECLARED]
    assert "unknown character encoding 'x-klingon'" in failed["unknown_encoding"]
    assert "nested more than 64 levels deep" in failed["deep_json"]
    window = json.loads(channel.audit("window_discovery", "scheduler")[0][4])
    assert set(window["failed_sources"]) == {*FEEDS, ENDLESS, DECLARED}


def test_nothing_hostile_was_expanded_read_or_swallowed_whole(channel: Channel, web: Web) -> None:
    everything = " ".join(str(r) for r in channel.query("SELECT details FROM audit_events"))
    assert "root:x:0:0" not in everything, "an external entity was resolved"
    assert "lollollol" not in everything, "an entity was expanded"
    # The endless feed was cut at the cap (plus what sat in socket buffers), not read on.
    assert 0 < web.server.sent_to(f"/feed/{ENDLESS}") < DEFAULT_MAX_BYTES + 8 * 1024 * 1024
    assert web.server.sent_to(f"/feed/{DECLARED}") <= 65536 + 5


def test_the_good_feed_next_to_them_is_accepted_and_no_actor_crashed(channel: Channel) -> None:
    titles = [r[0] for r in channel.query("SELECT json_extract(data, '$.title') FROM plans")]
    assert "Good clip" in titles, titles
    tree = httpx.get(f"{channel.base_url}/v1/runtime", timeout=10).json()
    crashed = {n["name"]: n["last_failure"] for n in walk(tree) if n["failures"]}
    assert not crashed, f"bad feeds crashed actors: {crashed}"


def test_a_bad_item_loses_only_itself_and_the_good_one_next_to_it_is_planned(
    channel: Channel, web: Web
) -> None:
    titles = {r[0] for r in channel.query("SELECT json_extract(data, '$.title') FROM plans")}
    assert {"東京の夜景", "Json good clip"} <= titles, titles
    assert not {"Liar", "Broken URL", "Local file", "Huge"} & titles
    rejected = channel.query(
        "SELECT json_extract(details, '$.source'), json_extract(details, '$.field'),"
        " json_extract(details, '$.reason') FROM audit_events"
        " WHERE reason_code = 'ITEM_REJECTED' AND event_type = 'discovery_item_rejected'"
    )
    fields = sorted((source, field) for source, field, _ in rejected)
    assert fields == [
        (MIXED, "media:content@duration"),
        (MIXED, "media_url"),
        (MIXED, "media_url"),
        (MIXED_JSON, "attachments.duration_in_seconds"),
    ]
    assert all(reason for _, _, reason in rejected)
    # Nothing refused was ever fetched or probed.
    assert web.server.hits("/media/liar.mp4") == web.server.hits("/media/huge.mp4") == 0


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("children") or [] for n in walk(child))]
