"""In-memory implementations of billing's ports, for domain tests that need thousands of deliveries.

They keep the contracts the DynamoDB adapters keep (versioned saves raise Conflict, the ledger's
claim/complete/release) and are typed against the domain's Protocols. `InProcessStripe` serves the
StripeApi from a FakeStripe's state without HTTP; signature checks are the gateway's, tested apart.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from flowctory.adapters.stripe_gateway import snapshot_from
from flowctory.domain.billing import BillingRecord, Notice, SubscriptionSnapshot
from flowctory.errors import Conflict
from tests.billing.fake_stripe import FakeStripe


@dataclass
class InMemoryBillingRepository:
    records: dict[str, BillingRecord] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)

    def get(self, user_id: str) -> BillingRecord | None:
        return self.records.get(user_id)

    def user_for_customer(self, customer_id: str) -> str | None:
        return self.customers.get(customer_id)

    def link_customer(self, user_id: str, customer_id: str) -> None:
        if self.customers.setdefault(customer_id, user_id) != user_id:
            raise Conflict("This Stripe customer belongs to another account.")
        record = self.records.get(user_id) or BillingRecord(user_id=user_id)
        if record.customer_id not in {None, customer_id}:
            raise Conflict("This account is already linked to another Stripe customer.")
        self.records[user_id] = replace(record, customer_id=customer_id)

    def unlink_customer(self, user_id: str, customer_id: str) -> None:
        if self.customers.get(customer_id) == user_id:
            del self.customers[customer_id]
        record = self.records.get(user_id)
        if record is not None and record.customer_id == customer_id:
            self.records[user_id] = replace(record, customer_id=None)

    def save_subscription(
        self, user_id: str, snapshot: SubscriptionSnapshot, *, fetched_at_ms: int, expected_version: int | None
    ) -> None:
        record = self.records.get(user_id) or BillingRecord(user_id=user_id)
        if record.version != expected_version:
            raise Conflict("The subscription changed meanwhile.")
        self.records[user_id] = replace(
            record,
            customer_id=snapshot.customer_id,
            subscription=snapshot,
            fetched_at_ms=fetched_at_ms,
            version=(expected_version or 0) + 1,
        )

    def save_notice(self, user_id: str, notice: Notice) -> None:
        record = self.records.get(user_id)
        if record is not None and (record.notice is None or record.notice.event_created <= notice.event_created):
            self.records[user_id] = replace(record, notice=notice)


@dataclass
class InMemoryLedger:
    states: dict[str, str] = field(default_factory=dict)

    def claim(
        self, provider: str, event_id: str, *, event_type: str, now: datetime
    ) -> Literal["claimed", "done", "busy"]:
        state = self.states.get(f"{provider}#{event_id}")
        if state is not None:
            return "done" if state == "done" else "busy"
        self.states[f"{provider}#{event_id}"] = "processing"
        return "claimed"

    def complete(self, provider: str, event_id: str, *, now: datetime) -> None:
        self.states[f"{provider}#{event_id}"] = "done"

    def release(self, provider: str, event_id: str) -> None:
        self.states.pop(f"{provider}#{event_id}", None)


@dataclass
class InProcessStripe:
    fake: FakeStripe
    livemode: bool = False

    def parse_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(payload)
        return event

    def create_customer(self, *, user_id: str, idempotency_key: str) -> str:
        existing = [cid for cid, c in self.fake.customers.items() if c["metadata"].get("user_id") == user_id]
        if existing:  # what Stripe's idempotency replay gives
            return existing[0]
        return str(self.fake._route("POST", "/v1/customers", {"metadata": {"user_id": user_id}})[1]["id"])

    def create_checkout_session(
        self,
        *,
        user_id: str,
        customer_id: str,
        plan_id: str,
        price_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> str:
        status, session = self.fake._create_checkout_session(
            {
                "mode": "subscription",
                "line_items": [{"price": price_id, "quantity": "1"}],
                "client_reference_id": user_id,
                "customer": customer_id,
                "success_url": success_url,
                "cancel_url": cancel_url,
                "subscription_data": {"metadata": {"user_id": user_id, "plan": plan_id}},
            }
        )
        assert status == 200, session
        return str(session["url"])

    def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        return "https://billing.stripe.test/p/session/in-process"

    def list_subscriptions(self, customer_id: str) -> list[SubscriptionSnapshot]:
        listed = self.fake.list_subscriptions({"customer": customer_id, "status": "all", "limit": 100})
        return [snapshot_from(subscription) for subscription in listed["data"]]
