"""Processed webhook events (any provider), so that a redelivery is a no-op.

One item per event (keys.webhook_key), claimed with a conditional write before the event is
processed and marked done after. A claim whose processing crashed is taken over once its lease
has passed; a failure releases it, so the provider's retry processes the event again. The item
expires (TTL) after `retention`, which must outlast the provider's retries (Stripe: 3 days).
"""

from datetime import datetime, timedelta
from typing import Literal

from boto3.dynamodb.conditions import Attr

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import SingleTable
from flowctory.errors import Conflict

PROCESSING = "processing"
DONE = "done"


class DynamoWebhookLedger:
    def __init__(self, table: SingleTable, *, retention: timedelta, lease: timedelta) -> None:
        self._table = table
        self._retention = retention
        self._lease = lease

    def claim(
        self, provider: str, event_id: str, *, event_type: str, now: datetime
    ) -> Literal["claimed", "done", "busy"]:
        """Claim an event for processing: "claimed" (go on), "done" (a duplicate), "busy" (another
        delivery holds it right now)."""
        key = keys.webhook_key(provider, event_id)
        epoch = int(now.timestamp())
        claimable = (
            Attr("pk").not_exists()
            | Attr("expires_at").lte(epoch)
            | (Attr("state").eq(PROCESSING) & Attr("lease_until").lt(epoch))
        )
        try:
            self._table.update(
                key,
                set_values={
                    "state": PROCESSING,
                    "provider": provider,
                    "event_type": event_type,
                    "received_at": now.isoformat(timespec="seconds"),
                    "lease_until": epoch + int(self._lease.total_seconds()),
                    "expires_at": epoch + int(self._retention.total_seconds()),
                },
                condition=claimable,
            )
        except Conflict:
            existing = self._table.get(key, consistent=True)
            return "done" if existing is not None and existing.get("state") == DONE else "busy"
        return "claimed"

    def complete(self, provider: str, event_id: str, *, now: datetime) -> None:
        self._table.update(
            keys.webhook_key(provider, event_id),
            set_values={"state": DONE, "processed_at": now.isoformat(timespec="seconds")},
            remove=["lease_until"],
        )

    def release(self, provider: str, event_id: str) -> None:
        """Forget a claim whose processing failed (no-op if it is not, or no longer, ours to drop)."""
        try:
            self._table.delete(keys.webhook_key(provider, event_id), condition=Attr("state").eq(PROCESSING))
        except Conflict:
            return
