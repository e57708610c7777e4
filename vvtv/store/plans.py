"""Plans: the programming grid and everything discovery ever saw (SPEC §1.1–1.3)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from vvtv.core.audit import AuditType
from vvtv.core.model import AuditEvent, IllegalTransition, PlanItem, PlanState, new_id
from vvtv.store.audit import AuditMixin
from vvtv.store.base import NotFoundError
from vvtv.store.rows import dump, load, ts, ts_or_none

IN_FLIGHT = (PlanState.SCHEDULED, PlanState.RESERVED, PlanState.COMMITTED)
#: The audit reason code of an item refused for what its source said (see the runbook).
ITEM_REJECTED = "ITEM_REJECTED"

log = logging.getLogger(__name__)


@attrs.frozen
class Page:
    """One page of a listing and the total number of matches.

    ``refused`` lists ``(plan_id, why)`` for rows of the page that were not returned
    because they cannot be used (``PlanItem.defect``, or data that no longer loads).
    """

    items: list[Any]
    total: int
    refused: list[tuple[str, str]] = attrs.Factory(list)


def _row(plan: PlanItem) -> tuple[Any, ...]:
    return (
        plan.plan_id,
        plan.state.value,
        ts_or_none(plan.start_at),
        ts_or_none(plan.hour_window),
        plan.slot_type.value if plan.slot_type else None,
        plan.normalized_url,
        plan.normalized_title,
        ts(plan.discovered_at),
        ts_or_none(plan.updated_at),
        dump(plan),
    )


_UPSERT = """
INSERT INTO plans (plan_id, state, start_at, hour_window, slot_type, normalized_url,
                   normalized_title, discovered_at, updated_at, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(plan_id) DO UPDATE SET
    state = excluded.state, start_at = excluded.start_at, hour_window = excluded.hour_window,
    slot_type = excluded.slot_type, normalized_url = excluded.normalized_url,
    normalized_title = excluded.normalized_title, discovered_at = excluded.discovered_at,
    updated_at = excluded.updated_at, data = excluded.data
"""
_INSERT_NEW = _UPSERT.split("ON CONFLICT")[0] + "ON CONFLICT DO NOTHING"


class PlansMixin(AuditMixin):  # a transition and its audit event: one transaction
    def _usable(
        self, rows: Iterable[Sequence[Any]]
    ) -> tuple[list[PlanItem], list[tuple[str, str]]]:
        """Load plan rows ``(plan_id, data)``; a row that cannot be used is refused, never
        returned: one stored nonsense value (a duration of 1e12 s from an old feed) must not
        crash every reader that does arithmetic with it."""
        plans: list[PlanItem] = []
        refused: list[tuple[str, str]] = []
        for plan_id, data in rows:
            try:
                plan = load(data, PlanItem)
            except Exception as exc:  # a row of another version or hand-edited: skip it
                why = f"stored data does not load ({type(exc).__name__}: {exc})"[:300]
            else:
                defect = plan.defect()
                if defect is None:
                    plans.append(plan)
                    continue
                why = defect
            refused.append((plan_id, why))
            seen: set[str] = self.__dict__.setdefault("_refusals_logged", set())
            if plan_id not in seen:
                seen.add(plan_id)
                log.warning("plan %s refused on read: %s", plan_id, why)
        return plans, refused

    def insert_plans(self, plans: Iterable[PlanItem]) -> int:
        """Add new plans in one transaction; ones whose id already exists are left alone.

        Returns how many were inserted.
        """
        rows = [_row(p) for p in plans]
        with self.transaction() as c:
            before = c.total_changes
            c.executemany(_INSERT_NEW, rows)
            return c.total_changes - before

    def upsert_plan(self, plan: PlanItem) -> None:
        """Insert or replace a plan; a state change must be a legal transition.

        Prefer ``transition_plan`` for state changes: it also writes the audit event.
        """
        with self.transaction() as c:
            current = self.get_plan(plan.plan_id)
            if current is not None and current.state is not plan.state:
                current.transition(plan.state, plan.updated_at or current.discovered_at)
            c.execute(_UPSERT, _row(plan))

    def get_plan(self, plan_id: str) -> PlanItem | None:
        row = self._read_one("SELECT data FROM plans WHERE plan_id = ?", (plan_id,))
        return load(row[0], PlanItem) if row else None

    def require_plan(self, plan_id: str) -> PlanItem:
        plan = self.get_plan(plan_id)
        if plan is None:
            raise NotFoundError(f"unknown plan {plan_id!r}")
        return plan

    def transition_plan(
        self,
        plan_id: str,
        to: PlanState,
        at: datetime,
        *,
        actor: str = "",
        reason_code: str = "",
        audit_details: dict[str, Any] | None = None,
        **changes: Any,
    ) -> PlanItem:
        """Move a plan to ``to`` (applying ``changes``) and audit it, in one transaction.

        Raises ``IllegalTransition`` (nothing written) when SPEC §1.2 forbids it and
        ``NotFoundError`` for an unknown plan. The audit event is ``plan_transition``
        with ``{"from", "to"}`` plus ``audit_details`` in its details.
        """
        with self.transaction() as c:
            plan = self.require_plan(plan_id)
            moved = plan.transition(to, at, **changes)
            c.execute(_UPSERT, _row(moved))
            details = {"from": plan.state.value, "to": to.value, **(audit_details or {})}
            self.append_audit(
                AuditEvent(
                    event_id=new_id("audit"),
                    at=at,
                    event_type=AuditType.PLAN_TRANSITION,
                    reason_code=reason_code,
                    actor=actor,
                    plan_id=plan_id,
                    trace_id=moved.trace_id,
                    details=details,
                )
            )
            return moved

    def list_plans(
        self,
        states: Iterable[PlanState] | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = False,
    ) -> Page:
        """Plans in ``states`` (all when None) ordered by start_at then plan_id, with the total.

        Unplanned plans (no start_at) come first, or last with ``newest_first``. The
        order follows an index, so a page costs the same at any table size.
        """
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        where, params = _state_filter(states)
        order = "start_at DESC, plan_id DESC" if newest_first else "start_at, plan_id"
        if states is not None and len(params) == 1:
            order = f"state, {order}"  # lets SQLite walk ix_plans_state_start in order
        with self._lock:
            total = self._conn.execute(f"SELECT count(*) FROM plans {where}", params).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT plan_id, data FROM plans {where} ORDER BY {order} LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        plans, refused = self._usable(rows)
        return Page(items=plans, total=total, refused=refused)

    def plans_starting_between(
        self,
        start: datetime,
        end: datetime,
        states: Iterable[PlanState] = (PlanState.SCHEDULED, PlanState.RESERVED),
    ) -> list[PlanItem]:
        """Plans with ``start <= start_at < end`` in ``states``, ordered by start_at."""
        where, params = _state_filter(states)
        rows = self._read(
            f"SELECT plan_id, data FROM plans {where} AND start_at >= ? AND start_at < ? "
            "ORDER BY start_at, plan_id",
            (*params, ts(start), ts(end)),
        )
        return self._usable(rows)[0]

    def reserves_nearest(self, hour_window: datetime) -> list[PlanItem]:
        """Every RESERVED plan, those of ``hour_window`` first, then the other hours' by
        distance from it, best score first within an hour."""
        rows = self._read(
            "SELECT plan_id, data FROM plans WHERE state = ?", (PlanState.RESERVED.value,)
        )
        plans = self._usable(rows)[0]

        def distance(p: PlanItem) -> float:
            if p.hour_window is None:
                return float("inf")
            return abs((p.hour_window - hour_window).total_seconds())

        return sorted(plans, key=lambda p: (distance(p), -p.score, p.plan_id))

    def is_known(self, normalized_url: str, normalized_title: str) -> bool:
        """Whether any plan ever stored has this normalised URL or title (empty never matches)."""
        with self._lock:
            if (
                normalized_url
                and self._conn.execute(
                    "SELECT 1 FROM plans WHERE normalized_url = ? LIMIT 1", (normalized_url,)
                ).fetchone()
            ):
                return True
            return bool(
                normalized_title
                and self._conn.execute(
                    "SELECT 1 FROM plans WHERE normalized_title = ? LIMIT 1", (normalized_title,)
                ).fetchone()
            )

    def remember_probe_rejections(
        self, rejections: Iterable[tuple[str, str, str]], at: datetime
    ) -> None:
        """Record ``(normalized_url, reason_code, detail)`` of media that failed its probes
        (the latest verdict per URL wins)."""
        rows = [(url, code, detail, ts(at)) for url, code, detail in rejections if url]
        if not rows:
            return
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO probe_rejections (normalized_url, reason_code, detail, at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (normalized_url) DO UPDATE SET "
                "reason_code = excluded.reason_code, detail = excluded.detail, at = excluded.at",
                rows,
            )

    def probe_rejected_since(self, normalized_url: str, since: datetime) -> bool:
        """Whether this media failed its probes at or after ``since``."""
        return bool(
            normalized_url
            and self._read_one(
                "SELECT 1 FROM probe_rejections WHERE normalized_url = ? AND at >= ?",
                (normalized_url, ts(since)),
            )
        )

    def refuse_plan(
        self, plan_id: str, why: str, at: datetime, *, actor: str = "", trace_id: str = ""
    ) -> None:
        """Drop a stored plan that cannot be used, audited as ``ITEM_REJECTED`` with the
        field, its source and the reason. A row whose data no longer loads is dropped by
        its state column alone (nothing reads its data again)."""
        with self.transaction() as c:
            try:
                plan = self.get_plan(plan_id)
            except Exception:
                plan = None
            details: dict[str, Any] = {"field": "duration_sec", "reason": why}
            if plan is not None:
                details["source"] = plan.source_name
                details["title"] = plan.title
                details["url"] = plan.source_url
                if plan.state in (PlanState.DROPPED, PlanState.AIRED):
                    return
                self.transition_plan(
                    plan_id,
                    PlanState.DROPPED,
                    at,
                    actor=actor,
                    reason_code=ITEM_REJECTED,
                    audit_details=details,
                )
                return
            c.execute(
                "UPDATE plans SET state = ?, updated_at = ? WHERE plan_id = ?",
                (PlanState.DROPPED.value, ts(at), plan_id),
            )
            self.append_audit(
                AuditEvent(
                    event_id=new_id("audit"),
                    at=at,
                    event_type=AuditType.PLAN_TRANSITION,
                    reason_code=ITEM_REJECTED,
                    actor=actor,
                    plan_id=plan_id,
                    trace_id=trace_id,
                    details={**details, "field": "data", "to": PlanState.DROPPED.value},
                )
            )

    def count_plans(self) -> dict[PlanState, int]:
        """How many plans are in each state (every state present, zero when none)."""
        rows = self._read("SELECT state, count(*) FROM plans GROUP BY state")
        counts = dict.fromkeys(PlanState, 0)
        counts.update({PlanState(s): n for s, n in rows})
        return counts

    def plans_in_flight(self) -> list[PlanItem]:
        """Scheduled, reserved and committed plans (the grid being worked on), by start_at."""
        where, params = _state_filter(IN_FLIGHT)
        rows = self._read(
            f"SELECT plan_id, data FROM plans {where} ORDER BY start_at IS NULL, start_at, plan_id",
            params,
        )
        return self._usable(rows)[0]


def _state_filter(states: Iterable[PlanState] | None) -> tuple[str, tuple[str, ...]]:
    if states is None:
        return "WHERE 1", ()
    values = tuple(PlanState(s).value for s in states)
    if not values:
        return "WHERE 0", ()
    return f"WHERE state IN ({','.join('?' * len(values))})", values


__all__ = ["IN_FLIGHT", "ITEM_REJECTED", "IllegalTransition", "Page", "PlansMixin"]
