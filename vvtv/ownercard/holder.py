"""The OwnerCard in force (SPEC §2): boot, reload, and the diff of every applied version.

``OwnerCardHolder`` keeps the card in force: a reload validates first (``vvtv.ownercard.load``),
keeps the previous card on any error, and records every applied version (text, SHA-256,
time) with its diff (``diff_cards``) in the store's audit trail. At boot an invalid file falls
back to the last applied version, so a bad edit cannot stop the channel.

The warnings of the card put in force (unknown keys, settings vvtv does not implement, ...)
are logged at boot and at every reload, whatever asked for it (API, SIGHUP, file change).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import attrs

from vvtv.core.audit import AuditType
from vvtv.core.convert import to_jsonable
from vvtv.core.model import AuditEvent, new_id
from vvtv.ownercard.card import OwnerCard
from vvtv.ownercard.load import LoadedCard, OwnerCardError, load_owner_card_file, parse_owner_card

log = logging.getLogger(__name__)


def log_warnings(loaded: LoadedCard) -> None:
    """Log each warning of a card being put in force, naming the card."""
    for warning in loaded.warnings:
        log.warning("OwnerCard %s: %s", loaded.source, warning)


def _diff(old: Any, new: Any, path: str, out: dict[str, tuple[Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            _diff(old.get(key), new.get(key), f"{path}.{key}" if path else key, out)
    elif (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and all(isinstance(v, dict) for v in old + new)
    ):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        out[path] = (old, new)


def diff_cards(old: OwnerCard, new: OwnerCard) -> dict[str, tuple[Any, Any]]:
    """Changed fields as ``{dotted.path: (old, new)}`` with JSON-native values, for the audit.

    Lists of scalars compare whole; lists of sources of the same length compare per
    field (``sources[0].location``); otherwise the whole list is shown on both sides.
    """
    out: dict[str, tuple[Any, Any]] = {}
    _diff(to_jsonable(old), to_jsonable(new), "", out)
    return dict(sorted(out.items()))


class CardStore(Protocol):
    """What the holder needs from ``vvtv.store.Store``."""

    def record_card_version(
        self,
        sha256: str,
        text: str,
        applied_at: datetime,
        *,
        applied_by: str = "",
        diff: dict[str, Any] | None = None,
    ) -> Any: ...

    def latest_card_version(self) -> Any: ...

    def append_audit(self, event: AuditEvent) -> None: ...


@attrs.frozen
class ReloadResult:
    """The outcome of a reload; unpacks as ``ok, errors, diff``."""

    ok: bool
    errors: list[str]
    diff: dict[str, tuple[Any, Any]]
    warnings: list[str] = attrs.field(factory=list)
    sha256: str = ""

    def __iter__(self) -> Iterator[Any]:
        return iter((self.ok, self.errors, self.diff))


class OwnerCardHolder:
    """The OwnerCard in force; a reload that fails validation leaves it untouched."""

    def __init__(self, loaded: LoadedCard, store: CardStore | None = None) -> None:
        self._loaded = loaded
        self._store = store

    @property
    def card(self) -> OwnerCard:
        return self._loaded.card

    @property
    def loaded(self) -> LoadedCard:
        return self._loaded

    @classmethod
    def boot(
        cls, path: str | Path, store: CardStore | None, now: datetime, *, who: str = "startup"
    ) -> tuple[OwnerCardHolder, list[str]]:
        """The card to start with, and the errors of the file if it was refused.

        A valid file is applied (and recorded when it differs from the last applied
        version). An invalid file falls back to the last applied version in the store,
        so a bad edit cannot stop the channel; with no stored version it raises
        ``OwnerCardError``.
        """
        try:
            loaded = load_owner_card_file(path)
        except OwnerCardError as exc:
            previous = store.latest_card_version() if store else None
            if previous is None:
                raise
            holder = cls(
                parse_owner_card(previous.text, source=f"stored version {previous.id}"), store
            )
            holder._audit_rejection(path, exc.errors, now, who)
            log_warnings(holder.loaded)
            return holder, exc.errors
        holder = cls(loaded, store)
        log_warnings(loaded)
        if store is not None:
            previous = store.latest_card_version()
            if previous is None or previous.sha256 != loaded.sha256:
                diff = {}
                if previous is not None:
                    try:
                        diff = diff_cards(parse_owner_card(previous.text).card, loaded.card)
                    except OwnerCardError:
                        diff = {}
                store.record_card_version(
                    loaded.sha256, loaded.text, now, applied_by=who, diff=_jsonable_diff(diff)
                )
        return holder, []

    def reload(self, path: str | Path, *, now: datetime, who: str = "operator") -> ReloadResult:
        """Validate the file and apply it; on any error keep the current card."""
        try:
            loaded = load_owner_card_file(path)
        except OwnerCardError as exc:
            self._audit_rejection(path, exc.errors, now, who)
            return ReloadResult(False, exc.errors, {}, exc.warnings)
        diff = diff_cards(self._loaded.card, loaded.card)
        if loaded.sha256 != self._loaded.sha256 and self._store is not None:
            self._store.record_card_version(
                loaded.sha256, loaded.text, now, applied_by=who, diff=_jsonable_diff(diff)
            )
        self._loaded = loaded
        log_warnings(loaded)
        return ReloadResult(True, [], diff, loaded.warnings, loaded.sha256)

    def _audit_rejection(
        self, path: str | Path, errors: list[str], now: datetime, who: str
    ) -> None:
        if self._store is None:
            return
        self._store.append_audit(
            AuditEvent(
                event_id=new_id("audit"),
                at=now,
                event_type=AuditType.OWNER_CARD_REJECTED,
                reason_code="OWNER_CARD_INVALID",
                actor=who,
                details={"path": str(path), "errors": errors},
            )
        )


def _jsonable_diff(diff: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    return {path: {"old": old, "new": new} for path, (old, new) in diff.items()}
