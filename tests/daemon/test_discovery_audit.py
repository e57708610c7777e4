"""A feed that fails is audited by the Discovery actor as ``DISCOVERY_FAILED_DOMAIN`` with
its source, domain and reason (SPEC §1.1, §4); the other sources still run, and three such
failures in 24 h are what the DISCOVERY_DOMAIN_FAILURE alert counts."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from actors.alerter import inputs_from_store
from actors.daemon import boot
from actors.discovery import Discovery
from supervisors import ChildSpec, Supervisor
from supervisors.testing import running
from tests.daemon.harness import make_settings
from tests.discover.loopback import Reply, start_loopback
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
    settings = make_settings(tmp_path, slate_template)
    card = Path(settings.owner_card_path)
    card.write_text(card.read_text() + f"  - {{name: news, kind: jsonfeed, location: '{url}'}}\n")

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
            assert feeds.requests.count("/feed.json") >= 3

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
