"""Single-table access: conditional writes mapped to domain errors, transactions, paged queries.

Reads never return an item whose `expires_at` has passed: DynamoDB's TTL deletes expired items
only within a day or two, and the retention promises are stated to the day.
"""

import base64
import binascii
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from flowctory.adapters import aws
from flowctory.clock import Clock, utcnow
from flowctory.errors import BadRequest, Conflict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table as TableResource
    from mypy_boto3_dynamodb.type_defs import QueryOutputTableTypeDef

Item = dict[str, Any]
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next_cursor: str | None


@dataclass(frozen=True)
class TransactPut:
    item: Item
    condition: str | None = None


@dataclass(frozen=True)
class TransactCheck:
    key: Mapping[str, Any]
    condition: str


@dataclass(frozen=True)
class TransactDelete:
    key: Mapping[str, Any]
    condition: str | None = None


TransactOp = TransactPut | TransactCheck | TransactDelete


class SingleTable:
    """The app table. Conditional failures raise `Conflict` with the caller's message."""

    def __init__(self, table_name: str, *, clock: Clock = utcnow, resource: Any = None) -> None:
        self._table_name = table_name
        self._clock = clock
        self._resource = resource

    @property
    def table(self) -> "TableResource":
        return (self._resource or aws.dynamodb()).Table(self._table_name)

    def _now_epoch(self) -> int:
        return int(self._clock().timestamp())

    def _is_live(self, item: Item) -> bool:
        expires_at = item.get("expires_at")
        return expires_at is None or int(expires_at) > self._now_epoch()

    def get(self, key: Mapping[str, Any], *, consistent: bool = False) -> Item | None:
        item = self.table.get_item(Key=dict(key), ConsistentRead=consistent).get("Item")
        return item if item is not None and self._is_live(item) else None

    def put(self, item: Item) -> None:
        self.table.put_item(Item=item)

    def put_new(self, item: Item, *, conflict_message: str) -> None:
        """Write `item` only if no live item has its key.

        Raises:
            Conflict: an item with this key exists.
        """
        condition = Attr("pk").not_exists() | Attr("expires_at").lte(self._now_epoch())
        self._conditional(lambda: self.table.put_item(Item=item, ConditionExpression=condition), conflict_message)

    def update(
        self,
        key: Mapping[str, Any],
        *,
        set_values: Mapping[str, Any] | None = None,
        add: Mapping[str, int] | None = None,
        remove: Sequence[str] = (),
        condition: ConditionBase | None = None,
        conflict_message: str = "The item changed meanwhile.",
    ) -> Item:
        """Set, add to (counters) and remove attributes, optionally under `condition`; returns the new item.

        Raises:
            Conflict: the condition did not hold.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses = []
        for index, (name, value) in enumerate((set_values or {}).items()):
            names[f"#s{index}"] = name
            values[f":s{index}"] = value
            clauses.append(f"#s{index} = :s{index}")
        expression = "SET " + ", ".join(clauses) if clauses else ""
        if add:
            for index, (name, amount) in enumerate(add.items()):
                names[f"#a{index}"] = name
                values[f":a{index}"] = amount
            expression += " ADD " + ", ".join(f"#a{index} :a{index}" for index in range(len(add)))
        if remove:
            for index, name in enumerate(remove):
                names[f"#r{index}"] = name
            expression += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(remove)))
        arguments: dict[str, Any] = {
            "Key": dict(key),
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            arguments["ExpressionAttributeValues"] = values
        if condition is not None:
            arguments["ConditionExpression"] = condition
        response = self._conditional(lambda: self.table.update_item(**arguments), conflict_message)
        return dict(response["Attributes"])

    def delete(self, key: Mapping[str, Any], *, condition: ConditionBase | None = None) -> Item | None:
        """Delete the item and return what it held (None if there was none).

        Raises:
            Conflict: the condition did not hold.
        """
        arguments: dict[str, Any] = {"Key": dict(key), "ReturnValues": "ALL_OLD"}
        if condition is not None:
            arguments["ConditionExpression"] = condition
        response = self._conditional(lambda: self.table.delete_item(**arguments), "The item changed meanwhile.")
        return response.get("Attributes")

    def transact(self, operations: Sequence[TransactOp], *, conflict_message: str) -> None:
        """All of `operations` or none of them.

        Raises:
            Conflict: a condition of one of them did not hold.
        """
        requests = [self._transact_request(operation) for operation in operations]
        client = self.table.meta.client
        try:
            client.transact_write_items(TransactItems=requests)  # type: ignore[arg-type]
        except client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons", [])
            if any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                raise Conflict(conflict_message) from error
            raise

    def _transact_request(self, operation: TransactOp) -> dict[str, Any]:
        base: dict[str, Any] = {"TableName": self._table_name}
        if isinstance(operation, TransactPut):
            base["Item"] = operation.item
            if operation.condition:
                base["ConditionExpression"] = operation.condition
            return {"Put": base}
        if isinstance(operation, TransactCheck):
            return {"ConditionCheck": {**base, "Key": dict(operation.key), "ConditionExpression": operation.condition}}
        base["Key"] = dict(operation.key)
        if operation.condition:
            base["ConditionExpression"] = operation.condition
        return {"Delete": base}

    def query_page(
        self,
        pk: str,
        *,
        sk_prefix: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        newest_first: bool = False,
        filter_condition: ConditionBase | None = None,
    ) -> Page:
        """One page of the items of partition `pk`, live items only, with an opaque cursor for the next.

        Raises:
            BadRequest: the cursor is not one this query handed out.
        """
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        condition: ConditionBase = Key("pk").eq(pk)
        if sk_prefix:
            condition = condition & Key("sk").begins_with(sk_prefix)
        live = Attr("expires_at").not_exists() | Attr("expires_at").gt(self._now_epoch())
        arguments: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "FilterExpression": live if filter_condition is None else live & filter_condition,
            "ScanIndexForward": not newest_first,
        }
        start_key: Mapping[str, Any] | None = decode_cursor(cursor, pk=pk, sk_prefix=sk_prefix) if cursor else None
        items: list[Item] = []
        while True:
            arguments["Limit"] = limit - len(items)
            if start_key:
                arguments["ExclusiveStartKey"] = start_key
            response = self.table.query(**arguments)
            items.extend(response["Items"])
            start_key = response.get("LastEvaluatedKey")
            if len(items) >= limit or not start_key:
                break
        more = start_key is not None
        next_cursor = encode_cursor({"pk": items[-1]["pk"], "sk": items[-1]["sk"]}) if items and more else None
        return Page(items=items, next_cursor=next_cursor)

    def query_pages(self, **arguments: Any) -> Iterator["QueryOutputTableTypeDef"]:
        """Every page of one Query (`arguments` as boto3 takes them), expired items included: for the
        background jobs that delete or count them; request paths use `query_page`."""
        while True:
            response = self.table.query(**arguments)
            yield response
            if "LastEvaluatedKey" not in response:
                return
            arguments = {**arguments, "ExclusiveStartKey": response["LastEvaluatedKey"]}

    def query_all(self, pk: str, *, sk_prefix: str | None = None) -> Iterator[Item]:
        """Every live item of partition `pk` (for background jobs such as export and erasure)."""
        cursor = None
        while True:
            page = self.query_page(pk, sk_prefix=sk_prefix, limit=MAX_PAGE_SIZE, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _conditional(self, call: Any, conflict_message: str) -> Any:
        try:
            return call()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise Conflict(conflict_message) from error
            raise


def encode_cursor(key: Mapping[str, Any]) -> str:
    raw = json.dumps(dict(key), separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, pk: str, sk_prefix: str | None) -> dict[str, str]:
    """The start key inside `cursor`, checked to belong to the same query (a user cannot page into
    another user's partition by editing it).

    Raises:
        BadRequest: the cursor is malformed or belongs to another query.
    """
    invalid = BadRequest("The page cursor is invalid; start again from the first page.", code="invalid_cursor")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise invalid from None
    if not isinstance(key, dict) or set(key) != {"pk", "sk"} or not all(isinstance(v, str) for v in key.values()):
        raise invalid
    if key["pk"] != pk or (sk_prefix and not key["sk"].startswith(sk_prefix)):
        raise invalid
    return key
