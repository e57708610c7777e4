"""The locally made slate and demo library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import attrs
import pytest
import trio

from tests.media.conftest import QUALITY
from vvtv.discover.sources.folder import read_sidecar
from vvtv.media.demo import DEMO_CLIPS, ensure_demo_library, loop_seconds, programme_seconds
from vvtv.media.ffmpeg import MediaError, run_tool
from vvtv.media.generate import loop_clip
from vvtv.media.loudness import measure_loudness
from vvtv.media.prepare import Prepared, conforms, prune_assets
from vvtv.media.probe import probe
from vvtv.media.slate import SLATE_TEXT, ensure_slate, slate_seconds
from vvtv.ownercard.card import ChannelProfile

SMALL = ChannelProfile(width=320, height=180)  # same rules, a fraction of the pixels


@pytest.fixture(scope="session")
def small_slate(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    root = tmp_path_factory.mktemp("slate")
    return trio.run(ensure_slate, root, SMALL, QUALITY)


def copy_slate(slate: Prepared, root: Path) -> Path:
    shutil.copytree(slate.dir, root / "slate")
    return root / "slate"


async def test_the_slate_is_whole_segments_at_target_loudness(small_slate: Prepared) -> None:
    slate = small_slate
    assert slate.dir.name == "slate"
    assert slate.remuxed  # generated already conforming: no second encode
    assert [s.duration_sec for s in slate.segments] == [6.0] * (slate_seconds(SMALL) // 6)
    assert slate.duration_sec >= 30
    loud = await measure_loudness(slate.playlist, timeout=60, own_hls=True)
    assert loud.integrated_lufs == pytest.approx(QUALITY.target_audio_lufs, abs=0.5)
    assert SLATE_TEXT.startswith("vvtv")


async def test_an_existing_slate_is_reused_and_never_pruned(
    small_slate: Prepared, tmp_path: Path
) -> None:
    copied = copy_slate(small_slate, tmp_path)
    first_segment = copied / small_slate.segments[0].path_name
    made_at = first_segment.stat().st_mtime_ns
    again = await ensure_slate(tmp_path, SMALL, QUALITY)
    assert again.dir == copied
    assert again.segments == small_slate.segments
    assert first_segment.stat().st_mtime_ns == made_at  # not regenerated
    assert prune_assets(tmp_path, keep=set()) == []


async def test_a_slate_for_another_profile_is_remade(small_slate: Prepared, tmp_path: Path) -> None:
    copy_slate(small_slate, tmp_path)
    four = attrs.evolve(SMALL, segment_seconds=4)
    remade = await ensure_slate(tmp_path, four, QUALITY)
    assert all(s.duration_sec == 4.0 for s in remade.segments)
    assert len(remade.segments) == slate_seconds(four) // 4


async def test_a_damaged_slate_is_remade(small_slate: Prepared, tmp_path: Path) -> None:
    copied = copy_slate(small_slate, tmp_path)
    (copied / "prepared.json").write_text("{")
    remade = await ensure_slate(tmp_path, SMALL, QUALITY)
    assert remade.segments == small_slate.segments
    assert [p.name for p in tmp_path.iterdir()] == ["slate"]


async def test_an_empty_demo_folder_gets_a_themed_library_that_conforms(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / ".rule_110-abc123.tmp.mp4").write_bytes(b"half a clip from a crash")
    (folder / ".rule_110.loop.mp4").write_bytes(b"a loop clip from a crash")
    # 4 to 6 s programmes (rendered whole; repeating is the next test's).
    files = await ensure_demo_library(folder, SMALL, duration_scale=0.005)
    assert [f.stem for f in files] == sorted(c.name for c in DEMO_CLIPS)
    assert len({c.theme for c in DEMO_CLIPS}) >= 3
    by_name = {c.name: c for c in DEMO_CLIPS}
    for f in files:
        clip = by_name[f.stem]
        sidecar = read_sidecar(f.with_suffix(".json"))  # what the folder source will read
        assert (sidecar.title, sidecar.theme, sidecar.tags) == (clip.title, clip.theme, clip.tags)
        info = await probe(str(f))
        assert info.title == clip.title
        assert info.tags == clip.tags
        # As long as its programme, and the repeats join exactly: still 25 fps, so
        # preparing it is a remux.
        assert info.duration_sec == pytest.approx(programme_seconds(clip, 0.005), abs=0.1)
        assert info.fps == pytest.approx(SMALL.fps, abs=0.001)
        assert conforms(info, SMALL)
        assert info.audio_codec == "aac"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no leftovers


async def test_a_demo_programme_repeats_its_clip_with_a_keyframe_every_segment(
    tmp_path: Path,
) -> None:
    clip = attrs.evolve(DEMO_CLIPS[0], minutes=2.0)  # five repeats of the 24 s clip
    [made] = await ensure_demo_library(tmp_path, SMALL, clips=[clip])
    keyframes = await keyframe_times(made)
    assert keyframes == pytest.approx([6.0 * i for i in range(20)], abs=0.002)


def test_the_repeated_clip_joins_on_the_frame_audio_and_segment_grid() -> None:
    assert loop_seconds(ChannelProfile()) == 24.0  # 600 frames, 1125 AAC frames, 4 segments
    assert loop_seconds(ChannelProfile(fps=30, segment_seconds=4)) == 8.0
    # 44.1 kHz has no common grid with 6 s within a minute: whole segments then.
    assert loop_seconds(ChannelProfile(audio_rate=44100)) == 24.0
    total = sum(programme_seconds(c) for c in DEMO_CLIPS)
    assert total == 2 * 3600  # two hours of programming


async def test_looping_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="seconds must be positive"):
        await loop_clip(tmp_path / "a.mp4", tmp_path / "b.mp4", seconds=0)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(MediaError, match="junk"):
        await loop_clip(junk, tmp_path / "out.mp4", seconds=30)
    assert [p.name for p in tmp_path.iterdir()] == ["junk.mp4"]  # nothing half-written


async def keyframe_times(path: Path) -> list[float]:
    result = await run_tool(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey",
            "-show_entries", "frame=pts_time", "-of", "csv=p=0", str(path),
        ],
        timeout=60,
    )  # fmt: skip
    return [float(x.strip(",")) for x in result.stdout.decode().split() if x.strip(",")]


async def test_a_folder_with_media_is_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / "my_show.mkv"
    mine.write_bytes(b"owner's file")
    assert await ensure_demo_library(tmp_path, SMALL, duration_scale=0.1) == [mine]
    assert [p.name for p in tmp_path.iterdir()] == ["my_show.mkv"]


async def test_demo_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duration_scale must be positive"):
        await ensure_demo_library(tmp_path, SMALL, duration_scale=0)
    with pytest.raises(ValueError, match="unique"):
        await ensure_demo_library(tmp_path, SMALL, clips=[DEMO_CLIPS[0], DEMO_CLIPS[0]])


def test_demo_sidecars_are_plain_json() -> None:
    from vvtv.media.demo import sidecar_of

    data = json.loads(json.dumps(sidecar_of(DEMO_CLIPS[0])))
    assert set(data) >= {"title", "theme", "tags"}
