"""Supplier writes: ``POST .../connections/{connectionId}/push/suppliers`` (Codat's ``create-supplier``,
body ``Supplier``; oas ``Codat-Accounting.json`` 2023) and the rules a ledger applies to them.

Rules, each with its source:
* ``supplierName`` is required: every integration's create model marks it ``required``
  (oas ``Codat-Accounting.json`` 2023, ``options/suppliers`` examples for Xero, QuickBooks Online and
  QuickBooks Desktop). QuickBooks Online uses ``contactName`` when ``supplierName`` is null and fails only
  when both are null (codat-docs ``docs/payables/sync/suppliers.md``, QuickBooks Online tab); the sandbox
  then answers Success with a warning saying so.
* Supplier names are unique (codat-docs ``docs/payables/sync/suppliers.md``, "Duplicate names", Xero tab;
  the sandbox applies it to every profile: sandbox choice for the others). Compared case-insensitively
  (sandbox choice).
* Lengths from the create models: ``supplierName`` (QuickBooks Desktop 41), ``registrationNumber``
  (Xero 50), ``taxNumber`` (QuickBooks Desktop 30).
* ``status``, when sent, is one of the model's ``options``; read-only fields are refused (codat-docs
  ``docs/using-the-api/push.md``, "Properties not in the Get model response").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

READ_ONLY_FIELDS = ("id", "modifiedDate", "sourceModifiedDate")
VALIDATOR = "Supplier"


@dataclass(frozen=True)
class SupplierRules:
    """One integration's supplier create model, as the sandbox enforces it."""

    name_max: int | None = None
    registration_number_max: int | None = None
    tax_number_max: int | None = None
    statuses: tuple[str, ...] = ("Active", "Archived")
    status_required: bool = False
    name_from_contact_name: bool = False  # QuickBooks Online: a null supplierName takes contactName
    unique_names: bool = True


@dataclass
class SupplierVerdict:
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    name: str | None = None  # the name the ledger records


def _item(item_id: str, message: str) -> dict[str, Any]:
    return {"itemId": item_id, "message": message, "validatorName": VALIDATOR}


def _too_long(value: Any, limit: int | None) -> bool:
    return limit is not None and isinstance(value, str) and len(value) > limit


def evaluate_supplier(body: Any, existing: list[dict[str, Any]], rules: SupplierRules) -> SupplierVerdict:
    """Codat's validation of a supplier create body against the ledger's suppliers."""
    verdict = SupplierVerdict()
    if not isinstance(body, dict):
        verdict.errors.append(_item("Supplier", "The request body must be a JSON object."))
        return verdict
    for name in READ_ONLY_FIELDS:
        if name in body:
            verdict.errors.append(_item(name[0].upper() + name[1:], f"{name} is read-only and must not be sent."))
    name = body.get("supplierName")
    if (name is None or name == "") and rules.name_from_contact_name and isinstance(body.get("contactName"), str) \
            and body["contactName"].strip():
        name = body["contactName"]
        verdict.warnings.append(_item("SupplierName", "SupplierName was not provided: ContactName was used as the name."))
    if not isinstance(name, str) or not name.strip():
        verdict.errors.append(_item("SupplierName", "SupplierName must be provided."))
    elif _too_long(name, rules.name_max):
        verdict.errors.append(_item("SupplierName", f"SupplierName has a max length of {rules.name_max} characters."))
    elif rules.unique_names and any((s.get("supplierName") or "").casefold() == name.strip().casefold()
                                    for s in existing):
        verdict.errors.append(_item("SupplierName", f"A supplier named {name.strip()} already exists."))
    else:
        verdict.name = name.strip()
    if _too_long(body.get("registrationNumber"), rules.registration_number_max):
        verdict.errors.append(_item("RegistrationNumber", f"RegistrationNumber has a max length of "
                                                          f"{rules.registration_number_max} characters."))
    if _too_long(body.get("taxNumber"), rules.tax_number_max):
        verdict.errors.append(_item("TaxNumber", f"TaxNumber has a max length of {rules.tax_number_max} characters."))
    status = body.get("status")
    if status is None and rules.status_required:
        verdict.errors.append(_item("Status", "Status must be provided."))
    elif status is not None and status not in rules.statuses:
        verdict.errors.append(_item("Status", f"Status {status!r} is not one of {', '.join(rules.statuses)}."))
    currency = body.get("defaultCurrency")
    if currency is not None and (not isinstance(currency, str) or len(currency) != 3 or not currency.isupper()):
        verdict.errors.append(_item("DefaultCurrency", f"DefaultCurrency {currency!r} is not a valid ISO 4217 code."))
    return verdict


def supplier_record(supplier_id: str, body: dict[str, Any], name: str, base_currency: str, now: str) -> dict[str, Any]:
    """The Supplier as the ledger then holds it (Codat's read shape)."""
    return {
        "id": supplier_id,
        "supplierName": name,
        "contactName": body.get("contactName"),
        "emailAddress": body.get("emailAddress"),
        "phone": body.get("phone"),
        "addresses": list(body.get("addresses") or []),
        "registrationNumber": body.get("registrationNumber"),
        "taxNumber": body.get("taxNumber"),
        "status": body.get("status") or "Active",
        "defaultCurrency": body.get("defaultCurrency") or base_currency,
        "metadata": {"isDeleted": False},
        "modifiedDate": now,
        "sourceModifiedDate": now,
    }


def _option(kind: str, name: str, description: str, required: bool, **extra: Any) -> dict[str, Any]:
    option: dict[str, Any] = {"type": kind, "displayName": name, "description": description, "required": required}
    option.update(extra)
    return option


def _max(field_name: str, limit: int | None) -> dict[str, Any]:
    warnings = [{"field": field_name, "details": f"Max length of {limit} characters."}] if limit else []
    return {"warnings": warnings, "information": []}


def supplier_options(rules: SupplierRules) -> dict[str, Any]:
    """The create-supplier model (``GET .../options/suppliers``) for these rules, in Codat's PushOption shape."""
    statuses = [{"value": s, "type": "String", "displayName": s, "required": False} for s in rules.statuses]
    return _option(
        "Object", "Supplier", "Supplier", True,
        properties={
            "supplierName": _option("String", "Supplier Name", "Name of the supplier.", True,
                                    validation=_max("SupplierName", rules.name_max)),
            "contactName": _option("String", "Contact Name", "Name of the main contact for the supplier.", False),
            "emailAddress": _option("String", "Email Address", "Email address of the supplier.", False),
            "phone": _option("String", "Phone", "Phone number of the supplier.", False),
            "registrationNumber": _option("String", "Registration Number", "Company number of the supplier.", False,
                                          validation=_max("RegistrationNumber", rules.registration_number_max)),
            "taxNumber": _option("String", "Tax Number", "Supplier's company tax number.", False,
                                 validation=_max("TaxNumber", rules.tax_number_max)),
            "status": _option("String", "Status", "Status of the supplier.", rules.status_required, options=statuses),
            "defaultCurrency": _option("String", "Default Currency", "ISO 4217 currency code", False),
        },
    )
