"""The OpenAPI 3.1 description of every endpoint, served at ``/openapi.json``.

Hand-written rather than generated: the API is small, and writing it out keeps the
contract (parameters, bodies, every status a client may see) readable in one place.
A test checks that every route of the app is described here and vice versa.
"""

from __future__ import annotations

from typing import Any

from vvtv.air.status import ItemDict, StatusDict
from vvtv.core.model import PlanState, Severity
from vvtv.core.signing import NONCE
from vvtv.iptv.hdhomerun import TUNER_COUNT
from vvtv.web.params import (
    CURATOR_MODES,
    DATE_ERROR,
    GUIDE_DEFAULT_HOURS,
    GUIDE_HOURS_ERROR,
    GUIDE_MAX_HOURS,
    LINEUP_SCANS,
    PLANS_DEFAULT_LIMIT,
    PLANS_MAX_LIMIT,
    PLANS_MAX_OFFSET,
    WEEK_FORMAT_ERROR,
    WEEK_INVALID_ERROR,
)
from vvtv.web.schema import json_schema

JSON = "application/json"
#: ``YYYY-Www`` with a year from 0001 and a week from 01 to 53: what ``parse_week`` reads.
#: Whether a year has a week 53 is a calendar fact, not a pattern: ``format: iso-week``.
ISO_WEEK_PATTERN = (
    "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
    "-W(0[1-9]|[1-4][0-9]|5[0-3])$"
)


def _described(schema: dict[str, Any], **descriptions: str) -> dict[str, Any]:
    """A derived object schema with a description added to some of its properties."""
    for name, text in descriptions.items():
        schema["properties"][name]["description"] = text
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json_response(description, _ref("Error"))


