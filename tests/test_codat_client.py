"""CodatClient against httpx.MockTransport: paths, errors, retries, paging, secrets.

No real time passes: every client gets a fake ``sleep`` that records the waits.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from codatdesk import jsonmoney
from codatdesk.codat import (
    CodatAuthError,
    CodatClient,
    CodatError,
    CodatNotFound,
    CodatRateLimited,
    CodatServerError,
    CodatUnavailable,
    PushOutcomeUnknown,
    RateLimitState,
)
from codatdesk.codat.ratelimit import parse_retry_after

API_KEY = "sk_test_Zm9vYmFyU2VjcmV0S2V5MTIz"
API_KEY_B64 = base64.b64encode(API_KEY.encode()).decode()
COMPANY = "8a210b68-6988-11ed-a1eb-0242ac120002"
CONNECTION = "2e9d2c44-f675-40ba-8049-353bfcb5e171"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a script and records requests."""

    def __init__(self, *answers: httpx.Response | BaseException | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


def ok(body: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    content = jsonmoney.dumps(body) if body is not None else b""
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json", **(headers or {})})


def codat_error(status: int, message: str = "boom", **extra: Any) -> httpx.Response:
    body = {
        "statusCode": status,
        "service": "PublicApi",
        "error": message,
        "correlationId": "corr-123",
        "validation": None,
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
    }
    headers = extra.pop("headers", {})
    body.update(extra)
    return ok(body, status=status, headers=headers)


PUSH_OPERATION = {
    "changes": [],
    "dataType": "directCosts",
    "companyId": COMPANY,
    "pushOperationKey": "c3a4ff16-7bdf-4b30-9d0c-4f3b0ea0b0b1",
    "dataConnectionKey": CONNECTION,
    "requestedOnUtc": "2024-05-01T10:00:00Z",
    "status": "Pending",
    "statusCode": 200,
}

DIRECT_COST = {
    "issueDate": "2024-05-01T00:00:00",
    "currency": "GBP",
    "lineItems": [
        {"unitAmount": Decimal("10.10"), "quantity": Decimal("3"), "accountRef": {"id": "400"},
         "subTotal": Decimal("30.30"), "taxAmount": Decimal("6.06"), "totalAmount": Decimal("36.36")}
    ],
    "paymentAllocations": [{"payment": {"accountRef": {"id": "090"}}, "allocation": {}}],
    "subTotal": Decimal("30.30"),
    "taxAmount": Decimal("6.06"),
    "totalAmount": Decimal("36.36"),
}


class Waits:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.reported: list[tuple[str, float]] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def on_wait(self, reason: str, seconds: float) -> None:
        self.reported.append((reason, seconds))


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def make_client(waits: Waits):
    clients: list[CodatClient] = []

    def make(handler: Handler, **kwargs: Any) -> CodatClient:
        kwargs.setdefault("sleep", waits.sleep)
        kwargs.setdefault("on_wait", waits.on_wait)
        client = CodatClient(API_KEY, "https://codat.test", transport=httpx.MockTransport(handler), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def push(client: CodatClient) -> dict:
    return client.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST)


# ---------------------------------------------------------------- auth header


def test_basic_auth_header_is_base64_of_the_key(make_client) -> None:
    rec = Recorder(ok({"id": COMPANY, "name": "Acme"}))
    make_client(rec).get_company(COMPANY)
    assert rec.requests[0].headers["Authorization"] == f"Basic {API_KEY_B64}"
    assert rec.requests[0].headers["Accept"] == "application/json"


def test_a_stored_basic_header_value_is_used_as_is() -> None:
    rec = Recorder(ok({"id": COMPANY}))
    with CodatClient(f"Basic {API_KEY_B64}", transport=httpx.MockTransport(rec)) as client:
        client.get_company(COMPANY)
    assert rec.requests[0].headers["Authorization"] == f"Basic {API_KEY_B64}"
    assert rec.requests[0].url.host == "api.codat.io"


def test_empty_key_and_empty_ids_are_refused(make_client) -> None:
    with pytest.raises(ValueError):
        CodatClient("  ")
    client = make_client(Recorder(ok({})))
    with pytest.raises(ValueError):
        client.get_company("")  # would otherwise hit GET /companies/ (the list)


def test_base_url_with_a_path_prefix_and_ids_are_quoted() -> None:
    rec = Recorder(ok({}))
    with CodatClient(API_KEY, "http://127.0.0.1:9/codat/", transport=httpx.MockTransport(rec)) as client:
        client.get_push_operation("a/b", "k?x")
    assert rec.requests[0].url.raw_path == b"/codat/companies/a%2Fb/push/k%3Fx"


# ---------------------------------------------------------------- every method: method, path, body


def _route_all(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if request.method == "DELETE":
        return httpx.Response(204)
    if request.method == "POST" and "/push/" in path:
        return ok(PUSH_OPERATION)
    if path == "/webhooks":
        return ok({"results": [{"id": "w1"}]}) if request.method == "GET" else ok({"id": "w1"}, status=201)
    if request.url.params.get("page"):
        return ok({"results": [{"id": "r1"}], "pageNumber": 1, "pageSize": 500, "totalResults": 1,
                   "_links": {"self": {"href": path}, "current": {"href": path}}})
    return ok({"id": "x"})


def test_every_method_uses_codats_paths(make_client) -> None:
    rec = Recorder(_route_all)
    c = make_client(rec)
    c.list_companies()
    c.get_company(COMPANY)
    c.list_connections(COMPANY)
    c.get_connection(COMPANY, CONNECTION)
    c.patch_connection(COMPANY, CONNECTION, "Unlinked")
    c.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, timeout_in_minutes=30)
    c.push_account(COMPANY, CONNECTION, {"name": "Travel", "nominalCode": "4100"})
    c.push_options(COMPANY, CONNECTION, "directCosts")
    c.list_accounts(COMPANY)
    c.list_suppliers(COMPANY)
    c.list_tax_rates(COMPANY)
    c.list_bank_accounts(COMPANY, CONNECTION)
    c.get_push_operation(COMPANY, "key-1")
    c.list_push_operations(COMPANY, query="dataType=directCosts", order_by="-requestedOnUtc")
    assert c.list_webhook_consumers() == [{"id": "w1"}]
    c.create_webhook_consumer("https://hooks.example/codat", ["directCosts.write.successful"], ["app:codatdesk"])
    assert c.delete_webhook_consumer("w1") is None

    cc = f"/companies/{COMPANY}/connections/{CONNECTION}"
    seen = [(r.method, r.url.path) for r in rec.requests]
    assert seen == [
        ("GET", "/companies"),
        ("GET", f"/companies/{COMPANY}"),
        ("GET", f"/companies/{COMPANY}/connections"),
        ("GET", cc),
        ("PATCH", cc),
        ("POST", f"{cc}/push/directCosts"),
        ("POST", f"{cc}/push/accounts"),
        ("GET", f"{cc}/options/directCosts"),
        ("GET", f"/companies/{COMPANY}/data/accounts"),
        ("GET", f"/companies/{COMPANY}/data/suppliers"),
        ("GET", f"/companies/{COMPANY}/data/taxRates"),
        ("GET", f"{cc}/data/bankAccounts"),
        ("GET", f"/companies/{COMPANY}/push/key-1"),
        ("GET", f"/companies/{COMPANY}/push"),
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("DELETE", "/webhooks/w1"),
    ]
    by_path = {(r.method, r.url.path): r for r in rec.requests}
    assert json.loads(by_path[("PATCH", cc)].content) == {"status": "Unlinked"}
    push_request = by_path[("POST", f"{cc}/push/directCosts")]
    assert push_request.url.params["timeoutInMinutes"] == "30"
    assert push_request.headers["Content-Type"] == "application/json"
    history = by_path[("GET", f"/companies/{COMPANY}/push")]
    assert history.url.params["query"] == "dataType=directCosts"
    assert history.url.params["orderBy"] == "-requestedOnUtc"
    assert json.loads(by_path[("POST", "/webhooks")].content) == {
        "url": "https://hooks.example/codat",
        "eventTypes": ["directCosts.write.successful"],
        "companyTags": ["app:codatdesk"],
    }
    assert "timeoutInMinutes" not in by_path[("POST", f"{cc}/push/accounts")].url.params


def test_consumer_without_company_tags_sends_no_company_tags(make_client) -> None:
    rec = Recorder(ok({"id": "w1"}, status=201))
    make_client(rec).create_webhook_consumer("https://h.example/x", ("connection.connected",))
    assert json.loads(rec.requests[0].content) == {"url": "https://h.example/x", "eventTypes": ["connection.connected"]}


# ---------------------------------------------------------------- Decimal money


def test_push_body_carries_exact_decimals_and_responses_parse_as_decimal(make_client) -> None:
    rec = Recorder(ok({**PUSH_OPERATION, "amount": Decimal("0.30")}))
    result = push(make_client(rec))
    raw = rec.requests[0].content
    assert b'"unitAmount":10.10' in raw and b'"totalAmount":36.36' in raw
    assert jsonmoney.loads(raw)["taxAmount"] == Decimal("6.06")
    assert result["amount"] == Decimal("0.30") and isinstance(result["amount"], Decimal)


# ---------------------------------------------------------------- paging


def _pager(total: int, page_size_seen: list[int], *, links: bool = True, totals: bool = True) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        size = int(request.url.params["pageSize"])
        page_size_seen.append(size)
        start = (page - 1) * size
        results = [{"id": str(i)} for i in range(start, min(start + size, total))]
        body: dict[str, Any] = {"results": results, "pageNumber": page, "pageSize": size}
        if totals:
            body["totalResults"] = total
        if links:
            body["_links"] = {"self": {"href": "/companies"}, "current": {"href": f"/companies?page={page}"}}
            if start + size < total:
                body["_links"]["next"] = {"href": f"/companies?page={page + 1}"}
        return ok(body)

    return handler


@pytest.mark.parametrize(
    "links,totals", [(True, True), (True, False), (False, True), (False, False)], ids=["both", "links", "totals", "neither"]
)
@pytest.mark.parametrize("total", [0, 1, 3, 7, 9])
def test_paging_collects_every_page(make_client, total: int, links: bool, totals: bool) -> None:
    sizes: list[int] = []
    rec = Recorder(_pager(total, sizes, links=links, totals=totals))
    client = make_client(rec, page_size=3)
    companies = client.list_companies()
    assert [c["id"] for c in companies] == [str(i) for i in range(total)]
    assert set(sizes) == {3}
    # No more requests than needed: one per page, plus at most one empty probe without metadata.
    pages = max(1, -(-total // 3))
    extra = 1 if (not links and not totals and total % 3 == 0 and total) else 0
    assert len(rec.requests) == pages + extra


def test_paging_keeps_query_parameters_on_every_page(make_client) -> None:
    sizes: list[int] = []
    rec = Recorder(_pager(5, sizes))
    make_client(rec, page_size=2).list_push_operations(COMPANY, query="status=Pending")
    assert [r.url.params["page"] for r in rec.requests] == ["1", "2", "3"]
    assert all(r.url.params["query"] == "status=Pending" for r in rec.requests)


# ---------------------------------------------------------------- error mapping


def test_validation_error_becomes_a_codat_error_with_details(make_client) -> None:
    validation = {"errors": [{"itemId": "NominalCode", "message": "Too long", "validatorName": "Account"}],
                  "warnings": [{"itemId": "Name", "message": "odd", "validatorName": "Account"}]}
    rec = Recorder(codat_error(400, "Validation failed", validation=validation))
    with pytest.raises(CodatError) as info:
        make_client(rec).push_account(COMPANY, CONNECTION, {"nominalCode": "12345678901"})
    error = info.value
    assert type(error) is CodatError
    assert error.status == 400
    assert error.correlation_id == "corr-123"
    assert error.validation_errors == validation["errors"]
    assert error.validation_warnings == validation["warnings"]
    assert error.body["service"] == "PublicApi"
    assert error.processed is False
    assert error.can_be_retried == "Unknown" and error.detailed_error_code == 0
    assert "Validation failed" in error.message and "NominalCode" in error.message and "corr-123" in str(error)
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    "status,cls",
    [(401, CodatAuthError), (403, CodatAuthError), (404, CodatNotFound), (402, CodatError),
     (409, CodatError), (422, CodatError)],
)
def test_client_errors_map_to_types_and_are_not_retried(make_client, waits: Waits, status: int, cls: type) -> None:
    rec = Recorder(codat_error(status, f"status {status} text"))
    with pytest.raises(CodatError) as info:
        make_client(rec).get_company(COMPANY)
    assert type(info.value) is cls
    assert info.value.status == status
    assert f"status {status} text" in info.value.message
    assert len(rec.requests) == 1 and waits.sleeps == []


def test_http_status_wins_over_the_bodys_status_code(make_client) -> None:
    # Codat's own spec examples put statusCode 500 in a 503 body and 429 in a 402 body.
    rec = Recorder(codat_error(402, "Free plan limit", statusCode=429))
    with pytest.raises(CodatError) as info:
        make_client(rec).list_companies()
    assert type(info.value) is CodatError and info.value.status == 402


def test_non_json_error_body_still_gives_a_useful_message(make_client) -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
    rec = Recorder(httpx.Response(502, content=html, headers={"Content-Type": "text/html"}))
    with pytest.raises(CodatServerError) as info:
        make_client(rec, max_retries=0).get_company(COMPANY)
    assert "502" in info.value.message and "Bad Gateway" in info.value.message
    assert info.value.body == html.decode()
    assert info.value.correlation_id is None and info.value.validation_errors == []

    rec = Recorder(httpx.Response(418, content=b"  I am a\n teapot  "))
    with pytest.raises(CodatError) as info:
        make_client(rec).get_company(COMPANY)
    assert "I am a teapot" in info.value.message

    rec = Recorder(httpx.Response(404, content=b""))
    with pytest.raises(CodatNotFound) as info:
        make_client(rec).get_company(COMPANY)
    assert "404" in info.value.message and f"/companies/{COMPANY}" in info.value.message


def test_unreadable_success_body_on_a_get_is_a_codat_error(make_client) -> None:
    rec = Recorder(httpx.Response(200, content=b"<html>maintenance page</html>"))
    with pytest.raises(CodatError, match="not JSON"):
        make_client(rec).get_company(COMPANY)


def test_redirects_are_not_followed(make_client) -> None:
    rec = Recorder(httpx.Response(302, headers={"Location": "https://elsewhere.example/"}))
    with pytest.raises(CodatError) as info:
        make_client(rec).get_company(COMPANY)
    assert info.value.status == 302 and len(rec.requests) == 1


# ---------------------------------------------------------------- Retry-After and 429


def test_parse_retry_after_seconds_and_http_dates() -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    clock = lambda: now  # noqa: E731
    assert parse_retry_after("7", clock) == 7.0
    assert parse_retry_after(" 2.5 ", clock) == 2.5
    assert parse_retry_after("-3", clock) == 0.0
    in_90s = email.utils.format_datetime(now + dt.timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(in_90s, clock) == 90.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", clock) == 0.0  # in the past
    for junk in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(junk, clock) is None


def test_429_waits_for_retry_after_then_retries(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(429, "Too many", headers={"Retry-After": "3"}), ok({"id": COMPANY}))
    assert make_client(rec).get_company(COMPANY) == {"id": COMPANY}
    assert waits.sleeps == [3.0]
    assert waits.reported == [("rate limited", 3.0)]
    assert len(rec.requests) == 2


def test_429_with_an_http_date_retry_after(make_client, waits: Waits) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
    header = email.utils.format_datetime(when, usegmt=True)
    rec = Recorder(codat_error(429, headers={"Retry-After": header}), ok({"id": COMPANY}))
    make_client(rec).get_company(COMPANY)
    assert len(waits.sleeps) == 1 and 17 <= waits.sleeps[0] <= 21


def test_429_on_a_push_is_retried_because_it_was_not_processed(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(429, headers={"Retry-After": "1"}), ok(PUSH_OPERATION))
    assert push(make_client(rec))["pushOperationKey"] == PUSH_OPERATION["pushOperationKey"]
    assert len(rec.requests) == 2 and waits.reported == [("rate limited", 1.0)]
    assert rec.requests[0].content == rec.requests[1].content


def test_429_beyond_the_wait_budget_raises_without_waiting(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(429, "Daily quota used", headers={"Retry-After": "3600"}))
    with pytest.raises(CodatRateLimited) as info:
        make_client(rec, max_rate_limit_wait=60).get_company(COMPANY)
    assert info.value.retry_after == 3600.0
    assert info.value.status == 429 and info.value.processed is False
    assert "Daily quota used" in info.value.message
    assert waits.sleeps == [] and len(rec.requests) == 1


def test_429_total_wait_is_capped(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(429, headers={"Retry-After": "25"}))
    with pytest.raises(CodatRateLimited):
        make_client(rec, max_rate_limit_wait=60, max_retries=10).push_account(COMPANY, CONNECTION, {"name": "A"})
    assert waits.sleeps == [25.0, 25.0]  # a third 25 s wait would exceed 60 s
    assert len(rec.requests) == 3


def test_429_retries_are_bounded_even_with_zero_waits(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(429, headers={"Retry-After": "0"}))
    with pytest.raises(CodatRateLimited):
        make_client(rec, max_retries=4).get_company(COMPANY)
    assert len(rec.requests) == 5


def test_429_without_retry_after_backs_off(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(429), ok({"id": COMPANY}))
    make_client(rec, backoff_base=0.5).get_company(COMPANY)
    assert len(waits.sleeps) == 1 and 0.5 <= waits.sleeps[0] <= 1.0


# ---------------------------------------------------------------- safe request retries


def test_get_is_retried_with_exponential_backoff_on_5xx(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(500), codat_error(502), codat_error(503), ok({"id": COMPANY}))
    assert make_client(rec, backoff_base=0.5).get_company(COMPANY) == {"id": COMPANY}
    assert len(rec.requests) == 4
    assert [reason for reason, _ in waits.reported] == ["server error"] * 3
    for attempt, seconds in enumerate(waits.sleeps):
        base = 0.5 * 2**attempt
        assert base <= seconds <= base + 0.5


def test_get_gives_up_after_max_retries(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(500, "still broken"))
    with pytest.raises(CodatServerError) as info:
        make_client(rec, max_retries=3).list_accounts(COMPANY)
    assert len(rec.requests) == 4 and len(waits.sleeps) == 3
    assert info.value.status == 500 and "still broken" in info.value.message


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("timed out"), httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"),
     httpx.RemoteProtocolError("Server disconnected without sending a response."), httpx.ReadError("reset")],
)
def test_get_is_retried_on_network_errors(make_client, waits: Waits, exc: Exception) -> None:
    rec = Recorder(exc, ok({"id": COMPANY}))
    assert make_client(rec).get_company(COMPANY) == {"id": COMPANY}
    assert len(rec.requests) == 2 and waits.reported[0][0] == "network error"


def test_network_failure_after_retries_is_codat_unavailable(make_client, waits: Waits) -> None:
    rec = Recorder(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(CodatUnavailable) as info:
        make_client(rec, max_retries=2).get_company(COMPANY)
    assert len(rec.requests) == 3
    assert info.value.status is None and info.value.processed is False
    assert "Connection refused" in info.value.message
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_max_retries_zero_disables_retries(make_client, waits: Waits) -> None:
    rec = Recorder(httpx.ReadTimeout("timed out"))
    with pytest.raises(CodatUnavailable) as info:
        make_client(rec, max_retries=0).get_company(COMPANY)
    assert len(rec.requests) == 1 and waits.sleeps == [] and info.value.processed is None


def test_delete_consumer_is_retried_and_a_404_after_a_retry_means_deleted(make_client) -> None:
    rec = Recorder(httpx.ReadTimeout("lost the answer"), codat_error(404))
    assert make_client(rec).delete_webhook_consumer("w1") is None
    assert len(rec.requests) == 2
    rec = Recorder(codat_error(404, "no such consumer"))
    with pytest.raises(CodatNotFound):
        make_client(rec).delete_webhook_consumer("w1")


def test_on_wait_callback_failure_does_not_break_the_request(waits: Waits) -> None:
    def broken(reason: str, seconds: float) -> None:
        raise RuntimeError("ui went away")

    rec = Recorder(codat_error(503), ok({"id": COMPANY}))
    with CodatClient(API_KEY, transport=httpx.MockTransport(rec), sleep=waits.sleep, on_wait=broken) as client:
        assert client.get_company(COMPANY) == {"id": COMPANY}


# ---------------------------------------------------------------- pushes are never resent blindly


@pytest.mark.parametrize("status", [500, 502, 504, 507])
def test_push_5xx_is_resent_with_the_same_key_then_outcome_unknown(make_client, waits: Waits, status: int) -> None:
    rec = Recorder(codat_error(status, "upstream hiccup"))
    client = make_client(rec, max_retries=2)
    before = dt.datetime.now(dt.UTC)
    with pytest.raises(PushOutcomeUnknown) as info:
        push(client)
    error = info.value
    # Bounded, with backoff, under one key and the same bytes: Codat cannot make a second record of it.
    assert len(rec.requests) == 3 and len(waits.sleeps) == 2
    assert [reason for reason, _ in waits.reported] == ["server error", "server error"]
    assert len({r.headers["Idempotency-Key"] for r in rec.requests}) == 1
    assert len({r.content for r in rec.requests}) == 1
    assert error.data_type == "directCosts" and error.company_id == COMPANY and error.connection_id == CONNECTION
    assert before <= error.started_at <= dt.datetime.now(dt.UTC)
    assert isinstance(error.cause, CodatServerError) and error.cause.status == status
    assert error.status == status and error.correlation_id == "corr-123"
    assert error.processed is None
    assert "upstream hiccup" in error.message
    assert not isinstance(error, (CodatServerError, CodatUnavailable))  # must be handled deliberately


def test_push_5xx_then_an_answer_is_that_answer(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(502, "bad gateway"), ok(PUSH_OPERATION))
    assert push(make_client(rec))["pushOperationKey"] == PUSH_OPERATION["pushOperationKey"]
    assert len(rec.requests) == 2 and rec.requests[0].headers["Idempotency-Key"] == rec.requests[1].headers["Idempotency-Key"]


def test_push_5xx_then_422_is_outcome_unknown(make_client, waits: Waits) -> None:
    """After a 500 the first request may be in Codat: a 422 to the resend cannot say what it did."""
    rec = Recorder(codat_error(500), codat_error(422, "another body"))
    with pytest.raises(PushOutcomeUnknown):
        push(make_client(rec))


LOST_ANSWERS = [httpx.ReadTimeout("timed out"), httpx.ReadError("Connection reset by peer"),
                httpx.RemoteProtocolError("Server disconnected without sending a response."),
                httpx.WriteError("Broken pipe"), httpx.WriteTimeout("timed out")]


@pytest.mark.parametrize("exc", LOST_ANSWERS)
def test_a_push_whose_answer_was_lost_is_resent_with_the_same_key_and_bytes(make_client, waits: Waits,
                                                                             exc: Exception) -> None:
    rec = Recorder(exc, ok(PUSH_OPERATION))
    answer = make_client(rec).push_account(COMPANY, CONNECTION, {"name": "Travel"}, idempotency_key="k-1")
    assert answer["pushOperationKey"] == PUSH_OPERATION["pushOperationKey"]
    assert len(rec.requests) == 2 and len(waits.sleeps) == 1 and waits.reported[0][0] == "network error"
    assert [r.headers["Idempotency-Key"] for r in rec.requests] == ["k-1", "k-1"]
    assert rec.requests[0].content == rec.requests[1].content


@pytest.mark.parametrize("exc", LOST_ANSWERS)
def test_a_push_whose_answers_stay_lost_is_outcome_unknown_with_its_key(make_client, waits: Waits,
                                                                        exc: Exception) -> None:
    rec = Recorder(exc)
    with pytest.raises(PushOutcomeUnknown) as info:
        make_client(rec, max_retries=2).push_account(COMPANY, CONNECTION, {"name": "Travel"}, idempotency_key="k-2")
    assert len(rec.requests) == 3 and {r.headers["Idempotency-Key"] for r in rec.requests} == {"k-2"}
    assert info.value.data_type == "chartOfAccounts" and info.value.idempotency_key == "k-2"
    assert isinstance(info.value.cause, CodatUnavailable)
    assert info.value.__cause__ is exc


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("pool")])
def test_push_connect_failure_is_not_processed(make_client, waits: Waits, exc: Exception) -> None:
    rec = Recorder(exc, ok(PUSH_OPERATION))
    with pytest.raises(CodatUnavailable) as info:
        push(make_client(rec))
    assert info.value.processed is False
    assert not isinstance(info.value, PushOutcomeUnknown)
    assert len(rec.requests) == 1 and waits.sleeps == []


def test_push_503_is_resent_and_not_processed_when_it_stays(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(503, "Down for maintenance", statusCode=500), ok(PUSH_OPERATION))
    assert push(make_client(rec))["pushOperationKey"] == PUSH_OPERATION["pushOperationKey"]
    rec = Recorder(codat_error(503, "Down for maintenance", statusCode=500))
    with pytest.raises(CodatServerError) as info:
        push(make_client(rec, max_retries=1))
    assert info.value.status == 503 and info.value.processed is False
    assert len(rec.requests) == 2


@pytest.mark.parametrize(
    "response",
    [httpx.Response(200, content=b"<html>proxy page</html>"), httpx.Response(200, content=b""),
     ok({"status": "Pending"})],
    ids=["html", "empty", "no-key"],
)
def test_push_success_without_a_readable_push_operation_is_outcome_unknown(make_client, response) -> None:
    rec = Recorder(response)
    with pytest.raises(PushOutcomeUnknown) as info:
        push(make_client(rec))
    assert info.value.status == 200 and len(rec.requests) == 1


def test_push_4xx_is_a_plain_rejection(make_client) -> None:
    rec = Recorder(codat_error(404, "Data connection not found"))
    with pytest.raises(CodatNotFound) as info:
        push(make_client(rec))
    assert info.value.processed is False


@pytest.mark.parametrize(
    "answer,cls,processed",
    [(codat_error(500), CodatServerError, None),
     (codat_error(503), CodatServerError, False), (httpx.ConnectError("r"), CodatUnavailable, False)],
)
def test_creating_a_consumer_is_not_resent_after_an_error_answer(make_client, waits: Waits, answer, cls,
                                                                 processed) -> None:
    rec = Recorder(answer, ok({"id": "w1"}, status=201))
    with pytest.raises(cls) as info:
        make_client(rec).create_webhook_consumer("https://h.example/x", ["connection.connected"])
    assert type(info.value) is cls and info.value.processed is processed
    assert len(rec.requests) == 1 and waits.sleeps == []


def test_creating_a_consumer_whose_answer_was_lost_is_resent_with_the_same_key(make_client, waits: Waits) -> None:
    rec = Recorder(httpx.ReadTimeout("t"), ok({"id": "w1"}, status=201))
    assert make_client(rec).create_webhook_consumer("https://h.example/x", ["connection.connected"])["id"] == "w1"
    keys = [r.headers["Idempotency-Key"] for r in rec.requests]
    assert len(keys) == 2 and keys[0] == keys[1]


# ---------------------------------------------------------------- Idempotency-Key


def test_every_create_post_carries_an_idempotency_key_and_reads_do_not(make_client) -> None:
    import uuid

    rec = Recorder(lambda request: ok(PUSH_OPERATION) if request.method == "POST" else ok({"results": []}))
    client = make_client(rec)
    client.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST)
    client.push_account(COMPANY, CONNECTION, {"name": "Travel"})
    client.create_webhook_consumer("https://h.example/x", ["connection.connected"])
    client.push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, idempotency_key="stored-key")
    client.list_accounts(COMPANY)
    client.get_push_operation(COMPANY, "k")
    posts = [r for r in rec.requests if r.method == "POST"]
    generated = [r.headers["Idempotency-Key"] for r in posts[:3]]
    assert all(uuid.UUID(key) for key in generated) and len(set(generated)) == 3  # a new GUID each
    assert posts[3].headers["Idempotency-Key"] == "stored-key"  # the caller's (stored) key, as given
    assert all("Idempotency-Key" not in r.headers for r in rec.requests if r.method == "GET")


