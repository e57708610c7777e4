"""The rebaser: the air's segments as one MPEG-TS stream whose timestamps only increase.

Real segments (ffmpeg's HLS muxer, as ``prepare`` makes them) go through it in air orders a
channel produces: items one after another, the slate looping, a segment skipped, the same
asset again. ffprobe and ffmpeg read the result as a client of the push would.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.push import media_span, probe_packets, regressions
from vvtv.outputs.rebase import (
    CLOCK_HZ,
    PACKET,
    WRAP,
    Rebaser,
    read_pcr_base,
    read_ts,
    unwrap,
    write_pcr_base,
    write_ts,
)

Segments = dict[str, list[bytes]]


def ffmpeg_warnings(path: Path) -> str:
    """What ffmpeg says reading the file to the end (empty when it is a clean stream)."""
    return subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-v",
            "warning",
            "-i",
            str(path),
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr


def continuity_errors(data: bytes) -> int:
    """Packets whose continuity counter does not follow their PID's previous one."""
    last: dict[int, int] = {}
    errors = 0
    for i in range(0, len(data), PACKET):
        pid = ((data[i + 1] & 0x1F) << 8) | data[i + 2]
        if pid == 0x1FFF or not data[i + 3] & 0x10:
            continue
        cc = data[i + 3] & 0x0F
        if pid in last and cc != (last[pid] + 1) & 0x0F:
            errors += 1
        last[pid] = cc
    return errors


def rebased(order: list[bytes]) -> tuple[bytes, Rebaser]:
    rebaser = Rebaser()
    return b"".join(rebaser.rebase(segment) for segment in order), rebaser


def test_items_back_to_back_make_one_clean_stream(ts_segments: Segments, tmp_path: Path) -> None:
    a, b = ts_segments["a"], ts_segments["b"]
    # a, then b, then a again from its start: two resets a player would see.
    order = [*a, *b, *a[:2]]
    raw = tmp_path / "raw.ts"
    raw.write_bytes(b"".join(order))
    assert "out of order" in ffmpeg_warnings(raw) or regressions(probe_packets(raw)["video"])

    out, rebaser = rebased(order)
    path = tmp_path / "rebased.ts"
    path.write_bytes(out)
    assert ffmpeg_warnings(path) == ""
    packets = probe_packets(path)
    assert regressions(packets["video"]) == 0 and regressions(packets["audio"]) == 0
    # As long as what aired: ten one-second segments. Each asset's sound starts 21 ms before
    # its picture and ends 11 ms after (ffmpeg's AAC priming and last frame): at a new run
    # both move together, so a boundary may add those 32 ms, never take any away.
    assert media_span(packets["video"]) == pytest.approx(10.0, abs=0.1)
    assert media_span(packets["audio"]) == pytest.approx(10.0, abs=0.1)
    assert rebaser.end_s == pytest.approx(10.0, abs=0.1)
    assert rebaser.runs == 3 and rebaser.dropped == 0
    assert continuity_errors(out) == 0 and continuity_errors(b"".join(order)) > 0


def test_consecutive_segments_of_one_asset_keep_their_spacing(ts_segments: Segments) -> None:
    rebaser = Rebaser()
    for segment in ts_segments["a"]:
        assert rebaser.rebase(segment)
    assert rebaser.runs == 1 and rebaser.offset == 0  # the first run keeps its timestamps


def test_a_skipped_segment_starts_a_new_run_without_a_hole(
    ts_segments: Segments, tmp_path: Path
) -> None:
    a = ts_segments["a"]
    out, rebaser = rebased([a[0], a[2], a[3]])  # a[1] skipped to catch up
    path = tmp_path / "skip.ts"
    path.write_bytes(out)
    packets = probe_packets(path)
    assert regressions(packets["video"]) == 0
    assert media_span(packets["video"]) == pytest.approx(3.0, abs=0.04)
    assert rebaser.runs == 2


