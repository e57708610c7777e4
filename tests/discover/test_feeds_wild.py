"""Feeds as they are met in the wild: every encoding, enclosures in any order, both iTunes
namespace spellings, ``xml:base``, undeclared prefixes, HTML entities, RSS 1.0 and Atom
0.3; and hostile ones: entity bombs and external references refused (a loopback host that
must see zero requests), memory bounded on multi-megabyte inputs, one bad item losing only
itself next to a good one."""

from __future__ import annotations

import codecs
from typing import Any

import httpx
import pytest
import trio

from tests.support.hostile import internal_host
from tests.support.loopback import Loopback, Reply
from tests.support.memory import peak_growth
from vvtv.discover.sources import SourceFailure, fetch_all
from vvtv.discover.sources.candidate import Candidate, SourceError
from vvtv.discover.sources.feedxml import MAX_ITEMS
from vvtv.discover.sources.http import DEFAULT_MAX_BYTES
from vvtv.discover.sources.rss import parse_feed
from vvtv.ownercard.card import SourceSpec

FEED = "https://feeds.example.com/shows/feed.xml"


def read(data: bytes, **kw: Any) -> tuple[list[Candidate], list[SourceError]]:
    return parse_feed(data, source_name="wild", feed_url=FEED, **kw)


def refused(data: bytes, **kw: Any) -> str:
    with pytest.raises(SourceFailure) as caught:
        read(data, **kw)
    assert caught.value.error.source_name == "wild"
    return caught.value.error.reason


def rss(items: str, *, head: str = "", ns: str = "", channel: str = "") -> str:
    return (
        f'{head}<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" {ns}>'
        f"<channel><title>Wild</title>{channel}{items}</channel></rss>"
    )


def item(title: str, media: str = '<enclosure url="/v/{n}.mp4" type="video/mp4"/>') -> str:
    return f"<item><title>{title}</title>{media}</item>"


# --- encodings ---------------------------------------------------------------------------------

TITLES = {
    "Shift_JIS": "東京の夜景と四季",
    "EUC-JP": "大阪の街並み",
    "ISO-2022-JP": "京都の庭",
    "EUC-KR": "서울의 밤 풍경",
    "GB2312": "上海夜景与四季风光",
    "GBK": "镕铸之城",  # not in GB2312: real "gb2312" feeds hold GBK, read as GB18030
    "Big5": "臺北夜景與風光",
    "windows-1251": "Новости Оренбурга",
    "KOI8-R": "Москва ночью",
    "ISO-8859-7": "Αθήνα τη νύχτα",
    "windows-1252": "Caf\u00e9 \u201cquoted\u201d \u2013 \u20ac5",
    "ISO-8859-1": "Caf\u00e9 \u201cquoted\u201d",  # labelled latin-1, written as windows-1252
    "UTF-8": "Ünïcödé 🎬",
}


@pytest.mark.parametrize("label", sorted(TITLES))
def test_every_encoding_python_knows_is_read_from_the_xml_declaration(label: str):
    title = TITLES[label]
    codec = "windows-1252" if label == "ISO-8859-1" else label
    doc = f'<?xml version="1.0" encoding="{label}"?>' + rss(item(title))
    (found,), errors = read(doc.encode(codec))
    assert (found.title, errors) == (title, [])
    assert found.media_url == "https://feeds.example.com/v/{n}.mp4"


def test_the_http_charset_wins_over_the_declaration_and_a_bom_over_both():
    title = TITLES["Shift_JIS"]
    lying = f'<?xml version="1.0" encoding="utf-8"?>{rss(item(title))}'.encode("shift_jis")
    (found,), _ = read(lying, content_type="application/rss+xml; charset=Shift_JIS")
    assert found.title == title
    (found,), _ = read(lying, content_type='text/xml; charset="shift_jis"')
    assert found.title == title
    with_bom = codecs.BOM_UTF8 + f'<?xml version="1.0" encoding="Big5"?>{rss(item(title))}'.encode()
    (found,), _ = read(with_bom, content_type="text/xml; charset=EUC-KR")
    assert found.title == title


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_are_recognised_with_or_without_a_byte_order_mark(codec: str):
    # The declaration says "ucs-2", a name Python does not know: the bytes say which.
    doc = f'<?xml version="1.0" encoding="ucs-2"?>{rss(item("Wide ünicode"))}'
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(codec, b"")
    for data in (doc.encode(codec), bom + doc.encode(codec)):
        (found,), _ = read(data)
        assert found.title == "Wide ünicode"


