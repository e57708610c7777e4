"""Builders of model values for the state tests (kept out of conftest so tests import them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vvtv.core.model import AssetItem, PlanItem, PlanState, QAReport, QAStatus, QueueEntry

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def plan(plan_id: str, **kw: Any) -> PlanItem:
    fields: dict[str, Any] = {
        "source_url": f"https://example.com/{plan_id}.mp4",
        "title": f"Title {plan_id}",
        "duration_sec": 600.0,
        "discovered_at": T0,
        "normalized_url": f"example.com/{plan_id}.mp4",
        "normalized_title": f"title {plan_id}",
        "theme": "nature",
    }
    fields.update(kw)
    return PlanItem(plan_id=plan_id, **fields)


def scheduled(plan_id: str, start: datetime, **kw: Any) -> PlanItem:
    kw.setdefault("state", PlanState.SCHEDULED)
    return plan(plan_id, start_at=start, **kw)


def asset(asset_id: str, **kw: Any) -> AssetItem:
    fields: dict[str, Any] = {
        "plan_id": f"plan-of-{asset_id}",
        "source_url": f"https://example.com/{asset_id}.mp4",
        "checksum": f"sha-{asset_id}",
        "local_path": f"/media/{asset_id}.mp4",
        "created_at": T0,
        "duration_sec": 600.0,
        "qa_status": QAStatus.PASSED,
        "qa": QAReport(passed=True, height=720, integrated_lufs=-16.2),
    }
    fields.update(kw)
    return AssetItem(asset_id=asset_id, **fields)


def entry(entry_id: str, start: datetime, minutes: float = 10, **kw: Any) -> QueueEntry:
    fields: dict[str, Any] = {"asset_id": f"asset-{entry_id}", "title": f"Entry {entry_id}"}
    fields.update(kw)
    return QueueEntry(entry_id=entry_id, start_at=start, duration_sec=minutes * 60, **fields)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
