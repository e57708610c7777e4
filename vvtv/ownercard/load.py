"""Reading the OwnerCard (SPEC §2) from YAML into a typed ``vvtv.ownercard.card.OwnerCard``.

``load_owner_card`` returns a ``LoadedCard`` or raises ``OwnerCardError`` whose ``errors``
each name the field path and the problem:

    schedule_policy.buffer_critical_minutes must be lower than buffer_target_minutes
    (got 60 >= 60)

YAML syntax errors carry the line and column. The field checker (``_Checker``) builds the
card from the YAML with the types of ``card``; then the rules of ``vvtv.ownercard.rules``
(ranges, cross-field rules, warnings) run on the typed card. Every section and field has a
default, so the original card (no ``sources``/``channel``) loads unchanged; unknown keys are
reported as warnings with their dotted path (and a suggestion when they look like a typo),
never silently dropped.

Source locations: a relative folder location (``runtime/media/demo``) is relative
to the project root — the parent of ``VVTV_RUNTIME_DIR``, i.e. the repository
root by default (``Settings.project_root``); ``resolve_source_locations`` makes
them absolute. Feed locations are http(s) URLs.

``validate_file`` is ``vvtv owner-card validate``. The card in force, its reload and the
diff recorded with every applied version live in ``vvtv.ownercard.holder``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import attrs
import yaml

from vvtv.ownercard.card import OwnerCard
from vvtv.ownercard.rules import check_rules, rule_warnings


class OwnerCardError(ValueError):
    """An invalid OwnerCard; ``errors`` name each field path and problem."""

    def __init__(
        self, errors: list[str], warnings: list[str] | None = None, source: str = ""
    ) -> None:
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        self.source = source
        where = f" {source}" if source else ""
        super().__init__(f"invalid OwnerCard{where}:\n" + "\n".join(f"  - {e}" for e in errors))


@attrs.frozen
class LoadedCard:
    """A valid card with what was noticed while reading it and where it came from."""

    card: OwnerCard
    warnings: list[str]
    sha256: str
    text: str
    source: str = "<string>"


# --- reading --------------------------------------------------------------------------


def load_owner_card(text_or_path: str | Path) -> LoadedCard:
    """Load a card from YAML text (a ``str``) or from a file (a ``Path``).

    Raises ``OwnerCardError`` listing every problem found.
    """
    if isinstance(text_or_path, Path):
        return load_owner_card_file(text_or_path)
    return parse_owner_card(text_or_path)


def load_owner_card_file(path: str | Path) -> LoadedCard:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise OwnerCardError([f"{path}: file not found"], source=str(path)) from None
    except UnicodeDecodeError as exc:
        raise OwnerCardError([f"{path}: not UTF-8 text ({exc})"], source=str(path)) from None
    except OSError as exc:
        raise OwnerCardError([f"{path}: cannot read ({exc.strerror})"], source=str(path)) from None
    return parse_owner_card(text, source=str(path))


def parse_owner_card(text: str, *, source: str = "<string>") -> LoadedCard:
    """Parse and validate YAML text; ``source`` names it in messages."""
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # a safe loader
    except yaml.MarkedYAMLError as exc:
        raise OwnerCardError([_yaml_message(exc)], source=source) from None
    except yaml.YAMLError as exc:
        raise OwnerCardError([f"YAML error: {exc}"], source=source) from None
    except RecursionError:
        # PyYAML composes recursively: thousands of nested [ or { exhaust the stack.
        raise OwnerCardError(["YAML error: nested too deeply"], source=source) from None
    except (ValueError, TypeError) as exc:
        # A scalar PyYAML cannot convert (an integer of 5,000 digits) or a mapping key
        # Python cannot hash (``? [a, b]``): not a card, and not a crash.
        raise OwnerCardError([f"YAML error: unreadable value ({exc})"], source=source) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise OwnerCardError(
            [f"the card must be a YAML mapping of sections (got {_kind(raw)})"], source=source
        )
    checker = _Checker()
    card = checker.build(OwnerCard, raw, "")
    if not checker.errors:
        checker.errors += check_rules(card)
        checker.warnings += rule_warnings(card)
    if checker.errors:
        raise OwnerCardError(checker.errors, checker.warnings, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return LoadedCard(card=card, warnings=checker.warnings, sha256=digest, text=text, source=source)


# libyaml's parser when PyYAML was built with it (its wheels are): ~10x faster than the
# pure-Python one (0.5 against 5 ms for the sample card), which matters because a reload
# (API call, SIGHUP, file change) parses on the event loop. Same safe constructor.
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):
    """A safe loader that refuses duplicate keys (YAML would silently keep the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
    problem = exc.problem or "invalid YAML"
    context = f" ({exc.context})" if exc.context else ""
    return f"YAML syntax error at {where}: {problem}{context}"


# --- structural checking: types, unknown keys -------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    # The card's classes never change; resolving their string annotations is the
    # costliest part of building a card after parsing.
    return typing.get_type_hints(cls)


class _Checker:
    """Builds attrs values from raw YAML, collecting errors and warnings with field paths."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def build(self, cls: type, raw: Any, path: str) -> Any:
        label = path or "the card"
        if raw is None:
            raw = {}  # an empty section: all defaults
        if not isinstance(raw, Mapping):
            self.errors.append(f"{label} must be a mapping (got {_kind(raw)})")
            return _BAD
        hints = _type_hints(cls)
        fields = attrs.fields_dict(cls)
        for key in raw:
            if key not in fields:
                where = f"{path}.{key}" if path else str(key)
                hint = difflib.get_close_matches(str(key), list(fields), n=1)
                more = f" (did you mean {hint[0]}?)" if hint else ""
                self.warnings.append(f"{where}: unknown key, ignored{more}")
        values: dict[str, Any] = {}
        for name, field in fields.items():
            where = f"{path}.{name}" if path else name
            if name in raw:
                value = self.value(hints[name], raw[name], where)
                if value is not _BAD:
                    values[name] = value
            elif field.default is attrs.NOTHING:
                self.errors.append(f"{where} is required")
        try:
            return cls(**values)
        except TypeError:  # a required field missing: already reported
            return _BAD

    def value(self, tp: Any, raw: Any, path: str) -> Any:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if raw is None:
                return None
            return self.value(args[0], raw, path)
        if origin is tuple:
            item_type = typing.get_args(tp)[0]
            if raw is None:
                return ()
            if not isinstance(raw, list):
                self.errors.append(f"{path} must be a list (got {_kind(raw)})")
                return _BAD
            items = [self.value(item_type, v, f"{path}[{i}]") for i, v in enumerate(raw)]
            return _BAD if any(v is _BAD for v in items) else tuple(items)
        if attrs.has(tp):
            return self.build(tp, raw, path)
        return self.scalar(tp, raw, path)

    def scalar(self, tp: Any, raw: Any, path: str) -> Any:
        if tp is bool:
            if isinstance(raw, bool):
                return raw
            self.errors.append(f"{path} must be true or false (got {_kind(raw)})")
        elif tp is int:
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            if isinstance(raw, float) and raw.is_integer():
                return int(raw)
            self.errors.append(f"{path} must be an integer (got {_kind(raw)})")
        elif tp is float:
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                if math.isfinite(raw):
                    return float(raw)
                self.errors.append(f"{path} must be a finite number (got {raw!r})")
            else:
                self.errors.append(f"{path} must be a number (got {_kind(raw)})")
        elif tp is str:
            if isinstance(raw, str):
                return raw
            hint = ""
            if path.endswith("_time") and isinstance(raw, int | float):
                hint = ' (quote it, e.g. "3:30": unquoted, YAML reads it as a number)'

            self.errors.append(f"{path} must be a string (got {_kind(raw)}){hint}")
        else:  # pragma: no cover - a new field type in ownercard.py without support here
            raise TypeError(f"unsupported OwnerCard field type {tp!r} at {path}")
        return _BAD


_BAD: Any = object()


# --- paths, CLI ---------------------------------------------------------------------------


def resolve_source_locations(card: OwnerCard, root: Path) -> OwnerCard:
    """The card with relative folder locations made absolute against ``root``."""
    sources = tuple(
        attrs.evolve(s, location=str(root / s.location))
        if s.kind == "folder" and not Path(s.location).is_absolute()
        else s
        for s in card.sources
    )
    return attrs.evolve(card, sources=sources)


def validate_file(
    path: str | Path,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    *,
    as_json: bool = False,
) -> int:
    """``vvtv owner-card validate PATH [--json]``: exit code 0 (valid) or 1.

    Problems and warnings go to ``err`` one per line; the verdict to ``out`` as
    ``key=value`` lines like the runbook commands, or one JSON object with ``as_json``.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        loaded = load_owner_card_file(path)
    except OwnerCardError as exc:
        errors, warnings, digest = exc.errors, exc.warnings, None
    else:
        errors, warnings, digest = [], loaded.warnings, loaded.sha256
    for warning in warnings:
        print(f"warning: {warning}", file=err)
    for error in errors:
        print(f"error: {error}", file=err)
    verdict: dict[str, Any] = {"owner_card_valid": not errors, "path": str(path)}
    if errors:
        verdict["errors"] = len(errors)
    else:
        verdict["sha256"] = digest
    if as_json:
        print(json.dumps({**verdict, "errors": errors, "warnings": warnings}), file=out)
    else:
        for key, value in verdict.items():
            text = str(value).lower() if isinstance(value, bool) else value
            print(f"{key}={text}", file=out)
    return 1 if errors else 0
