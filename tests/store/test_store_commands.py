"""Relayed commands are claimed before they are applied: at most once, across restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.store.state_builders import T0
from vvtv.store import Store, open_store
from vvtv.store.commands import APPLIED, APPLYING, CLAIMED, EXPIRED, SEEN

DEADLINE = T0 + timedelta(minutes=5)


def test_the_first_claim_wins_and_every_later_one_gets_the_record(store: Store) -> None:
    outcome, record = store.claim_command("cmd_1", "emergency-mode", T0, DEADLINE)
    assert outcome == CLAIMED and record.state == APPLYING and record.status is None
    later = T0 + timedelta(seconds=1)
    again, seen = store.claim_command("cmd_1", "emergency-mode", later, DEADLINE)
    assert again == SEEN and seen.state == APPLYING and seen.received_at == T0


def test_a_result_is_recorded_once_and_handed_back_on_a_later_claim(store: Store) -> None:
    store.claim_command("cmd_1", "curator-mode", T0, DEADLINE)
    store.finish_command("cmd_1", 200, {"mode": "advise"}, T0 + timedelta(seconds=1))
    # A second finish (a bug, a race) cannot overwrite what was applied.
    store.finish_command("cmd_1", 500, {"error": "late"}, T0 + timedelta(seconds=2))
    outcome, record = store.claim_command("cmd_1", "curator-mode", T0, DEADLINE)
    assert outcome == SEEN
    assert (record.state, record.status, record.result) == (APPLIED, 200, {"mode": "advise"})
    assert record.reported_at is None
    store.mark_command_reported("cmd_1", T0 + timedelta(seconds=3))
    store.mark_command_reported("cmd_1", T0 + timedelta(seconds=9))
    reported = store.get_command("cmd_1")
    assert reported is not None and reported.reported_at == T0 + timedelta(seconds=3)


def test_a_command_past_its_deadline_is_recorded_expired_and_never_claimed(store: Store) -> None:
    late = DEADLINE + timedelta(seconds=1)
    outcome, record = store.claim_command("cmd_old", "nightly", late, DEADLINE)
    assert outcome == EXPIRED and record.state == EXPIRED
    # Even handed out again with a fresh deadline, it stays what it was.
    outcome, record = store.claim_command("cmd_old", "nightly", T0, DEADLINE + timedelta(hours=1))
    assert outcome == SEEN and record.state == EXPIRED


def test_claims_survive_a_reopen_of_the_database(tmp_path: Path) -> None:
    """What a SIGKILL between apply and ack leaves: the claim, without a result."""
    path = tmp_path / "vvtv.db"
    first = open_store(path)
    first.claim_command("cmd_1", "emergency-mode", T0, DEADLINE)
    first.close()
    second = open_store(path)
    outcome, record = second.claim_command("cmd_1", "emergency-mode", T0, DEADLINE)
    assert outcome == SEEN and record.state == APPLYING and record.result is None
    second.close()


def test_old_commands_are_pruned_and_listed_newest_first(store: Store) -> None:
    for k in range(3):
        at = T0 + timedelta(days=k)
        store.claim_command(f"cmd_{k}", "emergency-mode", at, at + timedelta(minutes=5))
    assert [c.id for c in store.recent_commands()] == ["cmd_2", "cmd_1", "cmd_0"]
    assert store.prune_commands(T0 + timedelta(days=1)) == 1
    assert [c.id for c in store.recent_commands()] == ["cmd_2", "cmd_1"]
