"""Hostile and broken feeds against a real channel: each source fails alone, with its reason.

``tests/discover`` checks the feed parsers and the capped fetch one source at a time;
here a real ``vvtv run`` has them all in its OwnerCard next to a good feed, served by a
loopback server (it stands in for the web) that records what it sent. Rules: an XML bomb
and an external entity are refused as unsafe XML (nothing expanded, no file read), a feed
streamed without end is cut at the cap (the server sends little more than the cap), a
declared oversize feed is not read, malformed XML/JSON and a feed that is not a feed each
fail their source with the reason audited; the good feed's item is accepted; no actor
crashed and the daemon writes no traceback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.proof.chaos_fixtures import slate
from tests.proof.daemon_process import Channel, make_clip, wait_for
from vvtv.discover.sources.http import DEFAULT_MAX_BYTES

__all__ = ["slate"]

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
}
ENDLESS = "endless"  # streamed without a length, for ever
DECLARED = "declared"  # says it is 1 GiB


class Web:
    """The loopback web: feeds, one good clip, and a count of the bytes each path sent."""

    def __init__(self, clip: Path) -> None:
        self.clip = clip
        self.sent: dict[str, int] = {}
        self.url = ""

    def good_feed(self) -> bytes:
        return f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Good</title>
<item><title>Good clip</title><guid>good-1</guid>
<enclosure url="{self.url}/media/good.mp4" type="video/mp4" length="{self.clip.stat().st_size}"/>
<media:content url="{self.url}/media/good.mp4" type="video/mp4" duration="6" height="720"/>
</item></channel></rss>""".encode()

    @property
    def card_sources(self) -> str:
        lines = [f"  - {{name: {n}, kind: {k}, location: '{self.url}/feed/{n}'}}"
                 for n, (k, _) in FEEDS.items()]  # fmt: skip
        lines += [
            f"  - {{name: {ENDLESS}, kind: rss, location: '{self.url}/feed/{ENDLESS}'}}",
            f"  - {{name: {DECLARED}, kind: rss, location: '{self.url}/feed/{DECLARED}'}}",
            f"  - {{name: good, kind: rss, location: '{self.url}/feed/good'}}",
        ]
        return "\n".join(lines) + "\n"

    def serve(self) -> Iterator[Web]:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                try:
                    if self.path.startswith("/feed/") and name in FEEDS:
                        self._send(FEEDS[name][1])
                    elif self.path == "/feed/good":
                        self._send(web.good_feed())
                    elif self.path == "/media/good.mp4":
                        self._send(web.clip.read_bytes(), "video/mp4")
                    elif name == ENDLESS:
                        self._endless()
                    elif name == DECLARED:
                        self.send_response(200)
                        self.send_header("Content-Length", str(1 << 30))
                        self.end_headers()
                        self._count(self.wfile.write(b"<rss>" + b" " * 65536))
                    else:
                        self.send_error(404)
                except OSError:
                    pass  # the daemon hung up (it is allowed to)

            def _send(self, body: bytes, kind: str = "application/xml") -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self._count(self.wfile.write(body))

            def _endless(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"5\r\n<rss>\r\n")
                chunk = b"<item><title>x</title></item>" * 2000
                while web.sent.get(self.path, 0) < 20 * DEFAULT_MAX_BYTES:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self._count(len(chunk))

            def _count(self, n: int | None) -> None:
                web.sent[self.path] = web.sent.get(self.path, 0) + (n or 0)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    clip = make_clip(tmp_path_factory.mktemp("feeds-media") / "good.mp4", seconds=6, tone_hz=520)
    yield from Web(clip).serve()


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory, slate: Path, web: Web) -> Iterator[Channel]:
    root = tmp_path_factory.mktemp("feeds-channel")
    empty = root / "library"
    empty.mkdir()
    channel = Channel(root, empty, slate)
    channel.card.write_text(
        "schema_version: 1\nsearch_policy:\n  allowlist_domains: [127.0.0.1]\n"
        "schedule_policy:\n  timezone: UTC\nsources:\n" + web.card_sources
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
    assert "good" not in failed
    assert "unsafe XML refused" in failed["bomb"]
    assert "unsafe XML refused" in failed["xxe"]
    assert "cap" in failed[ENDLESS] and "cap" in failed[DECLARED]
    window = json.loads(channel.audit("window_discovery", "scheduler")[0][4])
    assert set(window["failed_sources"]) == {*FEEDS, ENDLESS, DECLARED}


def test_nothing_hostile_was_expanded_read_or_swallowed_whole(channel: Channel, web: Web) -> None:
    everything = " ".join(str(r) for r in channel.query("SELECT details FROM audit_events"))
    assert "root:x:0:0" not in everything, "an external entity was resolved"
    assert "lollollol" not in everything, "an entity was expanded"
    # The endless feed was cut at the cap (plus what sat in socket buffers), not read on.
    assert web.sent[f"/feed/{ENDLESS}"] < DEFAULT_MAX_BYTES + 8 * 1024 * 1024
    assert web.sent.get(f"/feed/{DECLARED}", 0) <= 65536 + 5


def test_the_good_feed_next_to_them_is_accepted_and_no_actor_crashed(channel: Channel) -> None:
    titles = [r[0] for r in channel.query("SELECT json_extract(data, '$.title') FROM plans")]
    assert "Good clip" in titles, titles
    tree = httpx.get(f"{channel.base_url}/v1/runtime", timeout=10).json()
    crashed = {n["name"]: n["last_failure"] for n in walk(tree) if n["failures"]}
    assert not crashed, f"bad feeds crashed actors: {crashed}"


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("children") or [] for n in walk(child))]
