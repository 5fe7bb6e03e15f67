"""Builds each function's adapters from its settings, once per container (lazily, never at import)."""

from datetime import timedelta
from functools import lru_cache

from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.s3 import S3MediaStore
from flowctory.settings import CommonSettings, MediaSettings, load_settings


@lru_cache
def table() -> SingleTable:
    return SingleTable(load_settings(CommonSettings).TABLE_NAME)


@lru_cache
def media_store() -> S3MediaStore:
    return S3MediaStore(load_settings(MediaSettings).MEDIA_BUCKET)


def video_retention() -> timedelta:
    return timedelta(hours=load_settings(MediaSettings).VIDEO_RETENTION_HOURS)


def reset() -> None:
    """Forget cached adapters and settings (tests and the sandbox, after changing the environment)."""
    table.cache_clear()
    media_store.cache_clear()
    load_settings.cache_clear()
