"""Hypothesis over /openapi.json: whatever a client sends, the answer is never a 5xx.

The app runs under real hypercorn in a thread with its own Trio loop, so hypothesis
can drive it from plain synchronous tests with a synchronous httpx client.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import trio
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.fuzz import budget, deeper
from tests.support.wsclient import RawWebsocket
from tests.web.conftest import NOW, SECRET, TOKEN, StubChannel
from vvtv.core.signing import Verifier, sign, signed_headers
from vvtv.web import create_app, serve
from vvtv.web.app import UNAUTHORIZED

FUZZ = budget()  # a few seconds each; their deeper twins at the end run under -m slow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    channel = StubChannel(Path(tmp_path_factory.mktemp("segments")))
    channel.topics.publish("buffer", channel.status())  # a live stream's snapshot
    app = create_app(channel, verifier=Verifier(TOKEN, SECRET), max_body_bytes=4096)
    urls: queue.Queue[str] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        shutdown = trio.Event()
        async with trio.open_nursery() as nursery:
            urls.put(await nursery.start(partial(serve, app, "127.0.0.1:0", shutdown=shutdown)))
            await trio.to_thread.run_sync(stop.wait)
            shutdown.set()

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    with httpx.Client(base_url=urls.get(timeout=10), timeout=10) as c:
        yield c
    stop.set()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def spec(client: httpx.Client) -> dict:
    return client.get("/openapi.json").json()


def assert_no_server_error(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.request.url, r.status_code, r.text)
    if r.status_code >= 400:
        assert isinstance(r.json()["error"], str)


_texts = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"-?[0-9]{1,12}(\.[0-9]+)?", fullmatch=True),
    st.from_regex(r"[0-9]{4}-W?[0-9]{1,2}(-[0-9]{1,2})?", fullmatch=True),
    st.sampled_from(["", "COMMITTED", "aired", "2026-W53", "2026-02-29", "0", "-0", "1e3"]),
)


def query_operations(spec: dict) -> list[tuple[str, list[str]]]:
    ops = []
    for path, item in spec["paths"].items():
        get = item.get("get")
        if get is None or path.startswith("/v1/ws/") or "{" in path or get.get("x-endless"):
            continue  # websockets, path templates and endless streams are tested elsewhere
        ops.append((path, [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]))
    return ops


def test_every_documented_read_endpoint_answers(client: httpx.Client, spec: dict) -> None:
    for path, _ in query_operations(spec):
        r = client.get(path)
        assert_no_server_error(r)


@FUZZ
@given(data=st.data())
def test_query_parameters_never_cause_a_5xx(client: httpx.Client, spec: dict, data) -> None:
    path, names = data.draw(st.sampled_from(query_operations(spec)))
    params = data.draw(st.dictionaries(st.sampled_from([*names, "x"]), _texts, max_size=4))
    assert_no_server_error(client.get(path, params=params))


@FUZZ
@given(asset=st.text(max_size=30), name=st.text(max_size=30))
@example(asset="..", name="..")  # the client resolves it to "/": the dashboard, a 200
def test_segment_paths_never_cause_a_5xx(client: httpx.Client, asset: str, name: str) -> None:
    r = client.get(f"/live/seg/{quote(asset, safe='')}/{quote(name, safe='')}")
    # Dot segments ("..", ".") are resolved by the client before sending, as browsers do:
    # "/live/seg/../.." asks for "/", which is no segment path.
    if r.request.url.path.startswith("/live/seg/"):
        assert r.status_code in (400, 404)
    assert_no_server_error(r)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_control_bodies = st.one_of(
    st.binary(max_size=64),
    st.integers(1, 2000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"mode": st.sampled_from(["auto", "advise", "off", "x"])},
        optional={
            "min_confidence": st.floats(allow_nan=False) | st.integers() | st.text(max_size=3),
            "max_reorders_per_hour": st.integers() | st.floats(allow_nan=False) | st.booleans(),
            "enabled": st.booleans() | st.none() | st.integers(),
        },
    ).map(lambda v: json.dumps(v).encode()),
)
_seconds = itertools.count()


@FUZZ
@given(
    path=st.sampled_from(
        ["/v1/control/emergency-mode", "/v1/control/curator-mode", "/v1/control/reload-owner-card"]
    ),
    body=_control_bodies,
)
def test_signed_control_bodies_never_cause_a_5xx(
    client: httpx.Client, path: str, body: bytes
) -> None:
    at = NOW + timedelta(seconds=next(_seconds) % 500 - 250)
    headers = signed_headers(TOKEN, SECRET, "POST", path, body, at.timestamp())
    r = client.post(path, content=body, headers=headers)
    assert r.status_code in (200, 400, 401, 422), r.text  # 401 only on a drawn replay
    assert_no_server_error(r)


_header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80).map(
    str.strip
)
# What a timestamp must not be: thousands of digits (int() of them raises), floats,
# signs, exponents, other scripts' digits (str.isdigit() accepts them), nonsense bytes.
_timestamps = st.one_of(
    st.integers(0, 2**40).map(str),
    st.integers(13, 6000).map(lambda n: "9" * n),
    st.from_regex(r"[-+]?[0-9]{1,30}(\.[0-9]{0,6})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    st.text(st.characters(categories=["Nd"]), min_size=1, max_size=20),
    st.binary(min_size=1, max_size=40).map(lambda b: b.decode("latin-1")),
)


def _sendable(value: str) -> bytes | None:
    """``value`` as header bytes, or None when HTTP/1.1 cannot carry it at all (control
    characters, edge whitespace: h11 refuses to send it, so no server would ever see it)."""
    raw = value.encode()
    if not raw or raw != raw.strip() or any((c < 0x20 and c != 0x09) or c == 0x7F for c in raw):
        return None
    return raw


@FUZZ
@given(
    auth=st.none() | _header_text,
    ts=st.none() | _header_text | _timestamps,
    sig=st.none() | _header_text | st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    path=st.sampled_from(
        ["/v1/control/emergency-mode", "/v1/control/curator-mode", "/v1/control/reload-owner-card"]
    ),
)
def test_forged_signing_headers_are_always_401(
    client: httpx.Client, auth: str | None, ts: str | None, sig: str | None, path: str
) -> None:
    headers = {
        k: raw
        for k, v in {"Authorization": auth, "x-vvtv-ts": ts, "x-vvtv-signature": sig}.items()
        if v is not None and (raw := _sendable(v)) is not None
    }
    r = client.post(path, content=b'{"mode": "off"}', headers=headers)
    assert (r.status_code, r.json()) == (401, {"error": UNAUTHORIZED}), r.text
    assert_no_server_error(r)


@FUZZ
@given(ts=_timestamps)
def test_a_correctly_signed_malformed_timestamp_is_401(client: httpx.Client, ts: str) -> None:
    """Signed with the right secret over the malformed value itself: only the shape of the
    timestamp can refuse it, and it must be a 401, never a 500."""
    raw = _sendable(ts)
    if raw is None or (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        return
    path = "/v1/control/emergency-mode"
    signature = sign(SECRET, "POST", path, raw.decode("latin-1"), b"")
    headers = {"Authorization": f"Bearer {TOKEN}", "x-vvtv-signature": signature}
    r = client.post(path, content=b"", headers={**headers, "x-vvtv-ts": raw})
    assert (r.status_code, r.json()) == (401, {"error": UNAUTHORIZED}), r.text


# ---- websocket frames ----------------------------------------------------------------------

_frames = st.lists(
    st.tuples(
        st.integers(0, 15),  # opcode: the defined ones and the reserved ones
        st.booleans(),  # FIN
        st.booleans(),  # RSV1 (compression, never agreed to)
        st.binary(max_size=300) | st.integers(4097, 70_000).map(bytes),  # over the limit too
    ),
    min_size=1,
    max_size=6,
)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@FUZZ
@given(frames=_frames)
def test_websocket_frames_never_break_the_server(client: httpx.Client, frames: list) -> None:
    """Whatever frames a client sends (reserved opcodes, fragments without an end, control
    frames too long, compressed bits, messages over the limit), the server answers with a
    close or drops the connection, logs no error, and the next client gets its snapshot."""
    url = str(client.base_url).replace("http://", "ws://") + "/v1/ws/buffer"
    errors = _Errors()
    logging.getLogger().addHandler(errors)

    async def hostile_then_good() -> None:
        ws = await RawWebsocket.open(url)
        assert ws.accepted
        with trio.move_on_after(5):
            try:
                for opcode, fin, rsv1, payload in frames:
                    await ws.send_frame(opcode, payload, fin=fin, rsv1=rsv1)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
        await ws.aclose()
        good = await RawWebsocket.open(url)
        frame = await good.receive_frame()
        assert frame is not None and frame[0] == 0x1
        await good.aclose()

    try:
        trio.run(hostile_then_good)
    finally:
        logging.getLogger().removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]
    assert client.get("/v1/status").status_code == 200


# ---- deeper under -m slow ------------------------------------------------------------------

test_query_parameters_deeper = deeper(test_query_parameters_never_cause_a_5xx)
test_segment_paths_deeper = deeper(test_segment_paths_never_cause_a_5xx)
test_signed_control_bodies_deeper = deeper(test_signed_control_bodies_never_cause_a_5xx)
test_forged_signing_headers_deeper = deeper(test_forged_signing_headers_are_always_401)
test_malformed_timestamps_deeper = deeper(test_a_correctly_signed_malformed_timestamp_is_401)
test_websocket_frames_deeper = deeper(test_websocket_frames_never_break_the_server, 2_000)
