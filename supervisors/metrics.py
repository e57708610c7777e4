"""Prometheus metrics per actor, read from the runtime's counters at scrape time.

Counting happens in plain integers on the hot path (a lock-taking prometheus ``inc`` per message
would cost more than the message itself); this collector turns them into metric families when
scraped. It registers on the registry it is given, never the global default, so a test process
can build many runtimes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from supervisors.node import HANDLE_BUCKETS, Node


class RuntimeCollector(Collector):
    """``actor_*`` metric families labelled by actor (or supervisor) name."""

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        self._nodes = nodes  # the runtime's registry, read at scrape time

    def collect(self) -> Iterator[Metric]:
        handled = CounterMetricFamily(
            "actor_messages_handled", "Messages handled by the actor", labels=["actor"]
        )
        seconds = HistogramMetricFamily(
            "actor_handle_seconds", "Time spent handling one message", labels=["actor"]
        )
        depth = GaugeMetricFamily("actor_mailbox_depth", "Messages waiting", labels=["actor"])
        capacity = GaugeMetricFamily("actor_mailbox_capacity", "Mailbox bound", labels=["actor"])
        restarts = CounterMetricFamily(
            "actor_restarts", "Restarts of the actor or supervisor", labels=["actor"]
        )
        failures = CounterMetricFamily(
            "actor_failures", "Incarnations that ended with an exception", labels=["actor"]
        )
        calls = CounterMetricFamily(
            "actor_calls",
            "Outcomes of calls to the actor (ok, timeout, died, late_reply)",
            labels=["actor", "outcome"],
        )
        dropped = CounterMetricFamily(
            "actor_dropped_messages",
            "Casts left in the mailbox of an incarnation that ended",
            labels=["actor"],
        )
        for node in list(self._nodes.values()):
            name = [node.name]
            restarts.add_metric(name, node.restarts)
            failures.add_metric(name, node.failures)
            if node.kind != "actor":
                continue
            stats = node.stats
            handled.add_metric(name, stats.handled)
            cumulative, buckets = 0, []
            for bound, count in zip(
                (*HANDLE_BUCKETS, float("inf")), stats.handle_counts, strict=True
            ):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            seconds.add_metric(name, buckets, stats.handle_sum)
            cell = node.cell
            depth.add_metric(name, cell.statistics()["depth"] if cell is not None else 0)
            if cell is not None:
                capacity.add_metric(name, cell.capacity)
            for outcome, value in (
                ("ok", stats.calls_ok),
                ("timeout", stats.calls_timeout),
                ("died", stats.calls_died),
                ("late_reply", stats.late_replies),
            ):
                calls.add_metric([node.name, outcome], value)
            dropped.add_metric(name, stats.dropped)
        yield from (handled, seconds, depth, capacity, restarts, failures, calls, dropped)
