"""The OwnerCard's rules (SPEC §2): ranges, cross-field rules and warnings on a typed card.

``check_rules`` lists every rule a well-typed card breaks, each message naming the field
path; ``rule_warnings`` what is allowed but probably not meant, and every setting the card
asks for that vvtv does not implement (``NOT_IMPLEMENTED``). Shape and types are checked
before, while loading (``vvtv.ownercard.load``); these rules see a complete ``OwnerCard``.

Every field of the card either acts somewhere in the channel or is listed in
``NOT_IMPLEMENTED`` with what it would need; ``tests/ownercard/test_card_fields.py`` walks
the card's fields and fails on one that nothing reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vvtv.core.model import MAX_PLAN_DURATION_SEC
from vvtv.core.settings import OUTPUT_KEY_ENV_PREFIX
from vvtv.guard.addresses import parse_networks
from vvtv.ownercard.card import (
    LOGO_TYPES,
    OUTPUT_KEY_USES,
    ChannelProfile,
    OutputSpec,
    OwnerCard,
    SourceSpec,
    logo_is_url,
)

SUPPORTED_SCHEMA_VERSION = 1
SOURCE_KINDS = ("folder", "rss", "jsonfeed")

# Inclusive bounds for every numeric field (None: unbounded on that side).
RANGES: dict[str, tuple[float | None, float | None]] = {
    "schema_version": (1, None),
    "editorial_profile.target_avg_duration_sec": (10, 86_400),
    "editorial_profile.max_consecutive_same_theme": (1, 100),
    "editorial_profile.min_unique_themes_per_block": (1, 100),
    "search_policy.min_duration_sec": (1.0, 3600.0),
    "search_policy.max_duration_sec": (60.0, MAX_PLAN_DURATION_SEC),
    "schedule_policy.planning_horizon_hours": (1, 168),
    "schedule_policy.commit_lead_hours": (1, 48),
    "schedule_policy.commit_interval_minutes": (1, 1440),
    "schedule_policy.buffer_target_minutes": (1, 1440),
    "schedule_policy.buffer_critical_minutes": (1, 1440),
    "schedule_policy.reserves_per_hour": (0, 60),
    "search_policy.max_candidates_per_source": (1, 100_000),
    "search_policy.max_probes_per_window": (1, 100_000),
    "quality_policy.min_resolution_height": (144, 4320),
    "quality_policy.target_audio_lufs": (-70.0, 0.0),
    "quality_policy.max_audio_deviation_lufs": (0.1, 20.0),
    "quality_policy.max_true_peak_dbtp": (-20.0, 0.0),
    "quality_policy.duration_tolerance_sec": (0.0, 600.0),
    "quality_policy.max_black_ratio": (0.0, 1.0),
    "quality_policy.max_silence_ratio": (0.0, 1.0),
    "music_policy.block_music_ratio": (0.0, 1.0),
    "curator_policy.min_confidence": (0.0, 1.0),
    "curator_policy.max_reorders_per_hour": (0, 3600),
    "curator_policy.lookahead_hours": (0.1, 48.0),
    "curator_policy.frozen_minutes": (0.0, 1440.0),
    "autotune_policy.max_daily_adjustment_pct": (0.0, 20.0),
    "channel.width": (160, 3840),
    "channel.height": (120, 2160),
    "channel.fps": (1, 60),
    "channel.audio_rate": (8000, 96000),
    "channel.audio_channels": (1, 2),
    "channel.video_bitrate_kbps": (100, 50_000),
    "channel.audio_bitrate_kbps": (32, 512),
    "channel.segment_seconds": (1, 30),
}

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _get(card: OwnerCard, path: str) -> Any:
    value: Any = card
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _fmt(n: float | None) -> str:
    return "" if n is None else (str(int(n)) if float(n).is_integer() else str(n))


def check_rules(card: OwnerCard) -> list[str]:
    """Every SPEC §2 rule and range a well-typed card breaks (empty when valid)."""
    errors: list[str] = []
    for path, (low, high) in RANGES.items():
        value = _get(card, path)
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                bounds = f"at least {_fmt(low)}"
            elif low is None:
                bounds = f"at most {_fmt(high)}"
            else:
                bounds = f"between {_fmt(low)} and {_fmt(high)}"
            errors.append(f"{path} must be {bounds} (got {value})")
    sp = card.schedule_policy
    if sp.buffer_critical_minutes >= sp.buffer_target_minutes:
        errors.append(
            "schedule_policy.buffer_critical_minutes must be lower than buffer_target_minutes "
            f"(got {sp.buffer_critical_minutes} >= {sp.buffer_target_minutes})"
        )
    if sp.commit_lead_hours > sp.planning_horizon_hours:
        errors.append(
            "schedule_policy.commit_lead_hours must not exceed planning_horizon_hours "
            f"(got {sp.commit_lead_hours} > {sp.planning_horizon_hours})"
        )
    if not _HHMM.match(sp.nightly_local_time):
        errors.append(
            "schedule_policy.nightly_local_time must be HH:MM, 24-hour "
            f"(got {sp.nightly_local_time!r})"
        )
    if sp.timezone:
        try:
            ZoneInfo(sp.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(
                f"schedule_policy.timezone is not a known IANA time zone (got {sp.timezone!r})"
            )
    search = card.search_policy
    if not search.allowlist_domains:
        errors.append(
            "search_policy.allowlist_domains must not be empty "
            "(discovery keeps only media on allowlisted hosts)"
        )
    for field in ("allowlist_domains", "blacklist_domains"):
        for i, domain in enumerate(getattr(search, field)):
            if not _DOMAIN.match(domain.strip().lower().rstrip(".")):
                errors.append(
                    f"search_policy.{field}[{i}] must be a host name like example.com, "
                    f"without scheme or path (got {domain!r})"
                )
    if search.min_duration_sec >= search.max_duration_sec:
        errors.append(
            "search_policy.min_duration_sec must be lower than max_duration_sec "
            f"(got {_fmt(search.min_duration_sec)} >= {_fmt(search.max_duration_sec)})"
        )
    errors += parse_networks(
        search.allow_private_addresses, "search_policy.allow_private_addresses"
    )[1]
    for i, word in enumerate(search.blocked_keywords):
        if not word.strip():
            errors.append(f"search_policy.blocked_keywords[{i}] must not be empty")
    for field in ("preferred_moods", "music_tags"):
        for i, word in enumerate(getattr(card.music_policy, field)):
            if not word.strip():
                errors.append(f"music_policy.{field}[{i}] must not be empty")
    errors += _check_sources(card.sources)
    ch = card.channel
    for dim in ("width", "height"):
        if getattr(ch, dim) % 2:
            errors.append(f"channel.{dim} must be even for H.264 4:2:0 (got {getattr(ch, dim)})")
    if ch.video_codec != "h264":
        errors.append(f"channel.video_codec must be 'h264' (got {ch.video_codec!r})")
    if ch.audio_codec != "aac":
        errors.append(f"channel.audio_codec must be 'aac' (got {ch.audio_codec!r})")
    errors += _check_identity(ch)
    errors += check_renditions(ch)
    errors += _check_outputs(card.outputs)
    return errors


MAX_RENDITIONS = 3
RUNG_MIN_HEIGHT = 144


def check_renditions(ch: ChannelProfile) -> list[str]:
    """``channel.renditions``: each rung below the main rendition, in picture and in bitrate.

    A rung is offered to players as a lighter choice than the main one: one as large or as
    costly would only cost preparation time. Heights are even (H.264 4:2:0) and distinct
    (a rung's height names its directory and its URL).
    """
    errors: list[str] = []
    if len(ch.renditions) > MAX_RENDITIONS:
        errors.append(
            f"channel.renditions must list at most {MAX_RENDITIONS} rungs (got "
            f"{len(ch.renditions)}): each one is another encode of every asset"
        )
    seen: set[int] = set()
    for i, rung in enumerate(ch.renditions):
        where = f"channel.renditions[{i}]"
        if rung.height < RUNG_MIN_HEIGHT or rung.height >= ch.height:
            errors.append(
                f"{where}.height must be at least {RUNG_MIN_HEIGHT} and below the main "
                f"rendition's channel.height {ch.height} (got {rung.height})"
            )
        elif rung.height % 2:
            errors.append(f"{where}.height must be even for H.264 4:2:0 (got {rung.height})")
        elif rung.height in seen:
            errors.append(f"{where}.height {rung.height} is listed twice")
        seen.add(rung.height)
        low, _ = RANGES["channel.video_bitrate_kbps"]
        if rung.video_bitrate_kbps < (low or 0) or rung.video_bitrate_kbps >= ch.video_bitrate_kbps:
            errors.append(
                f"{where}.video_bitrate_kbps must be at least {_fmt(low)} and below the main "
                f"rendition's channel.video_bitrate_kbps {ch.video_bitrate_kbps} "
                f"(got {rung.video_bitrate_kbps})"
            )
    return errors


CHANNEL_NAME_MAX = 80
LOGO_MAX = 2048
# C0 and C1 control characters and DEL: they break M3U lines, XML and terminal output.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _check_identity(ch: ChannelProfile) -> list[str]:
    """``channel.name`` and ``channel.logo``: shown to viewers and written into M3U and XMLTV."""
    errors: list[str] = []
    name = ch.name
    if not name.strip():
        errors.append("channel.name must not be empty")
    elif len(name) > CHANNEL_NAME_MAX:
        errors.append(
            f"channel.name must be at most {CHANNEL_NAME_MAX} characters (got {len(name)})"
        )
    elif _CONTROL.search(name):
        errors.append(f"channel.name must not contain control characters (got {name!r})")
    logo = ch.logo
    if not logo:
        return errors
    if len(logo) > LOGO_MAX:
        errors.append(f"channel.logo must be at most {LOGO_MAX} characters (got {len(logo)})")
    elif _CONTROL.search(logo) or logo != logo.strip():
        errors.append(
            f"channel.logo must not contain control characters or spaces around it (got {logo!r})"
        )
    elif "://" in logo:
        parts = urlsplit(logo)
        if not logo_is_url(logo) or not parts.hostname or " " in logo:
            errors.append(
                f"channel.logo must be an http(s) URL with a host, or an image file (got {logo!r})"
            )
        elif parts.username is not None or parts.password is not None:
            errors.append("channel.logo must not carry credentials: viewers and IPTV apps see it")
    elif Path(logo).suffix.lower() not in LOGO_TYPES:
        kinds = ", ".join(sorted(LOGO_TYPES))
        errors.append(
            f"channel.logo must be an http(s) URL or an image file ({kinds}); got {logo!r}"
        )
    return errors


def _check_sources(sources: tuple[SourceSpec, ...]) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for i, src in enumerate(sources):
        where = f"sources[{i}]"
        if not src.name.strip():
            errors.append(f"{where}.name must not be empty")
        elif src.name in seen:
            errors.append(f"{where}.name {src.name!r} is used by an earlier source")
        seen.add(src.name)
        if src.kind not in SOURCE_KINDS:
            errors.append(
                f"{where}.kind must be one of {', '.join(SOURCE_KINDS)} (got {src.kind!r})"
            )
            continue
        if src.kind == "folder":
            if not src.location.strip():
                errors.append(f"{where}.location must be a folder path")
            elif "://" in src.location:
                errors.append(
                    f"{where}.location must be a folder path, not a URL (got {src.location!r})"
                )
        else:
            parts = urlsplit(src.location)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append(
                    f"{where}.location must be an http(s) feed URL for kind {src.kind} "
                    f"(got {src.location!r})"
                )
            if src.demo:
                errors.append(f"{where}.demo is only meaningful for folder sources")
    return errors


#: Fields of the original card that vvtv reads and validates but does not act on, each with
#: the condition under which the card asks for the missing behaviour and why it is missing.
#: When the condition holds, every reader of the card says so by the field's name: ``vvtv
#: owner-card validate``, the daemon's log at start and at every reload, and the dashboard's
#: card warnings (``card_warnings`` in ``/v1/status``).
NOT_IMPLEMENTED: Mapping[str, tuple[Callable[[OwnerCard], bool], str]] = MappingProxyType(
    {
        "safety_policy.reject_suspicious_watermark": (
            lambda card: card.safety_policy.reject_suspicious_watermark,
            "true is not implemented: vvtv does not look for watermarks in video (that is "
            "computer vision it does not have), so no video is rejected for one; set it to "
            "false to silence this warning",
        ),
    }
)


def not_implemented(card: OwnerCard) -> list[str]:
    """A warning, naming the field, for each setting the card asks for that vvtv lacks."""
    return [f"{path}: {why}" for path, (asked, why) in NOT_IMPLEMENTED.items() if asked(card)]


OUTPUT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_KEY_ENV = re.compile(rf"^{OUTPUT_KEY_ENV_PREFIX}[A-Z0-9_]+$")
# SRT URL options that are secrets: they come from key_env/key_file, never from the card.
_SRT_SECRET_OPTIONS = ("streamid", "passphrase")
URL_MAX = 2048


def _check_outputs(outputs: tuple[OutputSpec, ...]) -> list[str]:
    """``outputs``: names safe for metrics and URLs, push URLs ffmpeg can use, and keys that
    can only come from the environment or a file (``vvtv.outputs`` reads them)."""
    errors: list[str] = []
    seen: set[str] = set()
    for i, out in enumerate(outputs):
        where = f"outputs[{i}]"
        if not OUTPUT_NAME.match(out.name):
            errors.append(
                f"{where}.name must be 1-32 lowercase letters, digits, '-' or '_', starting with "
                f"a letter or digit (got {out.name!r})"
            )
        elif out.name in seen:
            errors.append(f"{where}.name {out.name!r} is used by an earlier output")
        seen.add(out.name)
        errors += _check_output_url(out, where)
        if out.key_env and out.key_file:
            errors.append(f"{where}: set key_env or key_file, not both")
        if out.key_env and not _KEY_ENV.match(out.key_env):
            errors.append(
                f"{where}.key_env must name a variable {OUTPUT_KEY_ENV_PREFIX}<NAME> (upper case, "
                f"digits, '_'), so the card cannot send another secret of the daemon's "
                f"environment to a server (got {out.key_env!r})"
            )
        if out.key_file and (_CONTROL.search(out.key_file) or out.key_file != out.key_file.strip()):
            errors.append(f"{where}.key_file must be a file path (got {out.key_file!r})")
        scheme = urlsplit(out.url).scheme
        uses = OUTPUT_KEY_USES.get(scheme)
        if out.key_as and uses is not None and out.key_as not in uses:
            errors.append(
                f"{where}.key_as must be one of {', '.join(uses)} for {scheme}:// "
                f"(got {out.key_as!r})"
            )
        if out.key_as and not (out.key_env or out.key_file):
            errors.append(f"{where}.key_as says what the key is, but no key_env or key_file is set")
        if out.ca_file and scheme != "rtmps":
            errors.append(f"{where}.ca_file is only used by rtmps:// outputs")
        if out.ca_file and _CONTROL.search(out.ca_file):
            errors.append(f"{where}.ca_file must be a file path (got {out.ca_file!r})")
    return errors


def _check_output_url(out: OutputSpec, where: str) -> list[str]:
    # Messages quote the URL only once it is known not to carry credentials.
    url = out.url
    schemes = ", ".join(f"{s}://" for s in OUTPUT_KEY_USES)
    if not url or len(url) > URL_MAX or _CONTROL.search(url) or " " in url:
        return [f"{where}.url must be an {schemes} URL of at most {URL_MAX} characters"]
    parts = urlsplit(url)
    if parts.scheme not in OUTPUT_KEY_USES:
        return [f"{where}.url must start with one of {schemes} (got {parts.scheme or 'none'}://)"]
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return [
            f"{where}.url must not carry credentials (user:password@): the card is stored and "
            "shown in audits; put the secret in key_env or key_file"
        ]
    if not parts.hostname:
        return [f"{where}.url has no host (got {url!r})"]
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return [f"{where}.url has a malformed port (got {url!r})"]
    if parts.fragment or "#" in url:
        return [f"{where}.url must not have a #fragment"]
    errors: list[str] = []
    if parts.scheme in ("rtmp", "rtmps"):
        if parts.query:
            errors.append(
                f"{where}.url must not have a ?query: an RTMP server takes the application in "
                "the path and the stream key from key_env/key_file"
            )
        app = parts.path.strip("/")
        if not app:
            errors.append(
                f"{where}.url must name the server's application, e.g. "
                f"rtmp://a.rtmp.youtube.com/live2 (got {url!r})"
            )
        elif "/" not in app and not (out.key_env or out.key_file):
            errors.append(
                f"{where}.url names no stream after the application {app!r}: set key_env or "
                "key_file to the platform's stream key"
            )
    else:
        if parts.path not in ("", "/"):
            errors.append(f"{where}.url: an srt:// URL has no path (got {parts.path!r})")
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in _SRT_SECRET_OPTIONS:
                errors.append(
                    f"{where}.url must not carry {name}=: it is a secret, give it with key_env "
                    f"or key_file and key_as: {name}"
                )
            elif name == "mode" and value != "caller":
                errors.append(f"{where}.url: a push connects out, so mode must be caller")
    return errors


def output_warnings(outputs: tuple[OutputSpec, ...]) -> list[str]:
    warnings: list[str] = []
    for i, out in enumerate(outputs):
        parts = urlsplit(out.url)
        keyed = bool(out.key_env or out.key_file)
        if parts.scheme == "rtmp" and keyed:
            warnings.append(
                f"outputs[{i}] ({out.name}): rtmp:// sends the stream key unencrypted; use "
                "rtmps:// where the platform offers it"
            )
        if parts.scheme in ("rtmp", "rtmps") and keyed and "/" in parts.path.strip("/"):
            warnings.append(
                f"outputs[{i}] ({out.name}).url has a path after the application: with a key "
                "it is ignored (the key is the stream name); if it is the key itself, it is in "
                "the card in clear: move it to key_env or key_file"
            )
    return warnings


def rule_warnings(card: OwnerCard) -> list[str]:
    """What a valid card allows but probably does not mean (a newer schema, no sources...),
    and what it asks for that vvtv does not implement (``not_implemented``)."""
    warnings: list[str] = not_implemented(card)
    if card.schema_version > SUPPORTED_SCHEMA_VERSION:
        warnings.append(
            f"schema_version {card.schema_version} is newer than this vvtv knows "
            f"({SUPPORTED_SCHEMA_VERSION}); fields it does not know are ignored"
        )
    allowed = {d.lower().rstrip(".") for d in card.search_policy.allowlist_domains}
    for domain in card.search_policy.blacklist_domains:
        if domain.lower().rstrip(".") in allowed:
            warnings.append(
                f"search_policy.blacklist_domains: {domain!r} is also allowlisted; "
                "the blacklist wins"
            )
    warnings += parse_networks(
        card.search_policy.allow_private_addresses, "search_policy.allow_private_addresses"
    )[2]
    if not card.sources:
        warnings.append("sources: none configured, discovery will find nothing")
    warnings += output_warnings(card.outputs)
    search, target = card.search_policy, card.editorial_profile.target_avg_duration_sec
    if not search.min_duration_sec <= target <= search.max_duration_sec:
        warnings.append(
            f"editorial_profile.target_avg_duration_sec {target} lies outside "
            f"search_policy.min_duration_sec..max_duration_sec ({_fmt(search.min_duration_sec)}"
            f"..{_fmt(search.max_duration_sec)}): no candidate can be on target"
        )
    return warnings
