"""Signed control endpoints (SPEC §3): they act, they are audited, and every refusal is JSON."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from tests.web.conftest import NOW, Served, StubChannel
from vvtv.core.signing import sign, signed_headers
from vvtv.web.app import UNAUTHORIZED

EMERGENCY = "/v1/control/emergency-mode"
CURATOR = "/v1/control/curator-mode"
RELOAD = "/v1/control/reload-owner-card"
NIGHTLY = "/v1/control/nightly"


async def test_good_signature_is_accepted_and_audited(served: Served, channel: StubChannel) -> None:
    body = b'{"enabled": true}'
    r = await served.control(EMERGENCY, body)
    assert r.status_code == 200
    assert r.json()["state"] == "EMERGENCY"
    who, action, details = channel.audits[-1]
    assert action == "emergency-mode"
    assert who.startswith("token:") and "@127.0.0.1" in who
    assert details["requested"] is True


async def test_emergency_set_is_reflected_by_status_at_once(served: Served) -> None:
    await served.control(EMERGENCY, b'{"enabled": true}')
    assert (await served.client.get("/v1/status")).json()["state"] == "EMERGENCY"
    await served.control(EMERGENCY, b'{"enabled": false}')
    status = (await served.client.get("/v1/status")).json()
    assert (status["state"], status["emergency_override"]) == ("RUNNING", False)


async def test_a_null_enabled_releases_the_override(served: Served, channel: StubChannel) -> None:
    await served.control(EMERGENCY, b'{"enabled": false}')
    assert channel.emergency_override is False
    await served.control(EMERGENCY, b'{"enabled": null}')
    assert channel.emergency_override is None
    assert channel.audits[-1][2]["requested"] == "release"


async def test_empty_emergency_body_toggles_for_old_clients(
    served: Served, channel: StubChannel
) -> None:
    assert (await served.control(EMERGENCY)).json()["state"] == "EMERGENCY"
    assert (await served.control(EMERGENCY)).json()["state"] == "RUNNING"
    assert [a[2]["requested"] for a in channel.audits] == ["toggle", "toggle"]


# --- the signing matrix: each case is refused with one 401; the reason is audited -------


def _headers(served: Served, path: str, body: bytes) -> dict[str, str]:
    return served.signed(path, body)


async def _post(served: Served, headers: dict[str, str], body: bytes, path: str = EMERGENCY):
    # As raw UTF-8 bytes: httpx would refuse to send a value outside latin-1 as text.
    raw = {name: value.encode() for name, value in headers.items()}
    return await served.client.post(path, content=body, headers=raw)


def assert_refused(r: httpx.Response, channel: StubChannel, kind: str, reason: str) -> None:
    """One generic 401 for the caller; the precise reason in the refusal audit, and nothing
    of what the caller sent (token, signature) in either."""
    assert (r.status_code, r.json()) == (401, {"error": UNAUTHORIZED})
    who, action, details = channel.refusals[-1]
    assert who == "127.0.0.1"
    assert action == r.request.url.path.removeprefix("/v1/control/")
    assert (details["kind"], details["reason"]) == (kind, reason)
    sent = {v for k, v in r.request.headers.items() if k.startswith(("authorization", "x-vvtv"))}
    recorded = json.dumps(channel.refusals)
    assert not [value for value in sent if len(value) > 8 and value in recorded]


@pytest.mark.parametrize(
    ("change", "kind", "reason"),
    [
        ({"Authorization": "Bearer wrong-token"}, "bad_token", "invalid token"),
        ({"Authorization": "Basic dGVzdA=="}, "bad_token", "invalid token"),
        ({"x-vvtv-signature": "0" * 64}, "bad_signature", "signature mismatch"),
        ({"x-vvtv-signature": "é" * 64}, "bad_signature", "signature mismatch"),
    ],
)
async def test_wrong_credentials_are_401(
    served: Served, channel: StubChannel, change: dict, kind: str, reason: str
) -> None:
    body = b'{"enabled": true}'
    headers = {**_headers(served, EMERGENCY, body), **change}
    r = await _post(served, headers, body)
    assert_refused(r, channel, kind, reason)
    assert channel.emergency_override is None and channel.audits == []


@pytest.mark.parametrize(
    "ts",
    [
        "soon",
        "9" * 5000,  # int() of it raises in Python: once a 500 and a traceback per request
        "1" * 13,
        "1772366400.5",
        "-1772366400",
        "+1772366400",
        "1772366400 1772366400",
        "١٧٧٢٣٦٦٤٠٠",  # Arabic-Indic digits, as UTF-8 bytes
        "0x69a42c40",
        "1_772_366_400",
        "",
    ],
)
async def test_a_malformed_timestamp_is_401_never_500(
    served: Served, channel: StubChannel, ts: str
) -> None:
    body = b""
    headers = {**_headers(served, EMERGENCY, body), "x-vvtv-ts": ts}
    r = await _post(served, headers, body)
    assert r.status_code == 401
    assert r.json() == {"error": UNAUTHORIZED}
    assert channel.refusals[-1][2]["kind"] in ("bad_timestamp", "missing_header")


@pytest.mark.parametrize("missing", ["Authorization", "x-vvtv-ts", "x-vvtv-signature"])
async def test_each_missing_header_is_401(
    served: Served, channel: StubChannel, missing: str
) -> None:
    body = b""
    headers = _headers(served, EMERGENCY, body)
    del headers[missing]
    r = await _post(served, headers, body)
    assert_refused(r, channel, "missing_header", f"missing {missing} header")


@pytest.mark.parametrize("skew", [-301, 301, -3600, 86400])
async def test_stale_and_future_timestamps_are_401(
    served: Served, channel: StubChannel, skew: int
) -> None:
    body = b""
    headers = served.signed(EMERGENCY, body, now=NOW + timedelta(seconds=skew))
    r = await _post(served, headers, body)
    assert_refused(r, channel, "stale_timestamp", "x-vvtv-ts outside the 300s window")


@pytest.mark.parametrize("skew", [-300, 300])
async def test_timestamps_at_the_window_edge_are_accepted(served: Served, skew: int) -> None:
    headers = served.signed(EMERGENCY, b"", now=NOW + timedelta(seconds=skew))
    assert (await _post(served, headers, b"")).status_code == 200


async def test_tampered_body_is_401(served: Served, channel: StubChannel) -> None:
    headers = _headers(served, EMERGENCY, b'{"enabled": false}')
    r = await _post(served, headers, b'{"enabled": true}')
    assert_refused(r, channel, "bad_signature", "signature mismatch")
    assert channel.emergency_override is None
    assert channel.audits == []


async def test_tampered_path_is_401(served: Served, channel: StubChannel) -> None:
    headers = _headers(served, CURATOR, b"")
    r = await _post(served, headers, b"", path=EMERGENCY)
    assert_refused(r, channel, "bad_signature", "signature mismatch")


async def test_query_string_is_not_part_of_the_signed_path(served: Served) -> None:
    headers = _headers(served, EMERGENCY, b"")
    r = await served.client.post(EMERGENCY + "?from=cli", content=b"", headers=headers)
    assert r.status_code == 200


async def test_replayed_signature_is_401(served: Served, channel: StubChannel) -> None:
    body = b'{"enabled": true}'
    headers = _headers(served, EMERGENCY, body)
    assert (await _post(served, headers, body)).status_code == 200
    r = await _post(served, headers, body)
    assert_refused(r, channel, "replayed", "replayed signature")
    assert len(channel.audits) == 1


async def test_signature_of_the_original_clients_format_is_accepted(served: Served) -> None:
    """Hand-built headers, exactly as the old shell scripts did (lowercase hex)."""
    ts = str(int(NOW.timestamp()))
    body = b'{"enabled":false}'
    sig = sign("test-secret", "POST", EMERGENCY, ts, body)
    headers = {"authorization": "Bearer test-token", "x-vvtv-ts": ts, "x-vvtv-signature": sig}
    assert (await _post(served, headers, body)).status_code == 200


async def test_a_nonce_inside_the_signature_lets_the_same_call_repeat_in_one_second(
    served: Served, channel: StubChannel
) -> None:
    """The edge's scheme (cloud/worker/PROTOCOL.md §2): TS:NONCE is signed in place of TS."""
    body = b'{"enabled": true}'
    now = NOW.timestamp()
    for nonce in ("first-nonce", "second-nonce"):
        headers = signed_headers("test-token", "test-secret", "POST", EMERGENCY, body, now,
                                 nonce=nonce)  # fmt: skip
        assert (await _post(served, headers, body)).status_code == 200
    # The nonce is signed: another one in the header breaks the signature.
    headers = signed_headers("test-token", "test-secret", "POST", EMERGENCY, body, now,
                             nonce="third-nonce")  # fmt: skip
    headers["x-vvtv-nonce"] = "fourth-nonce"
    r = await _post(served, headers, body)
    assert_refused(r, channel, "bad_signature", "signature mismatch")
    assert len(channel.audits) == 2


