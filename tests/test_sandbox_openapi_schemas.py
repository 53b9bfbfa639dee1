"""The conformance helper itself must be able to fail: wrong types, enums, names, missing fields."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.openapi_schemas import (
    SchemaValidationError,
    openapi_dir,
    validate,
    validate_webhook,
    validation_errors,
    webhook_schema,
)

PLATFORM = "Codat-Platform.json"
ACCOUNTING = "Codat-Accounting-2023.json"

PUSH_OPERATION = {
    "changes": [{"type": "Created", "recordRef": {"id": "abc", "dataType": "directCosts"}, "attachmentId": None}],
    "dataType": "directCosts",
    "companyId": "8a210b68-6988-11ed-a1eb-0242ac120002",
    "pushOperationKey": "1c5b9a8a-1b1e-4a4c-9a43-4b1d7b8b2d10",
    "dataConnectionKey": "2e9d2c44-f675-40ba-8049-353bfcb5e171",
    "requestedOnUtc": "2023-03-21T17:17:58.923Z",
    "completedOnUtc": "2023-03-21T17:17:59.481Z",
    "timeoutInMinutes": None,
    "status": "Success",
    "errorMessage": None,
    "validation": {"errors": [], "warnings": []},
    "statusCode": 200,
}

WRITE_EVENT = {
    "id": "bae71d36-ff47-420a-b4a6-f8c9ddf41140",
    "eventType": "directCosts.write.successful",
    "generatedDate": "2023-05-03T10:00:23.000Z",
    "payload": {
        "id": "a9367074-b5c3-42c4-9be4-be129f43577e",
        "type": "Create",
        "referenceCompany": {"id": "70af3071-65d9-4ec3-b3cb-5283e8d55dac", "name": "Toft stores"},
        "connectionId": "12571faf-0898-47e7-afdd-0fe9eb0a9bf5",
        "requestedOnDate": "2023-05-03T10:00:00.000Z",
        "completedOnDate": "2023-05-03T10:00:23.000Z",
        "status": "Success",
        "record": {"id": "bil_1"},
    },
}


SPEC_FILES = ["Codat-Accounting-2023.json", "Codat-Platform.json", "Codat-Sync-Expenses.json", "Codat-Webhooks.json"]
REPO = Path(__file__).resolve().parents[1]


def test_spec_folder_is_found() -> None:
    assert (openapi_dir() / PLATFORM).is_file()


def test_specs_are_read_from_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh clone has no ../shared: the tests read only the copies in tests/openapi.
    monkeypatch.delenv("CODATDESK_OPENAPI_DIR", raising=False)
    assert openapi_dir() == REPO / "tests" / "openapi"
    for spec_file in SPEC_FILES:
        assert (openapi_dir() / spec_file).is_file(), spec_file


def _refs(node: object):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("spec_file", SPEC_FILES)
def test_trimmed_copies_are_self_contained(spec_file: str) -> None:
    document = json.loads((REPO / "tests" / "openapi" / spec_file).read_text(encoding="utf-8"))
    refs = set(_refs(document))
    assert refs and all(ref.startswith("#/") for ref in refs)
    for ref in refs:
        node = document
        for raw in ref[2:].split("/"):
            token = unquote(raw).replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]  # KeyError: a $ref cut off


def test_valid_push_operation_passes_by_name_and_by_pointer() -> None:
    validate(PUSH_OPERATION, PLATFORM, "PushOperation", strict=True)
    validate(PUSH_OPERATION, PLATFORM, "#/components/schemas/PushOperation", strict=True)


def test_documented_nulls_are_accepted() -> None:
    """OpenAPI 3.0 'nullable: true' in Codat's 3.1 specs must still allow null."""
    pending = {**PUSH_OPERATION, "changes": None, "status": "Pending", "statusCode": 202}
    del pending["completedOnUtc"]
    validate(pending, PLATFORM, "PushOperation", strict=True)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda op: op.update(status="Done"), "status"),
        (lambda op: op.update(statusCode="200"), "statusCode"),
        (lambda op: op.pop("pushOperationKey"), "pushOperationKey"),
        (lambda op: op.update(pushOperationKey="not-a-uuid"), "uuid"),
        (lambda op: op["changes"][0].update(type="Inserted"), "Inserted"),
        (lambda op: op["validation"]["errors"].append({"itemId": "x", "msg": "typo"}), "msg"),
        (lambda op: op.update(completedOnUtc=None), "completedOnUtc"),
    ],
)
def test_invalid_push_operation_is_rejected(mutate, expected: str) -> None:
    operation = copy.deepcopy(PUSH_OPERATION)
    mutate(operation)
    with pytest.raises(SchemaValidationError) as raised:
        validate(operation, PLATFORM, "PushOperation")
    assert expected in str(raised.value)


def test_strict_rejects_a_misspelled_optional_field_that_plain_validation_accepts() -> None:
    operation = {**PUSH_OPERATION, "errorMesage": "typo"}
    validate(operation, PLATFORM, "PushOperation")  # additionalProperties is not false in the spec
    with pytest.raises(SchemaValidationError, match="errorMesage"):
        validate(operation, PLATFORM, "PushOperation", strict=True)


def test_strict_walks_nested_refs_allof_and_arrays() -> None:
    accounts = {
        "results": [{"id": "1", "type": "Expense", "status": "Active", "isBankAccount": False,
                     "metadata": {"isDeleted": False, "deletd": True}}],
        "pageNumber": 1, "pageSize": 100, "totalResults": 1,
        "_links": {"self": {"href": "/x"}, "current": {"href": "/x?page=1"}},
    }
    validate(accounts, ACCOUNTING, "Accounts")
    problems = validation_errors(accounts, ACCOUNTING, "Accounts", strict=True)
    assert problems == ["$/results/0/metadata/deletd: key 'deletd' is not declared by the schema"]


def test_strict_allows_free_keys_of_map_objects() -> None:
    company = {"id": "8a210b68-6988-11ed-a1eb-0242ac120002", "name": "A", "redirect": "https://link.codat.io/company/x",
               "tags": {"anything": "goes"}}
    validate(company, PLATFORM, "Company", strict=True)


def test_webhook_schema_pointer_and_shortcut() -> None:
    validate(WRITE_EVENT, "Codat-Webhooks.json", webhook_schema("directCosts.write.successful"), strict=True)
    validate_webhook(WRITE_EVENT, "directCosts.write.successful", strict=True)
    bad = copy.deepcopy(WRITE_EVENT)
    bad["payload"]["status"] = "Done"
    with pytest.raises(SchemaValidationError, match="Done"):
        validate_webhook(bad, "directCosts.write.successful")
    renamed = copy.deepcopy(WRITE_EVENT)
    renamed["payload"]["recordId"] = renamed["payload"].pop("record")
    with pytest.raises(SchemaValidationError, match="recordId"):
        validate_webhook(renamed, "directCosts.write.successful", strict=True)


def test_unknown_schema_name_fails_loudly() -> None:
    with pytest.raises(KeyError):
        validate({}, PLATFORM, "NoSuchSchema")


def test_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import tests.openapi_schemas as helper

    monkeypatch.setenv("CODATDESK_OPENAPI_DIR", str(tmp_path))
    assert helper.openapi_dir() == tmp_path
