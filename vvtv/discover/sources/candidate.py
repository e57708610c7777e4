"""What every source yields: raw candidates, and the error a failing source reports.

A ``Candidate`` is what a source says about a video, before any filtering: the
discovery pipeline (``vvtv.discover.screening``) decides what to keep. A ``SourceError`` is
an expected failure (network, HTTP, an unparseable feed, a bad sidecar file): it is
a value that the Discovery actor audits as ``DISCOVERY_FAILED_DOMAIN``, never an
exception that stops the other sources.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import attrs

#: The ``domain`` recorded for failures of local folder sources (they have no host).
LOCAL_DOMAIN = "local"


def _tuple_of_str(value: Iterable[object]) -> tuple[str, ...]:
    # A lone string would silently become a tuple of its characters.
    if isinstance(value, str | bytes):
        raise TypeError(f"expected a sequence of strings, got the string {value!r}")
    return tuple(str(v) for v in value)


@attrs.frozen
class Candidate:
    """A video a source offers.

    ``media_url`` is an ``http(s)://`` URL for feed items and a ``file://`` URL (an
    absolute path, percent-encoded by ``Path.as_uri()``) for folder items; use
    ``local_path`` to get the path back. ``duration_sec`` is ``None`` when the source
    does not say. ``quality`` holds free-form quality signals ("1080p", "4k",
    "stereo", "clean", ...) that scoring looks at.
    """

    title: str
    media_url: str
    source_name: str
    duration_sec: float | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    theme: str = ""
    quality: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    published_at: datetime | None = None


@attrs.frozen
class SourceError:
    """One source (or, with ``item``, one item of a source) that could not be read.

    ``domain`` is the feed's host, or ``LOCAL_DOMAIN`` for a folder. ``reason`` says
    what went wrong in words an operator can act on, naming the feed or file. For an item
    refused for one of its values, ``field`` names that value (``duration``,
    ``media_url``, ``tags``, ...). The Discovery actor audits a whole source as
    ``DISCOVERY_FAILED_DOMAIN`` and an item as ``ITEM_REJECTED``.
    """

    source_name: str
    domain: str
    reason: str
    item: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.source_name} ({self.domain})"
        if self.item:
            where += f" item {self.item}"
        if self.field:
            where += f" field {self.field}"
        return f"{where}: {self.reason}"


class SourceFailure(Exception):
    """Raised inside a source reader; converted to a ``SourceError`` value at its edge."""

    def __init__(self, error: SourceError) -> None:
        super().__init__(str(error))
        self.error = error


def domain_of(url: str) -> str:
    """The lowercase host of ``url`` (``LOCAL_DOMAIN`` for file URLs and bare paths)."""
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        return LOCAL_DOMAIN
    return (parts.hostname or "").lower()


def local_path(media_url: str) -> Path | None:
    """The filesystem path of a ``file://`` media URL, or ``None`` for any other URL."""
    parts = urlsplit(media_url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(url2pathname(parts.path))