@pytest.mark.parametrize("nonce", ["short", "x" * 129, "has space!", "ünïcode-nonce"])
async def test_a_malformed_nonce_is_401(served: Served, channel: StubChannel, nonce: str) -> None:
    body = b'{"enabled": true}'
    headers = signed_headers("test-token", "test-secret", "POST", EMERGENCY, body,
                             NOW.timestamp())  # fmt: skip
    headers["x-vvtv-nonce"] = nonce
    r = await _post(served, headers, body)
    reason = "x-vvtv-nonce must be 8 to 128 characters of A-Z a-z 0-9 _ -"
    assert_refused(r, channel, "bad_nonce", reason)


# --- bodies -------------------------------------------------------------------------------


async def test_oversized_body_is_413_before_anything_else(
    served: Served, channel: StubChannel
) -> None:
    body = json.dumps({"enabled": True, "pad": "x" * 5000}).encode()
    r = await _post(served, _headers(served, EMERGENCY, body), body)
    assert r.status_code == 413
    assert "4096" in r.json()["error"]
    assert channel.audits == []


@pytest.mark.parametrize(
    "body",
    [b"{", b"{'enabled': true}", b"\xff\xfe", b'{"enabled": NaN}', b"[" * 2000 + b"]" * 2000],
)
async def test_malformed_json_is_400(served: Served, body: bytes) -> None:
    r = await _post(served, _headers(served, EMERGENCY, body), body)
    assert r.status_code == 400
    assert "malformed JSON" in r.json()["error"]


