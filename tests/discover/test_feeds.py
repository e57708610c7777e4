"""Feed parsing: RSS 2.0 with Media RSS, Atom, JSON Feed 1.1; malformed and hostile input is
refused with an error naming the feed and what is wrong."""

from __future__ import annotations

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
    found = by_title(parse_feed(feeds.RSS_MRSS, source_name="ocean", feed_url=FEED))
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
    reef = by_title(parse_feed(feeds.RSS_MRSS, source_name="ocean", feed_url=FEED))["Reef Group"]
    assert reef.media_url == "https://cdn.example.com/reef-720.mp4"
    assert reef.duration_sec == 300.0
    assert reef.theme == "underwater"
    assert reef.quality == ("720p",)


def test_an_enclosure_is_resolved_against_the_feed_url_and_itunes_duration_is_read():
    enc = by_title(parse_feed(feeds.RSS_MRSS, source_name="ocean", feed_url=FEED))["Enclosure Only"]
    assert enc.media_url == "https://feeds.example.com/media/enclosed.mp4"
    assert enc.duration_sec == 605.0


def test_atom_enclosures_and_categories():
    (entry,) = parse_feed(feeds.ATOM, source_name="alps", feed_url="https://example.org/atom")
    assert entry.title == "Alpine Dawn"
    assert entry.media_url == "https://media.example.org/alpine.mp4"
    assert entry.tags == ("mountains", "Sunrise")
    assert entry.duration_sec is None
    assert entry.published_at == datetime(2026, 2, 27, 6, tzinfo=UTC)


def test_json_feed_attachments_tags_and_the_vvtv_extension():
    url = "https://vid.example.net/feed.json"
    traffic, rain = parse_jsonfeed(feeds.JSON_FEED, source_name="city", feed_url=url)
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
        (b"", "malformed XML"),
        (b"<html><body>hello</body></html>", "not an RSS 2.0 or Atom feed (root element <html>)"),
        (b"<rss version='2.0'></rss>", "RSS document without a <channel>"),
        (feeds.BILLION_LAUGHS, "unsafe XML refused: a DOCTYPE (DTD) is not allowed"),
        (feeds.EXTERNAL_ENTITY, "unsafe XML refused: a DOCTYPE (DTD) is not allowed"),
    ],
)
def test_bad_xml_fails_the_feed_with_its_name_and_the_problem(data: bytes, reason: str):
    with pytest.raises(SourceFailure) as caught:
        parse_feed(data, source_name="ocean", feed_url=FEED)
    error = caught.value.error
    assert (error.source_name, error.domain) == ("ocean", "feeds.example.com")
    assert error.reason.startswith(FEED + ": ")
    assert reason in error.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (feeds.MALFORMED_JSON, "malformed JSON"),
        (b"\xff\xfe\x00", "malformed JSON"),
        (b"[]", "the document is not an object"),
        (b'{"version": "1", "items": []}', "version is '1'"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "'items' must be a list"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [7]}', "items[0]: must be"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"tags": "x",'
            b' "attachments": [{"url": "a.mp4"}]}]}',
            "items[0]: 'tags' must be a list of strings",
        ),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"attachments": 3}]}',
            "items[0]: 'attachments' must be a list of objects",
        ),
    ],
)
def test_bad_json_feeds_fail_with_the_feed_name_and_the_problem(data: bytes, reason: str):
    url = "https://vid.example.net/feed.json"
    with pytest.raises(SourceFailure) as caught:
        parse_jsonfeed(data, source_name="city", feed_url=url)
    assert caught.value.error.domain == "vid.example.net"
    assert caught.value.error.reason.startswith(url + ": ")
    assert reason in caught.value.error.reason
