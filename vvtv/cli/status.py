"""``vvtv status``: a human summary of the channel's status and alerts (``--json``: both as
the API gives them)."""

from __future__ import annotations

import argparse

import trio

from vvtv.cli.context import settings_from_env
from vvtv.cli.output import EXIT_FAILED, EXIT_OK, Fields, OpsError, emit, release_guard
from vvtv.release import api


def _describe(item: object) -> str:
    """One line for a queue entry (or the first of a list of them)."""
    if isinstance(item, list):
        if not item:
            return "-"
        more = f" (+{len(item) - 1} more)" if len(item) > 1 else ""
        return _describe(item[0]) + more
    if isinstance(item, dict):
        title = item.get("title") or item.get("asset_id") or item.get("plan_id") or ""
        start = item.get("start_at")
        return f"{title} (from {start})" if start else str(title)
    return "-" if item is None else str(item)


def _status(args: argparse.Namespace) -> Fields | int:
    s = settings_from_env()
    try:
        status, alerts = trio.run(api.status_and_alerts, s.api_url)
    except api.ApiError as exc:
        raise OpsError(
            f"the daemon does not answer: {exc}. Is it running? (`systemctl status vvtv`, "
            "`journalctl -u vvtv -n 50`)",
            EXIT_FAILED,
        ) from exc
    if args.json:
        emit(args, {"api_url": s.api_url, "status": status, "alerts": alerts})
        return EXIT_OK
    lines = [f"vvtv at {s.api_url}: {status.get('state', '?')}"]
    lines.append(f"  buffer:       {status.get('buffer_minutes', '?')} min")
    lines.append(f"  now playing:  {_describe(status.get('now_playing'))}")
    lines.append(f"  next:         {_describe(status.get('next'))}")
    override = status.get("emergency_override")
    if override is not None:
        lines.append(f"  emergency override: {'on' if override else 'off'}")
    if status.get("last_segment_age_s") is not None:
        lines.append(f"  last segment: {status['last_segment_age_s']} s ago")
    lines.append(f"  as of:        {status.get('timestamp', '?')}")
    # What the card in force asks for that vvtv does not do, unknown keys: each names its field.
    card_warnings = [w for w in status.get("card_warnings") or [] if isinstance(w, str)]
    if card_warnings:
        lines.append(f"card warnings: {len(card_warnings)}")
        lines += [f"  {warning}" for warning in card_warnings]
    if not alerts:
        lines.append("alerts: none")
    else:
        lines.append(f"alerts: {len(alerts)} active")
        for alert in alerts:
            severity = str(alert.get("severity", "?"))
            lines.append(f"  [{severity:>8}] {alert.get('code')}: {alert.get('message', '')}")
    print("\n".join(lines))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``status``."""
    status = subparsers.add_parser(
        "status", parents=[common], help="a human summary of the channel's status and alerts"
    )
    status.set_defaults(func=release_guard(_status))
