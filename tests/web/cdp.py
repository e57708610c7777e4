"""A tiny Chrome DevTools Protocol client over trio-websocket, for the dashboard test.

Starts Debian's headless chromium with ``--remote-debugging-port=0``, reads the port
it picked from ``DevToolsActivePort``, attaches to the page and evaluates JavaScript.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,1100",
    "--remote-debugging-port=0",
]


class Page:
    def __init__(self, ws: WebSocketConnection) -> None:
        self._ws = ws
        self._next_id = 0

    async def call(self, method: str, **params: Any) -> dict:
        self._next_id += 1
        msg_id = self._next_id
        await self._ws.send_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self._ws.get_message())
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    async def eval(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def click(self, selector: str) -> None:
        """A real mouse click in the middle of ``selector`` (a user gesture: a page may then
        start playback with sound)."""
        box = await self.eval(
            f"(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            await self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=1,
            )

    async def wait_for(self, expression: str, timeout: float = 15.0, every: float = 0.02) -> Any:
        """Poll ``expression`` until it is truthy; returns its value.

        Errors count as "not yet" (the page may still be loading) until the timeout,
        which then names the expression and the last error.
        """
        last_error: Exception | None = None
        try:
            with trio.fail_after(timeout):
                while True:
                    try:
                        value = await self.eval(expression)
                    except RuntimeError as exc:
                        last_error, value = exc, None
                    if value:
                        return value
                    await trio.sleep(every)
        except trio.TooSlowError:
            raise AssertionError(
                f"not true within {timeout}s: {expression} (last error: {last_error})"
            ) from None

    async def screenshot(self, path: Path) -> None:
        """The whole page, not just the viewport."""
        size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = await self.call(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
        )
        path.write_bytes(base64.b64decode(shot["data"]))


@asynccontextmanager
async def open_page(url: str, profile: Path) -> AsyncIterator[Page]:
    """Headless chromium showing ``url``; yields a CDP ``Page``; kills the browser after."""
    profile.mkdir(parents=True, exist_ok=True)
    process = await trio.lowlevel.open_process(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        with trio.fail_after(30):
            while not port_file.exists() or not port_file.read_text().strip():
                await trio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        async with httpx.AsyncClient() as client:
            with trio.fail_after(30):
                while True:
                    targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
                    pages = [t for t in targets if t.get("type") == "page"]
                    if pages:
                        break
                    await trio.sleep(0.05)
        async with open_websocket_url(
            pages[0]["webSocketDebuggerUrl"], max_message_size=64 * 2**20
        ) as ws:
            yield Page(ws)
    finally:
        process.kill()
        with trio.move_on_after(5):
            await process.wait()
