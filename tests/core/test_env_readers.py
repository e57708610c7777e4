"""``vvtv.core.settings`` is the only reader of the process environment: every other module
of the installed packages gets its configuration from a ``Settings`` value."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "vvtv" / "core" / "settings.py"
READERS = {"environ", "environb", "getenv", "getenvb"}


def env_reads(tree: ast.Module) -> list[int]:
    """Lines that touch ``os.environ``/``os.getenv`` (by attribute or by import)."""
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in READERS
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in READERS for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_but_settings_reads_the_environment() -> None:
    found = []
    for package in ("vvtv", "actors", "supervisors"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == SETTINGS:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            found += [f"{path.relative_to(ROOT)}:{line}" for line in env_reads(tree)]
    assert found == [], "read the environment through vvtv.core.settings.Settings"


def test_the_check_sees_each_way_of_reading() -> None:
    for source in (
        "import os\nos.environ.get('X')",
        "import os\nos.getenv('X')",
        "import os\nenv = dict(os.environ)",
        "from os import environ",
        "from os import getenv as g",
    ):
        assert env_reads(ast.parse(source)), source
    assert env_reads(ast.parse(SETTINGS.read_text(encoding="utf-8")))  # the one reader
    assert not env_reads(ast.parse("import os\nos.getpid()"))
