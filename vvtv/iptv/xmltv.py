"""The XMLTV guide (``/iptv/xmltv.xml``), valid against the XMLTV DTD.

Written as text rather than through a DOM: a day of short items is thousands of
programmes and apps poll the guide, and every value is already clean (``vvtv.iptv.text``)
so escaping is a character translation. ``ops/bench/outputs.py`` compares the cost with
ElementTree. Times carry the channel's zone offset (``20260301120000 +0100``); the
channel id is the ``tvg-id`` of the M3U playlist, so apps match the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.guide import Programme
from vvtv.iptv.text import clean, safe_url, xml_attr, xml_text

XMLTV_TYPE = "application/xml; charset=utf-8"
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n'


def xmltv_time(moment: datetime, tz: tzinfo) -> str:
    """``YYYYMMDDhhmmss +hhmm`` in ``tz``, as the XMLTV DTD describes."""
    return moment.astimezone(tz).strftime("%Y%m%d%H%M%S %z")


def render_xmltv(
    channel: ChannelInfo,
    programmes: Sequence[Programme],
    *,
    logo: str | None = None,
    page_url: str | None = None,
) -> bytes:
    """The guide document for ``channel``; ``logo`` and ``page_url`` are absolute URLs."""
    cid = xml_attr(clean(channel.id, 64))
    parts = [
        HEADER,
        '<tv generator-info-name="vvtv">\n',
        f'  <channel id="{cid}">\n',
        f"    <display-name>{xml_text(clean(channel.name, 80))}</display-name>\n",
    ]
    if logo:
        parts.append(f'    <icon src="{xml_attr(safe_url(logo))}"/>\n')
    if page_url:
        parts.append(f"    <url>{xml_text(safe_url(page_url))}</url>\n")
    parts.append("  </channel>\n")
    tz = channel.tz
    # Programmes are contiguous: each start is the previous stop, formatted once.
    last: tuple[datetime, str] | None = None
    for p in programmes:
        start = last[1] if last is not None and last[0] == p.start else xmltv_time(p.start, tz)
        stop = xmltv_time(p.stop, tz)
        last = (p.stop, stop)
        parts.append(
            f'  <programme start="{start}" stop="{stop}" channel="{cid}">\n'
            f"    <title>{xml_text(p.title)}</title>\n"
        )
        if p.desc:
            parts.append(f"    <desc>{xml_text(p.desc)}</desc>\n")
        if p.category:
            parts.append(f"    <category>{xml_text(p.category)}</category>\n")
        parts.append("  </programme>\n")
    parts.append("</tv>\n")
    return "".join(parts).encode("utf-8")
