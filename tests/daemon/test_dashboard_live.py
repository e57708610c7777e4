"""The dashboard against the real running channel, in Debian's headless chromium: live
values, its player (hls.js) on air, the card's warnings, control, and reconnection after a
restart."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx
import pytest
import trio

from tests.daemon.harness import CARD, make_settings, running_channel
from tests.web.cdp import CHROMIUM, open_page
from vvtv.core.signing import signed_headers

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_dashboard_follows_the_channel_and_reconnects_after_a_daemon_restart(
    tmp_path: Path, slate_template: Path
) -> None:
    bind = f"127.0.0.1:{free_port()}"
    # The card asks for a setting vvtv does not implement: the dashboard must say so.
    card = {**CARD, "safety_policy": {"reject_suspicious_watermark": True}}
    settings = make_settings(tmp_path, slate_template, card=card, VVTV_API_BIND=bind)
    url = f"http://{bind}"
    async with (
        running_channel(settings) as daemon,
        open_page(url + "/", tmp_path / "profile") as page,
    ):
        # Live from the real Buffer: the slate is on air, so the state is EMERGENCY.
        await page.wait_for("document.getElementById('state').textContent === 'EMERGENCY'")
        await page.wait_for("document.querySelectorAll('#tree .node').length >= 8")
        # The card warnings panel names the setting that does nothing.
        await page.wait_for("!document.getElementById('card-warnings-panel').hidden")
        shown = await page.eval("document.getElementById('card-warnings').textContent")
        assert "safety_policy.reject_suspicious_watermark" in shown
        assert "not implemented" in shown
        # The on-air player plays the live stream with hls.js (Chromium), muted.
        await page.wait_for(
            "window.vvtvPlayer.state === 'playing'"
            " && document.getElementById('player').currentTime > 2",
            timeout=30,
        )
        assert await page.eval("window.vvtvPlayer.engine") == "hls.js"
        assert await page.eval("window.vvtvPlayer.fatal") == []
        assert await page.eval("document.getElementById('player-state').hidden") is True
        # Everything the dashboard fetched (scripts, hls.js and its worker, the stream) is
        # the channel's own.
        fetched = await page.eval("performance.getEntriesByType('resource').map((e) => e.name)")
        assert f"{url}/static/vendor/hls.min.js" in fetched
        assert [u for u in fetched if not u.startswith(url + "/")] == []

        body = json.dumps({"enabled": False}).encode()
        path = "/v1/control/emergency-mode"
        headers = signed_headers(
            settings.control_token, settings.control_secret, "POST", path, body, time.time()
        )
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.post(path, content=body, headers=headers)).status_code == 200
        started = trio.current_time()
        await page.wait_for(
            "document.getElementById('state').textContent === 'RUNNING'", timeout=1.0
        )
        assert trio.current_time() - started < 1.0
        await page.screenshot(tmp_path / "live-dashboard.png")

        # The owner turns it off and reloads: the panel goes away.
        card_path = Path(settings.owner_card_path)
        card_path.write_text(
            card_path.read_text().replace(
                "reject_suspicious_watermark: true", "reject_suspicious_watermark: false"
            )
        )
        path = "/v1/control/reload-owner-card"
        headers = signed_headers(
            settings.control_token, settings.control_secret, "POST", path, b"", time.time()
        )
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.post(path, content=b"", headers=headers)).status_code == 200
        await page.wait_for("document.getElementById('card-warnings-panel').hidden")

        daemon.runtime.shutdown()
        await page.wait_for("document.getElementById('conn-buffer').className === 'conn retry'")
        # The operator override was persisted: the restarted channel still says RUNNING.
        async with running_channel(settings):
            await page.wait_for(
                "document.getElementById('conn-buffer').className !== 'conn retry'", timeout=20
            )
            await page.wait_for("document.getElementById('state').textContent === 'RUNNING'")
