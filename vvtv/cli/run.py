"""The `vvtv` command: the daemon (`vvtv run`) and the operator's commands.

`run` is the composition root: it reads the settings from the environment and starts
the channel's actor tree. Everything an operator does by hand (`runbook`, `soak`,
`canary`, `promote`, `go-live`, `status`) is registered by ``vvtv.cli.ops``
(from ``runbook``, ``release`` and ``status``).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from vvtv.cli.ops import register as register_ops
from vvtv.core import logs
from vvtv.core.settings import Settings, SettingsError
from vvtv.ownercard.load import validate_file

# The daemon's GC thresholds (Python's defaults: 700 net allocations, then 10 and 10).
# Young: under websocket load the default collects dozens of times a second, and each
# pass promotes the objects of the sends still in flight; those promotions then trigger
# full collections that walk every object (~300,000 with 1,000 dashboards: ~150 ms
# each, several a minute, the largest event-loop stalls once the fan-out is paced;
# ops/PERFORMANCE.md). Almost all of those objects die by reference counting moments
# later: at 10,000 they are gone before a collection looks.
# Middle: every dashboard's handler waits on a fresh chain of coroutines and events per
# frame, so each young collection promotes the ~100,000 objects of the chains waiting at
# that moment, and every middle-generation pass walks them: 35-70 ms. Those passes find
# a few hundred cyclic objects each, so running them ten times less often costs little.
GC_YOUNG_THRESHOLD = 10_000
GC_MIDDLE_THRESHOLD = 100


def tune_gc() -> None:
    """Set the daemon's GC thresholds (young and middle generations; see above)."""
    gen2 = gc.get_threshold()[2]
    gc.set_threshold(GC_YOUNG_THRESHOLD, GC_MIDDLE_THRESHOLD, gen2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vvtv", description="An automated 24/7 TV channel.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the channel daemon (dashboard on VVTV_API_BIND)")
    run.add_argument(
        "--once", action="store_true", help="run one cycle (discovery, commit), then exit"
    )
    run.add_argument("--force-nightly", action="store_true", help="run the nightly job now, once")
    run.set_defaults(func=_run)

    card = sub.add_parser("owner-card", help="OwnerCard tools")
    card_sub = card.add_subparsers(dest="card_command", required=True)
    validate = card_sub.add_parser("validate", help="check an OwnerCard file; exit 0 or 1")
    validate.add_argument("path")
    validate.add_argument("--json", action="store_true", help="one JSON object on stdout")
    validate.set_defaults(func=lambda args: validate_file(args.path, as_json=args.json))

    register_ops(sub)
    return parser


def _run(args: argparse.Namespace) -> int:
    import trio

    from actors.daemon import ChannelBusy, LeadershipLost, run_channel
    from supervisors import SupervisorEscalated
    from vvtv.ownercard.load import OwnerCardError
    from vvtv.store import StoreError

    tune_gc()
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level, as_json=settings.log_json)
        # The flags, or VVTV_RUN_ONCE / VVTV_FORCE_NIGHTLY (SPEC §4): either asks for it.
        once = args.once or settings.run_once
        nightly = args.force_nightly or settings.force_nightly
        return trio.run(lambda: run_channel(settings, run_once=once, force_nightly=nightly))
    except BaseException as exc:  # Trio wraps everything in exception groups
        leaf = _single(exc)
        if isinstance(leaf, SettingsError | StoreError | OwnerCardError | ChannelBusy):
            print(f"vvtv: cannot start: {leaf}", file=sys.stderr)
            return 2
        if isinstance(leaf, SupervisorEscalated | LeadershipLost):
            print(f"vvtv: stopped: {leaf}", file=sys.stderr)
            return 1
        raise


def _single(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


#: A reader that went away (``vvtv ... | head``): the exit status of a process that
#: SIGPIPE ended, as a shell reports it (128 + 13), and no traceback.
EXIT_BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            args = build_parser().parse_args(argv)  # --help prints, then exits
            return int(args.func(args))
        finally:
            sys.stdout.flush()  # a closed pipe fails here, not in the interpreter's exit
    except BaseException as exc:
        if not isinstance(_single(exc), BrokenPipeError):
            raise
        # Nothing more can reach the reader; point stdout at /dev/null so the interpreter's
        # own flush at exit does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
