"""From a fetched file to a judged asset: loudness measured in the pass that reads the audio
anyway, so a clip already on target has its audio decoded once, not twice.

Every ffmpeg run goes through a recording wrapper on ``PATH`` (the real ffmpeg does the work;
the wrapper only notes its arguments), so the tests count which runs decoded the audio.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.media.conftest import PROFILE, QUALITY, Clips
from tests.media.test_prepare import processes_mentioning
from tests.support.media import ClipCache
from tests.support.waiting import wait_until
from vvtv.media.ffmpeg import MediaError
from vvtv.media.loudness import measure_loudness
from vvtv.media.prepare import load_prepared, prepare, renormalise, settle_loudness
from vvtv.media.ready import make_ready

# make_clip's sine at +5.8 dB measures -16 LUFS (the target) with its true peak near -12 dBTP.
ON_TARGET_DB = 5.8


class FfmpegLog:
    """The argument lists of every ffmpeg run since the test started."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def reset(self) -> None:
        """Forget the runs so far (making a test's clip is not the code under test)."""
        self.path.unlink(missing_ok=True)

    def runs(self) -> list[list[str]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().split("\n")
        return [line.split("\x1f")[:-1] for line in lines if line]

    def audio_decodes(self) -> list[list[str]]:
        """Runs that decode the audio: a loudness filter, or an audio encode (which decodes)."""

        def decodes(args: list[str]) -> bool:
            if any("ebur128" in a for a in args):
                return True
            codecs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "-c:a"]
            return any(c != "copy" for c in codecs)

        return [r for r in self.runs() if decodes(r)]


@pytest.fixture
def ffmpeg_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FfmpegLog]:
    real = shutil.which("ffmpeg")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "ffmpeg-runs.log"
    wrapper = bin_dir / "ffmpeg"
    # One line per run, arguments separated by the ASCII unit separator.
    wrapper.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\037' \"$@\" >> {shlex.quote(str(log))}\n"
        f"printf '\\n' >> {shlex.quote(str(log))}\n"
        f'exec {shlex.quote(real)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield FfmpegLog(log)


async def test_a_clip_on_target_keeps_its_audio_and_decodes_it_once(
    clip_cache: ClipCache, tmp_path: Path, ffmpeg_log: FfmpegLog
) -> None:
    source = clip_cache.clip(seconds=6, volume_db=ON_TARGET_DB)
    ffmpeg_log.reset()
    timings: dict[str, float] = {}
    prepared, report = await make_ready(
        source, tmp_path / "hls", "on-target", PROFILE, QUALITY, 6.0, timings=timings
    )
    assert report.passed, report.reasons
    assert prepared.remuxed and prepared.audio_filter == "copy"
    assert not prepared.loudness_pending
    assert prepared.measured is not None
    assert abs(prepared.measured.integrated_lufs - QUALITY.target_audio_lufs) <= 0.5
    # The one audio decode is the QA gate's audio pass, over the prepared playlist; QA then
    # decoded the video alone and reports that same measurement.
    decodes = ffmpeg_log.audio_decodes()
    assert len(decodes) == 1, decodes
    assert str(prepared.playlist) in decodes[0]
    assert report.integrated_lufs == prepared.measured.integrated_lufs
    assert set(timings) == {"prepare", "loudness", "qa"}
    assert load_prepared(prepared.dir) == prepared  # the measurement is on record


