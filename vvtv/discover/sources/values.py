"""What a source says about one item, checked before it becomes a candidate.

Every reader (RSS/Atom, JSON Feed, folder sidecars) goes through these checks, so the same
value is judged the same way wherever it comes from. Two kinds of verdict:

- *unknown*: the value is absent, empty, ``0`` or unreadable text (``"N/A"``): the item
  keeps going without it (a duration is then probed, a quality signal is just missing);
- *refused* (``ItemProblem``): the value is there and is nonsense: a duration of ``1e12`` s,
  ``NaN``, negative, a JSON integer of 5,000 digits, a media URL that cannot be parsed
  (``http://[::1/x.mp4``) or that is not http(s). The item is skipped and audited as
  ``ITEM_REJECTED`` with the field and the reason; the other items carry on.

The card's own range (``search_policy.min/max_duration_sec``) is applied later, by
screening: here only what can never be a programme is refused
(``vvtv.core.model.MAX_PLAN_DURATION_SEC`` at most).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from vvtv.core.model import duration_defect

#: A title longer than this is cut (with an ellipsis): it is a programme name, not a text.
MAX_TITLE = 300
#: Tags: at most this many per item, each at most this long (longer ones are dropped).
MAX_TAGS = 50
MAX_TAG = 100
#: A media URL longer than this is refused (browsers and CDNs stop far earlier).
MAX_URL = 4096
#: The tallest picture a quality signal may claim (16K video is 8640 lines).
MAX_HEIGHT = 8640
#: JSON documents (feeds and sidecars) nested deeper than this are refused, and integers
#: longer than this many digits are read as (infinite) floats, so range checks refuse them
#: instead of Python's int parser raising on 4,300 digits.
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 30


class ItemProblem(ValueError):
    """One item's value that refuses the item: ``field`` names it, ``reason`` says why, and
    ``url`` is the item's media URL when it has a usable one (the audit names it)."""

    def __init__(self, field: str, reason: str, url: str | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.url = url

    def about(self, url: str) -> ItemProblem:
        """The same problem, naming the item's media URL."""
        return ItemProblem(self.field, self.reason, url)

    def __str__(self) -> str:
        where = f" (media {self.url})" if self.url else ""
        return f"{self.field}: {self.reason}{where}"


# --- durations ----------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_CLOCK_PART = re.compile(r"\d+(?:\.\d+)?")


def duration_number(value: Any, field: str) -> float | None:
    """A duration given as a number (JSON): ``None`` when absent or 0, ``ItemProblem`` when
    it is not a number or is nonsense."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ItemProblem(field, f"must be a number of seconds, not {describe(value)}")
    if value == 0:
        return None  # "0" is how many feeds say "unknown"
    return _sane(float(value), field)


def duration_text(text: str | None, field: str) -> float | None:
    """``"90"``, ``"90.5"``, ``"1:30"``, ``"00:01:30"`` → seconds. ``None`` when absent, 0 or
    not a duration at all (``"N/A"``); ``ItemProblem`` for a number that is nonsense
    (``"1e12"``, ``"-5"``, ``"nan"``)."""
    text = (text or "").strip()
    if not text:
        return None
    if ":" in text:
        parts = text.split(":")
        if not 2 <= len(parts) <= 3 or not all(_CLOCK_PART.fullmatch(p) for p in parts):
            return None
        total = 0.0
        for part in parts:
            total = total * 60 + float(part)
    elif _NUMBER.fullmatch(text):
        total = float(text)
    elif text.lower().strip("+-") in ("nan", "inf", "infinity"):
        raise ItemProblem(field, f"{text!r} is not a duration")
    else:
        return None
    if total == 0:
        return None
    return _sane(total, field)


def _sane(seconds: float, field: str) -> float:
    defect = duration_defect(seconds)
    if defect is not None:
        raise ItemProblem(field, defect)
    return seconds


# --- other numbers ------------------------------------------------------------------------


def height_text(text: str | None) -> int | None:
    """A picture height from text; ``None`` (no signal) unless it is a plausible one."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return None
    return height_number(int(text))


def height_number(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_HEIGHT else None


def quality_signals(height: int | None, channels: int | None = None) -> list[str]:
    """``"<h>p"`` (plus ``"4k"`` at 2160 or more) and ``"stereo"`` for two channels."""
    signals = []
    if height:
        signals.append(f"{height}p")
        if height >= 2160:
            signals.append("4k")
    if channels == 2:
        signals.append("stereo")
    return signals


# --- URLs ---------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def media_url(raw: str, base: str, field: str = "media_url") -> str:
    """``raw`` resolved against ``base``: an absolute http(s) URL with a host, or
    ``ItemProblem`` saying what is wrong with it."""
    ref = raw.strip()
    if len(ref) > MAX_URL:
        raise ItemProblem(field, f"URL of {len(ref)} characters (at most {MAX_URL})")
    if _CONTROL.search(ref):
        raise ItemProblem(field, f"URL {describe(ref)} holds control characters")
    try:
        absolute = ref[:8].lower().startswith(("http://", "https://"))
        url = ref if absolute else urljoin(base, ref)
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ItemProblem(field, f"malformed URL {describe(ref)} ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ItemProblem(field, f"URL {describe(ref)} is not http(s)")
    if not parts.hostname:
        raise ItemProblem(field, f"URL {describe(ref)} has no host")
    return url


# --- text -----------------------------------------------------------------------------------

_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def plain_text(text: str, *, markup: bool | None = None) -> str:
    """One line of plain text, whitespace collapsed. ``markup=True``: ``text`` is HTML (as
    Atom's ``type="html"`` carries it): tags dropped, entities decoded. ``False``: it is
    plain text already. ``None``: HTML if it looks like HTML (RSS does not say)."""
    if markup is None:
        markup = bool(_TAG.search(text))
    if markup:
        text = html.unescape(_TAG.sub(" ", text))
    return " ".join(text.split())


def title_text(text: str, *, markup: bool | None = None) -> str:
    title = plain_text(text, markup=markup)
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def title_from_url(url: str) -> str:
    """A title for media whose source gave none: its file name, else the URL (both cut
    like any title)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        path = url
    name = PurePosixPath(unquote(path)).stem.replace("_", " ").replace("-", " ")
    return title_text(name, markup=False) or title_text(url, markup=False)


def tag_list(values: Iterable[str]) -> tuple[str, ...]:
    """Tags stripped and deduplicated ignoring case (first spelling wins); empty and
    over-long ones dropped, at most ``MAX_TAGS``."""
    seen: dict[str, str] = {}
    for value in values:
        tag = " ".join(value.split())
        if tag and len(tag) <= MAX_TAG:
            seen.setdefault(tag.casefold(), tag)
            if len(seen) >= MAX_TAGS:
                break
    return tuple(seen.values())


def describe(value: Any) -> str:
    """A short description of a value for a message (never the whole of a big one)."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 100:
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    if value is None or isinstance(value, str | int | float | bool):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return type(value).__name__


# --- JSON -----------------------------------------------------------------------------------


class TooDeep(ValueError):
    pass


def _bounded_int(digits: str) -> int | float:
    # int() of 4,301 digits raises; float() of any length does not (it may give inf).
    return int(digits) if len(digits) <= MAX_INT_DIGITS else float(digits)


def load_json(data: bytes | str) -> Any:
    """``json.loads`` with bounds: nesting (``TooDeep``) and integer size (see
    ``MAX_INT_DIGITS``). Raises ``ValueError`` (``json.JSONDecodeError`` included) for
    anything that is not JSON."""
    text = _json_text(data) if isinstance(data, bytes) else data
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise TooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise TooDeep("nested too deeply") from None


def _json_text(data: bytes) -> str:
    # RFC 8259: UTF-8 (a BOM tolerated); json.loads would also guess UTF-16/32.
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode(json.detect_encoding(data))
        except (UnicodeDecodeError, LookupError) as exc:
            raise ValueError(f"not UTF-8 text ({exc})") from None


_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]+")


def nesting_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest outside double-quoted strings (a linear scan, no
    recursion; it stops counting past ``MAX_JSON_DEPTH``). For YAML it is an upper bound
    of the flow-style nesting (brackets in single-quoted or plain scalars count too)."""
    deepest = depth = 0
    for run in _BRACKETS.findall(_STRINGS.sub("", text)):
        for char in run:
            if char in "[{":
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if deepest > MAX_JSON_DEPTH:
                        return deepest
            else:
                depth -= 1
    return deepest
