"""The operator's side of the edge: read what it serves, send a command, wait for its result.

What ``vvtv cloud ...`` does (the original's control agent, pointed at the edge): public
reads (``/v1/status``, ``/v1/reports/...``), the operator's reads of active alerts, and a
control call relayed to the channel (cloud/worker/PROTOCOL.md §6): ``POST
/v1/control/<kind>`` signed with the operator's credential, then ``GET
/v1/control/commands/<id>?wait=S`` until the command is final or the caller's timeout
passes. Every failure is an ``EdgeError`` saying which request failed and why, and whether
it was the operator's input (``usage``) or the edge.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import trio

from vvtv.edge.client import EdgeAnswer, EdgeClient

#: The control calls the edge relays (cloud/worker/PROTOCOL.md §6).
COMMAND_KINDS = ("reload-owner-card", "emergency-mode", "curator-mode", "nightly")
FINAL_STATES = frozenset({"succeeded", "failed", "expired"})
MAX_WAIT_S = 25  # the edge's longest wait per request (AGENT_WAIT_MAX_S)


class EdgeError(Exception):
    """A request to the edge that failed; ``usage``: the operator's input was refused."""

    def __init__(self, message: str, *, usage: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.usage = usage
        self.status = status


@attrs.frozen
class CommandOutcome:
    """A relayed command as the edge last described it."""

    id: str
    kind: str
    state: str  # pending | delivered | succeeded | failed | expired
    result_status: int | None
    result_body: Any
    expires_at: str | None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _expect(answer: EdgeAnswer, what: str) -> Any:
    if answer.ok:
        return answer.body
    if answer.status is None:
        raise EdgeError(f"{what}: the edge did not answer ({answer.error})")
    hint = ""
    if answer.status == 401:
        hint = (
            " (the operator's credential at the edge: VVTV_CLOUDFLARE_CONTROL_TOKEN/SECRET, "
            "else VVTV_CONTROL_TOKEN/SECRET; and this machine's clock)"
        )
    raise EdgeError(
        f"{what}: {answer.error}{hint}",
        usage=answer.status in (400, 401, 404, 413, 422),
        status=answer.status,
    )


async def public_status(client: EdgeClient) -> dict[str, Any]:
    body = _expect(await client.call("GET", "/v1/status"), "GET /v1/status")
    if not isinstance(body, dict):
        raise EdgeError("GET /v1/status: the answer is not a JSON object")
    return body


async def active_alerts(client: EdgeClient) -> list[dict[str, Any]]:
    body = _expect(await client.call("GET", "/v1/control/alerts"), "GET /v1/control/alerts")
    alerts = body.get("alerts") if isinstance(body, dict) else None
    return [a for a in alerts if isinstance(a, dict)] if isinstance(alerts, list) else []


async def report(client: EdgeClient, kind: str, key: str) -> dict[str, Any]:
    """The ``daily`` report of ``key`` (YYYY-MM-DD) or the ``weekly`` one (YYYY-Www)."""
    param = {"daily": "date", "weekly": "week"}[kind]
    path = f"/v1/reports/{kind}"
    answer = await client.call("GET", path, query={param: key})
    if answer.status == 404:
        raise EdgeError(f"the edge has no {kind} report for {key}", status=404)
    body = _expect(answer, f"GET {path}?{param}={key}")
    if not isinstance(body, dict):
        raise EdgeError(f"GET {path}: the answer is not a JSON object")
    return body


def check_body(body: str) -> bytes:
    """A command body as typed: empty, or a JSON document (refused here, not at the edge)."""
    if not body.strip():
        return b""
    try:
        json.loads(body, parse_constant=_no_constant)
    except ValueError as exc:
        raise EdgeError(f"the command body is not JSON: {exc}", usage=True) from None
    return body.encode()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _outcome(body: Any) -> CommandOutcome:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise EdgeError("the edge's answer does not describe a command")
    result = body.get("result") if isinstance(body.get("result"), dict) else None
    return CommandOutcome(
        id=body["id"],
        kind=str(body.get("kind", "")),
        state=str(body.get("state", "")),
        result_status=result.get("status") if result else None,
        result_body=result.get("body") if result else None,
        expires_at=body.get("expires_at"),
    )


async def read_command(client: EdgeClient, command_id: str, *, wait_s: int = 0) -> CommandOutcome:
    """A command as the edge describes it now (``wait_s``: until it is final, at most 25 s)."""
    if not command_id.startswith("cmd_") or not command_id[4:].isalnum():
        raise EdgeError(f"{command_id!r} is not a command id (cmd_ and 32 hex digits)", usage=True)
    wait = max(0, min(MAX_WAIT_S, wait_s))
    path = f"/v1/control/commands/{command_id}"
    answer = await client.call("GET", path, query={"wait": wait}, timeout=wait + 15.0)
    if answer.status == 404:
        raise EdgeError(f"the edge knows no command {command_id}", usage=True, status=404)
    return _outcome(_expect(answer, f"GET {path}"))


async def send_command(
    client: EdgeClient, kind: str, body: bytes, *, timeout_s: float
) -> CommandOutcome:
    """Send ``kind`` with ``body`` through the edge; wait up to ``timeout_s`` for the result.

    Returns the last state seen: final (succeeded, failed, expired), or not yet when the
    timeout passed first (the channel may still apply it until it expires).
    """
    if kind not in COMMAND_KINDS:
        raise EdgeError(f"unknown command {kind!r}; one of {', '.join(COMMAND_KINDS)}", usage=True)
    if not math.isfinite(timeout_s) or timeout_s < 0:
        raise EdgeError(f"timeout must be a number of seconds >= 0, got {timeout_s}", usage=True)
    path = f"/v1/control/{kind}"
    outcome = _outcome(_expect(await client.call("POST", path, body), f"POST {path}"))
    deadline = trio.current_time() + timeout_s
    while not outcome.final:
        left = deadline - trio.current_time()
        if left <= 0:
            break
        wait = max(0, min(MAX_WAIT_S, math.floor(left)))
        answer = await client.call(
            "GET",
            f"/v1/control/commands/{outcome.id}",
            query={"wait": wait},
            timeout=wait + 15.0,
        )
        outcome = _outcome(_expect(answer, f"GET /v1/control/commands/{outcome.id}"))
        if wait == 0:
            break
    return outcome
