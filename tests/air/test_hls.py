"""The live playlist: built from segments and the wall clock, numbered for life, never empty."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from vvtv.air import emergency, live_playlist, timeline
from vvtv.air.live_playlist import AirEvent, AssetSegments, LiveCursor, NothingOnAir
from vvtv.core.clock import TrioClock
from vvtv.media.playlist import Segment

from .helpers import T0, asset, at, entry

TARGET = 6


def segs(asset_id: str, duration: float, seg: float = 6.0) -> AssetSegments:
    """Segments of ``seg`` seconds, the last one shorter, like ffmpeg's hls muxer."""
    out, t, i = [], 0.0, 0
    while t < duration - 1e-9:
        d = min(seg, duration - t)
        out.append(Segment(f"seg_{i:05d}.ts", d))
        t += d
        i += 1
    return AssetSegments(asset_id, tuple(out))


class Air:
    """A timeline with segments, and the invariants checked after every advance."""

    def __init__(self, entries, extra_segments=()):
        self.entries = list(entries)
        self.segments = {e.asset_id: segs(e.asset_id, e.duration_sec) for e in self.entries}
        for s in extra_segments:
            self.segments[s.asset_id] = s
        self.cursor: LiveCursor | None = None
        self.seq_of: dict[tuple[str, int], int] = {}
        self.key_of: dict[int, tuple[str, int]] = {}
        self.last_ms = -1
        self.last_ds = -1
        self.events: list[AirEvent] = []
        self.windows = 0

    def tick(self, now, **kw):
        items = live_playlist.airing_items(self.entries, self.segments)
        self.cursor, window = live_playlist.advance(
            self.cursor, items, now, window_segments=3, min_window_sec=3 * TARGET, **kw
        )
        self.check(window, now)
        self.events.extend(window.events)
        # persisted and read back on every tick: what the store keeps is enough
        self.cursor = LiveCursor.from_dict(json.loads(json.dumps(self.cursor.to_dict())))
        return window

    def check(self, window, now):
        text = live_playlist.render(window, TARGET)
        lines = text.splitlines()
        assert window.segments, "the window is never empty"
        assert window.media_sequence >= self.last_ms
        assert window.discontinuity_sequence >= self.last_ds
        self.last_ms, self.last_ds = window.media_sequence, window.discontinuity_sequence
        seqs = [s.seq for s in window.segments]
        assert seqs == list(range(window.media_sequence, window.media_sequence + len(seqs)))
        for s in window.segments:
            key = (s.entry_id, s.index)
            assert self.seq_of.setdefault(key, s.seq) == s.seq, "a segment keeps its number"
            assert self.key_of.setdefault(s.seq, key) == key, "a number means one segment"
            # only segments whose start has passed are listed (rounding gaps aside)
            assert s.start_at <= now + timeline.TOLERANCE
        boundaries = sum(
            1
            for a, b in zip(window.segments, window.segments[1:], strict=False)
            if a.entry_id != b.entry_id
        )
        assert lines.count("#EXT-X-DISCONTINUITY") == boundaries
        assert window.segments[-1].dsn - window.discontinuity_sequence >= boundaries
        assert f"#EXT-X-MEDIA-SEQUENCE:{window.media_sequence}" in lines
        assert f"#EXT-X-DISCONTINUITY-SEQUENCE:{window.discontinuity_sequence}" in lines
        for line in lines:
            if line.startswith("#EXTINF:"):
                assert round(float(line[8:].rstrip(","))) <= TARGET
        live = window.segments[-1]
        tol = timeline.TOLERANCE
        assert (
            live.start_at <= now + tol < live.start_at + timedelta(seconds=live.duration_sec) + tol
        )
        self.windows += 1


def programme(n: int, rng: random.Random, start_s: float = 0.0):
    out, t = [], start_s
    for i in range(n):
        d = rng.choice([30.0, 45.5, 61.2, 120.0, 200.04, 6.0, 3.3])
        out.append(entry(f"p{i:04d}", t, d))
        t += d + rng.choice([0.0, 0.0, 0.3, -0.2])  # float rounding both ways
    return out


def test_render_writes_a_version_3_live_playlist():
    air = Air([entry("a", 0, 15), entry("b", 15, 20)])
    window = air.tick(at(17))
    assert live_playlist.render(window, TARGET) == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:6\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-02T12:00:00Z\n"
        "#EXTINF:6.000,\n/live/seg/asset-a/seg_00000.ts\n"
        "#EXTINF:6.000,\n/live/seg/asset-a/seg_00001.ts\n"
        "#EXTINF:3.000,\n/live/seg/asset-a/seg_00002.ts\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-03-02T12:00:15Z\n"
        "#EXTINF:6.000,\n/live/seg/asset-b/seg_00000.ts\n"
    )


