"""The sandbox's Starlette app: Codat's paths plus ``/_sandbox/...`` steering endpoints.

Codat paths require ``Authorization: Basic <base64(api key)>`` (401 otherwise) and go
through, in this order: auth, ``Idempotency-Key`` (POST/PATCH: a kept answer is replayed, 409 while
the first request is in progress, 422 for another body; see ``sandbox.idempotency``), the daily
quota (429), the per-company concurrency limit (429 + ``Retry-After``), ``latency``, ``error_rate``
(500/503 before any side effect), ``throttle_rate`` (429 before any side effect), then the handler;
after it (and after the answer is kept under its key), ``push_drop_rate`` (push POSTs only: the answer
of a push that took effect is lost), ``timeout_rate`` (the answer comes ``stall_seconds`` late) or
``reset_rate`` (the connection drops mid-answer). Lists honour ``page_overlap``.
Every Codat response carries ``X-Rate-Limit-Limit/-Remaining/-Reset``.
Errors use Codat's ErrorMessage body.

Error choices where Codat's docs are silent:
* unknown company -> 404 (service ClientsApi); unknown connection -> 404;
* push to a connection that is not ``Linked`` -> 400 "Data connection ... is <status>";
* body that is not JSON, or not an object -> 400; bad ``timeoutInMinutes`` -> 400;
* malformed ``query``/``orderBy`` or unknown property -> 400 (service ClientsApi);
* options for a data type other than directCosts/chartOfAccounts/suppliers -> 404.

``/_sandbox/...`` paths need no auth (loopback steering for scripts and tests).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import attachments, expenses_api, profiles
from . import reference_data as ref
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import METHODS as IDEMPOTENT_METHODS
from .idempotency import IdempotencyCache, StoredAnswer
from .jsonio import dump_bytes, loads
from .query import QueryError, paged
from .state import ApiError

if TYPE_CHECKING:
    from .core import Sandbox

Handler = Callable[[Request], Awaitable[Response]]

DATA_TYPES = (
    "accountTransactions", "balanceSheet", "bankAccounts", "bankTransactions", "billCreditNotes", "billPayments",
    "bills", "cashFlowStatement", "chartOfAccounts", "company", "creditNotes", "customers", "directCosts",
    "directIncomes", "invoices", "itemReceipts", "items", "journalEntries", "journals", "paymentMethods",
    "payments", "profitAndLoss", "purchaseOrders", "salesOrders", "suppliers", "taxRates", "trackingCategories",
    "transfers",
)

COMPANY_FIELDS = {"id", "name", "description", "redirect", "lastSync", "created", "createdByUserName", "products",
                  "tags", "dataConnections"}
CONNECTION_FIELDS = {"id", "integrationId", "integrationKey", "sourceId", "sourceType", "platformName", "linkUrl",
                     "status", "lastSync", "created", "dataConnectionErrors", "connectionInfo"}
ACCOUNT_FIELDS = {"id", "nominalCode", "name", "description", "fullyQualifiedCategory", "fullyQualifiedName",
                  "currency", "currentBalance", "type", "status", "isBankAccount", "validDatatypeLinks", "metadata",
                  "modifiedDate", "sourceModifiedDate"}
SUPPLIER_FIELDS = {"id", "supplierName", "contactName", "emailAddress", "phone", "addresses", "registrationNumber",
                   "taxNumber", "status", "defaultCurrency", "metadata", "modifiedDate", "sourceModifiedDate"}
TAX_RATE_FIELDS = {"id", "name", "code", "status", "effectiveTaxRate", "totalTaxRate", "components",
                   "validDatatypeLinks", "metadata", "modifiedDate", "sourceModifiedDate"}
TRACKING_CATEGORY_FIELDS = {"id", "name", "status", "parentId", "hasChildren", "modifiedDate", "sourceModifiedDate"}
BANK_ACCOUNT_FIELDS = {"id", "accountName", "accountType", "nominalCode", "sortCode", "accountNumber", "iBan",
                       "currency", "balance", "institution", "availableBalance", "overdraftLimit", "metadata",
                       "modifiedDate", "sourceModifiedDate"}
PUSH_FIELDS = {"changes", "dataType", "companyId", "pushOperationKey", "dataConnectionKey", "requestedOnUtc",
               "completedOnUtc", "timeoutInMinutes", "status", "errorMessage", "validation", "statusCode"}

_COMPANY_NAME_ALLOWED = re.compile(r"[^A-Za-z0-9\s\-',&@.?!]")


# -- responses --------------------------------------------------------------------------

def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump_bytes(body), status_code=status, headers=headers, media_type="application/json")


def error_body(status: int, message: str, service: str = "PublicApi",
               validation: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "service": service,
        "error": message,
        "correlationId": secrets.token_hex(16),
        "validation": validation,
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
    }


class DroppedConnection(Response):
    """Starts an answer and stops: the server closes the connection mid-response, as a reset would."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})


