"""A real channel behind the real edge: what viewers and the operator get through it.

One daemon (in this Trio run, real clock, real segments) and one Worker (workerd on
loopback). In one run, because each costs seconds to start:

- the HLS publisher uploads every segment once and the edge's playlist carries the
  origin's numbers; hls.js in headless Chromium plays the edge's watch page (which plays
  ``/hls/master.m3u8``, the origin's master: here the main rendition alone) for over a
  minute across item boundaries with no fatal error, and
  every fragment it played has the media and discontinuity sequence the origin gave it;
- the forced nightly and the commit window reach the edge; the report is public there;
- the status the edge shows follows what is on air;
- the operator's emergency-mode through the edge changes the channel within 5 s, the
  result is readable, and EMERGENCY_ACTIVE reaches the edge once;
- a replayed control call is refused by the edge, a command handed out twice is applied
  once, and a command that expired before the channel came back is never applied.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date
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
from tests.web.cdp import CHROMIUM, open_page
from vvtv.edge.hls import end_sequence

PLAY_S = 65  # hls.js must play over a minute


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
async def test_a_channel_behind_the_edge(tmp_path: Path, slate_template: Path) -> None:
    with running_edge(tmp_path / "edge", variables={"COMMAND_TTL_S": "10"}) as edge:
        async with httpx.AsyncClient(base_url=edge.url, timeout=40) as client:
            # Sent while the channel is away; it expires before the channel is back.
            late = await signed(client, edge, "POST", "/v1/control/curator-mode",
                                b'{"mode": "off"}')  # fmt: skip
            assert late.status_code == 202, late.text
            late_id = late.json()["id"]

            async def expired() -> bool:
                path = f"/v1/control/commands/{late_id}"
                return (await signed(client, edge, "GET", path)).json()["state"] == "expired"

            await wait_until("the early command to expire", expired, within=30, step=0.5)

            settings = edge_settings(tmp_path / "channel", slate_template, edge)
            async with running_channel(settings, force_nightly=True) as daemon:
                ch = daemon.ch
                origin = OriginNumbers(daemon)
                # Two hours of 30-s programmes: RUNNING, an item boundary every 30 s.
                await queue_items(daemon, 240, "show")
                await wait_until(
                    "RUNNING", lambda: ch.topics["buffer"].latest["state"] == "RUNNING", within=30
                )

                # --- HLS at the edge, numbered as the origin -------------------------------
                async def edge_caught_up() -> bool:
                    reply = await client.get("/hls/index.m3u8")
                    if reply.status_code != 200 or ch.live.window is None:
                        return False
                    ms, _, uris = edge_playlist_numbers(reply.text)
                    return ms + len(uris) >= end_sequence(ch.live.window) - 1

                await wait_until("the edge's playlist", edge_caught_up, within=60, step=0.5)
                reply = await client.get("/hls/index.m3u8")
                ms, dsn, uris = edge_playlist_numbers(reply.text)
                assert origin.numbers[ms] == dsn  # the origin's numbers, as the origin gave them
                assert all(u.startswith("seg/") for u in uris), uris
                for uri in uris:  # every segment listed is there
                    seg = await client.get(f"/hls/{uri}")
                    assert seg.status_code == 200 and seg.content[0] == 0x47

                # --- the watch page plays it with hls.js, across item boundaries -----------
                async with open_page(edge.url + "/", tmp_path / "profile") as page:
                    await page.wait_for("document.readyState === 'complete' && !!window.Hls")
                    assert await page.eval("document.body.dataset.playlist") == "master.m3u8"
                    await page.click("#play")
                    await page.wait_for("window.vvtvPlayer.state === 'playing'", timeout=60)
                    started = await page.eval("document.getElementById('video').currentTime")

                    # Meanwhile, the operator: emergency on, through the edge.
                    sent = time.monotonic()
                    on = await signed(client, edge, "POST", "/v1/control/emergency-mode",
                                      b'{"enabled": true}')  # fmt: skip
                    assert on.status_code == 202, on.text
                    await wait_until(
                        "the channel in EMERGENCY",
                        lambda: ch.topics["buffer"].latest["state"] == "EMERGENCY",
                        within=5,
                    )
                    relay_s = time.monotonic() - sent
                    command_id = on.json()["id"]
                    path = f"/v1/control/commands/{command_id}"
                    done = (await signed(client, edge, "GET", path, params={"wait": 20})).json()
                    assert done["state"] == "succeeded", done
                    assert done["result"]["status"] == 200
                    assert done["result"]["body"]["state"] == "EMERGENCY"
                    # The same signed call again is a replay: the edge refuses it.
                    again = await client.post(
                        "/v1/control/emergency-mode",
                        content=on.request.content,
                        headers=dict(on.request.headers),
                    )
                    assert (again.status_code, again.json()) == (
                        401,
                        {"error": "replayed signature"},
                    )
                    # Released by the operator's CLI, waiting for the channel's answer.
                    operator = edge.credential(role="control")
                    env = {k: v for k, v in os.environ.items() if not k.startswith("VVTV_")}
                    env |= {
                        "VVTV_CLOUDFLARE_BASE_URL": edge.url,
                        "VVTV_CLOUDFLARE_CONTROL_TOKEN": operator.token,
                        "VVTV_CLOUDFLARE_CONTROL_SECRET": operator.secret,
                    }
                    released = await trio.run_process(
                        [sys.executable, "-m", "vvtv", "cloud", "command", "emergency-mode",
                         '{"enabled": null}', "--timeout", "60", "--json"],
                        env=env, capture_stdout=True, capture_stderr=True, check=False,
                    )  # fmt: skip
                    assert released.returncode == 0, released.stderr
                    answer = json.loads(released.stdout)
                    assert answer["command_state"] == "succeeded", answer
                    assert answer["result_body"]["emergency_override"] is None
                    off_id = answer["command_id"]

                    await page.wait_for(
                        f"document.getElementById('video').currentTime >= {started} + {PLAY_S}",
                        timeout=PLAY_S + 60,
                    )
                    player = await page.eval("window.vvtvPlayer")
                    assert player["engine"] == "hls.js", player
                    assert player["fatal"] == 0, player
                    played = player["played"]
                    assert len({f["cc"] for f in played}) >= 3, played  # two boundaries at least
                    for fragment in played:
                        assert origin.numbers.get(fragment["sn"]) == fragment["cc"], fragment

                # --- reports, status and alerts at the edge --------------------------------
                daily = [e for e in ch.store.query_audit(event_type="window_nightly")]
                assert daily and daily[-1].details["ok"], daily
                day = daily[-1].details["report_day"]

                async def report() -> httpx.Response | None:
                    r = await client.get("/v1/reports/daily", params={"date": day})
                    return r if r.status_code == 200 else None

                published = await wait_until("the daily report at the edge", report, within=30)
                assert published.json()["date"] == day
                stored = ch.store.get_daily_report(date.fromisoformat(day))
                assert stored is not None
                assert published.json()["summary"] == json.loads(json.dumps(stored.summary))

                async def status_shows_now() -> bool:
                    public = (await client.get("/v1/status")).json()
                    playing = ch.topics["buffer"].latest["now_playing"]
                    return (public.get("now_playing") or {}).get("title") == playing["title"]

                await wait_until("the edge's status", status_shows_now, within=30, step=0.5)
                commits = ch.store.query_audit(event_type="window_commit")
                assert commits, "no commit window ran"
                await wait_until(
                    "the cloud outbox drained",
                    lambda: ch.store.pending_count("cloud") == 0,
                    within=60,
                )

                async def alert_events() -> list[tuple[str, str]]:
                    r = await signed(client, edge, "GET", "/v1/control/audit",
                                     params={"limit": 200})  # fmt: skip
                    return [
                        (e["action"], e["details"].get("code", ""))
                        for e in reversed(r.json()["events"])
                        if e["action"] in ("alert", "alert_clear")
                    ]

                # Each notification the channel made (EMERGENCY_ACTIVE while the slate
                # covered the start, then while forced) reached the edge once, in order.
                notified = [
                    ("alert" if e.event_type == "alert_notified" else "alert_clear", e.reason_code)
                    for e in ch.store.query_audit(limit=None)
                    if e.event_type in ("alert_notified", "alert_cleared")
                ]
                assert ("alert", "EMERGENCY_ACTIVE") in notified
                assert await alert_events() == notified

                # --- the channel's side of the commands ------------------------------------
                calls = [
                    e
                    for e in ch.store.query_audit(event_type="control_call", limit=None)
                    if str(e.details.get("who", "")).startswith("edge:")
                ]
                assert [c.details["who"] for c in calls] == [
                    f"edge:{command_id}",
                    f"edge:{off_id}",
                ]
                assert ch.store.get_command(late_id) is None  # never even handed out
                assert ch.store.get_command(command_id).reported_at is not None
                assert relay_s < 5, relay_s
            origin.stop()
