"""A tiny daemon for the signal test: prints lifecycle lines, stops on SIGTERM/SIGINT."""

from __future__ import annotations

import sys

import trio

from supervisors import Actor, ActorContext, ChildSpec, Runtime, Supervisor


class Noisy(Actor):
    mailbox_size = 4
    accepts = (str,)

    async def started(self, ctx: ActorContext) -> None:
        self.name = ctx.name

    async def handle(self, msg: str) -> None:
        pass

    async def stopping(self) -> None:
        print(f"stopping {self.name}", flush=True)


async def main() -> None:
    root = Supervisor("root", [ChildSpec(n, Noisy) for n in ("first", "second", "third")])
    runtime = Runtime(root, shutdown_budget=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        await nursery.start(runtime.serve_signals)  # returns once run() has returned
        print("up", flush=True)
    print("exited", flush=True)


if __name__ == "__main__":
    trio.run(main)
    sys.exit(0)