def test_an_unknown_encoding_fails_that_source_only_naming_the_label_and_where_it_was():
    doc = rss(item("x"))
    reason = refused(f'<?xml version="1.0" encoding="x-klingon"?>{doc}'.encode())
    assert "unknown character encoding 'x-klingon' (in the XML declaration)" in reason
    reason = refused(doc.encode(), content_type="text/xml; charset=x-vulcan")
    assert "unknown character encoding 'x-vulcan' (HTTP charset)" in reason
    # Found by the fuzzer: a NUL in a label made Python's codec lookup raise ValueError.
    reason = refused(f'<?xml version="1.0" encoding="\x00IG5"?>{doc}'.encode())
    assert "unknown character encoding '\\x00IG5'" in reason
    assert "unknown character encoding" in refused(
        doc.encode(), content_type="text/xml; charset=\x00"
    )
    # A byte order mark settles it whatever the labels say.
    (found,), _ = read(codecs.BOM_UTF8 + doc.encode(), content_type="text/xml; charset=x-vulcan")
    assert found.title == "x"


def test_bytes_the_declared_encoding_cannot_decode_fall_back_as_browsers_do():
    doc = f'<?xml version="1.0" encoding="utf-8"?>{rss(item("Café “quoted”"))}'
    (found,), _ = read(doc.encode("windows-1252"))
    assert found.title == "Café “quoted”"
    # Shift_JIS bytes with no label at all: not UTF-8, read as windows-1252, never a crash.
    (found,), _ = read(rss(item("東京")).encode("shift_jis"))
    assert found.title and found.media_url.endswith(".mp4")


async def test_a_shift_jis_feed_over_real_http_is_read_with_its_charset(
    web: Loopback, client: httpx.AsyncClient
):
    title = TITLES["Shift_JIS"]
    body = rss(item(title, '<enclosure url="clip.mp4" type="video/mp4"/>')).encode("shift_jis")
    url = web.serve(
        "/jp/feed.xml", Reply(body=body, content_type="application/rss+xml; charset=Shift_JIS")
    )
    found, errors = await fetch_all([SourceSpec("jp", "rss", url)], client)
    assert errors == []
    assert [(c.title, c.media_url) for c in found] == [(title, web.url_for("/jp/clip.mp4"))]


# --- which media is the programme -----------------------------------------------------------


def only(data: str | bytes, **kw: Any) -> Candidate:
    found, errors = read(data.encode() if isinstance(data, str) else data, **kw)
    assert errors == []
    (candidate,) = found
    return candidate


def test_an_image_or_audio_enclosure_listed_first_does_not_hide_the_video():
    media = (
        '<enclosure url="https://cdn.example.com/a.jpg" type="image/jpeg" length="1"/>'
        '<enclosure url="https://cdn.example.com/a.mp3" type="audio/mpeg" length="1"/>'
        '<enclosure url="https://cdn.example.com/a.mp4" type="video/mp4" length="1"/>'
    )
    assert only(rss(item("Mixed", media))).media_url == "https://cdn.example.com/a.mp4"


def test_every_media_content_and_group_child_is_looked_at():
    media = (
        '<media:content url="https://cdn.example.com/thumb.jpg" medium="image"/>'
        "<media:group>"
        '<media:content url="https://cdn.example.com/t.jpg" type="image/jpeg"/>'
        '<media:content url="https://cdn.example.com/480.mp4" type="video/mp4" height="480"/>'
        '<media:content url="https://cdn.example.com/1080.mp4" type="video/mp4" height="1080"'
        ' duration="61"/>'
        "</media:group>"
    )
    found = only(rss(item("Renditions", media)))
    assert (found.media_url, found.duration_sec) == ("https://cdn.example.com/1080.mp4", 61.0)
    assert found.quality == ("1080p",)
    # An image media:content and a video enclosure: the enclosure is the programme.
    media = (
        '<media:content url="https://cdn.example.com/still.jpg" medium="image"/>'
        '<enclosure url="https://cdn.example.com/clip.webm" type="video/webm"/>'
    )
    assert only(rss(item("Still", media))).media_url == "https://cdn.example.com/clip.webm"
    # Nothing but pictures and sound: not a programme, and not an error either.
    media = '<enclosure url="https://cdn.example.com/a.mp3" type="audio/mpeg"/>'
    assert read(rss(item("Podcast", media)).encode()) == ([], [])


