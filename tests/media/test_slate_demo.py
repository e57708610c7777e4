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
from vvtv.media.demo import DEMO_CLIPS, ensure_demo_library
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
    files = await ensure_demo_library(folder, SMALL, duration_scale=0.1)
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
        assert conforms(info, SMALL)  # preparing it is a remux
        assert info.audio_codec == "aac"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no leftovers


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