def test_a_push_5xx_after_a_lost_answer_is_resent_with_the_same_key(make_client, waits: Waits) -> None:
    rec = Recorder(httpx.ReadTimeout("lost"), codat_error(500), ok(PUSH_OPERATION))
    assert push(make_client(rec))["pushOperationKey"] == PUSH_OPERATION["pushOperationKey"]
    assert len(rec.requests) == 3 and len({r.headers["Idempotency-Key"] for r in rec.requests}) == 1


def test_409_after_a_lost_answer_means_in_progress_and_is_resent(make_client, waits: Waits) -> None:
    rec = Recorder(httpx.ReadTimeout("lost"), codat_error(409, "in progress"), ok(PUSH_OPERATION))
    assert push(make_client(rec))["status"] == "Pending"
    assert [reason for reason, _ in waits.reported] == ["network error", "request in progress"]
    assert len({r.headers["Idempotency-Key"] for r in rec.requests}) == 1


def test_409_to_a_first_send_is_a_plain_rejection(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(409, "Resource not ready"))
    with pytest.raises(CodatError) as info:
        push(make_client(rec))
    assert not isinstance(info.value, PushOutcomeUnknown) and info.value.processed is False
    assert len(rec.requests) == 1


@pytest.mark.parametrize("status", [422, 503, 404])
def test_a_resend_that_cannot_tell_what_the_first_request_did_is_outcome_unknown(make_client, waits: Waits,
                                                                                 status: int) -> None:
    rec = Recorder(codat_error(status))
    with pytest.raises(PushOutcomeUnknown) as info:
        make_client(rec, max_retries=2).push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, idempotency_key="k",
                                                         resend=True)
    # A 503 is resent (bounded) under the same key before it counts.
    assert info.value.status == status and len(rec.requests) == (3 if status == 503 else 1)


