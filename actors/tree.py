"""The channel's supervision tree.

```
root            one_for_one
├─ api          HTTP + websockets + HLS origin; stays up when the pipeline fails
├─ pipeline     rest_for_one: a crash restarts the failed actor and those started after it
│  ├─ buffer        the timeline, emergency mode, curator, live playlist, as-run log
│  ├─ committer     T-4h selection, fetch, prepare, QA, reserve fallback
│  ├─ discovery     sources, filters, HD probe, scoring, planning grid
│  └─ scheduler     windows, cursors, nightly
├─ outputs      one_for_one: a pusher per output of the card (RTMP/RTMPS/SRT), each
│               following the air; rebuilt when the card's outputs change (actors/outputs.py)
├─ alerter      rules, notification state, webhook
├─ cloudsync    signed publishing with a durable outbox
└─ edge         one_for_one, with a cloud (cloud/worker):
   ├─ edge_publisher  the live HLS uploaded once to the edge; status when now/next changes
   └─ edge_agent      the operator's commands relayed by the edge, applied at most once
```

The pipeline starts the Buffer first so something is on air before anything is
fetched, and ``rest_for_one`` because later actors send to earlier ones: when the
Buffer restarts, the actors that feed it restart too and re-sync from the store.
"""

from __future__ import annotations

from actors.alerter import AlertBoard, Alerter
from actors.api import Api
from actors.buffer import Buffer
from actors.cloudsync import CloudSync
from actors.committer import Committer
from actors.context import ChannelContext
from actors.discovery import Discovery
from actors.edge import EdgeAgent, EdgePublisher
from actors.inputs import AlertInputsPort
from actors.outputs import outputs_supervisor
from actors.scheduler import Scheduler
from supervisors import ChildSpec, Restart, Strategy, Supervisor
from vvtv.core import tls
from vvtv.edge.hls import PublisherHealth
from vvtv.notify.alerts import FOR_SECONDS, AlertThresholds
from vvtv.notify.delivery import CircuitBreaker, PumpSignal


def build_tree(ch: ChannelContext, *, board: AlertBoard | None = None) -> Supervisor:
    """The root supervisor of a running channel."""
    settings = ch.settings
    board = board or AlertBoard()
    breaker = CircuitBreaker()
    # The cloud outbox's pump wakes when CloudSync or the Alerter enqueues on it.
    cloud_wake = PumpSignal() if settings.cloudflare_base_url else None
    # Outlives the publisher's restarts: EDGE_LAGGING must not reset with it.
    edge_health = PublisherHealth()
    for_seconds = {**FOR_SECONDS, "CLOUD_SYNC_FAILING": float(settings.alert_cloud_failing_secs)}
    thresholds = AlertThresholds(
        qa_min=settings.alert_qa_min,
        fallback_abs=settings.alert_fallback_abs,
        fallback_growth=settings.alert_fallback_growth,
        discovery_fail_count=settings.alert_discovery_fail_count,
        output_down_s=float(settings.alert_output_down_secs),
    )

    # Outlives the Alerter's restarts: its window of restart counts is the channel's, so a
    # new Alerter does not take every restart since boot for a storm.
    inputs = AlertInputsPort(ch, breaker, edge_health)

    def alerter() -> Alerter:
        return Alerter(
            store=ch.store,
            clock=ch.clock,
            inputs=inputs,
            thresholds=thresholds,
            cooldown_s=settings.alert_cooldown_secs,
            webhook_url=settings.alert_webhook_url,
            webhook_secret=settings.alert_webhook_secret,
            client_factory=tls.client,
            board=board,
            topics=ch.topics,
            metrics=ch.metrics,
            cloud_wake=cloud_wake,
            for_seconds=for_seconds,
            grace_until=ch.alert_grace_until(),
        )

    def cloudsync() -> CloudSync:
        return CloudSync(
            store=ch.store,
            clock=ch.clock,
            base_url=settings.cloud_url,
            token=settings.cloudflare_token,
            secret=settings.cloudflare_secret,
            breaker=breaker,
            metrics=ch.metrics,
            wake=cloud_wake,
        )

    def pipeline() -> Supervisor:
        return Supervisor(
            "pipeline",
            [
                ChildSpec("buffer", lambda: Buffer(ch)),
                ChildSpec("committer", lambda: Committer(ch)),
                ChildSpec("discovery", lambda: Discovery(ch)),
                # --once: the scheduler ends the run itself; it must not be restarted for it.
                ChildSpec(
                    "scheduler",
                    lambda: Scheduler(ch),
                    restart=Restart.TRANSIENT if ch.run_once else Restart.PERMANENT,
                ),
            ],
            strategy=Strategy.REST_FOR_ONE,
            max_restarts=5,
            within_seconds=60.0,
        )

    def edge() -> Supervisor:
        children = [ChildSpec("edge_publisher", lambda: EdgePublisher(ch, edge_health))]
        if settings.edge_agent:
            children.append(ChildSpec("edge_agent", lambda: EdgeAgent(ch)))
        return Supervisor(
            "edge", children, strategy=Strategy.ONE_FOR_ONE, max_restarts=10, within_seconds=60.0
        )

    # The edge needs the channel's credential there; without one (dev) there is no edge.
    with_edge = bool(
        settings.cloud_url and settings.cloudflare_token and settings.cloudflare_secret
    )
    return Supervisor(
        "root",
        [
            ChildSpec("api", lambda: Api(ch)),
            ChildSpec("pipeline", pipeline),
            ChildSpec("outputs", lambda: outputs_supervisor(ch)),
            ChildSpec("alerter", alerter),
            ChildSpec("cloudsync", cloudsync),
            *([ChildSpec("edge", edge)] if with_edge else []),
        ],
        strategy=Strategy.ONE_FOR_ONE,
        max_restarts=10,
        within_seconds=60.0,
    )
