"""Push outputs on a real channel: what nginx-rtmp and an ffmpeg SRT listener receive.

A real channel runs in the test (real store, actors, ffmpeg), its timeline set up like any
restart finds it: three prepared programmes of two-second segments on air from now, then
nothing, so emergency filler follows. The servers are real: nginx with Debian's
libnginx-mod-rtmp recording every publish, an ffmpeg SRT listener writing a file, a TLS
front for RTMPS. ffprobe reads what they recorded.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from supervisors.testing import inject_fault, wait_restarts
from tests.daemon.harness import CARD, make_settings, running_channel
from tests.support.cards import write_card
from tests.support.certs import TestCA
from tests.support.media import ClipCache, make_slate
from tests.support.push import (
    RtmpServer,
    SrtListener,
    TlsRelay,
    gaps,
    have_rtmp_server,
    media_span,
    probe_packets,
    regressions,
)
from tests.support.waiting import wait_until
from vvtv.air import timeline
from vvtv.core.audit import AuditType
from vvtv.core.model import AssetItem, QAReport, QAStatus, SlotType
from vvtv.core.settings import Settings
from vvtv.core.signing import new_nonce, signed_headers
from vvtv.media.prepare import prepare
from vvtv.outputs.command import PROGRESS_PERIOD_S
from vvtv.ownercard.card import ChannelProfile, QualityPolicy
from vvtv.store import open_store

pytestmark = pytest.mark.skipif(not have_rtmp_server(), reason="needs nginx + libnginx-mod-rtmp")

# Small and short: two-second segments keep each test to seconds of air.
PROFILE = ChannelProfile(width=640, height=360, segment_seconds=2, video_bitrate_kbps=600)
CHANNEL = {"width": 640, "height": 360, "segment_seconds": 2, "video_bitrate_kbps": 600}
KEY = "sk-live-7f3a9c1e5b2d4680"


@pytest.fixture(scope="module")
def small_slate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_slate(tmp_path_factory.mktemp("push-slate"), PROFILE)


def push_settings(root: Path, slate: Path, outputs: list[dict[str, Any]], **env: str) -> Settings:
    card = {**CARD, "channel": CHANNEL, "outputs": outputs}
    # No start-up grace: these tests watch OUTPUT_DOWN fire seconds after the boot.
    return make_settings(
        root,
        slate,
        card,
        VVTV_ALERT_OUTPUT_DOWN_SECS="2",
        VVTV_ALERT_STARTUP_GRACE_SECS="0",
        **env,
    )


async def programmes_on_air(
    settings: Settings, clip_cache: ClipCache, seconds: list[float]
) -> list[str]:
    """Prepare one programme per duration and put them on the timeline from now, as a
    channel finds its timeline at a restart; their titles."""
    titles = []
    store = open_store(settings.state_db)
    try:
        assets = []
        for i, length in enumerate(seconds):
            clip = clip_cache.clip(seconds=length, size="640x360", tone_hz=330 + 220 * i, gop=50)
            name = f"prog{i}"
            prepared = await prepare(clip, settings.hls_dir, name, PROFILE, QualityPolicy())
            assets.append(
                AssetItem(
                    asset_id=name,
                    plan_id="",
                    source_url=f"test:{name}",
                    checksum=name,
                    local_path=str(prepared.dir),
                    created_at=datetime.now().astimezone(),
                    duration_sec=prepared.duration_sec,
                    qa_status=QAStatus.PASSED,
                    qa=QAReport(passed=True, height=360),
                    segments_dir=str(prepared.dir),
                    segment_count=len(prepared.segments),
                    emergency_eligible=True,
                )
            )
        entries = []
        now = datetime.now().astimezone()  # the channel boots next: they air from now on
        for i, asset in enumerate(assets):
            store.save_asset(asset)
            title = f"Programme {i}"
            entry = timeline.append(
                entries, now, asset_id=asset.asset_id, title=title, duration_sec=asset.duration_sec
            )
            entries.append(entry)
            store.insert_queue_entry(entry)
            titles.append(title)
    finally:
        store.close()
    return titles


def aired(ch) -> list[tuple[datetime, dict]]:
    """The as-run log: when each entry started airing, with its details."""
    return [
        (datetime.fromisoformat(e.details["at"]), e.details)
        for e in ch.store.query_audit(limit=None)
        if e.event_type == AuditType.AIRED_STARTED
    ]


def child_commands() -> list[str]:
    """The command lines of this process's children, as any user of the machine sees them."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            out.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return out


