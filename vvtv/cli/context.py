"""What the operator's commands read from outside the program: the settings, the wall clock,
and how to start this vvtv's daemon.

The commands are a composition root: they read these here and hand explicit paths, times
and command lines to ``vvtv.backup``, ``vvtv.backup.keys`` and ``vvtv.release``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from vvtv.cli.output import EXIT_USAGE, OpsError
from vvtv.core.settings import Settings, SettingsError


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    try:
        return Settings.from_env(env)
    except SettingsError as exc:
        message = f"{exc}\nfix the environment (see ops/vvtv.env.example)"
        raise OpsError(message, EXIT_USAGE) from exc


def wall_now() -> datetime:
    """The operator tools' clock: this module is a composition root, so it reads the wall."""
    return datetime.now(UTC)


def stamp() -> str:
    """The wall time as a directory name: ``20261122T030000Z``."""
    return wall_now().strftime("%Y%m%dT%H%M%SZ")


def daemon_command() -> list[str]:
    """How to start this vvtv: the same interpreter, so the same install and venv."""
    return [sys.executable, "-m", "vvtv", "run"]


def daemon_cmd(args: argparse.Namespace) -> list[str]:
    """``--daemon-cmd`` split like a shell would, else ``daemon_command()``."""
    given = getattr(args, "daemon_cmd", None)
    return shlex.split(given) if given else daemon_command()


def daemon_options(parser: argparse.ArgumentParser) -> None:
    """``--start-daemon`` and ``--daemon-cmd``, for the commands that can run their own daemon."""
    parser.add_argument(
        "--start-daemon",
        action="store_true",
        help="start `vvtv run` with this environment for the check, stop it afterwards",
    )
    parser.add_argument(
        "--daemon-cmd",
        default=None,
        help="command line that starts the daemon (default: this Python's `-m vvtv run`)",
    )
