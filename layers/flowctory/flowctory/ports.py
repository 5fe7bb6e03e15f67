"""What the domain needs from the outside world, as Protocols; adapters and test fakes implement them."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime


class MediaStore(Protocol):
    def list_objects(self, prefix: str) -> Iterator[StoredObject]: ...

    def delete_objects(self, keys: Iterable[str]) -> None: ...
