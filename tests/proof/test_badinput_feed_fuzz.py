"""Feeds and sidecars made at random, mutated and hostile: each is read or refused, never a
crash, and what is read is sane.

``tests/discover`` checks each rule on a chosen input and ``test_feed_corpus`` compares
the reader with feedparser over ~1,540 real and written feeds. Here hypothesis makes the
inputs: RSS/Atom documents from a small grammar (titles and URLs of any characters,
durations of any text, every encoding, undeclared prefixes, entity references, DOCTYPEs),
random edits of the corpus's real and written feeds, JSON Feeds whose items are any JSON
at all, and folder sidecars of random YAML and JSON. The rules:

- a feed is read (candidates, and refused items each naming its item, field and reason)
  or refused as a whole with the reader's own ``SourceFailure``; a sidecar is read or
  refused with ``SidecarError``; nothing else is ever raised;
- every candidate is sane: an http(s) media URL with a host, that screening can normalise;
  no duration, or a positive finite one under the ceiling; a title of at most 300
  characters; at most 50 tags of at most 100 characters.

The default run gives each fuzzer a few seconds (``tests/support/fuzz.py``); ``-m slow``
makes ten thousand inputs of each kind (a quarter of an hour on two busy cores: it found the
NUL in an encoding label that made Python's codec lookup raise).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import budget, deep
from vvtv.core.model import MAX_PLAN_DURATION_SEC
from vvtv.discover.screening import normalize_title, normalize_url
from vvtv.discover.sources import Candidate, SourceError, SourceFailure
from vvtv.discover.sources.folder import SidecarError, read_sidecar
from vvtv.discover.sources.jsonfeed import parse_jsonfeed
from vvtv.discover.sources.rss import parse_feed

BASE = "https://feeds.example.com/fuzz/feed.xml"
CORPUS = Path(__file__).resolve().parents[1] / "discover" / "corpus"
SEEDS = sorted(
    p.read_bytes() for folder in ("wild", "written") for p in (CORPUS / folder).rglob("*.*")
)

# --- the rules -----------------------------------------------------------------------------------


def sane(found: list[Candidate], refused: list[SourceError]) -> None:
    for c in found:
        parts = urlsplit(c.media_url)
        assert parts.scheme in ("http", "https") and parts.hostname, c.media_url
        normalize_url(c.media_url)
        normalize_title(c.title)
        d = c.duration_sec
        assert d is None or (math.isfinite(d) and 0 < d <= MAX_PLAN_DURATION_SEC), d
        assert c.title and len(c.title) <= 300
        assert len(c.tags) <= 50 and all(0 < len(t) <= 100 for t in c.tags)
    for e in refused:
        assert e.item and e.field and e.reason.startswith(BASE)


def check_feed(data: bytes, content_type: str | None = None) -> None:
    try:
        found, refused = parse_feed(
            data, source_name="fuzz", feed_url=BASE, content_type=content_type
        )
    except SourceFailure as failure:
        assert failure.error.reason.startswith(BASE + ": ")
        return
    sane(found, refused)


def check_json(data: bytes) -> None:
    try:
        found, refused = parse_jsonfeed(data, source_name="fuzz", feed_url=BASE)
    except SourceFailure as failure:
        assert failure.error.reason.startswith(BASE + ": ")
        return
    sane(found, refused)


# --- RSS and Atom from a grammar -----------------------------------------------------------------

ENCODINGS = [
    "utf-8", "utf-16", "utf-16-be", "shift_jis", "euc-jp", "euc-kr", "gb18030", "big5",
    "windows-1251", "windows-1252", "iso-8859-7", "koi8-r",
]  # fmt: skip
LABELS = [*ENCODINGS, "gb2312", "ucs-2", "x-unknown", "", "latin1", "UTF8"]
NASTY = [
    "&", "&amp;", "&nbsp;", "&#0;", "&#x110000;", "&#X41;", "&bogus;", "<", "]]>", "<![CDATA[",
    "<!--", "-->", "\x00", "\x0b", "\ufeff", "\ud800", "\uffff", "é", "東京", "🎬", '"', "'",
]  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(NASTY) | st.text(max_size=5), max_size=8).map("".join),
)
URLS = st.one_of(
    st.sampled_from(
        [
            "https://cdn.example.com/v.mp4", "v.mp4", "/abs/v.mp4", "//cdn.example.com/v.mp4",
            "http://[::1/x.mp4", "http://[::1]/x.mp4", "file:///etc/passwd", "javascript:x.mp4",
            "http://h:99999/v.mp4", "http://h:-1/v.mp4", "ftp://h/v.mp4", "http:///v.mp4",
            " https://cdn.example.com/space.mp4 ", "https://cdn.example.com/a b.mp4",
            "https://user:pw@cdn.example.com/v.mp4", "http://xn--e1afmkfd.xn--p1ai/v.mp4",
            "http://" + "a" * 5000 + ".mp4", "https://cdn.example.com/v.mp4?x=1&y=2#t",
        ]
    ),
    TEXT.map(lambda t: "https://cdn.example.com/" + t + ".mp4"),
    TEXT,
)  # fmt: skip
DURATIONS = st.one_of(
    st.sampled_from(["", "0", "1", "90", "1:30", "01:02:03", "1e12", "-5", "nan", "inf",
                     "1:2:3:4", "99999999999999999999", "9" * 400, "٣", "1_000", " 42 "]),
    st.floats().map(repr),
    st.integers().map(str),
    TEXT,
)  # fmt: skip
MIMES = st.sampled_from(
    ["video/mp4", "video/webm", "image/jpeg", "audio/mpeg", "application/x-mpegURL", "", "vid"]
)


def attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


@st.composite
def rss_items(draw: st.DrawFn) -> str:
    parts = [f"<title>{draw(TEXT)}</title>"]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["enclosure", "media", "group", "atomlink", "enc"]))
        url, mime = attr(draw(URLS)), draw(MIMES)
        duration = attr(draw(DURATIONS))
        if kind == "enclosure":
            parts.append(f'<enclosure url="{url}" type="{mime}" length="1"/>')
        elif kind == "media":
            parts.append(f'<media:content url="{url}" type="{mime}" duration="{duration}"/>')
        elif kind == "group":
            parts.append(
                f'<media:group><media:content url="{url}" medium="video" height="'
                f'{attr(draw(TEXT))}" isDefault="true"/></media:group>'
            )
        elif kind == "atomlink":
            parts.append(f'<link rel="enclosure" href="{url}" type="{mime}"/>')
        else:
            parts.append(f'<enc:enclosure rdf:resource="{url}" enc:type="{mime}"/>')
    if draw(st.booleans()):
        parts.append(f"<itunes:duration>{draw(DURATIONS)}</itunes:duration>")
    if draw(st.booleans()):
        parts.append(
            f"<category>{draw(TEXT)}</category><media:keywords>{draw(TEXT)}</media:keywords>"
        )
    if draw(st.booleans()):
        parts.append(f"<pubDate>{draw(TEXT)}</pubDate>")
    base = f' xml:base="{attr(draw(URLS))}"' if draw(st.booleans()) else ""
    return f"<item{base}>" + "".join(draw(st.permutations(parts))) + "</item>"


@st.composite
def rss_documents(draw: st.DrawFn) -> tuple[bytes, str | None]:
    encoding = draw(st.sampled_from(ENCODINGS))
    label = draw(st.sampled_from(LABELS))
    head = f'<?xml version="1.0" encoding="{label}"?>' if draw(st.booleans()) else ""
    doctype = draw(
        st.sampled_from(
            ["", '<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/x.dtd">', "<!DOCTYPE rss>",
             '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">]>']
        )
    )  # fmt: skip
    ns = draw(
        st.sampled_from(
            ['xmlns:media="http://search.yahoo.com/mrss/"', "",
             'xmlns:media="http://search.yahoo.com/mrss" xmlns:itunes="http://www.itunes.com/DTDs/Podcast-1.0.dtd"']
        )
    )  # fmt: skip
    items = "".join(draw(st.lists(rss_items(), max_size=5)))
    text = f"{draw(st.sampled_from(['', '  ', chr(10)]))}{head}{doctype}<rss {ns}><channel>"
    text += f"<title>{draw(TEXT)}</title>{items}</channel></rss>"
    data = text.encode(encoding, "xmlcharrefreplace" if "utf" not in encoding else "surrogatepass")
    if draw(st.booleans()):
        data = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"])) + data
    content_type = draw(
        st.sampled_from([None, "application/rss+xml", f"text/xml; charset={label}"])
    )
    return data, content_type


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["delete", "insert", "flip", "duplicate", "truncate"]))
        if op == "delete":
            del data[i : i + draw(st.integers(1, 64))]
        elif op == "insert":
            piece = draw(st.sampled_from([*NASTY, "<item>", "</item>", "<x:y>", "&a;"]))
            data[i:i] = piece.encode("utf-8", "surrogatepass")
        elif op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "duplicate":
            data[i:i] = data[i : i + draw(st.integers(1, 512))]
        else:
            del data[i:]
    return bytes(data)


@budget()
@given(rss_documents())
def test_any_rss_document_is_read_sanely_or_refused(doc: tuple[bytes, str | None]):
    check_feed(*doc)


@budget()
@given(mutated(SEEDS))
def test_any_edit_of_a_real_feed_is_read_sanely_or_refused(data: bytes):
    check_feed(data)


@budget()
@given(st.binary(max_size=2048))
def test_any_bytes_are_read_or_refused(data: bytes):
    check_feed(data)
    check_feed(b'<?xml version="1.0"?><rss><channel><item>' + data)


@deep()
@given(st.one_of(rss_documents(), mutated(SEEDS).map(lambda d: (d, None))))
def test_ten_thousand_feeds_are_read_sanely_or_refused(doc: tuple[bytes, str | None]):
    check_feed(*doc)


# --- JSON Feed -----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELD_VALUES = st.one_of(JSON, URLS, DURATIONS)


@st.composite
def json_items(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 5)) == 0:
        return draw(JSON)
    item: dict[str, Any] = {}
    for key in draw(
        st.sets(st.sampled_from(["title", "tags", "_vvtv", "attachments", "date_published"]))
    ):
        item[key] = draw(FIELD_VALUES)
    attachments = []
    for _ in range(draw(st.integers(0, 3))):
        att: dict[str, Any] = {"url": draw(URLS)}
        if draw(st.booleans()):
            att["mime_type"] = draw(MIMES | JSON)
        if draw(st.booleans()):
            att["duration_in_seconds"] = draw(
                st.one_of(st.integers(), st.floats(), st.just(10**400), JSON)
            )
        attachments.append(att)
    item.setdefault("attachments", attachments)
    if draw(st.booleans()):
        item["_vvtv"] = {
            "duration_sec": draw(FIELD_VALUES),
            "height": draw(st.one_of(st.integers(), JSON)),
            "theme": draw(FIELD_VALUES),
            "quality": draw(FIELD_VALUES),
        }
    return item


def dump(doc: Any) -> bytes:
    # 10**400 is written as its digits: json.dumps would write it, floats would not.
    return json.dumps(doc, default=str).encode("utf-8", "surrogatepass")


@st.composite
def json_feeds(draw: st.DrawFn) -> bytes:
    version = draw(
        st.sampled_from(["https://jsonfeed.org/version/1.1", "https://jsonfeed.org/version/1", "1"])
    )
    doc = {"version": version, "items": draw(st.lists(json_items(), max_size=6))}
    data = dump(doc)
    if draw(st.integers(0, 4)) == 0:
        data = draw(mutated([data]))
    return data


@budget()
@given(json_feeds())
def test_any_json_feed_is_read_sanely_or_refused(data: bytes):
    check_json(data)


@deep()
@given(json_feeds())
def test_ten_thousand_json_feeds_are_read_sanely_or_refused(data: bytes):
    check_json(data)


# --- folder sidecars -----------------------------------------------------------------------------

YAML_BITS = st.sampled_from(
    [":", "-", "[", "]", "{", "}", "&a", "*a", "!!str", "!!python/object:os.system", "|", ">",
     "'", '"', "#", "?", "\t", "~", "\n", "  ", "null", "true", "1e309", ".nan", "-1",
     "99999999999999999999", "9" * 5000, "title", "tags", "theme", "quality", "<<: *a"]
)  # fmt: skip


@st.composite
def sidecars(draw: st.DrawFn, max_depth: int = 3000) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["yaml", "json"]))
    shape = draw(st.integers(0, 2))
    if shape == 0:
        fields = st.dictionaries(
            st.sampled_from(["title", "theme", "tags", "quality"]) | st.text(max_size=5),
            FIELD_VALUES,
            max_size=5,
        )
        text = json.dumps(draw(fields), default=str)  # JSON is YAML too
    elif shape == 1:
        text = "".join(draw(st.lists(YAML_BITS | st.text(max_size=4), max_size=40)))
    else:
        depth = draw(st.integers(1, max_depth))
        text = "tags: " + "[" * depth + "]" * draw(st.integers(0, depth))
    return kind, text.encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def sidecar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sidecars")


def check_sidecar(folder: Path, kind: str, data: bytes) -> None:
    path = folder / f"clip.{kind}"
    path.write_bytes(data)
    try:
        sidecar = read_sidecar(path)
    except SidecarError as exc:
        assert str(exc).startswith(str(path)) and exc.field
        return
    assert sidecar.title is None or 0 < len(sidecar.title) <= 300
    assert len(sidecar.tags) <= 50 and len(sidecar.quality) <= 50


@budget()
@given(sidecars())
def test_any_sidecar_is_read_or_refused_naming_the_file(
    sidecar_dir: Path, sidecar: tuple[str, bytes]
):
    check_sidecar(sidecar_dir, *sidecar)


@deep()
@given(sidecars(max_depth=40_000))
def test_ten_thousand_sidecars_are_read_or_refused(sidecar_dir: Path, sidecar: tuple[str, bytes]):
    check_sidecar(sidecar_dir, *sidecar)


def test_the_seeds_are_there():
    assert len(SEEDS) >= 20
