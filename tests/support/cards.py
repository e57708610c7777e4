"""OwnerCards for tests: the sample card (``config/owner_card.sample.yaml``) with overrides.

A test says only what it changes::

    write_card(path, search_policy={"allowlist_domains": ["127.0.0.1"]},
               schedule_policy={"timezone": "UTC"},
               sources=[folder_source("library", library)])

A section given as a mapping is merged into the sample's section, key by key; any other
value (``sources``, a list, a scalar) replaces the sample's. ``sources`` is empty unless
given: the sample's ``demo`` folder would render clips into the repository.

The text is plain block YAML (``key: value`` on its own line), so a test may still edit a
written card with ``text.replace("buffer_target_minutes: 60", ...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vvtv.ownercard.card import OwnerCard
from vvtv.ownercard.load import parse_owner_card

SAMPLE_PATH = Path(__file__).resolve().parents[2] / "config" / "owner_card.sample.yaml"


def sample_card_data() -> dict[str, Any]:
    """The sample card as plain data (a fresh copy each call)."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE_PATH.read_text())
    return data


def card_data(**overrides: Any) -> dict[str, Any]:
    """The sample card's data with ``overrides`` applied (see the module docstring)."""
    data = sample_card_data()
    data["sources"] = []
    for section, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **value}
        else:
            data[section] = value
    return data


def card_yaml(**overrides: Any) -> str:
    """The sample card with ``overrides``, as YAML text."""
    return yaml.safe_dump(card_data(**overrides), sort_keys=False, default_flow_style=False)


def write_card(path: Path, **overrides: Any) -> Path:
    """Write the sample card with ``overrides`` to ``path``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card_yaml(**overrides))
    return path


def make_card(**overrides: Any) -> OwnerCard:
    """The sample card with ``overrides``, loaded and checked as the daemon would."""
    return parse_owner_card(card_yaml(**overrides), source="tests.support.cards").card


def loopback_hosts(**extra: Any) -> dict[str, Any]:
    """A ``search_policy`` override for tests whose feed and media hosts are loopback servers.

    The sample card allows neither loopback names nor loopback addresses (a content host
    is never on this machine): a test standing in for the internet says so explicitly.
    """
    return {
        "allowlist_domains": ["127.0.0.1", "localhost"],
        "allow_private_addresses": ["127.0.0.0/8"],
        **extra,
    }


def folder_source(name: str, location: str | Path, **extra: Any) -> dict[str, Any]:
    """A ``folder`` source entry."""
    return {"name": name, "kind": "folder", "location": str(location), **extra}


def feed_source(name: str, url: str, kind: str = "rss") -> dict[str, Any]:
    """A feed source entry (``rss`` or ``jsonfeed``)."""
    return {"name": name, "kind": kind, "location": url}