@pytest.mark.parametrize(
    "itunes",
    [
        "http://www.itunes.com/dtds/podcast-1.0.dtd",
        "http://www.itunes.com/DTDs/Podcast-1.0.dtd",  # Apple's historical spelling
        "http://www.itunes.com/DTDs/PodCast-1.0.dtd",
    ],
)
def test_both_itunes_namespace_spellings_give_the_duration(itunes: str):
    doc = rss(
        item("Radio", '<enclosure url="a.mp4" type="video/mp4"/><i:duration>1:02:03</i:duration>'),
        ns=f'xmlns:i="{itunes}"',
    )
    assert only(doc).duration_sec == 3723.0


@pytest.mark.parametrize("mrss", ["http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss"])
def test_the_media_rss_namespace_with_or_without_its_trailing_slash(mrss: str):
    doc = (
        f'<rss xmlns:m="{mrss}"><channel><item><title>T</title>'
        '<m:content url="https://cdn.example.com/v.mp4" type="video/mp4" duration="90"/>'
        "</item></channel></rss>"
    )
    assert only(doc).duration_sec == 90.0


def test_prefixes_nobody_declared_mean_what_they_usually_mean():
    doc = (
        "<rss><channel><item><title>Sloppy</title>"
        '<media:content url="https://cdn.example.com/v.mp4" type="video/mp4" height="720"/>'
        "<itunes:duration>5:00</itunes:duration><other:thing x:y='1'/>"
        "</item></channel></rss>"
    )
    found = only(doc)
    assert (found.duration_sec, found.quality) == (300.0, ("720p",))


def test_xml_base_resolves_relative_urls_at_every_level():
    doc = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://a.example.com/feeds/">'
        '<entry xml:base="../films/"><title>One</title>'
        '<link rel="enclosure" type="video/mp4" href="one.mp4"/></entry>'
        "<entry><title>Two</title>"
        '<link rel="enclosure" type="video/mp4" href="/two.mp4"'
        ' xml:base="https://b.example.com/x/"/></entry>'
        '<entry><title>Three</title><link rel="enclosure" type="video/mp4" href="three.mp4"/>'
        "</entry></feed>"
    )
    found, _ = read(doc.encode())
    assert [c.media_url for c in found] == [
        "https://a.example.com/films/one.mp4",
        "https://b.example.com/two.mp4",
        "https://a.example.com/feeds/three.mp4",
    ]
    # Without xml:base, relative URLs resolve against where the feed came from after
    # redirects, not where the card says it lives.
    moved = "https://new.example.com/moved/feed.xml"
    found, _ = read(rss(item("Moved")).encode(), base_url=moved)
    assert found[0].media_url == "https://new.example.com/v/{n}.mp4"


def test_rss_1_0_and_atom_0_3_are_read():
    rdf = (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:enc="http://purl.oclc.org/net/rss_2.0/enc#">'
        '<channel rdf:about="https://r.example.com/"><title>RDF</title></channel>'
        '<item rdf:about="https://r.example.com/1"><title>Lecture</title>'
        "<dc:date>2026-01-05T09:00:00+01:00</dc:date>"
        '<enc:enclosure rdf:resource="https://r.example.com/1.mp4" enc:type="video/mp4"/>'
        "</item></rdf:RDF>"
    )
    found = only(rdf)
    assert (found.title, found.media_url) == ("Lecture", "https://r.example.com/1.mp4")
    assert found.published_at is not None and found.published_at.year == 2026
    atom03 = (
        '<feed version="0.3" xmlns="http://purl.org/atom/ns#"><entry>'
        '<title mode="escaped" type="text/html">Trains &amp;amp; boats</title>'
        "<issued>2005-07-31T12:29:29Z</issued>"
        '<link rel="enclosure" type="video/quicktime" href="https://o.example.com/t.mov"/>'
        "</entry></feed>"
    )
    found = only(atom03)
    assert (found.title, found.media_url) == ("Trains & boats", "https://o.example.com/t.mov")


