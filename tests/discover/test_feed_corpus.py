"""Differential testing of the RSS/Atom reader against feedparser, over a corpus of ~1,540
feeds (``corpus/README.md`` says where each comes from): feedparser's whole test suite,
real podcast and video feeds from other projects' fixtures, feeds written after what real
platforms publish, and hostile files.

Rules:

- every file is read, or refused with the reader's own ``SourceFailure`` (never anything
  else), and the files refused are exactly ``EXPECTED_REFUSALS``, each for its reason;
- every video enclosure URL feedparser finds (``<enclosure>``, ``<link rel="enclosure">``,
  ``media:content`` in and out of ``media:group``), vvtv finds too, with the same title
  and duration; an item vvtv refuses for a value (audited as ``ITEM_REJECTED``) counts as
  found when its refusal names the URL;
- the same with every item of every file given a relative video enclosure, so that the
  titles, ``xml:base`` and encodings of the whole corpus are compared, not only the few
  files that carry videos;
- the hostile files stay bounded in memory (feedparser itself reached 1.46 GB on a
  110 KB entity-heavy feed: it is never run on them here).

The default run takes a few seconds; ``-m slow`` adds the same comparison with every
kind of media (audio and images too) over the whole corpus.
"""

from __future__ import annotations

import contextlib
import html
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tests.support.memory import peak_growth
from vvtv.discover.sources import SourceFailure
from vvtv.discover.sources.candidate import Candidate, SourceError
from vvtv.discover.sources.mediatypes import is_video
from vvtv.discover.sources.rss import parse_feed
from vvtv.discover.sources.values import ItemProblem, duration_text

CORPUS = Path(__file__).parent / "corpus"
BASE = "http://example.org/feeds/feed.xml"
Accept = Callable[[str | None, str | None, str], bool]

_UNKNOWN = "unknown character encoding"
_UNSAFE = "unsafe XML refused: entity declarations are not allowed"
_MALFORMED = "malformed XML"
_CDF = "not an RSS, RSS 1.0 or Atom feed (root element <channel> (a CDF channel?))"

#: Every file vvtv refuses as a whole, and the reason it must give. feedparser reads most
#: of them "bozo" (it guesses); vvtv refuses what it cannot read safely or surely.
EXPECTED_REFUSALS: dict[str, str] = {
    # Encoding labels Python does not know (feedparser's own tests skip these where
    # Python lacks the codec): the source fails, naming the label.
    "feedparser/encoding/bozo_bogus_encoding.xml": f"{_UNKNOWN} 'bogus'",
    **{
        f"feedparser/encoding/x80_{name}.xml": f"{_UNKNOWN} '{name}'"
        for name in (
            "dbcs",
            "mac",
            "ms-ansi",
            "ms-arab",
            "ms-cyrl",
            "ms-ee",
            "ms-greek",
            "ms-hebr",
            "ms-turk",
            "tcvn-5712",
            "tcvn",
            "tcvn5712-1",
            "viscii",
            "winbaltrim",
        )
    },
    # Not well-formed and with no complete item before the break (many of feedparser's
    # entity tests end in "</rss" without its ">").
    "feedparser/encoding/bozo_invalid-bytes-with-bom.xml": _MALFORMED,
    **{
        f"feedparser/entities/{name}.xml": _MALFORMED
        for name in (
            "160",
            "732",
            "8216",
            "8217",
            "8220",
            "8221",
            "9830",
            "attr_amp",
            "query_variable_feed",
        )
    },
    "feedparser/illformed/aaa_illformed.xml": _MALFORMED,
    "feedparser/illformed/rss_incomplete_cdata.xml": _MALFORMED,
    "feedparser/http/http_status_302-no-location.xml": "empty document",
    "feedparser/illformed/rss_empty_document.xml": "empty document",
    # Microsoft's Channel Definition Format is not a feed format vvtv reads.
    "feedparser/wellformed/base/cdf_item_abstract_xml_base.xml": _CDF,
    **{
        f"feedparser/wellformed/cdf/{name}.xml": _CDF
        for name in (
            "channel_abstract_map_description",
            "channel_abstract_map_tagline",
            "channel_href_map_link",
            "channel_href_map_links",
            "channel_lastmod",
            "channel_lastmod_parsed",
            "channel_title",
            "item_abstract_map_description",
            "item_abstract_map_summary",
            "item_href_map_link",
            "item_href_map_links",
            "item_lastmod",
            "item_lastmod_parsed",
            "item_title",
        )
    },
    # Entity declarations, harmless or not, are refused on principle.
    "feedparser/wellformed/rdf/doctype_contains_entity_decl.xml": f"{_UNSAFE} (entity 'HTMLlat1'",
    "feedparser/wellformed/rss/entity_in_doctype.xml": f"{_UNSAFE} (entity 'id')",
    "hostile/billion-laughs.xml": f"{_UNSAFE} (entity 'lol')",
    "hostile/quadratic-blowup.xml": f"{_UNSAFE} (entity 'a')",
    "hostile/external-entity.xml": f"{_UNSAFE} (entity 'secret')",
    "hostile/parameter-entity.xml": f"{_UNSAFE} (entity 'remote')",
    "hostile/unparsed-entity.xml": f"{_UNSAFE} (entity 'logo')",
}

