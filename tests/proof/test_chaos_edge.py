"""SIGKILL a real ``vvtv run`` in the middle of talking to the edge; restart it; nothing breaks.

A real daemon (a subprocess, prepared clips on air), the real Worker, and a proxy in between
that holds one chosen request until the daemon is killed, then drops it (it never
arrives, as when the sender dies mid-request):

- killed during a segment upload: the edge never lists a segment it does not hold (a
  watcher fetches every segment of every playlist the edge serves, the whole time), the
  channel never sent a playlist before its segments, and the restarted publisher carries on;
- killed between applying a relayed command and acknowledging it: the restarted agent
  posts the recorded result, and the command is applied once (a toggle: twice would undo it);
- the cloud outbox delivered every notification once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.cloud.edge_channel import edge_playlist_numbers
from tests.proof.daemon_process import Channel
from tests.support.edge import EdgeWorker, edge_headers, edge_proxy, running_edge
from tests.support.waiting import wait_for
from vvtv.core.signing import new_nonce


class PlaylistWatcher:
    """Fetches the edge's playlist and every segment it lists, over and over (a viewer)."""

    def __init__(self, edge: EdgeWorker) -> None:
        self.edge = edge
        self.checked = 0
        self.missing: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PlaylistWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.edge.url, timeout=10) as client:
            while not self._stop.wait(0.1):
                try:
                    playlist = client.get("/hls/index.m3u8")
                    if playlist.status_code != 200:
                        continue
                    for uri in edge_playlist_numbers(playlist.text)[2]:
                        if client.head(f"/hls/{uri}").status_code != 200:
                            self.missing.append(uri)
                    self.checked += 1
                except httpx.TransportError:
                    continue  # the edge is being restarted by nobody here; just try again


def control(edge: EdgeWorker, path: str, body: bytes = b"", **params: object) -> httpx.Response:
    method = "POST" if body or path.endswith("-mode") else "GET"
    headers = edge_headers(edge.credential(role="control"), method, path, body, nonce=new_nonce())
    return httpx.request(
        method, edge.url + path, content=body, headers=headers, params=params, timeout=40
    )


def test_sigkill_mid_upload_and_mid_command_loses_nothing_and_applies_once(
    tmp_path: Path, clips: Path, slate: Path
) -> None:
    with running_edge(tmp_path / "edge") as edge, edge_proxy(edge) as proxy:
        cred = edge.credential()
        channel = Channel(
            tmp_path / "channel",
            clips,
            slate,
            VVTV_CLOUDFLARE_BASE_URL=proxy.url,
            VVTV_CLOUDFLARE_TOKEN=cred.token,
            VVTV_CLOUDFLARE_SECRET=cred.secret,
            VVTV_ALERT_STARTUP_GRACE_SECS="0",  # its alerts are counted at the edge
        )
        with PlaylistWatcher(edge) as watcher:
            # --- killed while a segment of a programme is on its way ----------------------
            proxy.hold_next(
                lambda r: (
                    r.method == "PUT" and "/hls/seg/" in r.path and "/seg/slate/" not in r.path
                )
            )
            channel.start()
            try:
                assert proxy.held.wait(120), "no programme segment was uploaded"
                channel.kill()
            finally:
                proxy.release()
            channel.start()

            def programme_listed() -> bool:
                playlist = httpx.get(edge.url + "/hls/index.m3u8", timeout=10)
                uris = edge_playlist_numbers(playlist.text)[2] if playlist.is_success else []
                return any("/slate/" not in u for u in uris)

            wait_for("a programme listed at the edge", programme_listed, timeout=120, every=0.2)

            # --- killed after applying a relayed command, before acknowledging it ----------
            proxy.hold_next(lambda r: r.method == "POST" and r.path.endswith("/result"))
            sent = control(edge, "/v1/control/emergency-mode")  # an empty body toggles
            assert sent.status_code == 202, sent.text
            command_id = sent.json()["id"]
            try:
                assert proxy.held.wait(60), "the agent never answered the command"
                rows = channel.query("SELECT state FROM edge_commands WHERE id = ?", command_id)
                assert rows == [("applied",)]  # applied and recorded; the edge does not know
                channel.kill()
            finally:
                proxy.release()
            assert control(edge, f"/v1/control/commands/{command_id}").json()["state"] in (
                "delivered",
                "pending",
            )
            channel.start()
            done = control(edge, f"/v1/control/commands/{command_id}", wait=25).json()
            assert done["state"] == "succeeded", done
            status = httpx.get(channel.base_url + "/v1/status", timeout=10).json()
            assert status["emergency_override"] is False  # toggled once, from emergency
            assert done["result"]["body"]["emergency_override"] is False
            calls = [
                row
                for row in channel.audit("control_call")
                if f'"who": "edge:{command_id}"' in row[4] or f'"who":"edge:{command_id}"' in row[4]
            ]
            assert len(calls) == 1, calls

            wait_for(
                "the cloud outbox drained",
                lambda: (
                    channel.query(
                        "SELECT count(*) FROM outbox WHERE topic = 'cloud' AND status = 'pending'"
                    )
                    == [(0,)]
                ),
                timeout=120,
            )
            channel.stop()
            assert watcher.checked > 20 and watcher.missing == [], watcher.missing

        # The channel's order: each playlist the edge took lists only segments it had taken.
        stored: set[str] = set()
        for request, status in proxy.forwarded:
            if not 200 <= status < 300 or request.method != "PUT":
                continue
            if "/hls/seg/" in request.path:
                stored.add(request.path.split("/hls/seg/", 1)[1])
            elif request.path.endswith("/hls/index.m3u8"):
                listed = {
                    u.removeprefix("seg/") for u in edge_playlist_numbers(request.body.decode())[2]
                }
                assert listed <= stored, listed - stored
        # Each notification reached the edge and was recorded there once, though a kill may
        # have made the outbox send one again (at least once, deduplicated by its id).
        sent = {r.json()["id"] for r in proxy.accepted("POST", "/v1/ingest/alerts")}
        audit = control(edge, "/v1/control/audit", limit=200).json()["events"]
        recorded = [e["details"]["id"] for e in audit if e["action"] in ("alert", "alert_clear")]
        assert sent and sorted(recorded) == sorted(sent)
