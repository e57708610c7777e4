"""The `vvtv` command: `vvtv run` (the composition root) and the operator's commands."""

from vvtv.cli.run import main

__all__ = ["main"]