def error_response(error: ApiError) -> Response:
    return json_response(error_body(error.status, error.message, error.service, error.validation),
                         error.status, error.headers)


def _validation(item_id: str, message: str, validator: str) -> dict[str, Any]:
    return {"errors": [{"itemId": item_id, "message": message, "validatorName": validator}], "warnings": []}


def bad_request(message: str, item_id: str | None = None, validator: str = "Request") -> ApiError:
    validation = _validation(item_id, message, validator) if item_id else None
    return ApiError(400, message, validation=validation)


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Error processing request - not valid. The request body is not valid JSON.") from None


async def read_object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("Error processing request - not valid. The request body must be a JSON object.")
    return body


# -- the app ----------------------------------------------------------------------------

def build_app(sandbox: Sandbox) -> Starlette:
    state = sandbox.state

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(decoded, sandbox.api_key)

    def codat(handler: Handler, *, push: bool = False) -> Handler:
        """Auth, Idempotency-Key, quota, concurrency, latency and fault injection around a Codat endpoint."""

        async def limited(request: Request) -> Response:
            scope = request.path_params.get("companyId", "client")
            sandbox.limiter.acquire(scope)
            try:
                if sandbox.config.latency > 0:
                    await asyncio.sleep(sandbox.config.latency)
                if sandbox.config.error_rate > 0 and sandbox.api_roll() < sandbox.config.error_rate:
                    if sandbox.api_roll() < 0.5:
                        raise ApiError(500, "There is a problem with our server. Please try again later.")
                    raise ApiError(503, "The Codat API is temporarily offline for maintenance. Please try again later.")
                if sandbox.config.throttle_rate > 0 and sandbox.api_roll() < sandbox.config.throttle_rate:
                    raise ApiError(429, "You have made too many requests in a given amount of time; please retry "
                                        "later.", headers={"Retry-After": "1"})
                return await handler(request)
            finally:
                sandbox.limiter.release(scope)

        async def guarded(request: Request) -> Response:
            key: str | None = None
            took_effect = False
            try:
                if not authorized(request):
                    raise ApiError(401, "Unauthorized")
                key, replay = await idempotency_begin(request)
                if replay is not None:
                    response = Response(replay.body, status_code=replay.status, headers=dict(replay.headers))
                    took_effect = 200 <= replay.status < 300
                else:
                    response = await limited(request)
                    took_effect = True
            except ApiError as error:
                response = error_response(error)
            except QueryError as error:
                response = error_response(ApiError(400, str(error), service="ClientsApi"))
            except BaseException:
                if key is not None:
                    sandbox.idempotency.release(key)  # the app's own failure: nothing to replay
                raise
            if key is not None:
                if response.status_code == 429:  # not kept: the key is released (see sandbox.idempotency)
                    sandbox.idempotency.release(key)
                else:
                    sandbox.idempotency.finish(key, StoredAnswer(
                        response.status_code,
                        [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"],
                        bytes(response.body)))
            if took_effect:
                # The request took effect; now its answer is late or lost.
                config = sandbox.config
                if push and 200 <= response.status_code < 300 and config.push_drop_rate > 0 \
                        and sandbox.api_roll() < config.push_drop_rate:
                    sandbox.dropped_push_answers += 1
                    if config.push_drop_mode == "reset":
                        return DroppedConnection()
                    await asyncio.sleep(config.stall_seconds)
                elif config.timeout_rate > 0 and sandbox.api_roll() < config.timeout_rate:
                    await asyncio.sleep(config.stall_seconds)
                elif config.reset_rate > 0 and sandbox.api_roll() < config.reset_rate:
                    return DroppedConnection()
            response.headers.update(sandbox.limiter.headers())
            return response

        return guarded

    async def idempotency_begin(request: Request) -> tuple[str | None, StoredAnswer | None]:
        """(key now in progress, None), (None, answer to replay) or (None, None) without the header."""
        values = request.headers.getlist(IDEMPOTENCY_HEADER)
        if not values or request.method not in IDEMPOTENT_METHODS:
            return None, None
        if len(values) > 1:
            raise bad_request("Only one Idempotency-Key header may be sent.", "Idempotency-Key", "Idempotency")
        key = values[0].strip()
        if not IdempotencyCache.valid_key(key):
            raise bad_request("The Idempotency-Key header must be a GUID.", "Idempotency-Key", "Idempotency")
        body = await request.body()
        found = sandbox.idempotency.begin(key, IdempotencyCache.fingerprint(request.method, request.url.path, body))
        if found == 409:
            raise ApiError(409, "A request with this Idempotency-Key is still in progress.")
        if found == 422:
            raise ApiError(422, "This Idempotency-Key was already used with a different request.")
        if isinstance(found, StoredAnswer):
            return None, found
        return key, None

    def page(request: Request, records: list[dict[str, Any]], fields: set[str], type_name: str) -> Response:
        return json_response(paged(records, request.url.path, request.query_params, fields, type_name,
                                   overlap=sandbox.config.page_overlap))

    # -- companies and connections -------------------------------------------------------

    async def list_companies(request: Request) -> Response:
        with state.lock:
            records = [state.company_json(company_id) for company_id in state.companies]
        return page(request, records, COMPANY_FIELDS, "Company")

    async def create_company(request: Request) -> Response:
        body = await read_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not _COMPANY_NAME_ALLOWED.sub("", name).strip():
            raise bad_request("Company name must be provided.", "Company", "CreateCompany")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise bad_request("Company description must be a string.", "Company", "CreateCompany")
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, dict) or len(tags) > 10
                                 or not all(isinstance(v, str) and len(v) <= 100 for v in tags.values())):
            raise bad_request("Company tags must be at most 10 string values of up to 100 characters.",
                              "Company", "CreateCompany")
        company = sandbox.create_company(_COMPANY_NAME_ALLOWED.sub("", name).strip(), description, tags)
        return json_response(company)

    async def get_company(request: Request) -> Response:
        return json_response(state.company_json(request.path_params["companyId"]))

    async def update_company(request: Request) -> Response:
        """Update company (Codat-Platform.json ``update-company``): fields left out or null are kept;
        ``tags`` replaces the company's tags (at most 10, codat-docs docs/using-the-api/managing-companies.md)."""
        data = state.company(request.path_params["companyId"])
        body = await read_object(request)
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, dict) or len(tags) > 10
                                 or not all(isinstance(v, str) and len(v) <= 100 for v in tags.values())):
            raise bad_request("Company tags must be at most 10 string values of up to 100 characters.",
                              "Company", "UpdateCompany")
        with state.lock:
            for field_name in ("name", "description"):
                if isinstance(body.get(field_name), str):
                    data.company[field_name] = body[field_name]
            if tags is not None:
                data.company["tags"] = dict(tags)
        return json_response(state.company_json(request.path_params["companyId"]))

    async def list_connections(request: Request) -> Response:
        data = state.company(request.path_params["companyId"])
        with state.lock:
            records = [dict(c) for c in data.connections.values()]
        return page(request, records, CONNECTION_FIELDS, "Connection")

    async def create_connection(request: Request) -> Response:
        company_id = request.path_params["companyId"]
        state.company(company_id)
        body = await read_object(request)
        platform_key = body.get("platformKey")
        if not isinstance(platform_key, str) or not platform_key:
            raise bad_request("platformKey must be provided.", "PlatformKey", "CreateConnection")
        return json_response(sandbox.create_connection(company_id, platform_key))

    async def get_connection(request: Request) -> Response:
        return json_response(dict(state.connection(request.path_params["companyId"], request.path_params["connectionId"])))

    async def patch_connection(request: Request) -> Response:
        company_id, connection_id = request.path_params["companyId"], request.path_params["connectionId"]
        state.connection(company_id, connection_id)
        body = await read_object(request)
        if body.get("status") != "Unlinked":
            raise bad_request("Only {\"status\": \"Unlinked\"} is supported when updating a connection.",
                              "Status", "UpdateConnectionStatus")
        return json_response(sandbox.set_connection_status(company_id, connection_id, "Unlinked"))

    # -- reference data --------------------------------------------------------------------

    async def get_company_info(request: Request) -> Response:
        return json_response(state.company_info(request.path_params["companyId"]))

    async def list_accounts(request: Request) -> Response:
        return page(request, state.cached_accounts(request.path_params["companyId"]), ACCOUNT_FIELDS, "Account")

    async def get_account(request: Request) -> Response:
        account_id = request.path_params["accountId"]
        for account in state.cached_accounts(request.path_params["companyId"]):
            if account["id"] == account_id:
                return json_response(account)
        raise ApiError(404, f"No account was found with ID {account_id}")

    def _records(request: Request, attribute: str) -> list[dict[str, Any]]:
        data = state.company(request.path_params["companyId"])
        with state.lock:
            return [dict(record) for record in getattr(data, attribute).values()]

    async def list_suppliers(request: Request) -> Response:
        return page(request, state.cached_suppliers(request.path_params["companyId"]), SUPPLIER_FIELDS, "Supplier")

    async def get_supplier(request: Request) -> Response:
        return _one(state.cached_suppliers(request.path_params["companyId"]), request.path_params["supplierId"],
                    "supplier")

    async def list_tax_rates(request: Request) -> Response:
        return page(request, _records(request, "tax_rates"), TAX_RATE_FIELDS, "TaxRate")

    async def get_tax_rate(request: Request) -> Response:
        return _one(_records(request, "tax_rates"), request.path_params["taxRateId"], "tax rate")

    async def list_tracking_categories(request: Request) -> Response:
        return page(request, _records(request, "tracking_categories"), TRACKING_CATEGORY_FIELDS, "TrackingCategory")

    async def get_tracking_category(request: Request) -> Response:
        return _one(_records(request, "tracking_categories"), request.path_params["trackingCategoryId"],
                    "tracking category")

    def _bank_accounts(request: Request) -> list[dict[str, Any]]:
        company_id = request.path_params["companyId"]
        state.connection(company_id, request.path_params["connectionId"])
        return [ref.bank_account_view(a) for a in state.cached_accounts(company_id) if a["isBankAccount"]]

    async def list_bank_accounts(request: Request) -> Response:
        return page(request, _bank_accounts(request), BANK_ACCOUNT_FIELDS, "BankAccount")

    async def get_bank_account(request: Request) -> Response:
        return _one(_bank_accounts(request), request.path_params["accountId"], "bank account")

    async def get_direct_cost(request: Request) -> Response:
        # Codat's cache: a written direct cost shows after a sync of directCosts (see state.refresh_cache).
        company_id = request.path_params["companyId"]
        state.connection(company_id, request.path_params["connectionId"])
        return _one(state.cached_direct_costs(company_id), request.path_params["directCostId"], "direct cost")

    def _one(records: list[dict[str, Any]], record_id: str, label: str) -> Response:
        for record in records:
            if record["id"] == record_id:
                return json_response(record)
        raise ApiError(404, f"No {label} was found with ID {record_id}")

    async def queue_refresh(request: Request) -> Response:
        company_id = request.path_params["companyId"]
        data_type = request.path_params.get("dataType", "all")
        data = state.company(company_id)
        if data_type != "all" and data_type not in DATA_TYPES:
            raise bad_request(f"Unknown data type {data_type}.", "DataType", "RefreshDataType")
        state.refresh_cache(company_id, data_type)
        if data_type == "all":
            return Response(status_code=204)
        with state.lock:
            connection_id = request.query_params.get("connectionId") or next(iter(data.connections), sandbox.connection_id)
        now = data.company["lastSync"]
        return json_response({
            "id": state.ids.uuid(), "companyId": company_id, "connectionId": connection_id, "dataType": data_type,
            "status": "Complete", "statusDescription": None, "errorMessage": None, "requested": now, "completed": now,
            "progress": 100, "isCompleted": True, "isErrored": False,
        })

    async def push_options(request: Request) -> Response:
        connection = state.connection(request.path_params["companyId"], request.path_params["connectionId"])
        data_type = request.path_params["dataType"]
        profile = profiles.profile_for(connection["integrationKey"])
        model = profiles.options(profile, data_type)
        if model is None:
            raise ApiError(404, f"Data type {data_type} is not supported for writes by the {profile.name} sandbox "
                                "integration.")
        return json_response(model)

    # -- push --------------------------------------------------------------------------------

    def push_handler(data_type: str) -> Handler:
        async def create(request: Request) -> Response:
            company_id, connection_id = request.path_params["companyId"], request.path_params["connectionId"]
            connection = state.connection(company_id, connection_id)
            if connection["status"] != "Linked":
                raise ApiError(400, f"Data connection {connection_id} is {connection['status']}; "
                                    "it must be Linked before data can be written.")
            timeout = request.query_params.get("timeoutInMinutes")
            try:
                timeout_in_minutes = int(timeout) if timeout not in (None, "") else None
            except ValueError:
                raise bad_request("timeoutInMinutes must be an integer.", "TimeoutInMinutes") from None
            if timeout_in_minutes is not None and timeout_in_minutes < 0:
                raise bad_request("timeoutInMinutes must not be negative.", "TimeoutInMinutes")
            allow_sync = request.query_params.get("allowSyncOnPushComplete", "true").lower()
            if allow_sync not in ("true", "false"):
                raise bad_request("allowSyncOnPushComplete must be true or false.", "AllowSyncOnPushComplete")
            body = await read_object(request)
            return json_response(sandbox.request_push(company_id, connection_id, data_type, body, timeout_in_minutes,
                                                      allow_sync=allow_sync == "true"))

        return create

    async def list_push(request: Request) -> Response:
        company_id = request.path_params["companyId"]
        state.company(company_id)
        with state.lock:
            records = [r.to_json() for r in state.push_operations.values() if r.company_id == company_id]
        return page(request, records, PUSH_FIELDS, "PushOperation")

    async def get_push(request: Request) -> Response:
        record = state.push_operation(request.path_params["companyId"], request.path_params["pushOperationKey"])
        with state.lock:
            return json_response(record.to_json())

    # -- webhook consumers ---------------------------------------------------------------

    async def list_webhooks(request: Request) -> Response:
        with state.lock:
            return json_response({"results": [c.to_json() for c in state.consumers.values()]})

    async def create_webhook(request: Request) -> Response:
        body = await read_object(request)
        url = body.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad_request("url must be an absolute http(s) URL.", "Url", "WebhookConsumer")
        event_types = body.get("eventTypes", [])
        if not isinstance(event_types, list) or not all(isinstance(e, str) and e for e in event_types):
            raise bad_request("eventTypes must be an array of event type names.", "EventTypes", "WebhookConsumer")
        disabled = body.get("disabled") or False
        if not isinstance(disabled, bool):
            raise bad_request("disabled must be true or false.", "Disabled", "WebhookConsumer")
        tags = body.get("companyTags")
        if tags is not None and (not isinstance(tags, list) or len(tags) > 10 or not all(
                isinstance(t, str) and 0 < len(t) <= 128 and ":" in t for t in tags)):
            raise bad_request("companyTags must be at most 10 'tagKey:tagValue' strings.", "CompanyTags", "WebhookConsumer")
        created = sandbox.add_webhook_consumer(url, event_types, disabled=disabled, company_tags=tags)
        created.pop("secret")  # Codat's API never returns the signing secret
        return json_response(created, 201)

    async def delete_webhook(request: Request) -> Response:
        sandbox.delete_webhook_consumer(request.path_params["webhookId"])
        return Response(status_code=204)

    # -- /_sandbox steering ----------------------------------------------------------------

    def steering(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as error:
                return error_response(error)
            except (ValueError, KeyError) as error:
                return json_response({"error": str(error)}, 400)
        return wrapped

    async def sandbox_info(request: Request) -> Response:
        return json_response({
            "apiKey": sandbox.api_key,
            "authorization": "Basic " + base64.b64encode(sandbox.api_key.encode()).decode(),
            "companyId": sandbox.company_id,
            "connectionId": sandbox.connection_id,
            "pendingPushOperations": state.pending_count(),
            "activeDeliveries": sandbox.deliverer.active,
            "config": sandbox.config.to_json(),
        })

    async def get_config(request: Request) -> Response:
        return json_response(sandbox.config.to_json())

    async def post_config(request: Request) -> Response:
        try:
            changes = json.loads(await request.body() or b"{}")
        except ValueError:
            return json_response({"error": "body must be a JSON object"}, 400)
        if not isinstance(changes, dict):
            return json_response({"error": "body must be a JSON object"}, 400)
        sandbox.config.update(changes)
        return json_response(sandbox.config.to_json())

    async def post_connection_status(request: Request) -> Response:
        body = await read_object(request)
        connection = sandbox.set_connection_status(request.path_params["companyId"],
                                                   request.path_params["connectionId"], str(body.get("status")))
        return json_response(connection)

    async def consumer_secret(request: Request) -> Response:
        consumer_id = request.path_params["webhookId"]
        try:
            return json_response({"id": consumer_id, "secret": sandbox.consumer_secret(consumer_id)})
        except KeyError:
            return json_response({"error": f"no webhook consumer {consumer_id}"}, 404)

    async def sandbox_ledger(request: Request) -> Response:
        return json_response({"results": sandbox.ledger(request.path_params["companyId"])})

    async def sandbox_bookings(request: Request) -> Response:
        return json_response({"results": sandbox.bookings(request.path_params["companyId"])})

    async def post_base_currency(request: Request) -> Response:
        body = await read_object(request)
        sandbox.set_base_currency(str(body.get("baseCurrency")), request.path_params["companyId"])
        return json_response(state.company_info(request.path_params["companyId"]))

    async def sandbox_deliveries(request: Request) -> Response:
        return json_response(sandbox.deliverer.log.to_json())

    async def wait_idle(request: Request) -> Response:
        timeout = float(request.query_params.get("timeout", "10"))
        idle = await asyncio.get_running_loop().run_in_executor(None, sandbox.wait_idle, timeout)
        return json_response({"idle": idle})

    # -- routes ----------------------------------------------------------------------------

    company = "/companies/{companyId}"
    connection = company + "/connections/{connectionId}"
    routes = [
        Route("/companies", codat(list_companies), methods=["GET"]),
        Route("/companies", codat(create_company), methods=["POST"]),
        Route(company, codat(get_company), methods=["GET"]),
        Route(company, codat(update_company), methods=["PATCH"]),
        Route(company + "/connections", codat(list_connections), methods=["GET"]),
        Route(company + "/connections", codat(create_connection), methods=["POST"]),
        Route(connection, codat(get_connection), methods=["GET"]),
        Route(connection, codat(patch_connection), methods=["PATCH"]),
        Route(company + "/data/info", codat(get_company_info), methods=["GET"]),
        Route(company + "/data/accounts", codat(list_accounts), methods=["GET"]),
        Route(company + "/data/accounts/{accountId}", codat(get_account), methods=["GET"]),
        Route(company + "/data/suppliers", codat(list_suppliers), methods=["GET"]),
        Route(company + "/data/suppliers/{supplierId}", codat(get_supplier), methods=["GET"]),
        Route(company + "/data/taxRates", codat(list_tax_rates), methods=["GET"]),
        Route(company + "/data/taxRates/{taxRateId}", codat(get_tax_rate), methods=["GET"]),
        Route(company + "/data/trackingCategories", codat(list_tracking_categories), methods=["GET"]),
        Route(company + "/data/trackingCategories/{trackingCategoryId}", codat(get_tracking_category),
              methods=["GET"]),
        Route(company + "/data/queue/{dataType}", codat(queue_refresh), methods=["POST"]),
        Route(company + "/data/all", codat(queue_refresh), methods=["POST"]),
        Route(connection + "/data/bankAccounts", codat(list_bank_accounts), methods=["GET"]),
        Route(connection + "/data/bankAccounts/{accountId}", codat(get_bank_account), methods=["GET"]),
        Route(connection + "/data/directCosts/{directCostId}", codat(get_direct_cost), methods=["GET"]),
        Route(connection + "/options/{dataType}", codat(push_options), methods=["GET"]),
        Route(connection + "/push/directCosts", codat(push_handler("directCosts"), push=True), methods=["POST"]),
        Route(connection + "/push/accounts", codat(push_handler("chartOfAccounts"), push=True), methods=["POST"]),
        Route(connection + "/push/suppliers", codat(push_handler("suppliers"), push=True), methods=["POST"]),
        Route(company + "/push", codat(list_push), methods=["GET"]),
        Route(company + "/push/{pushOperationKey}", codat(get_push), methods=["GET"]),
        Route("/webhooks", codat(list_webhooks), methods=["GET"]),
        Route("/webhooks", codat(create_webhook), methods=["POST"]),
        Route("/webhooks/{webhookId}", codat(delete_webhook), methods=["DELETE"]),
        Route("/_sandbox", steering(sandbox_info), methods=["GET"]),
        Route("/_sandbox/config", steering(get_config), methods=["GET"]),
        Route("/_sandbox/config", steering(post_config), methods=["POST"]),
        Route("/_sandbox/companies/{companyId}/connections/{connectionId}/status",
              steering(post_connection_status), methods=["POST"]),
        Route("/_sandbox/webhooks/{webhookId}/secret", steering(consumer_secret), methods=["GET"]),
        Route("/_sandbox/companies/{companyId}/ledger", steering(sandbox_ledger), methods=["GET"]),
        Route("/_sandbox/companies/{companyId}/bookings", steering(sandbox_bookings), methods=["GET"]),
        Route("/_sandbox/companies/{companyId}/base-currency", steering(post_base_currency), methods=["POST"]),
        Route("/_sandbox/deliveries", steering(sandbox_deliveries), methods=["GET"]),
        Route("/_sandbox/wait-idle", steering(wait_idle), methods=["POST"]),
        *attachments.routes(sandbox, codat),
    ]
    routes += expenses_api.routes(sandbox, codat, steering)  # Sync for Expenses (sandbox/expenses.py)
    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {404: f"No resource was found at {request.url.path}", 405: "Method not allowed"}.get(
            status, "There is a problem with our server. Please try again later.")
        headers = None if request.url.path.startswith("/_sandbox") else sandbox.limiter.headers()
        return json_response(error_body(status, message), status, headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        return json_response(error_body(500, "There is a problem with our server. Please try again later."), 500)

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})
