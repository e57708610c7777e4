"""Signed HTTP delivery with retries, a circuit breaker, and the outbox pump (SPEC §6).

``Deliverer.post`` sends one JSON document and says how it went, as a value:

- signed with the SPEC §3 headers when a token and secret are configured (the
  webhook may have only a secret: then the timestamp and signature are sent
  without an ``Authorization`` header);
- retried by ``DELIVERY_RETRY`` (``vvtv.core.retry``): up to 3 retries after the
  first attempt, sleeping 300 ms × 2^k (300, 600, 1200 ms) with ``trio.sleep`` so a
  ``MockClock`` runs them instantly; retried on 5xx, 429 (and 408, 425) and transport
  errors (connection refused, reset, timeout), a ``Retry-After`` honoured up to 10 s;
  any other 4xx is a *permanent* failure that retrying cannot fix, returned at once
  for the caller to audit — except the statuses a caller names as ``hold_statuses``
  (CloudSync: 401, a rotated credential or a clock gone astray), which fail the delivery
  without a retry in the round, so the document keeps its place and is sent again later
  while the breaker (and CLOUD_SYNC_FAILING) says something is wrong;
- with ``nonce=True`` every attempt carries a fresh ``x-vvtv-nonce`` inside its signature
  (the edge remembers every signature it accepted: a nonce keeps two identical documents
  sent within one second apart; a webhook receiver of the original scheme gets none);
- a circuit breaker counts consecutive failed *deliveries* (not attempts): after
  ``breaker_threshold`` (3) it opens for ``breaker_open_s`` (30 s), during which
  ``post`` fails fast without touching the network; then one half-open probe
  (a single attempt) either closes it or opens it again.

``pump`` drains one outbox topic in order, one item at a time, forever. Order is
strict: while the head item cannot be delivered nothing behind it is sent, so a
receiver that was down for hours gets every notification once, in order, when it
is back. A permanent failure is marked as such (it no longer blocks the rest) and
audited.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import attrs
import httpx
import trio

from vvtv.core.clock import Clock
from vvtv.core.logs import LogEvent, log_event
from vvtv.core.retry import RetryPolicy, exponential, retry_after
from vvtv.core.signing import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TS_HEADER,
    new_nonce,
    sign,
    signed_ts,
)

_log = logging.getLogger(__name__)

DELIVERY_ID_HEADER = "x-vvtv-delivery-id"

#: SPEC §6: up to 3 retries, 300 ms × 2^k, on 5xx, 429 and transport errors. No jitter:
#: the schedule is the spec's. A longer ``Retry-After`` is the pump's to honour (it
#: reschedules the document), so one delivery never holds its round for long.
DELIVERY_RETRY = RetryPolicy(retries=3, base_s=0.3, cap_s=10.0)


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"  # transient: retries exhausted; try again later
    PERMANENT = "permanent"  # 4xx other than 429: the receiver refuses this document
    CIRCUIT_OPEN = "circuit_open"  # not attempted: the breaker is open


@attrs.frozen
class DeliveryResult:
    outcome: Outcome
    attempts: int
    status: int | None = None
    error: str = ""
    retry_at: datetime | None = None  # CIRCUIT_OPEN: when a probe will be allowed
    retry_after: float | None = None  # FAILED: the receiver's last Retry-After, in seconds

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.DELIVERED


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker, timed by the channel's ``Clock``.

    Kept outside the ``Deliverer`` so its state outlives an actor restart and can be
    read for metrics and the CLOUD_SYNC_FAILING alert.
    """

    def __init__(self, threshold: int = 3, open_s: float = 30.0) -> None:
        if threshold < 1:
            raise ValueError(f"breaker threshold must be >= 1, got {threshold}")
        if open_s <= 0:
            raise ValueError(f"breaker open time must be > 0 s, got {open_s}")
        self.threshold = threshold
        self.open_s = open_s
        self.consecutive_failures = 0
        self.opened_until: datetime | None = None
        self.last_error = ""
        self._probing = False
        self.on_change: Callable[[BreakerState], None] | None = None

    def state(self, now: datetime) -> BreakerState:
        if self.opened_until is None:
            return BreakerState.CLOSED
        return BreakerState.OPEN if now < self.opened_until else BreakerState.HALF_OPEN

    @property
    def failing(self) -> bool:
        """True since the last delivery failed and until one succeeds."""
        return self.consecutive_failures > 0

    def acquire(self, now: datetime) -> bool | None:
        """May a delivery go out? ``True``: normally; ``False``: only as the single
        half-open probe; ``None``: no (open, or another probe is in flight)."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN or self._probing:
            return None
        self._probing = True
        self._notify(BreakerState.HALF_OPEN)
        return False

    def record_success(self, now: datetime) -> None:
        was_open = self.opened_until is not None
        self._probing = False
        self.consecutive_failures = 0
        self.opened_until = None
        if was_open:
            self._notify(BreakerState.CLOSED)

    def record_failure(self, now: datetime, error: str) -> None:
        self._probing = False
        self.consecutive_failures += 1
        self.last_error = error
        if self.opened_until is not None or self.consecutive_failures >= self.threshold:
            self.opened_until = now + timedelta(seconds=self.open_s)
            self._notify(BreakerState.OPEN)

    def release(self) -> None:
        """A probe that ended without a verdict (cancelled): let another one try."""
        self._probing = False

    def snapshot(self, now: datetime) -> dict[str, Any]:
        return {
            "state": str(self.state(now)),
            "consecutive_failures": self.consecutive_failures,
            "opened_until": self.opened_until.isoformat() if self.opened_until else None,
            "last_error": self.last_error,
        }

    def _notify(self, state: BreakerState) -> None:
        if self.on_change is not None:
            self.on_change(state)


def check_base_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL, else a ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"delivery base URL must be http(s)://host[/path], got {url!r}")
    return url


class Deliverer:
    """Posts signed JSON documents to one base URL with retries and a breaker.

    ``on_attempt(path, ok)`` is called after every HTTP attempt (for metrics).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        secret: str | None,
        client: httpx.AsyncClient,
        clock: Clock,
        *,
        retry: RetryPolicy = DELIVERY_RETRY,
        breaker_threshold: int = 3,
        breaker_open_s: float = 30.0,
        breaker: CircuitBreaker | None = None,
        timeout: float = 10.0,
        on_attempt: Callable[[str, bool], None] | None = None,
        nonce: bool = False,
        hold_statuses: frozenset[int] = frozenset(),
    ) -> None:
        check_base_url(base_url)
        if token and not secret:
            raise ValueError("a delivery token needs a secret to sign with")
        self.target_url = base_url  # posted to as given when the path is empty (webhooks)
        self.base_url = base_url.rstrip("/")
        self.token = token or None
        self.secret = secret or None
        self.client = client
        self.clock = clock
        self.retry = retry
        self.breaker = breaker or CircuitBreaker(breaker_threshold, breaker_open_s)
        self.timeout = timeout
        self.on_attempt = on_attempt
        self.nonce = nonce
        self.hold_statuses = frozenset(hold_statuses)

    def url_for(self, path: str) -> str:
        """``base_url`` + ``path``; an empty path posts to the URL exactly as configured
        (a webhook URL may need its trailing slash or query string)."""
        if not path:
            return self.target_url
        if not path.startswith("/"):
            raise ValueError(f"delivery path must start with '/', got {path!r}")
        return self.base_url + path

    def headers_for(self, url: str, body: bytes, ts: int | None = None) -> dict[str, str]:
        """Content type and, with a secret, the SPEC §3 signature at unix time ``ts``."""
        headers = {"content-type": "application/json"}
        if self.secret is not None:
            # The receiver signs the path it sees, which includes any base path prefix.
            path = urlsplit(url).path or "/"
            ts = int(self.clock.now().timestamp()) if ts is None else ts
            nonce = new_nonce() if self.nonce else None
            headers[TS_HEADER] = str(ts)
            headers[SIGNATURE_HEADER] = sign(
                self.secret, "POST", path, signed_ts(str(ts), nonce), body
            )
            if nonce is not None:
                headers[NONCE_HEADER] = nonce
            if self.token is not None:
                headers["authorization"] = f"Bearer {self.token}"
        return headers

    async def post(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        extra_headers: Mapping[str, str] | None = None,
    ) -> DeliveryResult:
        url = self.url_for(path)
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        ticket = self.breaker.acquire(self.clock.now())
        if ticket is None:
            return DeliveryResult(
                Outcome.CIRCUIT_OPEN,
                0,
                error=f"circuit open: {self.breaker.last_error}",
                retry_at=self.breaker.opened_until,
            )
        max_attempts = 1 if ticket is False else self.retry.attempts
        attempts = 0
        answer = _Answer(None, "")
        last_ts = -1
        try:
            for k in range(max_attempts):
                if k:
                    await self.retry.sleep(k - 1, retry_after=answer.retry_after)
                attempts += 1
                # Re-signed per attempt with a strictly later timestamp: a receiver
                # refuses a signature it has already seen (replay), and retries come
                # back within the same second. A ts at most a few seconds ahead is
                # well inside the ±300 s window.
                last_ts = max(int(self.clock.now().timestamp()), last_ts + 1)
                headers = self.headers_for(url, body, last_ts)
                if extra_headers:
                    headers.update(extra_headers)
                answer = await self._attempt(url, body, headers)
                status = answer.status
                delivered = status is not None and 200 <= status < 300
                if self.on_attempt is not None:
                    self.on_attempt(path, delivered)
                if delivered:
                    self.breaker.record_success(self.clock.now())
                    return DeliveryResult(Outcome.DELIVERED, attempts, status)
                if status is not None and status in self.hold_statuses:
                    # Answered, but not with a verdict on the document: asking again at
                    # once cannot help, and dropping it would lose it. Keep it for later.
                    break
                if status is not None and not self.retry.retries_status(status):
                    # The receiver is up and answered: that says nothing bad about
                    # the link, so the breaker counts it as reachable.
                    self.breaker.record_success(self.clock.now())
                    return DeliveryResult(Outcome.PERMANENT, attempts, status, answer.error)
                if not answer.retryable:
                    break
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_failure(self.clock.now(), answer.error)
        return DeliveryResult(
            Outcome.FAILED,
            attempts,
            answer.status,
            answer.error,
            retry_after=answer.retry_after,
        )

    async def _attempt(self, url: str, body: bytes, headers: dict[str, str]) -> _Answer:
        """One HTTP POST, as a value (``status`` None for a transport failure)."""
        with trio.move_on_after(self.timeout) as scope:
            try:
                response = await self.client.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                detail = str(exc)
                error = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
                return _Answer(None, error, retryable=self.retry.retries_error(exc))
        if scope.cancelled_caught:
            return _Answer(None, f"timeout after {self.timeout:g} s")
        status = response.status_code
        if 200 <= status < 300:
            return _Answer(status, "")
        return _Answer(
            status,
            f"HTTP {status}: {response.text[:200]}",
            retry_after=retry_after(response.headers, self.clock.now()),
        )


