"""Discovery never reaches past what the card allows: feed and media hosts are untrusted.

A real channel (store, Discovery actor) against real loopback servers. The hostile case
sits next to the allowed one: with the card's default policy a feed on a loopback address
is refused before any request (DISCOVERY_FAILED_DOMAIN, "address refused"), while the
folder source of the same card keeps working (folders do no network).
"""

from __future__ import annotations

import json
from pathlib import Path

import trio

from actors.daemon import boot
from actors.discovery import Discovery
from tests.daemon.harness import make_settings
from tests.support.loopback import Reply, start_loopback
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.messages import RunDiscovery

EPOCH = utc(2026, 3, 2, 12)
STRICT_SEARCH = "allow_private_addresses: []"
ALLOWED_SEARCH = "allow_private_addresses: [127.0.0.0/8]"


def with_feed(settings, url: str, *, allow_loopback: bool) -> None:
    card = Path(settings.owner_card_path)
    text = card.read_text()
    assert ALLOWED_SEARCH in text
    if not allow_loopback:
        text = text.replace(ALLOWED_SEARCH, STRICT_SEARCH)
    card.write_text(text + f"  - {{name: news, kind: jsonfeed, location: '{url}'}}\n")


async def test_a_feed_on_loopback_is_refused_by_default_and_read_once_allowed(
    tmp_path: Path, slate_template: Path, nursery: trio.Nursery
) -> None:
    web = await start_loopback(nursery)
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": []}
    url = web.serve("/feed.json", Reply(body=json.dumps(doc).encode()))
    for allow in (False, True):
        root = tmp_path / ("allowed" if allow else "strict")
        settings = make_settings(root, slate_template)
        with_feed(settings, url, allow_loopback=allow)
        with offload.inline():
            ch = await boot(settings, clock=TrioClock(EPOCH))
            try:
                outcome = await Discovery(ch).discover(RunDiscovery(ch.clock.now(), "t"))
                failed = ch.store.query_audit(event_type="discovery_source_failed", limit=None)
            finally:
                ch.store.close()
        if allow:
            assert outcome.failed_sources == () and failed == []
            assert web.hits("/feed.json") == 1
        else:
            assert outcome.failed_sources == ("news",)
            (event,) = failed
            assert event.reason_code == "DISCOVERY_FAILED_DOMAIN"
            assert "address refused: 127.0.0.1 is loopback" in event.details["reason"]
            assert web.requests == []  # refused before connecting
