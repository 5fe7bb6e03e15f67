"""Posts in the single table, and every change of their state as a conditional write.

A post waiting for its time, or being published under a lease, carries `due_pk`/`due_sk` in the
sparse DueIndex: `due_sk` starts with the instant by which something must have happened to it
(its scheduled time while pending, its lease expiry while processing). The sweeper queries the
index for instants in the past, which finds both lost schedules and stuck publishes without a Scan.

A finished post (published, failed or cancelled) moves to an `EXPIRE#<shard>` partition of the same
index, sorted by its `expires_at` (90 days after it finished): the purge function's metadata sweep
deletes what DynamoDB's TTL has not yet removed with a Query per shard (keys.expiry_keys).
"""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from pydantic import TypeAdapter

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import Item, Page, SingleTable
from flowctory.errors import Conflict
from flowctory.models.posts import Post, PostFailure, PostStage, PostStatus

POST_SK_PREFIX = "POST#"

METADATA_RETENTION = timedelta(days=90)
_JSON_INSTANT = TypeAdapter(datetime)


def _to_item_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {name: _to_item_value(inner) for name, inner in value.items() if inner is not None}
    return value


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _stored_instant(value: datetime) -> str:
    """An instant as the post item stores it (pydantic's JSON form), for conditions on stored times."""
    return str(_JSON_INSTANT.dump_python(value, mode="json"))


def _utc_text(moment: datetime) -> str:
    """Lexically comparable with stored instants ("2026-03-01T00:00:00" sorts before "...Z")."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _expiring(user_id: str, post_id: str, finished: datetime) -> dict[str, Any]:
    """`expires_at` of a finished post (90 days after it was published, failed or cancelled) and its place
    in the DueIndex's expiry partitions, replacing its place among the waiting posts."""
    expires_at = int((finished + METADATA_RETENTION).timestamp())
    key = keys.post_key(user_id, post_id)
    return {"expires_at": expires_at, **keys.expiry_keys(key["pk"], key["sk"], expires_at)}