def test_hours_of_ticks_keep_every_playlist_rule():
    rng = random.Random(7)
    air = Air(programme(300, rng))
    now, end = at(0), at(4 * 3600)
    while now < end:
        window = air.tick(now)
        if now >= at(4 * TARGET + 1):
            assert window.duration_sec >= 3 * TARGET
        now += timedelta(seconds=rng.uniform(0.5, 7))
    assert air.windows > 3000
    assert air.last_ms > 2000


def test_the_as_run_log_has_every_item_that_aired_with_actual_start_and_end():
    entries = [entry("a", 0, 30), entry("b", 30, 40), entry("c", 70, 50)]
    air = Air(entries)
    for s in range(0, 100, 2):
        air.tick(at(s))
    assert [(e.kind, e.entry_id, e.at) for e in air.events] == [
        ("started", "a", at(0)),
        ("finished", "a", at(30)),
        ("started", "b", at(30)),
        ("finished", "b", at(70)),
        ("started", "c", at(70)),
    ]


def test_items_shorter_than_a_tick_still_appear_in_the_as_run_log():
    entries = [entry("a", 0, 10), entry("short", 10, 2), entry("c", 12, 60)]
    air = Air(entries)
    air.tick(at(9))
    air.tick(at(15))
    assert [(e.kind, e.entry_id) for e in air.events] == [
        ("started", "a"),
        ("finished", "a"),
        ("started", "short"),
        ("finished", "short"),
        ("started", "c"),
    ]


def test_a_restart_continues_the_numbers_from_the_persisted_cursor():
    rng = random.Random(3)
    air = Air(programme(40, rng))
    for s in range(0, 1800, 3):
        air.tick(at(s))
    saved = json.dumps(air.cursor.to_dict())
    ms_before, last_before = air.last_ms, air.cursor.last_seq

    # down for 5 minutes; meanwhile the timeline was rebuilt with different entries
    restarted = Air(programme(60, random.Random(99), start_s=1500))
    restarted.entries = [
        timeline.attrs.evolve(e, entry_id="new-" + e.entry_id) for e in restarted.entries
    ]
    restarted.segments = {e.asset_id: segs(e.asset_id, e.duration_sec) for e in restarted.entries}
    restarted.cursor = LiveCursor.from_dict(json.loads(saved))
    restarted.last_ms = ms_before
    window = restarted.tick(at(2100))
    assert window.media_sequence > last_before, "new content gets numbers never used before"
    assert window.discontinuity_sequence > json.loads(saved)["discontinuity_sequence"]
    # the as-run log closes what was on air when we went down, and joins the live item now
    kinds = [(e.kind, e.at) for e in window.events]
    assert kinds[0] == ("finished", at(1797)) and kinds[-1] == ("started", at(2100))
    for s in range(2101, 3000, 2):
        restarted.tick(at(s))


def test_a_quick_restart_with_the_same_timeline_keeps_the_same_numbers():
    rng = random.Random(5)
    entries = programme(30, rng)
    air = Air(entries)
    for s in range(0, 600, 2):
        air.tick(at(s))
    again = Air(entries)
    again.cursor = LiveCursor.from_dict(air.cursor.to_dict())
    again.seq_of, again.key_of = air.seq_of, air.key_of  # same numbering must continue
    again.last_ms, again.last_ds = air.last_ms, air.last_ds
    window = again.tick(at(610))
    assert window.media_sequence >= air.last_ms
    assert not [e for e in window.events if e.kind == "finished"]


async def test_an_hour_of_one_second_ticks_under_the_trio_clock(autojump_clock):
    clock = TrioClock(epoch=T0)
    air = Air(programme(60, random.Random(11)))
    slate = segs("slate", 30)
    air.segments["slate"] = slate
    ticks = 0
    while clock.now() < at(3600):
        now = clock.now()
        filler = emergency.cover_playhead(air.entries, now, asset("slate", 30))
        if filler is not None:
            air.entries.append(filler)
        air.tick(now)
        ticks += 1
        await trio.sleep(1)
    assert ticks == 3600


def test_with_nothing_on_air_advance_refuses_loudly():
    air = Air([entry("a", 10, 30)])
    with pytest.raises(NothingOnAir, match="nothing has started"):
        air.tick(at(5))
    air2 = Air([entry("a", 0, 30)])
    air2.tick(at(10))
    with pytest.raises(NothingOnAir, match="ended at"):
        air2.tick(at(40))


def test_an_item_starting_within_the_tolerance_is_already_live():
    air = Air([entry("a", 0.4, 30)])
    window = air.tick(at(0))
    assert [(s.entry_id, s.index) for s in window.segments] == [("a", 0)]
    assert window.events[0] == AirEvent("started", "a", "asset-a", at(0.4))


gappy = st.lists(
    st.tuples(st.floats(min_value=0, max_value=3), st.floats(min_value=1, max_value=60)),
    min_size=1,
    max_size=10,
)


