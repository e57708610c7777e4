"""HostPolicy: the names the channel answers to (DNS rebinding) and the pages that may open
its websockets (cross-site reads of the live state)."""

from __future__ import annotations

import pytest

from tests.support.wsclient import RawWebsocket
from tests.web.conftest import Served, StubChannel, serving
from vvtv.core.settings import Settings
from vvtv.core.signing import Verifier
from vvtv.web import create_app
from vvtv.web.hosts import HostPolicy, parse_origin, split_host
from vvtv.web.limits import WebLimits

EMERGENCY = "/v1/control/emergency-mode"

POLICY = HostPolicy.build(
    bind_host="0.0.0.0",
    public_hosts=["tv.example.com", "Box.Local."],
    public_base_url="https://watch.example.org/tv",
    allowed_origins=["https://ops.example.net", "http://dash.example.net:8080/"],
)


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST.",
        "127.0.0.1",
        "[::1]",
        "192.168.1.20",  # a LAN player or HDHomeRun client reaching the machine by its IP
        "[fe80::1]",
        "tv.example.com",
        "box.local",
        "watch.example.org",  # the public base URL's name
    ],
)
def test_known_names_and_any_ip_literal_are_answered(host: str) -> None:
    parsed = split_host(host)
    assert parsed is not None and POLICY.host_allowed(parsed[0])


@pytest.mark.parametrize(
    "host", ["evil.example", "tv.example.com.evil.example", "example.com", "0.0.0.0.nip.io"]
)
def test_other_names_are_not(host: str) -> None:
    parsed = split_host(host)
    assert parsed is not None and not POLICY.host_allowed(parsed[0])


def test_a_wildcard_bind_is_not_a_name() -> None:
    assert HostPolicy.build(bind_host="0.0.0.0").names == frozenset()
    assert HostPolicy.build(bind_host="box.lan").host_allowed("box.lan")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tv.example.com:7070", ("tv.example.com", 7070)),
        ("[::1]:7070", ("::1", 7070)),
        ("127.0.0.1", ("127.0.0.1", None)),
        ("a" * 64 + ".com", None),  # a label over 63 characters
        ("tv.example.com:99999", None),
        ("tv.example.com:", None),
        ("[::1", None),
        ("[::1]x", None),
        ("user@host", None),
        ("host/path", None),
        ("", None),
        ("ünï.example", None),
    ],
)
def test_host_headers_parse_strictly(value: str, expected: object) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://localhost:7070", ("http", "localhost", 7070)),
        ("HTTPS://TV.Example.com", ("https", "tv.example.com", 443)),
        ("http://[::1]:7070", ("http", "::1", 7070)),
        ("null", None),
        ("file://", None),
        ("http://a.com/path", None),
        ("http://a.com?x", None),
        ("javascript:alert(1)", None),
    ],
)
def test_origins_parse_strictly(value: str, expected: object) -> None:
    assert parse_origin(value) == expected


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://localhost:7070", ("localhost", 7070), True),  # the dashboard itself
        ("http://127.0.0.1:7070", ("localhost", 7070), True),  # loopback, the server's port
        ("http://192.168.1.20:7070", ("192.168.1.20", 7070), True),  # same origin by IP
        ("https://tv.example.com", ("tv.example.com", None), True),  # behind a TLS proxy
        ("https://ops.example.net", ("localhost", 7070), True),  # VVTV_ALLOWED_ORIGINS
        ("http://dash.example.net:8080", ("localhost", 7070), True),
        ("http://localhost:8080", ("localhost", 7070), False),  # another local server's page
        ("https://evil.example", ("localhost", 7070), False),
        ("http://ops.example.net", ("localhost", 7070), False),  # wrong scheme
        ("null", ("localhost", 7070), False),  # sandboxed frame, file:// page
        ("http://tv.example.com:81", ("tv.example.com", None), False),
    ],
)
def test_websocket_origins(origin: str, host: tuple[str, int | None], allowed: bool) -> None:
    assert POLICY.origin_allowed(origin, host, server_port=7070) is allowed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("public_hosts", ["https://tv.example.com"]),
        ("public_hosts", ["tv.example.com:443"]),
        ("allowed_origins", ["ops.example.net"]),
        ("allowed_origins", ["https://ops.example.net/app"]),
        ("allowed_origins", ["*"]),
    ],
)
def test_malformed_settings_are_refused_naming_the_value(field: str, value: list[str]) -> None:
    with pytest.raises(ValueError, match=repr(value[0]).replace("*", r"\*")):
        HostPolicy.build(**{field: value})