@attrs.frozen
class _Answer:
    """What one attempt got: a status (None when no answer came), why it failed, and
    whether another attempt may help."""

    status: int | None
    error: str
    retry_after: float | None = None
    retryable: bool = True


# --- the outbox pump ---------------------------------------------------------------------


class OutboxItem(Protocol):
    """What the pump reads of ``vvtv.store.OutboxItem``."""

    @property
    def id(self) -> int: ...

    @property
    def payload(self) -> dict[str, Any]: ...

    @property
    def attempts(self) -> int: ...


class OutboxStore(Protocol):
    """The part of ``vvtv.store.Store`` the pump uses.

    ``due`` must return pending items oldest first and stop at the first one still
    backing off (head-of-line order); ``next_due_at`` says when the head is due.
    """

    def due(self, topic: str, now: datetime, limit: int = ...) -> Sequence[Any]: ...

    def next_due_at(self, topic: str) -> datetime | None: ...

    def mark_delivered(self, item_id: int, *, now: datetime | None = ...) -> None: ...

    def mark_failed(
        self,
        item_id: int,
        error: str,
        next_attempt_at: datetime | None,
        *,
        now: datetime | None = ...,
    ) -> None: ...


@attrs.frozen
class PumpPolicy:
    """How the pump paces itself.

    A failing head is retried after ``retry_base_s × 2^(rounds − 1)``, capped at
    ``retry_cap_s``: after a two-hour outage the backlog starts flowing at most
    ``retry_cap_s`` after the receiver is back. The round count is the item's
    persisted ``attempts``, so the pace survives a restart. A receiver's
    ``Retry-After`` lengthens the pause to what it asked for, never past the cap.
    """

    batch: int = 50
    idle_poll_s: float = 60.0
    retry_base_s: float = 5.0
    retry_cap_s: float = 300.0

    def __attrs_post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"pump batch must be >= 1, got {self.batch}")
        if min(self.idle_poll_s, self.retry_base_s, self.retry_cap_s) <= 0:
            raise ValueError("pump intervals must be > 0 s")

    def retry_delay(self, rounds: int, retry_after: float | None = None) -> float:
        """Pause before the next round of a head that has failed ``rounds`` times."""
        delay = exponential(rounds - 1, self.retry_base_s, self.retry_cap_s)
        if retry_after is not None and retry_after > delay:
            delay = min(retry_after, self.retry_cap_s)
        return delay


