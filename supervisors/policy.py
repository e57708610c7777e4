"""Declarative supervision policy: strategies, restart types, backoff, intensity.

These are plain values with no Trio in them, so the rules (when to restart, how long to wait,
when to give up) can be tested exhaustively on their own.
"""

from __future__ import annotations

import enum
import random
from collections import deque

import attrs


class Strategy(enum.Enum):
    """Which siblings restart with a failed child."""

    ONE_FOR_ONE = "one_for_one"  # only the failed child
    ONE_FOR_ALL = "one_for_all"  # every running child, stopped in reverse then started in order
    REST_FOR_ONE = "rest_for_one"  # the failed child and those started after it


class Restart(enum.Enum):
    """When a child that exited is started again."""

    PERMANENT = "permanent"  # always
    TRANSIENT = "transient"  # only after a failure (an exception), not after a normal stop
    TEMPORARY = "temporary"  # never


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class Backoff:
    """Delay before a restart: exponential with full jitter, capped, reset after stable uptime.

    The n-th consecutive restart (n = 0, 1, ...) waits ``uniform(0, min(cap, base * 2**n))``.
    Full jitter keeps a crowd of crashing actors from retrying in lockstep. A child that stayed
    up for ``reset_after`` seconds before failing starts again from n = 0.
    """

    base: float = attrs.field(default=0.05, validator=_non_negative)
    cap: float = attrs.field(default=5.0, validator=_non_negative)
    reset_after: float = attrs.field(default=30.0, validator=_non_negative)
    enabled: bool = True

    def ceiling(self, attempt: int) -> float:
        """The largest delay the ``attempt``-th consecutive restart may wait."""
        if not self.enabled or attempt < 0:
            return 0.0
        # 2**attempt overflows float for huge attempts; the cap is reached long before.
        return min(self.cap, self.base * (1 << min(attempt, 64)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A jittered delay for the ``attempt``-th consecutive restart."""
        top = self.ceiling(attempt)
        if top <= 0:
            return 0.0
        return (rng or random).uniform(0.0, top)


class RestartIntensity:
    """At most ``max_restarts`` restarts inside any window shorter than ``within_seconds``.

    ``allow(now)`` records one restart and says whether it is still within the limit, so the
    (R+1)th restart whose predecessors all happened less than T seconds before it is refused.
    """

    def __init__(self, max_restarts: int, within_seconds: float) -> None:
        if max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {max_restarts!r}")
        if not within_seconds > 0:
            raise ValueError(f"within_seconds must be > 0, got {within_seconds!r}")
        self.max_restarts = max_restarts
        self.within_seconds = within_seconds
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a restart at ``now``; False when it is one too many inside the window."""
        times = self._times
        while times and now - times[0] >= self.within_seconds:
            times.popleft()
        times.append(now)
        return len(times) <= self.max_restarts

    def __len__(self) -> int:
        return len(self._times)
