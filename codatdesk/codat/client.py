"""Synchronous httpx client for the parts of Codat's API codatdesk uses.

One ``CodatClient`` may be shared by worker threads (httpx.Client is thread-safe;
the rate-limit snapshot is swapped under a lock). It never touches Qt.

Retry policy
============

Requests fall into three kinds:

* **safe**: GETs, ``DELETE /webhooks/{id}``, ``PATCH`` of a connection status (setting the
  same status twice changes nothing) and ``POST .../data/queue/{dataType}`` (a second sync
  writes nothing). Retried.
* **write**: ``POST /webhooks`` (creates a consumer).
* **push**: ``POST .../push/directCosts`` and ``.../push/accounts``. A resend
  without protection could create a second record in the customer's ledger.

Every create POST (push and write) carries an ``Idempotency-Key`` header: a GUID the caller
passes (the push engine stores it with the push attempt before sending) or, failing that,
a new one. Codat keeps the first answer under the key for 90 minutes and replays it to a
request with the same key and body; the same key while the first request is in progress
gets 409, with another body 422; a 429 is not kept, so the same key may be sent again
(codatio/codat-docs ``docs/using-the-api/write-data/idempotency.md``). So a create POST
whose answer was lost is resent **with the same key and the same bytes**, never with a
new key: the answer to the resend is the answer to the first request. A push answered 5xx is
resent the same way (bounded, with backoff): the key makes that safe. Codat keeps a 5xx it produced
under the key and replays it (idempotency.md: "and ``5xx`` server errors"), so such a resend only
costs a request; a 5xx from in front of that cache (a gateway 502/504, a 503 during maintenance)
gets a fresh, authoritative answer. Resending 5xx pushes is our choice; the docs only make it safe.

"Sent before" below means this key may already have reached Codat: an earlier try in
this call lost its answer or met 409, or the caller says so (``resend=True``: the engine
replaying an attempt of unknown outcome).

| What happened                                   | safe request   | push POST                                  | write POST (consumer)          |
|-------------------------------------------------|----------------|--------------------------------------------|--------------------------------|
| 2xx                                             | result         | PushOperation                              | result                         |
| 2xx without a readable pushOperationKey         | -              | PushOutcomeUnknown                         | -                              |
| 429, wait (Retry-After) fits the budget         | wait, retry    | wait, retry, same key (429 is not kept)    | wait, retry, same key          |
| 429, wait does not fit / retries used up        | CodatRateLimited (processed=False); a push sent before: PushOutcomeUnknown                  |
| ConnectError, ConnectTimeout, PoolTimeout       | backoff, retry | CodatUnavailable, processed=False          | CodatUnavailable, processed=False |
|   (nothing was sent)                            |                |   (resending is safe)                      |                                |
| ReadTimeout, ReadError, WriteError/WriteTimeout,| backoff, retry | backoff, resend with the same key; out of  | backoff, resend, same key; then |
|   connection reset / closed after sending       |                | retries: **PushOutcomeUnknown**            | CodatUnavailable, processed=None |
| 409 after the key was sent before               | -              | backoff, resend (first request in progress); out of retries: PushOutcomeUnknown             |
| 422 / 401 / 403 / 404 after the key was sent before | -          | **PushOutcomeUnknown** (the key cannot tell what the first request did)                      |
| 503 (maintenance)                               | backoff, retry | backoff, resend, same key; out of retries: CodatServerError, processed=False; sent before: PushOutcomeUnknown |
| 500, 502, 504 and any other 5xx                 | backoff, retry | backoff, resend, same key; out of retries: **PushOutcomeUnknown** | CodatServerError, processed=None |
| 401 / 403                                       | CodatAuthError (processed=False), all kinds                                                  |
| 404                                             | CodatNotFound (processed=False), all kinds                                                   |
| other 4xx (400 validation, 402, 409, 422, ...)  | CodatError (processed=False), all kinds                                                      |
| safe request out of retries                     | the error of the last attempt (CodatServerError / CodatUnavailable)                         |

``PushOutcomeUnknown`` carries ``data_type`` (``directCosts`` or ``chartOfAccounts``,
as in Codat's push history), ``company_id``, ``connection_id``, ``started_at``
(UTC, taken before the first send), ``idempotency_key`` and ``cause`` (the CodatError
describing the timeout or 5xx). Within Codat's 90 minutes the engine sends the same
request again with the same key; after that it lists push operations.

Backoff is ``backoff_base * 2**(n-1)`` (capped at 30 s) plus up to
``backoff_base`` of jitter, for at most ``max_retries`` retries. 429 retries
have their own count (also ``max_retries``) and a budget of
``max_rate_limit_wait`` seconds of total waiting; a ``Retry-After`` that does
not fit the budget raises :class:`CodatRateLimited` at once rather than parking
a worker thread until Codat's daily quota resets. Every wait goes through the
injected ``sleep`` and is reported first through ``on_wait(reason, seconds)``
with reason ``"rate limited"``, ``"server error"``, ``"network error"`` or
``"request in progress"``.

``close()`` (or ``interrupt()``) ends every wait at once, on any thread, and cuts every
request waiting for its answer (``codat/abort.py``; not with an injected transport): the request
then raises :class:`ClientClosed` (a :class:`CodatUnavailable`; a push that may have
reached Codat raises :class:`PushOutcomeUnknown` as usual), so quitting never waits
out a backoff or a ``Retry-After``. An injected ``sleep`` (tests) is called as given,
and a close during it is noticed when it returns.

Secrets
=======

The API key (raw, base64, or the full ``Basic ...`` value) lives only in a
private ``httpx.Auth`` object. It is never logged (requests are logged at
debug level as method, path, status and duration, without headers, query
strings or bodies), never put into an exception message, and the reprs of
the client and its errors do not show it. Error text taken from response
bodies is scrubbed of it as a second line of defence.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import enum
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from codatdesk import jsonmoney

from .abort import AbortableBackend, abortable_transport
from .errors import (
    CodatAuthError,
    CodatError,
    CodatNotFound,
    CodatRateLimited,
    CodatServerError,
    CodatUnavailable,
    PushOutcomeUnknown,
)
from .ratelimit import RateLimitState, parse_rate_limit_headers, parse_retry_after

__all__ = ["IDEMPOTENCY_HEADER", "CodatClient", "new_idempotency_key"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.codat.io"
_BACKOFF_CAP_SECONDS = 30.0
_MAX_PAGES = 10_000  # guards against a server whose paging never ends
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Answers to a create POST whose key was sent before that cannot say what the first request did.
_UNKNOWN_AFTER_RESEND = (401, 403, 404, 422, 429, 503)


def new_idempotency_key() -> str:
    """A fresh GUID for Codat's ``Idempotency-Key`` header."""
    return str(uuid.uuid4())


