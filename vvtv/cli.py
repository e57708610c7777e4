"""The `vvtv` command: the composition root for the daemon and the operator's commands."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vvtv", description="An automated 24/7 TV channel.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the channel daemon")
    run.add_argument("--once", action="store_true", help="run one cycle, then exit")
    run.add_argument("--force-nightly", action="store_true", help="run the nightly job now, once")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        print("vvtv: the daemon is not assembled yet", file=sys.stderr)
        return 1
    return 2
