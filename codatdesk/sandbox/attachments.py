"""Direct-cost attachments in the sandbox: ``POST .../push/directCosts/{directCostId}/attachment``.

Sources: the Accounting spec (``tests/openapi/Codat-Accounting-2023.json``, ``upload-direct-cost-attachment``:
singular ``attachment``, ``multipart/form-data``, 200); codat-docs ``docs/using-the-api/upload-attachments.md``
(an upload is a write; its result names the record and the attachment id). Rules:

* unknown direct cost -> 404 (sandbox choice, as for any record the ledger lacks);
* no ``file`` part, or an empty one -> 400 (sandbox choice);
* QuickBooks Desktop -> 400: it takes no attachments
  (``docs/integrations/accounting/quickbooksdesktop/accounting-quickbooksdesktop.md``);
* larger than the ledger's limit (Xero 3 MB, QuickBooks Online 100 MB:
  ``docs/expenses/sync-process/uploading-receipts.md``) -> 400 (the status is a sandbox choice).

The answer is a write result (PushOperation shape, ``changes[]`` with type ``AttachmentUploaded`` and its
``attachmentId``), written at once: sandbox choice (the 2023 spec documents a bare 200; the current docs an
asynchronous write). ``refuse_next`` makes the next uploads fail with 400, for tests of a failed upload.
"""

from __future__ import annotations

import datetime as dt
import threading
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .state import ApiError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .core import Sandbox

_MB = 1024 * 1024
# Xero 3 MB: the Expenses spec's table (the docs page says 10 MB; the stricter one, as sandbox/expense_rules.py).
_LIMITS: dict[str, tuple[str, int | None]] = {"gbol": ("Xero", 3 * _MB), "qhyg": ("QuickBooks Online", 100 * _MB)}


class AttachmentStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uploaded: dict[str, list[dict[str, Any]]] = {}  # company id -> attachments, in upload order
        self.refuse_next = 0

    def add(self, company_id: str, record: dict[str, Any]) -> None:
        with self.lock:
            self.uploaded.setdefault(company_id, []).append(record)

    def of(self, company_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(a) for a in self.uploaded.get(company_id, [])]

    def take_refusal(self) -> bool:
        with self.lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return True
            return False


def store_of(sandbox: Sandbox) -> AttachmentStore:
    store = sandbox.__dict__.get("_attachments")
    if not isinstance(store, AttachmentStore):
        store = sandbox.__dict__.setdefault("_attachments", AttachmentStore())
    assert isinstance(store, AttachmentStore)
    return store


def _file_part(content_type: str, body: bytes) -> tuple[str, str, bytes] | None:
    """(file name, content type, bytes) of the multipart part named ``file`` (stdlib parser: no extra package)."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            data = part.get_payload(decode=True)
            return part.get_filename() or "file", part.get_content_type(), data if isinstance(data, bytes) else b""
    return None


def routes(sandbox: Sandbox, codat: Callable[..., Any]) -> list[Route]:
    state = sandbox.state
    store = store_of(sandbox)

    async def upload_direct_cost_attachment(request: Request) -> Response:
        from .app import json_response

        company_id = request.path_params["companyId"]
        connection = state.connection(company_id, request.path_params["connectionId"])
        direct_cost_id = request.path_params["directCostId"]
        with state.lock:
            known = any(c["id"] == direct_cost_id for c in state.company(company_id).direct_costs)
        if not known:
            raise ApiError(404, f"No direct cost was found with ID {direct_cost_id}")
        part = _file_part(request.headers.get("content-type", ""), await request.body())
        if part is None or not part[2]:
            raise ApiError(400, "Error processing request - not valid. A multipart 'file' part is required.")
        name, content_type, data = part
        key = str(connection.get("integrationKey") or "")
        if key == "pqsw":
            raise ApiError(400, "Uploading attachments is not supported for QuickBooks Desktop.")
        ledger, limit = _LIMITS.get(key, ("", None))
        if limit is not None and len(data) > limit:
            raise ApiError(400, f"The file is larger than {ledger}'s limit of {limit // _MB} MB.")
        if store.take_refusal():
            raise ApiError(400, "The accounting software refused the attachment (sandbox: refuse_next).")
        attachment_id = sandbox._ids.uuid()
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        store.add(company_id, {"id": attachment_id, "directCostId": direct_cost_id, "name": name,
                               "contentType": content_type, "fileSize": len(data), "content": data})
        return json_response({
            "changes": [{"type": "AttachmentUploaded", "recordRef": {"id": direct_cost_id, "dataType": "directCosts"},
                         "attachmentId": attachment_id}],
            "dataType": "directCosts", "companyId": company_id, "pushOperationKey": sandbox._ids.uuid(),
            "dataConnectionKey": connection["id"], "requestedOnUtc": now, "completedOnUtc": now,
            "status": "Success", "statusCode": 200,
        })

    async def list_uploaded(request: Request) -> Response:
        """Steering (no auth, like every /_sandbox path): what the ledger holds, without the bytes."""
        from .app import json_response

        return json_response({"results": [{k: v for k, v in a.items() if k != "content"}
                                          for a in store.of(request.path_params["companyId"])]})

    return [Route("/companies/{companyId}/connections/{connectionId}/push/directCosts/{directCostId}/attachment",
                  codat(upload_direct_cost_attachment), methods=["POST"]),
            Route("/_sandbox/companies/{companyId}/attachments", list_uploaded, methods=["GET"])]
