"""Data rights in the single table: erasure requests, restriction, the user's raw items, expired items.

Erasure reads the user's partition without the live-item filter of SingleTable's queries: an item
whose `expires_at` has passed but which TTL has not yet removed is still the user's data and must
go too. Deletions go in batches of 25 (BatchWriteItem), retrying what DynamoDB leaves unprocessed.
"""

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from flowctory.adapters import aws, keys
from flowctory.adapters.dynamodb import Item, SingleTable
from flowctory.adapters.scheduler import schedule_name
from flowctory.clock import parse_instant
from flowctory.domain.erasure import PostRef, StripeRefs
from flowctory.errors import Conflict
from flowctory.observability import logger

BATCH_SIZE = 25  # BatchWriteItem's maximum
UNPROCESSED_RETRIES = 8


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class DynamoDataRightsStore:
    """Implements the ports of domain.erasure, domain.restriction and domain.retention's metadata sweep."""

    def __init__(self, table: SingleTable) -> None:
        self._table = table

    # --- reading a user's items ---

    def user_items(self, user_id: str, *, sk_prefix: str | None = None) -> Iterator[Item]:
        """Every item of the user's partition, expired or not, page by page (a Query, never a Scan)."""
        condition: ConditionBase = Key("pk").eq(keys.user_pk(user_id))
        if sk_prefix:
            condition = condition & Key("sk").begins_with(sk_prefix)
        for page in self._table.query_pages(KeyConditionExpression=condition, ConsistentRead=True):
            yield from page["Items"]

    def identities(self, user_id: str) -> list[tuple[str, str]]:
        """(provider, subject) of every sign-in identity linked to the user."""
        return [
            (str(item["provider"]), str(item["subject"]))
            for item in self.user_items(user_id, sk_prefix="IDP#")
            if "provider" in item and "subject" in item
        ]

    def get(self, key: Mapping[str, Any]) -> Item | None:
        item = self._table.table.get_item(Key=dict(key), ConsistentRead=True).get("Item")
        return dict(item) if item else None

    # --- erasure requests ---

    def open_erasure(
        self,
        *,
        user_id: str,
        request: Mapping[str, Any],
        expected_session_version: int,
        email: str,
        identities: Sequence[tuple[str, str]],
        now: datetime,
    ) -> None:
        """In one transaction: record the request, end every session (the version moves on), stop all
        processing (restricted), and free the e-mail and identity keys so nobody can sign in to the account.

        Raises:
            Conflict: an erasure is already requested, or the account changed meanwhile.
        """
        table_name = self._table.table.name
        request_key = keys.erasure_request_key(user_id)
        operations: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": table_name,
                    "Item": {**request_key, **request},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": table_name,
                    "Key": dict(keys.profile_key(user_id)),
                    "UpdateExpression": "SET #sv = :next, #r = :yes, #ra = if_not_exists(#ra, :now), #u = :now",
                    "ConditionExpression": "#sv = :current",
                    "ExpressionAttributeNames": {
                        "#sv": "session_version",
                        "#r": "restricted",
                        "#ra": "restricted_at",
                        "#u": "updated_at",
                    },
                    "ExpressionAttributeValues": {
                        ":next": expected_session_version + 1,
                        ":current": expected_session_version,
                        ":yes": True,
                        ":now": _iso(now),
                    },
                }
            },
            _delete_owned(table_name, keys.email_key(email), user_id),
            *(
                _delete_owned(table_name, keys.identity_key(provider, subject), user_id)
                for provider, subject in identities
            ),
        ]
        client = self._table.table.meta.client
        try:
            client.transact_write_items(TransactItems=operations)  # type: ignore[arg-type]
        except client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                raise Conflict("Your account changed meanwhile, or its deletion is already under way.") from error
            raise

    def pending_erasures(self) -> Iterator[Item]:
        """Every erasure request still open, oldest partition key first (one partition, a Query)."""
        condition = Key("pk").eq(keys.ERASURE_REQUESTS_PK)
        for page in self._table.query_pages(KeyConditionExpression=condition, ConsistentRead=True):
            yield from page["Items"]

    def claim_erasure(self, user_id: str, *, now: datetime, until: datetime) -> Item | None:
        """Take the request for one run (a lease, so two purge runs never work on it at once); None if it is
        gone (done) or another run holds it."""
        try:
            return self._table.update(
                keys.erasure_request_key(user_id),
                set_values={"lease_until": _iso(until)},
                add={"attempts": 1},
                condition=Attr("pk").exists() & (Attr("lease_until").not_exists() | Attr("lease_until").lt(_iso(now))),
            )
        except Conflict:
            return None

    def record_erasure_step(self, user_id: str, step: str, *, now: datetime) -> None:
        self._table.update(
            keys.erasure_request_key(user_id), set_values={f"done_{step}": _iso(now)}, condition=Attr("pk").exists()
        )

    def close_erasure(self, user_id: str, *, receipt: Mapping[str, Any]) -> None:
        """Keep the receipt (no personal data) and drop the request (which held the address for the mail)."""
        receipt_key = keys.erasure_receipt_key(str(receipt["requested_at"]), str(receipt["request_id"]))
        self._table.put({**receipt_key, **receipt})
        self._table.table.delete_item(Key=_plain(keys.erasure_request_key(user_id)))

    def receipts(self) -> list[Item]:
        response = self._table.table.query(KeyConditionExpression=Key("pk").eq(keys.ERASURE_RECEIPTS_PK))
        return [dict(item) for item in response["Items"]]

    # --- erasing a user's items ---

    def tiktok_open_ids(self, user_id: str) -> list[str]:
        return [str(item["open_id"]) for item in self.user_items(user_id, sk_prefix="TIKTOK#")]

    def delete_tiktok_account(self, user_id: str, open_id: str) -> None:
        """The account item (with its sealed tokens) and the open_id -> user pointer."""
        self.delete_keys([keys.tiktok_owner_key(open_id, user_id), keys.tiktok_account_key(user_id, open_id)])

    def post_refs(self, user_id: str) -> Iterator[PostRef]:
        for item in self.user_items(user_id, sk_prefix="POST#"):
            publish_id = item.get("publish_id")
            finished_at = item.get("finished_at")
            yield PostRef(
                post_id=str(item["sk"]).removeprefix("POST#"),
                publish_id=str(publish_id) if publish_id else None,
                status=str(item.get("status") or ""),
                finished_at=parse_instant(str(finished_at)) if finished_at else None,
            )

    def delete_posts(self, user_id: str, refs: Sequence[PostRef]) -> None:
        doomed: list[Mapping[str, Any]] = []
        for post in refs:
            if post.publish_id:
                doomed.append(keys.publish_key(post.publish_id))
            doomed.append(keys.post_key(user_id, post.post_id))
        self.delete_keys(doomed)

    def stripe_billing(self, user_id: str) -> StripeRefs | None:
        item = self.get(keys.subscription_key(user_id))
        customer_id = str(item.get("customer_id") or "") if item else ""
        if not item or not customer_id:
            return None
        subscription = item.get("subscription") or {}
        return StripeRefs(
            customer_id=customer_id,
            subscription_id=str(subscription["id"]) if subscription.get("id") else None,
            subscription_status=str(subscription["status"]) if subscription.get("status") else None,
        )

    def forget_stripe_customer(self, customer_id: str) -> None:
        self.delete_keys([keys.stripe_customer_key(customer_id)])

    def delete_counters(self, counters: Sequence[tuple[str, str]]) -> None:
        self.delete_keys([keys.rate_key(kind, key) for kind, key in counters])

    def delete_partition(self, user_id: str) -> int:
        return self.delete_keys([{"pk": item["pk"], "sk": item["sk"]} for item in self.user_items(user_id)])

    # --- deleting ---

    def delete_keys(self, item_keys: Iterable[Mapping[str, Any]]) -> int:
        """Delete every item of `item_keys` (missing ones are fine); returns how many keys were sent."""
        pending = [{"pk": key["pk"], "sk": key["sk"]} for key in item_keys]
        unique = list({(key["pk"], key["sk"]): key for key in pending}.values())
        client = self._table.table.meta.client
        table_name = self._table.table.name
        for start in range(0, len(unique), BATCH_SIZE):
            requests: list[dict[str, Any]] = [
                {"DeleteRequest": {"Key": key}} for key in unique[start : start + BATCH_SIZE]
            ]
            for attempt in range(UNPROCESSED_RETRIES):
                response = client.batch_write_item(RequestItems={table_name: requests})  # type: ignore[dict-item]
                requests = [dict(request) for request in response.get("UnprocessedItems", {}).get(table_name, [])]
                if not requests:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise RuntimeError(f"DynamoDB left {len(requests)} deletion(s) unprocessed")
        return len(unique)

    # --- restriction ---

    def set_restriction(self, user_id: str, *, restricted: bool, now: datetime) -> Item:
        """Set or lift the restriction flag; a restriction already on keeps the time it began.

        Raises:
            Conflict: the user is gone.
        """
        names = {"#r": "restricted", "#ra": "restricted_at", "#u": "updated_at"}
        values: dict[str, Any] = {":now": _iso(now)}
        if restricted:
            expression = "SET #r = :yes, #ra = if_not_exists(#ra, :now), #u = :now"
            values[":yes"] = True
        else:
            expression = "SET #u = :now REMOVE #r, #ra"
        try:
            response = self._table.table.update_item(
                Key=_plain(keys.profile_key(user_id)),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise Conflict("The account is gone.") from error
            raise
        return dict(response["Attributes"])

    # --- retention ---

    def expired_items(self, now: datetime, *, limit: int) -> list[keys.Key]:
        """Keys of items whose `expires_at` has passed, from the DueIndex's expiry partitions (Queries)."""
        found: list[keys.Key] = []
        cutoff = keys.expiry_instant(_epoch(now)) + "~"  # "~" sorts after every "#<key>" suffix
        for partition in keys.expiry_partitions():
            arguments: dict[str, Any] = {
                "IndexName": keys.DUE_INDEX,
                "KeyConditionExpression": Key("due_pk").eq(partition) & Key("due_sk").lte(cutoff),
            }
            while len(found) < limit:
                arguments["Limit"] = limit - len(found)
                response = self._table.table.query(**arguments)
                found += [{"pk": str(item["pk"]), "sk": str(item["sk"])} for item in response["Items"]]
                if "LastEvaluatedKey" not in response:
                    break
                arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def delete_if_expired(self, key: Mapping[str, Any], *, now: datetime) -> bool:
        """Delete the item if it is (still) expired; False when it was gone or given a new life meanwhile."""
        try:
            self._table.table.delete_item(
                Key={"pk": key["pk"], "sk": key["sk"]},
                ConditionExpression=Attr("expires_at").lte(_epoch(now)),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _plain(key: keys.Key) -> dict[str, Any]:
    return {"pk": key["pk"], "sk": key["sk"]}


def _delete_owned(table_name: str, key: keys.Key, user_id: str) -> dict[str, Any]:
    """A transactional delete of a pointer that only succeeds if it is this user's (or already gone)."""
    return {
        "Delete": {
            "TableName": table_name,
            "Key": dict(key),
            "ConditionExpression": "attribute_not_exists(pk) OR user_id = :user",
            "ExpressionAttributeValues": {":user": user_id},
        }
    }


class PostScheduleCleaner:
    """Deletes a post's schedules: its own (`post-<id>`) and its follow-ups (`post-<id>-<label>`)."""

    def __init__(self, group: str) -> None:
        self._group = group

    def delete_post_schedules(self, post_id: str) -> int:
        name = schedule_name(post_id)
        scheduler = aws.scheduler()
        found = [
            schedule["Name"]
            for page in scheduler.get_paginator("list_schedules").paginate(GroupName=self._group, NamePrefix=name)
            for schedule in page["Schedules"]
            if schedule["Name"] == name or schedule["Name"].startswith(name + "-")
        ]
        for schedule in found:
            try:
                scheduler.delete_schedule(Name=schedule, GroupName=self._group)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
        return len(found)


class PurgeInvoker:
    """Starts the purge function at once (an asynchronous invocation) for work a user is waiting for: an
    erasure, or posts to resume. Best effort: when the call fails, the purge function's next sweep (at
    most 15 minutes later) does the same work anyway."""

    def __init__(self, function_arn: str) -> None:
        self._function_arn = function_arn

    def start(self, user_id: str) -> None:
        """Erase this user now."""
        self._invoke({"erase_user_id": user_id}, "the erasure")

    def resume_posts(self) -> None:
        """Run the stuck and overdue posts sweep now (domain.reconcile)."""
        self._invoke({"sweep": "resume_posts"}, "the resumed posts")

    def _invoke(self, event: dict[str, str], what: str) -> None:
        if not self._function_arn:
            return
        try:
            aws.client("lambda").invoke(
                FunctionName=self._function_arn, InvocationType="Event", Payload=json.dumps(event).encode()
            )
        except Exception as error:  # the sweep is the guarantee; this only saves time
            logger.warning(f"could not start {what} now; the purge sweep will", error_type=type(error).__name__)