def test_titles_are_plain_text_whatever_markup_the_feed_used():
    doc = (
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        '<entry><title type="html">Tides &amp;amp; &lt;em&gt;currents&lt;/em&gt;</title>'
        '<link rel="enclosure" type="video/mp4" href="https://a.example.com/1.mp4"/></entry>'
        '<entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">A <b>bold</b>'
        " move</div></title>"
        '<link rel="enclosure" type="video/mp4" href="https://a.example.com/2.mp4"/></entry>'
        '<entry><title type="text">1 &lt; 2</title>'
        '<link rel="enclosure" type="video/mp4" href="https://a.example.com/3.mp4"/></entry>'
        "</feed>"
    )
    found, _ = read(doc.encode())
    assert [c.title for c in found] == ["Tides & currents", "A bold move", "1 < 2"]


# --- lenient where it is safe ------------------------------------------------------------------


def test_lenient_where_it_is_safe():
    doc = (
        "\n\n   "  # whitespace before the XML declaration
        '<?xml version="1.0" encoding="utf-8"?>\n'
        "<!-- a comment -- with double dashes -->\n"
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        ' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        "<rss><channel><item>"
        "<title>Caf&eacute;&nbsp;&ndash; Jazz &amp; Blues & more &#X41;&#0; &mystery;\x0b</title>"
        '<enclosure url="https://c.example.com/v.mp4?a=1&b=2" type="video/mp4"/>'
        "</item></channel></rss>"
    )
    found = only(doc)
    assert found.title == "Café – Jazz & Blues & more A &mystery;"
    assert found.media_url == "https://c.example.com/v.mp4?a=1&b=2"


def test_a_document_broken_after_some_items_keeps_them_and_says_where_it_broke():
    doc = rss(item("Kept") + "<item><title>Cut short</title><enclosure url='x.mp4'")
    found, errors = read(doc.encode())
    assert [c.title for c in found] == ["Kept"]
    (error,) = errors
    assert error.field == "xml" and "the rest of the feed was not read" in error.reason


# --- one bad item loses only itself -----------------------------------------------------------

BAD_MEDIA = {
    '<enclosure url="http://[::1/x.mp4" type="video/mp4"/>': (
        "media_url",
        "malformed URL 'http://[::1/x.mp4' (Invalid IPv6 URL)",
    ),
    '<enclosure url="file:///etc/passwd" type="video/mp4"/>': (
        "media_url",
        "URL 'file:///etc/passwd' is not http(s)",
    ),
    '<enclosure url="http://h.example:70000/v.mp4" type="video/mp4"/>': (
        "media_url",
        "Port out of range",
    ),
    '<media:content url="https://ok.example/v.mp4" type="video/mp4" duration="1e12"/>': (
        "media:content@duration",
        "duration 1e+12 s is over the 172800 s ceiling (media https://ok.example/v.mp4)",
    ),
    '<enclosure url="https://ok.example/v.mp4" type="video/mp4"/>'
    "<itunes:duration>-5</itunes:duration>": (
        "itunes:duration",
        "duration -5.0 s is not a positive number of seconds",
    ),
    '<enclosure url="https://ok.example/v.mp4" type="video/mp4"/>'
    "<itunes:duration>nan</itunes:duration>": ("itunes:duration", "'nan' is not a duration"),
    '<enclosure url="https://ok.example/v.mp4" type="video/mp4"/>'
    f"<itunes:duration>{'9' * 5000}</itunes:duration>": (
        "itunes:duration",
        "duration inf s is not a finite number of seconds",
    ),
}


