"""A channel with a lower rung (``channel.renditions``), played from its master playlist by
hls.js in Debian's headless chromium: the player is made to take the rung and keeps playing
across an item change, onto a programme prepared before the rung existed (its main segments
stand in, behind the item's discontinuity).
"""

from __future__ import annotations

from pathlib import Path

import m3u8
import pytest
import trio

from tests.daemon.harness import CARD, make_settings, running_channel
from tests.daemon.test_watch_live import programme
from tests.support.loopback import closed_port
from tests.web.cdp import CHROMIUM, open_page
from vvtv.core.messages import AssetReady
from vvtv.media.probe import probe_own_hls
from vvtv.media.rungs import read_rung
from vvtv.ownercard.card import Rendition

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]

RUNG = {"height": 360, "video_bitrate_kbps": 500}


async def fetched(page) -> list[str]:
    return await page.eval(
        "performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((u) => u.includes('/live/seg/'))"
    )


async def test_hlsjs_takes_the_rung_and_plays_across_an_item_change(
    tmp_path: Path, slate_template: Path
) -> None:
    root = tmp_path / "channel"
    card = {**CARD, "channel": {"renditions": [RUNG]}}
    bind = f"127.0.0.1:{closed_port()}"
    settings = make_settings(root, slate_template, card, VVTV_API_BIND=bind)
    # Prepared before the card asked for a rung: it has none.
    asset = await programme(settings.hls_dir, tmp_path)
    url = f"http://{bind}"
    async with (
        running_channel(settings) as daemon,
        open_page(url + "/watch", tmp_path / "profile") as page,
    ):
        # The slate was made again at boot, with the rung the card asks for.
        slate_dir = settings.hls_dir / "slate"
        rung = await probe_own_hls(str(slate_dir / "360p.m3u8"))
        assert (rung.width, rung.height, rung.video_codec) == (640, 360, "h264")
        assert len(read_rung(slate_dir, Rendition(360, 500))) >= 5

        # The watch page itself, loaded (not the blank page chromium shows before it: an
        # evaluation there loses its context when the navigation commits).
        await page.wait_for(
            "location.pathname === '/watch' && document.readyState === 'complete'", timeout=30
        )
        await page.eval("performance.setResourceTimingBufferSize(5000)")
        await page.wait_for("document.getElementById('play') !== null", timeout=30)
        await page.wait_for("document.getElementById('play').hidden === false", timeout=30)
        await page.click("#play")
        await page.wait_for("window.vvtvWatch.player.state === 'playing'", timeout=30)
        await page.eval("(window.hls = window.vvtvWatch.player.hls) && 1")
        await page.wait_for("hls.levels.length === 2", timeout=30)
        levels = await page.eval(
            "hls.levels.map((l) => [l.width, l.height, l.bitrate, l.videoCodec])"
        )
        # hls.js orders the levels by bandwidth: the rung is level 0.
        assert levels == [[640, 360, 948240, "avc1.64001e"], [1280, 720, 4188240, "avc1.64001f"]]
        await page.eval("(hls.currentLevel = 0) || 1")
        await page.wait_for("hls.currentLevel === 0", timeout=30)

        ch = daemon.ch
        ch.store.save_asset(asset)
        await daemon.runtime.ref("buffer").cast(
            AssetReady(
                asset_id=asset.asset_id,
                plan_id=None,
                title="Test card",
                theme="colour",
                duration_sec=asset.duration_sec,
                planned_start=None,
            )
        )

        # The rung's playlist, as served: the programme's own segments stand in.
        async def programme_listed() -> bool:
            text = ch.live.rungs["360p"].playlist
            return f"/live/seg/{asset.asset_id}/seg_" in text

        with trio.fail_after(60):
            while not await programme_listed():
                await trio.sleep(0.5)
        rung_pl = m3u8.loads(ch.live.rungs["360p"].playlist)
        main_pl = m3u8.loads(ch.live.playlist)
        assert rung_pl.media_sequence == main_pl.media_sequence
        assert [s.duration for s in rung_pl.segments] == [s.duration for s in main_pl.segments]
        assert [s.discontinuity for s in rung_pl.segments] == [
            s.discontinuity for s in main_pl.segments
        ]
        assert ch.metrics.rendition_fallback_segments.labels("360p")._value.get() >= 1

        # Play on until the player has fetched the programme at the rung's level.
        samples = []
        with trio.fail_after(90):
            while True:
                samples.append(
                    (
                        trio.current_time(),
                        await page.eval("document.getElementById('video').currentTime"),
                    )
                )
                if any(f"/{asset.asset_id}/seg_" in u for u in await fetched(page)):
                    break
                await trio.sleep(2)
        await trio.sleep(8)  # and plays through the change
        samples.append(
            (trio.current_time(), await page.eval("document.getElementById('video').currentTime"))
        )
        seen = await fetched(page)
        player = await page.eval("window.vvtvWatch.player.fatal")
        assert player == [], player
        assert await page.eval("hls.currentLevel") == 0
        assert any("/slate/360p_" in u for u in seen), seen
        # Once on the rung, no slate segment of the main rendition was fetched again.
        first_rung = next(i for i, u in enumerate(seen) if "/slate/360p_" in u)
        assert not any("/slate/seg_" in u for u in seen[first_rung:]), seen
        wall = samples[-1][0] - samples[0][0]
        played = samples[-1][1] - samples[0][1]
        assert played >= 0.8 * wall - 4, (played, wall, samples)
