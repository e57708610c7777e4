"""The Verifier (SPEC §3): every malformed header is an AuthError with a kind, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vvtv.core.signing import AuthError, Verifier, sign, signed_headers

NOW = 1_772_366_400.0


def verifier() -> Verifier:
    return Verifier("tok-" + "t" * 40, "sec-" + "s" * 40)


def good(body: bytes = b"") -> dict[str, str]:
    return signed_headers("tok-" + "t" * 40, "sec-" + "s" * 40, "POST", "/v1/x", body, NOW)


def test_a_good_request_passes_once() -> None:
    v = verifier()
    v.verify("POST", "/v1/x", good(), b"", NOW)
    with pytest.raises(AuthError) as info:
        v.verify("POST", "/v1/x", good(), b"", NOW)
    assert info.value.kind == "replayed"


@pytest.mark.parametrize(
    "ts",
    [
        "9" * 5000,
        "1" * 13,
        "١٧٧٢٣٦٦٤٠٠",  # Arabic-Indic digits: str.isdigit() says yes and int() takes them
        "１７７２３６６４００",  # fullwidth digits, likewise
        "1772366400.0",
        "-1772366400",
        "+1772366400",
        " 1772366400",
        "1772366400\n",
        "",
    ],
)
def test_a_malformed_timestamp_is_refused_as_such(ts: str) -> None:
    headers = {**good(), "x-vvtv-ts": ts}
    # Signed correctly over the malformed value: only the value's shape can refuse it.
    headers["x-vvtv-signature"] = sign("sec-" + "s" * 40, "POST", "/v1/x", ts, b"")
    with pytest.raises(AuthError) as info:
        verifier().verify("POST", "/v1/x", headers, b"", NOW)
    assert info.value.kind == "bad_timestamp"


@given(
    st.dictionaries(
        st.sampled_from(["Authorization", "x-vvtv-ts", "x-vvtv-signature", "X-VVTV-TS"]),
        st.text(max_size=200),
    )
)
def test_any_header_values_give_a_verdict_never_another_exception(headers: dict) -> None:
    try:
        verifier().verify("POST", "/v1/x", headers, b"", NOW)
    except AuthError as exc:
        assert exc.kind in {
            "missing_header",
            "bad_token",
            "bad_timestamp",
            "stale_timestamp",
            "bad_signature",
        }
        assert all(len(v) < 8 or v not in exc.reason for v in headers.values())
