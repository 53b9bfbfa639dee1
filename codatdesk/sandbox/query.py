"""Codat's list conventions: the ``query`` language, ``orderBy`` and the paged envelope.

Query grammar supported (a subset of https://docs.codat.io/using-the-api/querying):
``clause (&& clause)*`` joined by ``||`` at the top level (``&&`` binds tighter);
a clause is ``field op value`` with op one of ``= != > < >= <= ~`` (``~`` is "contains");
fields may be dotted (``metadata.isDeleted``) and are matched case-insensitively;
values may be wrapped in double quotes or braces (``id={uuid}``). String comparison is
case-insensitive, numbers compare as Decimal, ``null`` matches a missing/null field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode


class QueryError(ValueError):
    """A malformed query or orderBy, or an unknown property (HTTP 400)."""


_CLAUSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(!=|>=|<=|=|>|<|~)\s*(.*?)\s*$")
_MISSING = object()


def _lookup(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        key = next((k for k in node if k.lower() == part.lower()), _MISSING)
        if key is _MISSING:
            return _MISSING
        node = node[key]
    return node


def _unquote(value: str) -> str:
    if len(value) >= 2 and ((value[0] == value[-1] == '"') or (value[0] == "{" and value[-1] == "}")):
        return value[1:-1]
    return value


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _compare(actual: Any, op: str, raw: str) -> bool:
    wanted = _unquote(raw)
    if actual is _MISSING:
        actual = None
    if wanted.lower() == "null" and op in ("=", "!="):
        return (actual is None) == (op == "=")
    if actual is None:
        return op == "!="
    if isinstance(actual, bool):
        actual_text = "true" if actual else "false"
        matches = actual_text == wanted.lower()
        if op == "=":
            return matches
        if op == "!=":
            return not matches
        raise QueryError(f"Error parsing query - operator {op} is not valid for a boolean")
    if op == "~":
        return wanted.lower() in str(actual).lower()
    left, right = _as_decimal(actual), _as_decimal(wanted)
    if isinstance(actual, (int, Decimal, float)) and left is not None and right is not None:
        pair: tuple[Any, Any] = (left, right)
    else:
        pair = (str(actual).lower(), wanted.lower())
    return {
        "=": pair[0] == pair[1],
        "!=": pair[0] != pair[1],
        ">": pair[0] > pair[1],
        "<": pair[0] < pair[1],
        ">=": pair[0] >= pair[1],
        "<=": pair[0] <= pair[1],
    }[op]


def compile_query(query: str | None, known_fields: set[str], type_name: str) -> Callable[[Mapping[str, Any]], bool]:
    """Turn a Codat query string into a predicate; raise QueryError when it cannot be parsed."""
    if query is None or not query.strip():
        return lambda record: True
    alternatives: list[list[tuple[str, str, str]]] = []
    for alternative in query.split("||"):
        clauses = []
        for clause in alternative.split("&&"):
            match = _CLAUSE.match(clause)
            if not match:
                raise QueryError("Error parsing query - Malformed query.")
            field, op, value = match.groups()
            if not value:
                raise QueryError("Error parsing query - Malformed query.")
            if field.split(".")[0].lower() not in {name.lower() for name in known_fields}:
                raise QueryError(f"Error parsing query - Could not resolve property {field} on {type_name}")
            clauses.append((field, op, value))
        alternatives.append(clauses)

    def predicate(record: Mapping[str, Any]) -> bool:
        return any(
            all(_compare(_lookup(record, field), op, value) for field, op, value in clauses)
            for clauses in alternatives
        )

    return predicate


def order_records(records: list[dict[str, Any]], order_by: str | None, known_fields: set[str], type_name: str) -> list[dict[str, Any]]:
    """Apply ``orderBy`` (``field`` ascending or ``-field`` descending); nulls sort first."""
    if order_by is None or not order_by.strip():
        return records
    descending = order_by.startswith("-")
    field = order_by.lstrip("-").strip()
    if field.split(".")[0].lower() not in {name.lower() for name in known_fields}:
        raise QueryError(f"Error parsing orderBy - Could not resolve property {field} on {type_name}")

    def key(record: Mapping[str, Any]) -> tuple[int, Any]:
        value = _lookup(record, field)
        if value is _MISSING or value is None:
            return (0, "")
        number = _as_decimal(value) if isinstance(value, (int, Decimal, float)) else None
        return (1, number) if number is not None else (2, str(value).lower())

    return sorted(records, key=key, reverse=descending)


def parse_paging(params: Mapping[str, str]) -> tuple[int, int]:
    """Read ``page`` (>= 1, default 1) and ``pageSize`` (1..5000, default 100)."""
    try:
        page = int(params.get("page", "1"))
        page_size = int(params.get("pageSize", "100"))
    except ValueError:
        raise QueryError("Error processing request - page and pageSize must be integers.") from None
    if page < 1 or not 1 <= page_size <= 5000:
        raise QueryError("Error processing request - page must be >= 1 and pageSize between 1 and 5000.")
    return page, page_size


def paged(
    records: list[dict[str, Any]],
    path: str,
    params: Mapping[str, str],
    known_fields: set[str],
    type_name: str,
    overlap: int = 0,
) -> dict[str, Any]:
    """Filter, order and page records into Codat's envelope {results, pageNumber, pageSize, totalResults, _links}.

    ``overlap`` (the sandbox's ``page_overlap`` fault) starts every page after the first that many
    records early, so they are served twice, as offset paging does when records move between pages."""
    page, page_size = parse_paging(params)
    predicate = compile_query(params.get("query"), known_fields, type_name)
    selected = order_records([r for r in records if predicate(r)], params.get("orderBy"), known_fields, type_name)
    overlap = max(0, min(overlap, page_size - 1))
    start = (page - 1) * (page_size - overlap)
    extra = {key: params[key] for key in ("query", "orderBy") if params.get(key)}

    def href(page_number: int) -> dict[str, str]:
        return {"href": f"{path}?{urlencode({'page': page_number, 'pageSize': page_size, **extra})}"}

    links: dict[str, Any] = {"self": {"href": path}, "current": href(page)}
    if start + page_size < len(selected):
        links["next"] = href(page + 1)
    if page > 1:
        links["previous"] = href(page - 1)
    return {
        "results": selected[start : start + page_size],
        "pageNumber": page,
        "pageSize": page_size,
        "totalResults": len(selected),
        "_links": links,
    }
