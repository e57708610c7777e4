"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1) → candidates.

Per item: ``title``; the first video ``attachment`` (by ``mime_type``, or by file
extension when there is none) as the media URL, with its ``duration_in_seconds``;
``tags``; ``date_published``. vvtv reads an optional ``_vvtv`` extension object on
the item (JSON Feed's convention for extensions, keys starting with ``_``)::

    "_vvtv": {"theme": "ocean", "duration_sec": 312.5, "quality": ["1080p", "stereo"],
              "height": 1080}

An item without a video attachment is skipped (a text post is not a programme). A
document that is not a JSON Feed, or an item of the wrong shape, fails the whole feed
with a message naming the feed and the item.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from vvtv.discover.sources.candidate import Candidate, SourceError, SourceFailure, domain_of
from vvtv.discover.sources.mediatypes import is_video

VERSION_PREFIX = "https://jsonfeed.org/version/"


def _fail(source_name: str, feed_url: str, reason: str) -> SourceFailure:
    return SourceFailure(SourceError(source_name, domain_of(feed_url), f"{feed_url}: {reason}"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value > 0 else None


def _strings(value: Any, what: str, fail: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"{what} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _video_attachment(attachments: list[Any]) -> dict[str, Any] | None:
    for att in attachments:
        url = att.get("url")
        mime = att.get("mime_type")
        if (
            isinstance(url, str)
            and url
            and is_video(None, mime if isinstance(mime, str) else None, url)
        ):
            return att
    return None


def parse_jsonfeed(data: bytes, *, source_name: str, feed_url: str) -> list[Candidate]:
    """Candidates of a JSON Feed document; ``SourceFailure`` naming the feed if malformed."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(source_name, feed_url, f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(source_name, feed_url, "not a JSON Feed: the document is not an object")
    version = doc.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise _fail(source_name, feed_url, f"not a JSON Feed: version is {version!r}")
    items = doc.get("items")
    if not isinstance(items, list):
        raise _fail(source_name, feed_url, "not a JSON Feed: 'items' must be a list")
    found = []
    for index, item in enumerate(items):
        where = f"items[{index}]"

        def fail(reason: str, where: str = where) -> SourceFailure:
            return _fail(source_name, feed_url, f"{where}: {reason}")

        if not isinstance(item, dict):
            raise fail("must be an object")
        attachments = item.get("attachments", [])
        if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
            raise fail("'attachments' must be a list of objects")
        ext = item.get("_vvtv", {})
        if not isinstance(ext, dict):
            raise fail("'_vvtv' must be an object")
        att = _video_attachment(attachments)
        if att is None:
            continue
        url = urljoin(feed_url, str(att["url"]).strip())
        title = item.get("title")
        if title is not None and not isinstance(title, str):
            raise fail("'title' must be a string")
        if not title or not title.strip():
            title = PurePosixPath(unquote(urlsplit(url).path)).stem.replace("_", " ") or url
        theme = ext.get("theme", "")
        if not isinstance(theme, str):
            raise fail("'_vvtv.theme' must be a string")
        quality = _strings(ext.get("quality"), "'_vvtv.quality'", fail)
        height = ext.get("height")
        if isinstance(height, int) and not isinstance(height, bool) and height > 0:
            quality.append(f"{height}p")
            if height >= 2160:
                quality.append("4k")
        found.append(
            Candidate(
                title=title.strip(),
                media_url=url,
                source_name=source_name,
                duration_sec=_number(ext.get("duration_sec"))
                or _number(att.get("duration_in_seconds")),
                tags=_strings(item.get("tags"), "'tags'", fail),
                theme=theme.strip(),
                quality=quality,
                published_at=_date(item.get("date_published")),
            )
        )
    return found
