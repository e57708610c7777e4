"""The audience's routes on a real channel: the card's name and logo, the guide from the real
timeline and the plans in the store, and the tuner stream read by ffprobe."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import trio
from defusedxml import ElementTree
from ipytv import playlist

from tests.daemon.harness import CARD, make_settings, running_channel
from tests.iptv.xmltv_check import tv_validate
from tests.support.cards import write_card
from tests.web.test_audience import PNG
from vvtv.core.model import PlanItem, PlanState
from vvtv.core.signing import signed_headers


def plan(ch, minutes_ahead: float, title: str, state: PlanState) -> PlanItem:
    now = ch.clock.now()
    return PlanItem(
        plan_id=f"plan-{title.split()[0].lower()}",
        source_url="https://media.example.com/private/token=abc/video.mp4",
        title=title,
        duration_sec=900,
        discovered_at=now - timedelta(hours=6),
        state=state,
        theme="city",
        tags=("night",),
        start_at=now + timedelta(minutes=minutes_ahead),
    )


async def test_viewers_and_iptv_apps_see_the_cards_channel_and_the_real_guide(
    tmp_path: Path, slate_template: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "logo.png").write_bytes(PNG)
    card = {**CARD, "channel": {"name": "Voulez Vous", "logo": "config/logo.png"}}
    settings = make_settings(tmp_path, slate_template, card)
    async with running_channel(settings) as daemon:
        ch = daemon.ch
        # Committed (being fetched, as far as the guide knows): the scheduler leaves them be,
        # where it would re-plan scheduled ones around this test.
        ch.store.insert_plans(
            [
                plan(ch, 90, "Desert roads at dusk", PlanState.COMMITTED),
                plan(ch, 120, "Night trains <express> & co", PlanState.COMMITTED),
                plan(ch, 150, "Dropped one", PlanState.DROPPED),
            ]
        )
        async with httpx.AsyncClient(base_url=ch.api_url, timeout=10) as client:
            public = (await client.get("/v1/public/status")).json()
            assert public["channel"] == {
                "id": "voulez-vous.vvtv",
                "name": "Voulez Vous",
                "logo": "/channel/logo",
            }
            assert public["state"] == "intermission"  # the slate airs: nothing is ready
            logo = await client.get("/channel/logo")
            assert logo.content == PNG and logo.headers["content-type"] == "image/png"

            guide = await client.get("/iptv/xmltv.xml")
            result = tv_validate(guide.content, tmp_path / "guide")
            assert result.returncode == 0, result.stdout
            tv = ElementTree.fromstring(guide.content)
            titles = [p.find("title").text for p in tv.findall("programme")]
            assert titles == [
                "Intermission",
                "Desert roads at dusk",
                "Night trains <express> & co",
                "Intermission",
            ]
            assert tv.find("channel/icon").get("src") == f"{ch.api_url}/channel/logo"
            assert b"media.example.com" not in guide.content

            m3u = await client.get("/iptv/channel.m3u")
            (tmp_path / "c.m3u").write_text(m3u.text)
            (entry,) = list(playlist.loadf(str(tmp_path / "c.m3u")))
            assert entry.url == f"{ch.api_url}/live/index.m3u8"
            assert entry.attributes["tvg-id"] == tv.find("channel").get("id")

            # A reloaded card renames the channel for viewers at once.
            write_card(
                tmp_path / "owner_card.yaml", **{**CARD, "channel": {"name": "VV Deux", "logo": ""}}
            )
            path = "/v1/control/reload-owner-card"
            headers = signed_headers(
                settings.control_token, settings.control_secret, "POST", path, b"",
                ch.clock.now().timestamp(),
            )  # fmt: skip
            assert (await client.post(path, headers=headers)).status_code == 200
            public = (await client.get("/v1/public/status")).json()
            assert public["channel"] == {"id": "vv-deux.vvtv", "name": "VV Deux", "logo": None}
            assert (await client.get("/channel/logo")).status_code == 404


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe")
async def test_the_tuner_stream_is_mpegts_with_video_and_sound(
    tmp_path: Path, slate_template: Path
) -> None:
    settings = make_settings(tmp_path, slate_template)
    async with running_channel(settings) as daemon:
        url = daemon.ch.api_url + "/iptv/channel.ts"
        with trio.fail_after(60):
            probe = await trio.run_process(
                ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", url],
                capture_stdout=True,
                capture_stderr=True,
            )
        info = json.loads(probe.stdout)
        assert info["format"]["format_name"] == "mpegts"
        codecs = sorted(s["codec_name"] for s in info["streams"])
        assert codecs == ["aac", "h264"]
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (1280, 720)