#: Where vvtv disagrees with feedparser on purpose.
EXPECTED_DIFFERENCES: dict[str, str] = {
    # The item's only <title> is inside an <image> inside a <category>: feedparser takes
    # it as the item's title, vvtv reads titles of the item itself only (and falls back to
    # the media file's name).
    "feedparser/wellformed/rss/item_category_image.xml": "title",
}

_MEDIA = re.compile(rb"enclosure|media|<\x00", re.IGNORECASE)
_HEADER = re.compile(rb"^Header:\s+Content-type:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def corpus() -> Iterator[tuple[str, bytes]]:
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.name not in ("README.md", "LICENSE"):
            yield path.relative_to(CORPUS).as_posix(), path.read_bytes()


def content_type(data: bytes) -> str | None:
    """The HTTP Content-Type a feedparser test file says it is served with."""
    match = _HEADER.search(data)
    return match.group(1).decode("latin-1") if match else None


def any_media(medium: str | None, mime: str | None, url: str) -> bool:
    return True


# --- feedparser's view -------------------------------------------------------------------


def feedparser_entries(data: bytes, ctype: str | None) -> list[Any]:
    headers = {"content-location": BASE}
    if ctype:
        headers["content-type"] = ctype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(feedparser.parse(data, response_headers=headers).entries)


def feedparser_media(entry: Any, accept: Accept) -> list[tuple[str, str | None]]:
    """``(url, declared duration)`` of every media of the entry ``accept`` takes."""
    found: list[tuple[str, str | None]] = []
    for enclosure in entry.get("enclosures", []):
        url = (enclosure.get("href") or "").strip()
        if url and accept(None, enclosure.get("type"), url):
            found.append((url, None))
    for content in entry.get("media_content", []):
        url = (content.get("url") or "").strip()
        if url and accept(content.get("medium"), content.get("type"), url):
            found.append((url, content.get("duration")))
    return found


def feedparser_title(entry: Any) -> str:
    """feedparser's title as plain text (it keeps HTML markup in titles that have some)."""
    title = entry.get("title") or ""
    kind = (entry.get("title_detail") or {}).get("type", "text/html")
    if kind != "text/plain":
        title = html.unescape(_TAG.sub(" ", title))
    return " ".join(title.split())


def seconds(declared: str | None) -> float | str | None:
    try:
        return duration_text(declared, "duration")
    except ItemProblem:
        return "refused"


# --- the comparison ---------------------------------------------------------------------------


def compare(name: str, data: bytes, accept: Accept) -> tuple[list[str], int]:
    """What vvtv misses or gets wrong among what feedparser finds, and how many entries
    with media were compared."""
    ctype = content_type(data)
    wanted = [(e, m) for e in feedparser_entries(data, ctype) if (m := feedparser_media(e, accept))]
    try:
        found, refused = parse_feed(
            data, source_name="corpus", feed_url=BASE, content_type=ctype, accept=accept
        )
    except SourceFailure as failure:
        if name in EXPECTED_REFUSALS:
            return [], 0
        return [f"{name}: refused ({failure.error.reason}), feedparser found {len(wanted)}"], 0
    by_url: dict[str, Candidate] = {c.media_url: c for c in found}
    problems: list[str] = []
    for entry, media in wanted:
        urls = [url for url, _ in media]
        hits = [by_url[u] for u in urls if u in by_url]
        if not hits:
            if not any(_names(refusal, urls) for refusal in refused):
                problems.append(f"{name}: none of {urls} found (vvtv: {sorted(by_url)})")
            continue
        candidate = hits[0]
        title = feedparser_title(entry)
        if title and title != candidate.title and EXPECTED_DIFFERENCES.get(name) != "title":
            problems.append(f"{name}: title {candidate.title!r}, feedparser {title!r}")
        declared = [d for u, d in media if u == candidate.media_url and d]
        declared += [entry["itunes_duration"]] if entry.get("itunes_duration") else []
        expected = seconds(declared[0]) if declared else None
        if expected is not None and expected != candidate.duration_sec:
            problems.append(
                f"{name}: duration {candidate.duration_sec}, feedparser {declared[0]!r}"
            )
    return problems, len(wanted)


def _names(refusal: SourceError, urls: list[str]) -> bool:
    """The refusal is about one of these URLs (control characters are shown escaped)."""
    return any(u.strip() in refusal.reason or repr(u)[1:-1] in refusal.reason for u in urls)


# Give every item and entry a relative video enclosure (in both spellings), right after
# its start tag: feedparser and vvtv then both have a video to find in every item of the
# corpus, and must agree on its URL (resolved against xml:base) and its title.
_ITEM_START = re.compile(
    rb"(<!\[CDATA\[.*?\]\]>|<!--.*?-->)"
    rb"|(<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?:\s[^<>]*?)?(?<!/)>)",
    re.DOTALL | re.IGNORECASE,
)
_WIDE = (b"\x00\x00\x00<", b"<\x00\x00\x00", b"\x00<\x00?", b"<\x00?\x00", b"Lo\xa7\x94")


def with_a_video_in_every_item(data: bytes) -> bytes | None:
    """``data`` with an enclosure in each item; ``None`` for a file in an encoding ASCII
    bytes cannot be inserted into (UTF-16/32, EBCDIC)."""
    if data.startswith(_WIDE) or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None
    count = 0

    def insert(match: re.Match[bytes]) -> bytes:
        nonlocal count
        if match.group(1):
            return match.group(1)
        count += 1
        return match.group(2) + (
            b'<enclosure url="media/%d.mp4" type="video/mp4"/>'
            b'<link rel="enclosure" href="media/%d.mp4" type="video/mp4"/>' % (count, count)
        )

    return _ITEM_START.sub(insert, data)


# --- the tests ---------------------------------------------------------------------------------


def test_the_corpus_is_there_and_a_reasonable_size():
    files = list(corpus())
    assert len(files) > 1000
    assert sum(len(data) for _, data in files) < 4 * 1024 * 1024
    names = {name for name, _ in files}
    assert set(EXPECTED_REFUSALS) <= names and set(EXPECTED_DIFFERENCES) <= names


def test_every_file_is_read_or_refused_with_the_readers_own_failure_and_its_reason():
    refused: dict[str, str] = {}
    for name, data in corpus():
        try:
            parse_feed(data, source_name="corpus", feed_url=BASE, content_type=content_type(data))
        except SourceFailure as failure:  # anything else fails the test with its traceback
            assert failure.error.reason.startswith(BASE + ": ")
            refused[name] = failure.error.reason
    assert sorted(refused) == sorted(EXPECTED_REFUSALS)
    wrong = {n: r for n, r in refused.items() if EXPECTED_REFUSALS[n] not in r}
    assert not wrong, wrong


def test_every_video_feedparser_finds_vvtv_finds_too_with_its_title_and_duration():
    problems: list[str] = []
    compared = 0
    for name, data in corpus():
        if name.startswith("hostile/") and name in EXPECTED_REFUSALS:
            continue  # never run feedparser on a bomb
        if not _MEDIA.search(data) and not data.startswith(_WIDE):
            continue  # nothing for feedparser to find (the next test covers these files)
        found, count = compare(name, data, is_video)
        problems += found
        compared += count
    assert not problems, "\n".join(problems)
    assert compared >= 40  # the real and written video feeds, and feedparser's few


def test_with_a_video_in_every_item_of_the_corpus_both_readers_agree_on_urls_and_titles():
    problems: list[str] = []
    compared = 0
    for name, data in corpus():
        if name.startswith("hostile/"):
            continue
        changed = with_a_video_in_every_item(data)
        if changed is None:
            continue
        found, count = compare(name, changed, is_video)
        problems += found
        compared += count
    assert not problems, "\n".join(problems)
    assert compared >= 600


@pytest.mark.slow
def test_every_enclosure_of_any_kind_feedparser_finds_vvtv_finds_too():
    """The deeper run: audio, images and everything else count as media, over the whole
    corpus, as is and with a video in every item."""
    problems: list[str] = []
    for name, data in corpus():
        if name.startswith("hostile/"):
            continue
        problems += compare(name, data, any_media)[0]
        changed = with_a_video_in_every_item(data)
        if changed is not None:
            problems += compare(name, changed, any_media)[0]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(n for n, _ in corpus() if n.startswith("hostile/")))
def test_a_hostile_file_is_refused_or_read_in_bounded_memory(name: str):
    data = (CORPUS / name).read_bytes()
    with peak_growth() as growth, contextlib.suppress(SourceFailure):
        parse_feed(data, source_name="corpus", feed_url=BASE)
    # Expanded, the quadratic blow-up is a gigabyte and billion laughs 3 GB.
    assert growth.mib < 16, f"{name}: the process grew {growth.mib:.1f} MiB"
