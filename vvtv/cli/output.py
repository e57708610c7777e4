"""How the operator's commands answer: ``key=value`` lines or one JSON object, progress on
stderr, and exit codes.

Output: ``key=value`` lines on stdout as in the original runbook (``--json``: one JSON
object instead); progress on stderr. Exit codes: 0 ok, 1 a check or verdict failed,
2 usage or configuration error. Every error says what is wrong and what to do: a handler
raises ``OpsError`` (or a known error of the layer below) and ``guarded`` /
``release_guard`` turn it into the message and the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from vvtv import backup
from vvtv.backup import keys
from vvtv.release import ReleaseError, api

Handler = Callable[[argparse.Namespace], int]
Fields = Mapping[str, object]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class OpsError(Exception):
    """An operation that cannot go on; ``exit_code`` is 1 (check failed) or 2 (usage)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ",".join(_text(v) for v in value)
    return str(value)


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def emit(args: argparse.Namespace, fields: Fields) -> None:
    """Print the result: ``key=value`` lines, or one JSON object with ``--json``."""
    if getattr(args, "json", False):
        print(json.dumps({k: _jsonable(v) for k, v in fields.items()}, sort_keys=False))
    else:
        for key, value in fields.items():
            print(f"{key}={_text(value)}")
    sys.stdout.flush()


def fail(args: argparse.Namespace, message: str, exit_code: int) -> int:
    """Report an error on stderr (and as JSON on stdout with ``--json``); return the code."""
    print(f"vvtv: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": message, "exit_code": exit_code}))
    return exit_code


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def guarded(handler: Callable[[argparse.Namespace], Fields | int]) -> Handler:
    """Run a handler that returns its fields; map every known failure to its exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            result = handler(args)
        except OpsError as exc:
            return fail(args, str(exc), exc.exit_code)
        except backup.BackupError as exc:
            return fail(args, str(exc), exc.exit_code)
        except keys.KeyStoreError as exc:
            return fail(args, str(exc), EXIT_USAGE)
        except OSError as exc:
            return fail(args, f"{exc}: check the path and its permissions", EXIT_FAILED)
        if isinstance(result, int):
            return result
        emit(args, result)
        return EXIT_OK

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def release_guard(handler: Callable[[argparse.Namespace], Fields | int]) -> Handler:
    """``guarded``, and the release tools' failures: a verdict or an API that did not answer."""

    def run(args: argparse.Namespace) -> int:
        try:
            return guarded(handler)(args)
        except ReleaseError as exc:
            return fail(args, str(exc), exc.exit_code)
        except api.ApiError as exc:
            return fail(args, str(exc), EXIT_FAILED)

    run.__name__ = handler.__name__
    return run


def common_options() -> argparse.ArgumentParser:
    """The options every command shares (``--json``), as a parent parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object")
    return common
