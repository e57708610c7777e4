"""The layout's rules that `lint-imports` cannot say by itself (issue 15).

`lint-imports` (run by `bash ops/bootstrap.sh test`) checks the import contract declared in
`pyproject.toml`. These tests check the contract and the tree around it: every part of
`vvtv/` is placed in the contract (a new stage folder nobody placed would otherwise be
unconstrained) and the top of `vvtv/` stays small.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_TOP_LEVEL_MODULES = 6


def contract(contract_id: str) -> dict:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (found,) = [c for c in config["contracts"] if c["id"] == contract_id]
    return found


def layer_names(layers: list[str]) -> list[str]:
    """The module names in a layers contract, without `|`/`:` and the optional `( )`."""
    return [name.strip().strip("()") for layer in layers for name in re.split(r"[|:]", layer)]


def vvtv_parts(root: Path) -> set[str]:
    """What sits directly in `vvtv/`: its packages (any folder holding Python) and modules."""
    parts = set()
    for child in root.iterdir():
        if child.is_dir() and child.name != "__pycache__" and any(child.rglob("*.py")):
            parts.add(f"vvtv.{child.name}")
        elif child.suffix == ".py" and child.name != "__init__.py":
            parts.add(f"vvtv.{child.stem}")
    return parts


def test_every_part_of_vvtv_is_placed_in_the_import_contract():
    placed = set(layer_names(contract("layers")["layers"]))
    unplaced = sorted(vvtv_parts(REPO / "vvtv") - placed)
    assert not unplaced, (
        f"{', '.join(unplaced)} not placed in the import contract: add each to the layers of "
        "[[tool.importlinter.contracts]] id = 'layers' in pyproject.toml, at the level of its "
        "stage (README.md, 'Where a new folder goes'); lint-imports does not check a package "
        "the contract does not name"
    )


def test_the_contract_names_no_part_twice():
    names = layer_names(contract("layers")["layers"])
    assert len(names) == len(set(names))


def test_the_check_sees_a_new_folder_and_a_new_top_level_module(tmp_path):
    # The walk the first test relies on: a folder of Python and a module, not a cache.
    (tmp_path / "outputs" / "rtmp").mkdir(parents=True)
    (tmp_path / "outputs" / "rtmp" / "push.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "static").mkdir()
    (tmp_path / "kernel.py").write_text("")
    (tmp_path / "__init__.py").write_text("")
    assert vvtv_parts(tmp_path) == {"vvtv.outputs", "vvtv.kernel"}


def test_the_top_of_vvtv_stays_small():
    modules = sorted(p.name for p in (REPO / "vvtv").glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, (
        f"{len(modules)} modules at the top of vvtv/ ({', '.join(modules)}): at most "
        f"{MAX_TOP_LEVEL_MODULES}; put new code in the folder of its stage"
    )
