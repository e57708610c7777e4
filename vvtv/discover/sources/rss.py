"""RSS (0.9x, 1.0/RDF, 2.0, with Media RSS and iTunes) and Atom (0.3, 1.0) feeds → candidates.

``vvtv.discover.sources.feedxml`` decodes and reads the document safely; this module turns
each item into a candidate, one item at a time. Per item/entry:

- media URL: every ``media:content`` (directly, or in a ``media:group``), every
  ``<enclosure>`` (RSS), ``<link rel="enclosure">`` (Atom) and ``enc:enclosure`` (RSS 1.0)
  is looked at, and the video is picked: the ``media:content`` marked ``isDefault``, else
  the tallest one, else the first video enclosure. An image or audio file listed first
  does not hide the video after it; an item with no video at all is skipped (a thumbnail
  or a podcast is not a programme), not an error. Relative URLs resolve against the
  ``xml:base`` in force there (the feed's URL after redirects when there is none).
- title: ``<title>`` (or ``dc:title``/``media:title`` at the same level, the first that is
  not empty; else the media group's ``media:title``), as plain text (Atom's ``type="html"``
  and ``"xhtml"`` markup dropped); else the media file name.
- duration: the chosen rendition's ``media:content@duration`` (seconds), else
  ``itunes:duration`` (``SS``, ``MM:SS`` or ``HH:MM:SS``);
- tags: ``media:keywords``, ``itunes:keywords`` (comma-separated), ``<category>`` (RSS
  text, Atom ``term``/``label``) and ``dc:subject``; theme: a ``media:category``;
- quality signals: the rendition's height as ``"<h>p"`` (plus ``"4k"`` at ≥ 2160),
  ``"stereo"`` for two audio channels;
- published: ``pubDate`` (RFC 822), Atom ``published``/``updated`` (Atom 0.3's
  ``issued``/``modified``/``created``), ``dc:date`` (RFC 3339).

An item with a value that is nonsense (a duration of ``1e12``, a media URL that does not
parse such as ``http://[::1/x.mp4``, or that is not http(s)) is refused alone: it comes back
as a ``SourceError`` naming the item and the field (audited as ``ITEM_REJECTED``) while
the other items are read. A document that is not a feed, is unsafe (any entity
declaration), or names an encoding nobody knows fails the whole source.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

from vvtv.discover.sources import values
from vvtv.discover.sources.candidate import Candidate, SourceError, SourceFailure, domain_of
from vvtv.discover.sources.feedxml import (
    MAX_ITEMS,
    Element,
    FeedXMLError,
    UnsafeXML,
    charset_of,
    read_document,
)
from vvtv.discover.sources.mediatypes import is_video
from vvtv.discover.sources.values import ItemProblem

#: Which media an item offers are programmes: ``(medium, mime type, url) -> bool``.
Accept = Callable[[str | None, str | None, str], bool]


def _fail(source_name: str, feed_url: str, reason: str) -> SourceFailure:
    return SourceFailure(SourceError(source_name, domain_of(feed_url), f"{feed_url}: {reason}"))


# --- choosing the media ----------------------------------------------------------------------


def _renditions(item: Element) -> list[Element]:
    """Every ``media:content`` of the item, direct ones first, then those in groups."""
    found = list(item.find_all("media", "content"))
    for group in item.find_all("media", "group"):
        found.extend(group.find_all("media", "content"))
    return found


def _enclosures(item: Element) -> list[tuple[Element, str, str | None]]:
    """Every enclosure of the item as ``(element, url, declared type)``, in document order."""
    found = []
    for child in item.children:
        url: str | None = None
        kind: str | None = None
        if child.ns == "" and child.name == "enclosure":
            url = child.attributes.get("url") or child.attributes.get("href")
            kind = child.attributes.get("type")
        elif child.ns == "" and child.name == "link" and _rel(child) == "enclosure":
            url, kind = child.attributes.get("href"), child.attributes.get("type")
        elif child.ns == "enc" and child.name == "enclosure":
            url = child.attributes.get("rdf:resource") or child.attributes.get("enc:url")
            kind = child.attributes.get("enc:type")
        if url and url.strip():
            found.append((child, url, kind))
    return found


def _rel(link: Element) -> str:
    return (link.attributes.get("rel") or "").strip().lower()


def _choose(item: Element, accept: Accept) -> tuple[str, Element | None, float | None]:
    """The media URL, its ``media:content`` (None for an enclosure) and its declared
    duration; ``ItemProblem`` when the only videos have unusable URLs or durations;
    ``LookupError`` when the item has no video at all."""
    problem: ItemProblem | None = None
    videos: list[tuple[Element, str]] = []
    for content in _renditions(item):
        raw = content.attributes.get("url", "").strip()
        if raw and accept(content.attributes.get("medium"), content.attributes.get("type"), raw):
            try:
                videos.append((content, values.media_url(raw, content.base)))
            except ItemProblem as exc:
                problem = problem or exc
    if videos:
        defaults = [v for v in videos if v[0].attributes.get("isdefault", "").lower() == "true"]
        tallest = max(videos, key=lambda v: values.height_text(v[0].attributes.get("height")) or 0)
        content, url = defaults[0] if defaults else tallest
        try:
            duration = values.duration_text(
                content.attributes.get("duration"), "media:content@duration"
            )
        except ItemProblem as exc:
            raise exc.about(url) from None
        return url, content, duration
    for element, raw, kind in _enclosures(item):
        if not accept(None, kind, raw.strip()):
            continue
        try:
            return values.media_url(raw, element.base), None, None
        except ItemProblem as exc:
            problem = problem or exc
    if problem is not None:
        raise problem
    raise LookupError("no video")


# --- the other fields ------------------------------------------------------------------------

# <title> wins; dc:title and media:title stand in when it is missing or empty.
_TITLES = (("", "title"), ("dc", "title"), ("media", "title"))


def _title(item: Element) -> str:
    for holder in [item, *item.find_all("media", "group")]:
        for key in _TITLES:
            for element in holder.find_all(*key):
                text = _text_construct(element)
                if text:
                    return values.title_text(text[0], markup=text[1])
    return ""


def _text_construct(element: Element) -> tuple[str, bool | None] | None:
    """An Atom text construct (or any title) as ``(text, markup)`` for ``plain_text``:
    ``type="html"`` is escaped HTML, ``"xhtml"`` arrives as plain text already (its markup
    was dropped while reading), ``"text"`` is plain; RSS does not say. Atom 0.3's
    ``mode="base64"`` is decoded first, and so is a type that is neither text nor XML
    (RFC 4287 §4.1.3.3, for content: feeds use it for titles too)."""
    text = element.text
    if not text:
        return None
    kind = (element.attributes.get("type") or "").strip().lower()
    binary = "/" in kind and not kind.startswith("text/") and not kind.endswith("xml")
    if binary or element.attributes.get("mode", "").strip().lower() == "base64":
        try:
            text = base64.b64decode(text, validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
        if kind in ("", "text/plain"):
            return text, False  # Atom 0.3's default type
        return text, None if binary else True
    if kind in ("html", "text/html"):
        return text, True
    if kind in ("text", "text/plain", "xhtml", "application/xhtml+xml"):
        return text, False
    return text, None


def _tags(item: Element) -> tuple[str, ...]:
    tags: list[str] = []
    for holder in [item, *item.find_all("media", "group")]:
        for kw in [*holder.find_all("media", "keywords"), *holder.find_all("itunes", "keywords")]:
            tags.extend(kw.text.split(","))
    for child in item.children:
        if child.ns == "" and child.name == "category":
            tags.append(child.attributes.get("label") or child.attributes.get("term") or child.text)
        elif child.ns == "dc" and child.name == "subject":
            tags.append(child.text)
    return values.tag_list(values.plain_text(t) for t in tags)


def _theme(item: Element) -> str:
    for holder in [item, *item.find_all("media", "group")]:
        category = holder.find("media", "category")
        if category is not None and category.text:
            # media:category is often a path ("music/jazz"): the last part is the theme.
            last = category.text.rstrip("/").rsplit("/", 1)[-1]
            return values.plain_text(last)[: values.MAX_TAG]
    return ""


_DATES = (
    ("", "pubdate"),
    ("", "published"),
    ("", "issued"),
    ("", "created"),
    ("dc", "date"),
    ("dcterms", "issued"),
    ("dcterms", "created"),
    ("", "updated"),
    ("", "modified"),
    ("dcterms", "modified"),
)


def _published(item: Element) -> datetime | None:
    for key in _DATES:
        element = item.find(*key)
        if element is not None and element.text:
            moment = _rfc822(element.text) or _rfc3339(element.text)
            if moment is not None:
                return moment
    return None


def _rfc822(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _rfc3339(text: str) -> datetime | None:
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _candidate(item: Element, source_name: str, accept: Accept) -> Candidate | None:
    try:
        url, content, duration = _choose(item, accept)
    except LookupError:
        return None
    if duration is None:
        itunes = item.find("itunes", "duration")
        try:
            duration = values.duration_text(
                itunes.text if itunes is not None else None, "itunes:duration"
            )
        except ItemProblem as exc:
            raise exc.about(url) from None
    quality: list[str] = []
    if content is not None:
        channels = content.attributes.get("channels", "").strip()
        quality = values.quality_signals(
            values.height_text(content.attributes.get("height")), 2 if channels == "2" else None
        )
    return Candidate(
        title=_title(item) or values.title_from_url(url),
        media_url=url,
        source_name=source_name,
        duration_sec=duration,
        tags=_tags(item),
        theme=_theme(item),
        quality=quality,
        published_at=_published(item),
    )


def _label(item: Element, index: int) -> str:
    title = _title(item)
    where = f"#{index + 1}" + (f" (line {item.line})" if item.line > 0 else "")
    return f"{where} {title[:60]!r}" if title else where


def parse_feed(
    data: bytes,
    *,
    source_name: str,
    feed_url: str,
    base_url: str | None = None,
    content_type: str | None = None,
    accept: Accept = is_video,
) -> tuple[list[Candidate], list[SourceError]]:
    """The candidates of an RSS or Atom document and the items refused (one
    ``SourceError`` each, naming the item and the field); ``SourceFailure`` naming the feed
    when the document cannot be read as a feed. Relative URLs resolve against ``xml:base``,
    else ``base_url`` (where the feed was fetched from after redirects), else ``feed_url``;
    ``content_type`` is the HTTP header, whose ``charset`` decides the encoding. ``accept``
    says which media are programmes (videos; the differential tests ask for every kind)."""
    try:
        doc = read_document(
            data, base_url=base_url or feed_url, http_charset=charset_of(content_type)
        )
    except UnsafeXML as exc:
        raise _fail(source_name, feed_url, f"unsafe XML refused: {exc}") from None
    except FeedXMLError as exc:
        raise _fail(source_name, feed_url, str(exc)) from None
    domain = domain_of(feed_url)
    found: list[Candidate] = []
    refused: list[SourceError] = []
    for index, item in enumerate(doc.items):
        try:
            candidate = _candidate(item, source_name, accept)
        except ItemProblem as problem:
            label = _label(item, index)
            refused.append(
                SourceError(
                    source_name,
                    domain,
                    f"{feed_url}: item {label}: {problem}",
                    item=label,
                    field=problem.field,
                )
            )
            continue
        if candidate is not None:
            found.append(candidate)
    if doc.skipped_items:
        refused.append(
            SourceError(
                source_name,
                domain,
                f"{feed_url}: more than {MAX_ITEMS} items; the last {doc.skipped_items} "
                "were not read",
                item=f"#{MAX_ITEMS + 1}-",
                field="items",
            )
        )
    if doc.broken:
        refused.append(
            SourceError(
                source_name,
                domain,
                f"{feed_url}: {doc.broken}; the rest of the feed was not read",
                item=f"after #{len(doc.items)}",
                field="xml",
            )
        )
    return found, refused
