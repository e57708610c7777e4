"""The push outputs on the HTTP face: ``/v1/outputs`` reads their state; a signed call
switches one on, off, or back to the card. Bad input is refused before the channel acts."""

from __future__ import annotations

import pytest

from tests.web.conftest import Served, StubChannel

SWITCH = "/v1/control/outputs/youtube"


@pytest.fixture
def outputs(channel: StubChannel) -> StubChannel:
    channel.output_states["youtube"] = {
        "name": "youtube",
        "url": "rtmps://a.rtmps.youtube.com:443/live2",
        "enabled": True,
        "override": None,
        "status": "connected",
    }
    return channel


async def test_the_outputs_are_listed(served: Served, outputs: StubChannel) -> None:
    body = (await served.client.get("/v1/outputs")).json()
    assert body == {"count": 1, "outputs": [outputs.output_states["youtube"]]}
    assert (await served.client.post("/v1/outputs")).status_code == 405


async def test_a_signed_call_switches_an_output_and_is_audited(
    served: Served, outputs: StubChannel
) -> None:
    off = await served.control(SWITCH, b'{"enabled": false}')
    assert off.status_code == 200
    assert (off.json()["enabled"], off.json()["override"], off.json()["status"]) == (
        False,
        False,
        "disabled",
    )
    who, action, details = outputs.audits[-1]
    assert action == "output" and who.startswith("token:")
    assert details == {"output": "youtube", "requested": False, "status": "disabled"}
    back = await served.control(SWITCH, b'{"enabled": null}')
    assert back.json()["override"] is None


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (SWITCH, b"", 400, "request body must be JSON"),
        (SWITCH, b"{}", 422, 'body must be a JSON object like {"enabled": true}'),
        (SWITCH, b'{"enabled": "yes"}', 422, "enabled must be true, false or null"),
        (SWITCH, b'{"enabled": true, "url": "rtmp://evil/app"}', 422, "unknown field(s): url"),
        (SWITCH, b"[true]", 422, 'body must be a JSON object like {"enabled": true}'),
        (SWITCH, b'{"enabled": tru', 400, "malformed JSON body"),
        ("/v1/control/outputs/twitch", b'{"enabled": true}', 404, "no output named 'twitch'"),
        ("/v1/control/outputs/Bad_Name", b'{"enabled": true}', 404, "no such output"),
        ("/v1/control/outputs/" + "x" * 40, b'{"enabled": true}', 404, "no such output"),
    ],
)
async def test_bad_switch_calls_are_refused_and_change_nothing(
    served: Served, outputs: StubChannel, path: str, body: bytes, status: int, error: str
) -> None:
    r = await served.control(path, body)
    assert r.status_code == status
    assert error in r.json()["error"]
    assert outputs.output_states["youtube"]["override"] is None
    assert outputs.audits == []


async def test_an_unsigned_switch_is_refused_before_the_name_is_looked_at(
    served: Served, outputs: StubChannel
) -> None:
    for path in (SWITCH, "/v1/control/outputs/unknown"):
        r = await served.client.post(path, content=b'{"enabled": false}')
        assert r.status_code == 401  # not 404: no probing of output names without the key
    assert outputs.output_states["youtube"]["override"] is None