async def test_an_rtmp_push_is_one_continuous_stream_across_items_and_emergency(
    tmp_path: Path, small_slate: Path, clip_cache: ClipCache, caplog: pytest.LogCaptureFixture
) -> None:
    server = RtmpServer(tmp_path / "rtmp")
    await server.start()
    key_file = tmp_path / "youtube.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    settings = push_settings(
        tmp_path, small_slate, [{"name": "main", "url": server.url, "key_file": str(key_file)}]
    )
    titles = await programmes_on_air(settings, clip_cache, [4.0, 4.0, 4.0])
    commands: list[str] = []
    try:
        async with running_channel(settings) as daemon:
            ch = daemon.ch
            state = ch.outputs.state("main")
            await wait_until("the push connects", lambda: state.connected, within=20)
            connected = time.monotonic()
            commands = child_commands()

            def emergency_aired() -> bool:
                return any(d["slot_type"] == "EMERGENCY" for _, d in aired(ch)[3:])

            # The three programmes, then emergency filler for a few segments.
            await wait_until("emergency filler airs", emergency_aired, within=30)
            await trio.sleep(5)
            async with httpx.AsyncClient(base_url=ch.api_url) as client:
                shown = [
                    (await client.get(path)).text
                    for path in ("/v1/outputs", "/metrics", "/v1/runtime")
                ]
            view = state.view(ch.clock.now())
            as_run = aired(ch)
            audits = ch.store.query_audit(limit=None)
            stopped = time.monotonic()
    finally:
        await server.stop()

    # What the server recorded: one stream, named by the key it was given.
    (recording,) = server.recordings()
    assert recording.name.startswith(KEY)
    packets = probe_packets(recording)
    video, audio = packets["video"], packets["audio"]
    assert regressions(video) == 0 and regressions(audio) == 0
    assert gaps(video, 0.2) == [] and gaps(audio, 0.2) == []  # both present throughout
    # As long as it was on: 2 %, or the half second the push reports its progress in (which
    # is when "connected" is learnt). The 10-minute run holds it to 2 % (ops/bench/outputs.py).
    wall = stopped - connected
    assert media_span(video) == pytest.approx(wall, rel=0.02, abs=PROGRESS_PERIOD_S)
    assert media_span(audio) == pytest.approx(wall, rel=0.02, abs=PROGRESS_PERIOD_S)

    # It spanned the three programmes and the emergency filler after them.
    started = [d["title"] for _, d in as_run]
    assert started[:3] == titles
    assert any(d["slot_type"] == SlotType.EMERGENCY.value for _, d in as_run[3:])
    assert view["segments_sent"] >= 6 and view["segments_dropped"] == 0
    assert view["reconnects"] == 0 and view["status"] == "connected"
    assert view["url"] == server.url

    # The key reached the server and nothing else: not ffmpeg's command line, not the API,
    # the metrics, the audit trail or the log.
    assert any("-fpre /dev/fd/" in c for c in commands)
    assert not any(KEY in c for c in commands)
    for text in shown:
        assert KEY not in text
    assert not any(KEY in str(e.details) for e in audits)
    assert any(e.event_type == AuditType.OUTPUT_CONNECTED for e in audits)
    assert KEY not in caplog.text


