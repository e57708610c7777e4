"""RSS 2.0 (with Media RSS and iTunes extensions) and Atom feeds → candidates.

What is read, per item/entry:

- title: ``<title>`` (else the media file name);
- media URL: a video ``media:content`` (inside ``media:group`` too; the one marked
  ``isDefault``, else the tallest), else a video ``<enclosure>`` (RSS) or
  ``<link rel="enclosure">`` (Atom). Images and audio are ignored (thumbnails are not
  programmes); an item without a video is skipped, not an error. Relative URLs are
  resolved against the feed URL.
- duration: ``media:content@duration`` (seconds), else ``itunes:duration``
  (``SS``, ``MM:SS`` or ``HH:MM:SS``);
- tags: ``media:keywords`` (comma-separated) and ``<category>`` (RSS text, Atom
  ``term``); theme: a ``media:category`` if present;
- quality signals: the rendition's height as ``"<h>p"`` (plus ``"4k"`` at ≥ 2160),
  ``"stereo"`` for two audio channels;
- published: ``pubDate`` (RFC 822) or Atom ``published``/``updated`` (RFC 3339).

Parsing is safe against hostile XML: ``defusedxml`` refuses DTDs, entity
declarations (billion laughs) and external entities outright.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from vvtv.discover.sources.candidate import Candidate, SourceError, SourceFailure, domain_of
from vvtv.discover.sources.mediatypes import is_video

MEDIA = "{http://search.yahoo.com/mrss/}"
ATOM = "{http://www.w3.org/2005/Atom}"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


def _fail(source_name: str, feed_url: str, reason: str) -> SourceFailure:
    return SourceFailure(SourceError(source_name, domain_of(feed_url), f"{feed_url}: {reason}"))


def parse_xml(data: bytes, *, source_name: str, feed_url: str) -> Element:
    """Parse feed bytes, refusing DTDs and entities; ``SourceFailure`` naming the feed."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise _fail(source_name, feed_url, f"unsafe XML refused: {_unsafe(exc)}") from None
    except ParseError as exc:
        raise _fail(source_name, feed_url, f"malformed XML: {exc}") from None


def _unsafe(exc: DefusedXmlException) -> str:
    if isinstance(exc, DTDForbidden):
        return "a DOCTYPE (DTD) is not allowed in a feed"
    if isinstance(exc, EntitiesForbidden):
        return f"entity declarations are not allowed (entity {exc.name!r})"
    if isinstance(exc, ExternalReferenceForbidden):
        return "external references are not allowed"
    return repr(exc)


def _text(el: Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _seconds(text: str | None) -> float | None:
    """``"90"``, ``"1:30"``, ``"00:01:30"`` or ``"90.5"`` → seconds; ``None`` if unusable."""
    if not text:
        return None
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError:
        return None
    if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts):
        return None
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total if total > 0 else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _pick_media(parent: Element) -> Element | None:
    """The best video ``media:content`` under ``parent`` (directly or in ``media:group``)."""
    contents = list(parent.findall(f"{MEDIA}content"))
    for group in parent.findall(f"{MEDIA}group"):
        contents.extend(group.findall(f"{MEDIA}content"))
    videos = []
    for c in contents:
        url = c.get("url")
        if not url:
            continue
        if not is_video(c.get("medium"), c.get("type"), url):
            continue
        videos.append(c)
    if not videos:
        return None
    for c in videos:
        if (c.get("isDefault") or "").lower() == "true":
            return c
    return max(videos, key=lambda c: _int(c.get("height")) or 0)


def _quality(content: Element | None) -> list[str]:
    if content is None:
        return []
    signals = []
    height = _int(content.get("height"))
    if height:
        signals.append(f"{height}p")
        if height >= 2160:
            signals.append("4k")
    if _int(content.get("channels")) == 2:
        signals.append("stereo")
    return signals


def _keywords(parent: Element) -> list[str]:
    tags: list[str] = []
    for holder in [parent, *parent.findall(f"{MEDIA}group")]:
        for kw in holder.findall(f"{MEDIA}keywords"):
            tags.extend(t.strip() for t in _text(kw).split(","))
    return [t for t in tags if t]


