"""Commands the edge relayed to this channel: applied at most once, whatever happens.

The edge hands a command out on every poll until its result is posted (cloud/worker/
PROTOCOL.md §6), so the channel must remember which ids it has applied. The agent
*claims* an id in one transaction before applying it (state ``applying``), and records
the result after (``applied``). Whatever stops the daemon in between — a restart, a
SIGKILL between apply and ack — the id is already claimed when the command comes back,
so it is never applied again: its recorded result is posted instead, or, for a claim
without a result (the daemon died while applying), an answer that says the outcome is
unknown. An expired command is recorded as such and never applied.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import attrs

from vvtv.store.base import StoreBase
from vvtv.store.rows import from_ts, from_ts_or_none, ts

APPLYING = "applying"
APPLIED = "applied"
EXPIRED = "expired"  # a state, and what ``claim_command`` says of a command first seen late
CLAIMED = "claimed"
SEEN = "seen"

_COLUMNS = "id, kind, state, received_at, deadline_at, status, result, done_at, reported_at"


@attrs.frozen
class CommandRecord:
    """One relayed command as this channel handled it."""

    id: str
    kind: str
    state: str  # APPLYING | APPLIED | EXPIRED
    received_at: datetime
    deadline_at: datetime
    status: int | None = None
    result: dict[str, Any] | None = None
    done_at: datetime | None = None
    reported_at: datetime | None = None


def _record(row: tuple[Any, ...]) -> CommandRecord:
    return CommandRecord(
        id=row[0],
        kind=row[1],
        state=row[2],
        received_at=from_ts(row[3]),
        deadline_at=from_ts(row[4]),
        status=row[5],
        result=json.loads(row[6]) if row[6] is not None else None,
        done_at=from_ts_or_none(row[7]),
        reported_at=from_ts_or_none(row[8]),
    )


class CommandsMixin(StoreBase):
    def claim_command(
        self, command_id: str, kind: str, now: datetime, deadline: datetime
    ) -> tuple[str, CommandRecord]:
        """Claim ``command_id`` for applying, in one transaction. The first element says
        what happened: ``CLAIMED`` (this call claimed it: apply it now), ``EXPIRED`` (first
        seen at or after its ``deadline``: recorded, never to be applied) or ``SEEN`` (handled
        before: never apply it again; the record says how it went).
        """
        state = APPLYING if now < deadline else EXPIRED
        with self.transaction() as c:
            row = c.execute(
                f"SELECT {_COLUMNS} FROM edge_commands WHERE id = ?", (command_id,)
            ).fetchone()
            if row is not None:
                return SEEN, _record(row)
            c.execute(
                "INSERT INTO edge_commands (id, kind, state, received_at, deadline_at, done_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    command_id,
                    kind,
                    state,
                    ts(now),
                    ts(deadline),
                    ts(now) if state == EXPIRED else None,
                ),
            )
        record = CommandRecord(command_id, kind, state, now, deadline)
        if state == EXPIRED:
            return EXPIRED, attrs.evolve(record, done_at=now)
        return CLAIMED, record

    def finish_command(
        self, command_id: str, status: int, result: dict[str, Any], now: datetime
    ) -> None:
        """Record the result of a claimed command (the local control call's answer)."""
        with self.transaction() as c:
            c.execute(
                "UPDATE edge_commands SET state = ?, status = ?, result = ?, done_at = ? "
                "WHERE id = ? AND state = ?",
                (
                    APPLIED,
                    status,
                    json.dumps(result, separators=(",", ":"), default=str),
                    ts(now),
                    command_id,
                    APPLYING,
                ),
            )

    def mark_command_reported(self, command_id: str, now: datetime) -> None:
        """The edge recorded this command's result."""
        with self.transaction() as c:
            c.execute(
                "UPDATE edge_commands SET reported_at = ? WHERE id = ? AND reported_at IS NULL",
                (ts(now), command_id),
            )

    def get_command(self, command_id: str) -> CommandRecord | None:
        row = self._read_one(f"SELECT {_COLUMNS} FROM edge_commands WHERE id = ?", (command_id,))
        return _record(row) if row else None

    def recent_commands(self, limit: int = 50) -> list[CommandRecord]:
        """The newest relayed commands first."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM edge_commands ORDER BY received_at DESC, id LIMIT ?",
            (limit,),
        )
        return [_record(r) for r in rows]

    def prune_commands(self, before: datetime) -> int:
        """Forget commands received before ``before`` (far past the edge's command life, so
        the edge can no longer hand them out); the number removed."""
        with self.transaction() as c:
            cur = c.execute("DELETE FROM edge_commands WHERE received_at < ?", (ts(before),))
            return cur.rowcount