async def test_the_push_reconnects_and_output_down_fires_and_clears(
    tmp_path: Path, small_slate: Path
) -> None:
    server = RtmpServer(tmp_path / "rtmp")
    await server.start()
    settings = push_settings(
        tmp_path,
        small_slate,
        [{"name": "main", "url": server.url, "key_env": "VVTV_OUTPUT_KEY_MAIN"}],
        VVTV_OUTPUT_KEY_MAIN=KEY,
    )
    try:
        async with running_channel(settings) as daemon:
            ch = daemon.ch
            state = ch.outputs.state("main")
            alerts = ch.topics["alerts"]

            def codes() -> list[str]:
                latest = alerts.latest or {}
                return [a["code"] for a in latest.get("alerts", [])]

            await wait_until("the push connects", lambda: state.connected, within=20)
            await trio.sleep(3)
            server.kill()  # the server dies mid-stream
            killed = time.monotonic()
            await wait_until("the push sees the drop", lambda: not state.connected, within=10)
            await wait_until("OUTPUT_DOWN fires", lambda: "OUTPUT_DOWN" in codes(), within=10)
            await server.start()  # back on the same port
            await wait_until("the push reconnects", lambda: state.connected, within=10)
            reconnect_s = time.monotonic() - killed
            await wait_until("OUTPUT_DOWN clears", lambda: "OUTPUT_DOWN" not in codes(), within=5)
            await trio.sleep(3)
            view = state.view(ch.clock.now())
            audit = ch.store.query_audit(limit=None)
            kinds = [e.event_type for e in audit]
    finally:
        await server.stop()
    assert reconnect_s <= 10
    assert view["reconnects"] == 1 and view["failures"] >= 1
    assert view["last_error"]  # why it dropped, for the operator
    assert kinds.count(AuditType.OUTPUT_CONNECTED) == 2
    assert AuditType.OUTPUT_LOST in kinds
    # No webhook, no cloud: the alert and its clear are recorded, nobody is notified.
    recorded = [
        e.details["event"]
        for e in audit
        if e.event_type is AuditType.ALERT_RECORDED and e.reason_code == "OUTPUT_DOWN"
    ]
    assert "alert" in recorded and recorded[-1] == "alert_clear", recorded
    assert AuditType.ALERT_NOTIFIED not in kinds
    first, second = server.recordings()  # one per connection, each continuous
    for recording in (first, second):
        packets = probe_packets(recording)
        assert regressions(packets["video"]) == 0 and regressions(packets["audio"]) == 0
        assert media_span(packets["video"]) > 2


async def test_an_srt_push_reaches_a_listener_continuous(
    tmp_path: Path, small_slate: Path, clip_cache: ClipCache
) -> None:
    listener = SrtListener(tmp_path / "srt.ts")
    listener.start()
    settings = push_settings(
        tmp_path,
        small_slate,
        [
            {
                "name": "srt",
                "url": f"{listener.url}?latency=120000",
                "key_env": "VVTV_OUTPUT_KEY_SRT",
            }
        ],
        VVTV_OUTPUT_KEY_SRT="#!::r=live/channel,m=publish",
    )
    await programmes_on_air(settings, clip_cache, [4.0, 4.0])
    try:
        async with running_channel(settings) as daemon:
            state = daemon.ch.outputs.state("srt")
            await wait_until("the push connects", lambda: state.connected, within=20)
            connected = time.monotonic()
            await trio.sleep(12)  # both programmes and the slate after them
            stopped = time.monotonic()
    finally:
        errors = listener.stop()
    packets = probe_packets(tmp_path / "srt.ts")
    video, audio = packets["video"], packets["audio"]
    assert regressions(video) == 0 and regressions(audio) == 0, errors
    assert gaps(video, 0.2) == [] and gaps(audio, 0.2) == []
    # The listener's SRT latency (120 ms) comes on top of the progress period.
    assert media_span(video) == pytest.approx(stopped - connected, rel=0.02, abs=1.0)


