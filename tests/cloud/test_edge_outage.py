"""The edge goes down and comes back: the channel airs on, then catches up, losing nothing.

A real channel and the real Worker; the Worker is stopped (workerd ends: connection
refused) and started again on the same port with its state. The outage runs on the real
clock, because the edge checks every signature's time against its own: 40 s by default,
with CLOUD_SYNC_FAILING's hold shortened to 5 s (``VVTV_ALERT_CLOUD_FAILING_SECS``) so it
fires within it; the full ten minutes, with the default hold (300 s), under ``-m slow``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from tests.cloud.edge_channel import (
    OriginNumbers,
    edge_playlist_numbers,
    edge_settings,
    queue_items,
    signed,
)
from tests.daemon.harness import running_channel
from tests.support.edge import running_edge
from tests.support.waiting import wait_until
from vvtv.edge.hls import end_sequence


def active(daemon) -> set[str]:  # type: ignore[no-untyped-def]
    alerts = daemon.ch.topics["alerts"].latest or {}
    return {a["code"] for a in alerts.get("alerts", [])}


@pytest.mark.parametrize(
    ("outage_s", "hold_s"),
    [pytest.param(40, 5, id="40s"), pytest.param(600, 300, id="10min", marks=pytest.mark.slow)],
)
async def test_an_edge_outage_loses_nothing_and_the_channel_airs_on(
    tmp_path: Path, slate_template: Path, outage_s: int, hold_s: int
) -> None:
    with running_edge(tmp_path / "edge") as edge:
        settings = edge_settings(
            tmp_path / "channel",
            slate_template,
            edge,
            VVTV_ALERT_CLOUD_FAILING_SECS=str(hold_s),
            VVTV_EDGE_LAG_SEGMENTS="2",
        )
        async with (
            httpx.AsyncClient(base_url=edge.url, timeout=40) as client,
            running_channel(settings) as daemon,
        ):
            ch = daemon.ch
            origin = OriginNumbers(daemon)
            await queue_items(daemon, 120 + outage_s // 30, "show")
            await wait_until("RUNNING", lambda: ch.topics["buffer"].latest["state"] == "RUNNING")

            async def edge_end() -> int:
                reply = await client.get("/hls/index.m3u8")
                if reply.status_code != 200:
                    return 0
                ms, _, uris = edge_playlist_numbers(reply.text)
                return ms + len(uris)

            async def caught_up() -> bool:
                window = ch.live.window
                return window is not None and await edge_end() >= end_sequence(window) - 1

            await wait_until("the edge to catch up", caught_up, within=60, step=0.5)
            await wait_until("the outbox drained", lambda: ch.store.pending_count("cloud") == 0,
                             within=60)  # fmt: skip
            before_end = await edge_end()

            # --- down -------------------------------------------------------------------------
            await trio.to_thread.run_sync(edge.stop)
            start_end = origin.end
            seen: set[str] = set()
            for _ in range(outage_s):
                await trio.sleep(1)  # the outage itself: it lasts as long as it lasts
                status = ch.topics["buffer"].latest
                assert status["state"] == "RUNNING", status  # the channel never stops airing
                assert "STREAM_STALE" not in active(daemon)
                seen |= active(daemon)
            assert origin.end >= start_end + outage_s // 6 - 2  # the origin went on, live
            assert {"EDGE_LAGGING", "CLOUD_SYNC_FAILING"} <= seen, seen

            # --- up again -----------------------------------------------------------------------
            await trio.to_thread.run_sync(lambda: edge.start(port=edge.port))
            assert ch.live.window is not None
            back_from = ch.live.window.media_sequence  # the window when the edge came back
            await wait_until("the edge to catch up again", caught_up, within=60, step=0.5)
            await wait_until(
                "EDGE_LAGGING and CLOUD_SYNC_FAILING to clear",
                lambda: not {"EDGE_LAGGING", "CLOUD_SYNC_FAILING"} & active(daemon),
                within=hold_s + 120,
                step=0.5,
                show=lambda: active(daemon),
            )
            await wait_until(
                "every outbox message delivered",
                lambda: ch.store.pending_count("cloud") == 0,
                within=360,
                step=0.5,
            )

            # Skipped ahead: what aired only during the outage was never uploaded.
            state = (await signed(client, edge, "GET", "/v1/ingest/hls", role="ingest")).json()
            assert state["playlist"]["end_sequence"] >= origin.end - 2
            stored = set(state["stored"])
            only_during_outage = {origin.refs[s] for s in range(before_end + 1, back_from - 1)}
            assert only_during_outage and not only_during_outage & stored
            assert origin.refs[state["playlist"]["end_sequence"] - 1] in stored
            # Every notification reached the edge once, in the order the channel made them.
            notified = [
                ("alert" if e.event_type == "alert_notified" else "alert_clear", e.reason_code)
                for e in ch.store.query_audit(limit=None)
                if e.event_type in ("alert_notified", "alert_cleared")
            ]
            assert ("alert", "EDGE_LAGGING") in notified and (
                "alert_clear",
                "EDGE_LAGGING",
            ) in notified
            audit = await signed(client, edge, "GET", "/v1/control/audit", params={"limit": 200})
            at_edge = [
                (e["action"], e["details"]["code"])
                for e in reversed(audit.json()["events"])
                if e["action"] in ("alert", "alert_clear")
            ]
            assert at_edge == notified
            # The status the edge shows is today's, not the one from before the outage.
            public = (await client.get("/v1/status")).json()
            playing = ch.topics["buffer"].latest["now_playing"]
            assert public["now_playing"]["title"] == playing["title"]
            origin.stop()
