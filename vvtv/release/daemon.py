"""Start a daemon for a release check and stop it afterwards (``--start-daemon``).

As the original scripts did, the release tools can bring up their own channel: the
same command line as ``vvtv run``, the same environment, output to a log file in the
artifacts directory. It is ready when ``GET /v1/status`` answers; it is stopped with
SIGTERM (the daemon's graceful shutdown), then SIGKILL after ``stop_timeout``.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from vvtv.release import api
from vvtv.release.errors import ReleaseError


@attrs.define
class DaemonHandle:
    """A daemon this tool started; ``stop()`` is idempotent."""

    process: trio.Process
    log_path: Path
    stop_timeout: float = 30.0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def stop(self) -> int:
        """SIGTERM, wait, SIGKILL if it will not go; its exit status."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            with trio.move_on_after(self.stop_timeout):
                await self.process.wait()
            if self.running:
                self.process.kill()
        with trio.CancelScope(shield=True):
            status = await self.process.wait()
        return status


async def _answers(base: str) -> bool:
    try:
        async with api.client(2.0) as http:
            await api.get_json(http, base, "/v1/status")
    except api.ApiError:
        return False
    return True


@asynccontextmanager
async def running_daemon(
    cmd: Sequence[str],
    env: Mapping[str, str],
    base: str,
    log_path: Path,
    *,
    ready_timeout: float = 60.0,
    stop_timeout: float = 30.0,
) -> AsyncIterator[DaemonHandle]:
    """Spawn ``cmd`` and yield once its API answers at ``base``; stop it on exit."""
    if await _answers(base):
        raise ReleaseError(
            f"a daemon already answers at {base}: drop --start-daemon to use it, or stop it "
            "(systemctl stop vvtv) and retry",
            2,
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = await trio.lowlevel.open_process(
            list(cmd), env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    handle = DaemonHandle(process, log_path, stop_timeout)
    try:
        with trio.move_on_after(ready_timeout) as waiting:
            while not await _answers(base):
                if not handle.running:
                    raise ReleaseError(
                        f"the daemon exited with {process.returncode} before its API answered "
                        f"at {base}: read {log_path}"
                    )
                await trio.sleep(0.2)
        if waiting.cancelled_caught:
            raise ReleaseError(
                f"the daemon's API did not answer at {base} within {ready_timeout:g}s: read "
                f"{log_path}, and check that VVTV_API_BIND matches VVTV_API_URL"
            )
        yield handle
    finally:
        await handle.stop()
