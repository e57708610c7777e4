"""JSON Schema of the Python types the API sends: the OpenAPI document derives from the model.

``json_schema(tp)`` turns a type annotation into a JSON Schema (2020-12, as OpenAPI 3.1
uses): ``str``/``int``/``float``/``bool``/``None``, unions and ``Optional``, ``list``,
``tuple[X, ...]``, ``dict[str, X]``, ``Literal``, enums (their values), ``TypedDict``
(its keys, required unless ``NotRequired``, no others) and attrs classes (their fields).
``Annotated[T, meta]`` refines ``T``: a string is the value's ``format`` (``"date-time"``),
an enum class the values it takes (``Annotated[str, SlotType]``).

So a field added to ``vvtv.air.status.StatusDict`` appears in ``/openapi.json`` by itself,
and an enum member added to the model is accepted by the document at once; a shape the code
builds without declaring it fails the conformance test (tests/proof/test_openapi_conformance).
"""

from __future__ import annotations

import enum
import types
import typing
from datetime import date, datetime
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

import attrs

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    datetime: {"type": "string", "format": "date-time"},
    date: {"type": "string", "format": "date"},
}


def json_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of values of type ``tp`` (see the module's docstring)."""
    if tp in _SIMPLE:
        return dict(_SIMPLE[tp])
    origin = get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = get_args(tp)
        schema = json_schema(base)
        for item in meta:
            if isinstance(item, str):
                schema["format"] = item
            elif isinstance(item, type) and issubclass(item, enum.Enum):
                schema["enum"] = [member.value for member in item]
        return schema
    if origin in (Union, types.UnionType):
        return _union([json_schema(arg) for arg in get_args(tp)])
    if origin in (Required, NotRequired):
        return json_schema(get_args(tp)[0])
    if origin is Literal:
        values = list(get_args(tp))
        kinds = sorted({_SIMPLE[type(v)]["type"] for v in values})
        return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}
    if origin in (list, tuple):
        args = get_args(tp)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"no JSON Schema for a fixed-length tuple {tp!r}")
        return {"type": "array", "items": json_schema(args[0])}
    if origin is dict:
        key, value = get_args(tp)
        if key is not str:
            raise TypeError(f"JSON object keys are strings, not {key!r}")
        return {"type": "object", "additionalProperties": json_schema(value)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [member.value for member in tp]
        return {**json_schema(type(values[0])), "enum": values}
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return {
            "type": "object",
            "properties": {name: json_schema(hint) for name, hint in hints.items()},
            "required": [name for name, hint in hints.items() if _required(tp, hint)],
            "additionalProperties": False,
        }
    if isinstance(tp, type) and attrs.has(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        fields = attrs.fields(tp)
        return {
            "type": "object",
            "properties": {f.name: json_schema(hints[f.name]) for f in fields},
            "required": [f.name for f in fields],
        }
    raise TypeError(f"no JSON Schema for {tp!r}")


def _required(typed_dict: Any, hint: Any) -> bool:
    # Read from the hint, not ``__required_keys__``: under ``from __future__ import
    # annotations`` Python 3.11 cannot see NotRequired in a string annotation.
    origin = get_origin(hint)
    if origin is NotRequired:
        return False
    return origin is Required or typed_dict.__total__


def _union(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    # Plain types merge into one "type" list (["string", "null"]); anything richer is anyOf.
    if all(set(s) == {"type"} for s in schemas):
        kinds: list[str] = []
        for s in schemas:
            for kind in s["type"] if isinstance(s["type"], list) else [s["type"]]:
                if kind not in kinds:
                    kinds.append(kind)
        return {"type": kinds if len(kinds) > 1 else kinds[0]}
    if len(schemas) == 2 and {"type": "null"} in schemas:
        (other,) = [s for s in schemas if s != {"type": "null"}]
        kind = other.get("type")
        if isinstance(kind, str) and set(other) <= {"type", "format", "enum"}:
            merged = {**other, "type": [kind, "null"]}
            if "enum" in merged:
                merged["enum"] = [*merged["enum"], None]
            return merged
    return {"anyOf": schemas}