async def test_rtmps_checks_the_servers_certificate_before_it_sends_the_key(
    tmp_path: Path, small_slate: Path, nursery: trio.Nursery
) -> None:
    server = RtmpServer(tmp_path / "rtmp")
    await server.start()
    ca, impostor = TestCA(), TestCA()
    trusted = TlsRelay(ca.issue("localhost"), server.port)
    forged = TlsRelay(impostor.issue("localhost"), server.port)
    await nursery.start(trusted.serve)
    await nursery.start(forged.serve)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.pem())
    settings = push_settings(
        tmp_path,
        small_slate,
        [
            {
                "name": "good",
                "url": f"rtmps://localhost:{trusted.port}/live",
                "key_env": "VVTV_OUTPUT_KEY_GOOD",
                "ca_file": str(ca_file),
            },
            {
                "name": "mitm",
                "url": f"rtmps://localhost:{forged.port}/live",
                "key_env": "VVTV_OUTPUT_KEY_MITM",
                "ca_file": str(ca_file),
            },
        ],
        VVTV_OUTPUT_KEY_GOOD="good-key-0123456789",
        VVTV_OUTPUT_KEY_MITM="never-sent-key-9876",
    )
    try:
        async with running_channel(settings) as daemon:
            good = daemon.ch.outputs.state("good")
            mitm = daemon.ch.outputs.state("mitm")
            await wait_until("the rtmps push connects", lambda: good.connected, within=20)
            await wait_until("the forged one fails", lambda: mitm.failures >= 1, within=20)
            await trio.sleep(2)
            assert not mitm.connected and mitm.last_error
    finally:
        await server.stop()
    names = [p.name for p in server.recordings()]
    assert len(names) == 1 and names[0].startswith("good-key-0123456789")
    assert trusted.forwarded > 0
    assert forged.forwarded == 0  # ffmpeg refused the certificate: not a byte, key included


async def test_outputs_follow_the_switch_and_the_card_while_the_channel_runs(
    tmp_path: Path, small_slate: Path
) -> None:
    server = RtmpServer(tmp_path / "rtmp")
    await server.start()
    first = {"name": "first", "url": f"{server.url}/first-stream"}
    settings = push_settings(tmp_path, small_slate, [first])
    try:
        async with running_channel(settings) as daemon:
            ch = daemon.ch
            board = ch.outputs

            async def control(path: str, body: bytes) -> httpx.Response:
                # A fresh nonce: the two card reloads below are the same call, and within
                # one second the second would rightly be refused as a replay.
                headers = signed_headers(
                    settings.control_token, settings.control_secret, "POST", path, body,
                    ch.clock.now().timestamp(), nonce=new_nonce(),
                )  # fmt: skip
                async with httpx.AsyncClient(base_url=ch.api_url) as client:
                    return await client.post(path, content=body, headers=headers)

            async def listed() -> list[str]:
                async with httpx.AsyncClient(base_url=ch.api_url) as client:
                    return [o["name"] for o in (await client.get("/v1/outputs")).json()["outputs"]]

            await wait_until("first connects", lambda: board.state("first").connected, within=20)
            # Switched off by a signed call: it stops pushing, and says so.
            off = await control("/v1/control/outputs/first", b'{"enabled": false}')
            assert off.status_code == 200 and off.json()["override"] is False
            await wait_until("first stops", lambda: board.state("first").status == "disabled")
            assert not any("ffmpeg" in c and "first-stream" in c for c in child_commands())
            on = await control("/v1/control/outputs/first", b'{"enabled": null}')
            assert on.json()["override"] is None  # back to the card: enabled
            await wait_until("first reconnects", lambda: board.state("first").connected, within=20)

            # A second output in the card: the outputs are rebuilt with it, both push.
            second = {"name": "second", "url": f"{server.url}/second-stream"}
            write_card(
                tmp_path / "owner_card.yaml",
                **{**CARD, "channel": CHANNEL, "outputs": [first, second]},
            )
            assert (await control("/v1/control/reload-owner-card", b"")).status_code == 200
            await wait_until(
                "second connects",
                lambda: board.get("second") is not None and board.state("second").connected,
                within=20,
            )
            assert await listed() == ["first", "second"]
            # (rebuilding the outputs reconnected the first one too)
            await wait_until("first is back", lambda: board.state("first").connected, within=20)

            # The first one removed: its pusher goes, the second keeps its connection.
            write_card(
                tmp_path / "owner_card.yaml", **{**CARD, "channel": CHANNEL, "outputs": [second]}
            )
            assert (await control("/v1/control/reload-owner-card", b"")).status_code == 200
            await wait_until("first is gone", lambda: board.get("first") is None, within=10)
            assert await listed() == ["second"]
            unknown = await control("/v1/control/outputs/first", b'{"enabled": true}')
            assert unknown.status_code == 404
            audit = ch.store.query_audit(limit=None)
            kinds = [e.event_type for e in audit]
    finally:
        await server.stop()
    assert AuditType.OUTPUT_SWITCHED in kinds
    names = {p.name.rsplit("-", 1)[0] for p in server.recordings()}
    assert names == {"first-stream", "second-stream"}


