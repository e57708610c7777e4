"""The one retry policy: which failures retry, how long each wait is, what Retry-After means."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest
import trio
from trio.testing import MockClock

from vvtv.core.retry import RETRY_STATUSES, RetryPolicy, exponential, retry_after

POLICY = RetryPolicy(retries=3, base_s=0.3, cap_s=10.0)


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (408, True),  # request timeout
        (425, True),  # too early
        (429, True),  # too many requests
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (200, False),
        (301, False),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (410, False),
        (413, False),
        (422, False),
        (426, False),
        (600, False),
    ],
)
def test_which_statuses_are_worth_another_attempt(status: int, retried: bool) -> None:
    assert POLICY.retries_status(status) is retried
    assert (status in RETRY_STATUSES) is retried


REQUEST = httpx.Request("GET", "http://127.0.0.1/x")


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (httpx.ConnectError("refused", request=REQUEST), True),
        (httpx.ConnectTimeout("slow connect", request=REQUEST), True),
        (httpx.ReadTimeout("slow body", request=REQUEST), True),
        (httpx.WriteTimeout("slow upload", request=REQUEST), True),
        (httpx.PoolTimeout("no connection", request=REQUEST), True),
        (httpx.ReadError("reset", request=REQUEST), True),
        (httpx.WriteError("broken pipe", request=REQUEST), True),
        (httpx.RemoteProtocolError("half a response", request=REQUEST), True),
        (httpx.ProxyError("proxy down", request=REQUEST), True),
        # Our own mistakes: another attempt fails the same way.
        (httpx.UnsupportedProtocol("ftp://", request=REQUEST), False),
        (httpx.LocalProtocolError("bad header", request=REQUEST), False),
        # Not transport failures at all.
        (httpx.TooManyRedirects("loop", request=REQUEST), False),
        (httpx.DecodingError("bad gzip", request=REQUEST), False),
        (httpx.InvalidURL("no host"), False),
        (ValueError("a bug"), False),
        (trio.Cancelled._create(), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_which_transport_errors_are_worth_another_attempt(
    error: BaseException, retried: bool
) -> None:
    assert POLICY.retries_error(error) is retried


@pytest.mark.parametrize(
    ("policy", "k", "expected"),
    [
        # SPEC §6: 300 ms × 2^k.
        (POLICY, 0, 0.3),
        (POLICY, 1, 0.6),
        (POLICY, 2, 1.2),
        (POLICY, 3, 2.4),
        # the cap
        (POLICY, 5, 9.6),
        (POLICY, 6, 10.0),
        (POLICY, 10_000, 10.0),  # no overflow for a huge k
        (RetryPolicy(base_s=5, cap_s=300), 6, 300.0),
        # a negative k counts as the first retry
        (POLICY, -1, 0.3),
        # zero base: retry at once
        (RetryPolicy(base_s=0), 3, 0.0),
    ],
)
def test_the_schedule_doubles_from_the_base_up_to_the_cap(
    policy: RetryPolicy, k: int, expected: float
) -> None:
    assert policy.delay(k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("k", "asked", "expected"),
    [
        (0, None, 0.3),
        (0, 0.0, 0.3),  # asking for less than the schedule never shortens it
        (2, 1.0, 1.2),
        (0, 4.0, 4.0),  # the server's wish, when longer
        (0, 10.0, 10.0),
        (0, 3600.0, 10.0),  # ... but never past the cap
    ],
)
def test_retry_after_lengthens_a_wait_within_the_cap(
    k: int, asked: float | None, expected: float
) -> None:
    assert POLICY.delay(k, retry_after=asked) == pytest.approx(expected)


def test_jitter_adds_at_most_its_fraction_and_never_passes_the_cap() -> None:
    policy = RetryPolicy(retries=5, base_s=1.0, cap_s=6.0, jitter=0.5)
    rng = random.Random(7)
    waits = {k: [policy.delay(k, rng=rng) for _ in range(500)] for k in range(4)}
    for k, seen in waits.items():
        low = min(6.0, 2.0**k)
        assert all(low <= w <= min(6.0, low * 1.5) for w in seen), k
    # it does spread: a crowd does not come back in lockstep
    assert max(waits[1]) - min(waits[1]) > 0.8
    assert max(waits[3]) == 6.0  # 8 s capped: jitter cannot push past the cap


def test_attempts_is_one_more_than_retries_and_never_means_one_attempt() -> None:
    assert RetryPolicy(retries=3).attempts == 4
    assert RetryPolicy.never().attempts == 1
    assert RetryPolicy.never().retries_status(503)  # still classifies


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"retries": 1.5}, "retries must be an integer >= 0"),
        ({"retries": True}, "retries must be an integer >= 0"),
        ({"base_s": -0.1}, "base_s must be a finite number >= 0"),
        ({"cap_s": float("inf")}, "cap_s must be a finite number >= 0"),
        ({"cap_s": float("nan")}, "cap_s must be a finite number >= 0"),
        ({"jitter": 1.5}, "jitter is a fraction in"),
        ({"jitter": -0.5}, "jitter must be a finite number >= 0"),
        ({"base_s": "1"}, "base_s must be a finite number >= 0"),
    ],
)
def test_a_malformed_policy_is_refused_saying_which_field(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        RetryPolicy(**kwargs)


def test_the_shared_formula() -> None:
    assert [exponential(k, 5.0, 300.0) for k in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]


NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
IN_30_S = {"retry-after": "Sun, 01 Mar 2026 12:01:00 GMT", "date": "Sun, 01 Mar 2026 12:00:30 GMT"}


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ({}, None, None),
        ({"retry-after": "120"}, None, 120.0),
        ({"retry-after": " 7 "}, None, 7.0),
        ({"retry-after": "0"}, None, 0.0),
        ({"retry-after": "1.5"}, None, 1.5),
        ({"retry-after": "-3"}, None, None),
        ({"retry-after": "nan"}, None, None),
        ({"retry-after": "inf"}, None, None),
        ({"retry-after": "soon"}, None, None),
        ({"retry-after": ""}, None, None),
        # An HTTP-date, against the response's own Date: the server's clock, not ours.
        (
            {
                "retry-after": "Sun, 01 Mar 2026 12:01:00 GMT",
                "date": "Sun, 01 Mar 2026 12:00:30 GMT",
            },
            None,
            30.0,
        ),
        (
            {
                "retry-after": "Sun, 01 Mar 2026 12:01:00 GMT",
                "date": "Sun, 01 Mar 2026 12:00:30 GMT",
            },
            datetime(2030, 1, 1, tzinfo=UTC),
            30.0,
        ),
        # ... else against ours
        ({"retry-after": "Sun, 01 Mar 2026 12:00:45 GMT"}, NOW, 45.0),
        ({"retry-after": "Sun, 01 Mar 2026 11:00:00 GMT"}, NOW, 0.0),  # in the past
        ({"retry-after": "Sun, 01 Mar 2026 12:00:45 GMT"}, None, None),  # nothing to measure by
        ({"retry-after": "Sun, 01 Mar 2026 12:00:45 GMT", "date": "garbage"}, NOW, 45.0),
        ({"retry-after": "Sun, 01 Mar 2026 12:00:45 -0000"}, NOW, None),  # not GMT: no zone
        ({"retry-after": "Sun, 99 Foo 2026 12:00:45 GMT"}, NOW, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    headers: dict[str, str], now: datetime | None, expected: float | None
) -> None:
    got = retry_after(httpx.Headers(headers), now)
    assert got == (pytest.approx(expected) if expected is not None else None)


async def test_sleep_waits_on_trios_clock(autojump_clock: MockClock) -> None:
    start = trio.current_time()
    await POLICY.sleep(2)
    assert trio.current_time() - start == pytest.approx(1.2)
    start = trio.current_time()
    await POLICY.sleep(0, retry_after=5)
    assert trio.current_time() - start == pytest.approx(5.0)
