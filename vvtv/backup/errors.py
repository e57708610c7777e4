"""The ways a backup, verify or restore can fail, each with the CLI exit code it maps to.

Exit codes follow the ops commands' convention: 1 = a check failed (a damaged backup,
a refused restore), 2 = usage or configuration (a path that is not a backup, a
missing state db or key). Every message says what is wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path


class BackupError(Exception):
    """Base class; ``exit_code`` is what the CLI returns for it."""

    exit_code = 1


class BackupUsageError(BackupError):
    """Wrong arguments or configuration: not a backup dir, missing source file or key."""

    exit_code = 2


class BackupVerifyError(BackupError):
    """A backup failed verification; ``file`` names the damaged file."""

    def __init__(self, file: Path, problem: str) -> None:
        super().__init__(
            f"backup verification failed: {file}: {problem}. This backup cannot be trusted: "
            f"restore from another one (list them with `ls {file.parent.parent}`)"
        )
        self.file = file
        self.problem = problem


class DaemonRunning(BackupError):
    """A restore was refused because a live daemon holds the state."""

    def __init__(self, holder: str) -> None:
        super().__init__(
            f"refusing to restore: {holder}. Stop the daemon first (`systemctl stop vvtv`, "
            "or `kill -TERM <pid>` and wait for it to exit), then rerun the restore. "
            "--force restores anyway; a daemon still running keeps writing to the replaced "
            "file, so restart it at once after a forced restore"
        )
        self.holder = holder
