"""Validation of everything a client sends: query parameters, path parts, control bodies.

Each parser returns a clean value or raises ``BadInput(status, message)``; the app
turns that into ``{"error": message}`` with that status. Messages say what was
wrong and with which parameter. The date and week messages are the original's,
word for word (SPEC §3).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final, Literal

from vvtv.air.curator import Mode as CuratorMode
from vvtv.core.model import PlanState
from vvtv.nightly import reports

# The original's messages; vvtv.nightly.reports raises them, the OpenAPI document quotes them.
DATE_ERROR = "invalid date format, use YYYY-MM-DD"
WEEK_FORMAT_ERROR = "invalid week format, use YYYY-Www"
WEEK_INVALID_ERROR = "invalid iso week"

PLANS_DEFAULT_LIMIT = 50
PLANS_MAX_LIMIT = 500
PLANS_MAX_OFFSET = 1_000_000_000
CURATOR_MODES = tuple(mode.value for mode in CuratorMode)
# Limits an operator may tighten through /v1/control/curator-mode; the port checks
# them against the OwnerCard (out of range -> 422).
CURATOR_LIMITS: dict[str, type] = {"min_confidence": float, "max_reorders_per_hour": int}

_UINT = re.compile(r"[0-9]{1,10}")
# Asset ids and segment names are produced by vvtv itself: ASCII letters, digits,
# '-' and '_', not starting with a dot. Nothing else can reach the file system,
# so no '..', no '/', no '%2F', no NUL, no absolute path, whatever the decoding.
_ASSET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.ts")


class BadInput(Exception):
    """Client input that must be refused with ``status`` and an ``{"error": message}`` body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def parse_day(text: str | None) -> date:
    """``YYYY-MM-DD`` -> date; anything else -> 400 with the original message."""
    try:
        return reports.parse_day(text or "")
    except ValueError as exc:
        raise BadInput(400, str(exc)) from None