_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "what was wrong, and where"},
            "errors": {"type": "array", "items": {"type": "string"}},
            "modes": {
                "type": "array",
                "items": {"type": "string", "enum": list(CURATOR_MODES)},
                "description": "curator-mode: the modes it accepts",
            },
        },
        "additionalProperties": True,
    },
    "DailyReport": {
        "type": "object",
        "required": ["date", "generated_at", "summary", "metrics", "partial"],
        "properties": {
            "date": {"type": "string", "format": "date"},
            "generated_at": {"type": "string", "format": "date-time"},
            "partial": {
                "type": "boolean",
                "description": "true for today: the day so far, computed when asked; the "
                "nightly job's report of a finished day is false",
            },
            "summary": {
                "type": "object",
                "properties": {
                    "items_aired": {"type": "integer"},
                    "minutes_aired": {"type": "number"},
                    "dead_air_seconds": {
                        "type": "number",
                        "description": "gaps between aired items while the channel ran",
                    },
                    "availability_pct": {
                        "type": ["number", "null"],
                        "description": "share of the day (so far, for today) the channel was "
                        "on air, counted from its first air; null before it",
                    },
                    "downtime_seconds": {"type": "number"},
                    "outages": {"type": "integer"},
                    "emergency_minutes": {"type": "number"},
                    "qa_pass_rate": {"type": "number"},
                    "fallback_rate": {"type": "number"},
                },
                "additionalProperties": True,
            },
            "metrics": {"type": "object", "additionalProperties": True},
        },
    },
    # Derived from the types the code builds (vvtv.web.schema): never edited by hand.
    "Status": _described(
        json_schema(StatusDict),
        card_warnings=(
            "warnings of the OwnerCard in force, each naming its field: unknown keys, "
            "and settings the card asks for that vvtv does not implement (e.g. "
            "safety_policy.reject_suspicious_watermark: true)"
        ),
        availability_pct=(
            "share of today (local date) the channel was on air so far, from the air's "
            "heartbeat; null before its first air"
        ),
    ),
    "QueueEntry": json_schema(ItemDict),
    "Alert": {
        "type": "object",
        "required": ["code", "severity", "message"],
        "properties": {
            "code": {"type": "string"},
            "severity": json_schema(Severity),
            "message": {"type": "string"},
            "since": {"type": ["string", "null"], "format": "date-time"},
            "inhibited_by": {
                "type": ["string", "null"],
                "description": "the active alert that inhibits this one: one incident, only "
                "the inhibitor pages (EMERGENCY_ACTIVE inhibits BUFFER_CRITICAL); null when "
                "this alert pages on its own",
            },
        },
    },
    "OutputState": {
        "description": (
            "A push output (the OwnerCard's outputs[]): what it is doing now. The URL is the "
            "server and application only; the stream key is never shown."
        ),
        "type": "object",
        "required": ["name", "url", "protocol", "enabled", "status", "connected"],
        "properties": {
            "name": {"type": "string"},
            "url": {"type": "string", "description": "scheme://host:port/application"},
            "protocol": {"type": "string", "enum": ["rtmp", "rtmps", "srt"]},
            "enabled": {"type": "boolean", "description": "in effect (switch, else card)"},
            "override": {
                "type": ["boolean", "null"],
                "description": "set by POST /v1/control/outputs/{name}; null: the card decides",
            },
            "status": {
                "type": "string",
                "enum": ["disabled", "connecting", "connected", "retrying", "removed"],
            },
            "connected": {"type": "boolean"},
            "connected_since": {"type": ["string", "null"], "format": "date-time"},
            "uptime_s": {"type": "number"},
            "down_s": {
                "type": ["number", "null"],
                "description": "seconds an enabled output has not been connected",
            },
            "bitrate_kbps": {"type": "number"},
            "bytes_sent": {"type": "integer"},
            "reconnects": {"type": "integer", "description": "connections made again"},
            "failures": {"type": "integer", "description": "attempts that ended in an error"},
            "segments_sent": {"type": "integer"},
            "segments_skipped": {
                "type": "integer",
                "description": "skipped to stay within seconds of the air",
            },
            "segments_dropped": {"type": "integer"},
            "last_error": {"type": "string"},
            "last_error_at": {"type": ["string", "null"], "format": "date-time"},
        },
        "additionalProperties": False,
    },
    "PublicProgramme": {
        "type": "object",
        "required": ["title", "category", "start", "stop", "intermission"],
        "properties": {
            "title": {"type": "string"},
            "category": {"type": "string", "description": "the theme"},
            "start": {"type": "string", "format": "date-time"},
            "stop": {"type": "string", "format": "date-time"},
            "intermission": {
                "type": "boolean",
                "description": "filler (emergency pool or slate) until the next programme",
            },
        },
        "additionalProperties": False,
    },
    "PublicStatus": {
        "description": (
            "What the watch page shows: titles, themes and times only (no ids, URLs, paths "
            "or operational state)."
        ),
        "type": "object",
        "required": ["channel", "state", "timestamp", "now", "next"],
        "properties": {
            "channel": {
                "type": "object",
                "required": ["id", "name", "logo"],
                "properties": {
                    "id": {"type": "string", "description": "the guide's channel id (tvg-id)"},
                    "name": {"type": "string"},
                    "logo": {"type": ["string", "null"], "description": "URL; null = none"},
                },
            },
            "state": {"type": "string", "enum": ["on_air", "intermission", "starting"]},
            "timestamp": {"type": "string", "format": "date-time"},
            "now": {"oneOf": [_ref("PublicProgramme"), {"type": "null"}]},
            "next": {"type": "array", "items": _ref("PublicProgramme"), "maxItems": 3},
        },
        "additionalProperties": False,
    },
    "HdhrDiscover": {
        "type": "object",
        "required": [
            "FriendlyName",
            "Manufacturer",
            "ModelNumber",
            "FirmwareName",
            "FirmwareVersion",
            "DeviceID",
            "DeviceAuth",
            "BaseURL",
            "LineupURL",
            "TunerCount",
        ],
        "properties": {
            "FriendlyName": {"type": "string"},
            "Manufacturer": {"type": "string"},
            "ModelNumber": {"type": "string"},
            "FirmwareName": {"type": "string"},
            "FirmwareVersion": {"type": "string"},
            "DeviceID": {"type": "string", "pattern": "^[0-9A-F]{8}$"},
            "DeviceAuth": {"type": "string"},
            "BaseURL": {"type": "string", "format": "uri"},
            "LineupURL": {"type": "string", "format": "uri"},
            "TunerCount": {"type": "integer", "minimum": 1},
        },
    },
    "HdhrLineupItem": {
        "type": "object",
        "required": ["GuideNumber", "GuideName", "URL"],
        "properties": {
            "GuideNumber": {"type": "string"},
            "GuideName": {"type": "string"},
            "URL": {"type": "string", "format": "uri"},
            "HD": {"type": "integer", "enum": [0, 1]},
            "VideoCodec": {"type": "string"},
            "AudioCodec": {"type": "string"},
        },
    },
    "HdhrLineupStatus": {
        "type": "object",
        "properties": {
            "ScanInProgress": {"type": "integer"},
            "ScanPossible": {"type": "integer"},
            "Source": {"type": "string"},
            "SourceList": {"type": "array", "items": {"type": "string"}},
        },
    },
    "LiveFrame": {
        "description": (
            "Websocket frame. The first frame after connecting is the latest state "
            "(snapshot). 'gap' is present when the client was too slow and n updates "
            "were conflated away; the frame still carries the latest data."
        ),
        "type": "object",
        "required": ["topic", "seq", "data"],
        "properties": {
            "topic": {"type": "string", "enum": ["buffer", "alerts", "runtime"]},
            "seq": {"type": "integer", "minimum": 1},
            "data": {},
            "gap": {"type": "integer", "minimum": 1},
        },
    },
}

