"""A feed that fails is audited by the Discovery actor as ``DISCOVERY_FAILED_DOMAIN`` with
its source, domain and reason (SPEC §1.1, §4); the other sources still run, and three such
failures in 24 h are what the DISCOVERY_DOMAIN_FAILURE alert counts."""

from __future__ import annotations

import json
from pathlib import Path

import trio
import trio.testing

from actors.alerter import inputs_from_store
from actors.daemon import boot
from actors.discovery import Discovery
from supervisors import ChildSpec, Supervisor
from supervisors.testing import running
from tests.daemon.harness import CARD, make_settings
from tests.support.cards import feed_source
from tests.support.loopback import Reply, start_loopback
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.messages import RunDiscovery
from vvtv.notify.alerts import AlertInputs, evaluate

EPOCH = utc(2026, 3, 2, 12)


async def test_a_json_feed_answering_500_is_audited_with_its_domain_and_reason(
    tmp_path: Path,
    slate_template: Path,
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
) -> None:
    feeds = await start_loopback(nursery)
    url = feeds.serve(
        "/feed.json", Reply(500, b'{"error": "boom"}', content_type="application/json")
    )
    news = feed_source("news", url, kind="jsonfeed")
    settings = make_settings(
        tmp_path, slate_template, {**CARD, "sources": [*CARD["sources"], news]}
    )

    with offload.inline():
        ch = await boot(settings, clock=TrioClock(EPOCH))
        try:
            tree = Supervisor("pipeline", [ChildSpec("discovery", lambda: Discovery(ch))])
            async with running(tree) as runtime:
                outcomes = []
                for hour in range(3):
                    outcomes.append(
                        await runtime.ref("discovery").call(
                            RunDiscovery(ch.clock.now(), f"trace-{hour}"), timeout=600
                        )
                    )
                    await trio.sleep(3600)

            assert all(o.failed_sources == ("news",) for o in outcomes)
            assert feeds.hits("/feed.json") >= 3

            failed = ch.store.query_audit(event_type="discovery_source_failed", limit=None)
            assert len(failed) == 3
            first = failed[0]
            assert first.reason_code == "DISCOVERY_FAILED_DOMAIN"
            assert first.actor == "discovery"
            assert first.trace_id == "trace-0"
            assert first.details["source"] == "news"
            assert first.details["domain"] == "127.0.0.1"
            assert "500" in first.details["reason"]
            assert url in first.details["reason"]
            assert first.details["item"] is None

            # The folder source still ran: each run is summarised.
            assert len(ch.store.query_audit(event_type="discovery_summary", limit=None)) == 3

            # Three failures in the last 24 h: the alert rule's input and the alert.
            inputs = AlertInputs(**inputs_from_store(ch.store, ch.clock.now()))
            assert inputs.discovery_failures_24h == 3
            assert "DISCOVERY_DOMAIN_FAILURE" in evaluate(inputs)
        finally:
            ch.store.close()


async def test_a_bad_item_is_audited_as_item_rejected_and_the_good_one_next_to_it_is_planned(
    tmp_path: Path,
    slate_template: Path,
    media: dict[str, bytes],
    nursery: trio.Nursery,
) -> None:
    """A JSON Feed item claiming ``duration: 1e12`` once got stored and crashed every later
    window; now it is refused alone (``ITEM_REJECTED`` with the source, the item, the field
    and why) and the good item of the same feed is screened, probed (really: ffprobe, on
    the real clock) and planned."""
    web = await start_loopback(nursery)
    web.serve("/good.mp4", Reply(body=media["bars"], content_type="video/mp4"))
    items = [
        {"title": "Liar", "attachments": [{"url": "liar.mp4", "duration_in_seconds": 1e12}]},
        {"title": "Honest", "attachments": [{"url": "good.mp4", "duration_in_seconds": 4}]},
    ]
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": items}
    url = web.serve(
        "/feed.json", Reply(body=json.dumps(doc).encode(), content_type="application/json")
    )
    news = feed_source("news", url, kind="jsonfeed")
    settings = make_settings(
        tmp_path, slate_template, {**CARD, "sources": [*CARD["sources"], news]}
    )

    with offload.inline():
        ch = await boot(settings, clock=TrioClock(EPOCH))
        try:
            outcome = await Discovery(ch).discover(RunDiscovery(ch.clock.now(), "trace-items"))
            assert outcome.failed_sources == ()
            assert outcome.accepted == 1
            titles = [p.title for p in ch.store.list_plans(limit=10).items]
            assert titles == ["Honest"]
            (event,) = ch.store.query_audit(event_type="discovery_item_rejected", limit=None)
            assert event.reason_code == "ITEM_REJECTED"
            assert event.details["source"] == "news"
            assert event.details["item"] == "items[0]"
            assert event.details["field"] == "attachments.duration_in_seconds"
            assert "1e+12 s is over" in event.details["reason"]
            assert web.hits("/liar.mp4") == 0  # never probed, never fetched
        finally:
            ch.store.close()
