"""The M3U playlist IPTV apps load (``/iptv/channel.m3u``): the channel, its guide, its stream.

The "extended M3U" IPTV apps read (VLC, Kodi's IPTV Simple client, TiviMate, Jellyfin,
ipytv): a header naming the XMLTV guide (``url-tvg``, and ``x-tvg-url`` for the apps that
read that one), then one ``#EXTINF`` line per channel with its ``tvg-id`` (the guide's
channel id), ``tvg-name``, ``tvg-logo``, ``tvg-chno`` and ``group-title``, and the
stream URL on the next line.
"""

from __future__ import annotations

from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.text import clean, m3u_attr, safe_url

M3U_TYPE = "audio/x-mpegurl; charset=utf-8"
CHANNEL_NUMBER = "1"


def render_m3u(channel: ChannelInfo, *, stream_url: str, guide_url: str, logo: str | None) -> str:
    """The playlist: absolute URLs in, one channel out."""
    name = clean(channel.name, 80)
    guide = safe_url(guide_url)
    attributes = {
        "tvg-id": channel.id,
        "tvg-name": name,
        "tvg-logo": safe_url(logo) if logo else "",
        "tvg-chno": CHANNEL_NUMBER,
        "group-title": name,
    }
    info = " ".join(f'{key}="{m3u_attr(clean(value, 2048))}"' for key, value in attributes.items())
    return (
        f'#EXTM3U url-tvg="{guide}" x-tvg-url="{guide}"\n'
        f"#EXTINF:-1 {info},{name}\n"
        f"{safe_url(stream_url)}\n"
    )
