"""A small, stateful fake of the Stripe API on 127.0.0.1, for stripe-python pointed at it by its API base.

It serves what billing calls (customers, Checkout Sessions, Portal sessions, subscription
retrieval) with Stripe's request rules that matter here: the bearer key, form-encoded bodies,
`Idempotency-Key` replay (and refusal of a reused key with other parameters), `resource_missing`
errors, and injectable 5xx faults. Tests drive the lifecycle in-process (`complete_checkout`,
`change_price`, `cancel`...), and each call returns the webhook events Stripe would send, carrying
the object as it was at that moment; `signature()` signs a payload exactly as Stripe does.
"""

import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-10-28.endive"
MONTH = 30 * 24 * 3600


def signature(payload: bytes, secret: str, *, timestamp: int | None = None, scheme: str = "v1") -> str:
    """A `Stripe-Signature` header: HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint secret."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},{scheme}={digest}"


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`line_items[0][price]=...`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        parts = re.findall(r"[^\[\]]+", name)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {name: _lists(value) for name, value in node.items()}
        if converted and all(name.isdigit() for name in converted):
            return [converted[name] for name in sorted(converted, key=int)]
        return converted
    return node


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]
    raw_body: str


@dataclass
class FakeStripe:
    api_key: str = field(default_factory=lambda: "sk_test_" + secrets.token_hex(12))
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkout_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    portal_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    clock: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._idempotency: dict[str, tuple[str, int, dict[str, Any]]] = {}
        self._faults: list[int] = []
        self._server: ThreadingHTTPServer | None = None

    # --- server ---------------------------------------------------------------------------

    def start(self) -> "FakeStripe":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def do_DELETE(self) -> None:
                fake._serve(self, "DELETE")

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (e.g. 500 twice), then behave again."""
        self._faults.extend(statuses)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [call for call in self.requests if call.method == method and call.path == path]

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        url = urlsplit(handler.path)
        pairs = parse_qsl(raw if method == "POST" else url.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            self.requests.append(Recorded(method, url.path, headers, unflatten(pairs), raw))
            status, body, extra = self._answer(method, url.path, headers, pairs)
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Request-Id", "req_" + secrets.token_hex(6))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(
        self, method: str, path: str, headers: dict[str, str], pairs: list[tuple[str, str]]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("invalid_request_error", "Invalid API Key provided."), {}
        if self._faults:
            return self._faults.pop(0), _error("api_error", "Something went wrong on Stripe's end."), {}
        key = headers.get("idempotency-key")
        fingerprint = json.dumps(sorted(pairs))
        if method == "POST" and key and key in self._idempotency:
            seen, status, body = self._idempotency[key]
            if seen != fingerprint:
                message = "Keys for idempotent requests can only be used with the same parameters."
                return 400, _error("idempotency_error", message), {}
            return status, copy.deepcopy(body), {"Idempotent-Replayed": "true"}
        status, body = self._route(method, path, unflatten(pairs))
        if method == "POST" and key:
            self._idempotency[key] = (fingerprint, status, copy.deepcopy(body))
        return status, body, {}

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if (method, path) == ("POST", "/v1/customers"):
            customer = {
                "id": "cus_" + secrets.token_hex(7),
                "object": "customer",
                "created": self.clock,
                "metadata": params.get("metadata", {}),
                "livemode": False,
            }
            self.customers[customer["id"]] = customer
            return 200, copy.deepcopy(customer)
        if (method, path) == ("POST", "/v1/checkout/sessions"):
            return self._create_checkout_session(params)
        if (method, path) == ("POST", "/v1/billing_portal/sessions"):
            if params.get("customer") not in self.customers:
                return 400, _error("invalid_request_error", "No such customer.", code="resource_missing")
            portal = {
                "id": "bps_" + secrets.token_hex(7),
                "object": "billing_portal.session",
                "customer": params["customer"],
                "return_url": params.get("return_url"),
                "url": "https://billing.stripe.test/p/session/" + secrets.token_hex(8),
            }
            self.portal_sessions[portal["id"]] = portal
            return 200, copy.deepcopy(portal)
        if (method, path) == ("GET", "/v1/subscriptions"):
            return 200, self.list_subscriptions(params)
        match = re.fullmatch(r"/v1/subscriptions/([A-Za-z0-9_]+)", path)
        if method == "GET" and match:
            subscription = self.subscriptions.get(match.group(1))
            if subscription is None:
                return 404, _error("invalid_request_error", "No such subscription.", code="resource_missing")
            return 200, copy.deepcopy(subscription)
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def list_subscriptions(self, params: dict[str, Any]) -> dict[str, Any]:
        """GET /v1/subscriptions: newest first; without status=all, ended ones are left out (as Stripe does)."""
        found = [
            copy.deepcopy(subscription)
            for subscription in self.subscriptions.values()
            if subscription["customer"] == params.get("customer")
            and (params.get("status") == "all" or subscription["status"] not in {"canceled", "incomplete_expired"})
        ]
        found.sort(key=lambda subscription: subscription["created"], reverse=True)
        limit = int(params.get("limit", 10))
        return {"object": "list", "url": "/v1/subscriptions", "has_more": len(found) > limit, "data": found[:limit]}

    def _create_checkout_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for required in ("mode", "line_items", "success_url", "cancel_url"):
            if required not in params:
                return 400, _error("invalid_request_error", f"Missing required param: {required}.", param=required)
        if params.get("customer") and params["customer"] not in self.customers:
            return 400, _error("invalid_request_error", "No such customer.", code="resource_missing")
        session = {
            "id": "cs_test_" + secrets.token_hex(10),
            "object": "checkout.session",
            "mode": params["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "subscription": None,
            "line_items_price": params["line_items"][0]["price"],
            "metadata": params.get("metadata", {}),
            "subscription_metadata": (params.get("subscription_data") or {}).get("metadata", {}),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "livemode": False,
        }
        session["url"] = f"https://checkout.stripe.test/c/pay/{session['id']}"
        self.checkout_sessions[session["id"]] = session
        return 200, copy.deepcopy(session)

    # --- lifecycle, driven by tests; each returns the events Stripe would send ----------------

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def event(self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        return {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._tick(),
            "type": event_type,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": data,
        }

    def create_subscription(
        self, customer_id: str, price_id: str, *, status: str = "active", metadata: dict[str, str] | None = None
    ) -> tuple[str, list[dict[str, Any]]]:
        now = self._tick()
        subscription: dict[str, Any] = {
            "id": "sub_" + secrets.token_hex(10),
            "object": "subscription",
            "customer": customer_id,
            "status": status,
            "created": now,
            "cancel_at_period_end": False,
            "cancel_at": None,
            "canceled_at": None,
            "ended_at": None,
            "trial_end": now + 14 * 24 * 3600 if status == "trialing" else None,
            "metadata": metadata or {},
            "livemode": False,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_" + secrets.token_hex(8),
                        "object": "subscription_item",
                        "price": {"id": price_id, "object": "price", "recurring": {"interval": "month"}},
                        "quantity": 1,
                        "current_period_start": now,
                        "current_period_end": now + MONTH,
                    }
                ],
                "has_more": False,
            },
        }
        self.subscriptions[subscription["id"]] = subscription
        events = [self.event("customer.subscription.created", subscription)]
        if status in {"active", "trialing"}:
            events.append(self.event("invoice.paid", self._invoice(subscription, "subscription_create")))
        return subscription["id"], events

    def complete_checkout(self, session_id: str, *, status: str = "active") -> list[dict[str, Any]]:
        """The customer pays: the subscription exists, then the session completes (Stripe's order)."""
        session = self.checkout_sessions[session_id]
        subscription_id, events = self.create_subscription(
            session["customer"], session["line_items_price"], status=status, metadata=session["subscription_metadata"]
        )
        session.update(
            status="complete",
            payment_status="paid" if status == "active" else "no_payment_required",
            subscription=subscription_id,
        )
        return [*events, self.event("checkout.session.completed", session)]

    def change_price(self, subscription_id: str, price_id: str) -> list[dict[str, Any]]:
        subscription = self.subscriptions[subscription_id]
        item = subscription["items"]["data"][0]
        previous = {"items": copy.deepcopy(subscription["items"])}
        item["price"] = {**item["price"], "id": price_id}
        return [
            self.event("customer.subscription.updated", subscription, previous),
            self.event("invoice.paid", self._invoice(subscription, "subscription_update")),
        ]

    def set_cancel_at_period_end(self, subscription_id: str, value: bool = True) -> list[dict[str, Any]]:
        subscription = self.subscriptions[subscription_id]
        previous = {"cancel_at_period_end": subscription["cancel_at_period_end"]}
        subscription["cancel_at_period_end"] = value
        subscription["cancel_at"] = subscription["items"]["data"][0]["current_period_end"] if value else None
        return [self.event("customer.subscription.updated", subscription, previous)]

    def set_status(self, subscription_id: str, status: str) -> list[dict[str, Any]]:
        subscription = self.subscriptions[subscription_id]
        previous = {"status": subscription["status"]}
        subscription["status"] = status
        events = [self.event("customer.subscription.updated", subscription, previous)]
        if status == "past_due":
            invoice = self._invoice(subscription, "subscription_cycle", status="open")
            invoice.update(attempt_count=1, next_payment_attempt=self.clock + 3 * 24 * 3600)
            events.insert(0, self.event("invoice.payment_failed", invoice))
        return events

    def renew(self, subscription_id: str) -> list[dict[str, Any]]:
        """A new period starts and its invoice is paid (e.g. after a failed payment is recovered)."""
        subscription = self.subscriptions[subscription_id]
        item = subscription["items"]["data"][0]
        previous = {"status": subscription["status"], "items": copy.deepcopy(subscription["items"])}
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] += MONTH
        subscription["status"] = "active"
        return [
            self.event("invoice.paid", self._invoice(subscription, "subscription_cycle")),
            self.event("customer.subscription.updated", subscription, previous),
        ]

    def cancel(self, subscription_id: str) -> list[dict[str, Any]]:
        subscription = self.subscriptions[subscription_id]
        now = self._tick()
        subscription.update(status="canceled", canceled_at=now, ended_at=now, cancel_at_period_end=False)
        return [self.event("customer.subscription.deleted", subscription)]

    def delete_customer(self, customer_id: str) -> list[dict[str, Any]]:
        events = []
        for subscription in self.subscriptions.values():
            if subscription["customer"] == customer_id and subscription["status"] not in {"canceled"}:
                events.extend(self.cancel(subscription["id"]))
        customer = self.customers.pop(customer_id)
        return [*events, self.event("customer.deleted", customer)]

    def _invoice(self, subscription: dict[str, Any], reason: str, *, status: str = "paid") -> dict[str, Any]:
        item = subscription["items"]["data"][0]
        return {
            "id": "in_" + secrets.token_hex(10),
            "object": "invoice",
            "customer": subscription["customer"],
            "status": status,
            "billing_reason": reason,
            "attempt_count": 1 if status == "paid" else 0,
            "next_payment_attempt": None,
            "period_end": item["current_period_end"],
            "hosted_invoice_url": "https://invoice.stripe.test/i/" + secrets.token_hex(8),
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": subscription["id"], "metadata": subscription["metadata"]},
            },
        }


def _error(kind: str, message: str, *, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return {"error": error}
