"""The channel's supervision tree as data, read from ``actors.tree.build_tree`` itself.

``tree_actors()`` builds the tree of a channel with every optional part switched on
(``full_settings``: a push output, the cloud, the edge's publisher and agent) and walks it,
calling each ``ChildSpec`` factory once the way its supervisor would on start, to learn
which children are supervisors and which are actors. Each actor comes back with its place:
its supervisor, that supervisor's strategy and intensity, its siblings in start order, and
the supervisors above. A chaos test parametrised over that list covers an actor added to
the tree by construction, and fails for a tree it cannot read.

The walk builds actors without starting them: constructors only keep their arguments (the
runtime calls ``started`` later), so nothing here opens a socket or runs ffmpeg. It needs a
``ChannelContext``, made here from a real store and card in a scratch directory.
"""

from __future__ import annotations

import ast
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from actors.context import ChannelContext, Leadership
from actors.tree import build_tree
from supervisors import Restart, Strategy, Supervisor
from tests.support.cards import folder_source, write_card
from vvtv.core.settings import Settings
from vvtv.media.port import FfmpegMedia
from vvtv.observe.metrics import ChannelMetrics
from vvtv.observe.topics import TopicHub
from vvtv.ownercard.holder import OwnerCardHolder
from vvtv.store import open_store

EPOCH = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ACTORS_DIR = Path(__file__).resolve().parents[2] / "actors"


@attrs.frozen
class Place:
    """Where one actor sits in the tree."""

    name: str
    parent: str  # its supervisor
    above: tuple[str, ...]  # the supervisors from the root down to ``parent``, inclusive
    strategy: Strategy  # the parent's
    siblings: tuple[str, ...]  # the parent's children in start order (``name`` included)
    restart: Restart
    max_restarts: int  # the parent's intensity: more than this many restarts ...
    within_seconds: float  # ... inside this window and the parent gives up

    def restarted_with_it(self) -> tuple[str, ...]:
        """The siblings its supervisor restarts when it fails (itself included)."""
        if self.strategy is Strategy.ONE_FOR_ONE:
            return (self.name,)
        start = 0 if self.strategy is Strategy.ONE_FOR_ALL else self.siblings.index(self.name)
        return self.siblings[start:]

    def __str__(self) -> str:
        return "/".join((*self.above, self.name))


def full_card(library: Path) -> dict[str, Any]:
    """A card with a folder source and every optional part of the tree that the card turns on."""
    return {
        "search_policy": {"allowlist_domains": ["localhost"]},
        "schedule_policy": {"timezone": "UTC"},
        "sources": [folder_source("library", library)],
        # A push output, switched off: its actor runs (and is crashed) without an ffmpeg, which
        # under the autojump clock would see its stall watchdog fire at every start.
        "outputs": [{"name": "chaos", "url": "rtmp://127.0.0.1:9/live/chaos", "enabled": False}],
    }


def full_env(cloud_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """What turns on the tree's optional parts in the environment: the cloud and the edge."""
    return {
        "VVTV_CLOUDFLARE_BASE_URL": cloud_url,
        "VVTV_CLOUDFLARE_TOKEN": "chaos-token",
        "VVTV_CLOUDFLARE_SECRET": "chaos-secret",
        # The storm alert must page within the test's minutes, not after the boot's grace.
        "VVTV_ALERT_STARTUP_GRACE_SECS": "0",
    }


def settings_in(root: Path, extra: Mapping[str, str] | None = None) -> Settings:
    """Settings of a channel rooted at ``root`` with every optional part on (no slate laid out)."""
    runtime = root / "runtime"
    (root / "library").mkdir(parents=True, exist_ok=True)
    card = root / "owner_card.yaml"
    if not card.exists():
        write_card(card, **full_card(root / "library"))
    return Settings.from_env(
        {
            "VVTV_RUNTIME_DIR": str(runtime),
            "VVTV_OWNER_CARD_PATH": str(card),
            "VVTV_API_BIND": "127.0.0.1:0",
            **full_env(),
            **(extra or {}),
        }
    )


class _FixedClock:
    def now(self) -> datetime:
        return EPOCH

    async def sleep_until(self, when: datetime) -> None:  # pragma: no cover - never awaited
        raise AssertionError("the tree walk never sleeps")


def _context(settings: Settings) -> ChannelContext:
    clock = _FixedClock()
    settings.state_db.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.state_db, clock=clock)
    cards, errors = OwnerCardHolder.boot(settings.owner_card_path, store, EPOCH)
    assert not errors, errors
    return ChannelContext(
        settings=settings,
        clock=clock,
        store=store,
        cards=cards,
        topics=TopicHub(),
        metrics=ChannelMetrics(),
        tz=UTC,  # type: ignore[arg-type]  # a tzinfo is all the tree's constructors read
        leadership=Leadership(owner="tree-walk"),
        media=FfmpegMedia(),
        slate_id="slate",
    )


def walk(root: Supervisor) -> list[Place]:
    """Every actor under ``root``, depth first in start order."""
    places: list[Place] = []

    def visit(sup: Supervisor, above: tuple[str, ...]) -> None:
        siblings = tuple(spec.name for spec in sup.children)
        for spec in sup.children:
            child = spec.factory()
            if isinstance(child, Supervisor):
                assert child.name == spec.name, f"{spec.name!r} builds supervisor {child.name!r}"
                visit(child, (*above, sup.name))
                continue
            places.append(
                Place(
                    name=spec.name,
                    parent=sup.name,
                    above=(*above, sup.name),
                    strategy=sup.strategy,
                    siblings=siblings,
                    restart=spec.restart,
                    max_restarts=sup.max_restarts,
                    within_seconds=sup.within_seconds,
                )
            )

    visit(root, ())
    return places


def supervisors_of(root: Supervisor) -> dict[str, Supervisor]:
    """Every supervisor of the tree by name (the root included)."""
    found: dict[str, Supervisor] = {}

    def visit(sup: Supervisor) -> None:
        found[sup.name] = sup
        for spec in sup.children:
            child = spec.factory()
            if isinstance(child, Supervisor):
                visit(child)

    visit(root)
    return found


def tree_actors() -> list[Place]:
    """The actors of a fully equipped channel's tree (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="vvtv-tree-") as scratch:
        ch = _context(settings_in(Path(scratch)))
        try:
            return walk(build_tree(ch))
        finally:
            ch.store.close()


def declared_children() -> list[tuple[str, str]]:
    """Every ``ChildSpec`` name written in ``actors/``, as (file, regex of the names it makes).

    A literal name matches itself; an f-string (``f"output:{name}"``) matches its literal
    parts with anything in between. A test compares these with the walk, so a child declared
    under a switch the walk does not turn on is not silently left out of the chaos tests.
    """
    found: list[tuple[str, str]] = []
    for path in sorted(ACTORS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and _called(node) == "ChildSpec"):
                continue
            first = node.args[0] if node.args else _keyword(node, "name")
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((path.name, re.escape(first.value)))
            elif isinstance(first, ast.JoinedStr):
                parts = [
                    re.escape(v.value) if isinstance(v, ast.Constant) else ".+"
                    for v in first.values
                ]
                found.append((path.name, "".join(parts)))
            else:
                found.append((path.name, f"<unreadable name at line {node.lineno}>"))
    return found


def _called(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)
