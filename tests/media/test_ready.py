"""From a fetched file to a judged asset: each stream decoded as few times as it can be, and the
QA gate judging the audio of the prepared file, never an assumption about it.

Every ffmpeg run goes through a recording wrapper on ``PATH`` (the real ffmpeg does the work;
the wrapper only notes its arguments), so the tests count which runs decoded the audio.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio

from tests.media.conftest import PROFILE, QUALITY, Clips
from tests.media.test_prepare import processes_mentioning
from tests.support.media import ClipCache
from tests.support.waiting import wait_until
from vvtv.media.ffmpeg import MediaError
from vvtv.media.loudness import measure_loudness
from vvtv.media.prepare import SEGMENT_PATTERN, load_prepared, prepare
from vvtv.media.qa import qa_check
from vvtv.media.ready import judge, make_ready

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

    def cuts(self) -> list[list[str]]:
        """Runs that write HLS segments."""
        return [r for r in self.runs() if "-hls_segment_filename" in r]


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
    assert prepared.measured is not None
    assert abs(prepared.measured.integrated_lufs - QUALITY.target_audio_lufs) <= 0.5
    # The one audio decode is pass 1 over the source; QA decoded the prepared file's video and
    # hashed its audio packets, found them to be the ones measured, and reports that measurement.
    decodes = ffmpeg_log.audio_decodes()
    assert len(decodes) == 1, decodes
    assert str(source) in decodes[0] and "streamhash" in decodes[0]
    qa_runs = [r for r in ffmpeg_log.runs() if str(prepared.playlist) in r]
    assert len(qa_runs) == 1 and "streamhash" in qa_runs[0], qa_runs
    assert report.integrated_lufs == prepared.measured.integrated_lufs
    assert set(timings) == {"prepare", "qa"}
    assert load_prepared(prepared.dir) == prepared  # the measurement is on record


async def test_an_asset_whose_audio_is_not_the_audio_measured_is_judged_on_its_own(
    clip_cache: ClipCache, tmp_path: Path, ffmpeg_log: FfmpegLog
) -> None:
    """The hostile case: the prepared file's audio packets are swapped after the source was
    measured (here: for the same clip normalised to -30 LUFS). QA must not take the source's
    measurement on trust: it decodes the file's own audio and fails it for loudness."""
    source = clip_cache.clip(seconds=6, volume_db=ON_TARGET_DB)
    hls = tmp_path / "hls"
    kept = await prepare(source, hls, "kept", PROFILE, QUALITY)
    assert kept.audio_filter == "copy" and kept.source_audio is not None
    quiet = await prepare(
        source, hls, "quiet", PROFILE, attrs.evolve(QUALITY, target_audio_lufs=-30.0)
    )
    assert len(quiet.segments) == len(kept.segments)
    for i in range(len(kept.segments)):
        shutil.copyfile(quiet.dir / (SEGMENT_PATTERN % i), kept.dir / (SEGMENT_PATTERN % i))
    ffmpeg_log.reset()
    report = await judge(kept, QUALITY, 6.0)
    assert not report.passed
    assert report.integrated_lufs == pytest.approx(-30.0, abs=0.5)
    assert any("integrated loudness" in r for r in report.reasons), report.reasons
    own = [r for r in ffmpeg_log.audio_decodes() if str(kept.playlist) in r]
    assert len(own) == 1, ffmpeg_log.runs()


async def test_the_qa_gate_refuses_a_source_audio_pass_it_cannot_check(
    clip_cache: ClipCache, tmp_path: Path
) -> None:
    source = clip_cache.clip(seconds=6, volume_db=ON_TARGET_DB)
    prepared = await prepare(source, tmp_path, "kept", PROFILE, QUALITY)
    assert prepared.source_audio is not None
    unhashed = attrs.evolve(prepared.source_audio, audio_packets=None)
    with pytest.raises(ValueError, match="hashed audio-only pass"):
        await qa_check(prepared, QUALITY, 6.0, source_audio=unhashed)
    both = attrs.evolve(prepared.source_audio, streams="av")
    with pytest.raises(ValueError, match="hashed audio-only pass"):
        await qa_check(prepared, QUALITY, 6.0, source_audio=both)


