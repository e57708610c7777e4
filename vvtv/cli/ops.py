"""The operator's commands: ``vvtv runbook <command>``, ``soak``, ``canary``, ``promote``,
``go-live phase1|phase2|phase3``, ``status`` (SPEC §8, issue 9) and ``cloud`` (the edge).

``register(subparsers)`` adds them to the ``vvtv`` parser, each from the module of its
subject: ``vvtv.cli.runbook``, ``vvtv.cli.release``, ``vvtv.cli.status``,
``vvtv.cli.cloud``; how they print
and exit is ``vvtv.cli.output``, what they read from outside ``vvtv.cli.context``.
"""

from __future__ import annotations

import argparse

from vvtv.cli import cloud, release, runbook, status
from vvtv.cli.output import common_options


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``runbook``, ``soak``, ``canary``, ``promote``, ``go-live``, ``status``, ``cloud``."""
    common = common_options()
    runbook.register(subparsers, common)
    release.register(subparsers, common)
    status.register(subparsers, common)
    cloud.register(subparsers, common)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (tests, and ``python -m vvtv.cli.ops``)."""
    parser = argparse.ArgumentParser(prog="vvtv")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
