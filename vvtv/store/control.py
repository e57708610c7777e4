"""The daemon's own bookkeeping: scheduler cursors and leader lock, alert states,
OwnerCard versions, live-stream counters and stored reports."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import attrs

from vvtv.core.audit import AuditType
from vvtv.core.model import AlertState, AuditEvent, DailyReport, WeeklyReport, new_id
from vvtv.store.audit import AuditMixin
from vvtv.store.base import FencingError
from vvtv.store.rows import dump, from_ts, from_ts_or_none, load, ts


@attrs.frozen
class LockInfo:
    """The scheduler lock row: who holds it (None after release), its token and expiry."""

    name: str
    owner: str | None
    token: int
    acquired_at: datetime | None
    expires_at: datetime | None

    def held_at(self, now: datetime) -> bool:
        return self.owner is not None and self.expires_at is not None and self.expires_at > now


@attrs.frozen
class CardVersion:
    """One applied OwnerCard: its text, hash and when it took effect."""

    id: int
    sha256: str
    text: str
    applied_at: datetime
    applied_by: str = ""


@attrs.frozen
class LiveCounters:
    """HLS sequence numbers that must never go back, even across restarts (SPEC §1.7)."""

    media_sequence: int = 0
    discontinuity_sequence: int = 0


_COUNTERS_KEY = "live_counters"


class ControlMixin(AuditMixin):  # an applied card version and its audit: one transaction
    # --- signed control calls ---------------------------------------------------------

    def remember_signature(self, signature: str, ts: int, forget_before: int) -> bool:
        """Record an accepted request signature; False if it was already recorded.

        Signatures stamped before ``forget_before`` (unix seconds) are dropped first:
        outside the signing window their timestamp alone gets them refused.
        """
        with self.transaction() as c:
            c.execute("DELETE FROM seen_signatures WHERE ts < ?", (forget_before,))
            cur = c.execute(
                "INSERT OR IGNORE INTO seen_signatures (signature, ts) VALUES (?, ?)",
                (signature, ts),
            )
            return cur.rowcount == 1

    # --- scheduler cursors ------------------------------------------------------------

    def get_cursor(self, name: str) -> datetime | None:
        row = self._read_one("SELECT at FROM scheduler_cursors WHERE name = ?", (name,))
        return from_ts(row[0]) if row else None

    def set_cursor(self, name: str, at: datetime) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO scheduler_cursors (name, at) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET at = excluded.at",
                (name, ts(at)),
            )

    def cursors(self) -> dict[str, datetime]:
        return {n: from_ts(a) for n, a in self._read("SELECT name, at FROM scheduler_cursors")}

    # --- scheduler lock with fencing tokens -------------------------------------------

    def acquire_lock(self, name: str, owner: str, now: datetime, ttl: float = 30.0) -> int | None:
        """Take (or keep) the lock; returns the fencing token, or None if someone else holds it.

        The holder re-acquiring keeps its token (and extends the TTL). Taking over a
        released or expired lock increments the token, so writes guarded by an older
        token (a stale leader that paused past its TTL) are refused by ``check_fence``.
        """
        expires = ts(now + timedelta(seconds=ttl))
        with self.transaction() as c:
            info = self.lock_info(name)
            if info is None:
                c.execute(
                    "INSERT INTO scheduler_lock (name, owner, token, acquired_at, expires_at) "
                    "VALUES (?, ?, 1, ?, ?)",
                    (name, owner, ts(now), expires),
                )
                return 1
            if info.owner == owner and info.held_at(now):
                c.execute(
                    "UPDATE scheduler_lock SET expires_at = ? WHERE name = ?", (expires, name)
                )
                return info.token
            if info.held_at(now):
                return None
            token = info.token + 1
            c.execute(
                "UPDATE scheduler_lock SET owner = ?, token = ?, acquired_at = ?, expires_at = ? "
                "WHERE name = ?",
                (owner, token, ts(now), expires, name),
            )
            return token

    def renew_lock(
        self, name: str, owner: str, token: int, now: datetime, ttl: float = 30.0
    ) -> bool:
        """Extend the TTL; False (lock lost) when the token is stale or the lock expired."""
        # One conditional UPDATE (run every 10 s): the check and the write stay atomic, and
        # no row is read and parsed. Timestamp columns are fixed-width UTC text, so text
        # order is time order (``expires_at > now`` is ``LockInfo.held_at``).
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE scheduler_lock SET expires_at = ? "
                "WHERE name = ? AND owner = ? AND token = ? AND expires_at > ?",
                (ts(now + timedelta(seconds=ttl)), name, owner, token, ts(now)),
            )
            return cur.rowcount == 1

    def release_lock(self, name: str, owner: str, token: int) -> bool:
        """Give the lock up (the token is kept so the next holder gets a higher one)."""
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE scheduler_lock SET owner = NULL, expires_at = NULL "
                "WHERE name = ? AND owner = ? AND token = ?",
                (name, owner, token),
            )
            return cur.rowcount == 1

    def lock_info(self, name: str) -> LockInfo | None:
        row = self._read_one(
            "SELECT name, owner, token, acquired_at, expires_at FROM scheduler_lock WHERE name = ?",
            (name,),
        )
        if row is None:
            return None
        return LockInfo(row[0], row[1], row[2], from_ts_or_none(row[3]), from_ts_or_none(row[4]))

    def check_fence(self, name: str, token: int) -> bool:
        """Whether ``token`` is still the current holder's: no one took over since."""
        info = self.lock_info(name)
        return info is not None and info.owner is not None and info.token == token

    def require_fence(self, name: str, token: int) -> None:
        """Raise ``FencingError`` unless ``token`` is current; call it inside the write's
        transaction so the check and the write are atomic."""
        if not self.check_fence(name, token):
            info = self.lock_info(name)
            current = info.token if info else None
            raise FencingError(
                f"lock {name!r}: fencing token {token} is stale (current token {current}); "
                "another instance took over, this write is refused"
            )

    # --- alert states -----------------------------------------------------------------

    def load_alert_states(self) -> dict[str, AlertState]:
        rows = self._read("SELECT data FROM alert_states ORDER BY code")
        states = [load(r[0], AlertState) for r in rows]
        return {s.code: s for s in states}

    def save_alert_states(self, states: Any) -> None:
        """Upsert states (an iterable of AlertState or a dict code → AlertState) atomically."""
        values = list(states.values()) if isinstance(states, dict) else list(states)
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO alert_states (code, data) VALUES (?, ?) "
                "ON CONFLICT(code) DO UPDATE SET data = excluded.data",
                [(s.code, dump(s)) for s in values],
            )

    def save_alert_state(self, state: AlertState) -> None:
        self.save_alert_states([state])

    # --- OwnerCard versions -----------------------------------------------------------

    def record_card_version(
        self,
        sha256: str,
        text: str,
        applied_at: datetime,
        *,
        applied_by: str = "",
        diff: dict[str, Any] | None = None,
    ) -> CardVersion:
        """Store an applied card and audit it (``owner_card_applied`` with the diff), atomically."""
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO owner_card_versions (sha256, text, applied_at, applied_by) "
                "VALUES (?, ?, ?, ?)",
                (sha256, text, ts(applied_at), applied_by),
            )
            version = CardVersion(cur.lastrowid or 0, sha256, text, applied_at, applied_by)
            self.append_audit(
                AuditEvent(
                    event_id=new_id("audit"),
                    at=applied_at,
                    event_type=AuditType.OWNER_CARD_APPLIED,
                    actor=applied_by,
                    details={"sha256": sha256, "version_id": version.id, "diff": diff or {}},
                )
            )
            return version

    def latest_card_version(self) -> CardVersion | None:
        row = self._read_one(
            "SELECT id, sha256, text, applied_at, applied_by FROM owner_card_versions "
            "ORDER BY id DESC LIMIT 1"
        )
        return CardVersion(row[0], row[1], row[2], from_ts(row[3]), row[4]) if row else None

    def card_versions(self, limit: int = 20) -> list[CardVersion]:
        """The most recent applied cards, newest first."""
        rows = self._read(
            "SELECT id, sha256, text, applied_at, applied_by FROM owner_card_versions "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [CardVersion(r[0], r[1], r[2], from_ts(r[3]), r[4]) for r in rows]

    # --- live-stream state ------------------------------------------------------------

    def get_live_value(self, key: str, default: Any = None) -> Any:
        row = self._read_one("SELECT value FROM live_state WHERE key = ?", (key,))
        return json.loads(row[0]) if row else default

    def set_live_value(self, key: str, value: Any) -> None:
        """Store a small JSON-native value (e.g. the live position) under ``key``."""
        with self.transaction() as c:
            c.execute(
                "INSERT INTO live_state (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value, separators=(",", ":"))),
            )

    def live_values(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._read("SELECT key, value FROM live_state")}

    def get_live_counters(self) -> LiveCounters:
        data = self.get_live_value(_COUNTERS_KEY)
        return LiveCounters(**data) if data else LiveCounters()

    def set_live_counters(self, counters: LiveCounters) -> None:
        """Persist the sequences; refuses to move either backwards (players would stall)."""
        with self.transaction():
            old = self.get_live_counters()
            if (
                counters.media_sequence < old.media_sequence
                or counters.discontinuity_sequence < old.discontinuity_sequence
            ):
                raise ValueError(f"live counters must not go backwards: {old} -> {counters}")
            self.set_live_value(_COUNTERS_KEY, attrs.asdict(counters))

    # --- reports ----------------------------------------------------------------------

    def save_daily_report(self, report: DailyReport) -> None:
        self._save_report("daily", report.date.isoformat(), report.generated_at, dump(report))

    def get_daily_report(self, day: date) -> DailyReport | None:
        data = self._report("daily", day.isoformat())
        return load(data, DailyReport) if data else None

    def save_weekly_report(self, report: WeeklyReport) -> None:
        self._save_report("weekly", report.week, report.generated_at, dump(report))

    def get_weekly_report(self, week: str) -> WeeklyReport | None:
        data = self._report("weekly", week)
        return load(data, WeeklyReport) if data else None

    def _save_report(self, kind: str, key: str, generated_at: datetime, data: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO reports (kind, key, generated_at, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET "
                "generated_at = excluded.generated_at, data = excluded.data",
                (kind, key, ts(generated_at), data),
            )

    def _report(self, kind: str, key: str) -> str | None:
        row = self._read_one("SELECT data FROM reports WHERE kind = ? AND key = ?", (kind, key))
        return row[0] if row else None
