"""The audience's routes over real HTTP: the watch page and its headers, the public status,
the logo, the M3U (read back by ipytv), the XMLTV guide (tv_validate_file), HDHomeRun."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import trio
from defusedxml import ElementTree
from ipytv import playlist

from tests.iptv.xmltv_check import tv_validate
from tests.web.conftest import NOW, Served, StubChannel
from vvtv.core.model import PlanItem, PlanState
from vvtv.core.signing import Verifier
from vvtv.iptv.channel import ChannelInfo
from vvtv.iptv.hdhomerun import device_id_is_valid
from vvtv.web import create_app, serve

STATIC = Path(__file__).resolve().parents[2] / "vvtv" / "web" / "static"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


def plan(minutes_ahead: float, title: str, state: PlanState = PlanState.SCHEDULED) -> PlanItem:
    return PlanItem(
        plan_id=f"plan-{title}",
        source_url="https://media.example.com/private/video.mp4",
        title=title,
        duration_sec=600,
        discovered_at=NOW - timedelta(days=1),
        state=state,
        theme="city",
        start_at=NOW + timedelta(minutes=minutes_ahead),
    )


# ---- the watch page -------------------------------------------------------------------


class _Page(HTMLParser):
    """What a page loads and holds: script/style/media references, inline code, inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.inputs: list[dict] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]
        self.handlers += [k for k, _ in attrs if k.startswith("on")]
        if "style" in a:
            self.styles.append(tag)
        if tag == "script":
            self._in_script = "src" not in a
        if tag in ("input", "textarea", "form"):
            self.inputs.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


@pytest.mark.parametrize("page", ["watch.html", "index.html"])
def test_pages_load_only_the_channels_own_files_and_no_inline_code(page: str) -> None:
    parsed = _Page()
    parsed.feed((STATIC / page).read_text())
    assert parsed.inline_scripts == 0 and parsed.handlers == [] and parsed.styles == []
    for ref in parsed.refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref  # this origin only
        if ref.startswith("/static/"):
            assert (STATIC / ref.removeprefix("/static/")).is_file(), ref
    assert "/static/vendor/hls.min.js" in parsed.refs and "/static/player.js" in parsed.refs


@pytest.mark.parametrize("name", ["watch.js", "player.js", "app.js", "watch.css", "style.css"])
def test_our_scripts_and_styles_reach_nothing_outside_the_origin(name: str) -> None:
    text = (STATIC / name).read_text()
    assert not re.search(r"(?<![\w/])(https?:)?//[a-z0-9]", text.replace("://", ":/X/"))
    assert not re.search(r"https?://|wss?://\$\{(?!location)", text), name
    assert "eval(" not in text and "new Function" not in text and "innerHTML" not in text


def test_the_watch_page_is_safe_to_expose_and_has_no_control(tmp_path: Path) -> None:
    parsed = _Page()
    text = (STATIC / "watch.html").read_text() + (STATIC / "watch.js").read_text()
    parsed.feed((STATIC / "watch.html").read_text())
    assert parsed.inputs == []  # no token field, no form
    for word in ("token", "secret", "/v1/control", "/v1/ws/", "sessionStorage", '/v1/status"'):
        assert word not in text, word


async def test_watch_is_served_with_its_strict_headers(served: Served) -> None:
    r = await served.client.get("/watch")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<video id="video"' in r.text
    csp = dict(
        part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";")
    )
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["media-src"] == "'self' blob:"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert csp["img-src"] == "'self' data:"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    dashboard = await served.client.get("/")
    assert dashboard.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in dashboard.headers["content-security-policy"]


async def test_a_logo_url_is_the_only_other_origin_the_page_may_load(
    served: Served, channel: StubChannel
) -> None:
    channel.channel = ChannelInfo(name="x", logo_url="https://cdn.example.com:8443/l/logo.png")
    r = await served.client.get("/watch")
    assert (
        "img-src 'self' data: https://cdn.example.com:8443;" in r.headers["content-security-policy"]
    )


async def test_the_static_player_files_are_served(served: Served) -> None:
    for path, kind in (
        ("/static/vendor/hls.min.js", "javascript"),
        ("/static/vendor/hls.worker.js", "javascript"),
        ("/static/player.js", "javascript"),
        ("/static/watch.js", "javascript"),
        ("/static/watch.css", "css"),
    ):
        r = await served.client.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"], path


# ---- public status ----------------------------------------------------------------------