def test_audio_and_video_move_together(ts_segments: Segments, tmp_path: Path) -> None:
    a, b = ts_segments["a"], ts_segments["b"]
    out, _ = rebased([a[3], b[0]])
    path = tmp_path / "pair.ts"
    path.write_bytes(out)
    packets = probe_packets(path)
    second_video = next(p.dts for p in packets["video"] if p.dts > 1.0 + packets["video"][0].dts)
    second_audio = next(p.dts for p in packets["audio"] if p.dts > 1.0 + packets["audio"][0].dts)
    source = tmp_path / "b0.ts"
    source.write_bytes(b[0])
    original = probe_packets(source)
    skew = original["audio"][0].dts - original["video"][0].dts
    assert second_audio - second_video == pytest.approx(skew, abs=0.03)


def test_a_segment_that_is_not_mpeg_ts_is_dropped_and_the_stream_goes_on(
    ts_segments: Segments, tmp_path: Path
) -> None:
    a = ts_segments["a"]
    rebaser = Rebaser()
    parts = [rebaser.rebase(a[0])]
    assert rebaser.rebase(b"<html>not a segment</html>" * 40) == b""
    assert rebaser.rebase(b"\x47" + b"\x00" * (PACKET - 1)) == b""  # no timestamp at all
    assert rebaser.rebase(b"") == b""
    parts.append(rebaser.rebase(a[1][: len(a[1]) - 100]))  # a torn last packet: cut
    parts.append(rebaser.rebase(a[2]))
    assert rebaser.dropped == 3
    path = tmp_path / "survived.ts"
    path.write_bytes(b"".join(parts))
    assert regressions(probe_packets(path)["video"]) == 0


def test_a_segment_whose_timestamps_go_back_inside_it_is_dropped(ts_segments: Segments) -> None:
    a = ts_segments["a"]
    # Splice the second half of one segment before the first half of another of the same
    # stream: inside one "segment", DTS fall back.
    bad = a[2][: len(a[2]) // PACKET // 2 * PACKET] + a[0]
    rebaser = Rebaser()
    assert rebaser.rebase(a[0])
    assert rebaser.rebase(bad) == b""
    assert rebaser.dropped == 1
    assert rebaser.rebase(a[1])  # the next good one still joins


def test_timestamps_wrap_at_33_bits_like_the_standard_says(
    ts_segments: Segments, tmp_path: Path
) -> None:
    """A run that starts 26.5 hours in: the output counters wrap, they never go back."""
    a = ts_segments["a"]
    rebaser = Rebaser()
    rebaser.rebase(a[0])
    rebaser.offset = WRAP - 2 * CLOCK_HZ  # pretend a day of air went out already
    out = b"".join(rebaser.rebase(s) for s in a[1:])
    path = tmp_path / "wrap.ts"
    path.write_bytes(out)
    packets = probe_packets(path)  # ffprobe unwraps 33-bit timestamps itself
    assert regressions(packets["video"]) == 0
    assert media_span(packets["video"]) == pytest.approx(3.0, abs=0.05)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, WRAP - 1), st.sampled_from([0x20, 0x30, 0x10]))
def test_a_timestamp_field_round_trips_and_keeps_its_marker_bits(value: int, prefix: int) -> None:
    buf = bytearray(5)
    buf[0] = prefix | 0x01
    write_ts(buf, 0, value)
    assert read_ts(buf, 0) == value
    assert buf[0] & 0xF0 == prefix and buf[0] & 1 and buf[2] & 1 and buf[4] & 1


@settings(max_examples=200, deadline=None)
@given(st.integers(0, WRAP - 1), st.integers(0, 511))
def test_a_pcr_base_round_trips_and_keeps_its_extension(base: int, extension: int) -> None:
    buf = bytearray(6)
    buf[4] = 0x7E | (extension >> 8)
    buf[5] = extension & 0xFF
    write_pcr_base(buf, 0, base)
    assert read_pcr_base(buf, 0) == base
    assert ((buf[4] & 1) << 8 | buf[5]) == extension


@given(st.integers(-(10**12), 10**12), st.integers(-(1 << 31), 1 << 31))
def test_unwrap_finds_the_nearest_value(reference: int, delta: int) -> None:
    assert unwrap(reference, (reference + delta) % WRAP) == reference + delta
