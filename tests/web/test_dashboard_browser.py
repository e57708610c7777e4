"""The dashboard in Debian's headless chromium: live values, an emergency toggle within a
second, signed controls from the page, reconnection after a daemon restart, and backing
off from a server at its live-stream cap."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
import trio

from tests.support.waiting import wait_until
from tests.web.cdp import CHROMIUM, open_page
from tests.web.conftest import SECRET, TOKEN, StubChannel, limits
from vvtv.core.signing import Verifier, signed_headers
from vvtv.web import create_app, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]

RUNTIME = {
    "name": "root",
    "kind": "supervisor",
    "strategy": "one_for_one",
    "state": "running",
    "restarts": 0,
    "children": [
        {
            "name": "api",
            "kind": "actor",
            "state": "running",
            "restarts": 0,
            "mailbox": {"depth": 0, "capacity": 64},
        },
        {
            "name": "pipeline",
            "kind": "supervisor",
            "strategy": "rest_for_one",
            "state": "running",
            "restarts": 1,
            "children": [
                {
                    "name": "buffer",
                    "kind": "actor",
                    "state": "running",
                    "restarts": 1,
                    "mailbox": {"depth": 2, "capacity": 64},
                },
                {
                    "name": "committer",
                    "kind": "actor",
                    "state": "running",
                    "restarts": 0,
                    "mailbox": {"depth": 0, "capacity": 32},
                },
                {
                    "name": "discovery",
                    "kind": "actor",
                    "state": "running",
                    "restarts": 0,
                    "mailbox": {"depth": 0, "capacity": 32},
                },
                {
                    "name": "scheduler",
                    "kind": "actor",
                    "state": "running",
                    "restarts": 0,
                    "mailbox": {"depth": 0, "capacity": 16},
                },
            ],
        },
        {
            "name": "alerter",
            "kind": "actor",
            "state": "running",
            "restarts": 0,
            "mailbox": {"depth": 0, "capacity": 32},
        },
        {
            "name": "cloudsync",
            "kind": "actor",
            "state": "restarting",
            "restarts": 3,
            "mailbox": {"depth": 5, "capacity": 32},
        },
    ],
    # The push outputs ride along with the tree (LivePort.runtime_snapshot).
    "outputs": [
        {
            "name": "youtube",
            "url": "rtmps://a.rtmps.youtube.com:443/live2",
            "status": "connected",
            "enabled": True,
            "connected": True,
            "bitrate_kbps": 2640.4,
            "uptime_s": 3725.0,
            "reconnects": 1,
            "failures": 1,
            "last_error": "",
        },
        {
            "name": "twitch",
            "url": "rtmps://sfo.contribute.live-video.net:443/app",
            "status": "retrying",
            "enabled": True,
            "connected": False,
            "down_s": 95.0,
            "failures": 4,
            "reconnects": 0,
            "last_error": "ffmpeg exited with 1: Connection refused",
        },
    ],
}
ALERTS = {
    "count": 3,
    "inhibited": 1,
    "startup_grace_until": None,
    "alerts": [
        {
            "code": "BUFFER_CRITICAL",
            "severity": "critical",
            "message": "buffer at 4.0 min, below the critical 20 min",
            "since": "2026-03-01T11:41:00+00:00",
            "inhibited_by": "EMERGENCY_ACTIVE",
        },
        {
            "code": "QA_PASS_RATE_LOW",
            "severity": "high",
            "message": "qa_pass_rate 0.78 < 0.85",
            "since": "2026-03-01T11:40:00+00:00",
            "inhibited_by": None,
        },
        {
            "code": "FALLBACK_RATE_GROWING",
            "severity": "medium",
            "message": "fallback_rate rose by 0.18",
            "since": "2026-03-01T11:52:00+00:00",
            "inhibited_by": None,
        },
    ],
}


async def _text(page, element_id: str) -> str:
    return await page.eval(f"document.getElementById({element_id!r}).textContent")


async def test_dashboard_is_live_controllable_and_reconnects(tmp_path: Path) -> None:
    channel = StubChannel(tmp_path / "segments")
    channel.topics.publish("buffer", channel.status())
    channel.topics.publish("alerts", ALERTS)
    channel.topics.publish("runtime", RUNTIME)
    app = create_app(channel, verifier=Verifier(TOKEN, SECRET))

    async with trio.open_nursery() as nursery:
        first = trio.Event()
        url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=first))
        async with open_page(url + "/", tmp_path / "profile") as page:
            # Live values from the websockets.
            await page.wait_for("document.getElementById('buffer-value').textContent === '61.5'")
            assert await _text(page, "state") == "RUNNING"
            assert await _text(page, "now-title") == "Harbour at dawn"
            assert await _text(page, "next-title") == "City lights"  # the first of the next
            assert await _text(page, "availability") == "99.87 %"
            await page.wait_for("document.getElementById('alerts-count').textContent === '3'")
            # An inhibited alert is shown as such, with what inhibits it.
            inhibited = await page.eval(
                "Array.from(document.querySelectorAll('#alerts-list li.inhibited'))"
                ".map((li) => li.textContent)"
            )
            assert len(inhibited) == 1
            assert "BUFFER_CRITICAL" in inhibited[0]
            assert "inhibited by EMERGENCY_ACTIVE" in inhibited[0]
            await page.wait_for("document.querySelectorAll('#tree .node').length === 9")
            await page.wait_for("document.querySelectorAll('#outputs-list li').length === 2")
            outputs = await page.eval(
                "[...document.querySelectorAll('#outputs-list li')].map(li => li.textContent)"
            )
            assert "2640 kbit/s" in outputs[0] and "up 1:02:05" in outputs[0]
            assert "Connection refused" in outputs[1] and "down 1:35" in outputs[1]
            assert await _text(page, "outputs-count") == "2"
            await page.wait_for("document.querySelectorAll('#timeline .block').length >= 5")
            channel.buffer_minutes = 58.2
            channel.topics.publish("buffer", channel.status())
            await page.wait_for("document.getElementById('buffer-value').textContent === '58.2'")
            await page.screenshot(tmp_path / "dashboard.png")

            # An emergency toggle by a signed API call shows on the page within a second.
            body = b'{"enabled": true}'
            path = "/v1/control/emergency-mode"
            headers = signed_headers(TOKEN, SECRET, "POST", path, body, channel.clock.timestamp())
            import httpx

            async with httpx.AsyncClient(base_url=url) as client:
                assert (await client.post(path, content=body, headers=headers)).status_code == 200
            started = trio.current_time()
            await page.wait_for(
                "!document.getElementById('emergency-banner').hidden"
                " && document.getElementById('state').textContent === 'EMERGENCY'",
                timeout=1.0,
            )
            assert trio.current_time() - started < 1.0
            await page.screenshot(tmp_path / "dashboard-emergency.png")

            # The operator unlocks the controls and releases the emergency from the page,
            # signed in the browser with WebCrypto.
            await page.eval(
                f"document.getElementById('cred-token').value = {json.dumps(TOKEN)};"
                f"document.getElementById('cred-secret').value = {json.dumps(SECRET)};"
                "document.querySelector('#credentials button[type=submit]').click();"
            )
            await page.wait_for("!document.getElementById('emergency-off').disabled")
            await page.eval("document.getElementById('emergency-off').click()")
            await page.wait_for("document.getElementById('state').textContent === 'RUNNING'")
            assert channel.emergency_override is None  # released, not forced off
            assert channel.audits[-1][1] == "emergency-mode"
            assert await page.eval("sessionStorage.getItem('vvtv.control') !== null")

            # The daemon restarts: the page notices, reconnects, and shows new values.
            first.set()
            await page.wait_for("document.getElementById('conn-buffer').className === 'conn retry'")
            second = trio.Event()
            bind = url.removeprefix("http://")
            await nursery.start(partial(serve, app, bind, shutdown=second))
            channel.buffer_minutes = 33.3
            channel.topics.publish("buffer", channel.status())
            await page.wait_for(
                "document.getElementById('buffer-value').textContent === '33.3'", timeout=20
            )
            assert await _text(page, "conn-buffer") == "buffer"
            second.set()


async def test_a_dashboard_over_the_cap_says_why_and_backs_off(tmp_path: Path) -> None:
    """Two live streams per address, and the dashboard wants three: the third is accepted
    and closed at once (1013). Its badge says why, and the page retries with a growing
    delay, not twice a second (four refusals take at least 2.6 s: 0.375 + 0.75 + 1.5 at
    the smallest jitter; resetting the delay on each accepted handshake took under 1.9)."""
    channel = StubChannel(tmp_path / "segments")
    for topic, data in (("buffer", channel.status()), ("alerts", ALERTS), ("runtime", RUNTIME)):
        channel.topics.publish(topic, data)
    app = create_app(channel, verifier=Verifier(TOKEN, SECRET), limits=limits(
        ws_max_clients_per_address=2
    ))  # fmt: skip

    def refusals() -> float:
        value = channel.metrics.registry.get_sample_value(
            "vvtv_http_refused_total", {"reason": "ws_address_cap"}
        )
        return value or 0.0

    async with trio.open_nursery() as nursery:
        stop = trio.Event()
        url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=stop))
        async with open_page(url + "/", tmp_path / "profile") as page:
            await wait_until("a first refusal", lambda: refusals() >= 1, within=20)
            first = trio.current_time()
            await page.wait_for(
                "[...document.querySelectorAll('.conn.retry')]"
                ".some(b => b.title.includes('VVTV_WS_MAX_CLIENTS_PER_ADDRESS'))"
            )
            await wait_until("four refusals", lambda: refusals() >= 4, within=20)
            assert trio.current_time() - first >= 2.6
        stop.set()