class _Kind(enum.Enum):
    SAFE = "safe"
    WRITE = "write"
    PUSH = "push"


class _BasicAuth(httpx.Auth):
    """Adds Codat's ``Authorization: Basic <base64(key)>`` header; hides it from reprs."""

    __slots__ = ("_header",)

    def __init__(self, header_value: str) -> None:
        self._header = header_value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "<CodatAuth [redacted]>"


def _authorization_value(api_key: str) -> tuple[str, tuple[str, ...]]:
    """The header value, plus every form of the secret that must be redacted."""
    key = api_key.strip()
    if not key:
        raise ValueError("Codat API key is empty")
    if key[:6].lower() == "basic ":
        token = key[6:].strip()
        header = f"Basic {token}"
        secrets = [header, token]
        try:
            raw = base64.b64decode(token, validate=True).decode("utf-8")
            if raw:
                secrets.append(raw)
        except (binascii.Error, UnicodeDecodeError):
            pass
    else:
        token = base64.b64encode(key.encode("utf-8")).decode("ascii")
        header = f"Basic {token}"
        secrets = [header, token, key]
    # Longest first so the header is replaced whole before its parts.
    return header, tuple(sorted(set(secrets), key=len, reverse=True))


def _segment(value: str) -> str:
    text = str(value)
    if not text:
        raise ValueError("an id used in a Codat path must not be empty")
    return quote(text, safe="")