def test_a_resend_answered_400_is_a_rejection(make_client) -> None:
    rec = Recorder(codat_error(400, "bad"))
    with pytest.raises(CodatError) as info:
        make_client(rec).push_direct_cost(COMPANY, CONNECTION, DIRECT_COST, idempotency_key="k", resend=True)
    assert not isinstance(info.value, PushOutcomeUnknown) and info.value.processed is False


def test_a_429_is_retried_with_the_same_key(make_client, waits: Waits) -> None:
    rec = Recorder(codat_error(429, headers={"Retry-After": "1"}), ok(PUSH_OPERATION))
    push(make_client(rec))
    assert len({r.headers["Idempotency-Key"] for r in rec.requests}) == 1 and len(rec.requests) == 2


def test_paging_deduplicates_records_repeated_across_pages(make_client) -> None:
    pages = {1: [{"id": "a"}, {"id": "b"}], 2: [{"id": "b", "name": "later"}, {"id": "c"}], 3: [{"id": "d"}]}

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        links = {"self": {}, "current": {}, **({"next": {}} if page < 3 else {})}
        return ok({"results": pages[page], "pageNumber": page, "pageSize": 2, "totalResults": 4, "_links": links})

    records = make_client(Recorder(answer), page_size=2).list_accounts(COMPANY)
    assert [r["id"] for r in records] == ["a", "b", "c", "d"] and records[1]["name"] == "later"