async def test_the_public_status_shows_titles_and_times_and_nothing_operational(
    served: Served, channel: StubChannel
) -> None:
    r = await served.client.get("/v1/public/status")
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    body = r.json()
    assert set(body) == {"channel", "state", "timestamp", "now", "next"}
    assert body["channel"] == {"id": "vvtv.vvtv", "name": "vvtv", "logo": None}
    assert body["state"] == "on_air"
    assert body["now"]["title"] == "Programme 0"
    assert [p["title"] for p in body["next"]] == ["Programme 1", "Programme 2", "Programme 3"]
    assert body["next"][1]["intermission"] is False  # a reserve is still a programme
    text = r.text
    for secret in ("asset-", "plan-", "entry", "/live/seg", "http", "buffer", "EMERGENCY"):
        assert secret not in text, secret
    for query in ("?a=1", "?%00=%ff", "?" + "x" * 5000):
        assert (await served.client.get("/v1/public/status" + query)).status_code == 200
    assert (await served.client.post("/v1/public/status")).status_code == 405


async def test_the_public_status_gives_a_local_logo_as_a_path(
    served: Served, channel: StubChannel, tmp_path: Path
) -> None:
    channel.channel = ChannelInfo(name="x", logo_file=tmp_path / "logo.png")
    assert (await served.client.get("/v1/public/status")).json()["channel"]["logo"] == (
        "/channel/logo"
    )


# ---- the logo -------------------------------------------------------------------------


async def test_a_local_logo_is_served_with_its_type_and_a_missing_one_is_a_404(
    served: Served, channel: StubChannel, tmp_path: Path
) -> None:
    assert (await served.client.get("/channel/logo")).status_code == 404  # none configured
    logo = tmp_path / "logo.png"
    channel.channel = ChannelInfo(name="x", logo_file=logo)
    missing = await served.client.get("/channel/logo")
    assert missing.status_code == 404 and "missing" in missing.json()["error"]
    logo.write_bytes(PNG)
    r = await served.client.get("/channel/logo")
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    logo.write_bytes(PNG + b"\0" * (2 * 1024 * 1024))
    assert (await served.client.get("/channel/logo")).status_code == 404  # too large
    channel.channel = ChannelInfo(name="x", logo_file=tmp_path)  # a folder
    assert (await served.client.get("/channel/logo")).status_code == 404
    channel.channel = ChannelInfo(name="x", logo_file=tmp_path / "page.html")
    (tmp_path / "page.html").write_text("<script>alert(1)</script>")
    assert (await served.client.get("/channel/logo")).status_code == 404  # not an image type


# ---- M3U ----------------------------------------------------------------------------------


async def test_the_m3u_points_at_the_stream_and_guide_of_the_address_asked(
    served: Served, tmp_path: Path
) -> None:
    r = await served.client.get("/iptv/channel.m3u", headers={"Host": "tv.lan:7070"})
    assert r.status_code == 200 and r.headers["vary"] == "Host"
    assert "private" in r.headers["cache-control"]
    path = tmp_path / "c.m3u"
    path.write_text(r.text)
    pl = playlist.loadf(str(path))
    assert pl.get_attributes()["url-tvg"] == "http://tv.lan:7070/iptv/xmltv.xml"
    (ch,) = list(pl)
    assert ch.url == "http://tv.lan:7070/live/index.m3u8"
    assert ch.attributes["tvg-id"] == "vvtv.vvtv"


async def test_with_lower_rungs_the_m3u_points_at_the_master_playlist(
    served: Served, channel: StubChannel, tmp_path: Path
) -> None:
    channel.channel = ChannelInfo(name="x", renditions=("480p",))
    r = await served.client.get("/iptv/channel.m3u", headers={"Host": "tv.lan:7070"})
    path = tmp_path / "c.m3u"
    path.write_text(r.text)
    (ch,) = list(playlist.loadf(str(path)))
    assert ch.url == "http://tv.lan:7070/live/master.m3u8"


@pytest.mark.parametrize(
    "host",
    [
        "",
        "evil.example/x",
        'a"b',
        "a b",
        "h:99999",
        "h:1:2",
        "user@h",
        "h\\x",
        "[::1",
        "x" * 300,
    ],
)
async def test_a_malformed_host_header_is_refused(served: Served, host: str) -> None:
    for path in ("/iptv/channel.m3u", "/iptv/xmltv.xml", "/discover.json", "/lineup.json"):
        r = await served.client.get(path, headers={"Host": host})
        assert r.status_code == 400, (path, host)
        assert "Host" in r.json()["error"]


async def test_a_configured_public_base_url_wins_over_the_host_header(
    channel: StubChannel,
) -> None:
    app = create_app(
        channel, verifier=Verifier("t", "s"), public_base_url="https://tv.example.com/vv"
    )
    async with trio.open_nursery() as nursery:
        shutdown = trio.Event()
        url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=shutdown))
        async with httpx.AsyncClient(base_url=url) as client:
            r = await client.get("/iptv/channel.m3u", headers={"Host": "10.9.8.7:7070"})
            assert "10.9.8.7" not in r.text
            assert "https://tv.example.com/vv/live/index.m3u8" in r.text
            assert "vary" not in r.headers
            lineup = (await client.get("/lineup.json", headers={"Host": "[fe80::1]"})).json()
            assert lineup[0]["URL"] == "https://tv.example.com/vv/iptv/channel.ts"
        shutdown.set()


