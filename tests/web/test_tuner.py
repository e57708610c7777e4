"""The tuner's MPEG-TS stream: the live playlist's segments back to back, each once, from
two behind the live edge, on one continuous timeline; at most TunerCount at once; a tuner
is freed when its viewer leaves; streams end at shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from tests.support.push import probe_packets, regressions
from tests.support.waiting import wait_until
from tests.web.conftest import Served, StubChannel
from vvtv.core.signing import Verifier
from vvtv.iptv.hdhomerun import TUNER_COUNT
from vvtv.outputs.rebase import Rebaser
from vvtv.web import create_app, serve

Segments = dict[str, list[bytes]]


@pytest.fixture
def media(ts_segments: Segments) -> Segments:
    """Real segments of two assets; the "slate" airs b's."""
    return {"asset-a": ts_segments["a"], "slate": ts_segments["b"]}


def segments(
    channel: StubChannel, media: Segments, first: int, names: list[tuple[str, str]]
) -> dict[str, bytes]:
    """Publish a live playlist of ``names`` (asset, file ``seg_00N.ts``: that asset's real
    segment N) numbered from ``first``."""
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", f"#EXT-X-MEDIA-SEQUENCE:{first}"]
    data = {}
    for asset, name in names:
        path = channel.segments_dir / asset / name
        path.parent.mkdir(parents=True, exist_ok=True)
        body = media[asset][int(name[4:7])]
        path.write_bytes(body)
        data[f"{asset}/{name}"] = body
        lines += ["#EXTINF:1.000,", f"/live/seg/{asset}/{name}"]
    channel.playlist = "\n".join(lines) + "\n"
    return data