_SIGNING_HEADERS = [
    {
        "name": "x-vvtv-ts",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        "description": (
            "unix seconds (1 to 12 ASCII digits: no sign, fraction or exponent); refused "
            "outside ±300 s of the channel clock"
        ),
    },
    {
        "name": "x-vvtv-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "description": (
            'lowercase hex HMAC-SHA256(secret, METHOD + "\\n" + PATH + "\\n" + TS + "\\n" '
            "+ BODY), PATH without query string, BODY the exact request body; with "
            'x-vvtv-nonce, TS + ":" + NONCE in place of TS. Each signature is accepted once'
        ),
    },
    {
        "name": "x-vvtv-nonce",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": f"^{NONCE.pattern}$"},
        "description": (
            "optional, covered by the signature: a fresh one per request lets a tool repeat "
            "the same call within one second (without it, the second is a replay)"
        ),
    },
]


def _control(
    summary: str,
    body: dict[str, Any] | None,
    ok: dict[str, Any],
    *,
    description: str = "",
    **responses: dict[str, Any],
) -> dict[str, Any]:
    """A signed control operation; ``responses`` (``r400=...``) replace the common replies."""
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": _SIGNING_HEADERS,
        "responses": {
            "200": ok,
            "400": _error("malformed JSON body"),
            "401": _error(
                "refused: a missing or wrong token, a missing header, a malformed or stale "
                "timestamp, a bad signature or a replay. Every refusal carries the same "
                "message; which check failed goes to the channel's log and audit "
                "(control_refused, at most 10 a minute per kind) and to the metric "
                "vvtv_control_refused_total{kind}"
            ),
            "413": _error("body larger than the limit (counted and audited as a refusal)"),
            "422": _error("well-formed but invalid request"),
            **{code.removeprefix("r"): reply for code, reply in responses.items()},
        },
    }
    if description:
        op["description"] = description
    if body is not None:
        op["requestBody"] = body
    return op


def _output_switch() -> dict[str, Any]:
    op = _control(
        "Switch one push output on or off, or give it back to the OwnerCard",
        {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["enabled"],
                        "properties": {
                            "enabled": {
                                "type": ["boolean", "null"],
                                "description": (
                                    "true/false: switched on/off until switched again "
                                    "(kept across restarts); null: the card's enabled decides"
                                ),
                            }
                        },
                        "additionalProperties": False,
                    }
                }
            },
        },
        _json_response("the output's state after the switch", _ref("OutputState")),
    )
    op["parameters"] = [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
            "description": "the output's name in the OwnerCard",
        },
        *op["parameters"],
    ]
    op["responses"]["404"] = _error("no output of that name in the OwnerCard")
    op["responses"]["503"] = _error("the output's pusher is restarting; try again")
    return op


def _websocket(topic: str, what: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": f"Live {what} (websocket; upgrade required)",
            "description": (
                f'Websocket stream of JSON frames {{"topic": "{topic}", "seq", "data"}}: '
                "the latest state on connect, then every change. Closed with code 1001 "
                "on shutdown. The server only talks: what a client sends is read and "
                "dropped, and a message over VVTV_WS_MAX_MESSAGE_BYTES closes the "
                "connection with 1009. Over VVTV_WS_MAX_CLIENTS in all or "
                "VVTV_WS_MAX_CLIENTS_PER_ADDRESS from one client address, the handshake "
                "completes and the socket is closed at once with 1013 and a reason naming "
                "the cap. A browser page may open it only from the channel's own origin or "
                "one in VVTV_ALLOWED_ORIGINS (a client without an Origin header is not a "
                "browser and may)."
            ),
            "responses": {
                "101": _json_response(
                    "switching protocols; then LiveFrame messages", _ref("LiveFrame")
                ),
                "403": _error(
                    "the page's Origin is neither the channel's own nor in "
                    "VVTV_ALLOWED_ORIGINS (refused before the handshake: nothing is sent)"
                ),
                "404": _error("unknown live topic"),
                "503": _error("the server is shutting down"),
                "426": {
                    **_error("a plain HTTP request: the route answers websocket upgrades only"),
                    "headers": {"Upgrade": {"schema": {"type": "string", "const": "websocket"}}},
                },
            },
        }
    }