class PumpSignal:
    """Wakes an idle pump at once when something is enqueued (``set`` never blocks)."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self._event.wait()
        self._event = trio.Event()


async def pump(
    store: OutboxStore,
    topic: str,
    deliverer: Deliverer,
    path_for: Callable[[Any], str],
    clock: Clock,
    *,
    policy: PumpPolicy = PumpPolicy(),
    signal: PumpSignal | None = None,
    body_for: Callable[[Any], Mapping[str, Any]] | None = None,
    on_permanent: Callable[[Any, DeliveryResult], None] | None = None,
    on_delivered: Callable[[Any, DeliveryResult], None] | None = None,
    after_round: Callable[[], None] | None = None,
) -> None:
    """Deliver ``topic``'s outbox forever, strictly in order, one item at a time.

    ``path_for(item)`` gives each item's URL path, ``body_for(item)`` its JSON body
    (default: the whole payload). A transient failure reschedules
    the head (the store's ``due`` then holds back everything behind it); a refused
    document (permanent 4xx) is marked failed for good, reported to ``on_permanent``
    for the audit trail, and no longer blocks the rest. ``after_round`` runs after
    each pass (to refresh gauges). Each request carries ``x-vvtv-delivery-id`` so a
    receiver can drop the duplicate that a crash between its 200 and our commit
    can cause (delivery is at least once).
    """
    wake = signal or PumpSignal()
    while True:
        items = list(store.due(topic, clock.now(), policy.batch))
        hold_until: datetime | None = None
        for item in items:
            result = await deliverer.post(
                path_for(item),
                item.payload if body_for is None else body_for(item),
                extra_headers={DELIVERY_ID_HEADER: f"{topic}-{item.id}"},
            )
            now = clock.now()
            where: dict[str, Any] = {"topic": topic, "delivery_id": f"{topic}-{item.id}"}
            if result.ok:
                store.mark_delivered(item.id, now=now)
                log_event(_log, LogEvent.CLOUD_DELIVERED, **where)
                if on_delivered is not None:
                    on_delivered(item, result)
            elif result.outcome is Outcome.PERMANENT:
                store.mark_failed(item.id, f"permanent: {result.error}", None, now=now)
                if on_permanent is not None:
                    on_permanent(item, result)
            elif result.outcome is Outcome.CIRCUIT_OPEN:
                # Nothing was attempted: wait for the breaker, the item keeps its place.
                hold_until = result.retry_at or now
                break
            else:
                delay = policy.retry_delay(item.attempts + 1, result.retry_after)
                store.mark_failed(item.id, result.error, now + timedelta(seconds=delay), now=now)
                log_event(_log, LogEvent.CLOUD_DELIVERY_FAILED, result.error,
                          level=logging.WARNING, retry_in_s=round(delay, 3),
                          attempts=item.attempts + 1, **where)  # fmt: skip
                break
        if after_round is not None:
            after_round()
        if len(items) == policy.batch and hold_until is None and items:
            await trio.sleep(0)  # a full batch: more may be due right now
            continue
        await wake.wait(_wait_seconds(store, topic, clock.now(), hold_until, policy))


def _wait_seconds(
    store: OutboxStore, topic: str, now: datetime, hold_until: datetime | None, policy: PumpPolicy
) -> float:
    """How long the pump may sleep: until the head is due, or the idle poll interval."""
    if hold_until is not None:
        return max(0.0, (hold_until - now).total_seconds())
    head = store.next_due_at(topic)
    if head is None:
        return policy.idle_poll_s
    return min(policy.idle_poll_s, max(0.0, (head - now).total_seconds()))


class PendingCounter(Protocol):
    def pending_count(self, topic: str) -> int: ...


DRAIN_POLL_S = 0.2


async def drain(
    store: PendingCounter, topic: str, timeout_s: float, signal: PumpSignal | None = None
) -> int:
    """Wait until ``topic``'s outbox has nothing pending, at most ``timeout_s`` (Trio's
    clock); the number still pending then. ``signal`` wakes an idle pump first, so what was
    just enqueued goes out now rather than at its next poll. The pump keeps its own pace:
    a failing head is retried on its backoff schedule, never faster."""
    if timeout_s < 0:
        raise ValueError(f"drain timeout must be >= 0 s, got {timeout_s}")
    if signal is not None:
        signal.set()
    with trio.move_on_after(timeout_s):
        while store.pending_count(topic):
            await trio.sleep(DRAIN_POLL_S)
    return store.pending_count(topic)
