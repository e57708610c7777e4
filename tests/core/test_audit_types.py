"""The audit trail's vocabulary is one enum: every type is written somewhere, no writer or
reader spells a type as a bare string, stored names never change, and a retired name
stays readable."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from vvtv.core.audit import LEGACY, AuditType, canonical, legacy_names
from vvtv.core.clock import utc
from vvtv.core.model import AuditEvent
from vvtv.store import Store, open_store

ROOT = Path(__file__).resolve().parents[2]
ENUM_MODULE = ROOT / "vvtv" / "core" / "audit.py"

# The strings in audit_events today. A rename must keep the old one readable (LEGACY):
# this list only ever grows.
STORED_NAMES = {
    "window_discovery", "window_commit", "window_nightly",
    "discovery_summary", "discovery_rejected", "discovery_source_failed",
    "discovery_item_failed", "discovery_item_rejected", "plan_transition", "qa_result",
    "slot_unfilled", "queued",
    "entry_skipped", "aired_started", "aired_finished", "stream_disruption",
    "emergency_entered", "emergency_exited", "curator_mode", "curator_suggested",
    "curator_applied", "nightly", "autotune", "owner_card_applied", "owner_card_rejected",
    "control_call", "control_refused", "alert_notified", "alert_cleared", "webhook_refused",
    "cloud_delivery_refused", "cloud_publish_invalid", "alert_recorded",
    "edge_command", "edge_answer_refused", "edge_playlist_refused", "edge_hls_reset",
    "output_connected", "output_lost", "output_switched",
}  # fmt: skip


def production_modules() -> Iterator[tuple[Path, ast.Module]]:
    for folder in ("vvtv", "actors"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != ENUM_MODULE:
                yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _is_text(node: ast.AST) -> bool:
    """A type spelled as text: a literal, an f-string, or a choice between them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.IfExp):
        return _is_text(node.body) or _is_text(node.orelse)
    return isinstance(node, ast.BinOp) and (_is_text(node.left) or _is_text(node.right))


def _members(node: ast.AST) -> set[str]:
    return {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
        if n.value.id == "AuditType"
    }


def _write_sites(tree: ast.Module) -> Iterator[tuple[ast.AST, ast.AST]]:
    """(site, the expression giving the type) for every place an audit type is written:
    ``AuditEvent(...)``, an ``_audit(...)`` helper, an ``event_type`` property, a
    ``*_AUDIT`` table of types."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node) == "AuditEvent":
            for kw in node.keywords:
                if kw.arg == "event_type":
                    yield node, kw.value
            if len(node.args) >= 3:
                yield node, node.args[2]
        elif isinstance(node, ast.Call) and _name(node).endswith("_audit") and node.args:
            yield node, node.args[0]
        elif isinstance(node, ast.FunctionDef) and node.name == "event_type":
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    yield node, ret.value
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id.endswith("_AUDIT") for t in node.targets
        ):
            yield node, node.value


def test_no_writer_spells_an_audit_type_as_text() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{site.lineno}"
        for path, tree in production_modules()
        for site, value in _write_sites(tree)
        if _is_text(value)
    ]
    assert bad == [], "audit types must be AuditType members"


def test_no_reader_compares_or_filters_with_a_bare_string() -> None:
    bad = []
    for path, tree in production_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "event_type" and _is_text(node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                typed = any(isinstance(s, ast.Attribute) and s.attr == "event_type" for s in sides)
                if typed and any(_is_text(s) for s in sides):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bad == []


def test_every_audit_type_is_written_somewhere() -> None:
    written: set[str] = set()
    for _, tree in production_modules():
        for _, value in _write_sites(tree):
            written |= _members(value)
    assert set(AuditType.__members__) - written == set(), "types nothing writes: remove them"
    assert written - set(AuditType.__members__) == set()


def test_stored_names_never_change() -> None:
    values = {t.value for t in AuditType}
    assert STORED_NAMES - values <= set(LEGACY), "a renamed type needs a LEGACY entry"
    assert values - STORED_NAMES == set(), "a new type: add it to STORED_NAMES"
    assert all(isinstance(t, str) and str(t) == t.value for t in AuditType)


def test_canonical_names() -> None:
    assert canonical("commit_window") == "window_commit"
    assert canonical("window_commit") is AuditType.WINDOW_COMMIT
    assert canonical("something a test wrote") == "something a test wrote"
    assert legacy_names(AuditType.WINDOW_COMMIT) == ("commit_window",)
    assert legacy_names(AuditType.QUEUED) == ()


# --- rows already stored under the retired name ---------------------------------------

T0 = utc(2026, 3, 1, 12)


def event(n: int, kind: str, *, trace: str, minutes: float = 0, **details: object) -> AuditEvent:
    at = T0 + timedelta(minutes=minutes)
    return AuditEvent(f"evt-{n}", at, kind, trace_id=trace, details=dict(details))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "vvtv.db")
    yield s
    s.close()


def test_a_window_stored_under_both_names_counts_once(store: Store) -> None:
    store.append_audit_many(
        [
            # Before the enum: the Committer's row, then the Scheduler's, same trace.
            event(1, "commit_window", trace="win-1", selected=2),
            event(2, "window_commit", trace="win-1", slot="12:00", selected=2),
            event(3, "commit_window", trace="win-2", minutes=30, selected=1),
            event(4, "window_commit", trace="win-2", minutes=30, slot="12:30", selected=1),
            # Since: only the Scheduler's.
            event(5, AuditType.WINDOW_COMMIT, trace="win-3", minutes=60, slot="13:00"),
        ]
    )
    rows = store.query_audit(event_type=AuditType.WINDOW_COMMIT)
    assert [r.event_id for r in rows] == ["evt-2", "evt-4", "evt-5"]
    assert store.count_audit(event_type=AuditType.WINDOW_COMMIT) == 3
    # Asked by the old name, the same answer.
    assert [r.event_id for r in store.query_audit(event_type="commit_window")] == [
        "evt-2",
        "evt-4",
        "evt-5",
    ]
    assert store.count_audit(event_type="commit_window") == 3


def test_an_old_row_with_no_twin_is_read_under_todays_name(store: Store) -> None:
    # A committer run outside the scheduler, or a crash between the two writes.
    store.append_audit_many(
        [
            event(1, "commit_window", trace="win-1", selected=3),
            event(2, "commit_window", trace="", minutes=5, selected=1),  # no trace to match
            event(3, "window_commit", trace="win-9", minutes=10),
        ]
    )
    rows = store.query_audit(event_type=AuditType.WINDOW_COMMIT)
    assert [(r.event_id, r.event_type) for r in rows] == [
        ("evt-1", AuditType.WINDOW_COMMIT),
        ("evt-2", AuditType.WINDOW_COMMIT),
        ("evt-3", AuditType.WINDOW_COMMIT),
    ]
    assert rows[0].details == {"selected": 3}
    # Other types are untouched by the legacy rule.
    assert store.count_audit(event_type=AuditType.QUEUED) == 0
    assert store.count_audit() == 3
