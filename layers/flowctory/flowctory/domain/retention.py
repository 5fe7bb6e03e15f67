"""Retention rules of the privacy policy §6 that run as sweeps (the purge function)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from flowctory.ports import MediaStore

VIDEO_PREFIX = "videos/"


@dataclass(frozen=True)
class VideoSweepReport:
    deleted_keys: list[str]


def purge_expired_videos(store: MediaStore, *, now: datetime, retention: timedelta) -> VideoSweepReport:
    """Delete every video older than `retention`, whatever its post's state (promise P07).

    S3's lifecycle rule also expires them, but only within about a day of the deadline; this sweep
    is what keeps the promise to the hour.
    """
    cutoff = now - retention
    expired = [obj.key for obj in store.list_objects(VIDEO_PREFIX) if obj.last_modified <= cutoff]
    store.delete_objects(expired)
    return VideoSweepReport(deleted_keys=expired)


class ExpiringItems(Protocol):
    def expired_items(self, now: datetime, *, limit: int) -> list[Any]:
        """Keys of items whose `expires_at` has passed (finished posts, publish pointers), by a Query."""
        ...

    def delete_if_expired(self, key: Any, *, now: datetime) -> bool:
        """Delete the item if it is still expired; False if it was gone or given a new life meanwhile."""
        ...


@dataclass(frozen=True)
class MetadataSweepReport:
    deleted: int
    more_left: bool


METADATA_SWEEP_LIMIT = 2000


def purge_expired_metadata(
    store: ExpiringItems, *, now: datetime, limit: int = METADATA_SWEEP_LIMIT
) -> MetadataSweepReport:
    """Delete post metadata (and publish pointers) past their `expires_at` that DynamoDB's TTL has not yet
    removed (promise P20: 90 days after publication, not 90 days plus TTL's lag of up to two days).

    Reads already ignore expired items; this makes them gone. The keys come from the DueIndex's expiry
    partitions (a Query per shard), never from a Scan; at most `limit` per run, the rest next run.
    """
    expired = store.expired_items(now, limit=limit)
    deleted = sum(store.delete_if_expired(key, now=now) for key in expired)
    return MetadataSweepReport(deleted=deleted, more_left=len(expired) >= limit)
