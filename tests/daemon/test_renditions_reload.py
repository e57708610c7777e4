"""Enabling a rung on a running channel (card reload): offered at once, with what exists.

What was prepared before (here the slate) has no rung: its main segments stand in on the
rung's playlist, counted, and nothing is ever listed that does not exist; dropping the rung
again takes it out of the master at once.
"""

from __future__ import annotations

from pathlib import Path

import m3u8

from tests.daemon.harness import CARD, make_settings, running_channel
from tests.support.cards import write_card
from tests.support.waiting import wait_until

RUNG = {"height": 480, "video_bitrate_kbps": 900}


async def test_a_rung_enabled_by_a_card_reload_is_offered_at_once(
    tmp_path: Path, slate_template: Path
) -> None:
    settings = make_settings(tmp_path, slate_template)
    async with running_channel(settings) as daemon:
        ch = daemon.ch
        await wait_until("a live window", lambda: ch.live.window is not None, within=30)
        assert [p.uri for p in m3u8.loads(ch.live.master).playlists] == ["index.m3u8"]
        assert ch.live.rungs == {}

        write_card(tmp_path / "owner_card.yaml", **{**CARD, "channel": {"renditions": [RUNG]}})
        assert ch.reload_card("test").ok
        await wait_until("the rung offered", lambda: "480p" in ch.live.rungs, within=15)
        master = m3u8.loads(ch.live.master)
        assert [(p.uri, p.stream_info.resolution) for p in master.playlists] == [
            ("index.m3u8", (1280, 720)),
            ("480p.m3u8", (854, 480)),
        ]
        rung = ch.live.rungs["480p"]
        # The slate on air was made before the rung: its main segments, every one of them.
        assert rung.fallback == len(rung.window.segments) > 0
        assert rung.playlist.count("/live/seg/slate/seg_") == len(rung.window.segments)
        assert ch.metrics.rendition_fallback_segments.labels("480p")._value.get() == rung.fallback
        for s in rung.window.segments:
            assert ch.live.segment_path(s.asset_id, s.name) is not None

        write_card(tmp_path / "owner_card.yaml", **CARD)
        assert ch.reload_card("test").ok
        await wait_until("the rung withdrawn", lambda: ch.live.rungs == {}, within=15)
        assert [p.uri for p in m3u8.loads(ch.live.master).playlists] == ["index.m3u8"]
