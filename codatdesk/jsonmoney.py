"""Decimal-safe JSON for the Codat boundary.

Money stays ``Decimal`` inside the app. ``json.dumps`` cannot write a Decimal as
a number (and going through ``float`` would round 0.1 + 0.2), so ``dumps`` is a
small encoder that writes each Decimal digit for digit. ``loads`` parses every
JSON number with a fraction or exponent as ``Decimal``.

Dates and datetimes are written as ISO 8601 strings, which is what Codat's
``DateTime`` fields take.
"""

from __future__ import annotations

import datetime as _dt
import json
from decimal import Decimal
from typing import Any

__all__ = ["dumps", "loads"]

_encode_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def dumps(obj: Any) -> bytes:
    """Serialize ``obj`` to compact UTF-8 JSON, Decimals as exact numbers."""
    parts: list[str] = []
    _encode(obj, parts, set())
    return "".join(parts).encode("utf-8")


def loads(data: bytes | bytearray | str) -> Any:
    """Parse JSON; non-integer numbers become ``Decimal``, NaN/Infinity are refused."""
    return json.loads(data, parse_float=Decimal, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not a valid amount")


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot write {value} as a JSON number")
    # Positional notation: "100" rather than "1E+2", "0.00000001" rather than "1E-8".
    return format(value, "f")


def _encode(obj: Any, out: list[str], active: set[int]) -> None:
    # bool before int: bool is an int subclass.
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(_encode_string(obj))
    elif isinstance(obj, Decimal):
        out.append(_decimal_text(obj))
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, float):
        # Floats are not money here, but other numeric fields may be floats.
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise ValueError(f"cannot write {obj!r} as a JSON number")
        out.append(float.__repr__(obj))
    elif isinstance(obj, (_dt.datetime, _dt.date)):
        out.append(_encode_string(obj.isoformat()))
    elif isinstance(obj, dict):
        _guard(obj, active)
        out.append("{")
        first = True
        for key, value in obj.items():
            if not isinstance(key, str):
                if isinstance(key, (int, Decimal)) and not isinstance(key, bool):
                    key = str(key)
                else:
                    raise TypeError(f"JSON object keys must be str, not {type(key).__name__}")
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(key))
            out.append(":")
            _encode(value, out, active)
        out.append("}")
        active.discard(id(obj))
    elif isinstance(obj, (list, tuple)):
        _guard(obj, active)
        out.append("[")
        for index, item in enumerate(obj):
            if index:
                out.append(",")
            _encode(item, out, active)
        out.append("]")
        active.discard(id(obj))
    else:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _guard(container: Any, active: set[int]) -> None:
    if id(container) in active:
        raise ValueError("circular reference detected")
    active.add(id(container))
