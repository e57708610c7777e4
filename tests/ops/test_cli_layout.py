"""Where the operator commands look for the project they belong to."""

from __future__ import annotations

from vvtv.cli.release import PROJECT_ROOT


def test_go_live_runs_the_test_suite_from_the_repository_root() -> None:
    # go-live phase1 runs `bash ops/bootstrap.sh test` in PROJECT_ROOT; the move of the CLI
    # into vvtv/cli/ had left it pointing at vvtv/.
    assert (PROJECT_ROOT / "ops" / "bootstrap.sh").is_file()
    assert (PROJECT_ROOT / "pyproject.toml").is_file()
