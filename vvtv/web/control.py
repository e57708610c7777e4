"""The control calls, written once: what a signed HTTP call and a relayed command both run.

SPEC §3's control endpoints (``reload-owner-card``, ``emergency-mode``, ``curator-mode``),
SPEC §10's ``nightly`` and ``outputs/<name>`` (the switch of one push output) reach the
channel through two doors: the daemon's own signed HTTP routes (``vvtv.web.app``) and the
edge, whose operator calls the channel's agent long-polls and applies (``vvtv.edge``). Both
authenticate in their own way, then hand the exact request body to ``apply_control``, which
parses it strictly, validates it, acts through the ``ChannelPort``, audits the call (``who``
says which door and which caller) and answers the status and JSON body the HTTP route
sends. So a command relayed through the edge is refused, applied and audited exactly as the
same call made locally, and its result is what the local call would have answered.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from vvtv.web.params import (
    CURATOR_MODES,
    BadInput,
    check_output_name,
    curator_body,
    emergency_body,
    nightly_body,
    output_body,
)
from vvtv.web.port import ChannelPort

CONTROL_PREFIX = "/v1/control/"


@attrs.frozen
class ControlReply:
    """What a control call answers: an HTTP status and a JSON object."""

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes, *, allow_empty: bool) -> Any:
    """Strict JSON (no NaN/Infinity) -> value; an empty body -> None when allowed."""
    if not body.strip():
        if allow_empty:
            return None
        raise BadInput(400, "request body must be JSON")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(400, f"malformed JSON body: {exc}") from None
    except RecursionError:
        # "[[[[…" a few thousand deep fits in the size limit; it is the client's fault.
        raise BadInput(400, "malformed JSON body: nested too deeply") from None


async def _reload_owner_card(port: ChannelPort, body: bytes, who: str) -> ControlReply:
    # The body is ignored: the original clients send none, and there is nothing to say.
    ok, errors, diff = await port.reload_owner_card()
    await port.audit_control(who, "reload-owner-card", {"ok": ok, "errors": errors, "diff": diff})
    if not ok:
        return ControlReply(
            422,
            {"error": "invalid owner card; the previous card stays in force", "errors": errors},
        )
    return ControlReply(200, {"ok": True, "diff": diff})


async def _emergency_mode(port: ChannelPort, body: bytes, who: str) -> ControlReply:
    enabled = emergency_body(parse_json(body, allow_empty=True))
    new_status = await port.set_emergency(enabled)
    await port.audit_control(
        who,
        "emergency-mode",
        {"requested": "release" if enabled is None else enabled, "status": new_status},
    )
    return ControlReply(200, new_status)


async def _curator_mode(port: ChannelPort, body: bytes, who: str) -> ControlReply:
    payload = parse_json(body, allow_empty=True)
    if payload is None:
        # What the original's tools send: there is no mode to toggle to, so say what is.
        raise BadInput(
            400,
            f'curator-mode needs a JSON body like {{"mode": "advise"}}; mode is one of '
            f"{', '.join(CURATOR_MODES)}",
            modes=list(CURATOR_MODES),
        )
    mode, limits = curator_body(payload)
    try:
        result = await port.set_curator_mode(mode, limits)
    except ValueError as exc:
        await port.audit_control(
            who, "curator-mode", {"mode": mode, "limits": limits, "rejected": str(exc)}
        )
        raise BadInput(422, str(exc)) from None
    await port.audit_control(
        who, "curator-mode", {"mode": mode, "limits": limits, "result": result}
    )
    return ControlReply(200, result)


async def _nightly(port: ChannelPort, body: bytes, who: str) -> ControlReply:
    force = nightly_body(parse_json(body, allow_empty=True))
    result = await port.run_nightly(force)
    await port.audit_control(who, "nightly", {"force": force, "result": result})
    return ControlReply(200, result)


#: ``outputs/<name>``: the one call with a part of its path as an argument.
OUTPUTS = "outputs/"


async def _output_switch(port: ChannelPort, name: str, body: bytes, who: str) -> ControlReply:
    check_output_name(name)
    enabled = output_body(parse_json(body, allow_empty=False))
    state = await port.set_output(name, enabled)
    if state is None:
        return ControlReply(404, {"error": f"no output named {name!r} in the OwnerCard"})
    await port.audit_control(
        who, "output", {"output": name, "requested": enabled, "status": state["status"]}
    )
    return ControlReply(200, state)


Handler = Callable[[ChannelPort, bytes, str], Awaitable[ControlReply]]

HANDLERS: dict[str, Handler] = {
    "reload-owner-card": _reload_owner_card,
    "emergency-mode": _emergency_mode,
    "curator-mode": _curator_mode,
    "nightly": _nightly,
}


def control_kinds() -> tuple[str, ...]:
    """The control calls this channel answers, by name (``/v1/control/<kind>``)."""
    return tuple(HANDLERS)


def kind_of_path(path: str) -> str | None:
    """``/v1/control/<kind>`` -> ``<kind>`` when the channel answers it, else None."""
    if not path.startswith(CONTROL_PREFIX):
        return None
    kind = path[len(CONTROL_PREFIX) :]
    if kind.startswith(OUTPUTS):
        return kind
    return kind if kind in HANDLERS else None


async def apply_control(port: ChannelPort, kind: str, body: bytes, who: str) -> ControlReply:
    """Run the control call ``kind`` with the raw request ``body``, on behalf of ``who``.

    The caller has authenticated the request. Bad input is an error reply (400 malformed,
    422 invalid, 404 an unknown call), never an exception; a failure of the channel itself
    (the Buffer down) raises, as it would in the HTTP route.
    """
    handler = HANDLERS.get(kind)
    try:
        if kind.startswith(OUTPUTS):
            return await _output_switch(port, kind[len(OUTPUTS) :], body, who)
        if handler is None:
            return ControlReply(404, {"error": f"unknown control call {kind!r}"})
        return await handler(port, body, who)
    except BadInput as exc:
        return ControlReply(exc.status, {"error": exc.message, **exc.extra})
