"""Validate JSON instances against Codat's OpenAPI 3.1 specs (conformance tests).

Usage::

    from tests.openapi_schemas import validate, webhook_schema
    validate(body, "Codat-Platform.json", "PushOperation")
    validate(body, "Codat-Platform.json", "#/components/schemas/PushOperation", strict=True)
    validate(event, "Codat-Webhooks.json", webhook_schema("directCosts.write.successful"))
    (op, *_) = matching_operations("POST", "/companies/c/connections/d/push/directCosts")
    op.declared("query")  # {"timeoutInMinutes": Parameter(...)}; op.body_schema: a pointer for validate()

OpenAPI 3.1 schemas are JSON Schema 2020-12, but Codat's specs still carry the
OpenAPI 3.0 ``nullable: true`` keyword, which JSON Schema ignores. We rewrite it
into real ``null`` alternatives on load, otherwise every documented ``null``
(e.g. ``completedOnUtc`` of a Pending push) would be rejected.

``strict=True`` additionally rejects any object key the schema does not declare
under ``properties``: Codat's schemas rarely say ``additionalProperties: false``,
so a misspelled optional field would otherwise pass silently. Keys of map-like
objects (``additionalProperties: {schema}``) are allowed and checked recursively.

The specs are the trimmed copies in ``tests/openapi/`` (see its README.md;
``tests/openapi/refresh.py`` regenerates them from Codat's full specs). The
environment variable ``CODATDESK_OPENAPI_DIR`` points the helper at another
folder with the same file names, e.g. the full specs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "REQUEST_SPECS",
    "Operation",
    "Parameter",
    "SchemaValidationError",
    "matching_operations",
    "openapi_dir",
    "operations",
    "schema_pointer",
    "security_scheme",
    "validate",
    "validate_webhook",
    "validation_errors",
    "webhook_schema",
]

_BASE_URI = "https://openapi.codat.local/"
_COMPOSITION_KEYS = ("$ref", "allOf", "anyOf", "oneOf")


class SchemaValidationError(AssertionError):
    """An instance does not conform to a spec schema (an AssertionError so pytest shows it plainly)."""

    def __init__(self, spec_file: str, schema: str, problems: list[str]) -> None:
        self.spec_file = spec_file
        self.schema = schema
        self.problems = problems
        listing = "\n  - ".join(problems)
        super().__init__(f"instance does not conform to {spec_file} {schema}:\n  - {listing}")


def openapi_dir() -> Path:
    override = os.environ.get("CODATDESK_OPENAPI_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent / "openapi"


def _allow_null(node: dict[str, Any]) -> None:
    """Rewrite one ``nullable: true`` schema node in place so that null validates."""
    node.pop("nullable")
    node_type = node.get("type")
    if isinstance(node_type, str):
        node["type"] = [node_type, "null"]
    elif isinstance(node_type, list) and "null" not in node_type:
        node["type"] = [*node_type, "null"]
    if "enum" in node and None not in node["enum"]:
        node["enum"] = [*node["enum"], None]
    composed = {key: node.pop(key) for key in _COMPOSITION_KEYS if key in node}
    if composed:
        node["anyOf"] = [{"type": "null"}, composed]


def _normalize_nullable(node: Any) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _normalize_nullable(value)
        if node.get("nullable") is True:
            _allow_null(node)
        elif "nullable" in node:
            node.pop("nullable")
    elif isinstance(node, list):
        for value in node:
            _normalize_nullable(value)


@cache
def _document(spec_file: str) -> dict[str, Any]:
    path = openapi_dir() / spec_file
    if not path.is_file():
        raise FileNotFoundError(f"OpenAPI spec not found: {path} (tests/openapi/refresh.py makes the copies)")
    document = json.loads(path.read_text(encoding="utf-8"))
    _normalize_nullable(document)
    return document


@cache
def _registry(spec_file: str) -> Registry:
    resource = Resource.from_contents(_document(spec_file), default_specification=DRAFT202012)
    return Registry().with_resource(_BASE_URI + spec_file, resource)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def schema_pointer(schema: str) -> str:
    """A component schema name ("PushOperation", "PushOperation/definitions/validation") or a JSON pointer."""
    if schema.startswith("#"):
        return schema
    return "#/components/schemas/" + schema


def webhook_schema(event_type: str) -> str:
    """JSON pointer to the request body schema of a webhook in Codat-Webhooks.json."""
    return f"#/webhooks/{_escape(event_type)}/post/requestBody/content/application~1json/schema"


def _resolve_pointer(spec_file: str, pointer: str) -> Any:
    node: Any = _document(spec_file)
    for raw in pointer.lstrip("#").split("/")[1:]:
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _validator(spec_file: str, pointer: str) -> Draft202012Validator:
    try:
        _resolve_pointer(spec_file, pointer)  # fail loudly on a wrong schema name
    except KeyError:
        raise KeyError(f"{pointer} is not in {openapi_dir() / spec_file}; if Codat's full spec has it, "
                       "add it to KEEP in tests/openapi/refresh.py and rerun that script") from None
    return Draft202012Validator(
        {"$ref": _BASE_URI + spec_file + pointer},
        registry=_registry(spec_file),
        format_checker=FormatChecker(),
    )


def _is_valid(spec_file: str, pointer: str, instance: Any) -> bool:
    return _validator(spec_file, pointer).is_valid(instance)


def _effective(spec_file: str, pointer: str, instance: Any) -> Iterator[str]:
    """Pointers of all schemas that apply to the instance at this level ($ref, allOf, matching anyOf/oneOf)."""
    node = _resolve_pointer(spec_file, pointer)
    if not isinstance(node, dict):
        return
    yield pointer
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#"):
            raise ValueError(f"external $ref not supported: {ref}")
        yield from _effective(spec_file, ref, instance)
    for index, _ in enumerate(node.get("allOf", [])):
        yield from _effective(spec_file, f"{pointer}/allOf/{index}", instance)
    for keyword in ("anyOf", "oneOf"):
        for index, _ in enumerate(node.get(keyword, [])):
            branch = f"{pointer}/{keyword}/{index}"
            if _is_valid(spec_file, branch, instance):
                yield from _effective(spec_file, branch, instance)


def _undeclared_keys(spec_file: str, pointer: str, instance: Any, path: str) -> list[str]:
    pointers = list(_effective(spec_file, pointer, instance))
    nodes = [(p, _resolve_pointer(spec_file, p)) for p in pointers]
    problems: list[str] = []
    if isinstance(instance, dict):
        declared: dict[str, list[str]] = {}
        open_schemas: list[str] = []
        for p, node in nodes:
            for name in node.get("properties", {}):
                declared.setdefault(name, []).append(f"{p}/properties/{_escape(name)}")
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                open_schemas.append(f"{p}/additionalProperties")
        for key, value in instance.items():
            child_path = f"{path}/{key}"
            targets = declared.get(key) or open_schemas
            if not targets:
                problems.append(f"{child_path}: key {key!r} is not declared by the schema")
            for target in targets:
                problems.extend(_undeclared_keys(spec_file, target, value, child_path))
    elif isinstance(instance, list):
        for p, node in nodes:
            if isinstance(node.get("items"), dict):
                for index, item in enumerate(instance):
                    problems.extend(_undeclared_keys(spec_file, f"{p}/items", item, f"{path}/{index}"))
    return sorted(set(problems))


def validation_errors(instance: Any, spec_file: str, schema: str, *, strict: bool = False) -> list[str]:
    """All problems found (empty when the instance conforms)."""
    pointer = schema_pointer(schema)
    validator = _validator(spec_file, pointer)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    problems = [f"{error.json_path}: {error.message}" for error in errors]
    if errors:
        best = best_match(errors)
        problems.insert(0, f"best match: {best.json_path}: {best.message}")
    if strict:
        problems.extend(_undeclared_keys(spec_file, pointer, instance, "$"))
    return problems


def validate(instance: Any, spec_file: str, schema: str, *, strict: bool = False) -> None:
    """Raise SchemaValidationError unless the instance conforms to the schema."""
    problems = validation_errors(instance, spec_file, schema, strict=strict)
    if problems:
        raise SchemaValidationError(spec_file, schema, problems)


def validate_webhook(body: Any, event_type: str, *, strict: bool = False) -> None:
    """Validate a webhook request body against its event type in Codat-Webhooks.json."""
    validate(body, "Codat-Webhooks.json", webhook_schema(event_type), strict=strict)


# -- operations: which spec operation a request is, and what that operation declares -------------

# The specs whose operations a CodatClient request may be (Sync for Expenses repeats a few Accounting
# paths, e.g. push/accounts, with parameters of its own).
REQUEST_SPECS = ("Codat-Accounting-2023.json", "Codat-Platform.json", "Codat-Sync-Expenses.json")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Parameter:
    """One declared parameter of an operation; ``schema`` is a pointer for ``validation_errors``."""

    __slots__ = ("location", "name", "required", "schema")

    def __init__(self, name: str, location: str, required: bool, schema: str) -> None:
        self.name, self.location, self.required, self.schema = name, location, required, schema

    def __repr__(self) -> str:
        return f"Parameter({self.location} {self.name}{' required' if self.required else ''})"


class Operation:
    """A method on a path template of one spec, with its merged path- and operation-level parameters."""

    __slots__ = ("body_schema", "method", "parameters", "security", "spec_file", "template")

    def __init__(self, spec_file: str, method: str, template: str, parameters: dict[tuple[str, str], Parameter],
                 body_schema: str | None, security: list[str]) -> None:
        self.spec_file, self.method, self.template = spec_file, method, template
        self.parameters, self.body_schema, self.security = parameters, body_schema, security

    def __repr__(self) -> str:
        return f"{self.spec_file} {self.method.upper()} {self.template}"

    def declared(self, location: str) -> dict[str, Parameter]:
        """Parameters in ``location`` ("path", "query", "header"); header names are lower-cased."""
        return {(name.lower() if location == "header" else name): p
                for (loc, name), p in self.parameters.items() if loc == location}

    def path_values(self, path: str) -> dict[str, str] | None:
        """``{name: value}`` of the template's placeholders, or None when ``path`` is not this template."""
        wanted, given = self.template.strip("/").split("/"), path.strip("/").split("/")
        if len(wanted) != len(given):
            return None
        values: dict[str, str] = {}
        for pattern, segment in zip(wanted, given):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment:
                    return None
                values[pattern[1:-1]] = unquote(segment)
            elif pattern != segment:
                return None
        return values

    @property
    def literal_segments(self) -> int:
        return sum(1 for s in self.template.strip("/").split("/") if not s.startswith("{"))


