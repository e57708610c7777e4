"""One retry policy for every outgoing HTTP request: what retries, and how long to wait.

Media downloads, feed reads, the Alerter's webhook and CloudSync's deliveries all
answer the same two questions the same way:

- **What is worth another attempt.** A status that says "not now" — 408 (request
  timeout), 425 (too early), 429 (too many requests) and every 5xx — and a transport
  failure a later attempt can get past: a refused or reset connection, a timeout, a
  broken response. Every other status (a 404, a 401, a 400) is the server's answer
  and asking again cannot change it; an unsupported URL scheme is our own mistake.
- **How long to wait before retry ``k``** (0-based): ``base × 2^k``, at most ``cap``;
  with ``jitter`` up to that fraction is added at random, so a crowd of clients that
  failed together does not come back in lockstep (the delay never drops below the
  schedule: a server that asked for 300 ms gets at least 300 ms). A ``Retry-After``
  from the server raises the wait to what it asked for, never past ``cap``.

Each user keeps its numbers next to its subject (the cloud's are fixed by SPEC §6:
``vvtv.notify.delivery.DELIVERY_RETRY``). Waits go through ``trio.sleep``, so under
``trio.testing.MockClock`` a whole retry schedule runs in no real time.

``supervisors.Backoff`` (restart delays of crashed actors) is a different subject and
stays in the generic runtime, which knows nothing of vvtv.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

import attrs
import httpx
import trio

#: Statuses that mean "not now" rather than "no": 408, 425, 429 and every 5xx.
RETRY_STATUSES: frozenset[int] = frozenset({408, 425, 429}) | frozenset(range(500, 600))

# Transport errors that no later attempt can fix: the URL's scheme is not one httpx
# speaks, or we broke the protocol ourselves (a bad header). Retrying only hides them.
_PERMANENT_ERRORS = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def exponential(k: int, base_s: float, cap_s: float) -> float:
    """``base_s × 2^k`` seconds, at most ``cap_s`` (``k`` < 0 counts as 0)."""
    # 2**k overflows a float for a huge k; the cap is reached long before.
    return min(cap_s, base_s * (1 << min(max(k, 0), 64)))


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ValueError(f"retry {attribute.name} must be a finite number >= 0, got {value!r}")


def _retries(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"retry {attribute.name} must be an integer >= 0, got {value!r}")


def _jitter(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    _non_negative(_, attribute, value)
    if value > 1:
        raise ValueError(f"retry jitter is a fraction in [0, 1], got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How many times to try again, after how long, and on which failures.

    ``retries`` counts the attempts after the first (``attempts`` is one more).
    """

    retries: int = attrs.field(default=3, validator=_retries)
    base_s: float = attrs.field(default=0.3, validator=_non_negative)
    cap_s: float = attrs.field(default=30.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.0, validator=_jitter)
    statuses: frozenset[int] = attrs.field(default=RETRY_STATUSES, converter=frozenset)

    @classmethod
    def never(cls) -> RetryPolicy:
        """One attempt, no retry (the same questions still classify failures)."""
        return cls(retries=0)

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def retries_status(self, status: int) -> bool:
        """Is an HTTP answer with ``status`` worth another attempt?"""
        return status in self.statuses

    def retries_error(self, exc: BaseException) -> bool:
        """Is this exception a transport failure that another attempt may get past?

        An error may say it is final (``final = True``): ``vvtv.guard.http.AddressRefused``
        is a connect error the address policy will refuse again, however often asked.
        """
        if getattr(exc, "final", False):
            return False
        return isinstance(exc, httpx.TransportError) and not isinstance(exc, _PERMANENT_ERRORS)

    def delay(
        self, k: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry ``k`` (0-based)."""
        wait = exponential(k, self.base_s, self.cap_s)
        if self.jitter and wait:
            wait = min(self.cap_s, wait * (1 + self.jitter * (rng or random).random()))
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, self.cap_s)
        return wait

    async def sleep(self, k: int, *, retry_after: float | None = None) -> None:
        """Wait before retry ``k`` on Trio's clock (instant under an autojumping MockClock)."""
        await trio.sleep(self.delay(k, retry_after=retry_after))


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The wait a response's ``Retry-After`` asks for, in seconds, or None.

    Both RFC 9110 forms: delay-seconds, or an HTTP-date. A date is measured against the
    response's own ``Date`` header when it has one (so a server whose clock is off by
    minutes still means what it says), else against ``now``. A past date is 0; anything
    unreadable, negative or non-finite is None (the policy's own schedule applies).
    """
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = _http_date(value)
    reference = _http_date(headers.get("date") or "") or now
    if when is None or reference is None or reference.tzinfo is None:
        return None
    return max(0.0, (when - reference).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # An HTTP-date is always GMT; a date without a zone is not one.
    return parsed if parsed.tzinfo is not None else None
