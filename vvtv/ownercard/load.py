"""Reading, validating, diffing and safely reloading the OwnerCard (SPEC §2).

``load_owner_card`` turns YAML into a typed ``vvtv.ownercard.card.OwnerCard`` or raises
``OwnerCardError`` whose ``errors`` each name the field path and the problem:

    schedule_policy.buffer_critical_minutes must be lower than buffer_target_minutes
    (got 60 >= 60)

YAML syntax errors carry the line and column. Every section and field has a
default, so the original card (no ``sources``/``channel``) loads unchanged;
unknown keys are reported as warnings with their dotted path (and a suggestion
when they look like a typo), never silently dropped.

Source locations: a relative folder location (``runtime/media/demo``) is relative
to the project root — the parent of ``VVTV_RUNTIME_DIR``, i.e. the repository
root by default (``Settings.project_root``); ``resolve_source_locations`` makes
them absolute. Feed locations are http(s) URLs.

``OwnerCardHolder`` keeps the card in force: a reload validates first, keeps the
previous card on any error, and records every applied version (text, SHA-256,
time) with its diff in the store's audit trail.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import re
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import yaml

from vvtv.core.convert import to_jsonable
from vvtv.core.model import MAX_PLAN_DURATION_SEC, AuditEvent, new_id
from vvtv.guard.addresses import parse_networks
from vvtv.ownercard.card import LOGO_TYPES, ChannelProfile, OwnerCard, SourceSpec, logo_is_url

SUPPORTED_SCHEMA_VERSION = 1
SOURCE_KINDS = ("folder", "rss", "jsonfeed")


class OwnerCardError(ValueError):
    """An invalid OwnerCard; ``errors`` name each field path and problem."""

    def __init__(
        self, errors: list[str], warnings: list[str] | None = None, source: str = ""
    ) -> None:
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        self.source = source
        where = f" {source}" if source else ""
        super().__init__(f"invalid OwnerCard{where}:\n" + "\n".join(f"  - {e}" for e in errors))


@attrs.frozen
class LoadedCard:
    """A valid card with what was noticed while reading it and where it came from."""

    card: OwnerCard
    warnings: list[str]
    sha256: str
    text: str
    source: str = "<string>"


# --- reading --------------------------------------------------------------------------


def load_owner_card(text_or_path: str | Path) -> LoadedCard:
    """Load a card from YAML text (a ``str``) or from a file (a ``Path``).

    Raises ``OwnerCardError`` listing every problem found.
    """
    if isinstance(text_or_path, Path):
        return load_owner_card_file(text_or_path)
    return parse_owner_card(text_or_path)


def load_owner_card_file(path: str | Path) -> LoadedCard:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OwnerCardError([f"{path}: file not found"], source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise OwnerCardError([f"{path}: not UTF-8 text ({exc})"], source=str(path)) from None
    except OSError as exc:
        raise OwnerCardError([f"{path}: cannot read ({exc.strerror})"], source=str(path)) from None
    return parse_owner_card(text, source=str(path))


def parse_owner_card(text: str, *, source: str = "<string>") -> LoadedCard:
    """Parse and validate YAML text; ``source`` names it in messages."""
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # a safe loader
    except yaml.MarkedYAMLError as exc:
        raise OwnerCardError([_yaml_message(exc)], source=source) from None
    except yaml.YAMLError as exc:
        raise OwnerCardError([f"YAML error: {exc}"], source=source) from None
    except RecursionError:
        # PyYAML composes recursively: thousands of nested [ or { exhaust the stack.
        raise OwnerCardError(["YAML error: nested too deeply"], source=source) from None
    except (ValueError, TypeError) as exc:
        # A scalar PyYAML cannot convert (an integer of 5,000 digits) or a mapping key
        # Python cannot hash (``? [a, b]``): not a card, and not a crash.
        raise OwnerCardError([f"YAML error: unreadable value ({exc})"], source=source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise OwnerCardError(
            [f"the card must be a YAML mapping of sections (got {_kind(raw)})"], source=source
        )
    checker = _Checker()
    card = checker.build(OwnerCard, raw, "")
    if not checker.errors:
        checker.errors += check_rules(card)
        checker.warnings += _rule_warnings(card)
    if checker.errors:
        raise OwnerCardError(checker.errors, checker.warnings, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedCard(card=card, warnings=checker.warnings, sha256=digest, text=text, source=source)


# libyaml's parser when PyYAML was built with it (its wheels are): ~10x faster than the
# pure-Python one (0.5 against 5 ms for the sample card), which matters because a reload
# (API call, SIGHUP, file change) parses on the event loop. Same safe constructor.
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """A safe loader that refuses duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
    problem = exc.problem or "invalid YAML"
    context = f" ({exc.context})" if exc.context else ""
    return f"YAML syntax error at {where}: {problem}{context}"


# --- structural checking: types, unknown keys -------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    # The card's classes never change; resolving their string annotations is the
    # costliest part of building a card after parsing.
    return typing.get_type_hints(cls)


