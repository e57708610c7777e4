"""One commit window in a process of its own, for the test that SIGKILLs it mid-window.

    python -m tests.daemon.window_process <root> <slate template> <trace id>

Boots the channel of ``tests.daemon.harness.make_settings(root, slate)`` (its state database
already holds the plans), sweeps what a killed run left half-made (as ``vvtv run`` does at
start), runs the real ``Committer``'s window with the real media layer and exits.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from actors.committer import Committer
from actors.daemon import boot
from tests.daemon.harness import make_settings
from vvtv.media.prepare import sweep_partials


async def main(root: Path, slate: Path, trace_id: str) -> None:
    ch = await boot(make_settings(root, slate))
    try:
        sweep_partials(ch.settings.hls_dir)
        print(f"window {trace_id} started", flush=True)
        outcome = await Committer(ch).run_window(trace_id)
        print(f"window {trace_id} done: {outcome}", flush=True)
    finally:
        ch.store.close()


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
