"""ffmpeg and ffprobe read only real media containers, from local files only.

A file from outside is sniffed before any tool opens it: real containers of every kind we
accept are read, and everything that makes ffmpeg open other files or URLs (HLS, ffconcat,
concat), image tricks, text and junk is refused as ``MEDIA_FORMAT_REFUSED``, with what it
looked like. Behind the sniff, ffmpeg itself is locked twice: a protocol whitelist (local
file only) and a format whitelist (the container demuxers): each lock is shown to hold on
its own, with real ffmpeg against a recording internal host.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs
import pytest
import trio

from tests.support.hostile import hls_playlist, internal_host, make_secret_ts, mean_rgb
from vvtv.media.ffmpeg import FFPROBE, run_tool
from vvtv.media.formats import (
    FORMAT_WHITELIST,
    MATROSKA,
    MP4,
    MPEGPS,
    MPEGTS,
    REASON,
    Container,
    MediaFormatRefused,
    refusal_from_stderr,
    sniff,
)
from vvtv.media.prepare import prepare
from vvtv.media.probe import ProbeError, confirm_hd, probe
from vvtv.ownercard.card import ChannelProfile, QualityPolicy

# (file name, ffmpeg output options, the container sniffing must find)
CONTAINERS = [
    ("clip.mp4", ["-c:v", "libx264", "-c:a", "aac"], MP4),
    ("clip.mov", ["-c:v", "libx264", "-c:a", "aac"], MP4),
    ("clip.mkv", ["-c:v", "libx264", "-c:a", "aac"], MATROSKA),
    ("clip.webm", ["-c:v", "libvpx", "-c:a", "libopus", "-deadline", "realtime"], MATROSKA),
    ("clip.ts", ["-c:v", "libx264", "-c:a", "aac", "-f", "mpegts"], MPEGTS),
    ("clip.m2ts", ["-c:v", "libx264", "-c:a", "aac", "-mpegts_m2ts_mode", "1"], MPEGTS),
    ("clip.mpg", ["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "mpeg"], MPEGPS),
    ("clip.avi", ["-c:v", "mpeg4", "-c:a", "mp3"], Container("avi", "AVI")),
    ("clip.flv", ["-c:v", "flv", "-c:a", "mp3", "-ar", "44100"], Container("flv", "FLV")),
    ("clip.mxf", ["-c:v", "mpeg2video", "-c:a", "pcm_s16le"], Container("mxf", "MXF")),
    ("clip.ogv", ["-c:v", "libtheora", "-c:a", "libvorbis"], Container("ogg", "Ogg")),
]


@attrs.frozen
class Made:
    dir: Path

    def __call__(self, name: str) -> Path:
        return self.dir / name


@pytest.fixture(scope="session")
def containers(tmp_path_factory: pytest.TempPathFactory) -> Made:
    d = tmp_path_factory.mktemp("containers")
    for name, options, _ in CONTAINERS:
        args = [
            "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=1",
            "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000:d=1",
            "-pix_fmt", "yuv420p", "-ac", "2", *options, str(d / name),
        ]  # fmt: skip
        subprocess.run(args, check=True)
    return Made(d)


@pytest.mark.parametrize(("name", "container"), [(n, c) for n, _, c in CONTAINERS])
async def test_every_accepted_container_is_sniffed_and_probed(
    containers: Made, name: str, container: Container
) -> None:
    path = containers(name)
    assert sniff(path.read_bytes()[:4096]) == container
    info = await probe(str(path))
    assert info.has_video and info.width == 320
    assert info.duration_sec == pytest.approx(1.0, abs=0.2)


HOSTILE = {
    "playlist.mp4": (hls_playlist("http://127.0.0.1:9/seg.ts"), "an HLS playlist"),
    "bom-playlist.mkv": (b"\xef\xbb\xbf" + hls_playlist("seg.ts"), "an HLS playlist"),
    "ffconcat.mp4": (b"ffconcat version 1.0\nfile '/etc/passwd'\n", "ffconcat/concat script"),
    "concat.ts": (b"file 'clip.ts'\nfile 'secret.ts'\n", "ffconcat/concat script"),
    "frame.mp4": (b"\x89PNG\r\n\x1a\n" + bytes(64), "an image"),
    "photo.mp4": (b"\xff\xd8\xff\xe0" + bytes(64), "an image"),
    "page.mp4": (b"<!DOCTYPE html><html><body>404</body></html>", "an HTML page"),
    "manifest.mp4": (b'<?xml version="1.0"?><MPD></MPD>', "an XML document"),
    "notes.mp4": (b"just some words\n" * 20, "text, not a media file"),
    "empty.mp4": (b"", "an empty file"),
    "junk.mp4": (bytes(range(7, 256)) * 8, "not a media container vvtv reads"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_anything_else_is_refused_before_ffprobe_opens_it(tmp_path: Path, name: str) -> None:
    data, looks_like = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(MediaFormatRefused) as info:
        await probe(str(path))
    assert isinstance(info.value, ProbeError)  # every probe caller handles it already
    assert info.value.reason.startswith(f"{REASON}: {path} is ")
    assert looks_like in info.value.reason
    check = await confirm_hd(str(path), 720)
    assert (check.ok, check.code) == (False, REASON)


async def test_a_playlist_served_as_mp4_naming_a_private_file_never_reaches_prepared_output(
    tmp_path: Path,
) -> None:
    # The reproduction: a tiny playlist, named like a video, whose only segment is a
    # private file on this machine. It used to be prepared, pass QA and air those frames.
    secret = make_secret_ts(tmp_path / "private" / "secret.ts")
    playlist = tmp_path / "incoming" / "x.mp4"
    playlist.parent.mkdir()
    playlist.write_bytes(hls_playlist(secret.as_uri()))
    assert len(playlist.read_bytes()) < 200
    hls_root = tmp_path / "hls"
    with pytest.raises(MediaFormatRefused) as info:
        await prepare(playlist, hls_root, "x", ChannelProfile(), QualityPolicy())
    assert REASON in info.value.reason and "an HLS playlist" in info.value.reason
    assert not hls_root.exists() or list(hls_root.iterdir()) == []
    # The same private file handed over as what it is (a real MPEG-TS) does prepare, and
    # its frames are red: the check above would have seen them.
    control = await prepare(secret, hls_root, "control", ChannelProfile(), QualityPolicy())
    r, g, b = mean_rgb(control.playlist)
    assert r > 200 and g < 40 and b < 40


async def test_lock_one_the_format_whitelist_refuses_a_playlist_even_unsniffed(
    tmp_path: Path,
) -> None:
    # Without the sniff and without -f, ffmpeg's own probing picks its HLS demuxer; the
    # format whitelist refuses it and says so.
    secret = make_secret_ts(tmp_path / "secret.ts")
    playlist = tmp_path / "x.mp4"
    playlist.write_bytes(hls_playlist(secret.as_uri()))
    args = [
        FFPROBE, "-v", "error", "-protocol_whitelist", "file",
        "-format_whitelist", FORMAT_WHITELIST, "-i", str(playlist), "-show_format",
    ]  # fmt: skip
    result = await run_tool(args, timeout=30, check=False)
    assert result.returncode != 0
    refused = refusal_from_stderr(result.stderr, str(playlist))
    assert refused is not None and "not on whitelist" in refused.reason
    assert b"mpegts" not in result.stdout


async def test_lock_two_the_protocol_whitelist_keeps_ffmpeg_off_the_network(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    # Even a demuxer that follows links (HLS, allowed here on purpose) cannot reach a
    # host: only the file protocol is whitelisted. The internal host sees nothing.
    internal = await internal_host(nursery)
    playlist = tmp_path / "x.m3u8"
    playlist.write_bytes(hls_playlist(internal.url_for("/latest/meta-data/seg.ts")))
    args = [
        FFPROBE, "-v", "error", "-protocol_whitelist", "file",
        "-format_whitelist", "hls", "-i", str(playlist), "-show_format",
    ]  # fmt: skip
    result = await run_tool(args, timeout=30, check=False)
    assert "not on whitelist" in result.stderr
    assert internal.requests == []
