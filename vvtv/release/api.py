"""A small client of the daemon's HTTP API for the operator tools (SPEC §3).

Reads are plain GETs; the control call is signed with ``vvtv.core.signing.signed_headers``
over the exact body sent. Every failure becomes an ``ApiError`` saying which request
failed and why, so the soak can count it and the CLI can print it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import httpx

from vvtv.core.signing import new_nonce, signed_headers

HIGH_SEVERITIES = frozenset({"high", "critical"})
DEFAULT_TIMEOUT = 10.0


class ApiError(Exception):
    """One request that failed: transport error, non-2xx status, or an unreadable body."""

    def __init__(self, method: str, url: str, problem: str, status: int | None = None) -> None:
        super().__init__(f"{method} {url}: {problem}")
        self.status = status


def client(timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    # trust_env=False: an operator's HTTP(S)_PROXY must not reroute calls to the local daemon.
    return httpx.AsyncClient(timeout=timeout, trust_env=False)


def _url(base: str, path: str) -> str:
    return base.rstrip("/") + path


async def get_text(http: httpx.AsyncClient, base: str, path: str) -> str:
    url = _url(base, path)
    try:
        response = await http.get(url)
    except httpx.HTTPError as exc:
        raise ApiError("GET", url, f"{type(exc).__name__}: {exc or 'no response'}") from exc
    if response.status_code // 100 != 2:
        raise ApiError("GET", url, f"HTTP {response.status_code}", response.status_code)
    return response.text


async def get_json(http: httpx.AsyncClient, base: str, path: str) -> dict[str, Any]:
    text = await get_text(http, base, path)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError("GET", _url(base, path), f"body is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise ApiError("GET", _url(base, path), "body is not a JSON object")
    return body


def alerts_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    alerts = body.get("alerts", [])
    return [a for a in alerts if isinstance(a, dict)] if isinstance(alerts, list) else []


def high_or_critical(alerts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if str(a.get("severity", "")).lower() in HIGH_SEVERITIES]


async def active_alerts(base: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
    async with client(timeout) as http:
        return alerts_of(await get_json(http, base, "/v1/alerts"))


async def status_and_alerts(
    base: str, *, timeout: float = DEFAULT_TIMEOUT
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with client(timeout) as http:
        status = await get_json(http, base, "/v1/status")
        alerts = alerts_of(await get_json(http, base, "/v1/alerts"))
    return status, alerts


async def signed_post(
    base: str,
    path: str,
    payload: dict[str, Any] | None,
    token: str,
    secret: str,
    now: datetime,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """POST a JSON body (none when ``payload`` is None, as the original's tools did) signed
    over exactly the bytes sent, with a fresh nonce (a command may be repeated within a
    second); the JSON reply."""
    body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
    headers = signed_headers(token, secret, "POST", path, body, now.timestamp(), nonce=new_nonce())
    if payload is not None:
        headers["Content-Type"] = "application/json"
    url = _url(base, path)
    async with client(timeout) as http:
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiError(
                "POST", url, f"{type(exc).__name__}: {exc or 'no response'}; is the daemon running?"
            ) from exc
    if response.status_code == 401:
        raise ApiError(
            "POST",
            url,
            f"refused (401: {response.text.strip()[:200]}): VVTV_CONTROL_TOKEN and "
            "VVTV_CONTROL_SECRET must match the daemon's, and this machine's clock must be "
            "within 300 s of the daemon's",
            401,
        )
    if response.status_code // 100 != 2:
        raise ApiError(
            "POST",
            url,
            f"HTTP {response.status_code}: {response.text.strip()[:200]}",
            response.status_code,
        )
    try:
        reply = response.json()
    except ValueError:
        reply = {}
    return reply if isinstance(reply, dict) else {"reply": reply}


async def set_emergency(
    base: str, token: str, secret: str, enabled: bool | None, now: datetime
) -> dict[str, Any]:
    """Force emergency mode on (True) or off (False), or release the override (None); the
    daemon's resulting state, flattened for printing."""
    reply = await signed_post(
        base, "/v1/control/emergency-mode", {"enabled": enabled}, token, secret, now
    )
    return _emergency_fields(reply, enabled)


async def toggle_emergency(base: str, token: str, secret: str, now: datetime) -> dict[str, Any]:
    """The original's empty-body call: emergency mode flips; the daemon's resulting state."""
    reply = await signed_post(base, "/v1/control/emergency-mode", None, token, secret, now)
    return _emergency_fields(reply, reply.get("emergency_override"))


def _emergency_fields(reply: dict[str, Any], override: bool | None) -> dict[str, Any]:
    return {
        "state": reply.get("state", ""),
        "emergency_override": reply.get("emergency_override", override),
        "buffer_minutes": reply.get("buffer_minutes", ""),
        "buffer_target_minutes": reply.get("buffer_target_minutes", ""),
    }


# The nightly job exports a day of audit, applies retention and writes the reports: give
# it the time a large state database needs, not a status call's ten seconds.
NIGHTLY_TIMEOUT = 900.0


async def run_nightly(
    base: str, token: str, secret: str, force: bool, now: datetime
) -> dict[str, Any]:
    """Ask the running daemon for the nightly job now (the signed ``nightly`` control
    call); its reply: ``ran``, ``local_date``, what ran, or ``reason`` when nothing did.
    Each call carries a fresh nonce (``signed_post``): an operator running it twice means it
    twice."""
    return await signed_post(
        base,
        "/v1/control/nightly",
        {"force": force},
        token,
        secret,
        now,
        timeout=NIGHTLY_TIMEOUT,
    )
