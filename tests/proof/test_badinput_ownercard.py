"""OwnerCard files, mutated at random and made hostile: each is loaded or refused, never a crash.

``tests/ownercard`` already proves that any *mapping* gives a card or field-path errors. Here
the input is the file's *text*: random edits of the sample card (cut, duplicated and
swapped lines, inserted YAML punctuation, truncation) and known hostile YAML (nesting
thousands deep, alias bombs, Python tags, 5,000-digit integers, unhashable keys). The
same hostile files go through ``vvtv owner-card validate``: an exit code and a message,
never a traceback. (A running channel handed these keeps its card: test_badinput_api.)
The default run edits the card for a few seconds (``tests/support/fuzz.py``); ``-m slow``
twenty thousand ways.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz import budget, deep
from vvtv.ownercard.load import OwnerCardError, parse_owner_card

REPO = Path(__file__).resolve().parents[2]
SAMPLE = (REPO / "config" / "owner_card.sample.yaml").read_text()
LINES = SAMPLE.splitlines(keepends=True)
VVTV = Path(sys.executable).parent / "vvtv"

LAUGHS = "".join(
    f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9 if n else ["lol"] * 9) + "]\n" for n in range(9)
)
HOSTILE = {
    "nested_lists": "search_policy:\n  allowlist_domains: " + "[" * 20000 + "]" * 20000 + "\n",
    "nested_maps": "a: " + "{b: " * 5000 + "1" + "}" * 5000 + "\n",
    "alias_bomb": LAUGHS + "search_policy:\n  blocked_keywords: *l8\n",
    "python_tag": "a: !!python/object/apply:os.system ['echo pwned']\n",
    "huge_integer": "schedule_policy:\n  buffer_target_minutes: 1" + "0" * 5000 + "\n",
    "unhashable_key": "? [a, b]\n: 1\n",
    "nan": "schedule_policy:\n  buffer_target_minutes: .nan\n",
    "infinity": "quality_policy:\n  target_audio_lufs: .inf\n",
    "merge_key": "a: &a {x: 1}\nschedule_policy:\n  <<: *a\n",
    "binary": "search_policy: !!binary aGVsbG8=\n",
    "a_date": "schedule_policy:\n  nightly_local_time: 2020-01-01\n",
    "tabs": "search_policy:\n\tallowlist_domains: [a]\n",
    "a_list": "- a\n- b\n",
    "a_scalar": "just text\n",
    "huge_line": "search_policy:\n  blocked_keywords: [" + "x" * 1_000_000 + "]\n",
    "control_chars": "search_policy:\n  blocked_keywords: ['\x00\x07\x1b']\n",
    "empty": "",
}

YAML_BITS = st.sampled_from(
    [":", "-", "[", "]", "{", "}", "&a", "*a", "!!str", "|", ">", "'", '"', "#", "?", "\t", "~",
     "\n", "  ", "null", "true", "1e309", "-1", "0x1F", "99999999999999999999"]
)  # fmt: skip


def check(text: str) -> None:
    """The rule: a card, or ``OwnerCardError`` with messages; anything else is a crash."""
    try:
        parse_owner_card(text)
    except OwnerCardError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)


@st.composite
def mutated_cards(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "swap", "insert", "replace_value", "indent"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            bit = draw(st.one_of(YAML_BITS, st.text(max_size=8)))
            lines[i] = lines[i][:at] + bit + lines[i][at:]
        elif op == "replace_value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            value = draw(st.one_of(YAML_BITS, st.text(max_size=12)))
            lines[i] = f"{key}: {value}\n"
        elif op == "indent":
            lines[i] = " " * draw(st.integers(0, 5)) + lines[i].lstrip(" ")
        if not lines:
            break
    text = "".join(lines)
    return text[: draw(st.integers(0, len(text)))] if draw(st.booleans()) else text


@budget()
@given(mutated_cards())
def test_a_randomly_edited_card_is_loaded_or_refused_never_a_crash(text: str) -> None:
    check(text)


@deep(20_000)
@given(mutated_cards())
def test_many_randomly_edited_cards_are_loaded_or_refused(text: str) -> None:
    check(text)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_is_refused_with_a_message(name: str) -> None:
    with pytest.raises(OwnerCardError) as refused:
        parse_owner_card(HOSTILE[name])
    assert refused.value.errors


def test_the_validate_command_answers_every_hostile_file_without_a_traceback(
    tmp_path: Path,
) -> None:
    cards = []
    for name, text in HOSTILE.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        cards.append(path)
    (tmp_path / "latin1.yaml").write_bytes(
        "search_policy: {blocked_keywords: [é]}".encode("latin-1")
    )
    cards.append(tmp_path / "latin1.yaml")
    cards.append(tmp_path / "missing.yaml")
    for card in cards:
        done = subprocess.run(
            [str(VVTV), "owner-card", "validate", str(card)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "VVTV_LOG_LEVEL": "WARNING"},
            timeout=60,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 1, f"{card.name}: exit {done.returncode}\n{output[-2000:]}"
        assert "Traceback" not in output, f"{card.name}:\n{output[-2000:]}"
        assert output.strip(), f"{card.name}: refused without a word"
