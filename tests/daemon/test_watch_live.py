"""/watch from a real channel in Debian's headless chromium, with hls.js: a viewer clicks
▶ and watches for over a minute across item changes (slate -> programme -> slate).

The one long browser test of the default suite (about 80 s): the player's clock must
follow the wall clock, hls.js must report no fatal error, the guide on the page must
move on with the channel, and the page must load nothing from outside the channel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from tests.daemon.harness import CARD, make_settings, running_channel
from tests.support.loopback import closed_port  # free now: the channel binds it
from tests.web.cdp import CHROMIUM, open_page
from vvtv.core.messages import AssetReady
from vvtv.core.model import AssetItem, QAReport, QAStatus
from vvtv.media.generate import render_clip
from vvtv.media.prepare import prepare
from vvtv.ownercard.card import ChannelProfile, QualityPolicy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]

WATCH_SECONDS = 64
PROGRAMME = "Test card, in colour"


async def programme(hls_root: Path, scratch: Path) -> AssetItem:
    """A real 24-second programme, rendered and prepared like any asset."""
    profile = ChannelProfile()
    clip = await render_clip(
        scratch / "programme.mp4",
        video=f"testsrc2=s={profile.width}x{profile.height}:r={profile.fps}",
        audio=f"sine=f=660:sample_rate={profile.audio_rate}",
        seconds=24,
        profile=profile,
    )
    prepared = await prepare(clip, hls_root, "asset-testcard", profile, QualityPolicy())
    return AssetItem(
        asset_id=prepared.asset_id,
        plan_id="",
        source_url="test:testcard",
        checksum="testcard",
        local_path=str(prepared.dir),
        created_at=datetime.now(UTC),
        duration_sec=prepared.duration_sec,
        qa_status=QAStatus.PASSED,
        qa=QAReport(passed=True, height=profile.height),
        segments_dir=str(prepared.dir),
        segment_count=len(prepared.segments),
    )


async def test_a_viewer_watches_a_minute_across_item_changes_with_hlsjs(
    tmp_path: Path, slate_template: Path
) -> None:
    root = tmp_path / "channel"
    # A logo file that does not exist: the page must fall back to the name as text.
    card = {**CARD, "channel": {"name": "Voulez Vous", "logo": "missing-logo.png"}}
    bind = f"127.0.0.1:{closed_port()}"
    settings = make_settings(root, slate_template, card, VVTV_API_BIND=bind)
    asset = await programme(settings.hls_dir, tmp_path)
    url = f"http://{bind}"

    async with (
        running_channel(settings) as daemon,
        open_page(url + "/watch", tmp_path / "profile") as page,
    ):
        # The watch page itself, loaded (not the blank page chromium shows before it: an
        # evaluation there loses its context when the navigation commits).
        await page.wait_for(
            "location.pathname === '/watch' && document.readyState === 'complete'", timeout=30
        )
        await page.eval("performance.setResourceTimingBufferSize(5000)")
        await page.wait_for("document.getElementById('channel-name').textContent === 'Voulez Vous'")
        await page.wait_for("document.getElementById('logo').hidden === true")
        await page.wait_for("!document.getElementById('channel-name').hidden")
        await page.wait_for("document.getElementById('now-title').textContent === 'Intermission'")
        assert await page.eval("document.getElementById('play').hidden") is False

        await page.click("#play")
        await page.wait_for("window.vvtvWatch.player.state === 'playing'", timeout=30)
        assert await page.eval("window.vvtvWatch.player.engine") == "hls.js"
        assert await page.eval("Hls.version") == "1.7.4"
        assert await page.eval("document.getElementById('video').muted") is False
        assert await page.eval("document.getElementById('play').hidden") is True

        # The programme is ready: it airs when the slate on air ends.
        ch = daemon.ch
        ch.store.save_asset(asset)
        await daemon.runtime.ref("buffer").cast(
            AssetReady(
                asset_id=asset.asset_id,
                plan_id=None,
                title=PROGRAMME,
                theme="colour",
                duration_sec=asset.duration_sec,
                planned_start=None,
            )
        )

        samples: list[tuple[float, float]] = []
        titles: list[str] = []
        started = trio.current_time()
        while trio.current_time() - started < WATCH_SECONDS:
            position = await page.eval("document.getElementById('video').currentTime")
            samples.append((trio.current_time(), position))
            title = await page.eval("document.getElementById('now-title').textContent")
            if not titles or titles[-1] != title:
                titles.append(title)
            await trio.sleep(2)
        await page.screenshot(tmp_path / "watch.png")

        player = await page.eval(
            "(() => { const p = window.vvtvWatch.player;"
            " return {state: p.state, fatal: p.fatal, errors: p.errors,"
            " recoveries: p.recoveries}; })()"
        )
        assert player["fatal"] == [], player
        assert player["state"] == "playing", player
        wall = samples[-1][0] - samples[0][0]
        played = samples[-1][1] - samples[0][1]
        assert wall >= 60
        assert 0.9 * wall - 3 <= played <= 1.1 * wall + 3, (played, wall, samples)
        # Never stuck: the playhead moved between any two samples 6 s apart.
        for (t0, p0), (t1, p1) in zip(samples, samples[3:], strict=False):
            assert p1 > p0, (t0, p0, t1, p1)
        # The page followed the channel: intermission, the programme, intermission again.
        assert titles[:2] == ["Intermission", PROGRAMME] and titles[-1] == "Intermission", titles
        hls = await page.eval("window.vvtvWatch.player.hls.levels.length")
        assert hls == 1

        # Everything the page fetched came from the channel itself.
        fetched = await page.eval("performance.getEntriesByType('resource').map((e) => e.name)")
        assert any("/live/seg/asset-testcard/" in u for u in fetched)
        # hls.js transmuxes in its worker, a file of the channel's own (CSP: 'self').
        assert f"{url}/static/vendor/hls.worker.js" in fetched
        assert all(u.startswith(url + "/") for u in fetched), [
            u for u in fetched if not u.startswith(url + "/")
        ]
