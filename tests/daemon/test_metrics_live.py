"""The pipeline's Prometheus counters move in a running channel (SPEC §4): after a commit
window with real work, ``GET /metrics`` shows the windows run, the fetches (one good, one
404), the preparation and the QA verdict. Real media, a real loopback host, real time
(the window runs at start-up and takes a second or two)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.harness import commit_plan, running_channel
from tests.support.loopback import start_loopback
from tests.support.waiting import wait_until
from vvtv.core.settings import Settings
from vvtv.store import open_store


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_commit_window_moves_the_window_fetch_prepare_and_qa_counters(
    settings: Settings, media: dict[str, bytes], nursery: trio.Nursery
) -> None:
    server = await start_loopback(nursery)
    good = server.serve("/bars.mp4", media["bars"])
    missing = server.url_for("/missing.mp4")
    soon = datetime.now(UTC) + timedelta(hours=1)
    with open_store(settings.state_db) as store:
        store.insert_plans(
            [
                commit_plan(good, "Bars", soon),
                commit_plan(missing, "Missing", soon + timedelta(seconds=4)),
            ]
        )

    async with running_channel(settings) as daemon:
        ch = daemon.ch
        await wait_until(
            "a commit window",
            lambda: ch.store.query_audit(event_type="window_commit", limit=None),
            within=60,
            step=0.05,
        )
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{ch.api_url}/metrics")
        assert response.status_code == 200
        scraped = samples(response.text)

    assert server.hits("/bars.mp4") >= 1 and server.hits("/missing.mp4") >= 1
    assert value(scraped, "vvtv_windows_total", window="discovery", outcome="ok") >= 1
    assert value(scraped, "vvtv_windows_total", window="commit", outcome="ok") >= 1
    assert value(scraped, "vvtv_fetches_total", outcome="ok") == 1
    assert value(scraped, "vvtv_fetches_total", outcome="failed") == 1
    assert value(scraped, "vvtv_prepares_total", outcome="ok") == 1
    assert value(scraped, "vvtv_qa_outcomes_total", outcome="passed") == 1
    assert value(scraped, "vvtv_prepare_duration_seconds_count", outcome="ok") == 1
    # The supervision runtime's per-actor figures come on the same page (one registry).
    assert value(scraped, "actor_mailbox_capacity", actor="buffer") > 0
