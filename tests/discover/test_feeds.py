"""Feed parsing: RSS 2.0 with Media RSS, Atom, JSON Feed 1.1; malformed and hostile input is
refused with an error naming the feed and what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from vvtv.discover.sources import Candidate, SourceFailure
from vvtv.discover.sources.jsonfeed import parse_jsonfeed
from vvtv.discover.sources.rss import parse_feed

from . import feeds

FEED = "https://feeds.example.com/ocean.xml"


def by_title(found: list[Candidate]) -> dict[str, Candidate]:
    return {c.title: c for c in found}


def test_rss_with_media_rss_yields_videos_with_duration_tags_and_quality():
    found = by_title(parse_feed(feeds.RSS_MRSS, source_name="ocean", feed_url=FEED)[0])
    assert set(found) == {"Deep Blue", "Reef Group", "Enclosure Only"}
    deep = found["Deep Blue"]
    assert deep == Candidate(
        title="Deep Blue",
        media_url="https://cdn.example.com/deep-blue.mp4",
        source_name="ocean",
        duration_sec=912.0,
        tags=("calm", "ocean", "Nature"),  # keywords, then categories, deduped ignoring case
        theme="",
        quality=("1080p", "stereo"),
        published_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
    )


def test_a_media_group_gives_its_default_video_and_its_category_as_theme():
    reef = by_title(parse_feed(feeds.RSS_MRSS, source_name="ocean", feed_url=FEED)[0])["Reef Group"]
    assert reef.media_url == "https://cdn.example.com/reef-720.mp4"
    assert reef.duration_sec == 300.0
    assert reef.theme == "underwater"
    assert reef.quality == ("720p",)


def test_an_enclosure_is_resolved_against_the_feed_url_and_itunes_duration_is_read():
    enc = by_title(parse_feed(feeds.RSS_MRSS, source_name="ocean", feed_url=FEED)[0])[
        "Enclosure Only"
    ]
    assert enc.media_url == "https://feeds.example.com/media/enclosed.mp4"
    assert enc.duration_sec == 605.0


def test_atom_enclosures_and_categories():
    (entry,), _ = parse_feed(feeds.ATOM, source_name="alps", feed_url="https://example.org/atom")
    assert entry.title == "Alpine Dawn"
    assert entry.media_url == "https://media.example.org/alpine.mp4"
    assert entry.tags == ("mountains", "Sunrise")
    assert entry.duration_sec is None
    assert entry.published_at == datetime(2026, 2, 27, 6, tzinfo=UTC)


def test_json_feed_attachments_tags_and_the_vvtv_extension():
    url = "https://vid.example.net/feed.json"
    (traffic, rain), refused = parse_jsonfeed(feeds.JSON_FEED, source_name="city", feed_url=url)
    assert refused == []
    assert traffic.media_url == "https://vid.example.net/traffic.mp4"
    assert traffic.duration_sec == 640.0
    assert traffic.tags == ("city", "night")
    assert traffic.theme == "urban"
    assert traffic.quality == ("1080p", "stereo")
    assert rain.media_url == "https://vid.example.net/rain.webm"  # relative, by extension
    assert rain.duration_sec == 95.5
    assert rain.quality == ("2160p", "4k")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (feeds.MALFORMED_XML, "malformed XML: mismatched tag: line 1"),
        (b"", "empty document"),
        (b" \n\t", "empty document"),
        (
            b"<html><body>hello</body></html>",
            "not an RSS, RSS 1.0 or Atom feed (root element <html>)",
        ),
        (
            feeds.BILLION_LAUGHS,
            "unsafe XML refused: entity declarations are not allowed (entity 'lol')",
        ),
        (
            feeds.EXTERNAL_ENTITY,
            "unsafe XML refused: entity declarations are not allowed (entity 'secret')",
        ),
        (
            b"<?xml version='1.0' encoding='bogus'?><rss/>",
            "unknown character encoding 'bogus' (in the XML declaration)",
        ),
    ],
)
def test_bad_xml_fails_the_feed_with_its_name_and_the_problem(data: bytes, reason: str):
    with pytest.raises(SourceFailure) as caught:
        parse_feed(data, source_name="ocean", feed_url=FEED)
    error = caught.value.error
    assert (error.source_name, error.domain) == ("ocean", "feeds.example.com")
    assert error.reason.startswith(FEED + ": ")
    assert reason in error.reason


def test_a_feed_without_items_is_an_empty_feed_not_an_error():
    assert parse_feed(b"<rss version='2.0'></rss>", source_name="o", feed_url=FEED) == ([], [])
    assert parse_feed(b"<rss version='2.0'><channel/></rss>", source_name="o", feed_url=FEED) == (
        [],
        [],
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (feeds.MALFORMED_JSON, "malformed JSON"),
        (b"\xff\xfe\x00", "malformed JSON"),
        (b"[]", "the document is not an object"),
        (b'{"version": "1", "items": []}', "version is '1'"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "'items' must be a list"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000,
            "JSON refused: nested more than 64 levels deep",
        ),
    ],
)
def test_a_document_that_is_not_a_json_feed_fails_with_the_feed_name_and_the_problem(
    data: bytes, reason: str
):
    url = "https://vid.example.net/feed.json"
    with pytest.raises(SourceFailure) as caught:
        parse_jsonfeed(data, source_name="city", feed_url=url)
    assert caught.value.error.domain == "vid.example.net"
    assert caught.value.error.reason.startswith(url + ": ")
    assert reason in caught.value.error.reason


GOOD_ITEM = {"title": "Good", "attachments": [{"url": "good.mp4", "duration_in_seconds": 60}]}


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (7, "item", "must be an object"),
        ({"tags": "x", "attachments": [{"url": "a.mp4"}]}, "tags", "must be a list of strings"),
        ({"attachments": 3}, "attachments", "must be a list of objects"),
        ({"title": 5, "attachments": [{"url": "a.mp4"}]}, "title", "must be a string"),
        ({"_vvtv": [], "attachments": [{"url": "a.mp4"}]}, "_vvtv", "must be an object"),
        (
            {"attachments": [{"url": "a.mp4", "duration_in_seconds": 1e12}]},
            "attachments.duration_in_seconds",
            "duration 1e+12 s is over the 172800 s ceiling",
        ),
        (
            {"attachments": [{"url": "a.mp4", "duration_in_seconds": -3}]},
            "attachments.duration_in_seconds",
            "not a positive number of seconds",
        ),
        (
            {"attachments": [{"url": "a.mp4", "duration_in_seconds": "90"}]},
            "attachments.duration_in_seconds",
            "must be a number of seconds, not '90'",
        ),
        (
            {"_vvtv": {"duration_sec": 10**400}, "attachments": [{"url": "a.mp4"}]},
            "_vvtv.duration_sec",
            "duration inf s is not a finite number",
        ),
        (
            {"_vvtv": {"height": 10**12}, "attachments": [{"url": "a.mp4"}]},
            "_vvtv.height",
            "1000000000000 is not a picture height",
        ),
        (
            {"attachments": [{"url": "http://[::1/x.mp4"}]},
            "attachments[0].url",
            "malformed URL 'http://[::1/x.mp4' (Invalid IPv6 URL)",
        ),
        (
            {"attachments": [{"url": "file:///etc/passwd", "mime_type": "video/mp4"}]},
            "attachments[0].url",
            "URL 'file:///etc/passwd' is not http(s)",
        ),
    ],
)
def test_a_bad_json_feed_item_loses_only_itself(bad: object, field: str, reason: str):
    """Each hostile item sits between two good ones of the same feed: they are read, and the
    bad one comes back refused with its index, the field and why."""
    doc = {"version": "https://jsonfeed.org/version/1.1", "items": [GOOD_ITEM, bad, GOOD_ITEM]}
    # A huge integer is written as its digits (json.dumps would refuse 10**400 otherwise).
    text = json.dumps(doc, default=str).replace('"' + str(10**400) + '"', str(10**400))
    url = "https://vid.example.net/feed.json"
    found, refused = parse_jsonfeed(text.encode(), source_name="city", feed_url=url)
    assert [c.media_url for c in found] == ["https://vid.example.net/good.mp4"] * 2
    assert [c.duration_sec for c in found] == [60.0, 60.0]
    (error,) = refused
    assert (error.source_name, error.domain) == ("city", "vid.example.net")
    assert (error.item, error.field) == ("items[1]", field)
    assert reason in error.reason and error.reason.startswith(url + ": items[1]: ")


def test_json_feed_numbers_too_large_for_python_are_refused_not_crashed_on():
    digits = b"9" * 5000  # int() of more than 4,300 digits raises ValueError in Python
    data = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
        b'{"attachments": [{"url": "a.mp4", "duration_in_seconds": ' + digits + b"}]},"
        b'{"attachments": [{"url": "b.mp4", "duration_in_seconds": 30}]}]}'
    )
    found, refused = parse_jsonfeed(data, source_name="city", feed_url="https://x.example/f")
    assert [c.media_url for c in found] == ["https://x.example/b.mp4"]
    assert refused[0].field == "attachments.duration_in_seconds"