def _media_theme(parent: Element) -> str:
    for holder in [parent, *parent.findall(f"{MEDIA}group")]:
        cat = _text(holder.find(f"{MEDIA}category"))
        if cat:
            # media:category is often a path ("music/jazz"): the last part is the theme.
            return cat.rstrip("/").rsplit("/", 1)[-1].strip()
    return ""


def _dedupe(tags: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for tag in tags:
        seen.setdefault(tag.casefold(), tag)
    return tuple(seen.values())


def _title_from_url(url: str) -> str:
    name = PurePosixPath(unquote(urlsplit(url).path)).stem
    return name.replace("_", " ").replace("-", " ").strip() or url


def _rfc822(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _rfc3339(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _candidate(
    item: Element,
    *,
    source_name: str,
    feed_url: str,
    title: str,
    enclosure: tuple[str, str | None] | None,
    categories: list[str],
    published: datetime | None,
) -> Candidate | None:
    content = _pick_media(item)
    if content is not None:
        url = content.get("url") or ""
        duration = _seconds(content.get("duration"))
    elif enclosure is not None:
        url, mime = enclosure
        if not is_video(None, mime, url):
            return None
        duration = None
    else:
        return None
    url = urljoin(feed_url, url.strip())
    if duration is None:
        duration = _seconds(_text(item.find(f"{ITUNES}duration")))
    tags = _dedupe(_keywords(item) + categories)
    return Candidate(
        title=title or _title_from_url(url),
        media_url=url,
        source_name=source_name,
        duration_sec=duration,
        tags=tags,
        theme=_media_theme(item),
        quality=_quality(content),
        published_at=published,
    )


def _rss_items(channel: Element, source_name: str, feed_url: str) -> list[Candidate]:
    found = []
    for item in channel.findall("item"):
        enc = item.find("enclosure")
        enclosure = (enc.get("url") or "", enc.get("type")) if enc is not None else None
        if enclosure is not None and not enclosure[0]:
            enclosure = None
        cand = _candidate(
            item,
            source_name=source_name,
            feed_url=feed_url,
            title=_text(item.find("title")),
            enclosure=enclosure,
            categories=[_text(c) for c in item.findall("category") if _text(c)],
            published=_rfc822(_text(item.find("pubDate"))),
        )
        if cand is not None:
            found.append(cand)
    return found


def _atom_entries(feed: Element, source_name: str, feed_url: str) -> list[Candidate]:
    found = []
    for entry in feed.findall(f"{ATOM}entry"):
        enclosure = None
        for link in entry.findall(f"{ATOM}link"):
            if link.get("rel") == "enclosure" and link.get("href"):
                enclosure = (link.get("href") or "", link.get("type"))
                break
        categories = [
            (c.get("label") or c.get("term") or "").strip()
            for c in entry.findall(f"{ATOM}category")
        ]
        published = _rfc3339(_text(entry.find(f"{ATOM}published"))) or _rfc3339(
            _text(entry.find(f"{ATOM}updated"))
        )
        cand = _candidate(
            entry,
            source_name=source_name,
            feed_url=feed_url,
            title=_text(entry.find(f"{ATOM}title")),
            enclosure=enclosure,
            categories=[c for c in categories if c],
            published=published,
        )
        if cand is not None:
            found.append(cand)
    return found


def parse_feed(
    data: bytes,
    *,
    source_name: str,
    feed_url: str,
    base_url: str | None = None,
    content_type: str | None = None,
) -> tuple[list[Candidate], list[SourceError]]:
    """Candidates of an RSS 2.0 or Atom document; ``SourceFailure`` if it is neither."""
    root = parse_xml(data, source_name=source_name, feed_url=feed_url)
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise _fail(source_name, feed_url, "RSS document without a <channel>")
        return _rss_items(channel, source_name, feed_url), []
    if root.tag == f"{ATOM}feed":
        return _atom_entries(root, source_name, feed_url), []
    raise _fail(source_name, feed_url, f"not an RSS 2.0 or Atom feed (root element <{root.tag}>)")
