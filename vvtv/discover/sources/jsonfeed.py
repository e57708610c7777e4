"""JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) → candidates, one item at a time.

Per item: ``title``; the first video ``attachment`` (by ``mime_type``, or by file
extension when there is none) with a usable URL as the media URL, with its
``duration_in_seconds``; ``tags``; ``date_published``. vvtv reads an optional ``_vvtv``
extension object on the item (JSON Feed's convention for extensions, keys starting with
``_``)::

    "_vvtv": {"theme": "ocean", "duration_sec": 312.5, "quality": ["1080p", "stereo"],
              "height": 1080}

An item without a video attachment is skipped (a text post is not a programme). An item of
the wrong shape or with a nonsense value (a duration of ``1e12``, an integer of 5,000
digits, a URL that does not parse) is refused alone: it comes back as a ``SourceError``
naming the item, the field and the reason (audited as ``ITEM_REJECTED``), and the other
items are read. Only a document that is not a JSON Feed at all (not JSON, nested more than
``values.MAX_JSON_DEPTH`` levels, no ``version``/``items``) fails the whole feed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vvtv.discover.sources import values
from vvtv.discover.sources.candidate import Candidate, SourceError, SourceFailure, domain_of
from vvtv.discover.sources.mediatypes import is_video
from vvtv.discover.sources.values import ItemProblem

VERSION_PREFIX = "https://jsonfeed.org/version/"


def _fail(source_name: str, feed_url: str, reason: str) -> SourceFailure:
    return SourceFailure(SourceError(source_name, domain_of(feed_url), f"{feed_url}: {reason}"))


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ItemProblem(field, "must be a list of strings")
    return value


def _string(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ItemProblem(field, "must be a string")
    return value


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _video_attachment(
    attachments: list[Any], base: str
) -> tuple[str, dict[str, Any]] | ItemProblem | None:
    """The URL and object of the first video attachment whose URL is usable; the problem of
    the first one that is not when none is; ``None`` when there is no video at all."""
    problem: ItemProblem | None = None
    for i, att in enumerate(attachments):
        if not isinstance(att, dict):
            continue
        url, mime = att.get("url"), att.get("mime_type")
        if not isinstance(url, str) or not url.strip():
            continue
        if not is_video(None, mime if isinstance(mime, str) else None, url.strip()):
            continue
        try:
            return values.media_url(url, base, f"attachments[{i}].url"), att
        except ItemProblem as exc:
            problem = problem or exc
    return problem


def _item(item: Any, *, source_name: str, base: str) -> Candidate | None:
    if not isinstance(item, dict):
        raise ItemProblem("item", "must be an object")
    attachments = item.get("attachments", [])
    if not isinstance(attachments, list):
        raise ItemProblem("attachments", "must be a list of objects")
    ext = item.get("_vvtv", {})
    if ext is None:
        ext = {}
    if not isinstance(ext, dict):
        raise ItemProblem("_vvtv", "must be an object")
    found = _video_attachment(attachments, base)
    if found is None:
        return None
    if isinstance(found, ItemProblem):
        raise found
    url, att = found
    title = values.title_text(_string(item.get("title"), "title"))
    if not title:
        title = values.title_from_url(url)
    theme = values.plain_text(_string(ext.get("theme"), "_vvtv.theme"))
    quality = [q.strip() for q in _strings(ext.get("quality"), "_vvtv.quality") if q.strip()]
    height = ext.get("height")
    if height is not None:
        if values.height_number(height) is None:
            raise ItemProblem("_vvtv.height", f"{values.describe(height)} is not a picture height")
        quality += values.quality_signals(height)
    try:
        duration = values.duration_number(ext.get("duration_sec"), "_vvtv.duration_sec")
        if duration is None:
            duration = values.duration_number(
                att.get("duration_in_seconds"), "attachments.duration_in_seconds"
            )
    except ItemProblem as exc:
        raise exc.about(url) from None
    return Candidate(
        title=title,
        media_url=url,
        source_name=source_name,
        duration_sec=duration,
        tags=values.tag_list(_strings(item.get("tags"), "tags")),
        theme=theme,
        quality=values.tag_list(quality),
        published_at=_date(item.get("date_published")),
    )


def parse_jsonfeed(
    data: bytes, *, source_name: str, feed_url: str, base_url: str | None = None
) -> tuple[list[Candidate], list[SourceError]]:
    """The candidates of a JSON Feed document and the items refused (one ``SourceError``
    each, naming the item and the field); ``SourceFailure`` naming the feed when the
    document itself is not a JSON Feed. Relative URLs resolve against ``base_url`` (where
    the feed was fetched from after redirects), else ``feed_url``."""
    try:
        doc = values.load_json(data)
    except values.TooDeep as exc:
        raise _fail(source_name, feed_url, f"JSON refused: {exc}") from None
    except ValueError as exc:
        raise _fail(source_name, feed_url, f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(source_name, feed_url, "not a JSON Feed: the document is not an object")
    version = doc.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise _fail(
            source_name, feed_url, f"not a JSON Feed: version is {values.describe(version)}"
        )
    items = doc.get("items")
    if not isinstance(items, list):
        raise _fail(source_name, feed_url, "not a JSON Feed: 'items' must be a list")
    base = base_url or feed_url
    domain = domain_of(feed_url)
    found: list[Candidate] = []
    refused: list[SourceError] = []
    for index, item in enumerate(items):
        try:
            candidate = _item(item, source_name=source_name, base=base)
        except ItemProblem as problem:
            refused.append(
                SourceError(
                    source_name,
                    domain,
                    f"{feed_url}: items[{index}]: {problem}",
                    item=f"items[{index}]",
                    field=problem.field,
                )
            )
            continue
        if candidate is not None:
            found.append(candidate)
    return found, refused
