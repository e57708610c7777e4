"""Assets: fetched and prepared media with their QA report (SPEC §1.4–1.6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from vvtv.core.model import AssetItem, QAStatus
from vvtv.store.base import NotFoundError, StoreBase
from vvtv.store.rows import dump, load, ts, ts_or_none


def _row(asset: AssetItem) -> tuple[Any, ...]:
    return (
        asset.asset_id,
        asset.plan_id or None,
        asset.checksum,
        asset.qa_status.value,
        int(asset.emergency_eligible),
        ts_or_none(asset.last_aired_at),
        ts(asset.created_at),
        dump(asset),
    )


_UPSERT = """
INSERT INTO assets (asset_id, plan_id, checksum, qa_status, emergency_eligible, last_aired_at,
                    created_at, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(asset_id) DO UPDATE SET
    plan_id = excluded.plan_id, checksum = excluded.checksum, qa_status = excluded.qa_status,
    emergency_eligible = excluded.emergency_eligible, last_aired_at = excluded.last_aired_at,
    created_at = excluded.created_at, data = excluded.data
"""


class AssetsMixin(StoreBase):
    # Bumped by every asset write through this store (see ``assets_version``).
    _asset_writes: int = 0

    def save_asset(self, asset: AssetItem) -> None:
        """Insert or update an asset (its QA report is stored with it)."""
        with self.transaction() as c:
            c.execute(_UPSERT, _row(asset))
            self._asset_writes += 1

    def assets_version(self) -> tuple[int, int]:
        """A value that differs whenever the assets table may have changed since it was read.

        Reloading every eligible asset is the costly part of the Buffer's emergency-pool
        refresh; this lets it skip the reload when nothing changed. Two parts: this
        store's own asset writes (a rolled-back one counts too: at worst one needless
        reload), and SQLite's ``data_version``, which moves when another connection
        (a second daemon, an ops tool) commits anything to the file.
        """
        with self._lock:
            data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return self._asset_writes, int(data_version)

    def get_asset(self, asset_id: str) -> AssetItem | None:
        row = self._read_one("SELECT data FROM assets WHERE asset_id = ?", (asset_id,))
        return load(row[0], AssetItem) if row else None

    def get_assets(self, asset_ids: list[str]) -> dict[str, AssetItem]:
        """Several assets by id (unknown ids are absent from the result)."""
        out: dict[str, AssetItem] = {}
        ids = list(dict.fromkeys(asset_ids))
        for i in range(0, len(ids), 500):  # stay under SQLite's parameter limit
            chunk = ids[i : i + 500]
            rows = self._read(
                f"SELECT data FROM assets WHERE asset_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for (data,) in rows:
                asset = load(data, AssetItem)
                out[asset.asset_id] = asset
        return out

    def asset_by_checksum(self, checksum: str) -> AssetItem | None:
        """An asset with this SHA-256 (a QA-passed one if several), for dedupe by content."""
        row = self._read_one(
            "SELECT data FROM assets WHERE checksum = ? "
            "ORDER BY qa_status = 'PASSED' DESC, created_at DESC LIMIT 1",
            (checksum,),
        )
        return load(row[0], AssetItem) if row else None

    def assets_for_plan(self, plan_id: str) -> list[AssetItem]:
        rows = self._read(
            "SELECT data FROM assets WHERE plan_id = ? ORDER BY created_at", (plan_id,)
        )
        return [load(r[0], AssetItem) for r in rows]

    def emergency_pool(self, limit: int | None = None) -> list[AssetItem]:
        """QA-passed emergency-eligible assets, least recently aired first (never aired first)."""
        rows = self._read(
            "SELECT data FROM assets WHERE qa_status = ? AND emergency_eligible = 1 "
            "ORDER BY last_aired_at IS NOT NULL, last_aired_at, asset_id LIMIT ?",
            (QAStatus.PASSED.value, -1 if limit is None else limit),
        )
        return [load(r[0], AssetItem) for r in rows]

    def mark_asset_aired(self, asset_id: str, at: datetime) -> AssetItem:
        with self.transaction() as c:
            asset = self.get_asset(asset_id)
            if asset is None:
                raise NotFoundError(f"unknown asset {asset_id!r}")
            aired = attrs.evolve(asset, last_aired_at=at)
            c.execute(_UPSERT, _row(aired))
            self._asset_writes += 1
            return aired

    def qa_pass_rate(self, since: datetime, until: datetime) -> float | None:
        """Share of QA verdicts in ``[since, until)`` (by asset creation) that passed.

        None when nothing was judged in the window (no evidence is not a 0 % rate).
        """
        row = self._read_one(
            "SELECT sum(qa_status = 'PASSED'), count(*) FROM assets "
            "WHERE created_at >= ? AND created_at < ? AND qa_status IN ('PASSED', 'REJECTED')",
            (ts(since), ts(until)),
        )
        passed, total = row
        return passed / total if total else None
