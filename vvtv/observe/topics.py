"""Live topics: actors publish state, dashboards subscribe; live state flows one way.

A ``Topic`` keeps the latest value of one kind of live state ("buffer", "alerts",
"runtime"). ``publish`` never awaits and never blocks: it serialises the JSON frame
``{"topic", "seq", "data"}`` exactly once and drops the same string into every
subscriber's small bounded queue. Costs measured on this stack (STACK-NOTES) make
both choices matter: serialising per subscriber or awaiting per delivery caps
fan-out at a few thousand messages a second. With nobody subscribed, the frame is not
made until someone asks for it (a new subscriber's snapshot, ``latest_frame``): most
updates of a channel nobody watches are never serialised at all. Published data must
not be changed afterwards (every publisher builds a fresh value per update).

Conflation. Live state is "latest wins": a subscriber whose queue is full is not
worth slowing the producer for, and the updates it missed are superseded anyway.
When a subscriber falls ``maxlen`` frames behind, its queue is replaced by the
newest frame alone and the frames skipped are counted. The next frame it receives
carries ``"gap": n`` (n = number of updates it never saw) so a client knows it
missed intermediate states::

    {"topic": "buffer", "seq": 42, "data": {...}, "gap": 17}

A new subscriber first receives the latest frame (the snapshot), if any, without a
gap marker; then every later update in order.

Paced wake-ups. A subscription made with a ``Pacer`` (the websocket handlers' are) is
not woken by ``publish`` itself: the pacer's task wakes waiting subscribers ``chunk``
at a time and lets the rest of the event loop run between chunks, so an update to a
thousand dashboards is many short scheduler batches instead of one long one.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import trio

DEFAULT_QUEUE = 8
# A woken handler's send takes three scheduler steps (hypercorn's connection lock and the
# socket write each yield), so a batch holds about three chunks' worth of steps: with
# ~0.1-0.15 ms of CPU a send, 8 keeps a batch near 1-3 ms. Measured with 1,000 dashboards
# (ops/PERFORMANCE.md, "The load benchmark"): event-loop lag p99 ~6 ms at 8, 16-18 ms at
# 16, 23-45 ms at 50, for the same total work.
DEFAULT_CHUNK = 8


def _default_json(value: Any) -> Any:
    """Encode the few non-JSON types live state tends to carry (datetimes, enums, paths)."""
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def encode(topic: str, seq: int, data: Any) -> str:
    """The wire frame of one update, compact JSON."""
    return json.dumps(
        {"topic": topic, "seq": seq, "data": data}, separators=(",", ":"), default=_default_json
    )


def with_gap(frame: str, skipped: int) -> str:
    """``frame`` with ``"gap": skipped`` appended; cheap because it is rare (slow clients only)."""
    return f'{frame[:-1]},"gap":{skipped}}}'


class TopicClosed(Exception):
    """Publishing to a closed topic: the hub is shutting down."""


class Pacer:
    """Wakes waiting subscribers ``chunk`` at a time, yielding to the event loop between chunks.

    Why: Trio runs every runnable task of a batch before it looks at timers and sockets
    again. A publish that wakes 1,000 websocket handler tasks at once, each spending
    ~0.15 ms of CPU on its send (quart -> hypercorn -> wsproto -> socket), is a batch of
    150-250 ms in which no other task runs: event-loop lag, slow HTTP answers
    (ops/PERFORMANCE.md, "The load benchmark"). Woken ``chunk`` at a time, the same work
    is ``N / chunk`` batches of a few ms, with timers, I/O and other tasks between them.

    Only wake-ups are paced: each subscriber still sends from its own task, so a client
    that stops reading blocks only its own handler, never the pacer or the others.
    ``run()`` does the waking; while it is not running, ``wake`` sets the event at once,
    so a subscriber never waits for a pacer nobody runs.
    """

    def __init__(self, chunk: int = DEFAULT_CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"pacer chunk must be >= 1, got {chunk}")
        self.chunk = chunk
        # At most one entry per subscription: a waiter is handed over once, then cleared.
        self._due: deque[trio.Event] = deque()
        self._idle: trio.Event | None = None  # set by wake() while run() waits for work
        self._scope: trio.CancelScope | None = None

    @property
    def running(self) -> bool:
        return self._scope is not None

    @property
    def due(self) -> int:
        """Subscribers with a frame waiting to be woken."""
        return len(self._due)

    def wake(self, event: trio.Event) -> None:
        """Set ``event`` in a coming chunk (at once when the pacer is not running)."""
        if self._scope is None:
            event.set()
            return
        self._due.append(event)
        if self._idle is not None:
            self._idle.set()
            self._idle = None

    async def run(self) -> None:
        """Wake subscribers chunk by chunk until ``stop()`` or cancellation."""
        if self._scope is not None:
            raise RuntimeError("this pacer is already running")
        due = self._due
        try:
            with trio.CancelScope() as self._scope:
                while True:
                    if not due:
                        self._idle = trio.Event()
                        await self._idle.wait()
                    for _ in range(min(self.chunk, len(due))):
                        due.popleft().set()
                    # The chunk just woken runs in the next batch, and so do we: between
                    # this batch and that one Trio handles due timers and ready sockets.
                    await trio.lowlevel.checkpoint()
        finally:
            self._scope = None
            self._idle = None
            while due:  # nobody will pace these any more: wake them now
                due.popleft().set()

    def stop(self) -> None:
        """End ``run()``; subscribers still due are woken at once."""
        if self._scope is not None:
            self._scope.cancel()


class Subscription:
    """One subscriber's view of a topic: an async iterator of JSON frames (``str``).

    Iteration ends when the subscription or its topic is closed. Use it as a context
    manager (sync or async) so it is always detached from the topic.
    """

    def __init__(self, topic: Topic, maxlen: int, pacer: Pacer | None = None) -> None:
        if maxlen < 1:
            raise ValueError(f"subscription queue length must be >= 1, got {maxlen}")
        self._topic = topic
        self._maxlen = maxlen
        self._frames: deque[str] = deque()
        self._skipped = 0
        self._waiter: trio.Event | None = None
        self._pacer = pacer
        self._closed = False
        self.delivered = 0
        self.skipped_total = 0

    @property
    def topic(self) -> str:
        return self._topic.name

    @property
    def pending(self) -> int:
        """Frames waiting to be read (never more than the queue length)."""
        return len(self._frames)

    def _offer(self, frame: str) -> None:
        # Called from publish(): plain deque operations and at most one Event.set().
        frames = self._frames
        if len(frames) >= self._maxlen:
            self._skipped += len(frames)
            frames.clear()
        frames.append(frame)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if self._pacer is None:
                waiter.set()
            else:
                self._pacer.wake(waiter)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set()

    def receive_nowait(self) -> str | None:
        """The next frame if one is queued, else ``None``."""
        if not self._frames:
            return None
        frame = self._frames.popleft()
        if self._skipped:
            self.skipped_total += self._skipped
            frame = with_gap(frame, self._skipped)
            self._skipped = 0
        self.delivered += 1
        return frame

    async def receive(self) -> str:
        """Wait for the next frame; raises ``trio.EndOfChannel`` once closed and drained."""
        while True:
            frame = self.receive_nowait()
            if frame is not None:
                return frame
            if self._closed:
                raise trio.EndOfChannel(f"subscription to {self.topic!r} closed")
            self._waiter = event = trio.Event()
            await event.wait()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while True:
            try:
                yield await self.receive()
            except trio.EndOfChannel:
                return

    def close(self) -> None:
        """Detach from the topic; a pending ``receive`` ends with ``EndOfChannel``."""
        if not self._closed:
            self._closed = True
            self._frames.clear()
            self._topic._detach(self)
            self._wake()

    def _topic_closed(self) -> None:
        # Already-queued frames stay readable, then iteration ends.
        self._closed = True
        self._wake()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Topic:
    """A named stream of updates with a remembered latest value."""

    def __init__(self, name: str, *, queue_size: int = DEFAULT_QUEUE) -> None:
        self.name = name
        self._queue_size = queue_size
        self._seq = 0
        self._latest: str | None = None
        self._latest_data: Any = None
        self._subscribers: set[Subscription] = set()
        self._closed = False

    @property
    def seq(self) -> int:
        """Sequence number of the latest update (0 before the first)."""
        return self._seq

    @property
    def latest(self) -> Any:
        """The data of the latest update (``None`` before the first)."""
        return self._latest_data

    @property
    def latest_frame(self) -> str | None:
        """The latest update's wire frame, serialised now if nobody needed it yet."""
        if self._latest is None and self._seq:
            self._latest = encode(self.name, self._seq, self._latest_data)
        return self._latest

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, data: Any) -> int:
        """Record ``data`` as the latest state and fan it out; returns its ``seq``.

        Never awaits and never blocks, whatever the subscribers do. ``data`` must be
        JSON-serialisable (datetimes and enums are encoded as ISO strings / values).
        """
        if self._closed:
            raise TopicClosed(f"topic {self.name!r} is closed")
        self._seq += 1
        self._latest_data = data
        if not self._subscribers:
            self._latest = None  # serialised on demand (latest_frame)
            return self._seq
        frame = encode(self.name, self._seq, data)
        self._latest = frame
        for sub in self._subscribers:
            sub._offer(frame)
        return self._seq

    def subscribe(
        self, *, queue_size: int | None = None, pacer: Pacer | None = None
    ) -> Subscription:
        """A new subscription whose first frame is the latest update (the snapshot).

        With a ``pacer``, later updates wake it through the pacer (see ``Pacer``).
        """
        maxlen = self._queue_size if queue_size is None else queue_size
        sub = Subscription(self, maxlen, pacer)
        snapshot = self.latest_frame
        if snapshot is not None:
            sub._offer(snapshot)
        if self._closed:
            sub._topic_closed()
            return sub
        self._subscribers.add(sub)
        return sub

    def _detach(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def close(self) -> None:
        """End every subscription (after its queued frames); later publishes raise."""
        self._closed = True
        subs, self._subscribers = self._subscribers, set()
        for sub in subs:
            sub._topic_closed()


class TopicHub:
    """The channel's named topics. ``TopicHub()`` has "buffer", "alerts" and "runtime"."""

    STANDARD = ("buffer", "alerts", "runtime")

    def __init__(
        self, names: tuple[str, ...] = STANDARD, *, queue_size: int = DEFAULT_QUEUE
    ) -> None:
        if not names:
            raise ValueError("a TopicHub needs at least one topic name")
        self._topics = {name: Topic(name, queue_size=queue_size) for name in names}

    def __getitem__(self, name: str) -> Topic:
        try:
            return self._topics[name]
        except KeyError:
            raise KeyError(f"unknown topic {name!r}; known: {sorted(self._topics)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._topics

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._topics)

    def publish(self, name: str, data: Any) -> int:
        """Shorthand for ``hub[name].publish(data)``."""
        return self[name].publish(data)

    def subscribe(
        self, name: str, *, queue_size: int | None = None, pacer: Pacer | None = None
    ) -> Subscription:
        return self[name].subscribe(queue_size=queue_size, pacer=pacer)

    @property
    def subscriber_count(self) -> int:
        return sum(t.subscriber_count for t in self._topics.values())

    def close(self) -> None:
        """Close every topic: live streams end cleanly (used on shutdown)."""
        for topic in self._topics.values():
            topic.close()
