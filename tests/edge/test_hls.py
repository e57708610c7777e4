"""What the publisher uploads for a live window, and what it makes of the edge's answers."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from vvtv.air.live_playlist import LiveWindow, WindowSegment
from vvtv.core.clock import utc
from vvtv.edge import hls

T0 = utc(2026, 3, 1, 12)


def window(*items: tuple[str, int], first_seq: int = 100, first_dsn: int = 7) -> LiveWindow:
    """A window of ``(asset_id, n)`` items: n segments each, a discontinuity between items."""
    segments, seq, dsn, at = [], first_seq, first_dsn, T0
    for k, (asset, n) in enumerate(items):
        for i in range(n):
            boundary = k > 0 and i == 0
            dsn += 1 if boundary else 0
            segments.append(
                WindowSegment(
                    seq, dsn, f"e-{asset}", asset, i, f"seg_{i:05d}.ts", 6.0, at, boundary
                )
            )
            seq += 1
            at += timedelta(seconds=6)
    return LiveWindow(first_seq, first_dsn, tuple(segments), (), "e", at)


def test_the_edges_playlist_is_the_origins_with_relative_edge_uris() -> None:
    w = window(("asset-a", 2), ("asset-b", 2))
    text = hls.playlist(w, 6, {("asset-b", "seg_00001.ts"): "seg_00001-0123456789abcdef.ts"})
    lines = text.splitlines()
    assert "#EXT-X-MEDIA-SEQUENCE:100" in lines
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:7" in lines
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    uris = [line for line in lines if not line.startswith("#")]
    assert uris == [
        "seg/asset-a/seg_00000.ts",
        "seg/asset-a/seg_00001.ts",
        "seg/asset-b/seg_00000.ts",
        "seg/asset-b/seg_00001-0123456789abcdef.ts",
    ]
    assert hls.end_sequence(w) == 104


def test_only_segments_the_edge_does_not_hold_are_uploaded_in_play_order() -> None:
    w = window(("asset-a", 3))
    held = hls.EdgeHls(stored={"asset-a/seg_00001.ts"})
    assert [s.name for s in hls.missing(w, held)] == ["seg_00000.ts", "seg_00002.ts"]
    held.forget(["asset-a/seg_00001.ts"])
    assert len(hls.missing(w, held)) == 3


def test_the_edges_state_is_read_strictly() -> None:
    held = hls.EdgeHls.from_edge(
        {
            "channel": "main",
            "playlist": {
                "media_sequence": 90,
                "discontinuity_sequence": 6,
                "end_sequence": 96,
                "segments": 6,
                "updated_at": "x",
            },
            "stored": ["asset-a/seg_00000.ts"],
            "stored_count": 1,
        }
    )
    assert (held.media_sequence, held.discontinuity_sequence, held.end_sequence) == (90, 6, 96)
    assert held.stored == {"asset-a/seg_00000.ts"}
    assert hls.EdgeHls.from_edge({"playlist": None, "stored": []}).end_sequence is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "not a JSON object"),
        ({"stored": "asset/seg.ts"}, "stored must be a list"),
        ({"stored": [1]}, "stored must be a list"),
        ({"stored": [], "playlist": []}, "playlist must be an object"),
        ({"stored": [], "playlist": {"media_sequence": -1}}, "media_sequence"),
        ({"stored": [], "playlist": {"media_sequence": 1, "discontinuity_sequence": True}}, "disc"),
    ],
)
def test_a_malformed_edge_state_is_refused_naming_the_field(body: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        hls.EdgeHls.from_edge(body)


def test_an_edge_ahead_of_the_origin_means_the_origins_numbering_went_back() -> None:
    w = window(("asset-a", 3))  # END 103
    assert not hls.behind_origin(w, hls.EdgeHls())
    assert not hls.behind_origin(w, hls.EdgeHls(end_sequence=103))
    assert hls.behind_origin(w, hls.EdgeHls(end_sequence=104))


def test_a_window_reaching_back_past_what_was_published_loses_its_head_not_its_numbers() -> None:
    w = window(("asset-a", 2), ("asset-b", 2))  # seq 100-103, dsn 7, 7, 8, 8
    same = hls.from_sequence(w, 100)
    assert same is w
    cut = hls.from_sequence(w, 102)
    assert cut is not None
    assert (cut.media_sequence, cut.discontinuity_sequence) == (102, 8)
    assert [s.seq for s in cut.segments] == [102, 103]
    assert not cut.segments[0].discontinuity_before  # the count already says it
    assert "#EXT-X-DISCONTINUITY\n" not in hls.playlist(cut, 6, {})
    assert hls.from_sequence(w, 104) is None


def test_content_names_are_stable_edge_safe_and_depend_on_the_bytes() -> None:
    a = hls.content_name("seg_00001.ts", b"one")
    assert a == hls.content_name("seg_00001.ts", b"one")
    assert a != hls.content_name("seg_00001.ts", b"two")
    assert hls.EDGE_SEGMENT_NAME.fullmatch(a) and a.startswith("seg_00001-")
    odd = hls.content_name(".hidden.v2.ts", b"x")
    assert hls.EDGE_SEGMENT_NAME.fullmatch(odd), odd
    assert hls.publishable("asset-0123abcd") and not hls.publishable("../etc")


def test_lag_counts_segments_from_the_last_accepted_window_or_from_the_start() -> None:
    health = hls.PublisherHealth()
    assert health.lag() is None  # nothing on air yet
    health.saw_origin(110)
    assert health.lag() == 0  # just started: the reference is where the origin was
    health.saw_origin(114)
    assert health.lag() == 4  # nothing accepted since: the edge is 4 behind
    health.accepted(113, T0)
    assert health.lag() == 1
    health.saw_origin(120)
    health.failed("HTTP 503")
    assert (health.lag(), health.last_error) == (7, "HTTP 503")


def test_once_a_playlist_is_accepted_only_its_segments_are_believed_stored() -> None:
    """The edge deletes what left the playlist a few minutes later: the set stays small."""
    held = hls.EdgeHls(stored={"old-asset/seg_00000.ts", "asset-a/seg_00000.ts"})
    held.names[("old-asset", "seg_00001.ts")] = "seg_00001-0123456789abcdef.ts"
    w = window(("asset-a", 2), first_seq=7, first_dsn=3)
    held.accepted(w)
    assert held.stored == {"asset-a/seg_00000.ts", "asset-a/seg_00001.ts"}
    assert held.names == {}
    assert (held.media_sequence, held.discontinuity_sequence, held.end_sequence) == (7, 3, 9)


def test_a_rungs_segments_accepted_with_the_main_window_are_believed_stored_too() -> None:
    """Else every round would upload the rung's segments again (``200 stored: false``)."""
    main = window(("asset-a", 2), first_seq=7)
    rung = window(("asset-a", 2), first_seq=7)
    rung = LiveWindow(
        7, 7, tuple(attrs.evolve(s, name=f"480p_{s.index:05d}.ts") for s in rung.segments),
        (), "e", T0,
    )  # fmt: skip
    held = hls.EdgeHls()
    held.accepted(main, rung)
    assert hls.missing(main, held) == [] and hls.missing(rung, held) == []
    assert "asset-a/480p_00001.ts" in held.stored
    assert held.end_sequence == 9  # the main window's numbers
