"""serve(): binds where asked, reports the URL, shuts down promptly, can serve the app again."""

from __future__ import annotations

import json
from functools import partial

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.web.conftest import SECRET, TOKEN, StubChannel
from vvtv.core.signing import Verifier
from vvtv.web import create_app, serve
from vvtv.web.server import hypercorn_config


@pytest.mark.parametrize("bind", ["", "localhost", "7070"])
def test_bind_must_be_host_and_port(bind: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        hypercorn_config(bind)


def test_config_is_quiet() -> None:
    assert hypercorn_config("127.0.0.1:0").accesslog is None


async def test_the_same_app_serves_again_after_a_shutdown(channel: StubChannel) -> None:
    app = create_app(channel, verifier=Verifier(TOKEN, SECRET))
    channel.topics.publish("runtime", {"name": "root"})
    async with trio.open_nursery() as nursery:
        for _ in range(2):
            stop = trio.Event()
            url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=stop))
            async with httpx.AsyncClient(base_url=url) as client:
                assert (await client.get("/healthz")).status_code == 200
            async with open_websocket_url(url.replace("http", "ws") + "/v1/ws/runtime") as ws:
                with trio.fail_after(5):
                    assert json.loads(await ws.get_message())["data"] == {"name": "root"}
                started = trio.current_time()
                stop.set()
                with pytest.raises(ConnectionClosed), trio.fail_after(2):
                    await ws.get_message()
            assert trio.current_time() - started < 2