def test_push_history_paging_deduplicates_by_push_operation_key(make_client) -> None:
    op = dict(PUSH_OPERATION)

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return ok({"results": [op, {**op, "pushOperationKey": f"k{page}"}], "totalResults": 3,
                   "_links": {"self": {}, **({"next": {}} if page < 2 else {})}})

    keys = [r["pushOperationKey"] for r in make_client(Recorder(answer), page_size=2).list_push_operations(COMPANY)]
    assert keys == [op["pushOperationKey"], "k1", "k2"]


# ---------------------------------------------------------------- rate-limit header tracking


def test_rate_limit_state_follows_the_latest_response(make_client) -> None:
    headers = [
        {"X-Rate-Limit-Limit": "2000", "X-Rate-Limit-Remaining": "1999", "X-Rate-Limit-Reset": "Thu, 02 May 2024 00:00:00 GMT"},
        {},
        {"X-Rate-Limit-Limit": "2000", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "Thu, 02 May 2024 00:00:00 GMT",
         "Retry-After": "9999"},
    ]
    rec = Recorder(ok({"id": 1}, headers=headers[0]), ok({"id": 2}, headers=headers[1]),
                   codat_error(429, headers=headers[2]))
    client = make_client(rec)
    assert client.rate_limit == RateLimitState()
    client.get_company(COMPANY)
    first = client.rate_limit
    assert (first.limit, first.remaining, first.reset) == (2000, 1999, "Thu, 02 May 2024 00:00:00 GMT")
    assert first.updated_at is not None and first.updated_at.tzinfo is not None
    client.get_company(COMPANY)
    assert client.rate_limit == first  # a response without the headers keeps the last known state
    with pytest.raises(CodatRateLimited):
        client.get_company(COMPANY)
    assert client.rate_limit.remaining == 0  # error responses count too