async def test_a_server_that_accepts_and_never_answers_is_left_and_retried(
    tmp_path: Path, small_slate: Path, nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A black hole: the TCP connection opens, then nothing. ffmpeg would wait for the RTMP
    handshake for minutes; the push gives up after its stall time and tries again."""
    monkeypatch.setattr("actors.outputs.STALL_S", 3.0)
    accepted: list[trio.SocketStream] = []

    async def hold(stream: trio.SocketStream) -> None:
        accepted.append(stream)
        await trio.sleep_forever()

    listeners = await nursery.start(partial(trio.serve_tcp, hold, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    settings = push_settings(
        tmp_path, small_slate, [{"name": "hole", "url": f"rtmp://127.0.0.1:{port}/live/x"}]
    )
    async with running_channel(settings) as daemon:
        state = daemon.ch.outputs.state("hole")
        await wait_until("the stalled push gives up", lambda: state.failures >= 1, within=20)
        assert "no data written to the server" in state.last_error
        await wait_until("it tries again", lambda: len(accepted) >= 2, within=20)
        assert not state.connected
    nursery.cancel_scope.cancel()


async def test_a_pusher_crashed_mid_push_leaves_no_ffmpeg_behind_and_pushes_again(
    tmp_path: Path, small_slate: Path, clip_cache: ClipCache
) -> None:
    """A bug in the Pusher while it pushes (a fault injected into its running incarnation):
    its ffmpeg ends with it (no orphan keeps publishing beside the new one, which the server
    would refuse as a second publisher of the same stream), the outputs supervisor starts a
    new Pusher and it connects again; each recording is continuous."""
    server = RtmpServer(tmp_path / "rtmp")
    await server.start()
    settings = push_settings(
        tmp_path,
        small_slate,
        [{"name": "main", "url": server.url, "key_env": "VVTV_OUTPUT_KEY_MAIN"}],
        VVTV_OUTPUT_KEY_MAIN=KEY,
    )
    await programmes_on_air(settings, clip_cache, [4.0, 4.0, 4.0])

    def pushes() -> list[str]:
        return [c for c in child_commands() if "-fpre /dev/fd/" in c]

    try:
        async with running_channel(settings) as daemon:
            runtime = daemon.runtime
            state = daemon.ch.outputs.state("main")
            await wait_until("the push connects", lambda: state.connected, within=20)
            await trio.sleep(3)
            assert len(pushes()) == 1
            inject_fault(runtime, "output:main")
            await wait_restarts(runtime, "output:main", 1)
            await wait_until("the new Pusher connects", lambda: state.connected, within=20)
            await trio.sleep(3)
            assert len(pushes()) == 1, pushes()
            assert runtime.node("outputs").restarts == 0  # the subtree stayed up
            view = state.view(daemon.ch.clock.now())
    finally:
        await server.stop()
    assert view["status"] == "connected"
    first, second = server.recordings()
    for recording in (first, second):
        packets = probe_packets(recording)
        assert regressions(packets["video"]) == 0 and regressions(packets["audio"]) == 0
        assert media_span(packets["video"]) > 2
