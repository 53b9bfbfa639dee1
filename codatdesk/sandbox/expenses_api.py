"""HTTP routes of the sandbox's Sync for Expenses API (``sandbox.expenses`` holds the state and rules).

Paths and bodies follow codatio/oas ``Codat-Sync-Expenses.json``. A request body that breaks the spec's
shape (not an array, 0 or more than 50 transactions, a transaction without a uuid ``id``) is a 400 with
Codat's ErrorMessage, nothing synced; the same id twice in one request is a 400 too (sandbox choice).
Everything else about a transaction is checked when its sync runs and reported per transaction.
Also here: the ``/_sandbox/companies/{companyId}/expense-bookings`` steering read (the Accounting API's
tracking categories are served by ``sandbox/app.py`` from the company's reference data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .expense_rules import is_uuid
from .multipart import form_files
from .query import paged

if TYPE_CHECKING:
    from .core import Sandbox

MAX_TRANSACTIONS = 50  # spec CreateExpenseRequest / ReimbursableExpenseTransactionRequest maxItems
TRANSACTION_FIELDS = {"transactionId", "status", "message", "integrationType"}

Wrap = Callable[..., Callable[[Request], Any]]


def routes(sandbox: Sandbox, codat: Wrap, steering: Wrap) -> list[Route]:
    from .app import bad_request, json_response, read_json, read_object  # app imports this module lazily

    expenses = sandbox.expenses

    def transactions_of(body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list) or not 1 <= len(body) <= MAX_TRANSACTIONS:
            raise bad_request(f"The request body must be an array of 1 to {MAX_TRANSACTIONS} transactions.",
                              "Transactions", "Expenses")
        seen: set[str] = set()
        for index, item in enumerate(body):
            if not isinstance(item, dict) or not is_uuid(item.get("id")):
                raise bad_request(f"Transaction {index + 1} must be an object with a uuid id.", f"[{index}].Id",
                                  "Expenses")
            if item["id"] in seen:
                raise bad_request(f"Transaction id {item['id']} is sent twice in this request.", f"[{index}].Id",
                                  "Expenses")
            seen.add(item["id"])
        return body

    def company_id(request: Request) -> str:
        return str(request.path_params["companyId"])

    async def partner_connection(request: Request) -> Response:
        return json_response(expenses.create_partner_connection(company_id(request)))

    async def get_config(request: Request) -> Response:
        return json_response(expenses.config(company_id(request)))

    async def post_config(request: Request) -> Response:
        return json_response(expenses.set_config(company_id(request), await read_object(request)))

    async def mapping_options(request: Request) -> Response:
        return json_response(expenses.mapping_options(company_id(request)))

    def create(reimbursable: bool) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            sandbox.state.company(company_id(request))
            transactions = transactions_of(await read_json(request))
            return json_response({"syncId": expenses.create(company_id(request), transactions,
                                                            reimbursable=reimbursable)})
        return handler

    async def update(request: Request) -> Response:
        body = await read_object(request)
        return json_response({"syncId": expenses.update(company_id(request), request.path_params["transactionId"],
                                                        body)}, 202)

    async def sync_status(request: Request) -> Response:
        return json_response(expenses.sync_status(company_id(request), request.path_params["syncId"]))

    async def latest(request: Request) -> Response:
        return json_response(expenses.latest(company_id(request), successful=False))

    async def last_successful(request: Request) -> Response:
        return json_response(expenses.latest(company_id(request), successful=True))

    async def list_statuses(request: Request) -> Response:
        return json_response(expenses.sync_statuses(company_id(request)))

    async def sync_transactions(request: Request) -> Response:
        records = expenses.sync_transactions(company_id(request), request.path_params["syncId"])
        return json_response(paged(records, request.url.path, request.query_params, TRANSACTION_FIELDS,
                                   "Transaction", overlap=sandbox.config.page_overlap))

    async def sync_transaction(request: Request) -> Response:
        # spec: TransactionResponse is an array of Transaction
        return json_response([expenses.sync_transaction(company_id(request), request.path_params["syncId"],
                                                        request.path_params["transactionId"])])

    async def uploaded_file(request: Request, field: str | None = "file") -> tuple[str, bytes]:
        """The uploaded part: the one named ``field``, or (None) the first part (the Accounting spec names none)."""
        try:
            files = form_files(request.headers.get("content-type", ""), await request.body())
        except ValueError as error:
            raise bad_request(str(error), "File", "Expenses") from None
        if field is None and files:
            return next(iter(files.values()))
        if field not in files:
            raise bad_request("The multipart body must have a file part named 'file'.", "File", "Expenses")
        return files[field]

    async def upload(request: Request) -> Response:
        filename, content = await uploaded_file(request)
        return json_response(expenses.attach(company_id(request), request.path_params["syncId"],
                                             request.path_params["transactionId"], filename, content))

    async def expense_bookings(request: Request) -> Response:
        return json_response({"results": expenses.bookings(company_id(request))})

    company = "/companies/{companyId}"
    base = company + "/sync/expenses"
    syncs = base + "/syncs"
    return [
        Route(base + "/connections/partnerExpense", codat(partner_connection), methods=["POST"]),
        Route(base + "/config", codat(get_config), methods=["GET"]),
        Route(base + "/config", codat(post_config), methods=["POST"]),
        Route(base + "/mappingOptions", codat(mapping_options), methods=["GET"]),
        Route(base + "/expense-transactions", codat(create(False), push=True), methods=["POST"]),
        Route(base + "/expense-transactions/{transactionId}", codat(update, push=True), methods=["PUT"]),
        Route(base + "/reimbursable-expense-transactions", codat(create(True), push=True), methods=["POST"]),
        Route(syncs + "/latest/status", codat(latest), methods=["GET"]),
        Route(syncs + "/lastSuccessful/status", codat(last_successful), methods=["GET"]),
        Route(syncs + "/list/status", codat(list_statuses), methods=["GET"]),
        Route(syncs + "/{syncId}/status", codat(sync_status), methods=["GET"]),
        Route(syncs + "/{syncId}/transactions", codat(sync_transactions), methods=["GET"]),
        Route(syncs + "/{syncId}/transactions/{transactionId}", codat(sync_transaction), methods=["GET"]),
        Route(syncs + "/{syncId}/transactions/{transactionId}/attachments", codat(upload), methods=["POST"]),
        Route("/_sandbox/companies/{companyId}/expense-bookings", steering(expense_bookings), methods=["GET"]),
    ]
