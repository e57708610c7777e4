"""The web app over a ``StubChannel``, served by real hypercorn in a process of its own,
under a file-descriptor limit: what an fd-exhaustion test needs (the limit is the process's).

    python -m tests.web.server_process --nofile 128 --keepalive 60 SEGMENTS_DIR

prints the bound URL on its first line, then serves until its stdin closes.
"""

from __future__ import annotations

import argparse
import resource
import sys
from functools import partial
from pathlib import Path

import trio

from tests.web.conftest import StubChannel, limits
from vvtv.core.signing import Verifier
from vvtv.web import create_app, serve


async def main(args: argparse.Namespace) -> None:
    channel = StubChannel(Path(args.segments))
    channel.topics.publish("buffer", channel.status())
    app = create_app(
        channel,
        verifier=Verifier("t", "s"),
        limits=limits(keepalive_s=args.keepalive, max_connections=args.max_connections),
    )
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        url = await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=shutdown))
        print(url, flush=True)
        # Serve until the test closes our stdin (or dies).
        await trio.to_thread.run_sync(sys.stdin.read)
        shutdown.set()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("segments")
    parser.add_argument("--nofile", type=int, required=True)
    parser.add_argument("--keepalive", type=float, default=5.0)
    parser.add_argument("--max-connections", type=int, default=1024)
    arguments = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (arguments.nofile, hard))
    trio.run(main, arguments)
