"""Posts in the single table, and every change of their state as a conditional write.

A post waiting for its time, or being published under a lease, carries `due_pk`/`due_sk` in the
sparse DueIndex: `due_sk` starts with the instant by which something must have happened to it
(its scheduled time while pending, its lease expiry while processing). The sweeper queries the
index for instants in the past, which finds both lost schedules and stuck publishes without a Scan.
"""

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import Item, SingleTable
from flowctory.models.posts import Post, PostFailure, PostStage, PostStatus

METADATA_RETENTION = timedelta(days=90)


def _to_item_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {name: _to_item_value(inner) for name, inner in value.items() if inner is not None}
    return value


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def post_to_item(post: Post) -> Item:
    item = _to_item_value(post.model_dump(mode="json", exclude={"expires_at"}))
    item.update(keys.post_key(post.user_id, post.post_id))
    if post.expires_at is not None:
        item["expires_at"] = int(post.expires_at.timestamp())
    if post.status is PostStatus.PENDING:
        item.update(keys.due_keys(post.post_id, _instant(post.scheduled_at)))
    return item


def item_to_post(item: Mapping[str, Any]) -> Post:
    fields = {name: value for name, value in item.items() if name in Post.model_fields}
    if "expires_at" in item:
        fields["expires_at"] = datetime.fromtimestamp(int(item["expires_at"])).astimezone()
    return Post.model_validate(fields)


class PostRepository:
    def __init__(self, table: SingleTable) -> None:
        self._table = table

    def create(self, post: Post) -> None:
        """Raises:
        Conflict: a post with this id exists.
        """
        self._table.put_new(post_to_item(post), conflict_message="This post already exists.")

    def get(self, user_id: str, post_id: str) -> Post | None:
        item = self._table.get(keys.post_key(user_id, post_id), consistent=True)
        return item_to_post(item) if item else None

    def claim(self, user_id: str, post_id: str, *, attempt_id: str, now: datetime, lease: timedelta) -> Post:
        """Take the post for one publish attempt: a pending post, or a processing one whose lease ran out.

        Raises:
            Conflict: another attempt holds it, or it is no longer waiting (published, failed, cancelled).
        """
        lease_until = now + lease
        claimable = Attr("status").eq(PostStatus.PENDING.value) | (
            Attr("status").eq(PostStatus.PROCESSING.value) & Attr("lease_until").lt(_instant(now))
        )
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={
                "status": PostStatus.PROCESSING.value,
                "attempt_id": attempt_id,
                "lease_until": _instant(lease_until),
                "updated_at": _instant(now),
                **keys.due_keys(post_id, _instant(lease_until)),
            },
            add={"attempts": 1},
            condition=Attr("pk").exists() & claimable,
            conflict_message="This post is being published or is no longer waiting.",
        )
        return item_to_post(item)

    def _held(self, attempt_id: str) -> Any:
        return Attr("attempt_id").eq(attempt_id) & Attr("status").eq(PostStatus.PROCESSING.value)

    def record_publish_id(self, user_id: str, post_id: str, *, attempt_id: str, publish_id: str, now: datetime) -> Post:
        """Store TikTok's publish_id before the first byte is sent: from then on the post is never re-initialised.

        Raises:
            Conflict: the attempt lost its lease, or a publish_id is already stored.
        """
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={"publish_id": publish_id, "stage": PostStage.UPLOADING.value, "updated_at": _instant(now)},
            condition=self._held(attempt_id) & Attr("publish_id").not_exists(),
            conflict_message="This post already has a TikTok publish id.",
        )
        return item_to_post(item)

    def record_progress(
        self, user_id: str, post_id: str, *, attempt_id: str, stage: PostStage, uploaded_bytes: int, now: datetime
    ) -> Post:
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={"stage": stage.value, "uploaded_bytes": uploaded_bytes, "updated_at": _instant(now)},
            condition=self._held(attempt_id),
            conflict_message="This publish attempt lost its lease.",
        )
        return item_to_post(item)

    def extend_lease(self, user_id: str, post_id: str, *, attempt_id: str, until: datetime) -> None:
        self._table.update(
            keys.post_key(user_id, post_id),
            set_values={"lease_until": _instant(until), **keys.due_keys(post_id, _instant(until))},
            condition=self._held(attempt_id),
            conflict_message="This publish attempt lost its lease.",
        )

    def mark_published(self, user_id: str, post_id: str, *, tiktok_post_id: str | None, now: datetime) -> Post:
        """Published, with metadata kept 90 days from now (promise P20). Idempotent for a post already published."""
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={
                "status": PostStatus.PUBLISHED.value,
                "stage": PostStage.DONE.value,
                "published_at": _instant(now),
                "finished_at": _instant(now),
                "updated_at": _instant(now),
                "expires_at": int((now + METADATA_RETENTION).timestamp()),
                **({"tiktok_post_id": tiktok_post_id} if tiktok_post_id else {}),
            },
            remove=["due_pk", "due_sk", "lease_until", "failure"],
            condition=Attr("status").eq(PostStatus.PROCESSING.value) & Attr("publish_id").exists(),
            conflict_message="Only a post being published can become published.",
        )
        return item_to_post(item)

    def mark_failed(self, user_id: str, post_id: str, *, failure: PostFailure, now: datetime) -> Post:
        """Failed, with the reason; metadata kept 90 days from the failure (the same rule as a publication)."""
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={
                "status": PostStatus.FAILED.value,
                "stage": PostStage.DONE.value,
                "failure": failure.model_dump(),
                "finished_at": _instant(now),
                "updated_at": _instant(now),
                "expires_at": int((now + METADATA_RETENTION).timestamp()),
            },
            remove=["due_pk", "due_sk", "lease_until", "attempt_id"],
            condition=Attr("status").is_in([PostStatus.PENDING.value, PostStatus.PROCESSING.value]),
            conflict_message="This post has already finished.",
        )
        return item_to_post(item)

    def cancel(self, user_id: str, post_id: str, *, now: datetime) -> Post:
        """Raises:
        Conflict: the post is no longer pending (publishing started, or it finished).
        """
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={
                "status": PostStatus.CANCELLED.value,
                "stage": PostStage.DONE.value,
                "finished_at": _instant(now),
                "updated_at": _instant(now),
                "expires_at": int((now + METADATA_RETENTION).timestamp()),
            },
            remove=["due_pk", "due_sk"],
            condition=Attr("status").eq(PostStatus.PENDING.value),
            conflict_message="Only a post that is still waiting can be cancelled.",
        )
        return item_to_post(item)

    def needing_attention(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(user_id, post_id) of posts overdue and never claimed, or stuck past their lease."""
        for partition in keys.due_partitions():
            paginator_args: dict[str, Any] = {
                "IndexName": keys.DUE_INDEX,
                "KeyConditionExpression": Key("due_pk").eq(partition) & Key("due_sk").lt(_instant(now)),
            }
            while True:
                response = self._table.table.query(**paginator_args)
                for item in response["Items"]:
                    yield str(item["pk"]).removeprefix("USER#"), str(item["sk"]).removeprefix("POST#")
                if "LastEvaluatedKey" not in response:
                    break
                paginator_args["ExclusiveStartKey"] = response["LastEvaluatedKey"]
