"""A local folder source: media files with titles from metadata or file names, durations from
ffprobe, tags and theme from sidecars; a malformed sidecar skips only its own file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vvtv.discover.sources import LOCAL_DOMAIN, SourceError, SourceFailure, fetch_all, local_path
from vvtv.discover.sources.folder import SidecarError, read_sidecar, scan_folder
from vvtv.ownercard.card import SourceSpec

from .conftest import Clips


@pytest.fixture
def library(tmp_path: Path, clips: Clips) -> Path:
    lib = tmp_path / "library"
    lib.mkdir()
    shutil.copy(clips.hd720, lib / "ocean.mp4")  # title and genre in its metadata
    shutil.copy(clips.sd480, lib / "city_lights.mp4")
    (lib / "city_lights.yaml").write_text("theme: urban\ntags: [night, city]\nquality: [clean]\n")
    shutil.copy(clips.hd720, lib / "forest walk.mkv")
    (lib / "forest walk.json").write_text('{"title": "Forest Walk", "tags": "green, calm"}')
    shutil.copy(clips.hd720, lib / "broken.mp4")
    (lib / "broken.yaml").write_text("tags: [unclosed\n")
    shutil.copy(clips.hd720, lib / "listy.mp4")
    (lib / "listy.json").write_text('["not", "a", "mapping"]')
    shutil.copy(clips.garbage, lib / "garbage.mp4")
    (lib / "notes.txt").write_text("not media")
    shutil.copy(clips.hd720, lib / ".hidden.mp4")
    shutil.copy(clips.hd720, lib / "download.mp4.part")
    (lib / "sub").mkdir()
    shutil.copy(clips.hd720, lib / "sub" / "nested.mp4")
    return lib


async def test_a_folder_yields_its_media_files_with_sidecar_tags(library: Path):
    found, _ = await scan_folder(library, source_name="lib")
    by_name = {local_path(c.media_url).name: c for c in found}
    assert sorted(by_name) == ["city_lights.mp4", "forest walk.mkv", "garbage.mp4", "ocean.mp4"]

    ocean = by_name["ocean.mp4"]
    assert ocean.title == "Ocean Waves"  # container metadata
    assert ocean.tags == ("nature", "calm")  # container genre, no sidecar
    assert ocean.duration_sec == pytest.approx(2.0, abs=0.1)
    assert ocean.quality == ("720p", "stereo")
    assert ocean.media_url == (library / "ocean.mp4").as_uri()
    assert ocean.source_name == "lib"

    city = by_name["city_lights.mp4"]
    assert city.title == "city lights"  # the file name
    assert (city.theme, city.tags) == ("urban", ("night", "city"))
    assert city.quality == ("480p", "stereo", "clean")

    forest = by_name["forest walk.mkv"]
    assert forest.title == "Forest Walk"  # the sidecar wins over metadata
    assert forest.tags == ("green", "calm")
    assert local_path(forest.media_url) == library / "forest walk.mkv"  # %20 round-trips

    # Not media: still offered, without a duration, so screening rejects it with a reason.
    assert by_name["garbage.mp4"].duration_sec is None


async def test_a_malformed_sidecar_skips_only_its_file_and_names_the_sidecar(library: Path):
    _, errors = await scan_folder(library, source_name="lib")
    by_item = {e.item: e for e in errors}
    assert set(by_item) == {"broken.mp4", "listy.mp4"}
    broken = by_item["broken.mp4"]
    assert (broken.source_name, broken.domain) == ("lib", LOCAL_DOMAIN)
    assert broken.reason.startswith(f"{library / 'broken.yaml'}: malformed YAML")
    assert by_item["listy.mp4"].reason == f"{library / 'listy.json'}: must hold a mapping, not list"


async def test_a_missing_folder_fails_the_whole_source(tmp_path: Path):
    with pytest.raises(SourceFailure) as caught:
        await scan_folder(tmp_path / "nope", source_name="lib")
    assert caught.value.error == SourceError(
        "lib", "local", f"{tmp_path / 'nope'}: not a directory"
    )


async def test_folder_sources_go_through_fetch_all_with_the_others(library: Path):
    found, errors = await fetch_all([SourceSpec("lib", "folder", str(library))], client=None)
    assert len(found) == 4
    assert {e.item for e in errors} == {"broken.mp4", "listy.mp4"}


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("a.yaml", "title: [1, 2]\n", "'title' must be a string"),
        ("a.yaml", "theme: {x: 1}\n", "'theme' must be a string"),
        ("a.json", '{"tags": {"a": 1}}', "'tags' must be a list of strings"),
        ("a.json", '{"quality": [null]}', "'quality' must be a list of strings"),
        ("a.json", "{oops", "malformed JSON"),
        ("a.yml", "a: b: c\n", "malformed YML"),
    ],
)
def test_sidecar_errors_name_the_file_and_the_field(
    tmp_path: Path, name: str, text: str, problem: str
):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SidecarError, match=problem) as caught:
        read_sidecar(path)
    assert str(caught.value).startswith(str(path))


def test_an_empty_sidecar_is_no_information(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("")
    assert read_sidecar(path).tags == ()


HOSTILE_SIDECARS = {
    # name: (sidecar file, content, field, what the reason says)
    "deep_json": ("json", "[" * 30_000 + "]" * 30_000, "sidecar", "nested more than 64"),
    "deeper_json": ("json", "[" * 100_000, "sidecar", "larger than 65536 bytes"),
    "deep_yaml": ("yaml", "tags: " + "[" * 30_000 + "]" * 30_000, "sidecar", "nested more than 64"),
    "huge_int_yaml": ("yaml", "tags: [" + "9" * 5000 + "]", "sidecar", "unreadable value"),
    "unhashable_yaml": ("yaml", "? [a, b]\n: c\n", "sidecar", "malformed YAML"),
    "oversized": ("yaml", "title: " + "x" * 70_000, "sidecar", "larger than 65536 bytes"),
    "binary": ("json", "\udcff", "sidecar", "cannot read"),
    "bool_tags": ("json", '{"tags": [true]}', "tags", "'tags' must be a list of strings"),
}


async def test_a_hostile_sidecar_loses_only_its_own_file(tmp_path: Path, clips: Clips):
    """Sidecars that once aborted the whole window (100k-deep nesting, integers PyYAML
    cannot convert, keys Python cannot hash) lose only their own file, with the field and
    the reason; the good file next to them is a candidate, sidecar and all."""
    lib = tmp_path / "library"
    lib.mkdir()
    shutil.copy(clips.hd720, lib / "good.mp4")
    (lib / "good.json").write_text('{"title": "Good", "tags": ["calm"], "quality": [1e400]}')
    for name, (ext, text, _, _) in HOSTILE_SIDECARS.items():
        shutil.copy(clips.hd720, lib / f"{name}.mp4")
        (lib / f"{name}.{ext}").write_bytes(text.encode("utf-8", "surrogateescape"))
    found, errors = await scan_folder(lib, source_name="lib")
    assert [(c.title, c.tags, c.quality) for c in found] == [
        ("Good", ("calm",), ("720p", "stereo", "inf"))
    ]
    by_item = {e.item: e for e in errors}
    assert set(by_item) == {f"{name}.mp4" for name in HOSTILE_SIDECARS}
    for name, (_, _, field, reason) in HOSTILE_SIDECARS.items():
        error = by_item[f"{name}.mp4"]
        assert (error.field, error.domain) == (field, LOCAL_DOMAIN), name
        assert reason in error.reason, (name, error.reason)
