"""The agent's reading of the commands the edge relays (cloud/worker/PROTOCOL.md §6).

The edge is authenticated (TLS, and only it knows where the operator's calls are
stored), but what it hands out is still checked field by field before anything acts on
it: a command with a malformed id, an unknown kind, a path that is not that kind's
control route, a body that is not text, or a missing expiry is refused alone (the others
in the same answer still run), with a reason for the audit trail.

Deadlines are relative: ``expires_in_s`` counted from when the agent received the
answer, so the channel's clock need not agree with the edge's (a command is never applied
after ``received_at + expires_in_s``).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

import attrs

COMMAND_ID = re.compile(r"cmd_[0-9a-f]{32}")
MAX_COMMANDS = 100  # the edge hands out at most 20 per poll
MAX_EXPIRES_S = 86400.0  # COMMAND_TTL_S's upper bound at the edge

#: How long the channel remembers a command it handled: far past the edge's command life
#: (COMMAND_TTL_S, at most a day), after which the edge never hands it out again.
REMEMBER_COMMANDS = timedelta(days=7)


@attrs.frozen
class Command:
    """One relayed control call, checked."""

    id: str
    kind: str
    path: str
    body: bytes
    expires_in_s: float
    deliveries: int

    def deadline(self, received_at: datetime) -> datetime:
        return received_at + timedelta(seconds=self.expires_in_s)


@attrs.frozen
class Refused:
    """A command that cannot be read; ``id`` when it had a usable one."""

    id: str | None
    reason: str


def read_commands(body: Any, kinds: tuple[str, ...]) -> tuple[list[Command], list[Refused]]:
    """The commands of a ``GET /v1/agent/commands`` answer, and those refused.

    ``kinds`` are the control calls this channel answers. ValueError when the answer
    itself is not the documented shape (then nothing in it is trusted).
    """
    if not isinstance(body, dict) or not isinstance(body.get("commands"), list):
        raise ValueError("the edge's answer has no list of commands")
    items = body["commands"]
    if len(items) > MAX_COMMANDS:
        raise ValueError(f"the edge handed out {len(items)} commands (at most {MAX_COMMANDS})")
    commands: list[Command] = []
    refused: list[Refused] = []
    seen: set[str] = set()
    for item in items:
        try:
            command = _command(item, kinds)
        except ValueError as exc:
            ident = item.get("id") if isinstance(item, dict) else None
            usable = ident if isinstance(ident, str) and COMMAND_ID.fullmatch(ident) else None
            refused.append(Refused(usable, str(exc)))
            continue
        if command.id in seen:
            continue
        seen.add(command.id)
        commands.append(command)
    return commands, refused


def _command(item: Any, kinds: tuple[str, ...]) -> Command:
    if not isinstance(item, dict):
        raise ValueError("a command must be a JSON object")
    ident = item.get("id")
    if not isinstance(ident, str) or not COMMAND_ID.fullmatch(ident):
        raise ValueError("id must be cmd_ followed by 32 hex digits")
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        raise ValueError(f"kind {kind!r} is not a control call of this channel")
    if item.get("method", "POST") != "POST":
        raise ValueError(f"method {item.get('method')!r}: control calls are POSTs")
    path = f"/v1/control/{kind}"
    if item.get("path", path) != path:
        raise ValueError(f"path {item.get('path')!r} is not {path}")
    body = item.get("body", "")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise ValueError("body must be the request body as text")
    expires = item.get("expires_in_s")
    if (
        not isinstance(expires, int | float)
        or isinstance(expires, bool)
        or not math.isfinite(expires)
        or not 0 <= expires <= MAX_EXPIRES_S
    ):
        raise ValueError(f"expires_in_s must be a number of seconds from 0 to {MAX_EXPIRES_S:g}")
    deliveries = item.get("deliveries", 1)
    if not isinstance(deliveries, int) or isinstance(deliveries, bool) or deliveries < 1:
        deliveries = 1
    return Command(ident, kind, path, body.encode("utf-8"), float(expires), deliveries)


def result_document(status: int, body: dict[str, Any], limit: int = 60_000) -> bytes:
    """The ``{"status", "body"}`` posted for a command, within the edge's 64 KiB.

    A reply too long to post whole (an OwnerCard reload's diff of a large card) is posted
    as its status and what was left out; the channel's audit trail keeps all of it.
    """
    text = json.dumps({"status": status, "body": body}, separators=(",", ":"), default=str)
    if len(text.encode()) <= limit:
        return text.encode()
    short = {"truncated": True, "keys": sorted(str(k) for k in body)[:50]}
    if "error" in body:
        short["error"] = str(body["error"])[:2000]
    return json.dumps({"status": status, "body": short}, separators=(",", ":")).encode()
