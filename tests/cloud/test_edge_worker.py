"""The edge (cloud/worker) as the channel meets it: the real Worker in workerd on loopback.

The channel's own signing and its CloudSync actor against the Worker, an outage of the edge
(stopped, then back on the same port with its state), and hls.js from the Worker playing the
edge's HLS in headless Chromium across an item boundary.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from actors.cloudsync import CloudSync
from supervisors import ChildSpec, Runtime, Supervisor
from tests.support.edge import EdgeWorker, edge_headers, running_edge
from tests.support.waiting import wait_until
from tests.web.cdp import CHROMIUM, open_page
from vvtv.core.clock import TrioClock
from vvtv.core.messages import PublishDaily, PublishStatus, PublishWeekly
from vvtv.core.signing import signed_headers
from vvtv.store import open_store

STATUS = b'{"state":"RUNNING","buffer_minutes":61.5}'


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeWorker]:
    """One edge for the tests below that do not care what the others sent it."""
    with running_edge(tmp_path_factory.mktemp("edge")) as shared:
        yield shared


def test_the_channels_signing_is_accepted_and_a_replay_refused(edge: EdgeWorker) -> None:
    cred = edge.credential()
    headers = signed_headers(
        cred.token, cred.secret, "POST", "/v1/ingest/status", STATUS, time.time()
    )
    url = edge.url + "/v1/ingest/status"
    first = httpx.post(url, content=STATUS, headers=headers)
    assert first.status_code == 200, first.text
    again = httpx.post(url, content=STATUS, headers=headers)
    assert (again.status_code, again.json()) == (401, {"error": "replayed signature"})
    status = httpx.get(edge.url + "/v1/status").json()
    assert (status["state"], status["buffer_minutes"]) == ("RUNNING", 61.5)


def test_a_nonce_lets_the_same_call_repeat_within_a_second(edge: EdgeWorker) -> None:
    cred = edge.credential()
    now = time.time()
    url = edge.url + "/v1/ingest/status"
    for nonce in ("repeat-0001", "repeat-0002"):
        headers = edge_headers(cred, "POST", "/v1/ingest/status", STATUS, nonce=nonce, now=now)
        assert httpx.post(url, content=STATUS, headers=headers).status_code == 200
    # The nonce is signed: changing it breaks the signature.
    headers = edge_headers(cred, "POST", "/v1/ingest/status", STATUS, nonce="repeat-0003", now=now)
    headers["x-vvtv-nonce"] = "repeat-0004"
    refused = httpx.post(url, content=STATUS, headers=headers)
    assert (refused.status_code, refused.json()) == (401, {"error": "signature mismatch"})


def test_the_operators_credential_cannot_ingest(edge: EdgeWorker) -> None:
    path = "/v1/ingest/status"
    headers = edge.headers("POST", path, STATUS, role="control")
    refused = httpx.post(edge.url + path, content=STATUS, headers=headers)
    assert (refused.status_code, refused.json()) == (401, {"error": "invalid token"})


async def test_cloudsync_publishes_status_and_reports_that_the_edge_serves(
    tmp_path: Path, edge_worker: EdgeWorker
) -> None:
    clock = TrioClock()  # the real clock: the edge checks timestamps against its own
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    cred = edge_worker.credential()

    def cloudsync() -> CloudSync:
        # Through the original's /vvtv prefix: CloudSync signs the path it posts to.
        return CloudSync(
            store=store,
            clock=clock,
            base_url=edge_worker.url + "/vvtv",
            token=cred.token,
            secret=cred.secret,
        )

    runtime = Runtime(Supervisor("root", [ChildSpec("cloudsync", cloudsync)]))
    snapshot = {
        "at": "2026-03-01T12:00:00+00:00",
        "commit": {"selected": 2, "queued": 2, "fell_back": 0, "failed": 0},
        "status": {"state": "RUNNING", "buffer_minutes": 58.0, "next": [{"title": "Next"}]},
        "metrics": {"qa_pass_rate": 0.95},
    }
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        ref = runtime.ref("cloudsync")
        ids = [
            await ref.call(PublishStatus(snapshot)),
            await ref.call(PublishDaily(date(2026, 3, 1), {"aired": 40}, {"qa_pass_rate": 0.95})),
            await ref.call(PublishWeekly("2026-W09", {"aired": 280}, {})),
        ]
        assert all(isinstance(i, int) for i in ids), ids

        def delivered() -> bool:
            items = [store.get_outbox_item(i) for i in ids]
            return all(item is not None and item.status == "delivered" for item in items)

        await wait_until(
            "the outbox delivered to the edge",
            delivered,
            within=60,
            show=lambda: [store.get_outbox_item(i) for i in ids],
        )
        runtime.shutdown()
    async with httpx.AsyncClient(base_url=edge_worker.url) as client:
        status = (await client.get("/v1/status")).json()
        assert (status["state"], status["buffer_minutes"]) == ("RUNNING", 58.0)
        assert status["next"] == {"title": "Next", "start_at": None, "duration_sec": None}
        assert "metrics" not in status and "commit" not in status
        daily = await client.get("/v1/reports/daily", params={"date": "2026-03-01"})
        assert daily.json() == {
            "date": "2026-03-01",
            "summary": {"aired": 40},
            "metrics": {"qa_pass_rate": 0.95},
        }
        weekly = await client.get("/vvtv/v1/reports/weekly", params={"week": "2026-W09"})
        assert weekly.json()["summary"] == {"aired": 280}
        assert (await client.get("/v1/reports/weekly", params={"week": "2026-W99"})).json() == {
            "error": "invalid iso week"
        }


def test_an_edge_outage_loses_its_state_to_nothing(tmp_path: Path) -> None:
    with running_edge(tmp_path / "edge") as edge:
        headers = edge.headers("POST", "/v1/ingest/status", STATUS)
        assert httpx.post(
            edge.url + "/v1/ingest/status", content=STATUS, headers=headers
        ).is_success
        url = edge.url
        edge.stop()
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/v1/status")
        edge.start(port=edge.port)
        assert edge.url == url
        assert httpx.get(url + "/v1/status").json()["buffer_minutes"] == 61.5
        # The replay memory survived too.
        again = httpx.post(url + "/v1/ingest/status", content=STATUS, headers=headers)
        assert again.status_code == 401


# ---- hls.js from the edge, in headless Chromium --------------------------------------------

SEGMENT_S = 1
ASSET_SEGMENTS = 6


def make_asset(directory: Path, tone: int) -> list[bytes]:
    """An item of ASSET_SEGMENTS one-second MPEG-TS segments, timestamps from zero (as the
    channel prepares each asset on its own)."""
    directory.mkdir(parents=True)
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=25:d={ASSET_SEGMENTS * SEGMENT_S}",
         "-f", "lavfi", "-i", f"sine=f={tone}:sample_rate=48000:d={ASSET_SEGMENTS * SEGMENT_S}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-ac", "2", "-b:a", "64k",
         "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_list_size", "0",
         "-hls_segment_filename", str(directory / "s%03d.ts"), str(directory / "index.m3u8")],
        check=True,
    )  # fmt: skip
    return [p.read_bytes() for p in sorted(directory.glob("s*.ts"))]


class Publisher:
    """The channel's side in miniature, numbered like the origin: each segment uploaded
    once, then the playlist of the last WINDOW segments, a discontinuity before each new
    item (none before the first listed one: the discontinuity sequence counts it)."""

    WINDOW = 5

    def __init__(self, edge: EdgeWorker, client: httpx.AsyncClient) -> None:
        self.edge = edge
        self.client = client
        # [media sequence, asset, name, discontinuity before] of each listed segment
        self.window: list[list[Any]] = []
        self.next_sequence = 0
        self.discontinuity_sequence = 0

    async def put(self, path: str, body: bytes) -> None:
        headers = self.edge.headers("PUT", path, body)
        response = await self.client.put(path, content=body, headers=headers)
        assert response.is_success, response.text

    async def publish(self, asset: str, name: str, data: bytes, new_item: bool) -> None:
        await self.put(f"/v1/ingest/hls/seg/{asset}/{name}", data)
        self.window.append([self.next_sequence, asset, name, new_item and bool(self.window)])
        self.next_sequence += 1
        while len(self.window) > self.WINDOW:
            self.window.pop(0)
            if self.window[0][3]:
                self.window[0][3] = False
                self.discontinuity_sequence += 1
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{SEGMENT_S}",
            f"#EXT-X-MEDIA-SEQUENCE:{self.window[0][0]}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuity_sequence}",
        ]
        for _, a, n, discontinuity in self.window:
            if discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{SEGMENT_S}.000,", f"/live/seg/{a}/{n}"]
        await self.put("/v1/ingest/hls/index.m3u8", ("\n".join(lines) + "\n").encode())

    async def run(self, items: list[tuple[str, list[bytes]]], skip: int) -> None:
        """Publish ``items`` from segment ``skip`` on, one a second as the wall clock goes."""
        for i, (asset, segments) in enumerate(items):
            for k, data in enumerate(segments):
                if i == 0 and k < skip:
                    continue
                await self.publish(asset, f"s{k:03d}.ts", data, new_item=k == 0)
                await trio.sleep(SEGMENT_S)  # the live edge moves with the wall clock


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
async def test_the_watch_page_waits_for_the_stream_then_plays_it_across_an_item_boundary(
    tmp_path: Path, edge: EdgeWorker
) -> None:
    a = make_asset(tmp_path / "a", 330)
    b = make_asset(tmp_path / "b", 550)
    items = [("item-a", a), ("item-b", b), ("item-c", a), ("item-d", b)]
    preload = 4
    status = (
        b'{"state": "RUNNING", "buffer_minutes": 50, "channel": {"name": "Edge TV"},'
        b' "now_playing": {"title": "Night owls"}, "next": {"title": "Dawn"}}'
    )
    posted = httpx.post(
        edge.url + "/v1/ingest/status",
        content=status,
        headers=edge.headers("POST", "/v1/ingest/status", status),
    )
    assert posted.is_success, posted.text
    async with httpx.AsyncClient(base_url=edge.url, timeout=30) as client:
        publisher = Publisher(edge, client)
        async with (
            open_page(edge.url + "/", tmp_path / "profile") as page,
            trio.open_nursery() as n,
        ):
            await page.wait_for("document.readyState === 'complete' && !!window.Hls")
            # Before anything plays: the logo (its drawn fallback here), now and next.
            await page.wait_for("document.getElementById('poster').naturalWidth > 0")
            await page.wait_for("document.getElementById('now').textContent === 'Night owls'")
            assert await page.eval("document.getElementById('next').textContent") == "Dawn"
            # ▶ with nothing published yet: the page says so and keeps trying.
            await page.click("#play")
            await page.wait_for("window.vvtvPlayer.state === 'reconnecting'", timeout=30)
            notice = await page.eval("document.getElementById('notice').textContent")
            assert "reconnecting" in notice.lower(), notice
            # The channel starts publishing: the page finds the stream by itself.
            for k in range(preload):
                await publisher.publish("item-a", f"s{k:03d}.ts", a[k], new_item=k == 0)
            n.start_soon(publisher.run, items, preload)
            await page.wait_for("window.vvtvPlayer.state === 'playing'", timeout=45)
            fatal = await page.eval("window.vvtvPlayer.fatal")
            started = await page.eval("document.getElementById('video').currentTime")
            # Ten seconds of playback from within item-a cross into item-b.
            await page.wait_for(
                f"document.getElementById('video').currentTime >= {started} + 10", timeout=40
            )
            player = await page.eval("window.vvtvPlayer")
            assert player["engine"] == "hls.js", player  # the Worker's own copy
            assert player["fatal"] == fatal, player  # no fatal error once playing
            assert await page.eval("document.getElementById('notice').hidden") is True
            # The fragments played carry the origin's numbers: sequence numbers as published,
            # and a new discontinuity number after the item boundary.
            played = player["played"]
            assert len({f["cc"] for f in played}) >= 2, played
            assert all(0 <= f["sn"] < publisher.next_sequence for f in played), played
            sns = [f["sn"] for f in played]
            assert sns == sorted(sns), sns
            await page.click("#fullscreen")
            await page.wait_for("document.fullscreenElement?.id === 'stage'")
            n.cancel_scope.cancel()
