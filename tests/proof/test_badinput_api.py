"""Fuzz the control API of a real ``vvtv run``: nothing accepted unless valid, never a 5xx.

``tests/web/test_fuzz.py`` fuzzes the web app over a stand-in channel; here the requests
reach a whole daemon (its real port into the actors, store and live stream) in a
subprocess. Each control request is sent unsigned, signed correctly, or signed wrongly
(bad signature, stale or future timestamp, wrong token, a signature over another body or
path, missing headers); bodies are random bytes, random JSON, or near-valid documents.
Rules: a forged or unsigned request is always 401 and changes nothing; a correctly
signed one is accepted only when its body is valid for the endpoint; no answer is a 5xx;
the daemon is alive and answering afterwards. The default run gives each fuzzer a few seconds
(``tests/support/fuzz.py``); ``-m slow`` sends twenty thousand control requests and ten
thousand requests of any method, path and query.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.proof.daemon_process import Channel
from tests.proof.test_badinput_ownercard import HOSTILE
from tests.support.fuzz import budget, deep, deeper
from vvtv.core.signing import sign, signed_headers

TOKEN = "fuzz-token"
SECRET = "fuzz-secret"
CONTROL = [
    "/v1/control/emergency-mode",
    "/v1/control/curator-mode",
    "/v1/control/reload-owner-card",
]
MODES = ["valid", "unsigned", "bad_signature", "stale", "future", "wrong_token", "other_body",
         "other_path", "no_timestamp", "no_signature", "lowercase_bearer", "huge_timestamp",
         "float_timestamp", "negative_timestamp", "word_timestamp"]  # fmt: skip
# Timestamps that are not unix seconds, each signed correctly over its own value: only its
# shape can refuse it (a 5,000-digit one was a 500 and a traceback per request).
MALFORMED_TS = {
    "huge_timestamp": lambda now: "9" * 5000,
    "float_timestamp": lambda now: f"{now:.3f}",
    "negative_timestamp": lambda now: f"-{int(now)}",
    "word_timestamp": lambda now: "now",
}
CURATOR_MODES = ["auto", "advise", "off", "manual", "AUTO", ""]
PADDING = itertools.count(1)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, slate: Path) -> Iterator[Channel]:
    root = tmp_path_factory.mktemp("fuzz-daemon")
    empty = root / "library"
    empty.mkdir()
    channel = Channel(root, empty, slate, VVTV_CONTROL_TOKEN=TOKEN, VVTV_CONTROL_SECRET=SECRET)
    channel.start()
    yield channel
    assert channel.stop() == 0, channel.log()[-3000:]
    assert "Traceback" not in channel.log(), channel.log()[-5000:]


@pytest.fixture(scope="module")
def client(daemon: Channel) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=daemon.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def read_paths(client: httpx.Client) -> list[str]:
    spec = client.get("/openapi.json").json()
    return sorted(
        p
        for p, ops in spec["paths"].items()
        if "get" in ops and "{" not in p and "ws" not in p and not ops["get"].get("x-endless")
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
near_valid = st.one_of(
    st.fixed_dictionaries({"enabled": st.one_of(st.booleans(), json_values)}),
    st.fixed_dictionaries(
        {"mode": st.sampled_from(CURATOR_MODES)},
        optional={
            "max_reorders_per_hour": st.one_of(st.integers(-5, 100), st.floats(), st.text()),
            "min_confidence": st.one_of(st.floats(), st.integers(), st.none()),
            "bogus": json_values,
        },
    ),
    st.just({}),
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    near_valid.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.just(b""),
    st.just(b"null"),
)


def headers_for(mode: str, method: str, path: str, body: bytes) -> dict[str, str]:
    now = time.time()
    if mode == "unsigned":
        return {}
    token, secret, when, signed_path, signed_body = TOKEN, SECRET, now, path, body
    if mode == "bad_signature":
        secret = "not-the-secret"
    elif mode == "stale":
        when = now - 3600
    elif mode == "future":
        when = now + 3600
    elif mode == "wrong_token":
        token = "not-the-token"
    elif mode == "other_body":
        signed_body = body + b" "
    elif mode == "other_path":
        signed_path = "/v1/control/other"
    headers = signed_headers(token, secret, method, signed_path, signed_body, when)
    if mode in MALFORMED_TS:
        ts = MALFORMED_TS[mode](now)
        headers["x-vvtv-ts"] = ts
        headers["x-vvtv-signature"] = sign(secret, method, signed_path, ts, signed_body)
    elif mode == "no_timestamp":
        headers.pop("x-vvtv-ts")
    elif mode == "no_signature":
        headers.pop("x-vvtv-signature")
    elif mode == "lowercase_bearer":
        headers["Authorization"] = headers["Authorization"].replace("Bearer", "bearer-x")
    return headers


def valid_body(path: str, body: bytes) -> bool:
    """Whether ``body`` is a document the endpoint accepts (the oracle, from SPEC §3)."""
    if path.endswith("reload-owner-card"):
        return True  # the body is ignored; the card file on disk is what counts
    try:
        doc: Any = json.loads(body) if body.strip() else None
    except ValueError:
        return False
    if path.endswith("emergency-mode"):
        if doc is None:
            return True
        return (
            isinstance(doc, dict)
            and set(doc) <= {"enabled"}
            # true/false force the mode; null releases the override (vvtv.web.params).
            and ("enabled" not in doc or doc["enabled"] is None or isinstance(doc["enabled"], bool))
        )
    return isinstance(doc, dict) and doc.get("mode") in ("auto", "advise", "off", "manual")


def control_call(client: httpx.Client, mode: str, path: str, body: bytes) -> httpx.Response:
    reply = client.post(path, content=body, headers=headers_for(mode, "POST", path, body))
    assert reply.status_code < 500, f"{mode} {path} {body[:80]!r}: {reply.status_code} {reply.text}"
    if mode != "valid":
        assert reply.status_code == 401, f"{mode} accepted: {reply.status_code} {reply.text}"
    elif 200 <= reply.status_code < 300:
        assert valid_body(path, body), f"accepted an invalid body {body[:200]!r}: {reply.text}"
    return reply


@budget()
@given(mode=st.sampled_from(MODES), path=st.sampled_from(CONTROL), body=bodies)
@example(mode="valid", path="/v1/control/emergency-mode", body=b'{"enabled": null}')  # release
@example(mode="valid", path="/v1/control/emergency-mode", body=b'{"enabled": 1}')
def test_control_calls_are_accepted_only_signed_and_valid(
    client: httpx.Client, mode: str, path: str, body: bytes
) -> None:
    control_call(client, mode, path, body)


@deep(20_000)
@given(mode=st.sampled_from(MODES), path=st.sampled_from(CONTROL), body=bodies)
def test_tens_of_thousands_of_control_calls_are_accepted_only_signed_and_valid(
    client: httpx.Client, mode: str, path: str, body: bytes
) -> None:
    control_call(client, mode, path, body)


def bounded_request(client: httpx.Client, method: str, path: str, **kw: Any) -> tuple[int, str]:
    """The status and at most 64 KiB of the body: a junk path that lands on an endless stream
    (``x-endless`` in the document, e.g. the HDHomeRun MPEG-TS feed) must not hang the fuzzer."""
    with client.stream(method, path, **kw) as reply:
        body = b""
        for chunk in reply.iter_raw():
            body += chunk
            if len(body) >= 64 << 10:
                break
        return reply.status_code, body.decode("utf-8", "replace")


@budget()
@given(
    data=st.data(),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    query=st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=4),
    junk=st.text(max_size=30),
)
def test_any_method_path_or_query_never_causes_a_5xx(
    client: httpx.Client, read_paths: list[str], data: st.DataObject, method: str,
    query: dict[str, str], junk: str,
) -> None:  # fmt: skip
    path = data.draw(st.sampled_from([*read_paths, *CONTROL, "/v1/ws/buffer", "/live/seg/x/y"]))
    path = data.draw(st.sampled_from([path, path + junk, path + "/" + junk, "/" + junk]))
    try:
        status, text = bounded_request(client, method, path, params=query)
    except httpx.InvalidURL:
        return  # the client refuses to send it: nothing reached the daemon
    assert status < 500, f"{method} {path} {query}: {status} {text}"
    if path in CONTROL and method == "POST":
        assert status == 401


test_any_method_path_or_query_ten_thousand_times_never_causes_a_5xx = deeper(
    test_any_method_path_or_query_never_causes_a_5xx
)


def test_an_oversized_signed_body_is_refused_not_read(client: httpx.Client) -> None:
    body = b'{"enabled": true, "pad": "' + b"x" * 5_000_000 + b'"}'
    path = CONTROL[0]
    reply = client.post(path, content=body, headers=headers_for("valid", "POST", path, body))
    assert reply.status_code == 413
    # The same client (keep-alive pool) can go on: the refused connection was closed.
    assert client.get("/v1/status", timeout=5).status_code == 200


def unique_json(doc: str) -> bytes:
    """The same document with its own whitespace: a signature nobody sent before."""
    return doc.encode() + b" " * next(PADDING)


def test_a_replayed_signed_call_is_refused(client: httpx.Client) -> None:
    path, body = CONTROL[0], unique_json('{"enabled": false}')
    headers = headers_for("valid", "POST", path, body)
    assert client.post(path, content=body, headers=headers).status_code == 200
    assert client.post(path, content=body, headers=headers).status_code == 401


@pytest.mark.parametrize("name", ["nested_lists", "huge_integer", "unhashable_key", "alias_bomb"])
def test_a_hostile_card_on_disk_is_refused_by_a_signed_reload_and_the_old_one_stays(
    daemon: Channel, client: httpx.Client, name: str
) -> None:
    good = daemon.card.read_text()
    path = CONTROL[2]
    daemon.card.write_text(HOSTILE[name])
    body = unique_json("{}")
    try:
        reply = client.post(path, content=body, headers=headers_for("valid", "POST", path, body))
    finally:
        daemon.card.write_text(good)
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"]
    assert client.get("/v1/status").status_code == 200
    body = unique_json("{}")
    again = client.post(path, content=body, headers=headers_for("valid", "POST", path, body))
    assert again.status_code == 200, again.text


def test_after_the_fuzz_the_daemon_is_alive_and_its_tree_never_restarted(
    client: httpx.Client,
) -> None:
    assert client.get("/v1/status").status_code == 200

    def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("children") or []:
            yield from nodes(child)

    tree = client.get("/v1/runtime").json()
    crashed = {n["name"]: n["last_failure"] for n in nodes(tree) if n["failures"]}
    assert not crashed, f"bad input crashed actors: {crashed}"
