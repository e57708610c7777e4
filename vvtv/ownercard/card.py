"""The OwnerCard: the channel owner's editorial, safety and operating policy (SPEC §2).

This module holds the typed shape of the card. Reading it from YAML with field-path errors
lives in ``vvtv.ownercard.load``, its ranges and cross-field rules in ``vvtv.ownercard.rules``,
the card in force and its safe reload in ``vvtv.ownercard.holder``.
"""

from __future__ import annotations

import attrs

#: Image files a local ``channel.logo`` may be, with the type it is served as. No SVG: an
#: SVG is a document that can carry script, and IPTV apps rarely draw it anyway.
LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


#: Push output URL schemes, and what the stream key may be to each (the first is the default).
OUTPUT_KEY_USES: dict[str, tuple[str, ...]] = {
    "rtmp": ("stream",),
    "rtmps": ("stream",),
    "srt": ("streamid", "passphrase"),
}


def logo_is_url(logo: str) -> bool:
    """Whether a (valid) ``channel.logo`` is a URL rather than a local image file."""
    return logo.startswith(("http://", "https://"))


@attrs.frozen
class EditorialProfile:
    target_avg_duration_sec: int = 900
    max_consecutive_same_theme: int = 2
    min_unique_themes_per_block: int = 3


@attrs.frozen
class SearchPolicy:
    allowlist_domains: tuple[str, ...] = ()
    blacklist_domains: tuple[str, ...] = ()
    blocked_keywords: tuple[str, ...] = ()
    # vvtv additions: a duration outside this range (declared by a source or probed) is
    # refused with DURATION_OUT_OF_RANGE; a stored plan outside it is dropped.
    min_duration_sec: float = 1.0
    max_duration_sec: float = 43_200.0  # 12 h
    # Non-public address ranges (CIDR) feeds and media may resolve to; empty: only public
    # unicast addresses are ever connected to (``vvtv.guard.addresses``).
    allow_private_addresses: tuple[str, ...] = ()
    max_candidates_per_source: int = 500  # per discovery window; the rest wait for the next
    max_probes_per_window: int = 200  # media heads fetched and probed per discovery window


@attrs.frozen
class SchedulePolicy:
    planning_horizon_hours: int = 24
    commit_lead_hours: int = 4
    commit_interval_minutes: int = 30
    buffer_target_minutes: int = 60
    buffer_critical_minutes: int = 20
    # vvtv additions
    reserves_per_hour: int = 2
    nightly_local_time: str = "03:00"
    timezone: str = ""  # IANA name; empty = the machine's local zone


@attrs.frozen
class QualityPolicy:
    min_resolution_height: int = 720
    target_audio_lufs: float = -16.0
    max_audio_deviation_lufs: float = 2.5
    # vvtv additions
    max_true_peak_dbtp: float = -1.5
    duration_tolerance_sec: float = 5.0
    max_black_ratio: float = 0.9
    max_silence_ratio: float = 0.9


#: Tags (and themes) that mark a programme as music, unless the card names its own.
#: English and Portuguese (the original channel's language), compared case-insensitively.
DEFAULT_MUSIC_TAGS: tuple[str, ...] = (
    "music",
    "music video",
    "concert",
    "live music",
    "song",
    "dj set",
    "música",
    "musica",
    "videoclipe",
    "clipe musical",
)


@attrs.frozen
class MusicPolicy:
    preferred_moods: tuple[str, ...] = ()
    # At most this share of the planned airtime is music (1.0: no cap; 0.0: no music);
    # the planner holds it at every point of the grid (``vvtv.plan.grid``).
    block_music_ratio: float = 0.2
    # vvtv addition: what makes a programme music (``vvtv.plan.music``).
    music_tags: tuple[str, ...] = DEFAULT_MUSIC_TAGS


@attrs.frozen
class CuratorPolicy:
    auto_apply: bool = True
    min_confidence: float = 0.75
    max_reorders_per_hour: int = 4
    # vvtv additions
    lookahead_hours: float = 3.0
    frozen_minutes: float = 10.0  # never move an item starting within this many minutes


@attrs.frozen
class SafetyPolicy:
    require_hd_playback_confirmation: bool = True
    reject_suspicious_watermark: bool = False


