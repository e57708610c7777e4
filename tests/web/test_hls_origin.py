"""The HLS origin: playlist and segments with the right types and cache headers; no traversal."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import Served, StubChannel


@pytest.fixture
def segment(channel: StubChannel) -> bytes:
    data = b"\x47" + bytes(187) * 1  # one MPEG-TS packet is enough for an origin
    folder = channel.segments_dir / "asset-1"
    folder.mkdir(parents=True)
    (folder / "seg_00001.ts").write_bytes(data)
    # A secret next to the segments that no URL may reach.
    (channel.segments_dir.parent / "secret.ts").write_bytes(b"top secret")
    (channel.segments_dir.parent / "secret.txt").write_bytes(b"top secret")
    return data


async def test_live_playlist_is_m3u8_and_never_cached(served: Served, channel: StubChannel) -> None:
    r = await served.client.get("/live/index.m3u8")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert r.headers["cache-control"] == "no-cache"
    assert r.text == channel.playlist


async def test_segment_is_mpegts_and_cacheable(served: Served, segment: bytes) -> None:
    r = await served.client.get("/live/seg/asset-1/seg_00001.ts")
    assert r.status_code == 200
    assert r.headers["content-type"] == "video/mp2t"
    assert "max-age" in r.headers["cache-control"]
    assert r.content == segment


async def test_unknown_segment_is_404_json(served: Served, segment: bytes) -> None:
    for path in ("/live/seg/asset-1/seg_00002.ts", "/live/seg/asset-9/seg_00001.ts"):
        r = await served.client.get(path)
        assert (r.status_code, r.json()) == (404, {"error": "segment not found"})


@pytest.mark.parametrize(
    "raw_path",
    [
        "/live/seg/asset-1/..%2F..%2Fsecret.ts",
        "/live/seg/..%2F/secret.ts",
        "/live/seg/%2E%2E/secret.ts",
        "/live/seg/../secret.ts",
        "/live/seg/asset-1/../../secret.ts",
        "/live/seg/asset-1/%2e%2e%2f%2e%2e%2fsecret.ts",
        "/live/seg/asset-1/..%5C..%5Csecret.ts",
        "/live/seg/asset-1/seg_00001.ts%00.txt",
        "/live/seg/asset-1/.seg_00001.ts",
        "/live/seg/asset-1/seg_00001.txt",
        "/live/seg/%2Ftmp/secret.ts",
        "/live/seg/asset-1/%2Fetc%2Fpasswd",
        "/live/seg/asset-1//secret.ts",
    ],
)
async def test_path_traversal_is_impossible(served: Served, segment: bytes, raw_path: str) -> None:
    # Send the path byte for byte: httpx would otherwise normalise the dots away.
    request = served.client.build_request("GET", served.url)
    request.url = httpx.URL(served.url + raw_path)
    request.extensions["target"] = raw_path.encode()
    r = await served.client.send(request)
    assert r.status_code in (400, 404)
    assert b"top secret" not in r.content
    assert r.headers["content-type"].startswith("application/json")


async def test_dashboard_and_its_assets_are_served(served: Served) -> None:
    r = await served.client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "/static/app.js" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    for asset, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css")):
        a = await served.client.get(asset)
        assert a.status_code == 200
        assert kind in a.headers["content-type"]
    assert (await served.client.get("/static/../app.py")).status_code == 404


async def test_the_master_and_a_rung_playlist_are_served_like_the_live_one(
    served: Served, channel: StubChannel
) -> None:
    channel.rungs["480p"] = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n"
    for path, text in (("/live/master.m3u8", channel.master), ("/live/480p.m3u8", "#EXTM3U\n")):
        r = await served.client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.text.startswith(text)


@pytest.mark.parametrize(
    "path", ["/live/360p.m3u8", "/live/480.m3u8", "/live/480p.m3u8x", "/live/../480p.m3u8"]
)
async def test_a_rung_the_card_does_not_have_is_a_404(
    served: Served, channel: StubChannel, path: str
) -> None:
    channel.rungs["480p"] = "#EXTM3U\n"
    r = await served.client.get(path)
    assert r.status_code == 404
    assert "error" in r.json()


async def test_no_master_before_the_first_live_window(served: Served, channel: StubChannel) -> None:
    channel.master = ""
    r = await served.client.get("/live/master.m3u8")
    assert r.status_code == 503 and "error" in r.json()


async def test_rung_paths_share_one_metrics_label(served: Served, channel: StubChannel) -> None:
    for n in range(5):
        await served.client.get(f"/live/{100 + n}p.m3u8")
    text = (await served.client.get("/metrics")).text
    assert 'route="/live/<rendition>.m3u8"' in text
    assert "/live/101p.m3u8" not in text
