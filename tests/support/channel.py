"""A throwaway channel on disk: runtime directory, OwnerCard, slate, settings.

``channel_settings(root, slate)`` lays out ``root/runtime`` (with the session's slate copied
into ``hls/slate``, so boot does not spend ~6 s rendering one), writes ``root/owner_card.yaml``
from the sample card with ``card`` overrides if it is not there yet (a test that edited the
card keeps its edit when it asks again), creates ``root/library`` for folder sources, and
returns the ``Settings`` a daemon reads, its API on an ephemeral loopback port.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.cards import write_card
from vvtv.core.settings import Settings


def channel_settings(
    root: Path, slate: Path, *, card: Mapping[str, Any] | None = None, **env: str
) -> Settings:
    """Settings for a channel rooted at ``root``; ``env`` adds or replaces ``VVTV_*`` values."""
    runtime = root / "runtime"
    (root / "library").mkdir(parents=True, exist_ok=True)
    card_path = root / "owner_card.yaml"
    if not card_path.exists():
        write_card(card_path, **(card or {}))
    hls = runtime / "hls"
    hls.mkdir(parents=True, exist_ok=True)
    if not (hls / "slate").exists():
        shutil.copytree(slate, hls / "slate")
    return Settings.from_env(
        {
            "VVTV_RUNTIME_DIR": str(runtime),
            "VVTV_OWNER_CARD_PATH": str(card_path),
            "VVTV_API_BIND": "127.0.0.1:0",
            **env,
        }
    )