def post_to_item(post: Post) -> Item:
    item = _to_item_value(post.model_dump(mode="json", exclude={"expires_at"}))
    item.update(keys.post_key(post.user_id, post.post_id))
    if post.expires_at is not None:
        item["expires_at"] = int(post.expires_at.timestamp())
    if post.status is PostStatus.PENDING:
        item.update(keys.due_keys(post.post_id, _instant(post.scheduled_at)))
    elif post.expires_at is not None:
        item.update(keys.expiry_keys(item["pk"], item["sk"], item["expires_at"]))
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

    def heartbeat(
        self, user_id: str, post_id: str, *, attempt_id: str, uploaded_bytes: int, now: datetime, until: datetime
    ) -> None:
        """Upload progress and a longer lease in one write; an attempt that lost its lease learns it here.

        Raises:
            Conflict: another attempt took the post over (this one must stop sending bytes).
        """
        self._table.update(
            keys.post_key(user_id, post_id),
            set_values={
                "stage": PostStage.UPLOADING.value,
                "uploaded_bytes": uploaded_bytes,
                "updated_at": _instant(now),
                "lease_until": _instant(until),
                **keys.due_keys(post_id, _instant(until)),
            },
            condition=self._held(attempt_id),
            conflict_message="This publish attempt lost its lease.",
        )

    def save_publish_pointer(self, publish_id: str, *, user_id: str, post_id: str, open_id: str, now: datetime) -> None:
        """Remember whose post a publish_id is, for TikTok's webhooks (kept as long as the post's metadata)."""
        key = keys.publish_key(publish_id)
        expires_at = int((now + METADATA_RETENTION).timestamp())
        self._table.put(
            {
                **key,
                "user_id": user_id,
                "post_id": post_id,
                "open_id": open_id,
                "expires_at": expires_at,
                **keys.expiry_keys(key["pk"], key["sk"], expires_at),
            }
        )

    def find_by_publish_id(self, publish_id: str) -> tuple[str, str, str] | None:
        """(user_id, post_id, open_id) of the post TikTok's publish_id belongs to."""
        item = self._table.get(keys.publish_key(publish_id), consistent=True)
        if item is None:
            return None
        return str(item["user_id"]), str(item["post_id"]), str(item["open_id"])

    def record_public_post_id(self, user_id: str, post_id: str, *, tiktok_post_id: str, now: datetime) -> Post:
        """TikTok's post id, once moderation made the post public (it may come after `published`).

        Raises:
            Conflict: the post is not published.
        """
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={"tiktok_post_id": tiktok_post_id, "updated_at": _instant(now)},
            condition=Attr("status").eq(PostStatus.PUBLISHED.value),
            conflict_message="Only a published post has a TikTok post id.",
        )
        return item_to_post(item)

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
                **_expiring(user_id, post_id, now),
                **({"tiktok_post_id": tiktok_post_id} if tiktok_post_id else {}),
            },
            remove=["lease_until", "failure"],
            condition=Attr("status").eq(PostStatus.PROCESSING.value) & Attr("publish_id").exists(),
            conflict_message="Only a post being published can become published.",
        )
        return item_to_post(item)

    def mark_failed(
        self, user_id: str, post_id: str, *, failure: PostFailure, now: datetime, attempt_id: str | None = None
    ) -> Post:
        """Failed, with the reason; metadata kept 90 days from the failure (the same rule as a publication).

        An attempt passes its `attempt_id`: once its lease is lost, the attempt that took over decides.
        TikTok's own verdict (a webhook) passes none.
        """
        finishing = Attr("status").is_in([PostStatus.PENDING.value, PostStatus.PROCESSING.value])
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={
                "status": PostStatus.FAILED.value,
                "stage": PostStage.DONE.value,
                "failure": failure.model_dump(),
                "finished_at": _instant(now),
                "updated_at": _instant(now),
                **_expiring(user_id, post_id, now),
            },
            remove=["lease_until", "attempt_id"],
            condition=self._held(attempt_id) if attempt_id else finishing,
            conflict_message="This post has already finished, or another attempt holds it.",
        )
        return item_to_post(item)

    def cancel(self, user_id: str, post_id: str, *, now: datetime, reason: PostFailure | None = None) -> Post:
        """Cancel a waiting post; `reason` says why when Flowctory (not the creator) cancelled it.

        Raises:
            Conflict: the post is no longer pending (publishing started, or it finished).
        """
        values: dict[str, Any] = {
            "status": PostStatus.CANCELLED.value,
            "stage": PostStage.DONE.value,
            "finished_at": _instant(now),
            "updated_at": _instant(now),
            **_expiring(user_id, post_id, now),
        }
        if reason is not None:
            values["failure"] = reason.model_dump()
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values=values,
            condition=Attr("status").eq(PostStatus.PENDING.value),
            conflict_message="Only a post that is still waiting can be cancelled.",
        )
        return item_to_post(item)

    def hold(self, user_id: str, post_id: str, *, attempt_id: str, now: datetime) -> Post:
        """Back to waiting, held (processing is restricted): out of the sweeper's index until released."""
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={"status": PostStatus.PENDING.value, "stage": PostStage.HELD.value, "updated_at": _instant(now)},
            remove=["lease_until", "attempt_id", "due_pk", "due_sk"],
            condition=self._held(attempt_id) & Attr("publish_id").not_exists(),
            conflict_message="Only an attempt that has sent nothing to TikTok can hold its post.",
        )
        return item_to_post(item)

    def release_held(self, user_id: str, *, now: datetime) -> list[str]:
        """The user's held posts, due again from `now`: the sweeper (domain.reconcile) publishes them."""
        released = []
        for item in self._table.query_all(keys.user_pk(user_id), sk_prefix=POST_SK_PREFIX):
            if item.get("status") != PostStatus.PENDING.value or item.get("stage") != PostStage.HELD.value:
                continue
            post_id = str(item["sk"]).removeprefix(POST_SK_PREFIX)
            try:
                self._table.update(
                    keys.post_key(user_id, post_id),
                    set_values={
                        "stage": PostStage.SCHEDULED.value,
                        "updated_at": _instant(now),
                        **keys.due_keys(post_id, _instant(now)),
                    },
                    condition=Attr("status").eq(PostStatus.PENDING.value) & Attr("stage").eq(PostStage.HELD.value),
                    conflict_message="Released meanwhile.",
                )
            except Conflict:
                continue
            released.append(post_id)
        return released

    def pending_for_account(self, user_id: str, open_id: str) -> list[Post]:
        """The user's posts still waiting to go to TikTok account `open_id` (e.g. to cancel them on disconnect)."""
        return [
            post
            for post in (
                item_to_post(item) for item in self._table.query_all(keys.user_pk(user_id), sk_prefix=POST_SK_PREFIX)
            )
            if post.account_open_id == open_id and post.status is PostStatus.PENDING
        ]

    def list_page(
        self,
        user_id: str,
        *,
        status: PostStatus | None = None,
        account_open_id: str | None = None,
        scheduled_from: datetime | None = None,
        scheduled_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> tuple[list[Post], str | None]:
        """One page of the user's posts, newest first (post ids sort by creation), with an opaque cursor.

        Raises:
            BadRequest: the cursor is not one this user's listing handed out.
        """
        conditions: list[ConditionBase] = []
        if status is not None:
            conditions.append(Attr("status").eq(status.value))
        if account_open_id is not None:
            conditions.append(Attr("account_open_id").eq(account_open_id))
        if scheduled_from is not None:
            conditions.append(Attr("scheduled_at").gte(_utc_text(scheduled_from)))
        if scheduled_to is not None:
            conditions.append(Attr("scheduled_at").lt(_utc_text(scheduled_to)))
        combined: ConditionBase | None = None
        for condition in conditions:
            combined = condition if combined is None else combined & condition
        page: Page = self._table.query_page(
            keys.user_pk(user_id),
            sk_prefix=POST_SK_PREFIX,
            limit=limit,
            cursor=cursor,
            newest_first=True,
            filter_condition=combined,
        )
        return [item_to_post(item) for item in page.items], page.next_cursor

    def posts_using_video(self, user_id: str, video_key: str) -> list[str]:
        """Ids of the user's live posts (not cancelled) made from this video object."""
        uses = Attr("video.key").eq(video_key) & Attr("status").ne(PostStatus.CANCELLED.value)
        found: list[str] = []
        cursor = None
        while True:
            page = self._table.query_page(
                keys.user_pk(user_id), sk_prefix=POST_SK_PREFIX, limit=100, cursor=cursor, filter_condition=uses
            )
            found += [str(item["post_id"]) for item in page.items]
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def replace_pending(self, post: Post, *, expected_updated_at: datetime) -> Post:
        """Write an edited post over the stored one, only if it is still pending and unchanged since it was read.

        Raises:
            Conflict: publishing started, it finished or was cancelled, or someone else edited it meanwhile.
        """
        item = post_to_item(post)
        for name in ("pk", "sk"):
            item.pop(name)
        removed = [name for name in ("cover_timestamp_ms", "creator_username") if name not in item]
        stored = self._table.update(
            keys.post_key(post.user_id, post.post_id),
            set_values=item,
            remove=removed,
            condition=Attr("status").eq(PostStatus.PENDING.value)
            & Attr("updated_at").eq(_stored_instant(expected_updated_at)),
            conflict_message="This post changed meanwhile, or is no longer waiting; reload it.",
        )
        return item_to_post(stored)

    def discard_unscheduled(self, user_id: str, post_id: str) -> None:
        """Remove a post whose schedule could not be created (it was never accepted)."""
        self._table.delete(keys.post_key(user_id, post_id), condition=Attr("status").eq(PostStatus.PENDING.value))

    def reopen_for_retry(
        self,
        user_id: str,
        post_id: str,
        *,
        scheduled_at: datetime,
        now: datetime,
        abandoned_publish_id: str | None = None,
    ) -> Post:
        """A failed post goes back to pending, for `scheduled_at`, with one more manual retry counted.

        `abandoned_publish_id`: the post's TikTok publish, which TikTok confirmed will never become a
        post; it is dropped so the next attempt starts a new one. Without it, the post must have none.

        Raises:
            Conflict: it is not failed, its failure is not one a retry helps, or its publish changed.
        """
        publish_condition: ConditionBase
        if abandoned_publish_id is None:
            publish_condition = Attr("publish_id").not_exists()
        else:
            publish_condition = Attr("publish_id").eq(abandoned_publish_id)
        item = self._table.update(
            keys.post_key(user_id, post_id),
            set_values={
                "status": PostStatus.PENDING.value,
                "stage": PostStage.SCHEDULED.value,
                "scheduled_at": _stored_instant(scheduled_at),
                "updated_at": _stored_instant(now),
                "uploaded_bytes": 0,
                **keys.due_keys(post_id, _instant(scheduled_at)),
            },
            add={"retries": 1},
            remove=[
                "failure",
                "finished_at",
                "expires_at",
                "attempt_id",
                "lease_until",
                *(["publish_id"] if abandoned_publish_id else []),
            ],
            condition=Attr("status").eq(PostStatus.FAILED.value)
            & Attr("failure.retryable").eq(True)
            & publish_condition,
            conflict_message="Only a failed post whose failure a retry can help can be retried.",
        )
        return item_to_post(item)

    def needing_attention(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(user_id, post_id) of posts overdue and never claimed, or stuck past their lease."""
        return self._due(Key("due_sk").lt(_instant(now)))

    def due_between(self, start: datetime, end: datetime) -> Iterator[tuple[str, str]]:
        """(user_id, post_id) of posts whose time (or lease) falls in [start, end): the coming ones."""
        return self._due(Key("due_sk").between(_instant(start), _instant(end)))

    def _due(self, sort_key_condition: Any) -> Iterator[tuple[str, str]]:
        for partition in keys.due_partitions():
            condition = Key("due_pk").eq(partition) & sort_key_condition
            for page in self._table.query_pages(IndexName=keys.DUE_INDEX, KeyConditionExpression=condition):
                for item in page["Items"]:
                    yield str(item["pk"]).removeprefix("USER#"), str(item["sk"]).removeprefix(POST_SK_PREFIX)
