"""The video retention sweep, against an in-memory media store."""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from flowctory.domain.retention import purge_expired_videos
from flowctory.ports import MediaStore, StoredObject

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class InMemoryMediaStore:
    def __init__(self, objects: list[StoredObject]) -> None:
        self.objects = {obj.key: obj for obj in objects}

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        yield from (obj for key, obj in sorted(self.objects.items()) if key.startswith(prefix))

    def delete_objects(self, keys: Iterable[str]) -> None:
        for key in keys:
            del self.objects[key]


def stored(key: str, age: timedelta) -> StoredObject:
    return StoredObject(key=key, size=1, last_modified=NOW - age)


def test_p07_videos_older_than_the_retention_window_are_deleted():
    # Given videos just under, at and past 24 hours, and a non-video object
    store: MediaStore = InMemoryMediaStore(
        [
            stored("videos/u1/fresh", timedelta(hours=23, minutes=59)),
            stored("videos/u1/due", timedelta(hours=24)),
            stored("videos/u2/old", timedelta(days=3)),
            stored("exports/u1/archive.json", timedelta(days=3)),
        ]
    )

    # When the sweep runs
    report = purge_expired_videos(store, now=NOW, retention=timedelta(hours=24))

    # Then only the videos at or past the window are gone
    assert sorted(report.deleted_keys) == ["videos/u1/due", "videos/u2/old"]
    assert sorted(store.objects) == ["exports/u1/archive.json", "videos/u1/fresh"]


def test_sweep_with_nothing_to_delete_deletes_nothing():
    store = InMemoryMediaStore([stored("videos/u1/fresh", timedelta(minutes=5))])
    assert purge_expired_videos(store, now=NOW, retention=timedelta(hours=24)).deleted_keys == []
    assert list(store.objects) == ["videos/u1/fresh"]
