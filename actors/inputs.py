"""What the Alerter measures: the channel's live state, its store, its runtime tree.

Kept apart from the Alerter so the rules stay pure and the actor stays generic: this
is the one place that knows where each alert input lives in a running channel.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from actors.alerter import inputs_from_store
from actors.context import ChannelContext
from vvtv.edge.hls import PublisherHealth
from vvtv.notify.alerts import AlertInputs, RestartWindow, restart_totals
from vvtv.notify.delivery import CircuitBreaker

RESTART_WINDOW = timedelta(minutes=10)


class AlertInputsPort:
    """Callable ``(now) -> AlertInputs``; remembers restart counts to see storms."""

    def __init__(
        self, ch: ChannelContext, breaker: CircuitBreaker, edge: PublisherHealth | None = None
    ) -> None:
        self.ch = ch
        self.breaker = breaker
        self.edge = edge
        self._restarts = RestartWindow(RESTART_WINDOW.total_seconds())

    def __call__(self, now: datetime) -> AlertInputs:
        ch = self.ch
        status = ch.topics["buffer"].latest or {}
        last = ch.live.last_segment_at
        return AlertInputs(
            buffer_minutes=status.get("buffer_minutes"),
            buffer_critical_minutes=float(ch.card.schedule_policy.buffer_critical_minutes),
            emergency_active=status.get("state") == "EMERGENCY",
            last_segment_age_s=(now - last).total_seconds() if last else None,
            segment_target_s=float(ch.card.channel.segment_seconds),
            actor_restarts=self._restarts_in_window(now),
            cloud_failing=bool(ch.settings.cloudflare_base_url) and self.breaker.failing,
            cloud_failing_detail=self.breaker.last_error,
            **self._edge(),
            outputs_down=ch.outputs.down(now),
            **inputs_from_store(ch.store, now),
        )

    def _edge(self) -> dict[str, Any]:
        """EDGE_LAGGING's inputs, when the channel publishes HLS to an edge."""
        settings = self.ch.settings
        if self.edge is None or not (settings.cloud_url and settings.edge_hls):
            return {}
        return {
            "edge_lag_segments": self.edge.lag(),
            "edge_lag_limit": settings.edge_lag_segments,
            "edge_detail": self.edge.last_error,
        }

    def _restarts_in_window(self, now: datetime) -> dict[str, int]:
        """Restarts per actor over the last ten minutes, from the published tree snapshot."""
        snapshot = self.ch.topics["runtime"].latest
        return self._restarts.observe(now, restart_totals(snapshot) if snapshot else {})
