"""Untrusted text (titles, themes and tags from feeds) made safe for XML and M3U lines.

Titles come from feeds we do not control: they may hold markup, ``&``, quotes, line
breaks, control characters and megabytes of text. XML 1.0 cannot carry most control
characters at all (and the XMLTV validator also refuses the C1 range), an M3U line ends
at the first line break, and a quote ends an M3U attribute. So every piece of text is
cleaned once (control characters gone, whitespace runs collapsed, length capped), then
escaped for where it goes.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# C0 (tab, newline, carriage return included: they become spaces), DEL, C1, lone
# surrogates and the two non-characters XML 1.0 excludes.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]+")
_SPACES = re.compile(r"\s+")


def clean(text: object, limit: int = 200) -> str:
    """One line of printable text, at most ``limit`` characters (an ellipsis marks a cut)."""
    value = str(text)
    # Most text is clean already (and text is cleaned where it enters and again where a
    # programme is made): ``isprintable`` is False for every control, separator other than
    # the plain space, surrogate and non-character, so this test in C settles it.
    if (
        value.isprintable()
        and "  " not in value
        and len(value) <= limit
        and (not value or (value[0] != " " and value[-1] != " "))
    ):
        return value
    value = _SPACES.sub(" ", _UNSAFE.sub(" ", value)).strip()
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value


def xml_text(text: str) -> str:
    """``text`` (already ``clean``) escaped for XML character data."""
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def xml_attr(text: str) -> str:
    """``text`` (already ``clean``) escaped for a double-quoted XML attribute."""
    return xml_text(text).replace('"', "&quot;")


def m3u_attr(text: str) -> str:
    """``text`` (already ``clean``) for a double-quoted M3U attribute: no quote may end it.

    M3U has no escape syntax; players (VLC, TiviMate, ipytv) end the value at the next
    ``"``, so a quote becomes an apostrophe.
    """
    return text.replace('"', "'")


# Everything RFC 3986 allows unencoded, and "%" so existing escapes stay as they are.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"


def safe_url(url: str) -> str:
    """``url`` with anything that could end an attribute or a line percent-encoded.

    Quotes, angle brackets, spaces, control and non-ASCII characters are encoded, so the
    URL survives M3U attributes and XML unchanged in meaning.
    """
    return quote(_UNSAFE.sub("", url.strip()), safe=_URL_SAFE)
