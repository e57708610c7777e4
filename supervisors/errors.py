"""The exceptions the runtime raises at the people who use it.

Every one names the actor it is about, so a log line alone says what went wrong and where.
"""

from __future__ import annotations


class ActorError(Exception):
    """Base of every error raised by the actor runtime."""


class CallTimeout(ActorError, TimeoutError):
    """A ``call``/``cast``/``wait_for`` deadline expired (enqueue and reply both count)."""


class ActorUnavailable(ActorError):
    """The named actor is not running: never started, restarting, or stopped."""


class ActorDied(ActorError):
    """The callee crashed (or was killed) before it replied to this request."""


class MessageRefused(ActorError, TypeError):
    """The message's type is not in the actor's ``accepts``; raised at the sender."""


class SupervisorEscalated(ActorError):
    """A supervisor exceeded its restart intensity, stopped its children and gave up."""

    def __init__(self, supervisor: str, restarts: int, within_seconds: float, last: str) -> None:
        super().__init__(
            f"supervisor {supervisor!r} gave up: more than {restarts} restarts within "
            f"{within_seconds:g}s (last failure: {last})"
        )
        self.supervisor = supervisor
        self.last = last


class DuplicateName(ActorError, ValueError):
    """Two nodes of one tree claimed the same name; names are unique across the tree."""
