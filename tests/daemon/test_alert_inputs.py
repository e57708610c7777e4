"""What the Alerter measures in a running channel (actors/inputs.py ``AlertInputsPort``):
actor restarts in the last ten minutes, the age of the newest live segment, and the cloud
delivery breaker, each reaching its alert rule (SPEC §4). Simulated time throughout."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import trio
import trio.testing

from actors.buffer import Buffer
from actors.daemon import boot
from actors.inputs import AlertInputsPort
from supervisors.testing import inject_fault, wait_restarts
from tests.daemon.harness import looped_asset, make_settings, running_channel
from tests.support.loopback import Loopback, json_reply
from vvtv.core import offload
from vvtv.core.clock import TrioClock, utc
from vvtv.core.messages import AssetReady
from vvtv.core.settings import Settings
from vvtv.notify.alerts import evaluate
from vvtv.notify.delivery import CircuitBreaker

EPOCH = utc(2026, 3, 2, 12)


def active_codes(daemon) -> set[str]:
    latest = daemon.ch.topics["alerts"].latest or {"alerts": []}
    return {a["code"] for a in latest["alerts"]}


def active(daemon, code: str) -> dict | None:
    latest = daemon.ch.topics["alerts"].latest or {"alerts": []}
    return next((a for a in latest["alerts"] if a["code"] == code), None)


async def test_an_actor_that_keeps_crashing_raises_actor_restart_storm_and_it_clears(
    settings: Settings, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Buffer crashes on a poisoned hand-off (a fault injected into placing it) and the
    pipeline supervisor restarts it; three restarts within ten minutes are a storm."""
    place = Buffer.place

    def poisoned(self: Buffer, msg: AssetReady) -> object:
        if msg.title == "Bad":
            raise RuntimeError("injected fault")
        return place(self, msg)

    monkeypatch.setattr(Buffer, "place", poisoned)
    async with running_channel(settings, epoch=EPOCH) as daemon:
        await trio.sleep(120)
        assert "ACTOR_RESTART_STORM" not in active_codes(daemon)
        asset = looped_asset(daemon.ch, "poison", 60)
        node = daemon.runtime.node("buffer")
        for n in range(1, 4):
            await daemon.runtime.ref("buffer").cast(
                AssetReady(asset.asset_id, None, "Bad", "", 60.0, None)
            )
            with trio.fail_after(60):
                while not (node.restarts >= n and node.state == "running"):
                    await node.changed()
            await trio.sleep(60)
        assert node.restarts == 3

        await trio.sleep(60)  # the runtime snapshot is published, the Alerter evaluates
        storm = active(daemon, "ACTOR_RESTART_STORM")
        assert storm is not None, active_codes(daemon)
        assert "buffer ×3" in storm["message"]

        # Ten quiet minutes later the restarts have left the window: the alert clears.
        await trio.sleep(12 * 60)
        assert "ACTOR_RESTART_STORM" not in active_codes(daemon)
        trail = [
            (e.event_type, e.details["event"])
            for e in daemon.ch.store.query_audit(limit=None)
            if e.reason_code == "ACTOR_RESTART_STORM"
        ]
        # No webhook in this channel: recorded, nobody notified.
        assert trail == [("alert_recorded", "alert"), ("alert_recorded", "alert_clear")]


async def test_a_restarted_alerter_remembers_which_restarts_are_old(
    settings: Settings, autojump_clock: trio.testing.MockClock
) -> None:
    """Restarts long past are no storm, even to an Alerter that was itself just restarted:
    the restart window belongs to the channel, not to one Alerter incarnation (a new one
    used to count every restart since boot as recent, and paged a storm for ten minutes)."""
    async with running_channel(settings, epoch=EPOCH) as daemon:
        runtime = daemon.runtime
        await trio.sleep(60)
        for n in range(1, 4):
            inject_fault(runtime, "buffer")
            await wait_restarts(runtime, "buffer", n)
            await trio.sleep(30)
        await trio.sleep(90)
        assert active(daemon, "ACTOR_RESTART_STORM") is not None, active_codes(daemon)

        await trio.sleep(12 * 60)  # the buffer's restarts leave the ten-minute window
        assert "ACTOR_RESTART_STORM" not in active_codes(daemon)
        inject_fault(runtime, "alerter")
        await wait_restarts(runtime, "alerter", 1)
        for _ in range(5):  # five evaluations of the new Alerter
            await trio.sleep(60)
            assert "ACTOR_RESTART_STORM" not in active_codes(daemon), active(
                daemon, "ACTOR_RESTART_STORM"
            )


