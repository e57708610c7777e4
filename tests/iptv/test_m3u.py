"""The M3U playlist, read back by a real IPTV parser (ipytv, PyPI ``m3u-ipytv``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ipytv import playlist

from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.m3u import render_m3u

BASE = "https://tv.example.com"


def parse(text: str, tmp_path: Path) -> playlist.M3UPlaylist:
    path = tmp_path / "channel.m3u"
    path.write_text(text, encoding="utf-8")
    return playlist.loadf(str(path))


def render(channel: ChannelInfo, logo: str | None = f"{BASE}/channel/logo") -> str:
    return render_m3u(
        channel,
        stream_url=f"{BASE}/live/index.m3u8",
        guide_url=f"{BASE}/iptv/xmltv.xml",
        logo=logo,
    )


def test_an_iptv_parser_reads_the_channel_its_guide_and_its_stream(tmp_path: Path) -> None:
    pl = parse(render(ChannelInfo(name="Voulez Vous")), tmp_path)
    assert pl.get_attributes() == {
        "url-tvg": f"{BASE}/iptv/xmltv.xml",
        "x-tvg-url": f"{BASE}/iptv/xmltv.xml",
    }
    (channel,) = list(pl)
    assert channel.name == "Voulez Vous"
    assert channel.url == f"{BASE}/live/index.m3u8"
    assert channel.duration == "-1"
    assert channel.attributes == {
        "tvg-id": "voulez-vous.vvtv",
        "tvg-name": "Voulez Vous",
        "tvg-logo": f"{BASE}/channel/logo",
        "tvg-chno": "1",
        "group-title": "Voulez Vous",
    }


def test_no_logo_is_an_empty_tvg_logo(tmp_path: Path) -> None:
    (channel,) = list(parse(render(ChannelInfo(), logo=None), tmp_path))
    assert channel.attributes["tvg-logo"] == ""


@pytest.mark.parametrize(
    "name",
    [
        'Quote " breaks, attributes',
        "Line\r\nbreak\n#EXTINF:-1,Injected\nhttp://evil.example/",
        "Control\x00\x07\x1b\x85 chars, <tags> & more",
    ],
)
def test_a_hostile_name_stays_one_channel_with_its_own_url(name: str, tmp_path: Path) -> None:
    logo = 'https://cdn.example.com/l.png?x="y" z\n#EXTINF:-1,evil'
    text = render(ChannelInfo(name=name), logo=logo)
    lines = text.split("\n")
    assert len(lines) == 4 and lines[3] == ""  # header, #EXTINF, URL: nothing injected
    assert [line[:8] for line in lines[:3]] == ["#EXTM3U ", "#EXTINF:", "https://"]
    (channel,) = list(parse(text, tmp_path))
    assert channel.url == f"{BASE}/live/index.m3u8"
    assert channel.attributes["tvg-logo"] == (
        "https://cdn.example.com/l.png?x=%22y%22%20z#EXTINF:-1,evil"
    )
    assert '"' not in channel.attributes["tvg-name"]
    assert channel.name == channel.attributes["tvg-name"].replace("'", '"')
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in channel.name)
