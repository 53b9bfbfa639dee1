"""JSON at the sandbox boundary: numbers are parsed as Decimal and written back exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def loads(raw: bytes | str) -> Any:
    """Parse JSON with every non-integer number as Decimal (money must never pass through float)."""
    return json.loads(raw, parse_float=Decimal)


def dumps(value: Any) -> str:
    """Compact JSON; Decimal is written as a plain JSON number with its exact digits."""
    return "".join(_encode(value))


def dump_bytes(value: Any) -> bytes:
    return dumps(value).encode("utf-8")


def _encode(value: Any):
    if value is None:
        yield "null"
    elif value is True:
        yield "true"
    elif value is False:
        yield "false"
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode {value} as JSON")
        text = format(value, "f")
        yield text
    elif isinstance(value, (int, float, str)):
        yield json.dumps(value)
    elif isinstance(value, dict):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            if index:
                yield ","
            yield json.dumps(str(key))
            yield ":"
            yield from _encode(item)
        yield "}"
    elif isinstance(value, (list, tuple)):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _encode(item)
        yield "]"
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def utc_now() -> datetime:
    return datetime.now(UTC)


def codat_time(moment: datetime | None = None) -> str:
    """Codat's UTC timestamp style, e.g. 2023-03-21T17:17:58.923Z."""
    moment = (moment or utc_now()).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