async def test_a_conforming_clip_off_target_is_measured_then_cut_once_normalised(
    clips: Clips, tmp_path: Path, ffmpeg_log: FfmpegLog
) -> None:
    prepared, report = await make_ready(
        clips.conforming, tmp_path / "hls", "off-target", PROFILE, QUALITY, 6.0
    )
    decodes = ffmpeg_log.audio_decodes()
    cuts = ffmpeg_log.cuts()
    assert report.passed, report.reasons
    assert prepared.remuxed and prepared.audio_filter.startswith("volume=")
    assert prepared.source_audio is None  # re-encoded: nothing for QA to reuse
    assert prepared.measured is not None
    assert prepared.measured.integrated_lufs < QUALITY.target_audio_lufs - 10
    after = await measure_loudness(prepared.playlist, timeout=60, own_hls=True)
    assert after.integrated_lufs == pytest.approx(QUALITY.target_audio_lufs, abs=0.5)
    assert report.integrated_lufs == pytest.approx(after.integrated_lufs, abs=0.01)
    # Measured on the source (pass 1), cut once with the audio normalised (pass 2), measured by
    # QA on the prepared file.
    assert len(decodes) == 3, decodes
    assert str(clips.conforming) in decodes[0] and "ebur128" in " ".join(decodes[0])
    assert len(cuts) == 1, cuts
    assert str(prepared.playlist) in decodes[-1]
    assert load_prepared(prepared.dir) == prepared
    assert [p.name for p in (tmp_path / "hls").iterdir()] == ["off-target"]


async def test_a_transcode_measures_its_source_first_and_qa_decodes_once(
    clips: Clips, tmp_path: Path, ffmpeg_log: FfmpegLog
) -> None:
    prepared, report = await make_ready(
        clips.full_hd_50, tmp_path / "hls", "hd", PROFILE, QUALITY, 4.0
    )
    assert report.passed, report.reasons
    assert not prepared.remuxed and prepared.source_audio is None
    assert prepared.measured is not None
    assert len(ffmpeg_log.audio_decodes()) == 3  # measure, encode, QA


async def test_a_remux_that_falls_back_to_a_transcode_measures_once_before_encoding(
    clips: Clips, tmp_path: Path, ffmpeg_log: FfmpegLog
) -> None:
    p = await prepare(clips.long_gop, tmp_path, "long", PROFILE, QUALITY)
    assert not p.remuxed
    assert p.measured is not None and p.audio_filter.startswith("volume=")
    measures = [r for r in ffmpeg_log.audio_decodes() if any("ebur128" in a for a in r)]
    assert len(measures) == 1, measures
    assert len(ffmpeg_log.cuts()) == 2  # the remux thrown away, then the transcode


async def test_a_silent_clip_keeps_its_track_and_fails_qa_for_silence(
    clips: Clips, tmp_path: Path
) -> None:
    prepared, report = await make_ready(
        clips.silent, tmp_path / "hls", "silent", PROFILE, QUALITY, 4.0
    )
    assert prepared.audio_filter == "copy"  # no gain can make silence programme
    assert not report.passed
    assert any("silence" in r for r in report.reasons)


async def test_a_clip_without_audio_gets_a_silent_track(clips: Clips, tmp_path: Path) -> None:
    prepared, _ = await make_ready(clips.no_audio, tmp_path / "hls", "mute", PROFILE, QUALITY, 3.0)
    assert prepared.audio_filter == "silence" and prepared.measured is None


async def test_bad_input_is_a_clear_error_and_leaves_nothing(clips: Clips, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"prepare bad: .*garbage\.mp4"):
        await make_ready(clips.garbage, tmp_path, "bad", PROFILE, QUALITY, 4.0)
    assert list(tmp_path.iterdir()) == []


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
