"""The layout's rules that `lint-imports` cannot say by itself (issue 15).

`lint-imports` (run by `bash ops/bootstrap.sh test`) checks the import contract declared in
`pyproject.toml`. These tests check the contract and the tree around it: every part of
`vvtv/` is placed in the contract (a new stage folder nobody placed would otherwise be
unconstrained), the top of `vvtv/` stays small, and no module takes part in an import cycle
(the contract's `acyclic_siblings` does not see a package that imports one of its own modules
which imports the package back).
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[2]
MAX_TOP_LEVEL_MODULES = 6
PACKAGES = ("vvtv", "actors", "supervisors")


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


def test_every_package_opens_with_a_docstring_saying_what_it_owns():
    missing = [
        str(init.relative_to(REPO))
        for package in PACKAGES
        for init in sorted((REPO / package).rglob("__init__.py"))
        if len(ast.get_docstring(ast.parse(init.read_text())) or "") < 40
    ]
    assert not missing, f"packages without a docstring saying what they own: {missing}"


def import_cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, edges = work[-1]
            for imported in edges:
                if imported not in index:
                    index[imported] = low[imported] = len(index)
                    stack.append(imported)
                    on_stack.add(imported)
                    work.append((imported, iter(sorted(imports.get(imported, ())))))
                    break
                if imported in on_stack:
                    low[module] = min(low[module], index[imported])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_the_cycle_finder_finds_a_cycle_through_a_package_and_its_own_module():
    imports = {
        "vvtv.store": {"vvtv.store.base"},
        "vvtv.store.base": {"vvtv.store", "vvtv.core"},
        "vvtv.core": set(),
        "a": {"b"},
        "b": {"c"},
        "c": {"a"},
    }
    assert sorted(import_cycles(imports)) == [["a", "b", "c"], ["vvtv.store", "vvtv.store.base"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_takes_part_in_an_import_cycle():
    # grimp reads every import statement: under TYPE_CHECKING and inside functions too.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    imports = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = import_cycles(imports)
    described = [
        " <-> ".join(cycle)
        + ": "
        + "; ".join(
            f"{a} imports {b} (line {', '.join(str(d['line_number']) for d in details)})"
            for a in cycle
            for b in sorted(imports[a] & set(cycle))
            if (details := graph.get_import_details(importer=a, imported=b))
        )
        for cycle in cycles
    ]
    assert not cycles, "import cycles (move the shared code down a layer):\n" + "\n".join(described)