@attrs.frozen
class AutotunePolicy:
    max_daily_adjustment_pct: float = 5.0
    enabled: bool = True


@attrs.frozen
class SourceSpec:
    """A place discovery pulls candidates from (vvtv addition)."""

    name: str
    kind: str  # "folder" | "rss" | "jsonfeed"
    location: str  # a folder path or an http(s) URL
    demo: bool = False  # a folder the daemon fills with generated clips when empty


@attrs.frozen
class Rendition:
    """A lower rung of the live stream (``channel.renditions``, vvtv addition, issue 18).

    Made with every asset from its prepared main rendition, with the same segment boundaries
    (``vvtv.media.rungs``), and offered beside it in ``/live/master.m3u8``. The width follows
    the channel's aspect ratio (``rung_width``); the frame rate, audio and segment length are
    the channel's (the audio is the main rendition's, copied).
    """

    height: int
    video_bitrate_kbps: int

    @property
    def name(self) -> str:
        """The rung's directory in an asset and its path under ``/live/``: ``480p``."""
        return f"{self.height}p"


def rung_width(profile: ChannelProfile, height: int) -> int:
    """The width of a rung ``height`` pixels high at the channel's aspect ratio, rounded to
    an even number (H.264 4:2:0): 854 for 480 on a 16:9 channel."""
    return max(2, 2 * round(profile.width * height / profile.height / 2))


@attrs.frozen
class ChannelProfile:
    """The channel's identity, and what every prepared asset is conformed to (vvtv addition).

    ``name`` and ``logo`` are what viewers see: on the watch page, in the M3U playlist, the
    XMLTV guide and the HDHomeRun lineup. ``logo`` is an http(s) URL, or a PNG/JPEG/WebP/GIF
    file (relative paths are relative to the project root, like folder sources) that the
    channel serves itself at ``/channel/logo``; empty means the name is shown as text.
    """

    width: int = 1280
    height: int = 720
    fps: int = 25
    video_codec: str = "h264"
    audio_codec: str = "aac"
    audio_rate: int = 48000
    audio_channels: int = 2
    video_bitrate_kbps: int = 2500
    audio_bitrate_kbps: int = 128
    segment_seconds: int = 6
    # lower rungs offered beside the main rendition (issue 18); none by default
    renditions: tuple[Rendition, ...] = ()
    # identity (issue 18)
    name: str = "vvtv"
    logo: str = ""


@attrs.frozen
class OutputSpec:
    """A server the channel pushes its air to (vvtv addition): RTMP, RTMPS or SRT.

    ``url`` is the server and application (``rtmp://a.rtmp.youtube.com/live2``); the stream
    key is never in the card: ``key_env`` names an environment variable (``VVTV_OUTPUT_KEY_*``,
    read at start) or ``key_file`` a file holding the key (read at every connection, so a
    rotated key needs no restart). ``key_as`` says what the key is to the server: the stream
    name after the application for RTMP(S) (``stream``, the default), the stream id for SRT
    (``streamid``, the default) or its ``passphrase``. ``ca_file`` (RTMPS only) is a PEM
    bundle to trust instead of the system's, for a server with a private CA. ``enabled:
    false`` keeps the output configured but not pushing (a signed control call can switch it
    on and off at run time).
    """

    name: str
    url: str
    enabled: bool = True
    key_env: str = ""
    key_file: str = ""
    key_as: str = ""
    ca_file: str = ""


@attrs.frozen
class OwnerCard:
    schema_version: int = 1
    editorial_profile: EditorialProfile = EditorialProfile()
    search_policy: SearchPolicy = SearchPolicy()
    schedule_policy: SchedulePolicy = SchedulePolicy()
    quality_policy: QualityPolicy = QualityPolicy()
    music_policy: MusicPolicy = MusicPolicy()
    curator_policy: CuratorPolicy = CuratorPolicy()
    safety_policy: SafetyPolicy = SafetyPolicy()
    autotune_policy: AutotunePolicy = AutotunePolicy()
    sources: tuple[SourceSpec, ...] = ()
    channel: ChannelProfile = ChannelProfile()
    outputs: tuple[OutputSpec, ...] = ()