def _deref(spec_file: str, pointer: str) -> tuple[str, Any]:
    """Follow ``$ref``s from ``pointer`` to a node that is not one; returns its pointer and the node."""
    node = _resolve_pointer(spec_file, pointer)
    while isinstance(node, dict) and "$ref" in node:
        pointer = node["$ref"]
        node = _resolve_pointer(spec_file, pointer)
    return pointer, node


def _parameters(spec_file: str, pointer: str) -> dict[tuple[str, str], Parameter]:
    found: dict[tuple[str, str], Parameter] = {}
    node = _resolve_pointer(spec_file, pointer)
    for index, _ in enumerate(node.get("parameters", []) if isinstance(node, dict) else []):
        target, param = _deref(spec_file, f"{pointer}/parameters/{index}")
        found[(param["in"], param["name"])] = Parameter(param["name"], param["in"], bool(param.get("required")),
                                                        f"{target}/schema")
    return found


@cache
def operations(spec_files: tuple[str, ...] = REQUEST_SPECS) -> tuple[Operation, ...]:
    """Every operation of the specs (operation-level parameters override path-level ones, as OpenAPI says)."""
    found: list[Operation] = []
    for spec_file in spec_files:
        document = _document(spec_file)
        default_security = [name for item in document.get("security", []) for name in item]
        for template, item in document.get("paths", {}).items():
            path_pointer = "#/paths/" + _escape(template)
            shared = _parameters(spec_file, path_pointer)
            for method in _METHODS:
                if method not in item:
                    continue
                pointer = f"{path_pointer}/{method}"
                operation = item[method]
                body = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
                body_schema = f"{pointer}/requestBody/content/application~1json/schema" if body else None
                if body is None and "$ref" in (operation.get("requestBody") or {}):
                    ref_pointer, resolved = _deref(spec_file, f"{pointer}/requestBody")
                    if "application/json" in resolved.get("content", {}):
                        body_schema = f"{ref_pointer}/content/application~1json/schema"
                security = [name for entry in operation.get("security", []) for name in entry] \
                    if "security" in operation else default_security
                found.append(Operation(spec_file, method, template, {**shared, **_parameters(spec_file, pointer)},
                                       body_schema, security))
    return tuple(found)


def matching_operations(method: str, path: str, spec_files: tuple[str, ...] = REQUEST_SPECS) -> list[Operation]:
    """The operations a request may be, most specific template first (``options/directCosts`` before
    ``options/{dataType}``)."""
    hits = [op for op in operations(spec_files) if op.method == method.lower() and op.path_values(path) is not None]
    return sorted(hits, key=lambda op: -op.literal_segments)


def security_scheme(spec_file: str, name: str) -> dict[str, Any]:
    return _document(spec_file)["components"]["securitySchemes"][name]
