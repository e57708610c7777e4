"""A stand-in daemon for the SIGKILL test: runs CloudSync on a state file until killed.

Usage: python pump_child.py DB_PATH BASE_URL
"""

from __future__ import annotations

import sys

import trio

from actors.cloudsync import CloudSync
from supervisors import ChildSpec, Runtime, Supervisor
from vvtv.core.clock import TrioClock
from vvtv.store import open_store


async def main(db: str, url: str) -> None:
    clock = TrioClock()
    store = open_store(db, clock=clock)

    def factory() -> CloudSync:
        return CloudSync(store=store, clock=clock, base_url=url, token="t", secret="s")

    runtime = Runtime(Supervisor("root", [ChildSpec("cloudsync", factory)]))
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        print("ready", flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