@settings(deadline=None)
@given(gappy, st.floats(min_value=-5, max_value=400))
def test_the_playlist_and_the_timeline_agree_on_what_is_dead_air(spec, now_s):
    entries, t = [], 0.0
    for i, (gap, d) in enumerate(spec):
        t += gap
        entries.append(entry(f"g{i}", t, d))
        t += d
    items = live_playlist.airing_items(
        entries, {e.asset_id: segs(e.asset_id, e.duration_sec) for e in entries}
    )
    playing = timeline.now_playing(entries, at(now_s))
    try:
        _, window = live_playlist.advance(None, items, at(now_s))
    except NothingOnAir:
        assert playing is None
    else:
        assert playing is not None and window.live_entry_id == playing.entry.entry_id


def test_a_slate_covering_the_gap_keeps_the_playlist_alive():
    entries = [entry("a", 0, 30), entry("b", 100, 30)]
    air = Air(entries, extra_segments=[segs("slate", 20)])
    air.tick(at(20))
    filler = emergency.fill_gap(air.entries, at(29), 2, [], asset("slate", 20))
    air.entries += filler
    for s in range(29, 130):
        air.tick(at(s))
    aired = [e.entry_id for e in air.events if e.kind == "started"]
    in_hole = [f.entry_id for f in filler if f.start_at < at(100)]
    assert aired == ["a", *in_hole, "b"]
    assert all(f.asset_id == "slate" for f in filler)


def test_an_entry_cut_short_airs_only_its_segments_before_the_cut():
    air = Air([entry("slate", 0, 20, asset="slate"), entry("b", 14, 30)])
    air.segments["slate"] = segs("slate", 60)
    window = air.tick(at(16))
    names = [(s.entry_id, s.index) for s in window.segments]
    # the slate's third segment started before the cut at 14 s; nothing after it is listed
    assert names == [("slate", 1), ("slate", 2), ("b", 0)]


def test_render_refuses_segments_longer_than_the_target():
    items = live_playlist.airing_items(
        [entry("a", 0, 30)], {"asset-a": segs("asset-a", 30, seg=10)}
    )
    _, window = live_playlist.advance(None, items, at(15))
    with pytest.raises(ValueError, match="more than the target duration of 6 s"):
        live_playlist.render(window, 6)


def test_render_refuses_an_empty_window():
    window = live_playlist.LiveWindow(0, 0, (), (), "x", T0)
    with pytest.raises(ValueError, match="empty live playlist"):
        live_playlist.render(window, 6)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not an object"),
        ({"version": 2}, "unknown version"),
        ({"version": 1, "at": "2026-03-02T12:00:00Z", "last_seq": 3}, "missing field 'last_dsn'"),
        (
            {"version": 1, "at": "yesterday", "last_seq": 1, "last_dsn": 0, "window": []},
            "invalid RFC 3339",
        ),
        (
            {
                "version": 1,
                "at": "2026-03-02T12:00:00Z",
                "last_seq": 1,
                "last_dsn": 0,
                "window": [["e", 0, "1", 0]],
            },
            r"window\[0\] must be",
        ),
    ],
)
def test_a_corrupt_persisted_cursor_is_refused_with_the_reason(data, message):
    with pytest.raises(ValueError, match=message):
        LiveCursor.from_dict(data)


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b.ts", "", ".hidden", "x" * 200])
def test_segment_names_must_be_plain_file_names(name):
    with pytest.raises(ValueError, match="not a plain file name"):
        Segment(name, 6.0)


def test_ffmpeg_media_playlists_parse_into_segments():
    text = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXTINF:6.000000,\nseg_000.ts\n#EXTINF:4.520000,\nseg_001.ts\n#EXT-X-ENDLIST\n"
    )
    parsed = AssetSegments.from_playlist("a1", text)
    assert parsed.segments == (Segment("seg_000.ts", 6.0), Segment("seg_001.ts", 4.52))
    assert parsed.duration_sec == pytest.approx(10.52)
    with pytest.raises(ValueError, match="line 5: bad EXTINF duration 'six'"):
        AssetSegments.from_playlist("a1", "#EXTM3U\n\n\n\n#EXTINF:six,\nx.ts\n")
    with pytest.raises(ValueError, match="line 1 is not #EXTM3U"):
        AssetSegments.from_playlist("a1", "hello")


def test_entries_without_known_segments_are_named():
    with pytest.raises(ValueError, match="entry a: no segments known for asset asset-a"):
        live_playlist.airing_items([entry("a", 0, 10)], {})


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=2, max_value=90), min_size=2, max_size=12),
    st.lists(st.floats(min_value=0.2, max_value=20), min_size=20, max_size=120),
)
def test_any_timeline_and_any_tick_rhythm_keep_the_rules(durations, steps):
    entries, t = [], 0.0
    for i, d in enumerate(durations):
        entries.append(entry(f"x{i}", t, d))
        t += d
    air = Air(entries)
    now = at(0)
    for step in steps:
        if now >= entries[-1].end_at:
            break
        air.tick(now)
        now += timedelta(seconds=step)
    started = [e.entry_id for e in air.events if e.kind == "started"]
    assert started == sorted(set(started), key=lambda x: int(x[1:])), "each starts once, in order"