# ---- XMLTV --------------------------------------------------------------------------------


async def test_the_xmltv_guide_validates_and_lists_the_timeline_then_the_plans(
    served: Served, channel: StubChannel, tmp_path: Path
) -> None:
    channel.plans_ahead = [
        plan(55, "Desert roads"),
        plan(65, '<Night> & "trains"\x07', PlanState.COMMITTED),
        plan(75, "Already aired elsewhere", PlanState.AIRED),
    ]
    r = await served.client.get("/iptv/xmltv.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    result = tv_validate(r.content, tmp_path)
    assert result.returncode == 0, result.stdout
    tv = ElementTree.fromstring(r.content)
    titles = [p.find("title").text for p in tv.findall("programme")]
    assert titles == [
        *(f"Programme {i}" for i in range(6)),
        "Desert roads",
        '<Night> & "trains"',
        "Intermission",
    ]
    assert tv.find("programme").get("start") == "20260301120000 +0000"
    assert tv.findall("programme")[-1].get("stop") == "20260302120000 +0000"
    assert tv.find("channel/url").text.endswith("/watch")
    (start, end) = channel.plan_windows[-1]
    assert start < NOW and end == NOW + timedelta(hours=24)
    assert "media.example.com" not in r.text


async def test_the_guide_reaches_as_far_as_asked(served: Served, channel: StubChannel) -> None:
    r = await served.client.get("/iptv/xmltv.xml", params={"hours": "72"})
    last = ElementTree.fromstring(r.content).findall("programme")[-1]
    assert last.get("stop") == "20260304120000 +0000"
    assert channel.plan_windows[-1][1] == NOW + timedelta(hours=72)


@pytest.mark.parametrize(
    "query",
    [
        "hours=0",
        "hours=169",
        "hours=abc",
        "hours=",
        "hours=1e3",
        "hours=-5",
        "hours=24%00",
        "hours=%ff",
        "hours=" + "9" * 400,
        "hours=2.5",
        "hours= 24",
    ],
)
async def test_a_bad_guide_horizon_is_a_400_naming_hours(served: Served, query: str) -> None:
    r = await served.client.get(f"/iptv/xmltv.xml?{query}")
    assert r.status_code == 400
    assert r.json()["error"].startswith("hours must be a whole number from 1 to 168")


# ---- HDHomeRun ------------------------------------------------------------------------------


async def test_the_hdhomerun_emulation_answers_as_a_tuner(served: Served) -> None:
    host = {"Host": "192.168.1.20:7070"}
    device = (await served.client.get("/discover.json", headers=host)).json()
    assert device["BaseURL"] == "http://192.168.1.20:7070"
    assert device["LineupURL"] == "http://192.168.1.20:7070/lineup.json"
    assert device_id_is_valid(device["DeviceID"]) and isinstance(device["TunerCount"], int)
    lineup = (await served.client.get("/lineup.json", headers=host)).json()
    assert lineup[0]["URL"] == "http://192.168.1.20:7070/iptv/channel.ts"
    status = (await served.client.get("/lineup_status.json")).json()
    assert status["ScanInProgress"] == 0
    xml = await served.client.get("/device.xml", headers=host)
    assert "<URLBase>http://192.168.1.20:7070</URLBase>" in xml.text
    assert (await served.client.post("/lineup.post?scan=start")).status_code == 200
    assert (await served.client.post("/lineup.post?scan=abort")).status_code == 200
    for bad in ("", "?scan=", "?scan=START", "?scan=%00", "?other=1"):
        r = await served.client.post(f"/lineup.post{bad}")
        assert r.status_code == 400 and "scan must be" in r.json()["error"], bad
    assert (await served.client.get("/lineup.post?scan=start")).status_code == 405
    assert (await served.client.post("/discover.json")).status_code == 405


async def test_a_host_the_framework_cannot_parse_is_a_400_on_every_path(served: Served) -> None:
    for path in ("/", "/watch", "/v1/control/emergency-mode", "/live/seg/a/b.ts"):
        for host in ("x" * 64 + ".example", "a." + "b" * 70):
            r = await served.client.get(path, headers={"Host": host})
            assert r.status_code == 400 and r.json() == {"error": "malformed Host header"}
    ok = await served.client.get("/watch", headers={"Host": "my_box.lan:7070"})
    assert ok.status_code == 200


async def test_every_framework_answer_says_nosniff_and_no_referrer(
    served: Served, channel: StubChannel
) -> None:
    for path in ("/static/player.js", "/static/vendor/hls.min.js", "/no/such/path", "/watch"):
        r = await served.client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