# What the HTTP face may answer to any request, before a route runs (vvtv/web/hosts.py,
# server.py, body.py): added to every operation that does not describe the status itself.
_GUARDS: dict[str, Any] = {
    "400": _error("malformed Host header (not a host name or IP address with a port)"),
    "421": _error(
        "the Host is not a name the channel answers to (DNS rebinding): localhost, "
        "an IP address, the bind address, the names of VVTV_PUBLIC_BASE_URL and VVTV_API_URL, "
        "and VVTV_PUBLIC_HOSTS are"
    ),
    "431": _error("request target and headers over VVTV_HTTP_MAX_HEADER_BYTES"),
    "503": {
        "description": (
            "too many connections (VVTV_HTTP_MAX_CONNECTIONS, or the file-descriptor limit) "
            "and every one busy being answered: try again (Retry-After: 1)"
        ),
        "content": {JSON: {"schema": _ref("Error")}},
    },
}
_BODY_GUARDS: dict[str, Any] = {
    "408": _error(
        "the request body did not arrive within VVTV_HTTP_READ_TIMEOUT_SECS of its headers"
    ),
}


def _with_guards(paths: dict[str, Any]) -> dict[str, Any]:
    for item in paths.values():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            extra = {**_GUARDS, **(_BODY_GUARDS if method in ("post", "put") else {})}
            for status, reply in extra.items():
                responses.setdefault(status, reply)
    return paths


def _text(description: str, content_type: str, **more: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {content_type: {"schema": {"type": "string"}}},
        **more,
    }


_BAD_HOST = _error("missing or malformed Host header (set VVTV_PUBLIC_BASE_URL)")
_BASE_NOTE = (
    "Absolute URLs start with VVTV_PUBLIC_BASE_URL when it is set, else with the request's "
    "scheme and Host header (then the answer varies by Host)."
)