class _Checker:
    """Builds attrs values from raw YAML, collecting errors and warnings with field paths."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def build(self, cls: type, raw: Any, path: str) -> Any:
        label = path or "the card"
        if raw is None:
            raw = {}  # an empty section: all defaults
        if not isinstance(raw, Mapping):
            self.errors.append(f"{label} must be a mapping (got {_kind(raw)})")
            return _BAD
        hints = _type_hints(cls)
        fields = attrs.fields_dict(cls)
        for key in raw:
            if key not in fields:
                where = f"{path}.{key}" if path else str(key)
                hint = difflib.get_close_matches(str(key), list(fields), n=1)
                more = f" (did you mean {hint[0]}?)" if hint else ""
                self.warnings.append(f"{where}: unknown key, ignored{more}")
        values: dict[str, Any] = {}
        for name, field in fields.items():
            where = f"{path}.{name}" if path else name
            if name in raw:
                value = self.value(hints[name], raw[name], where)
                if value is not _BAD:
                    values[name] = value
            elif field.default is attrs.NOTHING:
                self.errors.append(f"{where} is required")
        try:
            return cls(**values)
        except TypeError:  # a required field missing: already reported
            return _BAD

    def value(self, tp: Any, raw: Any, path: str) -> Any:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if raw is None:
                return None
            return self.value(args[0], raw, path)
        if origin is tuple:
            item_type = typing.get_args(tp)[0]
            if raw is None:
                return ()
            if not isinstance(raw, list):
                self.errors.append(f"{path} must be a list (got {_kind(raw)})")
                return _BAD
            items = [self.value(item_type, v, f"{path}[{i}]") for i, v in enumerate(raw)]
            return _BAD if any(v is _BAD for v in items) else tuple(items)
        if attrs.has(tp):
            return self.build(tp, raw, path)
        return self.scalar(tp, raw, path)

    def scalar(self, tp: Any, raw: Any, path: str) -> Any:
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            self.errors.append(f"{path} must be true or false (got {_kind(raw)})")
        elif tp is int:
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            self.errors.append(f"{path} must be an integer (got {_kind(raw)})")
        elif tp is float:
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                if math.isfinite(raw):
                    return float(raw)
                self.errors.append(f"{path} must be a finite number (got {raw!r})")
            else:
                self.errors.append(f"{path} must be a number (got {_kind(raw)})")
        elif tp is str:
            if isinstance(raw, str):
                return raw
            hint = ""
            if path.endswith("_time") and isinstance(raw, int | float):
                hint = ' (quote it, e.g. "3:30": unquoted, YAML reads it as a number)'

            self.errors.append(f"{path} must be a string (got {_kind(raw)}){hint}")
        else:  # pragma: no cover - a new field type in ownercard.py without support here
            raise TypeError(f"unsupported OwnerCard field type {tp!r} at {path}")
        return _BAD


_BAD: Any = object()


# --- rules: SPEC §2 and sensible ranges -------------------------------------------------

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
    for i, mood in enumerate(card.music_policy.preferred_moods):
        if not mood.strip():
            errors.append(f"music_policy.preferred_moods[{i}] must not be empty")
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


def _rule_warnings(card: OwnerCard) -> list[str]:
    warnings: list[str] = []
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
    search, target = card.search_policy, card.editorial_profile.target_avg_duration_sec
    if not search.min_duration_sec <= target <= search.max_duration_sec:
        warnings.append(
            f"editorial_profile.target_avg_duration_sec {target} lies outside "
            f"search_policy.min_duration_sec..max_duration_sec ({_fmt(search.min_duration_sec)}"
            f"..{_fmt(search.max_duration_sec)}): no candidate can be on target"
        )
    return warnings


# --- diff, paths, CLI --------------------------------------------------------------------


def _diff(old: Any, new: Any, path: str, out: dict[str, tuple[Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key, out)
    elif (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and all(isinstance(v, dict) for v in old + new)
    ):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        out[path] = (old, new)


def diff_cards(old: OwnerCard, new: OwnerCard) -> dict[str, tuple[Any, Any]]:
    """Changed fields as ``{dotted.path: (old, new)}`` with JSON-native values, for the audit.

    Lists of scalars compare whole; lists of sources of the same length compare per
    field (``sources[0].location``); otherwise the whole list is shown on both sides.
    """
    out: dict[str, tuple[Any, Any]] = {}
    _diff(to_jsonable(old), to_jsonable(new), "", out)
    return dict(sorted(out.items()))


def resolve_source_locations(card: OwnerCard, root: Path) -> OwnerCard:
    """The card with relative folder locations made absolute against ``root``."""
    sources = tuple(
        attrs.evolve(s, location=str(root / s.location))
        if s.kind == "folder" and not Path(s.location).is_absolute()
        else s
        for s in card.sources
    )
    return attrs.evolve(card, sources=sources)


def validate_file(
    path: str | Path,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    *,
    as_json: bool = False,
) -> int:
    """``vvtv owner-card validate PATH [--json]``: exit code 0 (valid) or 1.

    Problems and warnings go to ``err`` one per line; the verdict to ``out`` as
    ``key=value`` lines like the runbook commands, or one JSON object with ``as_json``.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        loaded = load_owner_card_file(path)
    except OwnerCardError as exc:
        errors, warnings, digest = exc.errors, exc.warnings, None
    else:
        errors, warnings, digest = [], loaded.warnings, loaded.sha256
    for warning in warnings:
        print(f"warning: {warning}", file=err)
    for error in errors:
        print(f"error: {error}", file=err)
    verdict: dict[str, Any] = {"owner_card_valid": not errors, "path": str(path)}
    if errors:
        verdict["errors"] = len(errors)
    else:
        verdict["sha256"] = digest
    if as_json:
        print(json.dumps({**verdict, "errors": errors, "warnings": warnings}), file=out)
    else:
        for key, value in verdict.items():
            text = str(value).lower() if isinstance(value, bool) else value
            print(f"{key}={text}", file=out)
    return 1 if errors else 0


