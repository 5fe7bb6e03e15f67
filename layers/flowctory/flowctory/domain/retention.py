"""Retention rules of the privacy policy §6 that run as sweeps (the purge function)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

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
