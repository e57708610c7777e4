"""The master playlist ``/live/master.m3u8``: the main rendition and its lower rungs.

One ``EXT-X-STREAM-INF`` per rendition, best first (hls.js and Safari start from the first
and step down as the link requires), each pointing at a live media playlist with the same
timeline (``vvtv.air.live_playlist.rung_window``), next to the master: ``index.m3u8`` and
``480p.m3u8``. Relative URIs, so the same text serves from the origin (``/live/``) and from
the edge (``/hls/``, ``/c/<channel>/hls/``). With no rung (``channel.renditions`` empty) the
master lists the main rendition alone: a valid master players treat as the media playlist.

What each attribute says, and where it comes from (the channel profile, not measured):

- ``BANDWIDTH`` is the peak the encoder is held to: the video ``maxrate`` (1.5 × the
  bitrate, ``vvtv.media.prepare.video_encode_args`` and ``vvtv.media.rungs.encode_args``)
  plus the audio bitrate, plus MPEG-TS overhead (``TS_OVERHEAD``). A remuxed main asset
  (already at the profile, not re-encoded) keeps its source's rate and can exceed it;
  ``ops/bench/outputs.py`` measures the real peaks of the rung's segments against it.
- ``AVERAGE-BANDWIDTH``: the target bitrates plus the same overhead.
- ``CODECS``: ``avc1.64LLLL`` (High profile, the level x264 picks for that frame size, frame
  rate and maxrate: ``h264_level``) and ``mp4a.40.2`` (AAC-LC).
- ``RESOLUTION`` and ``FRAME-RATE`` from the profile (a rung's width from ``rung_width``).
"""

from __future__ import annotations

import math

from vvtv.ownercard.card import ChannelProfile, Rendition, rung_width

MAIN_PLAYLIST = "index.m3u8"
AAC_LC = "mp4a.40.2"
# MPEG-TS packet headers, PES headers and the PAT/PMT every segment repeats: a few percent
# at these rates (measured on prepared assets: 3-6 %).
TS_OVERHEAD = 1.08

# H.264 levels (ITU-T H.264 Table A-1): (level_idc, max macroblocks/s, max frame size in
# macroblocks, max video bitrate kb/s for Baseline/Main; High allows 1.25 times).
_LEVELS = (
    (10, 1485, 99, 64),
    (11, 3000, 396, 192),
    (12, 6000, 396, 384),
    (13, 11880, 396, 768),
    (20, 11880, 396, 2000),
    (21, 19800, 792, 4000),
    (22, 20250, 1620, 4000),
    (30, 40500, 1620, 10000),
    (31, 108000, 3600, 14000),
    (32, 216000, 5120, 20000),
    (40, 245760, 8192, 20000),
    (41, 245760, 8192, 50000),
    (42, 522240, 8704, 50000),
    (50, 589824, 22080, 135000),
    (51, 983040, 36864, 240000),
    (52, 2073600, 36864, 240000),
)


def h264_level(width: int, height: int, fps: float, maxrate_kbps: int) -> int:
    """The lowest level (level_idc: 31 for 3.1) a High-profile stream of this size, frame
    rate and peak bitrate fits, as x264 picks it."""
    frame = math.ceil(width / 16) * math.ceil(height / 16)
    per_second = frame * fps
    for level, max_mbps, max_fs, max_br in _LEVELS:
        if frame <= max_fs and per_second <= max_mbps and maxrate_kbps <= max_br * 1.25:
            return level
    return _LEVELS[-1][0]


def avc1(width: int, height: int, fps: float, maxrate_kbps: int) -> str:
    """The RFC 6381 codec string of x264's High profile output: ``avc1.64001f`` for 720p25."""
    return f"avc1.6400{h264_level(width, height, fps, maxrate_kbps):02x}"


def maxrate_kbps(video_kbps: int) -> int:
    return video_kbps * 3 // 2


def _variant(
    profile: ChannelProfile, width: int, height: int, video_kbps: int, uri: str
) -> list[str]:
    peak = round((maxrate_kbps(video_kbps) + profile.audio_bitrate_kbps) * 1000 * TS_OVERHEAD)
    average = round((video_kbps + profile.audio_bitrate_kbps) * 1000 * TS_OVERHEAD)
    codecs = f"{avc1(width, height, profile.fps, maxrate_kbps(video_kbps))},{AAC_LC}"
    return [
        f"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},"
        f'CODECS="{codecs}",RESOLUTION={width}x{height},FRAME-RATE={profile.fps:.3f}',
        uri,
    ]


def rung_uri(rung: Rendition) -> str:
    """A rung's media playlist, relative to the master: ``480p.m3u8``."""
    return f"{rung.name}.m3u8"


def render_master(profile: ChannelProfile) -> str:
    """The master playlist for ``profile`` and its ``renditions`` (see the module)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += _variant(
        profile, profile.width, profile.height, profile.video_bitrate_kbps, MAIN_PLAYLIST
    )
    for rung in sorted(profile.renditions, key=lambda r: -r.height):
        width = rung_width(profile, rung.height)
        lines += _variant(profile, width, rung.height, rung.video_bitrate_kbps, rung_uri(rung))
    return "\n".join(lines) + "\n"
