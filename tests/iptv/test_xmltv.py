"""The XMLTV guide: valid for Debian's tv_validate_file, hostile titles escaped, zone offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from defusedxml import ElementTree

from tests.iptv.test_guide import NOW, item, plan
from tests.iptv.xmltv_check import tv_validate
from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.guide import INTERMISSION, build_guide
from vvtv.iptv.xmltv import render_xmltv, xmltv_time

HOSTILE = (
    "Fish & chips <script>alert(1)</script> ]]> \"q\" 'a' &amp; \x00\x08\x1b\x85\x9f\ufffe end"
)
PARIS = ZoneInfo("Europe/Paris")


def day_of_guide(channel: ChannelInfo, hostile: str = HOSTILE) -> bytes:
    timeline = [
        item(-3, 10, hostile, theme=hostile),
        item(7, 5, "Pool", level=2),
        item(12, 20, "Harbour at dawn"),
    ]
    plans = [plan(32 + 15 * i, 15, f"Plan {i} {hostile}", tags=(hostile,)) for i in range(60)]
    programmes = build_guide(NOW, 24, timeline, plans)
    return render_xmltv(
        channel,
        programmes,
        logo='https://cdn.example.com/logo.png?a=1&b="2"',
        page_url="https://tv.example.com/watch",
    )


def test_a_day_of_guide_validates_with_tv_validate_file(tmp_path: Path) -> None:
    document = day_of_guide(ChannelInfo(name="Voulez & <Vous>", tz=PARIS))
    result = tv_validate(document, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validated ok" in result.stdout


def test_the_validator_is_not_a_rubber_stamp(tmp_path: Path) -> None:
    good = day_of_guide(ChannelInfo())
    broken = {
        "unescaped markup": good.replace(b"<title>Harbour", b"<title><b>Harbour", 1),
        "a bad channel id": good.replace(b'"vvtv.vvtv"', b'"vvtv"'),
        "a C1 control": good.replace(b"Harbour", "Har\x85bour".encode(), 1),
        "an empty title": good.replace(b"<title>Harbour at dawn</title>", b"<title> </title>"),
    }
    for what, document in broken.items():
        assert tv_validate(document, tmp_path / what.replace(" ", "-")).returncode != 0, what


def test_hostile_text_comes_back_exactly_as_cleaned() -> None:
    channel = ChannelInfo(name="Voulez & <Vous>")
    tv = ElementTree.fromstring(day_of_guide(channel))
    assert tv.find("channel/display-name").text == "Voulez & <Vous>"
    assert tv.find("channel/icon").get("src") == "https://cdn.example.com/logo.png?a=1&b=%222%22"
    first = tv.find("programme")
    # The control characters and the non-character are gone; the rest is text, not markup.
    assert (
        first.find("title").text == "Fish & chips <script>alert(1)</script> ]]> \"q\" 'a' &amp; end"
    )
    assert first.find("category").text == first.find("title").text
    assert "script" in first.find("desc").text


def test_programmes_carry_the_channel_zone_offset_across_a_dst_change(tmp_path: Path) -> None:
    # Paris leaves winter time at 01:00 UTC on 29 March 2026: +0100 before, +0200 after.
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    channel = ChannelInfo(tz=PARIS)
    document = render_xmltv(channel, build_guide(now, 24, [], []))
    tv = ElementTree.fromstring(document)
    (programme,) = tv.findall("programme")
    assert programme.get("start") == "20260328130000 +0100"
    assert programme.get("stop") == "20260329140000 +0200"
    assert programme.find("title").text == INTERMISSION
    assert tv_validate(document, tmp_path).returncode == 0


def test_xmltv_times_name_the_same_instant_in_any_zone() -> None:
    moment = NOW + timedelta(minutes=90)
    assert xmltv_time(moment, UTC) == "20260301133000 +0000"
    assert xmltv_time(moment, PARIS) == "20260301143000 +0100"
    assert xmltv_time(moment, ZoneInfo("America/St_Johns")) == "20260301100000 -0330"
