"""Discovery never reaches past what the card allows: feed and media hosts are untrusted.

A real channel (store, Discovery actor, real ffprobe) against real loopback servers. The
hostile case sits next to the allowed one: with the card's default policy a feed on a
loopback address is refused before any request (DISCOVERY_FAILED_DOMAIN, "address
refused"); hostile items of an allowed feed are refused one by one, audited, and an
internal host sees nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio

from actors.daemon import boot
from actors.discovery import Discovery
from tests.daemon.harness import CARD, make_settings
from tests.support.cards import feed_source
from tests.support.hostile import hls_playlist, internal_host, make_secret_ts, second_host
from tests.support.loopback import Reply, redirect, start_loopback
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.messages import RunDiscovery

EPOCH = utc(2026, 3, 2, 12)


def card_with_feed(url: str, **search: object) -> dict[str, object]:
    """The whole-channel tests' card plus a JSON Feed source, its search policy changed."""
    return {
        **CARD,
        "search_policy": {**CARD["search_policy"], **search},
        "sources": [*CARD["sources"], feed_source("news", url, "jsonfeed")],
    }


async def test_a_feed_on_loopback_is_refused_by_default_and_read_once_allowed(
    tmp_path: Path, slate_template: Path, nursery: trio.Nursery
) -> None:
    web = await start_loopback(nursery)
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": []}
    url = web.serve("/feed.json", Reply(body=json.dumps(doc).encode()))
    for allow in (False, True):
        root = tmp_path / ("allowed" if allow else "strict")
        private = ["127.0.0.0/8"] if allow else []  # the default: none
        card = card_with_feed(url, allow_private_addresses=private)
        settings = make_settings(root, slate_template, card)
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


async def test_hostile_items_of_a_feed_are_refused_alone_audited_and_reach_nothing(
    tmp_path: Path, slate_template: Path, media: dict[str, bytes], nursery: trio.Nursery
) -> None:
    """The issue's three reproductions, through the real Discovery actor: an item that
    redirects to an internal URL, one that is an HLS playlist whose segments live on the
    internal host, and one whose only segment is a private local file. Each is refused
    with its reason audited; the good item next to them is planned at 720p; the internal
    host (the metadata service) sees zero requests."""
    internal = await internal_host(nursery)  # 127.0.0.1
    web = await second_host(nursery, internal.port)  # 127.0.0.2: the only allowed address
    secret = make_secret_ts(tmp_path / "private" / "secret.ts")
    web.serve("/good.mp4", media["bars"], content_type="video/mp4")
    web.serve("/r.mp4", redirect(internal.url_for("/latest/meta-data/iam")))
    web.serve("/p.mp4", hls_playlist(internal.url_for("/seg0.ts")), content_type="video/mp4")
    web.serve("/x.mp4", hls_playlist(secret.as_uri()), content_type="video/mp4")
    items = [
        {"title": title, "attachments": [{"url": path, "mime_type": "video/mp4"}]}
        for title, path in (
            ("Good", "good.mp4"),
            ("To metadata", "r.mp4"),
            ("Segments elsewhere", "p.mp4"),
            ("Local secret", "x.mp4"),
        )
    ]
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": items}
    url = web.serve("/feed.json", Reply(body=json.dumps(doc).encode()))
    # 127.0.0.1 is allowlisted by name (as the old sample card did); only 127.0.0.2's
    # address is allowed: the internal host is refused by the address policy.
    card = card_with_feed(
        url,
        allowlist_domains=["127.0.0.1", "127.0.0.2"],
        allow_private_addresses=["127.0.0.2/32"],
    )
    settings = make_settings(tmp_path, slate_template, card)

    with offload.inline():
        ch = await boot(settings, clock=TrioClock(EPOCH))
        try:
            outcome = await Discovery(ch).discover(RunDiscovery(ch.clock.now(), "t"))
            rejected = ch.store.query_audit(event_type="discovery_rejected", limit=None)
            plans = ch.store.list_plans(limit=10).items
        finally:
            ch.store.close()
    assert outcome.failed_sources == () and outcome.accepted == 1
    assert [(p.title, p.resolution_height) for p in plans] == [("Good", 720)]
    by_title = {e.details["title"]: e for e in rejected}
    assert {t: e.reason_code for t, e in by_title.items()} == {
        "To metadata": "ADDRESS_REFUSED",
        "Segments elsewhere": "MEDIA_FORMAT_REFUSED",
        "Local secret": "MEDIA_FORMAT_REFUSED",
    }
    assert "127.0.0.1 is loopback" in by_title["To metadata"].details["why"]
    assert "an HLS playlist" in by_title["Local secret"].details["why"]
    assert internal.requests == []
    # No probe head is left behind in the runtime.
    assert not list(settings.media_dir.glob(".probe-*"))
