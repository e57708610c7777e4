"""SIGKILL a real ``vvtv run`` while it pushes to nginx-rtmp, restart it, check the output.

The daemon's push is an ffmpeg child fed through a pipe: when the daemon dies without any
cleanup, that pipe's end closes, ffmpeg finishes the stream it was sending and exits (no
orphan keeps pushing, or holds the stream key on the server). The restarted daemon connects
the output again within seconds, on its own timeline: the server records one stream per
connection, and neither recording has a timestamp regression (issue 20, chaos over the push).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.daemon import LOCK_TTL_S
from tests.proof.daemon_process import Channel
from tests.support.cards import folder_source, write_card
from tests.support.push import RtmpServer, have_rtmp_server, media_span, probe_packets, regressions
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif(not have_rtmp_server(), reason="needs nginx + libnginx-mod-rtmp")

KEY = "sk-chaos-5e1d7a90c3b2"
RECONNECT_WITHIN_S = 10.0


def output(channel: Channel, name: str) -> dict[str, Any] | None:
    try:
        reply = httpx.get(f"{channel.base_url}/v1/outputs", timeout=5)
    except httpx.HTTPError:
        return None
    return next((o for o in reply.json()["outputs"] if o["name"] == name), None)


def connected(channel: Channel) -> dict[str, Any] | None:
    found = output(channel, "main")
    return found if found and found["status"] == "connected" else None


def pushers(port: int) -> list[int]:
    """Every process on the machine pushing to the server's port (ffmpeg's argv names it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "ffmpeg" in cmdline and f"127.0.0.1:{port}/" in cmdline:
            found.append(int(proc.name))
    return found


def test_sigkill_during_an_output_push_then_it_reconnects_and_no_recording_regresses(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    server = RtmpServer(tmp_path / "rtmp")
    trio.run(server.start)
    channel = Channel(tmp_path, clips, slate, VVTV_OUTPUT_KEY_MAIN=KEY)
    write_card(
        channel.card,
        search_policy={"allowlist_domains": ["localhost"]},
        schedule_policy={"timezone": "UTC"},
        sources=[folder_source("clips", clips)],
        outputs=[{"name": "main", "url": server.url, "key_env": "VVTV_OUTPUT_KEY_MAIN"}],
    )
    try:
        channel.start()
        try:
            wait_for("the push to connect", lambda: connected(channel), timeout=30)
            # A few seconds on the server: the first recording is well under way.
            wait_for(
                "the server to record the push",
                lambda: any(p.stat().st_size > 200_000 for p in server.recordings()),
                timeout=20,
            )
            ffmpeg = pushers(server.port)
            assert ffmpeg, "no ffmpeg pushing to the server"
            channel.kill()
            killed = time.monotonic()
            # Its pipe closed with the daemon: the pusher ends, it does not push on orphaned.
            wait_for("the orphaned pusher to exit", lambda: not pushers(server.port), timeout=10)

            channel.start()
            assert time.monotonic() - killed < LOCK_TTL_S / 2, "the restart waited out the lock"
            again = wait_for("the push to reconnect", lambda: connected(channel), timeout=20)
            reconnect_s = time.monotonic() - killed
            wait_for(
                "the second recording to grow",
                lambda: (
                    len(server.recordings()) >= 2
                    and server.recordings()[-1].stat().st_size > 200_000
                ),
                timeout=20,
            )
        finally:
            channel.stop()
        assert not pushers(server.port), "the pusher outlived a graceful stop"
    finally:
        trio.run(server.stop)

    assert reconnect_s <= RECONNECT_WITHIN_S, f"reconnected {reconnect_s:.1f} s after the kill"
    assert again["reconnects"] == 0  # a new process: its first connection
    recordings = server.recordings()
    assert len(recordings) == 2, recordings  # one per connection, nothing pushed in between
    for recording in recordings:
        assert recording.name.startswith(KEY)
        packets = probe_packets(recording)
        video, audio = packets["video"], packets["audio"]
        assert regressions(video) == 0 and regressions(audio) == 0, recording.name
        assert media_span(video) > 2 and media_span(audio) > 2
    for log in tmp_path.glob("daemon-*.log"):  # both runs
        assert KEY not in log.read_text(errors="replace")
