"""Prometheus metrics of the channel, on a registry of their own.

Every ``ChannelMetrics`` owns a private ``CollectorRegistry`` (never the process-wide
default), so tests can build as many channels as they like and the daemon's
``/metrics`` shows exactly what this channel registered. The daemon hands this registry
to the supervision runtime, so its per-actor metrics are on ``/metrics`` too.

The seven gauges of the original keep their names (SPEC §5). Each HELP text says what
the gauge counts and over which span, as ``vvtv.observe.stats.pipeline_metrics`` measures
it at every sample: two are all-time figures of the state database (``vvtv_plans_created``,
``vvtv_plans_committed``), four are rolling 24-hour figures, one is live (the buffer).
Everything else is a counter or a histogram with a small, fixed set of label values:
producers call ``metrics.<attribute>.labels(...).inc()`` / ``.observe()`` / ``.set()``
directly (prometheus-client objects are the API; nothing is wrapped).
"""

from __future__ import annotations

import trio
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Enum,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from vvtv.core.model import PipelineMetrics

# generate_latest() writes the classic text format (underscore escaping), which is 0.0.4.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Fast buckets for HTTP and the event loop (an idle Trio loop lags well under 1 ms).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# ffmpeg preparation of a whole programme takes seconds to minutes.
_PREPARE_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)

CIRCUIT_STATES = ["closed", "open", "half_open"]


