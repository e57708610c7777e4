"""The lower rung's live playlist and the master playlist: one timeline, several pictures."""

from __future__ import annotations

import re

import attrs
import m3u8
import pytest

from tests.air.test_hls import TARGET, segs
from vvtv.air import live_playlist
from vvtv.air.live_playlist import AssetSegments
from vvtv.air.master import avc1, h264_level, render_master
from vvtv.media.playlist import Segment
from vvtv.ownercard.card import ChannelProfile, Rendition

from .helpers import at, entry

RUNG = Rendition(480, 900)


def rung_of(main: AssetSegments, name: str = "480p") -> AssetSegments:
    return AssetSegments(
        main.asset_id,
        tuple(Segment(f"{name}_{i:05d}.ts", s.duration_sec) for i, s in enumerate(main.segments)),
    )


def window_across_three_items():
    entries = [entry("a", 0, 14), entry("b", 14, 8), entry("c", 22, 30)]
    segments = {e.asset_id: segs(e.asset_id, e.duration_sec) for e in entries}
    items = live_playlist.airing_items(entries, segments)
    _, window = live_playlist.advance(
        None, items, at(25), window_segments=6, min_window_sec=3 * TARGET
    )
    return segments, window


def test_the_rung_window_is_the_main_timeline_with_the_rungs_segments() -> None:
    segments, window = window_across_three_items()
    rungs = {aid: rung_of(s) for aid, s in segments.items()}
    rung, fallback = live_playlist.rung_window(window, rungs)
    assert fallback == 0
    strip = [attrs.evolve(s, name="") for s in rung.segments]
    assert strip == [attrs.evolve(s, name="") for s in window.segments]
    assert [s.name for s in rung.segments][-1] == "480p_00000.ts"
    main_text = live_playlist.render(window, TARGET)
    rung_text = live_playlist.render(rung, TARGET)
    # Only the URIs differ: the numbering, the discontinuities, durations and times agree.
    assert re.sub(r"/live/seg/.*", "", main_text) == re.sub(r"/live/seg/.*", "", rung_text)
    parsed = m3u8.loads(rung_text)
    assert parsed.media_sequence == window.media_sequence
    assert all("/480p_" in s.uri for s in parsed.segments)


def test_an_asset_without_the_rung_airs_its_main_segments_behind_a_discontinuity() -> None:
    segments, window = window_across_three_items()
    rungs = {aid: rung_of(s) for aid, s in segments.items() if aid != "asset-b"}
    rung, fallback = live_playlist.rung_window(window, rungs)
    from_b = [s for s in rung.segments if s.asset_id == "asset-b"]
    assert fallback == len(from_b) == 2
    assert all(s.name.startswith("seg_") for s in from_b)
    assert from_b[0].discontinuity_before
    after_b = rung.segments[rung.segments.index(from_b[-1]) + 1]
    assert after_b.discontinuity_before and after_b.name.startswith("480p_")


def test_the_master_lists_the_main_rendition_first_then_each_rung() -> None:
    profile = ChannelProfile(renditions=(Rendition(360, 600), RUNG))
    master = m3u8.loads(render_master(profile))
    assert master.is_variant
    got = [
        (
            p.uri,
            p.stream_info.resolution,
            p.stream_info.codecs,
            p.stream_info.frame_rate,
            p.stream_info.bandwidth,
            p.stream_info.average_bandwidth,
        )
        for p in master.playlists
    ]
    assert got == [
        ("index.m3u8", (1280, 720), "avc1.64001f,mp4a.40.2", 25.0, 4188240, 2838240),
        ("480p.m3u8", (854, 480), "avc1.64001e,mp4a.40.2", 25.0, 1596240, 1110240),
        ("360p.m3u8", (640, 360), "avc1.64001e,mp4a.40.2", 25.0, 1110240, 786240),
    ]


def test_without_renditions_the_master_lists_the_main_rendition_alone() -> None:
    master = m3u8.loads(render_master(ChannelProfile()))
    assert [p.uri for p in master.playlists] == ["index.m3u8"]


@pytest.mark.parametrize(
    ("size", "fps", "maxrate", "level"),
    [
        ((1280, 720), 25, 3750, 31),
        ((854, 480), 25, 1350, 30),
        ((640, 360), 25, 900, 30),
        ((1920, 1080), 25, 3750, 40),
        ((1920, 1080), 50, 6000, 42),
        ((1280, 720), 60, 3750, 32),
    ],
)
def test_the_h264_level_is_the_lowest_the_stream_fits(size, fps, maxrate, level) -> None:
    assert h264_level(*size, fps, maxrate) == level
    assert avc1(*size, fps, maxrate) == f"avc1.6400{level:02x}"