async def test_a_conforming_clip_off_target_is_cut_again_with_its_audio_normalised(
    clips: Clips, tmp_path: Path, ffmpeg_log: FfmpegLog
) -> None:
    prepared, report = await make_ready(
        clips.conforming, tmp_path / "hls", "off-target", PROFILE, QUALITY, 6.0
    )
    decodes = ffmpeg_log.audio_decodes()
    assert report.passed, report.reasons
    assert prepared.remuxed and prepared.audio_filter.startswith("volume=")
    assert prepared.measured is not None
    assert prepared.measured.integrated_lufs < QUALITY.target_audio_lufs - 10
    after = await measure_loudness(prepared.playlist, timeout=60, own_hls=True)
    assert after.integrated_lufs == pytest.approx(QUALITY.target_audio_lufs, abs=0.5)
    # QA measured the file that airs, not the first cut.
    assert report.integrated_lufs == pytest.approx(after.integrated_lufs, abs=0.01)
    # Measured on the first cut (pass 1), re-encoded (pass 2), measured by QA: the source
    # itself is never decoded just to measure it.
    assert len(decodes) == 3, decodes
    assert not any(str(clips.conforming) in run and "ebur128" in " ".join(run) for run in decodes)
    assert load_prepared(prepared.dir) == prepared
    assert [p.name for p in (tmp_path / "hls").iterdir()] == ["off-target"]


async def test_a_transcode_measures_its_source_first_and_qa_decodes_once(
    clips: Clips, tmp_path: Path, ffmpeg_log: FfmpegLog
) -> None:
    prepared, report = await make_ready(
        clips.full_hd_50, tmp_path / "hls", "hd", PROFILE, QUALITY, 4.0
    )
    assert report.passed, report.reasons
    assert not prepared.remuxed and not prepared.loudness_pending
    assert prepared.measured is not None
    assert len(ffmpeg_log.audio_decodes()) == 3  # measure, encode, QA


async def test_a_remux_that_falls_back_to_a_transcode_measures_before_encoding(
    clips: Clips, tmp_path: Path
) -> None:
    p = await prepare(clips.long_gop, tmp_path, "long", PROFILE, QUALITY, defer_loudness=True)
    assert not p.remuxed and not p.loudness_pending
    assert p.measured is not None and p.audio_filter.startswith("volume=")


async def test_a_silent_clip_is_not_renormalised_and_fails_qa_for_silence(
    clips: Clips, tmp_path: Path
) -> None:
    timings: dict[str, float] = {}
    prepared, report = await make_ready(
        clips.silent, tmp_path / "hls", "silent", PROFILE, QUALITY, 4.0, timings=timings
    )
    assert "renormalise" not in timings and prepared.audio_filter == "copy"
    assert not report.passed
    assert any("silence" in r for r in report.reasons)


async def test_a_clip_without_audio_gets_a_silent_track_and_nothing_pending(
    clips: Clips, tmp_path: Path
) -> None:
    prepared, _ = await make_ready(clips.no_audio, tmp_path / "hls", "mute", PROFILE, QUALITY, 3.0)
    assert prepared.audio_filter == "silence" and not prepared.loudness_pending


async def test_bad_input_is_a_clear_error_and_leaves_nothing(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"prepare bad: .*garbage\.mp4"):
        await make_ready(clips.garbage, tmp_path, "bad", PROFILE, QUALITY, 4.0)
    assert list(tmp_path.iterdir()) == []


async def test_settle_and_renormalise_refuse_an_asset_whose_loudness_is_not_pending(
    clips: Clips, tmp_path: Path
) -> None:
    p = await prepare(clips.conforming, tmp_path, "done", PROFILE, QUALITY)
    assert p.measured is not None and not p.loudness_pending
    with pytest.raises(ValueError, match="not pending"):
        settle_loudness(p, p.measured)
    with pytest.raises(ValueError, match="loudness pending"):
        await renormalise(p, clips.conforming, p.measured, PROFILE, QUALITY)


async def test_cancelled_mid_qa_kills_ffmpeg_and_leaves_nothing_published(
    clip_cache: ClipCache, tmp_path: Path
) -> None:
    source = clip_cache.clip(seconds=30, volume_db=ON_TARGET_DB)
    hls = tmp_path / "hls"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(make_ready, source, hls, "cancelled", PROFILE, QUALITY, 30.0)
        await wait_until(  # real time
            "QA's ffmpeg reading the published asset",
            lambda: processes_mentioning(str(hls / "cancelled" / "index.m3u8")),
            within=60,
        )
        nursery.cancel_scope.cancel()
    assert processes_mentioning(str(hls)) == []
    assert list(hls.iterdir()) == []