class Reader:
    """Reads an endless response in pieces (httpx iterates a body only once)."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_raw()
        self._pending = b""

    async def read(self, size: int, timeout: float = 10) -> bytes:
        with trio.fail_after(timeout):
            while len(self._pending) < size:
                self._pending += await self._chunks.__anext__()
        got, self._pending = self._pending[:size], self._pending[size:]
        return got

    async def until_end(self, timeout: float) -> None:
        with trio.fail_after(timeout):
            async for _ in self._chunks:
                pass


async def test_the_stream_starts_near_the_edge_and_sends_each_new_segment_once(
    served: Served, channel: StubChannel, media: Segments, tmp_path: Path
) -> None:
    names = [("asset-a", f"seg_{i:03d}.ts") for i in range(4)]
    data = segments(channel, media, 10, names)
    expected = Rebaser()  # the stream's timeline, worked out independently
    async with served.client.stream("GET", "/iptv/channel.ts?transcode=heavy") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "video/mp2t"
        assert r.headers["cache-control"] == "no-store"
        stream = Reader(r)
        first = expected.rebase(data["asset-a/seg_002.ts"]) + expected.rebase(
            data["asset-a/seg_003.ts"]
        )
        got = await stream.read(len(first))
        assert got == first
        # The window slides: one segment leaves, an item change brings the slate.
        data = segments(channel, media, 11, [*names[1:], ("slate", "seg_000.ts")])
        slate = expected.rebase(data["slate/seg_000.ts"])
        got += await stream.read(len(slate))
        assert got[len(first) :] == slate
    # The item change is no timestamp reset for the viewer's demuxer.
    (tmp_path / "tuner.ts").write_bytes(got)
    packets = probe_packets(tmp_path / "tuner.ts")
    assert regressions(packets["video"]) == 0 and regressions(packets["audio"]) == 0
    raw = data["asset-a/seg_003.ts"] + data["slate/seg_000.ts"]
    (tmp_path / "raw.ts").write_bytes(raw)
    assert regressions(probe_packets(tmp_path / "raw.ts")["video"]) > 0  # what it would be


async def test_a_missing_or_odd_segment_is_skipped_and_the_stream_goes_on(
    served: Served, channel: StubChannel, media: Segments
) -> None:
    data = segments(channel, media, 1, [("asset-a", "seg_000.ts"), ("asset-a", "seg_001.ts")])
    (channel.segments_dir / "asset-a" / "seg_001.ts").unlink()
    expected = Rebaser()
    async with served.client.stream("GET", "/iptv/channel.ts") as r:
        stream = Reader(r)
        first = expected.rebase(data["asset-a/seg_000.ts"])
        assert await stream.read(len(first)) == first
        # A name vvtv never writes is not read, a file that is not MPEG-TS is not sent;
        # the next real segment still comes.
        channel.playlist += "#EXTINF:1.000,\n/live/seg/asset-a/.hidden.ts\n"
        channel.playlist += "#EXTINF:1.000,\n/live/seg/asset-a/seg_002.ts\n"
        channel.playlist += "#EXTINF:1.000,\n/live/seg/asset-a/seg_003.ts\n"
        (channel.segments_dir / "asset-a" / ".hidden.ts").write_bytes(b"secret")
        (channel.segments_dir / "asset-a" / "seg_002.ts").write_bytes(b"not mpeg-ts " * 100)
        (channel.segments_dir / "asset-a" / "seg_003.ts").write_bytes(media["asset-a"][3])
        after = expected.rebase(media["asset-a"][3])
        assert await stream.read(len(after)) == after


async def test_one_stream_more_than_the_tuner_count_is_refused_until_one_leaves(
    served: Served, channel: StubChannel, media: Segments
) -> None:
    segments(channel, media, 1, [("asset-a", "seg_000.ts")])
    tuner = served.app.extensions["vvtv.tuner"]

    @asynccontextmanager
    async def watching() -> AsyncIterator[Reader]:
        async with served.client.stream("GET", "/iptv/channel.ts") as r:
            assert r.status_code == 200
            stream = Reader(r)  # held open: dropping its iterator would close the response
            await stream.read(1)
            yield stream

    async with trio.open_nursery() as nursery:
        leave = [trio.Event() for _ in range(TUNER_COUNT)]

        async def viewer(i: int, task_status=trio.TASK_STATUS_IGNORED) -> None:
            async with watching():
                task_status.started()
                await leave[i].wait()

        for i in range(TUNER_COUNT):
            await nursery.start(viewer, i)
        assert tuner.active == TUNER_COUNT
        busy = await served.client.get("/iptv/channel.ts")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "10"
        assert busy.json() == {"error": f"all {TUNER_COUNT} tuners are busy"}
        leave[0].set()  # the viewer closes its connection: the tuner is free again
        await wait_until("the tuner freed", lambda: tuner.active == TUNER_COUNT - 1)
        async with watching():
            assert tuner.active == TUNER_COUNT
        for event in leave:
            event.set()
    await wait_until("every tuner freed", lambda: tuner.active == 0)


async def test_head_and_other_methods(
    served: Served, channel: StubChannel, media: Segments
) -> None:
    segments(channel, media, 1, [("asset-a", "seg_000.ts")])
    head = await served.client.head("/iptv/channel.ts")
    assert head.status_code == 200 and head.content == b""
    post = await served.client.post("/iptv/channel.ts")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    assert served.app.extensions["vvtv.tuner"].active == 0


async def test_streams_end_at_shutdown(
    channel: StubChannel, media: Segments, tmp_path: Path
) -> None:
    segments(channel, media, 1, [("asset-a", "seg_000.ts")])
    app = create_app(channel, verifier=Verifier("t", "s"))
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=shutdown))
        async with (
            httpx.AsyncClient(base_url=url, timeout=10) as client,
            client.stream("GET", "/iptv/channel.ts") as r,
        ):
            stream = Reader(r)
            await stream.read(1)
            started = trio.current_time()
            shutdown.set()
            await stream.until_end(timeout=5)  # the server ends the stream
            assert trio.current_time() - started < 2.5  # not the 3 s graceful timeout
