"""The command agent against a scripted edge: what it applies, refuses, and never applies twice.

A real channel (in simulated time) whose cloud is a loopback server playing the edge's side
of ``GET /v1/agent/commands`` and ``POST /v1/agent/commands/<id>/result``: hostile and
broken answers next to good ones. The real Worker's round trip is tests/cloud.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import trio
import trio.testing

from tests.daemon.harness import make_settings, running_channel
from tests.support.loopback import Loopback, Reply, json_reply
from vvtv.core.clock import utc
from vvtv.edge.commands import read_commands, result_document

EPOCH = utc(2026, 3, 2, 12)
POLL = "/v1/agent/commands"


def command(ident: str, kind: str = "emergency-mode", body: str = "", **over: Any) -> dict:
    return {
        "id": ident,
        "kind": kind,
        "method": "POST",
        "path": f"/v1/control/{kind}",
        "body": body,
        "created_at": "2026-03-02T12:00:00Z",
        "expires_at": "2026-03-02T12:05:00Z",
        "expires_in_s": 290.0,
        "deliveries": 1,
        **over,
    }


def cid(n: int) -> str:
    return f"cmd_{n:032x}"


def polls(*answers: list[dict]) -> list[Reply]:
    """The edge's answers to successive polls; then a long poll that finds nothing."""
    replies = [json_reply(value={"channel": "main", "commands": a}) for a in answers]
    return [*replies, json_reply(value={"channel": "main", "commands": []}, delay=20.0)]


def settings_for(tmp_path: Path, slate: Path, edge: Loopback):
    return make_settings(
        tmp_path,
        slate,
        VVTV_CLOUDFLARE_BASE_URL=edge.url,
        VVTV_CLOUDFLARE_TOKEN="channel-token",
        VVTV_CLOUDFLARE_SECRET="channel-secret",
        VVTV_EDGE_HLS="0",
    )


def edge_calls(daemon: Any) -> list[Any]:
    return [
        e
        for e in daemon.ch.store.query_audit(event_type="control_call", limit=None)
        if str(e.details.get("who", "")).startswith("edge:")
    ]


def results(edge: Loopback) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in edge.requests:
        if r.method == "POST" and r.path.endswith("/result"):
            out.setdefault(r.path.split("/")[-2], []).append(r.json())
    return out


