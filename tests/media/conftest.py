"""Media fixtures: real clips made once per session, each prepared once, and the media host."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio

from tests.support.loopback import Loopback
from tests.support.media import make_clip, make_silent_clip, make_truncated
from vvtv.media.prepare import Prepared, prepare
from vvtv.ownercard.card import ChannelProfile, QualityPolicy


@attrs.frozen
class Clips:
    conforming: Path  # 1280x720 25 fps h264 yuv420p + aac 48k stereo, keyframe every 6 s
    long_gop: Path  # conforming but with one keyframe per 10 s: too long for 6 s segments
    full_hd_50: Path  # 1920x1080 at 50 fps
    quiet: Path  # conforming video with audio around -40 LUFS
    small_480: Path  # 854x480
    silent: Path  # conforming video, digital silence
    truncated: Path  # the first half of a real clip
    garbage: Path  # bytes that are not media at all
    tagged: Path  # carries title/genre metadata
    peaky: Path  # a tone with rare loud clicks: a linear gain to target would clip
    no_audio: Path  # video only
    pal_sd: Path  # 720x576 interlaced, 16:9 anamorphic (non-square pixels)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    d = tmp_path_factory.mktemp("clips")
    conforming = make_clip(d / "conforming.mp4", seconds=6)
    long_gop = make_clip(d / "long_gop.mp4", seconds=12, gop=250)
    garbage = d / "garbage.mp4"
    garbage.write_bytes(b"this is not a video file\n" * 400)
    return Clips(
        conforming=conforming,
        long_gop=long_gop,
        full_hd_50=make_clip(d / "fullhd50.mp4", size="1920x1080", fps=50, seconds=4),
        quiet=make_clip(d / "quiet.mp4", seconds=5, volume_db=-30),
        small_480=make_clip(d / "small480.mp4", size="854x480", seconds=4),
        silent=make_silent_clip(d / "silent.mp4", seconds=4),
        truncated=make_truncated(long_gop, d / "truncated.mp4"),
        garbage=garbage,
        tagged=make_clip(
            d / "tagged.mp4",
            seconds=2,
            extra=("-metadata", "title=Ocean Waves", "-metadata", "genre=nature, calm"),
        ),
        peaky=make_clip(
            d / "peaky.mp4",
            size="640x360",
            seconds=8,
            volume_db=0,
            audio="aevalsrc=0.1*sin(2*PI*440*t)+if(lt(mod(t\\,2)\\,0.001)\\,0.95\\,0)",
        ),
        no_audio=make_clip(d / "no_audio.mp4", seconds=3, audio=None),
        pal_sd=make_clip(
            d / "pal_sd.mp4",
            size="720x576",
            seconds=2,
            extra=("-vf", "setsar=64/45", "-flags", "+ildct+ilme", "-top", "1"),
        ),
    )


@pytest.fixture
def server(loopback: Loopback) -> Loopback:
    """The loopback server standing in for the media hosts."""
    return loopback


@attrs.frozen
class PreparedSet:
    """Each clip prepared once for the session, into one HLS root."""

    hls_root: Path
    conforming: Prepared
    long_gop: Prepared
    full_hd_50: Prepared
    quiet: Prepared
    small_480: Prepared
    silent: Prepared
    truncated: Prepared
    peaky: Prepared
    no_audio: Prepared


@pytest.fixture(scope="session")
def prepared(clips: Clips, tmp_path_factory: pytest.TempPathFactory) -> PreparedSet:
    # A sync session fixture runs before (outside) each test's own trio.run, so it may call it.
    root = tmp_path_factory.mktemp("hls")
    names = [f.name for f in attrs.fields(PreparedSet) if f.name != "hls_root"]

    async def prepare_all() -> dict[str, Prepared]:
        out: dict[str, Prepared] = {}
        for name in names:
            source = getattr(clips, name)
            out[name] = await prepare(source, root, name.replace("_", "-"), PROFILE, QUALITY)
        return out

    return PreparedSet(hls_root=root, **trio.run(prepare_all))


PROFILE = ChannelProfile()
QUALITY = QualityPolicy()
