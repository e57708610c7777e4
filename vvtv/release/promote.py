"""Promotion gate: a canary that passed, and no high or critical alert active (SPEC §8).

Every decision is recorded in ``runtime/promotions/<UTC ts>.env`` (PROMOTED or BLOCKED,
with the reasons), and the last promotion is copied to ``runtime/promotions/latest.env``.
An unreadable ``/v1/alerts`` blocks: a gate that cannot look must not open.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import attrs

from vvtv.release import api
from vvtv.release.envfile import read_env, unique_file, write_env
from vvtv.release.errors import ReleaseError


@attrs.frozen
class PromoteResult:
    status: str  # PROMOTED | BLOCKED
    record: Path
    reasons: list[str]
    fields: dict[str, object]

    @property
    def promoted(self) -> bool:
        return self.status == "PROMOTED"


def _run_order(result_env: Path) -> tuple[str, int]:
    """``<ts>`` then ``<ts>-2``, ``<ts>-10``: by time, then by the same-second suffix."""
    stamp, _, suffix = result_env.parent.name.partition("-")
    return stamp, int(suffix) if suffix.isdigit() else 1


def latest_result(canary_root: Path) -> Path:
    """The newest ``result.env`` under ``canary_root`` (directory names sort by time)."""
    found = sorted(Path(canary_root).glob("*/result.env"), key=_run_order)
    if not found:
        raise ReleaseError(
            f"no canary result under {canary_root}: run `vvtv canary` first, or pass the "
            "result.env to promote",
            2,
        )
    return found[-1]


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def promote(
    result_env: Path, base: str, promotions_dir: Path, now: datetime
) -> PromoteResult:
    """Apply the gate to a canary's ``result.env`` and record the decision."""
    canary = read_env(result_env)
    if "status" not in canary:
        raise ReleaseError(f"{result_env}: no status= line; is this a canary result.env?", 2)
    reasons: list[str] = []
    if canary["status"] != "PASS":
        reasons.append(f"canary status is {canary['status']}, not PASS")
    blocking: list[str] = []
    try:
        alerts = await api.active_alerts(base)
    except api.ApiError as exc:
        reasons.append(f"cannot read active alerts ({exc})")
    else:
        blocking = [f"{a.get('code')}:{a.get('severity')}" for a in api.high_or_critical(alerts)]
        if blocking:
            reasons.append(f"high/critical alerts active: {', '.join(blocking)}")
    status = "BLOCKED" if reasons else "PROMOTED"
    fields: dict[str, object] = {
        "promotion_status": status,
        "decided_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "canary_result": Path(result_env).resolve(),
        "canary_status": canary["status"],
        "canary_backup_dir": canary.get("backup_dir", ""),
        "blocking_alerts": blocking,
        "reasons": "; ".join(reasons),
        "api_url": base,
    }
    record = unique_file(Path(promotions_dir), _stamp(now), ".env")
    write_env(record, {**fields, "promotion_record": record})
    if status == "PROMOTED":
        shutil.copyfile(record, Path(promotions_dir) / "latest.env")
    return PromoteResult(status, record, reasons, {**fields, "promotion_record": record})
