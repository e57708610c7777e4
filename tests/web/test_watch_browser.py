"""The watch page in Debian's headless chromium against a small channel: the logo or the
name, now and next in the viewer's time, "Reconnecting…" while the channel is gone and
back by itself when it returns."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import trio

from tests.support.loopback import closed_port  # free now: the channel binds it
from tests.web.cdp import CHROMIUM, open_page
from tests.web.conftest import SECRET, TOKEN, StubChannel
from tests.web.test_audience import PNG
from vvtv.core.signing import Verifier
from vvtv.iptv.channel import ChannelInfo
from vvtv.web import create_app, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def text(element_id: str) -> str:
    return f"document.getElementById({element_id!r}).textContent"


async def test_the_watch_page_shows_the_channel_and_says_when_it_reconnects(
    tmp_path: Path,
) -> None:
    channel = StubChannel(tmp_path / "segments")
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    channel.channel = ChannelInfo(name="Voulez <b>Vous</b>", logo_file=logo)
    bind = f"127.0.0.1:{closed_port()}"

    gone = trio.Event()

    async def serving(shutdown: trio.Event, task_status=trio.TASK_STATUS_IGNORED) -> None:
        app = create_app(channel, verifier=Verifier(TOKEN, SECRET))
        await serve(app, bind, shutdown=shutdown, task_status=task_status)
        gone.set()  # hypercorn has closed every connection

    async with trio.open_nursery() as nursery:
        first = trio.Event()
        url = await nursery.start(serving, first)
        async with open_page(url + "/watch", tmp_path / "profile") as page:
            # The logo loaded: it stands for the name (which stays its alt text).
            await page.wait_for("!document.getElementById('logo').hidden")
            assert await page.eval("document.getElementById('channel-name').hidden") is True
            assert await page.eval("document.getElementById('logo').alt") == "Voulez <b>Vous</b>"
            assert await page.eval("document.title") == "Voulez <b>Vous</b> · live"
            await page.wait_for(f"{text('now-title')} === 'Programme 0'")
            assert await page.eval("document.querySelectorAll('#next li').length") == 3
            assert await page.eval(f"{text('next')}.includes('Programme 1')")
            # Times in the viewer's zone, HH:MM–HH:MM.
            assert len(await page.eval(text("now-time"))) >= 11
            assert await page.eval("document.getElementById('status-note').hidden") is True
            assert await page.eval("document.querySelectorAll('#channel-name b').length") == 0

            first.set()  # the channel goes away
            with trio.fail_after(10):
                await gone.wait()
            await page.eval("window.vvtvWatch.refresh()")  # rather than wait for the next poll
            await page.wait_for("!document.getElementById('status-note').hidden")
            assert await page.eval(text("status-note")) == "Reconnecting…"
            assert await page.eval("document.body.classList.contains('offline')")

            # Back on the same address: the page finds it again by itself.
            channel.channel = ChannelInfo(name="Voulez Vous", logo_url="http://127.0.0.1:9/x.png")
            nursery.start_soon(partial(serving, trio.Event()))
            await page.wait_for(
                "document.getElementById('status-note').hidden"
                f" && {text('channel-name')} === 'Voulez Vous'",
                timeout=15,
            )
            # That logo cannot load (and the page's CSP would refuse any other origin):
            # the name shows as text.
            await page.wait_for("document.getElementById('logo').hidden")
            assert await page.eval("!document.getElementById('channel-name').hidden")
        nursery.cancel_scope.cancel()