async def test_cloud_sync_failing_follows_the_ingest_api_answering_500(
    tmp_path: Path,
    slate_template: Path,
    receiver: Loopback,
    autojump_clock: trio.testing.MockClock,
) -> None:
    receiver.answer_always(json_reply(500))
    settings = make_settings(
        tmp_path,
        slate_template,
        VVTV_CLOUDFLARE_BASE_URL=receiver.url,
        VVTV_CLOUDFLARE_TOKEN="token",
        VVTV_CLOUDFLARE_SECRET="secret",
    )
    async with running_channel(settings, epoch=EPOCH) as daemon:
        await trio.sleep(2 * 60)
        assert receiver.requests, "the status snapshot after the first commit window was sent"
        assert all(r.answered == 500 for r in receiver.requests)
        assert "CLOUD_SYNC_FAILING" not in active_codes(daemon)  # must hold for 5 minutes
        await trio.sleep(6 * 60)
        failing = active(daemon, "CLOUD_SYNC_FAILING")
        assert failing is not None, active_codes(daemon)
        assert "500" in failing["message"]

        receiver.answer_always(json_reply())
        await trio.sleep(10 * 60)  # the pump retries, delivers, the breaker closes
        assert receiver.accepted
        assert "CLOUD_SYNC_FAILING" not in active_codes(daemon)


async def test_inputs_measure_stream_staleness_and_cloud_failure_from_the_channel(
    settings: Settings, tmp_path: Path, slate_template: Path
) -> None:
    """The port reads the live window's newest segment and the shared breaker as they are."""
    now = EPOCH
    with offload.inline():
        ch = await boot(settings, clock=TrioClock(now))
    try:
        breaker = CircuitBreaker()
        port = AlertInputsPort(ch, breaker)

        # No live segment yet: no staleness is claimed.
        assert port(now).last_segment_age_s is None
        assert "STREAM_STALE" not in evaluate(port(now))

        segment_s = ch.card.channel.segment_seconds
        ch.live.publish("#EXTM3U\n", {}, now - timedelta(seconds=segment_s))
        assert port(now).last_segment_age_s == segment_s
        assert "STREAM_STALE" not in evaluate(port(now))
        ch.live.publish("#EXTM3U\n", {}, now - timedelta(seconds=3 * segment_s))
        assert "STREAM_STALE" in evaluate(port(now))

        # The breaker is shared with CloudSync; without a cloud configured it never alerts.
        breaker.record_failure(now, "HTTP 500 from /v1/ingest/status")
        assert port(now).cloud_failing is False
    finally:
        ch.store.close()

    cloud = make_settings(
        tmp_path / "cloud",
        slate_template,
        VVTV_CLOUDFLARE_BASE_URL="http://127.0.0.1:9",
        VVTV_CLOUDFLARE_TOKEN="token",
        VVTV_CLOUDFLARE_SECRET="secret",
    )
    with offload.inline():
        ch = await boot(cloud, clock=TrioClock(now))
    try:
        breaker = CircuitBreaker()
        port = AlertInputsPort(ch, breaker)
        assert "CLOUD_SYNC_FAILING" not in evaluate(port(now))
        breaker.record_failure(now, "HTTP 500 from /v1/ingest/status")
        inputs = port(now)
        assert inputs.cloud_failing is True
        assert inputs.cloud_failing_detail == "HTTP 500 from /v1/ingest/status"
        assert "CLOUD_SYNC_FAILING" in evaluate(inputs)
        breaker.record_success(now)
        assert "CLOUD_SYNC_FAILING" not in evaluate(port(now))
    finally:
        ch.store.close()