# --- the card in force ------------------------------------------------------------------


class CardStore(Protocol):
    """What the holder needs from ``vvtv.store.Store``."""

    def record_card_version(
        self,
        sha256: str,
        text: str,
        applied_at: datetime,
        *,
        applied_by: str = "",
        diff: dict[str, Any] | None = None,
    ) -> Any: ...

    def latest_card_version(self) -> Any: ...

    def append_audit(self, event: AuditEvent) -> None: ...


@attrs.frozen
class ReloadResult:
    """The outcome of a reload; unpacks as ``ok, errors, diff``."""

    ok: bool
    errors: list[str]
    diff: dict[str, tuple[Any, Any]]
    warnings: list[str] = attrs.field(factory=list)
    sha256: str = ""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.ok, self.errors, self.diff))


class OwnerCardHolder:
    """The OwnerCard in force; a reload that fails validation leaves it untouched."""

    def __init__(self, loaded: LoadedCard, store: CardStore | None = None) -> None:
        self._loaded = loaded
        self._store = store

    @property
    def card(self) -> OwnerCard:
        return self._loaded.card

    @property
    def loaded(self) -> LoadedCard:
        return self._loaded

    @classmethod
    def boot(
        cls, path: str | Path, store: CardStore | None, now: datetime, *, who: str = "startup"
    ) -> tuple[OwnerCardHolder, list[str]]:
        """The card to start with, and the errors of the file if it was refused.

        A valid file is applied (and recorded when it differs from the last applied
        version). An invalid file falls back to the last applied version in the store,
        so a bad edit cannot stop the channel; with no stored version it raises
        ``OwnerCardError``.
        """
        try:
            loaded = load_owner_card_file(path)
        except OwnerCardError as exc:
            previous = store.latest_card_version() if store else None
            if previous is None:
                raise
            holder = cls(
                parse_owner_card(previous.text, source=f"stored version {previous.id}"), store
            )
            holder._audit_rejection(path, exc.errors, now, who)
            return holder, exc.errors
        holder = cls(loaded, store)
        if store is not None:
            previous = store.latest_card_version()
            if previous is None or previous.sha256 != loaded.sha256:
                diff = {}
                if previous is not None:
                    try:
                        diff = diff_cards(parse_owner_card(previous.text).card, loaded.card)
                    except OwnerCardError:
                        diff = {}
                store.record_card_version(
                    loaded.sha256, loaded.text, now, applied_by=who, diff=_jsonable_diff(diff)
                )
        return holder, []

    def reload(self, path: str | Path, *, now: datetime, who: str = "operator") -> ReloadResult:
        """Validate the file and apply it; on any error keep the current card."""
        try:
            loaded = load_owner_card_file(path)
        except OwnerCardError as exc:
            self._audit_rejection(path, exc.errors, now, who)
            return ReloadResult(False, exc.errors, {}, exc.warnings)
        diff = diff_cards(self._loaded.card, loaded.card)
        if loaded.sha256 != self._loaded.sha256 and self._store is not None:
            self._store.record_card_version(
                loaded.sha256, loaded.text, now, applied_by=who, diff=_jsonable_diff(diff)
            )
        self._loaded = loaded
        return ReloadResult(True, [], diff, loaded.warnings, loaded.sha256)

    def _audit_rejection(
        self, path: str | Path, errors: list[str], now: datetime, who: str
    ) -> None:
        if self._store is None:
            return
        self._store.append_audit(
            AuditEvent(
                event_id=new_id("audit"),
                at=now,
                event_type="owner_card_rejected",
                reason_code="OWNER_CARD_INVALID",
                actor=who,
                details={"path": str(path), "errors": errors},
            )
        )


def _jsonable_diff(diff: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    return {path: {"old": old, "new": new} for path, (old, new) in diff.items()}
