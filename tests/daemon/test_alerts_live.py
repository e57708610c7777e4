"""Alerts from the running channel reach the webhook once, and clear when resolved."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from tests.daemon.harness import looped_asset, make_settings, running_channel
from tests.support.loopback import Loopback
from vvtv.core.clock import utc
from vvtv.core.messages import AssetReady
from vvtv.core.signing import sign


async def test_emergency_alerts_are_sent_once_signed_and_cleared(
    tmp_path: Path,
    slate_template: Path,
    receiver: Loopback,
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = make_settings(
        tmp_path,
        slate_template,
        VVTV_ALERT_WEBHOOK_URL=receiver.url,
        VVTV_ALERT_WEBHOOK_SECRET="hook-secret",
    )
    async with running_channel(settings, epoch=utc(2026, 3, 2, 12)) as daemon:
        # Nothing to air: emergency at once, and the buffer stays under critical.
        await trio.sleep(10 * 60)
        alerts = {a["code"] for a in daemon.ch.topics["alerts"].latest["alerts"]}
        assert {"EMERGENCY_ACTIVE", "BUFFER_CRITICAL"} <= alerts

        for i in range(8):
            asset = looped_asset(daemon.ch, f"p{i}", 600)
            await daemon.runtime.ref("buffer").cast(
                AssetReady(asset.asset_id, None, f"P{i}", "calm", asset.duration_sec, None)
            )
        await trio.sleep(5 * 60)
        still = {a["code"] for a in daemon.ch.topics["alerts"].latest["alerts"]}
        assert not still & {"EMERGENCY_ACTIVE", "BUFFER_CRITICAL"}

    events = [(r.json()["event"], r.json()["code"]) for r in receiver.accepted]
    assert events.count(("alert", "EMERGENCY_ACTIVE")) == 1
    assert events.count(("alert", "BUFFER_CRITICAL")) == 1
    assert ("alert_clear", "EMERGENCY_ACTIVE") in events
    assert ("alert_clear", "BUFFER_CRITICAL") in events
    for request in receiver.accepted:
        # Signed with the control API's scheme (no bearer token for webhooks).
        ts = request.headers["x-vvtv-ts"]
        expected = sign("hook-secret", "POST", request.path, ts, request.body)
        assert request.headers["x-vvtv-signature"] == expected