# ---- live: the Host check runs before any route ------------------------------------------

EVERY_KIND_OF_ROUTE = [
    "/v1/status",  # a read endpoint, answered before quart
    "/",  # the dashboard
    "/watch",
    "/iptv/channel.m3u",
    "/discover.json",
    "/live/index.m3u8",
    "/live/master.m3u8",
    "/live/480p.m3u8",
    "/metrics",
    "/no/such/path",
]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:7070", "tv.lan.evil.example"])
async def test_an_unknown_host_is_a_421_before_any_route_runs(
    served: Served, channel: StubChannel, host: str
) -> None:
    """DNS rebinding: a page on evil.example re-points its name at the channel. Its
    requests carry Host: evil.example and get nothing: not a read, not a page, not a live
    stream, not even a validly signed control call."""
    for path in EVERY_KIND_OF_ROUTE:
        r = await served.client.get(path, headers={"Host": host})
        assert r.status_code == 421, path
        assert "VVTV_PUBLIC_HOSTS" in r.json()["error"]
        assert r.headers["x-content-type-options"] == "nosniff"
    body = b'{"enabled": true}'
    signed = served.signed(EMERGENCY, body)
    r = await served.client.post(EMERGENCY, content=body, headers={**signed, "Host": host})
    assert r.status_code == 421
    assert channel.emergency_override is None
    assert channel.audits == [] and channel.refusals == []
    ws = await RawWebsocket.open(f"{served.ws_url}/v1/ws/buffer", host=host)
    assert ws.status == 421 and "VVTV_PUBLIC_HOSTS" in ws.error()
    counted = channel.metrics.registry.get_sample_value(
        "vvtv_http_refused_total", {"reason": "unknown_host"}
    )
    assert counted == len(EVERY_KIND_OF_ROUTE) + 2


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "[::1]", "tv.lan", "MY_BOX.lan.", "192.168.1.20", "[fe80::1]"],
)
async def test_allowed_hosts_reach_every_route(served: Served, host: str) -> None:
    """The loopback names, the names in VVTV_PUBLIC_HOSTS (tv.lan, my_box.lan here) and
    any IP address: the watch page, IPTV and HDHomeRun keep working for them."""
    port = served.url.rsplit(":", 1)[1]
    for with_port in (host, f"{host}:{port}"):
        for path in ("/v1/status", "/watch", "/iptv/channel.m3u", "/discover.json", "/"):
            r = await served.client.get(path, headers={"Host": with_port})
            assert r.status_code == 200, (path, with_port, r.text[:200])


async def test_the_public_base_url_and_api_url_names_are_answered(channel: StubChannel) -> None:
    env = {
        "VVTV_PUBLIC_BASE_URL": "https://watch.example.org/tv",
        "VVTV_API_URL": "http://vvtv-box.lan:7070",
        "VVTV_PUBLIC_HOSTS": "tv.lan",
    }
    limits = WebLimits.from_settings(Settings.from_env(env))
    app = create_app(channel, verifier=Verifier("t", "s"), limits=limits)
    async with serving(app) as served:
        for host in ("watch.example.org", "vvtv-box.lan:7070", "tv.lan"):
            ok = await served.client.get("/watch", headers={"Host": host})
            assert ok.status_code == 200, host
        other = await served.client.get("/watch", headers={"Host": "example.org"})
        assert other.status_code == 421
