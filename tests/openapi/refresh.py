"""Regenerate the trimmed copies of Codat's OpenAPI specs in this folder.

Usage (by hand, from the repository root)::

    python tests/openapi/refresh.py FULL_SPEC_DIR            # rewrite the copies
    python tests/openapi/refresh.py FULL_SPEC_DIR --check    # exit 1 if a copy is out of date

FULL_SPEC_DIR holds Codat's complete specs under the names in ``SOURCES`` (the team's
reference folder, outside the repository; README.md says where each file comes from). The tests never run this script and never read FULL_SPEC_DIR: they
read only the copies next to this file.

Each trimmed copy keeps the paths, webhooks and component schemas listed in
``KEEP`` below, plus everything they ``$ref``, transitively (a ``$ref`` into
``#/components/<kind>/<name>/...`` keeps that whole component; one into
``#/paths/<path>/...`` or ``#/webhooks/<name>/...`` keeps that whole entry).
The kept parts are copied unchanged; only whole entries are dropped. A name in
``KEEP`` that the full spec lacks is an error, so a rename upstream is noticed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent

ALL = "*"

# Where each full spec comes from (README.md repeats this for readers).
SOURCES = {
    "Codat-Accounting-2023.json": "github.com/codatio/oas json/Codat-Accounting.json @ cd39809 (2023-04-26)",
    "Codat-Platform.json": "github.com/codatio/oas json/Codat-Platform.json @ 1d1fab1 (2026-06-26)",
    "Codat-Sync-Expenses.json": "github.com/codatio/oas json/Codat-Sync-Expenses.json @ 1d1fab1 (2026-06-26)",
    "Codat-Webhooks.json": "github.com/codatio/codat-docs static/oas/Webhooks.json @ 1558f9a (2026-08-17)",
}

_CONNECTION = "/companies/{companyId}/connections/{connectionId}"

# What the tests validate against today, and what the coming work needs (directCosts,
# accounts and suppliers create, push options, company info, data refresh, Sync for
# Expenses, attachments, webhook payloads). Add to these lists and rerun the script.
# The options endpoints carry Codat's per-platform example PushOption trees (about
# 200 KB each); options/suppliers is left out for that reason until something needs it.
KEEP: dict[str, dict[str, Any]] = {
    "Codat-Accounting-2023.json": {
        "paths": [
            "/companies/{companyId}/data/info",
            "/companies/{companyId}/data/accounts",
            "/companies/{companyId}/data/accounts/{accountId}",
            f"{_CONNECTION}/options/chartOfAccounts",
            f"{_CONNECTION}/push/accounts",
            f"{_CONNECTION}/data/directCosts",
            f"{_CONNECTION}/data/directCosts/{{directCostId}}",
            f"{_CONNECTION}/options/directCosts",
            f"{_CONNECTION}/push/directCosts",
            f"{_CONNECTION}/push/directCosts/{{directCostId}}/attachment",
            f"{_CONNECTION}/data/directCosts/{{directCostId}}/attachments",
            f"{_CONNECTION}/data/directCosts/{{directCostId}}/attachments/{{attachmentId}}",
            f"{_CONNECTION}/data/directCosts/{{directCostId}}/attachments/{{attachmentId}}/download",
            "/companies/{companyId}/data/suppliers",
            "/companies/{companyId}/data/suppliers/{supplierId}",
            f"{_CONNECTION}/push/suppliers",
            f"{_CONNECTION}/push/suppliers/{{supplierId}}",
            "/companies/{companyId}/data/taxRates",
            "/companies/{companyId}/data/taxRates/{taxRateId}",
            "/companies/{companyId}/data/trackingCategories",
            "/companies/{companyId}/data/trackingCategories/{trackingCategoryId}",
            f"{_CONNECTION}/data/bankAccounts",
            f"{_CONNECTION}/data/bankAccounts/{{accountId}}",
        ],
        "webhooks": [],
        "schemas": [
            "Account", "Accounts", "BankAccount", "BankAccounts", "CompanyDataset", "CreateAccountResponse",
            "CreateDirectCostResponse", "CreateSupplierResponse", "DirectCost", "PushOption", "Supplier",
            "Suppliers", "TaxRate", "TaxRates",
        ],
    },
    "Codat-Platform.json": {
        "paths": [
            "/companies",
            "/companies/{companyId}",
            "/companies/{companyId}/connections",
            "/companies/{companyId}/connections/{connectionId}",
            "/companies/{companyId}/data/all",
            "/companies/{companyId}/data/queue/{dataType}",
            "/companies/{companyId}/dataStatus",
            "/companies/{companyId}/data/history",
            "/companies/{companyId}/data/history/{datasetId}",
            "/companies/{companyId}/connections/{connectionId}/options/{dataType}",
            "/companies/{companyId}/push",
            "/companies/{companyId}/push/{pushOperationKey}",
            "/webhooks",
            "/webhooks/{webhookId}",
        ],
        "webhooks": ALL,
        "schemas": [
            "Companies", "Company", "Connection", "Connections", "ErrorMessage", "PullOperation", "PushOperation",
            "PushOperations", "PushOption", "UpdateConnectionStatus", "WebhookConsumer",
        ],
    },
    "Codat-Sync-Expenses.json": {
        "paths": [
            "/companies/{companyId}/data/info",
            "/companies/{companyId}/data/queue/{dataType}",
            "/companies/{companyId}/sync/expenses/connections/partnerExpense",
            "/companies/{companyId}/sync/expenses/config",
            "/companies/{companyId}/sync/expenses/mappingOptions",
            "/companies/{companyId}/sync/expenses/expense-transactions",
            "/companies/{companyId}/sync/expenses/expense-transactions/{transactionId}",
            "/companies/{companyId}/sync/expenses/reimbursable-expense-transactions",
            "/companies/{companyId}/sync/expenses/reimbursable-expense-transactions/{transactionId}",
            "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions/{transactionId}/attachments",
            "/companies/{companyId}/sync/expenses/syncs/lastSuccessful/status",
            "/companies/{companyId}/sync/expenses/syncs/latest/status",
            "/companies/{companyId}/sync/expenses/syncs/list/status",
            "/companies/{companyId}/sync/expenses/syncs/{syncId}/status",
            "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions",
            "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions/{transactionId}",
            "/companies/{companyId}/push",
            "/companies/{companyId}/push/{pushOperationKey}",
            f"{_CONNECTION}/options/chartOfAccounts",
            f"{_CONNECTION}/push/accounts",
            "/companies/{companyId}/data/suppliers",
            "/companies/{companyId}/data/suppliers/{supplierId}",
            f"{_CONNECTION}/push/suppliers",
            f"{_CONNECTION}/push/suppliers/{{supplierId}}",
        ],
        "webhooks": ["expenses.sync.successful", "expenses.sync.unsuccessful"],
        "schemas": [],
    },
    # The webhook catalogue is small and the tests walk every event type in it: copied whole.
    "Codat-Webhooks.json": {"paths": ALL, "webhooks": ALL, "schemas": ALL},
}

NOTE = ("Trimmed copy made by tests/openapi/refresh.py from {source}: only the listed paths, webhooks and "
        "schemas, with everything they $ref; kept parts are unchanged. See tests/openapi/README.md.")


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _tokens(ref: str) -> list[str]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported: {ref}")
    return [unquote(raw).replace("~1", "/").replace("~0", "~") for raw in ref[2:].split("/")]


def _resolve(document: Any, ref: str) -> Any:
    node = document
    for token in _tokens(ref):
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


Unit = tuple[str, ...]  # ("paths", path) | ("webhooks", name) | ("components", kind, name)


def _unit_of(ref: str) -> Unit:
    tokens = _tokens(ref)
    if tokens[0] == "components" and len(tokens) >= 3:
        return ("components", tokens[1], tokens[2])
    if tokens[0] in ("paths", "webhooks") and len(tokens) >= 2:
        return (tokens[0], tokens[1])
    raise ValueError(f"unsupported $ref target: {ref}")


def _get(document: dict[str, Any], unit: Unit) -> Any:
    node: Any = document
    for token in unit:
        node = node[token]
    return node


def _select(full: dict[str, Any], section: str, wanted: Any, spec_file: str) -> list[Unit]:
    available = full.get(section, {})
    names = list(available) if wanted == ALL else list(wanted)
    missing = [name for name in names if name not in available]
    if missing:
        raise KeyError(f"{spec_file}: {section} not in the full spec: {missing}")
    return [(section, name) for name in names]


def trim(full: dict[str, Any], keep: dict[str, Any], spec_file: str) -> dict[str, Any]:
    """The trimmed document: KEEP's entries plus their transitive $refs, in the full spec's order."""
    schemas = keep["schemas"]
    roots = (_select(full, "paths", keep["paths"], spec_file)
             + _select(full, "webhooks", keep["webhooks"], spec_file)
             + [("components",) + unit for unit in _select(full.get("components", {}), "schemas", schemas, spec_file)])
    kept: set[Unit] = set(roots)
    queue = list(roots)
    while queue:
        for ref in _refs(_get(full, queue.pop())):
            _resolve(full, ref)  # a dangling $ref upstream fails here, loudly
            unit = _unit_of(ref)
            if unit not in kept:
                kept.add(unit)
                queue.append(unit)

    out: dict[str, Any] = {}
    for key, value in full.items():
        if key in ("paths", "webhooks"):
            out[key] = {name: item for name, item in value.items() if (key, name) in kept}
        elif key == "components":
            out[key] = {
                kind: (entries if kind == "securitySchemes"
                       else {name: node for name, node in entries.items() if ("components", kind, name) in kept})
                for kind, entries in value.items()
            }
            out[key] = {kind: entries for kind, entries in out[key].items() if entries}
        elif key == "tags":
            used = {tag for section in ("paths", "webhooks") for name, item in full.get(section, {}).items()
                    if (section, name) in kept for operation in item.values()
                    if isinstance(operation, dict) for tag in operation.get("tags", [])}
            out[key] = [tag for tag in value if tag.get("name") in used]
        else:
            out[key] = value
        if key == "info":
            out["x-codatdesk-trimmed"] = NOTE.format(source=SOURCES[spec_file])
    for ref in _refs(out):
        _resolve(out, ref)  # the copy is self-contained
    return out


def render(full_dir: Path, spec_file: str) -> bytes:
    source = (full_dir / spec_file).read_bytes()
    keep = KEEP[spec_file]
    if all(keep[section] == ALL for section in ("paths", "webhooks", "schemas")):
        return source  # copied whole, byte for byte
    trimmed = trim(json.loads(source), keep, spec_file)
    return (json.dumps(trimmed, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("full_dir", type=Path, help="folder with Codat's full specs (kept outside the repository)")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a copy is out of date")
    args = parser.parse_args(argv)
    stale = []
    for spec_file in KEEP:
        content = render(args.full_dir, spec_file)
        target = HERE / spec_file
        current = target.read_bytes() if target.is_file() else None
        if current == content:
            print(f"{spec_file}: up to date ({len(content):,} bytes)")
        elif args.check:
            stale.append(spec_file)
            print(f"{spec_file}: OUT OF DATE")
        else:
            target.write_bytes(content)
            full_size = (args.full_dir / spec_file).stat().st_size
            print(f"{spec_file}: wrote {len(content):,} bytes (full spec {full_size:,})")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
