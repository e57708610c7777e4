"""The control plane against a running channel: signed calls really act, reads are live."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import httpx
import trio_websocket

from tests.daemon.harness import CARD, looped_asset, make_settings, running_channel
from tests.support.waiting import wait_until
from vvtv.core.audit import AuditType
from vvtv.core.messages import AssetReady
from vvtv.core.settings import Settings
from vvtv.core.signing import signed_headers


def signed(
    settings: Settings, path: str, body: dict | None, skew: float = 0.0
) -> tuple[bytes, dict[str, str]]:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = signed_headers(
        settings.control_token, settings.control_secret, "POST", path, raw, time.time() + skew
    )
    headers["content-type"] = "application/json"
    return raw, headers


async def post(
    client: httpx.AsyncClient, settings: Settings, path: str, body: dict | None, skew: float = 0
):
    """A signed POST; ``skew`` (seconds) makes a repeated body a new signature, not a replay."""
    raw, headers = signed(settings, path, body, skew)
    return await client.post(path, content=raw, headers=headers)


async def test_emergency_mode_call_acts_at_once_and_status_reflects_it(settings: Settings) -> None:
    async with running_channel(settings) as daemon:
        async with httpx.AsyncClient(base_url=daemon.ch.api_url) as client:
            on = await post(client, settings, "/v1/control/emergency-mode", {"enabled": True})
            assert on.status_code == 200, on.text
            status = (await client.get("/v1/status")).json()
            assert status["state"] == "EMERGENCY"
            assert status["emergency_override"] is True

            off = await post(client, settings, "/v1/control/emergency-mode", {"enabled": False})
            assert off.status_code == 200
            assert (await client.get("/v1/status")).json()["emergency_override"] is False

            # An empty body toggles, for the original clients.
            toggled = await post(client, settings, "/v1/control/emergency-mode", None)
            assert toggled.status_code == 200
            assert (await client.get("/v1/status")).json()["state"] == "EMERGENCY"

            # Unsigned: refused, and nothing changes.
            refused = await client.post("/v1/control/emergency-mode", json={"enabled": False})
            assert refused.status_code == 401
            assert (await client.get("/v1/status")).json()["state"] == "EMERGENCY"

            # Forced off holds even though nothing is queued (the buffer is empty)...
            held = await post(
                client, settings, "/v1/control/emergency-mode", {"enabled": False}, skew=2
            )
            assert held.json()["state"] == "RUNNING"
            # ...until released: then the buffer rule decides again, and enters at once.
            released = await post(client, settings, "/v1/control/emergency-mode", {"enabled": None})
            assert released.status_code == 200
            assert released.json()["emergency_override"] is None
            assert released.json()["state"] == "EMERGENCY"

        kinds = [e.event_type for e in daemon.ch.store.query_audit(limit=None)]
        assert kinds.count("control_call") >= 3


async def test_reload_owner_card_applies_a_valid_card_and_keeps_the_old_one_on_error(
    settings: Settings,
) -> None:
    card_path = Path(settings.owner_card_path)
    async with running_channel(settings) as daemon:
        ch = daemon.ch
        async with httpx.AsyncClient(base_url=ch.api_url) as client:
            card_path.write_text(
                card_path.read_text().replace(
                    "buffer_target_minutes: 60", "buffer_target_minutes: 45"
                )
            )
            ok = await post(client, settings, "/v1/control/reload-owner-card", None)
            assert ok.status_code == 200, ok.text
            assert ch.card.schedule_policy.buffer_target_minutes == 45

            card_path.write_text(
                card_path.read_text().replace(
                    "buffer_critical_minutes: 20", "buffer_critical_minutes: 50"
                )
            )
            # A new signature (the same call signed in the same second would be a replay).
            bad = await post(client, settings, "/v1/control/reload-owner-card", None, skew=2)
            assert bad.status_code == 422
            assert "buffer_critical_minutes" in json.dumps(bad.json())
            assert ch.card.schedule_policy.buffer_target_minutes == 45
            assert ch.card.schedule_policy.buffer_critical_minutes == 20


async def test_a_signed_call_replayed_after_a_restart_is_refused(settings: Settings) -> None:
    path = "/v1/control/curator-mode"
    raw, headers = signed(settings, path, {"mode": "advise"})
    async with (
        running_channel(settings) as daemon,
        httpx.AsyncClient(base_url=daemon.ch.api_url) as client,
    ):
        first = await client.post(path, content=raw, headers=headers)
        assert first.status_code == 200, first.text
    # The same bytes sent again, within the 300 s window, to the restarted daemon.
    async with (
        running_channel(settings) as daemon,
        httpx.AsyncClient(base_url=daemon.ch.api_url) as client,
    ):
        again = await client.post(path, content=raw, headers=headers)
        assert again.status_code == 401
        # The caller learns only that it was refused; the audit says why, and from where.
        [refused] = daemon.ch.store.query_audit(event_type=AuditType.CONTROL_REFUSED, limit=None)
        assert refused.reason_code == "replayed"
        assert refused.details["who"] == "127.0.0.1"
        assert refused.details["action"] == "curator-mode"
        assert headers["x-vvtv-signature"] not in json.dumps(refused.details)


async def test_curator_mode_is_validated_against_the_owner_card(settings: Settings) -> None:
    async with (
        running_channel(settings) as daemon,
        httpx.AsyncClient(base_url=daemon.ch.api_url) as client,
    ):
        ok = await post(client, settings, "/v1/control/curator-mode", {"mode": "advise"})
        assert ok.status_code == 200, ok.text
        assert (await client.get("/v1/status")).json()["curator_mode"] == "advise"
        loose = await post(
            client,
            settings,
            "/v1/control/curator-mode",
            {"mode": "auto", "min_confidence": 0.1},
        )
        assert loose.status_code == 422
        assert (await client.get("/v1/status")).json()["curator_mode"] == "advise"


async def test_live_stream_reads_and_websocket_follow_the_channel(settings: Settings) -> None:
    async with running_channel(settings) as daemon:
        ch = daemon.ch
        asset = looped_asset(ch, "prog", 120)
        await daemon.runtime.ref("buffer").cast(
            AssetReady(asset.asset_id, None, "Programme", "calm", asset.duration_sec, None)
        )
        await wait_until(
            "the programme queued and the live playlist listing segments",
            lambda: (
                "/live/seg/" in ch.live.playlist
                and any(v["asset_id"] == "prog" for v in ch.queue_view)
            ),
            within=30,
        )
        async with httpx.AsyncClient(base_url=ch.api_url) as client:
            playlist = await client.get("/live/index.m3u8")
            assert playlist.status_code == 200
            assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
            uri = next(x for x in playlist.text.splitlines() if x.startswith("/live/seg/"))
            segment = await client.get(uri)
            assert segment.status_code == 200 and segment.content[:1] == b"G"  # MPEG-TS sync
            assert (await client.get("/live/seg/prog/..%2F..%2Fstate%2Fvvtv.db")).status_code == 404

            queue = (await client.get("/v1/queue")).json()
            assert any(item["asset_id"] == "prog" for item in queue["items"])
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            tree = (await client.get("/v1/runtime")).json()
            assert "pipeline" in json.dumps(tree)
            metrics = (await client.get("/metrics")).text
            assert "vvtv_buffer_minutes" in metrics

        url = ch.api_url.replace("http://", "ws://") + "/v1/ws/buffer"
        async with trio_websocket.open_websocket_url(url) as ws:
            first = json.loads(await ws.get_message())
            assert first["topic"] == "buffer" and "buffer_minutes" in first["data"]
            second = json.loads(await ws.get_message())
            assert second["seq"] > first["seq"]


async def test_status_carries_the_cards_warnings_and_a_reload_updates_them(
    tmp_path: Path, slate_template: Path
) -> None:
    """A setting vvtv does not implement is shown, by name, in the live status the
    dashboard reads; the card put in force by a reload replaces the list."""
    field = "safety_policy.reject_suspicious_watermark"
    card = {**CARD, "safety_policy": {"reject_suspicious_watermark": True}}
    settings = make_settings(tmp_path, slate_template, card=card)
    card_path = Path(settings.owner_card_path)
    async with (
        running_channel(settings) as daemon,
        httpx.AsyncClient(base_url=daemon.ch.api_url) as client,
    ):

        async def warnings() -> list[str]:
            return (await client.get("/v1/status")).json().get("card_warnings", [])

        await wait_until("the buffer's status", lambda: daemon.ch.topics["buffer"].latest)
        shown = await warnings()
        assert [w for w in shown if w.startswith(field + ": true is not implemented")]

        card_path.write_text(
            card_path.read_text().replace(
                "reject_suspicious_watermark: true", "reject_suspicious_watermark: false"
            )
        )
        ok = await post(client, settings, "/v1/control/reload-owner-card", None)
        assert ok.status_code == 200, ok.text
        await wait_until(
            "the warning gone",
            lambda: not any(field in w for w in daemon.ch.topics["buffer"].latest["card_warnings"]),
        )
        assert not [w for w in await warnings() if field in w]


async def test_nightly_on_a_running_channel_runs_once_per_local_date_unless_forced(
    settings: Settings,
) -> None:
    async with running_channel(settings) as daemon:
        path = "/v1/control/nightly"
        async with httpx.AsyncClient(base_url=daemon.ch.api_url, timeout=60) as client:
            first = await post(client, settings, path, None)
            assert first.status_code == 200, first.text
            done = first.json()
            assert done["ran"] is True and done["forced"] is False
            report_day = date.fromisoformat(done["report_day"])
            assert daemon.ch.store.get_daily_report(report_day) is not None
            again = await post(client, settings, path, {}, skew=1)
            assert again.json()["ran"] is False
            assert "already ran" in again.json()["reason"]
            forced = await post(client, settings, path, {"force": True}, skew=2)
            assert forced.json()["ran"] is True and forced.json()["forced"] is True
            refused = await post(client, settings, path, {"force": 1}, skew=3)
            assert refused.status_code == 422
        runs = daemon.ch.store.query_audit(event_type="window_nightly", limit=None)
        assert len(runs) == 2  # the refused and the repeated call ran nothing
        calls = [e for e in daemon.ch.store.query_audit(event_type="control_call", limit=None)]
        assert [c.details["action"] for c in calls] == ["nightly"] * 3