@pytest.mark.parametrize(
    "body", [b"[]", b"true", b'{"enabled": "yes"}', b'{"enabled": 1}', b'{"on": true}']
)
async def test_emergency_body_of_the_wrong_shape_is_422(served: Served, body: bytes) -> None:
    r = await _post(served, _headers(served, EMERGENCY, body), body)
    assert r.status_code == 422
    assert r.json()["error"]


async def test_curator_mode_applies_mode_and_limits(served: Served, channel: StubChannel) -> None:
    body = b'{"mode": "advise", "min_confidence": 0.9, "max_reorders_per_hour": 2}'
    r = await served.control(CURATOR, body)
    assert r.status_code == 200
    assert channel.curator == {"mode": "advise", "min_confidence": 0.9, "max_reorders_per_hour": 2}
    assert channel.audits[-1][1] == "curator-mode"
    assert channel.audits[-1][2]["limits"] == {"min_confidence": 0.9, "max_reorders_per_hour": 2}


@pytest.mark.parametrize(
    ("body", "word"),
    [
        (b'{"mode": "manual"}', "mode"),
        (b"{}", "mode"),
        (b'{"mode": "auto", "speed": 3}', "speed"),
        (b'{"mode": "auto", "min_confidence": "high"}', "min_confidence"),
        (b'{"mode": "auto", "max_reorders_per_hour": 1.5}', "max_reorders_per_hour"),
        (b'{"mode": "auto", "max_reorders_per_hour": true}', "max_reorders_per_hour"),
        (b'{"mode": "auto", "min_confidence": 0.5}', "min_confidence"),  # port: out of range
        (b'{"mode": "auto", "max_reorders_per_hour": 10}', "max_reorders_per_hour"),
    ],
)
async def test_curator_mode_invalid_or_out_of_range_is_422(
    served: Served, channel: StubChannel, body: bytes, word: str
) -> None:
    before = dict(channel.curator)
    r = await served.control(CURATOR, body)
    assert r.status_code == 422
    assert word in r.json()["error"]
    assert channel.curator == before


async def test_an_empty_curator_mode_body_is_400_listing_the_accepted_modes(served: Served) -> None:
    # What the original's tools send: there is nothing to toggle to, so the reply says what is.
    r = await served.control(CURATOR, b"")
    assert r.status_code == 400
    assert r.json()["modes"] == ["auto", "advise", "off"]
    assert "auto, advise, off" in r.json()["error"]


async def test_an_unknown_curator_mode_is_422_listing_the_accepted_modes(served: Served) -> None:
    r = await served.control(CURATOR, b'{"mode": "loud"}')
    assert (r.status_code, r.json()["modes"]) == (422, ["auto", "advise", "off"])


