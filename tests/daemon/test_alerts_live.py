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


async def test_an_emergency_pages_once_signed_after_the_grace_and_clears(
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
    start = trio.current_time()
    async with running_channel(settings, epoch=utc(2026, 3, 2, 12)) as daemon:
        # Nothing to air: emergency at once, and the buffer stays under critical.
        await trio.sleep(4 * 60)
        view = daemon.ch.topics["alerts"].latest
        shown = {a["code"]: a["inhibited_by"] for a in view["alerts"]}
        # One incident: the emergency would page, the critical buffer is inhibited by it.
        assert shown == {"EMERGENCY_ACTIVE": None, "BUFFER_CRITICAL": "EMERGENCY_ACTIVE"}
        assert view["startup_grace_until"] == "2026-03-02T12:05:00Z"
        assert receiver.requests == []  # the start-up grace: a boot does not page
        await trio.sleep(6 * 60)

        for i in range(8):
            asset = looped_asset(daemon.ch, f"p{i}", 600)
            await daemon.runtime.ref("buffer").cast(
                AssetReady(asset.asset_id, None, f"P{i}", "calm", asset.duration_sec, None)
            )
        await trio.sleep(5 * 60)
        still = {a["code"] for a in daemon.ch.topics["alerts"].latest["alerts"]}
        assert not still & {"EMERGENCY_ACTIVE", "BUFFER_CRITICAL"}

    incident = [
        (r.at - start, r.json()["event"], r.json()["code"])
        for r in receiver.accepted
        if r.json()["code"] in ("EMERGENCY_ACTIVE", "BUFFER_CRITICAL")
    ]
    assert [(event, code) for _, event, code in incident] == [
        ("alert", "EMERGENCY_ACTIVE"),
        ("alert_clear", "EMERGENCY_ACTIVE"),
    ]
    assert 300 <= incident[0][0] < 301  # when the grace ended
    for request in receiver.accepted:
        # Signed with the control API's scheme (no bearer token for webhooks).
        ts = request.headers["x-vvtv-ts"]
        expected = sign("hook-secret", "POST", request.path, ts, request.body)
        assert request.headers["x-vvtv-signature"] == expected