def test_garbage_rate_limit_headers_do_not_break_requests(make_client) -> None:
    rec = Recorder(ok({"id": 1}, headers={"X-Rate-Limit-Remaining": "lots"}))
    client = make_client(rec)
    client.get_company(COMPANY)
    assert client.rate_limit.remaining is None and client.rate_limit.updated_at is not None


def test_client_is_usable_from_several_threads(make_client) -> None:
    counter = {"n": 0}
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            counter["n"] += 1
            n = counter["n"]
        return ok({"id": request.url.path.rsplit("/", 1)[-1]}, headers={"X-Rate-Limit-Remaining": str(1000 - n)})

    client = make_client(Recorder(handler))
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                assert client.get_company(f"c{i}-{j}") == {"id": f"c{i}-{j}"}
        except BaseException as exc:  # pragma: no cover - reported below  # noqa: BLE001 - the test records whatever the thread raised
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and counter["n"] == 160
    assert client.rate_limit.remaining is not None and 840 <= client.rate_limit.remaining < 1000


# ---------------------------------------------------------------- the key never leaks


SECRET_FORMS = (API_KEY, API_KEY_B64)


def _assert_clean(text: str) -> None:
    for secret in SECRET_FORMS:
        assert secret not in text


def _echo_auth(status: int) -> Handler:
    # A hostile or buggy server that echoes the Authorization header back.
    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["Authorization"]
        return ok({"error": f"bad header {auth} / {API_KEY}", "correlationId": "c"}, status=status)

    return handler


