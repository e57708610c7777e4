"""The tuner stream follows the live playlist: each segment once, in order, from the live edge."""

from __future__ import annotations

from vvtv.iptv.stream import LiveSegment, live_segments, to_send

PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXTINF:6.000,
/live/seg/asset-a/seg_003.ts
#EXTINF:6.000,
/live/seg/asset-a/seg_004.ts
#EXT-X-DISCONTINUITY
#EXTINF:6.000,
/live/seg/slate/seg_000.ts
"""


def test_the_segments_of_the_channels_live_playlist_are_numbered() -> None:
    assert live_segments(PLAYLIST) == [
        LiveSegment(41, "asset-a", "seg_003.ts"),
        LiveSegment(42, "asset-a", "seg_004.ts"),
        LiveSegment(43, "slate", "seg_000.ts"),
    ]


def test_anything_else_reads_as_no_segments() -> None:
    assert live_segments("") == []
    assert live_segments("#EXTM3U\n#EXTINF:6,\n/live/seg/a/s.ts\n") == []  # no sequence
    assert live_segments(PLAYLIST.replace(":41", ":4x")) == []
    assert live_segments(PLAYLIST.replace("/live/seg/slate/", "http://evil/")) == []
    assert live_segments(PLAYLIST.replace("asset-a/seg_003", "a/../../etc")) == []


def test_a_new_stream_starts_near_the_edge_then_sends_each_new_segment_once() -> None:
    segments = live_segments(PLAYLIST)
    first = to_send(segments, None)
    assert [s.sequence for s in first] == [42, 43]
    assert to_send(segments, 43) == []
    later = live_segments(
        PLAYLIST.replace(":41", ":42") + "#EXTINF:6,\n/live/seg/slate/seg_001.ts\n"
    )
    assert [s.sequence for s in to_send(later, 43)] == [44, 45]


def test_a_stream_that_fell_behind_or_outlived_a_renumbering_rejoins_the_edge() -> None:
    segments = live_segments(PLAYLIST)
    assert [s.sequence for s in to_send(segments, 10)] == [42, 43]  # far behind the window
    assert [s.sequence for s in to_send(segments, 900)] == [42, 43]  # numbers went back
    assert [s.sequence for s in to_send(segments, 40)] == [41, 42, 43]  # just behind: all
    assert to_send([], 5) == []