async def test_a_command_handed_out_again_and_again_is_applied_once(
    tmp_path: Path, slate_template: Path, loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    """The toggle shows it: applied twice, emergency would be back where it started."""
    toggle = command(cid(1))  # an empty body toggles
    loopback.serve(POLL, polls([toggle], [toggle], [toggle, toggle]))
    # The first result is lost on the way (the edge hands the command out again).
    loopback.serve(f"{POLL}/{cid(1)}/result", [json_reply(503), json_reply()])
    async with running_channel(
        settings_for(tmp_path, slate_template, loopback), epoch=EPOCH
    ) as daemon:
        # Nothing to air at boot: the slate, in emergency. One toggle forces it off.
        assert daemon.ch.topics["buffer"].latest["state"] == "EMERGENCY"
        await trio.sleep(60)
        status = daemon.ch.topics["buffer"].latest
        assert (status["state"], status["emergency_override"]) == ("RUNNING", False)
        assert len(edge_calls(daemon)) == 1
        record = daemon.ch.store.get_command(cid(1))
        assert record is not None and record.state == "applied" and record.reported_at is not None
    posted = results(loopback)[cid(1)]
    assert len(posted) >= 2 and all(p == posted[0] for p in posted)  # the same result each time
    assert posted[0]["status"] == 200 and posted[0]["body"]["emergency_override"] is False


async def test_what_the_channel_cannot_read_is_refused_alone_and_answered(
    tmp_path: Path, slate_template: Path, loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    hostile = [
        command("cmd_../../etc/passwd"),  # no usable id: audited, never answered
        command(cid(2), kind="shutdown"),  # not a control call of this channel
        command(cid(3), path="/v1/control/curator-mode"),  # path of another call
        command(cid(4), method="DELETE"),
        command(cid(5), body={"enabled": True}),  # the body must be the request's text
        command(cid(6), expires_in_s=float("inf")),
        command(cid(7), kind="curator-mode", body="{not json"),  # applied: the channel says 400
        command(cid(8), kind="curator-mode", body='{"mode": "advise"}'),
        "not even an object",
    ]
    loopback.serve(POLL, polls(hostile))
    async with running_channel(
        settings_for(tmp_path, slate_template, loopback), epoch=EPOCH
    ) as daemon:
        await trio.sleep(30)
        assert daemon.ch.topics["buffer"].latest["curator_mode"] == "advise"
        assert [c.details["action"] for c in edge_calls(daemon)] == ["curator-mode"]
        refused = daemon.ch.store.query_audit(reason_code="EDGE_COMMAND_INVALID", limit=None)
        assert len(refused) == 7
    posted = results(loopback)
    assert set(posted) == {cid(n) for n in range(2, 9)}
    for n in range(2, 7):
        assert posted[cid(n)] == [posted[cid(n)][0]] and posted[cid(n)][0]["status"] == 422
    assert posted[cid(7)][0]["status"] == 400  # as the local route answers a malformed body
    assert posted[cid(8)][0] == {"status": 200, "body": posted[cid(8)][0]["body"]}


async def test_a_command_past_its_deadline_is_never_applied(
    tmp_path: Path, slate_template: Path, loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    late = command(cid(9), body='{"enabled": true}', expires_in_s=0)
    loopback.serve(POLL, polls([late], [late]))
    async with running_channel(
        settings_for(tmp_path, slate_template, loopback), epoch=EPOCH
    ) as daemon:
        await trio.sleep(30)
        assert edge_calls(daemon) == []
        record = daemon.ch.store.get_command(cid(9))
        assert record is not None and record.state == "expired"
        expired = daemon.ch.store.query_audit(reason_code="EDGE_COMMAND_EXPIRED", limit=None)
        assert len(expired) == 1
    assert cid(9) not in results(loopback)  # the edge marks it expired by itself


async def test_an_edge_that_answers_nonsense_or_nothing_is_retried_with_backoff(
    tmp_path: Path, slate_template: Path, loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    loopback.serve(
        POLL,
        [
            json_reply(503),
            Reply(200, b"<html>captive portal</html>", "text/html"),
            json_reply(value={"commands": "all of them"}),
            json_reply(value={"commands": [command(cid(10), "curator-mode", '{"mode": "off"}')]}),
            json_reply(value={"channel": "main", "commands": []}, delay=20.0),
        ],
    )
    async with running_channel(
        settings_for(tmp_path, slate_template, loopback), epoch=EPOCH
    ) as daemon:
        await trio.sleep(60)
        assert daemon.ch.topics["buffer"].latest["curator_mode"] == "off"
        polled = [r.at for r in loopback.requests if r.path == POLL]
        # Backed off between the failures (1, 2, 4 s ...), not a hot loop.
        assert polled[1] - polled[0] >= 1.0 and polled[2] - polled[1] >= 2.0
        invalid = daemon.ch.store.query_audit(reason_code="EDGE_ANSWER_INVALID", limit=None)
        assert len(invalid) == 1


async def test_an_edge_that_keeps_answering_in_the_wrong_shape_is_polled_ever_more_slowly(
    tmp_path: Path, slate_template: Path, loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    """It answers at once, every time: without a backoff the agent would poll it (and write
    an audit row) about once a second, for as long as it stays broken."""
    loopback.serve(POLL, json_reply(value={"commands": "all of them"}))
    async with running_channel(
        settings_for(tmp_path, slate_template, loopback), epoch=EPOCH
    ) as daemon:
        await trio.sleep(600)
        polled = [r.at for r in loopback.requests if r.path == POLL]
        gaps = [b - a for a, b in itertools.pairwise(polled)]
        # 1, 2, 4, 8, 16 s then the policy's 30 s cap (±20 % jitter): about 25 polls in
        # ten minutes, not 600.
        assert 15 <= len(polled) <= 30, len(polled)
        assert all(gap >= 0.8 for gap in gaps) and max(gaps) >= 24.0
        invalid = daemon.ch.store.query_audit(reason_code="EDGE_ANSWER_INVALID", limit=None)
        assert len(invalid) == 1  # one per streak of bad answers


def test_reading_commands_keeps_the_good_ones_of_a_mixed_answer() -> None:
    kinds = ("emergency-mode", "curator-mode")
    good = command(cid(1))
    commands, refused = read_commands({"commands": [good, good, command(cid(2), kind="x")]}, kinds)
    assert [c.id for c in commands] == [cid(1)]
    assert commands[0].body == b"" and commands[0].deadline(EPOCH) > EPOCH
    assert [(r.id, "kind" in r.reason) for r in refused] == [(cid(2), True)]


def test_a_result_too_long_for_the_edge_is_posted_short() -> None:
    small = json.loads(result_document(200, {"ok": True}))
    assert small == {"status": 200, "body": {"ok": True}}
    big = json.loads(result_document(422, {"error": "bad card", "errors": ["x" * 100] * 1000}))
    assert big["status"] == 422 and big["body"]["truncated"] is True
    assert big["body"]["error"] == "bad card"


async def test_a_command_claimed_by_a_daemon_that_died_applying_it_is_never_applied_again(
    tmp_path: Path, slate_template: Path, loopback: Loopback, autojump_clock: trio.testing.MockClock
) -> None:
    """SIGKILL between claiming and recording the result leaves a claim alone: whether it
    took effect is unknown, so it is answered as such and never applied a second time."""
    toggle = command(cid(11))
    loopback.serve(
        POLL,
        [
            json_reply(value={"channel": "main", "commands": []}, delay=10.0),
            *polls([toggle]),
        ],
    )
    settings = settings_for(tmp_path, slate_template, loopback)
    async with running_channel(settings, epoch=EPOCH) as daemon:
        store = daemon.ch.store
        now = daemon.ch.clock.now()
        # What the previous daemon left: the claim, written before it began applying.
        store.claim_command(cid(11), "emergency-mode", now, now + timedelta(minutes=5))
        await trio.sleep(30)
        assert edge_calls(daemon) == []
        record = store.get_command(cid(11))
        assert record is not None and record.status == 500 and record.reported_at is not None
    [posted] = results(loopback)[cid(11)]
    assert posted["status"] == 500 and "unknown" in posted["body"]["error"]