class ChannelMetrics:
    """All of vvtv's metrics. Attribute names below are what producers use.

    Original gauges (names kept): ``buffer_minutes``, ``plans_created``,
    ``plans_committed``, ``qa_pass_rate``, ``fallback_rate``, ``curator_actions``,
    ``stream_disruptions``.
    """

    def __init__(self, *, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        if process_metrics:
            # process_resident_memory_bytes etc.: the soak tool watches RSS through /metrics.
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)

        # --- the original's seven gauges (SPEC §5): ``record`` sets six of them from each
        # metric sample; the Buffer sets ``buffer_minutes`` whenever it publishes ---
        self.buffer_minutes = Gauge(
            "vvtv_buffer_minutes",
            "Minutes of contiguous ready programming ahead of the playhead "
            "(emergency fillers not counted)",
            registry=r,
        )
        self.plans_created = Gauge(
            "vvtv_plans_created",
            "Plans stored since the state database was created, in every state "
            "(all time: plans are never deleted)",
            registry=r,
        )
        self.plans_committed = Gauge(
            "vvtv_plans_committed",
            "Plans committed and not dropped since: COMMITTED or AIRED now (all time)",
            registry=r,
        )
        self.qa_pass_rate = Gauge(
            "vvtv_qa_pass_rate",
            "Share of QA results that passed in the last 24 hours (0..1; 1 when none)",
            registry=r,
        )
        self.fallback_rate = Gauge(
            "vvtv_fallback_rate",
            "Share of items that went on air in the last 24 hours from a fallback "
            "(reserve, emergency pool or slate; 0..1)",
            registry=r,
        )
        self.curator_actions = Gauge(
            "vvtv_curator_actions", "Curator actions applied in the last 24 hours", registry=r
        )
        self.stream_disruptions = Gauge(
            "vvtv_stream_disruptions",
            "Stream disruptions recorded in the last 24 hours",
            registry=r,
        )

        # --- pipeline ---
        self.windows = Counter(
            "vvtv_windows", "Scheduler windows run", ["window", "outcome"], registry=r
        )
        self.fetches = Counter(
            "vvtv_fetches", "Media fetches (download or folder copy)", ["outcome"], registry=r
        )
        self.prepares = Counter("vvtv_prepares", "Media preparations", ["outcome"], registry=r)
        self.prepare_seconds = Histogram(
            "vvtv_prepare_duration_seconds",
            "Wall time of one preparation with its QA (conform, loudness, segment, QA gate)",
            ["outcome"],
            buckets=_PREPARE_BUCKETS,
            registry=r,
        )
        self.qa_outcomes = Counter("vvtv_qa_outcomes", "QA gate results", ["outcome"], registry=r)
        self.fallback_levels = Counter(
            "vvtv_fallback_level_used",
            "Items that started airing, by fallback level (0 main, 1 reserve, 2 emergency pool, "
            "3 slate)",
            ["level"],
            registry=r,
        )
        self.emergency_active = Gauge(
            "vvtv_emergency_active", "1 while emergency mode is on", registry=r
        )
        self.emergency_seconds = Counter(
            "vvtv_emergency_seconds", "Seconds spent in emergency mode", registry=r
        )
        self.curator_decisions = Counter(
            "vvtv_curator_decisions",
            "Curator proposals by what happened to them",
            ["kind"],  # applied | suggested
            registry=r,
        )

        self.rendition_fallback_segments = Gauge(
            "vvtv_rendition_fallback_segments",
            "Segments of a lower rung's live playlist that are the main rendition's (an asset "
            "prepared without that rung), by rung",
            ["rendition"],
            registry=r,
        )

        self.availability_pct = Gauge(
            "vvtv_availability_pct",
            "Share of today (the channel's local date) the channel was on air so far, in "
            "percent, from the air's heartbeat; the SLO is 99.5",
            registry=r,
        )

        # --- alerts and cloud sync ---
        self.alerts_active = Gauge(
            "vvtv_alerts_active",
            "Active alerts that are not inhibited (those that page), by severity",
            ["severity"],
            registry=r,
        )
        self.alerts_inhibited = Gauge(
            "vvtv_alerts_inhibited",
            "Active alerts inhibited by another active alert (one incident: only the "
            "inhibitor pages), by severity",
            ["severity"],
            registry=r,
        )
        self.alerts_notified = Counter(
            "vvtv_alerts_notified",
            "Alert notifications handed to the webhook's or the edge's outbox (none when "
            "neither is configured)",
            ["code", "event"],  # event: alert | alert_clear
            registry=r,
        )
        self.cloud_outbox_depth = Gauge(
            "vvtv_cloud_outbox_depth", "Cloud sync items waiting in the outbox", registry=r
        )
        self.cloud_attempts = Counter(
            "vvtv_cloud_delivery_attempts", "Cloud sync HTTP attempts", ["path"], registry=r
        )
        self.cloud_failures = Counter(
            "vvtv_cloud_delivery_failures", "Cloud sync failed attempts", ["path"], registry=r
        )
        self.cloud_circuit = Enum(
            "vvtv_cloud_circuit", "Cloud sync circuit breaker", states=CIRCUIT_STATES, registry=r
        )

        # --- the edge (cloud/worker): HLS publisher and command agent ---
        self.edge_segments_uploaded = Counter(
            "vvtv_edge_segments_uploaded",
            "Live segments uploaded to the edge (each once)",
            registry=r,
        )
        self.edge_bytes_uploaded = Counter(
            "vvtv_edge_bytes_uploaded",
            "Bytes of live segments and playlists uploaded to the edge",
            registry=r,
        )
        self.edge_playlists = Counter(
            "vvtv_edge_playlists",
            "Playlists the edge accepted",
            registry=r,
        )
        self.edge_lag_segments = Gauge(
            "vvtv_edge_lag_segments",
            "Segments the edge's playlist is behind the origin's (EDGE_LAGGING past the limit)",
            registry=r,
        )
        self.edge_failures = Counter(
            "vvtv_edge_failures",
            "Failed requests to the edge, by part",
            ["part"],  # hls | agent
            registry=r,
        )
        self.edge_commands = Counter(
            "vvtv_edge_commands",
            "Commands relayed by the edge, by what became of them",
            ["outcome"],  # applied | expired | repeated | refused
            registry=r,
        )

        # --- push outputs (vvtv.outputs; label values are the card's output names) ---
        self.output_connected = Gauge(
            "vvtv_output_connected",
            "1 while a push output is connected and sending",
            ["output"],
            registry=r,
        )
        self.output_bitrate = Gauge(
            "vvtv_output_bitrate_kbps",
            "What a push output sends, in kbit/s over the last few seconds",
            ["output"],
            registry=r,
        )
        self.output_uptime = Gauge(
            "vvtv_output_uptime_seconds",
            "Seconds the push output has been connected (0 while it is not)",
            ["output"],
            registry=r,
        )
        self.output_reconnects = Counter(
            "vvtv_output_reconnects",
            "Connections a push output made again after losing one",
            ["output"],
            registry=r,
        )
        self.output_failures = Counter(
            "vvtv_output_failures", "Push attempts that ended in an error", ["output"], registry=r
        )
        self.output_bytes = Counter(
            "vvtv_output_sent_bytes",
            "Bytes a push output wrote to its server",
            ["output"],
            registry=r,
        )
        self.output_segments = Counter(
            "vvtv_output_segments",
            "Live segments by what a push did with them: sent, skipped (to stay close to the "
            "air), dropped (unusable)",
            ["output", "outcome"],
            registry=r,
        )

        # --- HTTP face ---
        self.http_requests = Counter(
            "vvtv_http_requests",
            "HTTP requests served",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "vvtv_http_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.control_refused = Counter(
            "vvtv_control_refused",
            "Control calls refused before acting (bad token, signature or timestamp, replay, "
            "body too large), by kind",
            ["kind"],
            registry=r,
        )
        self.http_connections = Gauge(
            "vvtv_http_connections", "Open HTTP connections (websockets included)", registry=r
        )
        self.http_refused = Counter(
            "vvtv_http_refused",
            "Requests and connections the HTTP face refused or cut (unknown or malformed "
            "Host, foreign websocket Origin, websocket caps, body too slow, connection cap), "
            "by reason",
            ["reason"],
            registry=r,
        )
        self.websocket_clients = Gauge(
            "vvtv_websocket_clients", "Connected websocket clients", ["topic"], registry=r
        )
        self.websocket_skipped = Counter(
            "vvtv_websocket_frames_conflated",
            "Updates a slow websocket client never saw (conflated away)",
            ["topic"],
            registry=r,
        )

        # --- runtime health ---
        self.event_loop_lag = Histogram(
            "vvtv_event_loop_lag_seconds",
            "How late a periodic timer wakes up: time the Trio loop was busy elsewhere",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def record(self, sample: PipelineMetrics) -> None:
        """Set the sampled gauges from one metric sample (``vvtv.observe.stats``)."""
        self.plans_created.set(sample.plans_created)
        self.plans_committed.set(sample.plans_committed)
        self.qa_pass_rate.set(sample.qa_pass_rate)
        self.fallback_rate.set(sample.fallback_rate)
        self.curator_actions.set(sample.curator_actions)
        self.stream_disruptions.set(sample.stream_disruptions)

    def render(self) -> bytes:
        """Prometheus text exposition (``CONTENT_TYPE``) of the registry, which also holds
        the supervision runtime's per-actor metrics (the daemon hands it to the Runtime)."""
        return generate_latest(self.registry)


async def measure_loop_lag(metrics: ChannelMetrics, interval: float = 0.5) -> None:
    """Forever: sleep ``interval`` and record how much later than asked we woke up.

    A lag far above a millisecond means something blocked the event loop (sync I/O,
    a CPU-heavy call outside a thread); ``vvtv_event_loop_lag_seconds`` shows it.
    """
    if interval <= 0:
        raise ValueError(f"loop lag interval must be > 0, got {interval}")
    observe = metrics.event_loop_lag.observe
    while True:
        start = trio.current_time()
        await trio.sleep(interval)
        observe(max(0.0, trio.current_time() - start - interval))
