"""/openapi.json describes exactly the app's routes; ChannelMetrics stays private and complete."""

from __future__ import annotations

import pytest
import trio

from tests.web.conftest import Served, StubChannel
from vvtv.core.signing import Verifier
from vvtv.observe.metrics import ChannelMetrics, measure_loop_lag
from vvtv.web import create_app

ORIGINAL_GAUGES = (
    "vvtv_buffer_minutes",
    "vvtv_plans_created",
    "vvtv_plans_committed",
    "vvtv_qa_pass_rate",
    "vvtv_fallback_rate",
    "vvtv_curator_actions",
    "vvtv_stream_disruptions",
)


def _app_paths(channel: StubChannel) -> set[tuple[str, str]]:
    app = create_app(channel, verifier=Verifier("t", "s"))
    found = {(path, "get") for path in app.extensions["vvtv.reads"].paths}
    found.add((app.extensions["vvtv.tuner"].path, "get"))
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        if rule.websocket:
            for topic in ("buffer", "alerts", "runtime"):
                found.add((path.replace("{topic}", topic), "get"))
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


async def test_openapi_documents_every_route_and_nothing_else(
    served: Served, channel: StubChannel
) -> None:
    spec = (await served.client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == _app_paths(channel)
    for item in spec["paths"].values():
        for op in item.values():
            assert op["responses"], op["summary"]
    control = spec["paths"]["/v1/control/curator-mode"]["post"]
    assert set(control["responses"]) == {
        *("200", "400", "401", "413", "422"),
        *("408", "421", "431", "503"),  # the HTTP face's guards, before the route
    }
    assert "same message" in control["responses"]["401"]["description"]
    status = spec["paths"]["/v1/status"]["get"]["responses"]
    assert {"421", "431", "503"} <= set(status) and "408" not in status
    ws = spec["paths"]["/v1/ws/buffer"]["get"]
    assert "403" in ws["responses"] and "1013" in ws["description"]
    assert control["requestBody"]["content"]["application/json"]["schema"]["required"] == ["mode"]


def test_original_gauges_keep_their_names() -> None:
    text = ChannelMetrics().render().decode()
    for name in ORIGINAL_GAUGES:
        assert f"# TYPE {name} gauge" in text


def test_each_channel_has_its_own_registry() -> None:
    a, b = ChannelMetrics(), ChannelMetrics()
    a.buffer_minutes.set(12.5)
    b.buffer_minutes.set(60)
    assert "vvtv_buffer_minutes 12.5" in a.render().decode()
    assert "vvtv_buffer_minutes 60.0" in b.render().decode()


def test_process_metrics_are_exported_for_the_soak_tool() -> None:
    assert "process_resident_memory_bytes" in ChannelMetrics().render().decode()


def test_counters_and_histograms_have_proper_types() -> None:
    m = ChannelMetrics(process_metrics=False)
    m.windows.labels("discovery", "ok").inc()
    m.fetches.labels("ok").inc()
    m.prepares.labels("ok").inc()
    m.prepare_seconds.labels("ok").observe(12.0)
    m.qa_outcomes.labels("passed").inc()
    m.fallback_levels.labels("1").inc()
    m.emergency_seconds.inc(30)
    m.curator_decisions.labels("suggested").inc()
    m.alerts_notified.labels("BUFFER_CRITICAL", "alert").inc()
    m.cloud_circuit.state("open")
    text = m.render().decode()
    for line in (
        "# TYPE vvtv_windows_total counter",
        'vvtv_windows_total{outcome="ok",window="discovery"} 1.0',
        "# TYPE vvtv_prepare_duration_seconds histogram",
        "vvtv_emergency_seconds_total 30.0",
        'vvtv_cloud_circuit{vvtv_cloud_circuit="open"} 1.0',
        "# TYPE vvtv_event_loop_lag_seconds histogram",
        "# TYPE vvtv_websocket_clients gauge",
    ):
        assert line in text


async def test_loop_lag_is_measured_periodically(autojump_clock: trio.testing.MockClock) -> None:
    m = ChannelMetrics(process_metrics=False)
    with trio.move_on_after(10.2):
        await measure_loop_lag(m, interval=0.5)
    text = m.render().decode()
    assert "vvtv_event_loop_lag_seconds_count 20.0" in text
    assert "vvtv_event_loop_lag_seconds_sum 0.0" in text  # simulated time: no lag


async def test_loop_lag_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        await measure_loop_lag(ChannelMetrics(process_metrics=False), interval=0)


def test_create_app_refuses_a_silly_body_limit(channel: StubChannel) -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(channel, verifier=Verifier("t", "s"), max_body_bytes=0)
