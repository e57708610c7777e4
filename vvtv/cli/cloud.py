"""``vvtv cloud ...``: the channel as the edge shows it, and control through the edge.

The original's control agent, pointed at the edge (cloud/worker) instead of the channel
machine, so it works from anywhere without a port open on the channel:

- ``vvtv cloud status``: the public status the edge serves, and the alerts it holds;
- ``vvtv cloud report daily YYYY-MM-DD`` / ``weekly YYYY-Www``: a report as published;
- ``vvtv cloud command <name> [body] [--timeout S]``: a control call (``emergency-mode``,
  ``curator-mode``, ``reload-owner-card``, ``nightly``) relayed to the channel; waits for
  its result. Exit 0 when the channel applied it, 1 when it refused it, it expired or the
  wait timed out (the id is printed: the command may still be applied until it expires).

``key=value`` lines (``--json``: one object); exit 2 for usage and configuration errors
(no ``VVTV_CLOUDFLARE_BASE_URL``, a malformed date, a body that is not JSON, a credential
the edge refuses). Reads use ``VVTV_CLOUDFLARE_BASE_URL`` (+ ``VVTV_CLOUDFLARE_CHANNEL``);
the signed calls the operator's credential (``VVTV_CLOUDFLARE_CONTROL_TOKEN`` /
``_SECRET``, by default the control API's ``VVTV_CONTROL_TOKEN`` / ``_SECRET``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from vvtv.cli.context import settings_from_env
from vvtv.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Fields, OpsError, emit, guarded
from vvtv.core import tls
from vvtv.core.clock import TrioClock
from vvtv.core.settings import Settings
from vvtv.edge import operator
from vvtv.edge.client import EdgeClient
from vvtv.nightly import reports

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 30.0


def _run(settings: Settings, job: Callable[[EdgeClient], Awaitable[T]]) -> T:
    """Run ``job`` with a client of this channel's edge, as the operator."""
    url = settings.cloud_url
    if url is None:
        raise OpsError(
            "VVTV_CLOUDFLARE_BASE_URL is not set: `vvtv cloud` talks to the edge "
            "(see ops/vvtv.env.example)",
            EXIT_USAGE,
        )
    token, secret = settings.cloud_control_credential

    async def main() -> T:
        async with tls.client() as http:
            return await job(EdgeClient(url, token, secret, http, TrioClock()))

    try:
        return trio.run(main)
    except operator.EdgeError as exc:
        raise OpsError(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED) from exc


def _item(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dict):
        return ""
    title = value.get("title") or ""
    start = value.get("start_at")
    return f"{title} (from {start})" if start else str(title)


def _status(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()

    async def job(client: EdgeClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return await operator.public_status(client), await operator.active_alerts(client)

    status, alerts = _run(s, job)
    if args.json:
        emit(args, {"cloud_url": s.cloud_url, "status": status, "alerts": alerts})
        return EXIT_OK
    live = status.get("live")
    live = live if isinstance(live, dict) else {}
    return {
        "cloud_url": s.cloud_url,
        "channel": status.get("channel"),
        "state": status.get("state"),
        "buffer_minutes": status.get("buffer_minutes"),
        "on_air": status.get("on_air"),
        "stale": status.get("stale"),
        "status_age_s": status.get("age_s"),
        "now_playing": _item(status.get("now_playing")),
        "next": _item(status.get("next")),
        "media_sequence": live.get("media_sequence"),
        "discontinuity_sequence": live.get("discontinuity_sequence"),
        "alerts": [a.get("code") for a in alerts],
    }


def _report(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    try:
        if args.kind == "daily":
            key = reports.parse_day(args.key).isoformat()
        else:
            monday, _ = reports.parse_iso_week(args.key)
            year, week, _ = monday.isocalendar()
            key = f"{year:04d}-W{week:02d}"
    except ValueError as exc:
        raise OpsError(f"{args.key!r}: {exc}", EXIT_USAGE) from None

    async def job(client: EdgeClient) -> dict[str, Any]:
        return await operator.report(client, args.kind, key)

    document = _run(s, job)
    if args.json:
        emit(args, document)
        return EXIT_OK
    fields: dict[str, object] = {
        "report": args.kind,
        ("date" if args.kind == "daily" else "week"): key,
    }
    for section in ("summary", "metrics"):
        part = document.get(section)
        if isinstance(part, dict):
            for name, value in part.items():
                text = (
                    value
                    if isinstance(value, str | int | float | bool) or value is None
                    else json.dumps(value, sort_keys=True)
                )
                fields[f"{section}.{name}"] = text
    return fields


def _command(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    try:
        body = operator.check_body(args.body or "")
    except operator.EdgeError as exc:
        raise OpsError(str(exc), EXIT_USAGE) from None

    async def job(client: EdgeClient) -> operator.CommandOutcome:
        return await operator.send_command(client, args.name, body, timeout_s=args.timeout)

    return _outcome(args, _run(s, job), args.timeout)


def _command_status(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()

    async def job(client: EdgeClient) -> operator.CommandOutcome:
        return await operator.read_command(client, args.id, wait_s=int(args.wait))

    return _outcome(args, _run(s, job), args.wait)


def _outcome(args: argparse.Namespace, outcome: operator.CommandOutcome, waited: float) -> int:
    """Print a command's state; 0 when the channel applied it, 1 otherwise."""
    fields: dict[str, object] = {
        "command_id": outcome.id,
        "command": outcome.kind,
        "command_state": outcome.state,
        "result_status": outcome.result_status,
        "result_body": json.dumps(outcome.result_body, sort_keys=True, separators=(",", ":"))
        if outcome.result_body is not None
        else None,
        "expires_at": outcome.expires_at,
    }
    if args.json:
        fields["result_body"] = outcome.result_body
    emit(args, fields)
    if outcome.state == "succeeded":
        return EXIT_OK
    if not outcome.final:
        print(
            f"vvtv: error: no result within {waited:g} s; the channel may still apply it "
            f"until {outcome.expires_at}: `vvtv cloud command-status {outcome.id}`",
            file=sys.stderr,
        )
    return EXIT_FAILED


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``cloud`` and its subcommands."""
    cloud = subparsers.add_parser(
        "cloud",
        help="the channel as the edge shows it; control relayed through the edge",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = cloud.add_subparsers(dest="cloud_command", required=True, metavar="COMMAND")
    status = sub.add_parser("status", parents=[common], help="the edge's status and alerts")
    status.set_defaults(func=guarded(_status))
    report = sub.add_parser(
        "report", parents=[common], help="a published report: daily YYYY-MM-DD | weekly YYYY-Www"
    )
    report.add_argument("kind", choices=("daily", "weekly"))
    report.add_argument("key", help="YYYY-MM-DD (daily) or YYYY-Www (weekly, ISO week)")
    report.set_defaults(func=guarded(_report))
    command = sub.add_parser(
        "command",
        parents=[common],
        help="relay a control call to the channel and wait for its result",
    )
    command.add_argument("name", choices=operator.COMMAND_KINDS)
    command.add_argument(
        "body", nargs="?", default="", help="the JSON body, e.g. '{\"enabled\": true}'"
    )
    command.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for the result (default {DEFAULT_TIMEOUT_S:g})",
    )
    command.set_defaults(func=guarded(_command))
    state = sub.add_parser(
        "command-status", parents=[common], help="a relayed command's state and result"
    )
    state.add_argument("id", help="the command id `vvtv cloud command` printed (cmd_...)")
    state.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for a final state (at most 25)"
    )
    state.set_defaults(func=guarded(_command_status))
