"""Failures of the release tools, with the exit code the CLI returns for each."""

from __future__ import annotations


class ReleaseError(Exception):
    """A release step that cannot go on: 1 = a check failed, 2 = usage or configuration."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
