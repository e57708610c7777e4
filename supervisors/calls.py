"""The one-shot reply slot behind ``ActorRef.call``.

A call parks the caller's task and the callee reschedules it directly with the outcome: no
channel, no Event, one scheduler pass. A caller that gave up (deadline, cancellation) marks the
slot abandoned, so the callee's late reply is dropped and counted instead of raising or blocking.
"""

from __future__ import annotations

from typing import Any

import outcome
import trio


class Call:
    """One request in flight: the message, the waiting task, and how it ended."""

    __slots__ = ("_outcome", "_task", "_waiting", "abandoned", "msg")

    def __init__(self, msg: object) -> None:
        self.msg = msg
        self._task = trio.lowlevel.current_task()
        self._outcome: outcome.Outcome | None = None
        self._waiting = False
        self.abandoned = False

    @property
    def settled(self) -> bool:
        return self._outcome is not None or self.abandoned

    def reply(self, value: object) -> bool:
        """Deliver the reply; False when the caller already gave up (a late reply)."""
        return self._settle(outcome.Value(value))

    def fail(self, exc: BaseException) -> bool:
        """Deliver an error instead of a reply; False when the caller already gave up."""
        return self._settle(outcome.Error(exc))

    def _settle(self, result: outcome.Outcome) -> bool:
        if self._outcome is not None or self.abandoned:
            return False
        self._outcome = result
        # The callee may answer before the caller parked (e.g. the caller was a blocked sender
        # that the callee's receive just woke): then ``wait`` picks the outcome up itself.
        if self._waiting:
            self._waiting = False
            trio.lowlevel.reschedule(self._task, result)
        return True

    async def wait(self) -> Any:
        """Park until the callee settles the call; cancellation abandons it."""
        if self._outcome is not None:
            return self._outcome.unwrap()
        self._waiting = True

        def abort(_: object) -> trio.lowlevel.Abort:
            self._waiting = False
            self.abandoned = True
            return trio.lowlevel.Abort.SUCCEEDED

        return await trio.lowlevel.wait_task_rescheduled(abort)