def _audience_paths() -> dict[str, Any]:
    """The public, read-only routes for viewers and IPTV apps (issue 18)."""
    return {
        "/watch": {
            "get": {
                "summary": "The public watch page (HTML): player, channel, now and next",
                "description": "No control, no token; its own strict Content-Security-Policy.",
                "responses": {"200": {"description": "text/html"}},
            }
        },
        "/v1/public/status": {
            "get": {
                "summary": "What is on air and next, for viewers (read-only subset of the status)",
                "responses": {"200": _json_response("public status", _ref("PublicStatus"))},
            }
        },
        "/channel/logo": {
            "get": {
                "summary": "The channel's logo, when the OwnerCard names a local image file",
                "responses": {
                    "200": {
                        "description": "the image",
                        "content": {
                            t: {"schema": {"type": "string", "format": "binary"}}
                            for t in ("image/png", "image/jpeg", "image/webp", "image/gif")
                        },
                    },
                    "404": _error("no logo file (none, a URL, missing, or too large)"),
                },
            }
        },
        "/iptv/channel.m3u": {
            "get": {
                "summary": "M3U playlist for IPTV apps (tvg-id, tvg-name, tvg-logo, group-title)",
                "description": _BASE_NOTE,
                "responses": {
                    "200": _text("the playlist; url-tvg names the XMLTV guide", "audio/x-mpegurl"),
                    "400": _BAD_HOST,
                },
            }
        },
        "/iptv/xmltv.xml": {
            "get": {
                "summary": "XMLTV guide from the timeline and the plan grid",
                "description": (
                    "Valid against the XMLTV DTD; times carry the channel's zone offset; "
                    "filler (emergency pool, slate) and holes are 'Intermission'. " + _BASE_NOTE
                ),
                "parameters": [
                    {
                        "name": "hours",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": GUIDE_MAX_HOURS,
                            "default": GUIDE_DEFAULT_HOURS,
                        },
                        "description": "how far ahead the guide reaches",
                    }
                ],
                "responses": {
                    "200": _text("the guide", "application/xml"),
                    "400": _error(f"{GUIDE_HOURS_ERROR}, or a malformed Host header"),
                },
            }
        },
        "/iptv/channel.ts": {
            "get": {
                "summary": "The live channel as one continuous MPEG-TS stream (HDHomeRun tuner)",
                "x-endless": True,  # never ends: a client reads it while it watches
                "description": (
                    f"At most {TUNER_COUNT} at once. Any query (Jellyfin's ?transcode=) is "
                    "ignored: the channel has one rendition."
                ),
                "responses": {
                    "200": {
                        "description": "an endless MPEG-TS stream",
                        "content": {
                            "video/mp2t": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "503": _error("all tuners are busy, or the server is shutting down"),
                },
            }
        },
        "/discover.json": {
            "get": {
                "summary": "HDHomeRun device (what Plex, Emby and Jellyfin read first)",
                "description": _BASE_NOTE,
                "responses": {
                    "200": _json_response("the device", _ref("HdhrDiscover")),
                    "400": _BAD_HOST,
                },
            }
        },
        "/lineup.json": {
            "get": {
                "summary": "HDHomeRun lineup: the channel on its MPEG-TS stream",
                "description": _BASE_NOTE,
                "responses": {
                    "200": _json_response(
                        "the lineup", {"type": "array", "items": _ref("HdhrLineupItem")}
                    ),
                    "400": _BAD_HOST,
                },
            }
        },
        "/lineup_status.json": {
            "get": {
                "summary": "HDHomeRun scan status (never scanning: the lineup is fixed)",
                "responses": {"200": _json_response("status", _ref("HdhrLineupStatus"))},
            }
        },
        "/lineup.post": {
            "post": {
                "summary": "HDHomeRun rescan request (accepted; the lineup is fixed)",
                "parameters": [
                    {
                        "name": "scan",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": list(LINEUP_SCANS)},
                    }
                ],
                "responses": {
                    "200": {"description": "done (empty body)"},
                    "400": _error("scan missing or not start/abort"),
                },
            }
        },
        "/device.xml": {
            "get": {
                "summary": "UPnP device description of the HDHomeRun emulation",
                "description": _BASE_NOTE,
                "responses": {"200": _text("the description", "application/xml"), "400": _BAD_HOST},
            }
        },
    }


def openapi_document(max_body_bytes: int) -> dict[str, Any]:
    """The whole document; ``max_body_bytes`` is the control body limit of this app."""
    plan_states = [s.value for s in PlanState]
    paths: dict[str, Any] = {
        "/v1/status": {
            "get": {
                "summary": "Live channel status",
                "responses": {"200": _json_response("status", _ref("Status"))},
            }
        },
        "/v1/queue": {
            "get": {
                "summary": "Timeline of ready entries from now",
                "responses": {
                    "200": _json_response(
                        "queue",
                        {
                            "type": "object",
                            "properties": {
                                "count": {"type": "integer"},
                                "items": {"type": "array", "items": _ref("QueueEntry")},
                            },
                        },
                    )
                },
            }
        },
        "/v1/plans": {
            "get": {
                "summary": "Plans, newest first, paginated",
                "parameters": [
                    {
                        "name": "state",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": plan_states},
                        "description": "filter by plan state (case-insensitive)",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": PLANS_MAX_LIMIT,
                            "default": PLANS_DEFAULT_LIMIT,
                        },
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": PLANS_MAX_OFFSET,
                            "default": 0,
                        },
                    },
                ],
                "responses": {
                    "200": _json_response(
                        "one page of plans",
                        {
                            "type": "object",
                            "required": ["total", "items", "limit", "offset"],
                            "properties": {
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                                "items": {"type": "array", "items": _OBJECT},
                            },
                        },
                    ),
                    "400": _error("invalid state, limit or offset"),
                },
            }
        },
        "/v1/reports/daily": {
            "get": {
                "summary": "Daily report of one local date",
                "parameters": [
                    {
                        "name": "date",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date"},
                        "example": "2026-03-01",
                    }
                ],
                "description": "The nightly job's report of a finished day. For today (the "
                "channel's local date) the day so far, computed when asked (`partial: true`); "
                "a fresh install answers an empty report. A past day the nightly job has not "
                "reported (the channel was off at 03:00) and a future day are 404.",
                "responses": {
                    "200": _json_response("the report", _ref("DailyReport")),
                    "400": _error(f'"{DATE_ERROR}"'),
                    "404": _error("no report for that date"),
                },
            }
        },
        "/v1/reports/weekly": {
            "get": {
                "summary": "Weekly report of one ISO week",
                "parameters": [
                    {
                        "name": "week",
                        "in": "query",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "format": "iso-week",
                            "pattern": ISO_WEEK_PATTERN,
                        },
                        "description": (
                            "an ISO 8601 week, YYYY-Www: year 0001-9999, week 01-53 (W53 only "
                            "in the years that have one, and 9999-W52 ends past the calendar: "
                            'else 400 "invalid iso week")'
                        ),
                        "example": "2026-W09",
                    }
                ],
                "responses": {
                    "200": _json_response("the report", _OBJECT),
                    "400": _error(f'"{WEEK_FORMAT_ERROR}" or "{WEEK_INVALID_ERROR}"'),
                    "404": _error("no report for that week"),
                },
            }
        },
        "/v1/alerts": {
            "get": {
                "summary": "Active alerts",
                "responses": {
                    "200": _json_response(
                        "alerts",
                        {
                            "type": "object",
                            "required": ["count", "alerts"],
                            "properties": {
                                "count": {
                                    "type": "integer",
                                    "description": "active alerts, inhibited ones included",
                                },
                                "alerts": {"type": "array", "items": _ref("Alert")},
                                "inhibited": {
                                    "type": "integer",
                                    "description": "how many of them are inhibited",
                                },
                                "startup_grace_until": {
                                    "type": ["string", "null"],
                                    "format": "date-time",
                                    "description": "until then no notification is sent "
                                    "(VVTV_ALERT_STARTUP_GRACE_SECS after start); null "
                                    "once the grace is over",
                                },
                            },
                        },
                    )
                },
            }
        },
        "/v1/outputs": {
            "get": {
                "summary": "Push outputs (RTMP, RTMPS, SRT) and what each is doing",
                "responses": {
                    "200": _json_response(
                        "outputs, in the OwnerCard's order",
                        {
                            "type": "object",
                            "required": ["count", "outputs"],
                            "properties": {
                                "count": {"type": "integer"},
                                "outputs": {"type": "array", "items": _ref("OutputState")},
                            },
                        },
                    )
                },
            }
        },
        "/v1/runtime": {
            "get": {
                "summary": "Supervision tree snapshot (state, restarts, mailboxes)",
                "description": (
                    "The root node of the tree (name, state, restarts, children...), plus "
                    "`outputs`: the push outputs as /v1/outputs lists them."
                ),
                "responses": {"200": _json_response("tree", _OBJECT)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format 0.0.4",
                        "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Process is up",
                "responses": {"200": _json_response("up", _OBJECT)},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Store open, supervision tree up, slate present",
                "responses": {
                    "200": _json_response("ready", _OBJECT),
                    "503": _json_response("not ready; checks says which", _OBJECT),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {"200": _json_response("OpenAPI 3.1", _OBJECT)},
            }
        },
        "/": {
            "get": {
                "summary": "Live dashboard (HTML)",
                "responses": {"200": {"description": "text/html"}},
            }
        },
        "/live/index.m3u8": {
            "get": {
                "summary": "Live HLS playlist (Cache-Control: no-cache)",
                "responses": {
                    "200": {
                        "description": "media playlist",
                        "content": {
                            "application/vnd.apple.mpegurl": {"schema": {"type": "string"}}
                        },
                    }
                },
            }
        },
        "/live/master.m3u8": {
            "get": {
                "summary": "Master HLS playlist: the main rendition and the card's lower rungs "
                "(channel.renditions), each with BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, "
                "RESOLUTION and FRAME-RATE; the main rendition alone when there is no rung "
                "(Cache-Control: no-cache)",
                "responses": {
                    "200": {
                        "description": "master playlist",
                        "content": {
                            "application/vnd.apple.mpegurl": {"schema": {"type": "string"}}
                        },
                    },
                    "503": _error("no live window yet"),
                },
            }
        },
        "/live/{rendition}.m3u8": {
            "get": {
                "summary": "A lower rung's live media playlist: the main one's timeline "
                "(same media sequence, discontinuities and durations), the rung's segments "
                "(the main ones for an asset prepared without the rung)",
                "parameters": [
                    {
                        "name": "rendition",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]{3,4}p$"},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "media playlist",
                        "content": {
                            "application/vnd.apple.mpegurl": {"schema": {"type": "string"}}
                        },
                    },
                    "404": _error("the card has no such rendition"),
                },
            }
        },
        "/live/seg/{asset_id}/{name}": {
            "get": {
                "summary": "One HLS segment (immutable, cacheable)",
                "parameters": [
                    {
                        "name": "asset_id",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$",
                        },
                    },
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\\.ts$",
                        },
                    },
                ],
                "responses": {
                    "200": {
                        "description": "MPEG-TS segment",
                        "content": {
                            "video/mp2t": {"schema": {"type": "string", "format": "binary"}}
                        },
                    },
                    "404": _error("unknown asset or segment, or an invalid name"),
                },
            }
        },
        "/v1/control/reload-owner-card": {
            "post": _control(
                "Reload the OwnerCard from disk (validated first; invalid keeps the previous)",
                None,
                _json_response(
                    "applied",
                    {
                        "type": "object",
                        "properties": {"ok": {"const": True}, "diff": _OBJECT},
                    },
                ),
            )
        },
        "/v1/control/emergency-mode": {
            "post": _control(
                "Force emergency on (enabled: true) or off (false), each held until "
                "released; enabled: null releases the override; an empty body toggles it",
                {
                    "required": False,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {"enabled": {"type": ["boolean", "null"]}},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                _json_response(
                    "the resulting status: state says whether emergency mode is on",
                    _ref("Status"),
                ),
                description=(
                    "An empty body (what the original's tools send) or {} toggles emergency "
                    "mode, as the original did; the reply's state is the mode it left."
                ),
            )
        },
        "/v1/control/curator-mode": {
            "post": _control(
                "Set the curator mode and optional limits within the OwnerCard's",
                {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["mode"],
                                "properties": {
                                    "mode": {"type": "string", "enum": list(CURATOR_MODES)},
                                    "min_confidence": {
                                        "type": "number",
                                        "minimum": 0,
                                        "maximum": 1,
                                    },
                                    "max_reorders_per_hour": {"type": "integer", "minimum": 0},
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                _json_response("the applied curator settings", _OBJECT),
                description=(
                    "The body is required: an empty one (the original's tools) is a 400 "
                    "whose modes lists the accepted values. Limits may only tighten the "
                    "OwnerCard's (a looser one is a 422 naming the card's bound)."
                ),
                r400=_error("malformed JSON, or no body (modes lists the accepted values)"),
                r422=_error(
                    "unknown mode (modes lists the accepted values), unknown field, or a "
                    "limit outside the OwnerCard's"
                ),
            )
        },
        "/v1/control/nightly": {
            "post": _control(
                "Run the nightly job now (export, retention, reports, autotune), once per "
                "local date unless force: the reply says what ran, or why nothing did",
                {
                    "required": False,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {"force": {"type": "boolean"}},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                _json_response(
                    "what ran",
                    {
                        "type": "object",
                        "required": ["ran", "local_date"],
                        "properties": {
                            "ran": {"type": "boolean"},
                            "local_date": {"type": "string", "format": "date"},
                            "reason": {"type": "string"},
                        },
                    },
                ),
            )
        },
        "/v1/control/outputs/{name}": {"post": _output_switch()},
        "/v1/ws/buffer": _websocket("buffer", "buffer state (same fields as /v1/status)"),
        "/v1/ws/alerts": _websocket("alerts", "active alerts"),
        "/v1/ws/runtime": _websocket(
            "runtime", "supervision tree snapshot, with the push outputs (as /v1/runtime)"
        ),
        **_audience_paths(),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vvtv control API",
            "version": "1",
            "description": (
                "Read endpoints need no auth. Control endpoints are signed (SPEC §3); "
                "the audience's routes (/watch, /v1/public/status, /iptv/*, the HDHomeRun "
                "emulation) are public and read-only; "
                f"their bodies are limited to {max_body_bytes} bytes. Every error is JSON "
                '{"error": ...}. Every request is first held to the HTTP face\'s limits: '
                "its Host must be a name the channel answers to (421), its headers small "
                "(431), its body on time (408); at the connection cap with every connection "
                "busy, a newcomer gets a 503. Every HTML answer carries a strict "
                "Content-Security-Policy (frame-ancestors 'none'), nosniff and no referrer."
            ),
        },
        "paths": _with_guards(paths),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