@pytest.mark.parametrize("stored_key", [API_KEY, f"Basic {API_KEY_B64}"], ids=["raw", "header"])
def test_the_api_key_never_appears_in_reprs_messages_or_logs(caplog, waits: Waits, stored_key: str) -> None:
    caplog.set_level(logging.DEBUG)
    scenarios: list[tuple[Handler | BaseException, Callable[[CodatClient], Any]]] = [
        (_echo_auth(400), lambda c: c.get_company(COMPANY)),
        (_echo_auth(401), lambda c: c.get_company(COMPANY)),
        (_echo_auth(404), lambda c: c.list_companies()),
        (_echo_auth(429), lambda c: c.get_company(COMPANY)),
        (_echo_auth(500), lambda c: c.get_company(COMPANY)),
        (_echo_auth(502), lambda c: push(c)),
        (_echo_auth(503), lambda c: push(c)),
        (httpx.ConnectError(f"refused {API_KEY}"), lambda c: c.get_company(COMPANY)),
        (httpx.ReadTimeout("timed out"), lambda c: push(c)),
        (httpx.ConnectError("refused"), lambda c: push(c)),
    ]
    raised: list[CodatError] = []
    for answer, call in scenarios:
        client = CodatClient(stored_key, transport=httpx.MockTransport(Recorder(answer)), sleep=waits.sleep,
                             max_retries=1, max_rate_limit_wait=0)
        _assert_clean(repr(client))
        _assert_clean(str(vars(client)))
        with pytest.raises(CodatError) as info:
            call(client)
        raised.append(info.value)
        client.close()
    assert "bad header [redacted] / [redacted]" in raised[0].message  # the echo was scrubbed, not dropped
    assert {type(e) for e in raised} >= {CodatError, CodatAuthError, CodatNotFound, CodatRateLimited,
                                         CodatServerError, CodatUnavailable, PushOutcomeUnknown}
    for error in raised:
        for text in (repr(error), str(error), error.message, repr(getattr(error, "cause", None))):
            _assert_clean(text)
    assert caplog.records, "the client should log its requests at debug level"
    for record in caplog.records:
        _assert_clean(record.getMessage())
