"""Alerts reach the edge once each: the Alerter and CloudSync against the real Worker.

The Alerter enqueues each notification on the cloud outbox in the transaction that records
it; CloudSync's pump delivers it to ``/v1/ingest/alerts`` with an id, so a re-delivery (a
crash between the edge's 200 and our commit) is recorded once.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import trio

from actors.alerter import Alerter
from actors.cloudsync import CloudSync
from supervisors import ChildSpec, Runtime, Supervisor
from tests.support.edge import EdgeWorker
from tests.support.waiting import wait_until
from vvtv.core.clock import TrioClock
from vvtv.core.messages import EvaluateAlerts
from vvtv.core.signing import new_nonce
from vvtv.notify.alerts import AlertInputs
from vvtv.notify.cloud import ALERTS_PATH, CLOUD_TOPIC
from vvtv.notify.delivery import PumpSignal
from vvtv.store import open_store


async def test_alerts_and_their_clearing_are_recorded_at_the_edge_once_each(
    tmp_path: Path, edge_worker: EdgeWorker
) -> None:
    clock = TrioClock()  # real time: the edge checks timestamps against its own clock
    store = open_store(tmp_path / "vvtv.db", clock=clock)
    cred = edge_worker.credential()
    wake = PumpSignal()
    emergency = [True]

    def alerter() -> Alerter:
        return Alerter(
            store=store,
            clock=clock,
            inputs=lambda now: AlertInputs(emergency_active=emergency[0]),
            cloud_wake=wake,
        )

    def cloudsync() -> CloudSync:
        return CloudSync(
            store=store,
            clock=clock,
            base_url=edge_worker.url,
            token=cred.token,
            secret=cred.secret,
            wake=wake,
        )

    runtime = Runtime(
        Supervisor("root", [ChildSpec("alerter", alerter), ChildSpec("cloudsync", cloudsync)])
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run)
        await runtime.ref("alerter").call(EvaluateAlerts())  # EMERGENCY_ACTIVE fires
        emergency[0] = False
        await runtime.ref("alerter").call(EvaluateAlerts())  # ... and clears
        await wait_until(
            "the alerts delivered",
            lambda: store.pending_count(CLOUD_TOPIC) == 0,
            within=60,
            show=lambda: store.pending_count(CLOUD_TOPIC),
        )
        runtime.shutdown()

    async with httpx.AsyncClient(base_url=edge_worker.url) as client:
        # A second delivery of the same document (at least once): the edge records it once.
        item = store.get_outbox_item(1)  # the first notification, as the pump sent it
        assert item is not None and item.status == "delivered"
        first = item.payload
        assert first["path"] == ALERTS_PATH and first["body"]["id"].startswith("alert-")
        body = json.dumps(first["body"]).encode()
        again = await client.post(
            ALERTS_PATH,
            content=body,
            headers=edge_worker.headers("POST", ALERTS_PATH, body, nonce=new_nonce()),
        )
        assert again.json() == {"ok": True, "duplicate": True}

        path = "/v1/control/audit"
        audit = await client.get(path, headers=edge_worker.headers("GET", path, role="control"))
        events = [(e["action"], e["details"]["code"]) for e in audit.json()["events"]]
        assert sorted(events) == [
            ("alert", "EMERGENCY_ACTIVE"),
            ("alert_clear", "EMERGENCY_ACTIVE"),
        ]
        path = "/v1/control/alerts"
        active = await client.get(path, headers=edge_worker.headers("GET", path, role="control"))
        assert active.json()["count"] == 0