_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _summarize_text(text: str, limit: int = 200) -> str:
    """A short readable summary of a non-JSON body (an HTML error page, plain text)."""
    title = _TITLE_RE.search(text)
    if title:
        text = title.group(1)
    elif "<" in text and ">" in text:
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ClientClosed(CodatUnavailable):
    """The client was closed (the app is quitting) before or while the request waited to be retried."""


class CodatClient:
    """Codat API client; see the module docstring for the retry table."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] | None = None,
        on_wait: Callable[[str, float], None] | None = None,
        max_rate_limit_wait: float = 120.0,
        page_size: int = 500,
    ) -> None:
        header, secrets = _authorization_value(api_key)
        self._redactor = _Redactor(secrets)
        self.base_url = base_url.rstrip("/")
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = backoff_base
        self.max_rate_limit_wait = max_rate_limit_wait
        self.page_size = page_size
        self._closing = threading.Event()
        self._sleep = sleep or self._closing.wait
        self._on_wait = on_wait
        self._random = random.Random()
        self._rate_limit = RateLimitState()
        self._rate_limit_lock = threading.Lock()
        # Our own transport unless a test injects one: a stop then cuts a request waiting for its answer.
        self._abort = AbortableBackend() if transport is None else None
        if self._abort is not None:
            transport = abortable_transport(self._abort)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=_BasicAuth(header),
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers={"Accept": "application/json", "User-Agent": "codatdesk"},
            follow_redirects=False,
        )

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.interrupt()
        self._http.close()

    def interrupt(self) -> None:
        """End every wait and cut every request in flight now; refuse to start another (the app is quitting)."""
        self._closing.set()
        if self._abort is not None:
            self._abort.abort()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def __enter__(self) -> CodatClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CodatClient(base_url={self.base_url!r})"

    @property
    def rate_limit(self) -> RateLimitState:
        """The ``X-Rate-Limit-*`` values of the latest response that carried them."""
        with self._rate_limit_lock:
            return self._rate_limit

    # ------------------------------------------------------------------ companies & connections

    def list_companies(self) -> list[dict[str, Any]]:
        return self._paged("/companies")

    def get_company(self, company_id: str) -> dict[str, Any]:
        return self._request("GET", f"/companies/{_segment(company_id)}")

    def update_company_tags(self, company_id: str, tags: Mapping[str, str]) -> dict[str, Any]:
        """Update company with only ``tags`` (they replace the company's tags; name and description stay)."""
        return self._request("PATCH", f"/companies/{_segment(company_id)}", json_body={"tags": dict(tags)})

    def list_connections(self, company_id: str) -> list[dict[str, Any]]:
        return self._paged(f"/companies/{_segment(company_id)}/connections")

    def get_connection(self, company_id: str, connection_id: str) -> dict[str, Any]:
        return self._request("GET", self._connection_path(company_id, connection_id))

    def patch_connection(self, company_id: str, connection_id: str, status: str) -> dict[str, Any]:
        """Set a connection's status, e.g. ``"Unlinked"`` (deauthorize, keep data)."""
        return self._request(
            "PATCH", self._connection_path(company_id, connection_id), json_body={"status": status}
        )

    # ------------------------------------------------------------------ push

    def push_direct_cost(
        self,
        company_id: str,
        connection_id: str,
        direct_cost: Mapping[str, Any],
        *,
        timeout_in_minutes: int | None = None,
        idempotency_key: str | None = None,
        resend: bool = False,
        allow_sync_on_push_complete: bool | None = None,
    ) -> dict[str, Any]:
        """Create a direct cost; returns the PushOperation (normally ``status: Pending``).

        ``idempotency_key``: the GUID stored with the push attempt (a new one if None); ``resend``:
        this key may have reached Codat already (see the retry table). ``allow_sync_on_push_complete``:
        Codat's query parameter ("Allow a sync upon push completion", default true); None leaves it
        out. A bulk push sends False and queues one sync when the batch has ended (``queue_sync``)."""
        params: dict[str, str] = {}
        if timeout_in_minutes is not None:
            params["timeoutInMinutes"] = str(int(timeout_in_minutes))
        if allow_sync_on_push_complete is not None:
            params["allowSyncOnPushComplete"] = "true" if allow_sync_on_push_complete else "false"
        return self._push(company_id, connection_id, "directCosts", "directCosts", direct_cost, params or None,
                          idempotency_key, resend)

    def push_account(
        self, company_id: str, connection_id: str, account: Mapping[str, Any], *,
        idempotency_key: str | None = None, resend: bool = False,
    ) -> dict[str, Any]:
        """Create a chart-of-accounts account; the PushOperation's dataType is ``chartOfAccounts``."""
        return self._push(company_id, connection_id, "accounts", "chartOfAccounts", account, None,
                          idempotency_key, resend)

    def push_supplier(
        self, company_id: str, connection_id: str, supplier: Mapping[str, Any], *,
        idempotency_key: str | None = None, resend: bool = False,
    ) -> dict[str, Any]:
        """Create a supplier (``POST .../push/suppliers``); the PushOperation's dataType is ``suppliers``."""
        return self._push(company_id, connection_id, "suppliers", "suppliers", supplier, None,
                          idempotency_key, resend)

    def push_options(self, company_id: str, connection_id: str, data_type: str) -> dict[str, Any]:
        """The integration's create model (PushOption tree) for ``data_type``."""
        return self._request(
            "GET", f"{self._connection_path(company_id, connection_id)}/options/{_segment(data_type)}"
        )

    def queue_sync(self, company_id: str, data_type: str) -> dict[str, Any]:
        """Queue a sync of one data type (``POST /companies/{id}/data/queue/{dataType}``): records a push
        wrote are read from Codat's cache only after it. Returns the PullOperation."""
        # Retried like a read: queuing the same sync twice writes nothing (at worst one more sync). Codat
        # takes an Idempotency-Key on every POST (codat-docs docs/using-the-api/write-data/idempotency.md).
        return self._request("POST", f"/companies/{_segment(company_id)}/data/queue/{_segment(data_type)}",
                             idempotency_key=new_idempotency_key())

    def get_push_operation(self, company_id: str, push_operation_key: str) -> dict[str, Any]:
        return self._request(
            "GET", f"/companies/{_segment(company_id)}/push/{_segment(push_operation_key)}"
        )

    def get_direct_cost(self, company_id: str, connection_id: str, direct_cost_id: str) -> dict[str, Any]:
        """A direct cost as the accounting platform holds it (identifies whose push created it)."""
        return self._request(
            "GET", f"{self._connection_path(company_id, connection_id)}/data/directCosts/{_segment(direct_cost_id)}"
        )

    def list_push_operations(
        self, company_id: str, *, query: str | None = None, order_by: str | None = None
    ) -> list[dict[str, Any]]:
        """Push history, e.g. ``query="dataType=directCosts"``, ``order_by="-requestedOnUtc"``."""
        params: dict[str, str] = {}
        if query:
            params["query"] = query
        if order_by:
            params["orderBy"] = order_by
        return self._paged(f"/companies/{_segment(company_id)}/push", params, id_field="pushOperationKey")

    # ------------------------------------------------------------------ attachments

    def upload_direct_cost_attachment(self, company_id: str, connection_id: str, direct_cost_id: str,
                                      file_name: str, media_type: str, data: bytes, *,
                                      idempotency_key: str | None = None) -> Any:
        """``POST .../push/directCosts/{id}/attachment`` (singular; multipart field ``file``)."""
        path = (f"{self._connection_path(company_id, connection_id)}/push/directCosts/"
                f"{_segment(direct_cost_id)}/attachment")
        return self.upload_attachment(path, file_name, media_type, data, idempotency_key=idempotency_key)

    def upload_attachment(self, path: str, file_name: str, media_type: str, data: bytes, *,
                          idempotency_key: str | None = None) -> Any:
        """A multipart ``file`` upload to ``path``: the body (None when Codat sends none). Resent only
        under the same ``Idempotency-Key`` and bytes, like every write."""
        key = idempotency_key or new_idempotency_key()
        # The boundary comes from the key, so a resend after a restart has the same bytes (Codat answers
        # another body under a used key with 422).
        boundary = "codatdesk-" + "".join(c for c in key if c.isalnum())
        form = httpx.Request("POST", "http://multipart.invalid", files={"file": (file_name, data, media_type)},
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return self._request("POST", path, raw=(form.read(), form.headers["Content-Type"]), kind=_Kind.WRITE,
                             idempotency_key=key)

    # ------------------------------------------------------------------ reference data

    def get_company_info(self, company_id: str) -> dict[str, Any]:
        """CompanyInfo (``GET /companies/{id}/data/info``): ``baseCurrency`` is the ledger's currency."""
        return self._request("GET", f"/companies/{_segment(company_id)}/data/info")

    def list_accounts(self, company_id: str) -> list[dict[str, Any]]:
        return self._paged(f"/companies/{_segment(company_id)}/data/accounts")

    def list_suppliers(self, company_id: str) -> list[dict[str, Any]]:
        return self._paged(f"/companies/{_segment(company_id)}/data/suppliers")

    def list_tax_rates(self, company_id: str) -> list[dict[str, Any]]:
        return self._paged(f"/companies/{_segment(company_id)}/data/taxRates")

    def list_tracking_categories(self, company_id: str) -> list[dict[str, Any]]:
        return self._paged(f"/companies/{_segment(company_id)}/data/trackingCategories")

    def list_bank_accounts(self, company_id: str, connection_id: str) -> list[dict[str, Any]]:
        return self._paged(f"{self._connection_path(company_id, connection_id)}/data/bankAccounts")

    # ------------------------------------------------------------------ webhook consumers

    def list_webhook_consumers(self) -> list[dict[str, Any]]:
        body = self._request("GET", "/webhooks")
        return list(body.get("results") or []) if isinstance(body, dict) else list(body or [])

    def create_webhook_consumer(
        self, url: str, event_types: Iterable[str], company_tags: Iterable[str] | None = None, *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Register a consumer. The signing secret is not returned: it is Portal-only."""
        body: dict[str, Any] = {"url": url, "eventTypes": list(event_types)}
        if company_tags is not None:
            body["companyTags"] = list(company_tags)
        return self._request("POST", "/webhooks", json_body=body, kind=_Kind.WRITE,
                             idempotency_key=idempotency_key or new_idempotency_key())

    def delete_webhook_consumer(self, consumer_id: str) -> None:
        """Delete a consumer. A 404 on a *retry* counts as deleted (the first try got through)."""
        self._request(
            "DELETE", f"/webhooks/{_segment(consumer_id)}", missing_ok_after_retry=True
        )

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _connection_path(company_id: str, connection_id: str) -> str:
        return f"/companies/{_segment(company_id)}/connections/{_segment(connection_id)}"

    def _push(
        self,
        company_id: str,
        connection_id: str,
        path_type: str,
        data_type: str,
        record: Mapping[str, Any],
        params: dict[str, str] | None,
        idempotency_key: str | None,
        resend: bool,
    ) -> dict[str, Any]:
        path = f"{self._connection_path(company_id, connection_id)}/push/{path_type}"
        key = idempotency_key or new_idempotency_key()
        context = _PushContext(data_type, company_id, connection_id, key)
        return self._request("POST", path, params=params, json_body=record, kind=_Kind.PUSH, push=context,
                             idempotency_key=key, resend=resend)

    def _paged(self, path: str, params: Mapping[str, str] | None = None, *,
               id_field: str = "id") -> list[dict[str, Any]]:
        """Follow Codat's ``page``/``pageSize`` paging until the last page.

        Records are de-duplicated by ``id_field`` while paging: offset paging serves a record twice
        when records move between pages (one added before it), and a list must hold each record once.
        The later copy wins (it was read later); the order is that of first appearance."""
        results: dict[Any, dict[str, Any]] = {}
        for page in range(1, _MAX_PAGES + 1):
            query = dict(params or {})
            query["page"] = str(page)
            query["pageSize"] = str(self.page_size)
            body = self._request("GET", path, params=query)
            if not isinstance(body, dict):
                raise CodatError(f"GET {path}: expected a paged object, got {type(body).__name__}", path=path)
            batch = body.get("results") or []
            before = len(results)
            for record in batch:
                identity = record.get(id_field) if isinstance(record, dict) else None
                # A record without an id cannot repeat a known one: keep it under a key of its own.
                results[identity if identity not in (None, "") else ("#", page, len(results))] = record
            if not batch:
                break
            if len(results) == before and page > 1:
                log.warning("GET %s: page %d repeated only records already read; stopping", path, page)
                break
            if not self._has_next_page(body, len(results), len(batch)):
                break
        else:
            raise CodatError(f"GET {path}: paging did not end after {_MAX_PAGES} pages", path=path)
        return list(results.values())

    def _has_next_page(self, body: dict[str, Any], collected: int, batch: int) -> bool:
        # codat-docs docs/using-the-api/paging.md: _links.next links the next page; totalResults counts the
        # records. When they disagree, ask once more rather than drop records: an empty page, or one that
        # only repeats records, ends the list (see _paged).
        links = body.get("_links")
        total = body.get("totalResults")
        if isinstance(links, dict) and "next" in links:
            return True
        if isinstance(total, int) and not isinstance(total, bool):
            return collected < total
        if isinstance(links, dict) and links:
            return False
        return batch >= self.page_size

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        kind: _Kind = _Kind.SAFE,
        push: _PushContext | None = None,
        missing_ok_after_retry: bool = False,
        idempotency_key: str | None = None,
        resend: bool = False,
        raw: tuple[bytes, str] | None = None,
    ) -> Any:
        content = jsonmoney.dumps(json_body) if json_body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else {}
        if raw is not None:  # (bytes, Content-Type): a body that is not JSON, e.g. a multipart upload
            content, headers = raw[0], {"Content-Type": raw[1]}
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        # The same bytes and the same key on every try: Codat answers a resend with the first answer.
        keyed = idempotency_key is not None and kind is not _Kind.SAFE
        sent_before = resend  # this key may have reached Codat already
        failures = 0
        rate_limited = 0
        rate_limit_waited = 0.0
        started_at = _dt.datetime.now(_dt.UTC)
        while True:
            if self._closing.is_set():
                error = ClientClosed(f"{method} {path}: not sent, codatdesk is closing",
                                     processed=False if not sent_before else None, method=method, path=path)
                if kind is _Kind.PUSH and sent_before:
                    raise self._outcome_unknown(push, started_at, error, method, path) from error
                raise error
            began = time.monotonic()
            try:
                response = self._http.request(method, path, params=params, content=content, headers=headers)
            except httpx.TransportError as exc:
                elapsed_ms = (time.monotonic() - began) * 1000
                log.debug("%s %s -> %s after %.0f ms", method, path, type(exc).__name__, elapsed_ms)
                not_sent = isinstance(exc, _NOT_SENT_ERRORS)
                sent_before = sent_before or not not_sent
                if self._closing.is_set():  # cut by interrupt(): stopping, not a failure of the request
                    error = ClientClosed(f"{method} {path}: codatdesk closed before Codat answered",
                                         processed=False if not sent_before else None, method=method, path=path)
                    if kind is _Kind.PUSH and sent_before:
                        raise self._outcome_unknown(push, started_at, error, method, path) from exc
                    raise error from exc
                if (
                    (kind is _Kind.SAFE or (keyed and not not_sent))
                    and isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS)
                    and failures < self.max_retries
                ):
                    failures += 1
                    self._wait("network error", self._backoff(failures))
                    continue
                error = CodatUnavailable(
                    f"{method} {path}: cannot reach Codat ({self._describe(exc)})",
                    processed=False if not_sent and not sent_before else None,
                    method=method,
                    path=path,
                )
                if kind is _Kind.PUSH and sent_before:
                    raise self._outcome_unknown(push, started_at, error, method, path) from exc
                raise error from exc

            elapsed_ms = (time.monotonic() - began) * 1000
            self._track_rate_limit(response)
            status = response.status_code
            log.debug("%s %s -> %d in %.0f ms", method, path, status, elapsed_ms)

            if 200 <= status < 300:
                return self._success_body(response, method, path, kind, push, started_at)

            if status == 429:
                delay = parse_retry_after(response.headers.get("Retry-After"))
                if delay is None:
                    delay = self._backoff(rate_limited + 1)
                if (
                    rate_limited < self.max_retries
                    and rate_limit_waited + delay <= self.max_rate_limit_wait
                ):
                    rate_limited += 1
                    rate_limit_waited += delay
                    self._wait("rate limited", delay)
                    continue
                error = self._error_from_response(response, method, path, retry_after=delay)
                if kind is _Kind.PUSH and sent_before:
                    raise self._outcome_unknown(push, started_at, error, method, path) from error
                raise error

            if status >= 500 and kind is _Kind.PUSH and keyed and failures < self.max_retries:
                # Same key, same bytes: Codat cannot make a second record of it. A 503 is maintenance
                # (nothing done); any other 5xx may have reached Codat.
                sent_before = sent_before or status != 503
                failures += 1
                self._wait("server error", self._backoff(failures))
                continue

            if status == 409 and keyed and sent_before and failures < self.max_retries:
                # The first request under this key is still in progress: its answer will be kept.
                failures += 1
                self._wait("request in progress", self._backoff(failures))
                continue

            if kind is _Kind.PUSH and sent_before and (status in _UNKNOWN_AFTER_RESEND or status == 409):
                error = self._error_from_response(response, method, path)
                raise self._outcome_unknown(push, started_at, error, method, path) from error

            if status >= 500:
                if kind is _Kind.SAFE and failures < self.max_retries:
                    failures += 1
                    self._wait("server error", self._backoff(failures))
                    continue
                error = self._error_from_response(response, method, path)
                if kind is _Kind.PUSH and status != 503:
                    raise self._outcome_unknown(push, started_at, error, method, path) from error
                raise error

            if status == 404 and missing_ok_after_retry and failures > 0:
                return None
            raise self._error_from_response(response, method, path, processed=False)

    def _success_body(
        self,
        response: httpx.Response,
        method: str,
        path: str,
        kind: _Kind,
        push: _PushContext | None,
        started_at: _dt.datetime,
    ) -> Any:
        if not response.content:
            body: Any = None
        else:
            try:
                body = jsonmoney.loads(response.content)
            except ValueError as exc:
                error = CodatError(
                    f"{method} {path}: Codat answered {response.status_code} with a body that is not JSON",
                    status=response.status_code,
                    method=method,
                    path=path,
                )
                if kind is _Kind.PUSH:
                    raise self._outcome_unknown(push, started_at, error, method, path) from exc
                raise error from exc
        if kind is _Kind.PUSH and not (isinstance(body, dict) and body.get("pushOperationKey")):
            error = CodatError(
                f"{method} {path}: Codat answered {response.status_code} without a pushOperationKey",
                status=response.status_code,
                body=body,
                method=method,
                path=path,
            )
            raise self._outcome_unknown(push, started_at, error, method, path) from error
        return body

    def _outcome_unknown(
        self,
        push: _PushContext | None,
        started_at: _dt.datetime,
        cause: CodatError,
        method: str,
        path: str,
    ) -> PushOutcomeUnknown:
        assert push is not None
        return PushOutcomeUnknown(
            f"{push.data_type} push for company {push.company_id}: outcome unknown ({cause.message}). "
            f"Check push operations requested since {started_at.isoformat()} before resending.",
            data_type=push.data_type,
            company_id=push.company_id,
            connection_id=push.connection_id,
            started_at=started_at,
            cause=cause,
            idempotency_key=push.idempotency_key,
            status=cause.status,
            correlation_id=cause.correlation_id,
            body=cause.body,
            method=method,
            path=path,
        )

    def _error_from_response(
        self,
        response: httpx.Response,
        method: str,
        path: str,
        *,
        retry_after: float | None = None,
        processed: bool | None = None,
    ) -> CodatError:
        status = response.status_code
        text = self._redact(response.content.decode("utf-8", errors="replace"))
        body: Any = None
        try:
            body = jsonmoney.loads(text) if text.strip() else None
        except ValueError:
            body = None
        reason = response.reason_phrase or ""
        detail = ""
        correlation_id = None
        validation_errors: list[dict[str, Any]] = []
        validation_warnings: list[dict[str, Any]] = []
        if isinstance(body, dict):
            detail = str(body.get("error") or body.get("message") or body.get("title") or "")
            correlation_id = body.get("correlationId") or None
            validation = body.get("validation")
            if isinstance(validation, dict):
                validation_errors = [e for e in validation.get("errors") or [] if isinstance(e, dict)]
                validation_warnings = [w for w in validation.get("warnings") or [] if isinstance(w, dict)]
        elif text.strip():
            detail = _summarize_text(text)
            body = text
        message = f"{method} {path}: Codat answered {status} {reason}".rstrip()
        if detail:
            message += f": {detail}"
        if validation_errors:
            first = validation_errors[0]
            message += f" (validation: {first.get('itemId') or ''} {first.get('message') or ''}".rstrip()
            if len(validation_errors) > 1:
                message += f", and {len(validation_errors) - 1} more"
            message += ")"
        if correlation_id:
            message += f" [correlation id {correlation_id}]"
        message = self._redact(message)
        fields: dict[str, Any] = dict(
            status=status,
            correlation_id=correlation_id,
            validation_errors=validation_errors,
            validation_warnings=validation_warnings,
            body=body,
            method=method,
            path=path,
        )
        if status == 429:
            return CodatRateLimited(message, retry_after=retry_after, **fields)
        if status in (401, 403):
            return CodatAuthError(message, processed=processed, **fields)
        if status == 404:
            return CodatNotFound(message, processed=processed, **fields)
        if status >= 500:
            return CodatServerError(message, processed=False if status == 503 else None, **fields)
        return CodatError(message, processed=processed, **fields)

    def _track_rate_limit(self, response: httpx.Response) -> None:
        state = parse_rate_limit_headers(response.headers, _dt.datetime.now(_dt.UTC))
        if state is not None:
            with self._rate_limit_lock:
                self._rate_limit = state

    def _backoff(self, attempt: int) -> float:
        base = min(_BACKOFF_CAP_SECONDS, self.backoff_base * (2 ** (attempt - 1)))
        return base + self._random.uniform(0, self.backoff_base)

    def _wait(self, reason: str, seconds: float) -> None:
        log.info("Codat request %s; waiting %.1f s before retrying", reason, seconds)
        if self._on_wait is not None:
            try:
                self._on_wait(reason, seconds)
            except Exception:  # a broken progress callback must not break the request
                log.exception("on_wait callback failed")
        self._sleep(seconds)

    def _describe(self, exc: BaseException) -> str:
        detail = str(exc).strip()
        name = type(exc).__name__
        return self._redact(f"{name}: {detail}" if detail else name)

    def _redact(self, text: str) -> str:
        return self._redactor(text)


class _Redactor:
    """Scrubs every form of the key from text; its repr (and vars of the client) show nothing."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = secrets

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret and secret in text:
                text = text.replace(secret, "[redacted]")
        return text

    def __repr__(self) -> str:
        return "<redactor>"


class _PushContext:
    __slots__ = ("company_id", "connection_id", "data_type", "idempotency_key")

    def __init__(self, data_type: str, company_id: str, connection_id: str, idempotency_key: str | None) -> None:
        self.data_type = data_type
        self.company_id = company_id
        self.connection_id = connection_id
        self.idempotency_key = idempotency_key