async def test_reload_owner_card_applies_and_returns_the_diff(
    served: Served, channel: StubChannel
) -> None:
    r = await served.control(RELOAD)
    assert r.status_code == 200
    assert r.json()["diff"] == {"schedule_policy.buffer_target_minutes": [60, 75]}
    assert channel.audits[-1][1] == "reload-owner-card"


async def test_invalid_owner_card_is_422_with_every_error(
    served: Served, channel: StubChannel
) -> None:
    channel.card_errors = ["search_policy.allowlist_domains: must not be empty", "schema_version"]
    r = await served.control(RELOAD)
    assert r.status_code == 422
    body = r.json()
    assert "previous card" in body["error"]
    assert body["errors"] == channel.card_errors
    assert channel.audits[-1][2]["ok"] is False


async def test_unsigned_control_calls_are_refused_on_every_endpoint(
    served: Served, channel: StubChannel
) -> None:
    for path in (EMERGENCY, CURATOR, RELOAD, NIGHTLY):
        r = await served.client.post(path, content=b'{"mode": "off"}')
        assert_refused(r, channel, "missing_header", "missing Authorization header")
    assert channel.audits == []


async def test_a_flood_of_refused_calls_writes_a_few_audit_rows_and_counts_them_all(
    served: Served, channel: StubChannel
) -> None:
    """200 bad tokens in one minute: every one is a 401 and counted, at most 10 are
    audited; the first audited refusal of the next minute says how many were left out.
    A good call in the middle of the flood is still accepted."""
    body = b'{"enabled": true}'
    for i in range(200):
        headers = {**_headers(served, EMERGENCY, body), "Authorization": f"Bearer guess-{i}"}
        assert (await _post(served, headers, body)).status_code == 401
    assert (await served.control(EMERGENCY, body)).status_code == 200
    assert len(channel.refusals) == 10
    counted = channel.metrics.registry.get_sample_value(
        "vvtv_control_refused_total", {"kind": "bad_token"}
    )
    assert counted == 200
    channel.clock = NOW + timedelta(minutes=1)
    headers = served.signed(EMERGENCY, body, now=channel.clock)
    headers["Authorization"] = "Bearer one-more-guess"
    assert (await _post(served, headers, body)).status_code == 401
    assert channel.refusals[-1][2]["suppressed"] == 190
    assert "guess" not in json.dumps(channel.refusals)


async def test_each_kind_of_refusal_has_its_own_allowance(
    served: Served, channel: StubChannel
) -> None:
    """A flood of one kind does not hide a refusal of another kind (a replay is still
    written down while bad tokens pour in)."""
    body = b""
    for _ in range(30):
        bad = {**_headers(served, EMERGENCY, body), "Authorization": "Bearer nope"}
        await _post(served, bad, body)
    headers = _headers(served, EMERGENCY, body)
    assert (await _post(served, headers, body)).status_code == 200
    assert (await _post(served, headers, body)).status_code == 401
    assert channel.refusals[-1][2]["kind"] == "replayed"


async def test_an_oversized_unsigned_body_is_a_refusal_too(
    served: Served, channel: StubChannel
) -> None:
    r = await served.client.post(EMERGENCY, content=b"x" * 5000)
    assert r.status_code == 413
    assert channel.refusals[-1][2]["kind"] == "body_too_large"


async def test_nightly_runs_the_job_once_per_day_unless_forced_and_says_what_ran(
    served: Served, channel: StubChannel
) -> None:
    first = await served.control(NIGHTLY, b"")
    assert (first.status_code, first.json()["ran"]) == (200, True)
    again = await served.control(NIGHTLY, b"{}")
    assert again.json() == {"ran": False, "local_date": "2026-03-01", "reason": "already ran"}
    forced = await served.control(NIGHTLY, b'{"force": true}')
    assert forced.json()["ran"] is True
    assert channel.nightly_runs == [False, False, True]
    assert [a[1] for a in channel.audits] == ["nightly"] * 3
    assert channel.audits[-1][2]["force"] is True


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"[]", 422, "body must be a JSON object"),
        (b'{"force": "yes"}', 422, "force must be true or false"),
        (b'{"date": "2026-03-01"}', 422, "unknown field(s): date"),
        (b"{force}", 400, "malformed JSON body"),
    ],
)
async def test_a_bad_nightly_body_is_refused_and_nothing_runs(
    served: Served, channel: StubChannel, body: bytes, status: int, message: str
) -> None:
    r = await served.control(NIGHTLY, body)
    assert r.status_code == status and message in r.json()["error"]
    assert channel.nightly_runs == []
