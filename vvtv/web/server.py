"""Serving the app with hypercorn inside the caller's nursery (STACK-NOTES).

``serve(app, bind, shutdown=event, task_status=...)`` binds (``127.0.0.1:0`` picks a
free port), reports the real URL through ``task_status``, and on ``shutdown`` first
ends the live websocket streams (1001 close frames) so hypercorn's graceful
shutdown does not wait ``graceful_timeout`` for them, then stops the server.
"""

from __future__ import annotations

import hypercorn.config
import hypercorn.trio
import trio
from quart_trio import QuartTrio

from vvtv.web.app import live_streams


def hypercorn_config(bind: str, *, graceful_timeout: float = 3.0) -> hypercorn.config.Config:
    """A quiet config (no access log; the app records request metrics instead)."""
    if not bind or ":" not in bind:
        raise ValueError(f"bind must be HOST:PORT, got {bind!r}")
    config = hypercorn.config.Config()
    config.bind = [bind]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    return config


async def serve(
    app: QuartTrio,
    bind: str,
    *,
    shutdown: trio.Event,
    graceful_timeout: float = 3.0,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown`` is set; ``task_status.started(url)`` with the bound URL."""
    config = hypercorn_config(bind, graceful_timeout=graceful_timeout)
    live_streams(app).reopen()

    async def trigger() -> None:
        await shutdown.wait()
        live_streams(app).close()

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            lambda task_status: hypercorn.trio.serve(
                app, config, shutdown_trigger=trigger, task_status=task_status
            )
        )
        task_status.started(binds[0])
