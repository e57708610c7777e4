"""Every HTML answer carries the page's security headers, wherever it comes from; every
answer says ``nosniff`` (SPEC §10). One middleware sets them (``vvtv/web/headers.py``);
a route sets its own only where it differs (``/watch``: the logo's origin)."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import Served, StubChannel
from vvtv.iptv.channel import ChannelInfo

HTML = ["/", "/watch", "/static/index.html", "/static/watch.html"]


def policy(r: httpx.Response) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in r.headers["content-security-policy"].split(";"))
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts if p[0]}


@pytest.mark.parametrize("path", HTML)
async def test_every_html_answer_carries_the_page_headers(served: Served, path: str) -> None:
    r = await served.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = policy(r)
    assert csp["frame-ancestors"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["default-src"] == "'self'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


async def test_the_watch_page_keeps_its_own_policy(served: Served, channel: StubChannel) -> None:
    channel.channel = ChannelInfo(name="x", logo_url="https://cdn.example.com/logo.png")
    r = await served.client.get("/watch")
    csp = policy(r)
    assert csp["img-src"] == "'self' data: https://cdn.example.com"
    assert csp["frame-ancestors"] == "'none'"
    # The dashboard's policy is not loosened by it.
    assert "cdn.example.com" not in (await served.client.get("/")).text
    assert "cdn.example.com" not in policy(await served.client.get("/")).get("img-src", "")


async def test_every_answer_says_nosniff_errors_included(served: Served) -> None:
    spec = (await served.client.get("/openapi.json")).json()
    paths = [p for p, ops in spec["paths"].items() if "get" in ops and "{" not in p]
    paths = [p for p in paths if p != "/iptv/channel.ts" and not p.startswith("/v1/ws/")]
    for path in [*paths, "/no/such/page", "/static/app.js", "/v1/reports/daily?date=x"]:
        r = await served.client.get(path)
        assert r.headers.get("x-content-type-options") == "nosniff", (path, r.status_code)
        if not r.headers["content-type"].startswith("text/html"):
            assert "content-security-policy" not in r.headers or path == "/channel/logo"
