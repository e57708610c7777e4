"""Feed documents the discovery tests serve: good ones, malformed ones, hostile ones."""

from __future__ import annotations

import json

RSS_MRSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
  <channel>
    <title>Ocean channel</title>
    <item>
      <title>Deep Blue</title>
      <pubDate>Sun, 01 Mar 2026 10:00:00 GMT</pubDate>
      <category>nature</category>
      <media:content url="https://cdn.example.com/deep-blue.mp4" type="video/mp4"
                     duration="912" height="1080" width="1920" channels="2"/>
      <media:thumbnail url="https://cdn.example.com/deep-blue.jpg"/>
      <media:keywords>calm, ocean , Nature</media:keywords>
    </item>
    <item>
      <title>Reef Group</title>
      <media:group>
        <media:content url="https://cdn.example.com/reef-480.mp4" medium="video" height="480"/>
        <media:content url="https://cdn.example.com/reef-720.mp4" medium="video" height="720"
                       duration="300" isDefault="true"/>
        <media:content url="https://cdn.example.com/reef.jpg" medium="image"/>
        <media:category>documentary/underwater</media:category>
      </media:group>
    </item>
    <item>
      <title>Enclosure Only</title>
      <enclosure url="/media/enclosed.mp4" type="video/mp4" length="123"/>
      <itunes:duration>00:10:05</itunes:duration>
    </item>
    <item>
      <title>A podcast episode</title>
      <enclosure url="https://cdn.example.com/episode.mp3" type="audio/mpeg" length="1"/>
    </item>
    <item>
      <title>Only a thumbnail</title>
      <media:content url="https://cdn.example.com/only.jpg" medium="image"/>
    </item>
    <item>
      <title>A text post</title>
      <link>https://example.com/post</link>
    </item>
  </channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Mountains</title>
  <entry>
    <title>Alpine Dawn</title>
    <published>2026-02-27T06:00:00Z</published>
    <link rel="alternate" href="https://example.org/alpine"/>
    <link rel="enclosure" type="video/mp4" href="https://media.example.org/alpine.mp4"/>
    <category term="mountains"/>
    <category term="sunrise" label="Sunrise"/>
  </entry>
  <entry>
    <title>No video here</title>
    <link rel="enclosure" type="image/png" href="https://media.example.org/x.png"/>
  </entry>
</feed>
"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "City",
        "items": [
            {
                "id": "1",
                "title": "Night Traffic",
                "date_published": "2026-02-20T22:00:00+00:00",
                "tags": ["city", "night"],
                "attachments": [
                    {"url": "https://img.example.net/t.jpg", "mime_type": "image/jpeg"},
                    {
                        "url": "https://vid.example.net/traffic.mp4",
                        "mime_type": "video/mp4",
                        "duration_in_seconds": 640,
                    },
                ],
                "_vvtv": {"theme": "urban", "quality": ["1080p", "stereo"]},
            },
            {
                "id": "2",
                "title": "Rain",
                "attachments": [{"url": "rain.webm"}],
                "_vvtv": {"duration_sec": 95.5, "height": 2160},
            },
            {"id": "3", "content_text": "just words"},
        ],
    }
).encode()

MALFORMED_XML = b"<rss version='2.0'><channel><item><title>Broken</channel></rss>"
MALFORMED_JSON = b'{"version": "https://jsonfeed.org/version/1.1", "items": [ {"title": '

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><item><title>&lol4;</title></item></channel></rss>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>&secret;</title>
<enclosure url="https://cdn.example.com/x.mp4" type="video/mp4"/></item></channel></rss>
"""