def parse_week(text: str | None) -> str:
    """``YYYY-Www`` (ISO week) -> the canonical "YYYY-Www"; 400 otherwise.

    A well-formed week that does not exist in that ISO year (W00, W53 of a 52-week
    year) gets the original's "invalid iso week" (``vvtv.nightly.reports.parse_iso_week``).
    """
    try:
        monday, _ = reports.parse_iso_week(text or "")
    except ValueError as exc:
        raise BadInput(400, str(exc)) from None
    year, week, _ = monday.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _uint(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not _UINT.fullmatch(text) or not low <= int(text) <= high:
        raise BadInput(400, f"invalid {name}: expected an integer from {low} to {high}")
    return int(text)


def parse_plans_query(
    state: str | None, limit: str | None, offset: str | None
) -> tuple[str | None, int, int]:
    """``?state=&limit=&offset=`` of /v1/plans -> (PlanState value or None, limit, offset)."""
    clean_state: str | None = None
    if state is not None and state != "":
        try:
            clean_state = PlanState(state.upper()).value
        except ValueError:
            allowed = ", ".join(s.value for s in PlanState)
            raise BadInput(400, f"invalid state: expected one of {allowed}") from None
    return (
        clean_state,
        _uint("limit", limit, PLANS_DEFAULT_LIMIT, 1, PLANS_MAX_LIMIT),
        _uint("offset", offset, 0, 0, PLANS_MAX_OFFSET),
    )


def check_segment(asset_id: str, name: str) -> None:
    """Refuse (404, like any unknown file) every asset id or segment name vvtv never makes."""
    if not _ASSET_ID.fullmatch(asset_id) or not _SEGMENT.fullmatch(name):
        raise BadInput(404, "segment not found")


TOGGLE: Final = "toggle"
EmergencyCommand = bool | Literal["toggle"] | None
"""True forces emergency on, False forces it off, None releases the override, "toggle"."""


def emergency_body(payload: Any) -> EmergencyCommand:
    """Body of /v1/control/emergency-mode.

    ``{"enabled": true}`` forces emergency on and ``{"enabled": false}`` forces it off, each
    held until released; ``{"enabled": null}`` releases the override (the buffer rule
    decides again); an empty body (or ``{}``) toggles, for old clients.
    """
    if payload is None:
        return TOGGLE
    if not isinstance(payload, dict):
        raise BadInput(422, 'body must be a JSON object like {"enabled": true}')
    unknown = sorted(set(payload) - {"enabled"})
    if unknown:
        raise BadInput(422, f"unknown field(s): {', '.join(unknown)}")
    if "enabled" not in payload:
        return TOGGLE
    enabled = payload["enabled"]
    if enabled is not None and not isinstance(enabled, bool):
        raise BadInput(422, "enabled must be true, false or null (release the override)")
    return enabled


def nightly_body(payload: Any) -> bool:
    """Body of /v1/control/nightly: empty, ``{}`` or ``{"force": bool}``; the ``force``."""
    if payload is None:
        return False
    if not isinstance(payload, dict):
        raise BadInput(422, 'body must be a JSON object like {"force": true}')
    unknown = sorted(set(payload) - {"force"})
    if unknown:
        raise BadInput(422, f"unknown field(s): {', '.join(unknown)}")
    force = payload.get("force", False)
    if not isinstance(force, bool):
        raise BadInput(422, "force must be true or false")
    return force


def curator_body(payload: Any) -> tuple[str, dict[str, float | int]]:
    """Body of /v1/control/curator-mode: ``{"mode": ..., <optional limits>}``."""
    if not isinstance(payload, dict):
        raise BadInput(422, 'body must be a JSON object like {"mode": "advise"}')
    mode = payload.get("mode")
    if mode not in CURATOR_MODES:
        raise BadInput(
            422, f"mode must be one of {', '.join(CURATOR_MODES)}", modes=list(CURATOR_MODES)
        )
    limits: dict[str, float | int] = {}
    for key, value in payload.items():
        if key == "mode":
            continue
        kind = CURATOR_LIMITS.get(key)
        if kind is None:
            raise BadInput(
                422, f"unknown field {key!r}; limits are {', '.join(sorted(CURATOR_LIMITS))}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadInput(422, f"{key} must be a number")
        if kind is int and (isinstance(value, float) and not value.is_integer()):
            raise BadInput(422, f"{key} must be an integer")
        if value != value or value in (float("inf"), float("-inf")):
            raise BadInput(422, f"{key} must be a finite number")
        limits[key] = kind(value)
    return mode, limits


# Output names are the OwnerCard's (vvtv.ownercard.rules.OUTPUT_NAME): nothing else is one.
_OUTPUT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def check_output_name(name: str) -> str:
    """A push output's name from a path: 404 for anything that cannot be one."""
    if not _OUTPUT_NAME.fullmatch(name):
        raise BadInput(404, "no such output")
    return name


def output_body(payload: Any) -> bool | None:
    """Body of /v1/control/outputs/{name}: ``{"enabled": true}`` switches the output on,
    ``false`` off (both held across restarts), ``null`` gives it back to the OwnerCard."""
    if not isinstance(payload, dict) or "enabled" not in payload:
        raise BadInput(422, 'body must be a JSON object like {"enabled": true}')
    unknown = sorted(set(payload) - {"enabled"})
    if unknown:
        raise BadInput(422, f"unknown field(s): {', '.join(unknown)}")
    enabled = payload["enabled"]
    if enabled is not None and not isinstance(enabled, bool):
        raise BadInput(422, "enabled must be true, false or null (back to the OwnerCard)")
    return enabled


GUIDE_DEFAULT_HOURS = 24
GUIDE_MAX_HOURS = 168
GUIDE_HOURS_ERROR = f"hours must be a whole number from 1 to {GUIDE_MAX_HOURS}"
_HOURS = re.compile(r"[0-9]{1,3}")


def parse_guide_hours(text: str | None) -> int:
    """``hours`` of ``/iptv/xmltv.xml``: how far ahead the guide reaches (default 24)."""
    if text is None:
        return GUIDE_DEFAULT_HOURS
    if not _HOURS.fullmatch(text) or not 1 <= int(text) <= GUIDE_MAX_HOURS:
        raise BadInput(400, f"{GUIDE_HOURS_ERROR} (got {text[:20]!r})")
    return int(text)


LINEUP_SCANS = ("start", "abort")


def parse_lineup_scan(text: str | None) -> str:
    """``scan`` of ``POST /lineup.post`` (what a media server sends to rescan a tuner)."""
    if text not in LINEUP_SCANS:
        got = "nothing" if text is None else repr(text[:20])
        raise BadInput(400, f"scan must be one of {', '.join(LINEUP_SCANS)} (got {got})")
    return text