@pytest.mark.parametrize("media", list(BAD_MEDIA))
def test_a_bad_item_loses_only_itself_next_to_a_good_one(media: str):
    good = '<enclosure url="https://ok.example/good.mp4" type="video/mp4"/>'
    itunes = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    doc = rss(item("Good", good) + item("Bad", media) + item("Also good", good), ns=itunes)
    found, errors = read(doc.encode())
    assert [c.title for c in found] == ["Good", "Also good"]
    (error,) = errors
    field, reason = BAD_MEDIA[media]
    assert (error.field, error.item) == (field, "#2 (line 1) 'Bad'")
    assert reason in error.reason, error.reason
    assert error.reason.startswith(FEED + ": item #2")


def test_unreadable_durations_are_unknown_not_fatal():
    for text in ("", "N/A", "0", "00:00:00", "1:2:3:4", "soon"):
        media = (
            f'<enclosure url="a.mp4" type="video/mp4"/><itunes:duration>{text}</itunes:duration>'
        )
        assert only(rss(item("T", media))).duration_sec is None, text


# --- hostile documents -------------------------------------------------------------------------


async def test_external_entities_and_dtds_are_never_fetched(nursery: trio.Nursery):
    """A host that must see zero requests: DTDs, parameter entities and external entities
    naming it are refused or ignored, never fetched."""
    internal = await internal_host(nursery)
    dtd = internal.url_for("/evil.dtd")
    cases = {
        f'<!DOCTYPE rss SYSTEM "{dtd}">': None,  # read: the DTD is not loaded
        f'<!DOCTYPE rss PUBLIC "-//X//Y//EN" "{dtd}">': None,
        f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{dtd}"> %p;]>': "(entity 'p')",
        f'<!DOCTYPE rss [<!ENTITY e SYSTEM "{dtd}">]>': "(entity 'e')",
        f'<!DOCTYPE rss [<!ENTITY e PUBLIC "-//X//Y//EN" "{dtd}">]>': "(entity 'e')",
    }
    for doctype, refusal in cases.items():
        doc = f'<?xml version="1.0"?>{doctype}{rss(item("T &e;"))}'.encode()
        if refusal is None:
            (found,), _ = read(doc)
            assert found.title == "T &e;"
        else:
            assert refusal in refused(doc)
    assert internal.requests == []


SHAPES = ["deep nesting in an item", "ampersands", "html entities", "too many items", "long text"]


@pytest.mark.parametrize("shape", [s for s in SHAPES if s != "too many items"])
def test_megabyte_hostile_feeds_stay_bounded_and_keep_the_good_item(shape: str):
    hostile_feed_stays_bounded(shape, 1024 * 1024)


def test_a_feed_with_too_many_items_is_read_up_to_the_limit_and_says_so():
    many = item("Many", '<enclosure url="m.mp4" type="video/mp4"/>') * (MAX_ITEMS + 50)
    found, errors = read(rss(many).encode())
    assert len(found) == MAX_ITEMS
    (error,) = errors
    assert error.field == "items" and "the last 50 were not read" in error.reason


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_hostile_feeds_at_the_fetch_cap_stay_bounded_and_keep_the_good_item(shape: str):
    hostile_feed_stays_bounded(shape, DEFAULT_MAX_BYTES)


def hostile_feed_stays_bounded(shape: str, size: int) -> None:
    good = item("Good", '<enclosure url="https://ok.example/g.mp4" type="video/mp4"/>')
    if shape == "deep nesting in an item":
        bad = "<item><title>Deep</title>" + "<x>" * 500_000 + "</x>" * 500_000 + "</item>"
    elif shape == "ampersands":
        bad = item("&" * size)
    elif shape == "html entities":
        bad = item("&nbsp;" * (size // 6))
    elif shape == "too many items":
        bad = item("Many", '<enclosure url="m.mp4" type="video/mp4"/>') * (MAX_ITEMS + 50)
    else:
        bad = item("x" * size)
    data = rss(good + bad).encode()
    with peak_growth() as growth:
        found, _ = read(data)
    assert found[0].title == "Good"
    # A few copies of the text at most, never the document expanded or a tree of it.
    limit = (12 * len(data) + 16 * 1024 * 1024) / 2**20
    assert growth.mib < limit, f"grew {growth.mib:.0f} MiB reading {len(data)} bytes"
    if shape == "too many items":
        assert len(found) == MAX_ITEMS
    if shape == "long text":
        assert len(found[1].title) <= 300
