"""Billing state in the single table: the user's billing item, the customer -> user link, and usage counts.

The billing item (keys.subscription_key) holds the Stripe customer id and the last subscription
state fetched from Stripe, with `fetched_at_ms` and a `version` that every save checks and bumps:
two webhook deliveries saving at once cannot overwrite each other blindly. Nothing about a card
is ever stored (promise P15): Stripe keeps payment methods, we keep ids, statuses and dates.
"""

from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import SingleTable
from flowctory.clock import Clock, utcnow
from flowctory.domain.billing import BillingRecord, Notice, SubscriptionSnapshot
from flowctory.errors import Conflict


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _snapshot_item(snapshot: SubscriptionSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.id,
        "customer_id": snapshot.customer_id,
        "status": snapshot.status,
        "price_id": snapshot.price_id,
        "created": snapshot.created,
        "current_period_end": snapshot.current_period_end,
        "cancel_at_period_end": snapshot.cancel_at_period_end,
        "trial_end": snapshot.trial_end,
    }


def _snapshot_of(value: Mapping[str, Any] | None) -> SubscriptionSnapshot | None:
    if not value:
        return None
    return SubscriptionSnapshot(
        id=str(value["id"]),
        customer_id=str(value.get("customer_id") or ""),
        status=str(value["status"]),
        price_id=value.get("price_id"),
        created=int(value.get("created") or 0),
        current_period_end=_int(value.get("current_period_end")),
        cancel_at_period_end=bool(value.get("cancel_at_period_end")),
        trial_end=_int(value.get("trial_end")),
    )


def _notice_of(value: Mapping[str, Any] | None) -> Notice | None:
    if not value:
        return None
    return Notice(
        kind=value["kind"],
        event_created=int(value["event_created"]),
        pay_url=value.get("pay_url"),
        next_payment_attempt=_int(value.get("next_payment_attempt")),
        trial_end=_int(value.get("trial_end")),
    )


class DynamoBillingRepository:
    """Implements the domain's BillingRepository."""

    def __init__(self, table: SingleTable, *, clock: Clock = utcnow) -> None:
        self._table = table
        self._clock = clock

    def _stamp(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def get(self, user_id: str) -> BillingRecord | None:
        item = self._table.get(keys.subscription_key(user_id), consistent=True)
        if item is None:
            return None
        return BillingRecord(
            user_id=user_id,
            customer_id=item.get("customer_id"),
            subscription=_snapshot_of(item.get("subscription")),
            fetched_at_ms=int(item.get("fetched_at_ms", 0)),
            version=_int(item.get("version")),
            notice=_notice_of(item.get("notice")),
        )

    def user_for_customer(self, customer_id: str) -> str | None:
        if not customer_id:
            return None
        item = self._table.get(keys.stripe_customer_key(customer_id), consistent=True)
        return str(item["user_id"]) if item else None

    def link_customer(self, user_id: str, customer_id: str) -> None:
        """Record that `customer_id` is `user_id`'s Stripe customer (idempotent).

        Raises:
            Conflict: the customer belongs to another user, or the user to another customer.
        """
        try:
            self._table.put_new(
                {**keys.stripe_customer_key(customer_id), "user_id": user_id, "linked_at": self._stamp()},
                conflict_message="This Stripe customer belongs to another account.",
            )
        except Conflict:
            if self.user_for_customer(customer_id) != user_id:
                raise
        self._table.update(
            keys.subscription_key(user_id),
            set_values={"user_id": user_id, "customer_id": customer_id},
            condition=Attr("customer_id").not_exists() | Attr("customer_id").eq(customer_id),
            conflict_message="This account is already linked to another Stripe customer.",
        )

    def unlink_customer(self, user_id: str, customer_id: str) -> None:
        """Forget a deleted customer: later events naming it find no user."""
        with suppress(Conflict):  # already gone
            self._table.delete(keys.stripe_customer_key(customer_id), condition=Attr("user_id").eq(user_id))
        with suppress(Conflict):  # already unlinked, or linked to a newer customer
            self._table.update(
                keys.subscription_key(user_id), remove=["customer_id"], condition=Attr("customer_id").eq(customer_id)
            )

    def save_subscription(
        self, user_id: str, snapshot: SubscriptionSnapshot, *, fetched_at_ms: int, expected_version: int | None
    ) -> None:
        """Raises:
        Conflict: the item's version is no longer `expected_version` (someone saved meanwhile).
        """
        unchanged: ConditionBase = (
            Attr("version").not_exists() if expected_version is None else Attr("version").eq(expected_version)
        )
        self._table.update(
            keys.subscription_key(user_id),
            set_values={
                "user_id": user_id,
                "customer_id": snapshot.customer_id,
                "subscription": _snapshot_item(snapshot),
                "fetched_at_ms": fetched_at_ms,
                "version": (expected_version or 0) + 1,
                "updated_at": self._stamp(),
            },
            condition=unchanged,
            conflict_message="The subscription changed meanwhile.",
        )

    def save_notice(self, user_id: str, notice: Notice) -> None:
        """Keep `notice` unless a newer one is already there (events arrive in any order)."""
        newer_or_none = Attr("notice").not_exists() | Attr("notice.event_created").lte(notice.event_created)
        value = {
            "kind": notice.kind,
            "event_created": notice.event_created,
            "pay_url": notice.pay_url,
            "next_payment_attempt": notice.next_payment_attempt,
            "trial_end": notice.trial_end,
        }
        try:
            self._table.update(
                keys.subscription_key(user_id),
                set_values={"notice": {name: item for name, item in value.items() if item is not None}},
                condition=Attr("pk").exists() & newer_or_none,
            )
        except Conflict:
            return


class DynamoUsageReader:
    """Counts what the plan limits: connected TikTok accounts, and posts scheduled in a period.

    Posts are the items the schedule function writes (`scheduled_at` an ISO 8601 UTC instant,
    `status`); a cancelled post frees its slot, a failed one does not. Counting is a Query with
    Select=COUNT on the user's partition, never a Scan.
    """

    def __init__(self, table: SingleTable, *, clock: Clock = utcnow) -> None:
        self._table = table
        self._clock = clock

    def connected_accounts(self, user_id: str) -> int:
        return self._count(user_id, keys.tiktok_account_key(user_id, "")["sk"])

    def posts_scheduled_between(self, user_id: str, start: datetime, end: datetime) -> int:
        in_period = Attr("scheduled_at").gte(_utc_text(start)) & Attr("scheduled_at").lt(_utc_text(end))
        return self._count(user_id, keys.post_key(user_id, "")["sk"], in_period & Attr("status").ne("cancelled"))

    def _count(self, user_id: str, sk_prefix: str, condition: ConditionBase | None = None) -> int:
        live = Attr("expires_at").not_exists() | Attr("expires_at").gt(int(self._clock().timestamp()))
        arguments: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(keys.user_pk(user_id)) & Key("sk").begins_with(sk_prefix),
            "FilterExpression": live if condition is None else live & condition,
            "Select": "COUNT",
        }
        return sum(int(page["Count"]) for page in self._table.query_pages(**arguments))


def _utc_text(moment: datetime) -> str:
    """Lexically comparable with the stored instants ("2026-03-01T00:00:00" sorts before "...Z"/"+00:00")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
