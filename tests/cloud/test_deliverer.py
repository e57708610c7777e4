"""Deliverer: signed JSON posts, retries with 300/600/1200 ms backoff (the one retry
policy: 5xx, 429, 408, 425, transport errors; Retry-After up to 10 s), permanent 4xx,
and the circuit breaker (SPEC §6), against a real loopback receiver in mock time."""

from __future__ import annotations

import itertools

import httpx
import pytest
import trio
from trio.testing import MockClock

from tests.support.loopback import Loopback, json_reply
from vvtv.core.clock import TrioClock
from vvtv.core.retry import RetryPolicy
from vvtv.core.signing import Verifier, sign
from vvtv.notify.delivery import DELIVERY_RETRY, BreakerState, Deliverer, Outcome

TOKEN, SECRET = "cloud-token", "cloud-secret"


def deliverer(receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock, **kw) -> Deliverer:
    return Deliverer(receiver.url + "/", TOKEN, SECRET, client, clock, **kw)


async def test_a_post_is_json_and_its_signature_verifies_with_the_spec_canonical_string(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    result = await deliverer(receiver, client, clock).post(
        "/v1/ingest/daily", {"date": "2026-03-01", "summary": {}, "metrics": {"x": 1}}
    )
    assert result.ok and result.attempts == 1 and result.status == 200
    [req] = receiver.requests
    assert req.path == "/v1/ingest/daily"  # trailing slash of the base URL tolerated
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {"date": "2026-03-01", "summary": {}, "metrics": {"x": 1}}
    verifier = Verifier(TOKEN, SECRET)
    verifier.verify("POST", req.path, req.headers, req.body, clock.now().timestamp())
    assert int(req.headers["x-vvtv-ts"]) == int(clock.now().timestamp())


async def test_a_base_path_prefix_is_part_of_the_signed_path(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    d = Deliverer(receiver.url + "/api/", TOKEN, SECRET, client, clock)
    assert (await d.post("/v1/ingest/status", {"a": 1})).ok
    [req] = receiver.requests
    assert req.path == "/api/v1/ingest/status"
    Verifier(TOKEN, SECRET).verify("POST", req.path, req.headers, req.body, clock.now().timestamp())


async def test_without_credentials_nothing_is_signed(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    d = Deliverer(receiver.url, None, None, client, clock)
    assert (await d.post("", {"event": "alert"})).ok
    [req] = receiver.requests
    assert req.path == "/"
    assert "authorization" not in req.headers and "x-vvtv-signature" not in req.headers


@pytest.mark.parametrize("failure", [500, 503, 429])
async def test_5xx_and_429_are_retried_three_times_after_300_600_1200_ms(
    autojump_clock: MockClock,
    failure: int,
    receiver: Loopback,
    client: httpx.AsyncClient,
    clock: TrioClock,
) -> None:
    receiver.answer_always(json_reply(failure))
    result = await deliverer(receiver, client, clock).post("/v1/ingest/status", {"n": 1})
    assert result.outcome is Outcome.FAILED and result.attempts == 4
    assert result.status == failure
    times = [r.at for r in receiver.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # A loopback round trip costs a few simulated milliseconds (autojump moves the
    # clock while sockets wait), so compare with a small tolerance.
    assert gaps == pytest.approx([0.3, 0.6, 1.2], abs=0.02)


async def test_a_retry_that_succeeds_delivers_once_and_no_retry_looks_like_a_replay(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    receiver.then(json_reply(500), json_reply(429))
    result = await deliverer(receiver, client, clock).post("/v1/ingest/status", {"n": 1})
    assert result.ok and result.attempts == 3
    assert [r.answered for r in receiver.requests] == [500, 429, 200]
    # A receiver with replay refusal accepts every attempt: each has its own signature.
    verifier = Verifier(TOKEN, SECRET)
    for r in receiver.requests:
        verifier.verify("POST", r.path, r.headers, r.body, clock.now().timestamp())


async def test_transport_errors_are_retried(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    await receiver.down()
    d = deliverer(receiver, client, clock)
    start = trio.current_time()
    result = await d.post("/v1/ingest/status", {"n": 1})
    assert result.outcome is Outcome.FAILED and result.attempts == 4 and result.status is None
    assert "Connect" in result.error
    assert trio.current_time() - start == pytest.approx(2.1, abs=0.05)


async def test_a_slow_receiver_times_out_and_is_retried(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    receiver.then(json_reply(delay=30.0))
    result = await deliverer(receiver, client, clock, timeout=5.0).post("/v1/x", {"n": 1})
    assert result.ok and result.attempts == 2


@pytest.mark.parametrize("not_now", [408, 425, 502, 504])
async def test_every_status_the_retry_policy_names_is_retried(
    autojump_clock: MockClock,
    not_now: int,
    receiver: Loopback,
    client: httpx.AsyncClient,
    clock: TrioClock,
) -> None:
    receiver.then(json_reply(not_now), json_reply(not_now))
    result = await deliverer(receiver, client, clock).post("/v1/ingest/status", {"n": 1})
    assert result.ok and result.attempts == 3
    assert [r.answered for r in receiver.requests] == [not_now, not_now, 200]


async def test_a_retry_after_lengthens_the_wait_but_never_past_10_s(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    receiver.then(
        json_reply(503, headers={"Retry-After": "4"}),
        json_reply(503, headers={"Retry-After": "3600"}),
        json_reply(503, headers={"Retry-After": "0"}),
    )
    result = await deliverer(receiver, client, clock).post("/v1/ingest/status", {"n": 1})
    assert result.ok and result.attempts == 4
    gaps = [b.at - a.at for a, b in itertools.pairwise(receiver.requests)]
    # asked 4 s (> 300 ms), asked an hour (capped at 10 s), asked 0 (the schedule's 1.2 s)
    assert gaps == pytest.approx([4.0, DELIVERY_RETRY.cap_s, 1.2], abs=0.02)


async def test_a_failed_delivery_reports_the_receivers_retry_after(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    receiver.answer_always(json_reply(503, headers={"Retry-After": "120"}))
    d = deliverer(receiver, client, clock, retry=RetryPolicy.never())
    result = await d.post("/v1/ingest/status", {"n": 1})
    assert result.outcome is Outcome.FAILED and result.retry_after == 120.0


@pytest.mark.parametrize("refusal", [400, 401, 404, 422])
async def test_4xx_other_than_429_is_permanent_and_not_retried(
    autojump_clock: MockClock,
    refusal: int,
    receiver: Loopback,
    client: httpx.AsyncClient,
    clock: TrioClock,
) -> None:
    receiver.answer_always(json_reply(refusal))
    d = deliverer(receiver, client, clock)
    result = await d.post("/v1/ingest/daily", {"date": "x"})
    assert result.outcome is Outcome.PERMANENT and result.attempts == 1
    assert result.status == refusal and str(refusal) in result.error
    assert len(receiver.requests) == 1
    assert d.breaker.state(clock.now()) is BreakerState.CLOSED


async def test_a_hold_status_fails_the_delivery_without_a_retry_and_counts_on_the_breaker(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    """CloudSync's 401: not the document's fault, so neither dropped nor hammered."""
    receiver.answer_always(json_reply(401))
    d = deliverer(receiver, client, clock, hold_statuses=frozenset({401}))
    result = await d.post("/v1/ingest/daily", {"date": "x"})
    assert result.outcome is Outcome.FAILED and result.attempts == 1 and result.status == 401
    assert len(receiver.requests) == 1
    assert d.breaker.failing and "HTTP 401" in d.breaker.last_error


async def test_with_nonces_each_attempt_is_signed_with_a_fresh_one(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    receiver.then(json_reply(503), json_reply(503))
    d = deliverer(receiver, client, clock, nonce=True)
    assert (await d.post("/v1/ingest/status", {"n": 1})).ok
    nonces = [r.headers["x-vvtv-nonce"] for r in receiver.requests]
    assert len(nonces) == 3 and len(set(nonces)) == 3
    verifier = Verifier(TOKEN, SECRET)
    for req in receiver.requests:
        verifier.verify("POST", req.path, req.headers, req.body, clock.now().timestamp())


async def test_the_circuit_opens_after_3_failed_deliveries_fails_fast_and_closes_after_30_s(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    receiver.answer_always(json_reply(500))
    d = deliverer(receiver, client, clock)
    for _ in range(3):
        assert (await d.post("/v1/ingest/status", {})).outcome is Outcome.FAILED
    assert d.breaker.state(clock.now()) is BreakerState.OPEN
    assert len(receiver.requests) == 12

    fast = await d.post("/v1/ingest/status", {})
    assert fast.outcome is Outcome.CIRCUIT_OPEN and fast.attempts == 0
    assert len(receiver.requests) == 12  # no request while open
    assert fast.retry_at is not None

    receiver.answer_always(json_reply())
    await trio.sleep(29.0)
    assert (await d.post("/v1/ingest/status", {})).outcome is Outcome.CIRCUIT_OPEN
    await trio.sleep(1.0)
    assert d.breaker.state(clock.now()) is BreakerState.HALF_OPEN
    probe = await d.post("/v1/ingest/status", {})
    assert probe.ok and probe.attempts == 1
    assert d.breaker.state(clock.now()) is BreakerState.CLOSED
    assert not d.breaker.failing


async def test_a_failed_half_open_probe_reopens_the_circuit_after_one_attempt(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    receiver.answer_always(json_reply(503))
    d = deliverer(receiver, client, clock)
    for _ in range(3):
        await d.post("/v1/x", {})
    await trio.sleep(30.0)
    before = len(receiver.requests)
    probe = await d.post("/v1/x", {})
    assert probe.outcome is Outcome.FAILED and probe.attempts == 1
    assert len(receiver.requests) == before + 1
    assert d.breaker.state(clock.now()) is BreakerState.OPEN


async def test_a_success_resets_the_consecutive_failure_count(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    d = deliverer(receiver, client, clock, retry=RetryPolicy.never())
    for answer in (500, 500, 200, 500, 500):
        receiver.then(json_reply(answer))
        await d.post("/v1/x", {})
    assert d.breaker.state(clock.now()) is BreakerState.CLOSED
    assert d.breaker.consecutive_failures == 2


@pytest.mark.parametrize(
    ("base_url", "needle"),
    [("ftp://x", "must be http"), ("nohost", "must be http"), ("http://", "must be http")],
)
async def test_a_malformed_base_url_is_refused_clearly(
    autojump_clock: MockClock,
    base_url: str,
    needle: str,
    client: httpx.AsyncClient,
    clock: TrioClock,
) -> None:
    with pytest.raises(ValueError, match=needle):
        Deliverer(base_url, None, None, client, clock)


async def test_a_path_without_leading_slash_and_a_token_without_secret_are_refused(
    autojump_clock: MockClock, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    with pytest.raises(ValueError, match="needs a secret"):
        Deliverer("http://127.0.0.1:1", "t", None, client, clock)
    d = Deliverer("http://127.0.0.1:1", None, None, client, clock)
    with pytest.raises(ValueError, match="must start with '/'"):
        await d.post("v1/ingest/status", {})


async def test_an_empty_path_posts_to_the_url_exactly_as_configured(
    autojump_clock: MockClock, receiver: Loopback, client: httpx.AsyncClient, clock: TrioClock
) -> None:
    d = Deliverer(receiver.url + "/hooks/vvtv/?team=ops", None, "s", client, clock)
    assert (await d.post("", {"event": "alert"})).ok
    [req] = receiver.requests
    assert req.path == "/hooks/vvtv/"
    ts = req.headers["x-vvtv-ts"]
    assert req.headers["x-vvtv-signature"] == sign("s", "POST", "/hooks/vvtv/", ts, req.body)
    assert "authorization" not in req.headers
