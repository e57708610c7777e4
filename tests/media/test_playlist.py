"""The one VOD playlist parser: what prepare records, QA checks and the Buffer airs.

A playlist ffmpeg wrote parses into its segments; everything else is refused with the
playlist's name, the line and the rule, by prepare, by QA and by the Buffer alike.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.media.conftest import QUALITY, PreparedSet
from vvtv.air.live_playlist import AssetSegments
from vvtv.media.ffmpeg import MediaError
from vvtv.media.playlist import Segment, fits_target, is_segment_name, parse_vod_playlist
from vvtv.media.prepare import MANIFEST, load_prepared
from vvtv.media.qa import qa_check

FFMPEG = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXTINF:6.000000,\nseg_00000.ts\n#EXTINF:2.500000,\nseg_00001.ts\n#EXT-X-ENDLIST\n"
)


def playlist(*body: str) -> str:
    return "\n".join(("#EXTM3U", "#EXT-X-TARGETDURATION:6", *body)) + "\n"


def test_a_playlist_ffmpeg_wrote_parses_into_its_segments():
    segments = parse_vod_playlist(FFMPEG)
    assert segments == (Segment("seg_00000.ts", 6.0), Segment("seg_00001.ts", 2.5))
    assert fits_target(segments, 6)
    assert not fits_target((Segment("a.ts", 6.04),), 6)


def test_titles_blank_lines_crlf_and_other_tags_are_ignored():
    text = "#EXTM3U\r\n\r\n#EXT-X-DISCONTINUITY\r\n#EXTINF:4.52,Title, with comma\r\nseg_0.ts\r\n"
    assert parse_vod_playlist(text + "#EXT-X-ENDLIST\r\n") == (Segment("seg_0.ts", 4.52),)
    assert parse_vod_playlist(playlist("#EXTINF:3", "a.ts", "#EXT-X-ENDLIST")) == (
        Segment("a.ts", 3.0),
    )


MALFORMED = {
    "empty": ("", "line 1 is not #EXTM3U"),
    "no header": ("seg.ts\n", "line 1 is not #EXTM3U"),
    "header not first": ("\n#EXTM3U\n", "line 1 is not #EXTM3U"),
    "byte order mark": ("\ufeff#EXTM3U\n", "line 1 is not #EXTM3U"),
    "zero length": (
        playlist("#EXTINF:0,", "a.ts", "#EXT-X-ENDLIST"),
        r"line 3: EXTINF duration '0' is not > 0",
    ),
    "zero as ffmpeg writes it": (
        playlist("#EXTINF:6.000000,", "a.ts", "#EXTINF:0.000000,", "b.ts", "#EXT-X-ENDLIST"),
        r"line 5: EXTINF duration '0.000000' is not > 0",
    ),
    "negative": (playlist("#EXTINF:-1,", "a.ts"), "line 3: bad EXTINF duration '-1'"),
    "words": (playlist("#EXTINF:six,", "a.ts"), "line 3: bad EXTINF duration 'six'"),
    "empty duration": (playlist("#EXTINF:,", "a.ts"), "line 3: bad EXTINF duration ''"),
    "infinity": (playlist("#EXTINF:inf,", "a.ts"), "bad EXTINF duration 'inf'"),
    "not a number": (playlist("#EXTINF:nan,", "a.ts"), "bad EXTINF duration 'nan'"),
    "exponent": (playlist("#EXTINF:1e3,", "a.ts"), "bad EXTINF duration '1e3'"),
    "underscores": (playlist("#EXTINF:6_0,", "a.ts"), "bad EXTINF duration '6_0'"),
    "overflows a float": (playlist("#EXTINF:" + "9" * 400 + ",", "a.ts"), "out of range"),
    "segment without EXTINF": (playlist("a.ts"), "line 3: segment 'a.ts' has no #EXTINF"),
    "EXTINF without segment": (
        playlist("#EXTINF:6,", "#EXTINF:6,", "a.ts", "#EXT-X-ENDLIST"),
        "line 3: #EXTINF without a segment",
    ),
    "dangling EXTINF": (
        playlist("#EXTINF:6,", "a.ts", "#EXTINF:6,", "#EXT-X-ENDLIST"),
        "line 5: #EXTINF without a segment",
    ),
    "parent directory": (playlist("#EXTINF:6,", "../other/seg.ts"), "not a plain file name"),
    "sub directory": (playlist("#EXTINF:6,", "sub/seg.ts"), "not a plain file name"),
    "absolute path": (playlist("#EXTINF:6,", "/etc/passwd"), "not a plain file name"),
    "another host": (playlist("#EXTINF:6,", "http://evil/x.ts"), "not a plain file name"),
    "local file url": (playlist("#EXTINF:6,", "file:///x.ts"), "not a plain file name"),
    "hidden file": (playlist("#EXTINF:6,", ".hidden.ts"), "not a plain file name"),
    "long name": (playlist("#EXTINF:6,", "x" * 200 + ".ts"), "not a plain file name"),
    "no segments": (playlist("#EXT-X-ENDLIST"), "no segments"),
    "cut short": (playlist("#EXTINF:6,", "a.ts"), r"no #EXT-X-ENDLIST \(the playlist is cut"),
    "after the end": (
        playlist("#EXTINF:6,", "a.ts", "#EXT-X-ENDLIST", "#EXTINF:6,", "b.ts"),
        "line 6: '#EXTINF:6,' after #EXT-X-ENDLIST",
    ),
}


@pytest.mark.parametrize(("text", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_playlist_is_refused_naming_the_playlist_the_line_and_the_rule(
    text: str, message: str
):
    with pytest.raises(ValueError, match=message) as refused:
        parse_vod_playlist(text, "p.m3u8")
    assert str(refused.value).startswith("p.m3u8")


@pytest.mark.parametrize(("text", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_the_buffer_refuses_exactly_what_prepare_refuses(text: str, message: str):
    # The Buffer loads an asset's segments through the same parser: same rule, same words.
    with pytest.raises(ValueError, match=message) as refused:
        AssetSegments.from_playlist("a1", text)
    assert str(refused.value).startswith("playlist of a1")


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "a/b.ts", "", ".hidden", "x" * 200, "a..b.ts", None, 3]
)
def test_segment_names_must_be_plain_file_names(name: object):
    assert not is_segment_name(name)
    with pytest.raises(ValueError, match="not a plain file name"):
        Segment(name, 6.0)  # type: ignore[arg-type]  # what a corrupt manifest could hold


@pytest.mark.parametrize("duration", [0, 0.0, -6.0, float("inf"), float("nan"), True, "6"])
def test_a_segment_lasts_a_positive_number_of_seconds(duration: object):
    with pytest.raises(ValueError, match="must be a positive number"):
        Segment("seg_00000.ts", duration)  # type: ignore[arg-type]


segment_lists = st.lists(
    st.tuples(
        st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}\.ts", fullmatch=True),
        st.decimals(min_value="0.001", max_value="30", places=3),
    ),
    min_size=1,
    max_size=20,
)


@settings(deadline=None)
@given(segment_lists)
def test_what_is_written_in_the_format_reads_back_the_same(rows):
    body = [line for name, d in rows for line in (f"#EXTINF:{d},", name)]
    parsed = parse_vod_playlist(playlist(*body, "#EXT-X-ENDLIST"))
    assert parsed == tuple(Segment(name, float(d)) for name, d in rows)


tokens = st.sampled_from(
    ["#EXTM3U", "#EXTINF:", "#EXT-X-ENDLIST", "6", "0", ".", "-", ",", "\n", "a.ts", "/", "\ufeff"]
)


@settings(deadline=None, max_examples=300)
@given(st.lists(tokens, max_size=40).map("".join))
def test_any_text_is_either_segments_or_a_value_error(text):
    try:
        segments = parse_vod_playlist(text)
    except ValueError:
        return
    assert segments and all(s.duration_sec > 0 for s in segments)


def _copy(prepared, tmp_path: Path):
    directory = tmp_path / prepared.dir.name
    shutil.copytree(prepared.dir, directory)
    return attrs.evolve(prepared, dir=directory)


def _zero_last_segment(playlist_path: Path) -> None:
    """What an ffmpeg that cut off a last sliver of a frame writes: a zero-length segment."""
    lines = playlist_path.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("#EXTINF:"))
    lines[last] = "#EXTINF:0.000000,"
    playlist_path.write_text("\n".join(lines) + "\n")


async def test_qa_refuses_an_asset_whose_playlist_lists_a_zero_length_segment(
    prepared: PreparedSet, tmp_path: Path
) -> None:
    asset = _copy(prepared.conforming, tmp_path)
    _zero_last_segment(asset.playlist)
    report = await qa_check(asset, QUALITY, expected_duration=6.0)
    assert not report.passed
    refused = [r for r in report.reasons if r.startswith("playlist refused")]
    assert len(refused) == 1, report.reasons
    assert "EXTINF duration '0.000000' is not > 0" in refused[0]
    assert str(asset.playlist) in refused[0]


def test_a_manifest_with_a_zero_length_segment_is_not_a_usable_asset(
    prepared: PreparedSet, tmp_path: Path
) -> None:
    asset = _copy(prepared.conforming, tmp_path)
    manifest = asset.dir / MANIFEST
    data = json.loads(manifest.read_text())
    data["segments"][-1]["duration_sec"] = 0.0
    manifest.write_text(json.dumps(data))
    with pytest.raises(MediaError, match="not a usable prepared-asset manifest"):
        load_prepared(asset.dir)
