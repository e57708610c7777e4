"""A channel with a lower rung behind the real edge (workerd): the publisher uploads the
rung's segments before the rung's playlist, and the master; the edge serves both, numbered
as the origin numbers its main playlist, and every segment they name is there."""

from __future__ import annotations

from pathlib import Path

import httpx
import m3u8

from tests.cloud.edge_channel import edge_playlist_numbers, queue_items
from tests.daemon.harness import CARD, make_settings, running_channel
from tests.support.cards import write_card
from tests.support.edge import running_edge
from tests.support.waiting import wait_until


async def test_the_edge_serves_the_master_and_the_rung(
    tmp_path: Path, slate_template: Path
) -> None:
    with running_edge(tmp_path / "edge") as edge:
        cred = edge.credential()
        card = {**CARD, "channel": {"renditions": [{"height": 360, "video_bitrate_kbps": 500}]}}
        settings = make_settings(
            tmp_path / "channel",
            slate_template,
            card,
            VVTV_CLOUDFLARE_BASE_URL=edge.url,
            VVTV_CLOUDFLARE_TOKEN=cred.token,
            VVTV_CLOUDFLARE_SECRET=cred.secret,
        )
        async with (
            httpx.AsyncClient(base_url=edge.url, timeout=40) as client,
            running_channel(settings) as daemon,
        ):
            ch = daemon.ch

            async def rung_at_edge(marker: str) -> bool:
                reply = await client.get("/hls/360p.m3u8")
                return reply.status_code == 200 and marker in reply.text

            # The slate airs first: made again at boot with the rung.
            await wait_until("the slate's rung at the edge", lambda: rung_at_edge("/360p_"),
                             within=60, step=0.5)  # fmt: skip
            master = await client.get("/hls/master.m3u8")
            assert master.status_code == 200 and master.text == ch.live.master
            variants = m3u8.loads(master.text).playlists
            assert [(v.uri, v.stream_info.resolution) for v in variants] == [
                ("index.m3u8", (1280, 720)),
                ("360p.m3u8", (640, 360)),
            ]
            # A programme without the rung (it loops the slate's main segments): its main
            # segments stand in on the rung's playlist at the edge too.
            await queue_items(daemon, 1, "plain", seconds=12.0)
            await wait_until(
                "the programme on the rung's playlist at the edge",
                lambda: rung_at_edge("seg/plain-000/seg_"),
                within=60,
                step=0.5,
            )
            rung_text = (await client.get("/hls/360p.m3u8")).text
            ms, _, uris = edge_playlist_numbers(rung_text)
            assert ms >= 0 and uris
            for uri in uris:  # every segment the rung's playlist names is stored
                seg = await client.get(f"/hls/{uri}")
                assert seg.status_code == 200 and seg.content[0] == 0x47, uri
            assert any("/360p_" in u for u in uris) or any("plain-000" in u for u in uris)
            # Numbered like the main playlist: the same segment numbers, same durations.
            main = m3u8.loads((await client.get("/hls/index.m3u8")).text)
            rung = m3u8.loads(rung_text)
            common = range(max(main.media_sequence, rung.media_sequence),
                           min(main.media_sequence + len(main.segments),
                               rung.media_sequence + len(rung.segments)))  # fmt: skip
            assert len(common) >= 2
            for n in common:
                a = main.segments[n - main.media_sequence]
                b = rung.segments[n - rung.media_sequence]
                assert a.duration == b.duration and a.discontinuity == b.discontinuity
                assert a.uri.split("/")[1] == b.uri.split("/")[1]  # the same asset

            # The card drops the rung: the origin's master and then the edge's list the main
            # rendition alone, so no viewer stays on a rung playlist that stopped.
            write_card(tmp_path / "channel" / "owner_card.yaml", **CARD)
            assert ch.reload_card("test").ok

            async def master_alone() -> bool:
                reply = await client.get("/hls/master.m3u8")
                return [v.uri for v in m3u8.loads(reply.text).playlists] == ["index.m3u8"]

            await wait_until("the edge's master without the rung", master_alone, within=30)
