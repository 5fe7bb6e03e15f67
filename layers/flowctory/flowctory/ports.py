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


class TokenCipher(Protocol):
    """Envelope encryption bound to a context: a ciphertext decrypts only under the context it was sealed with."""

    def encrypt(self, plaintext: bytes, *, context: dict[str, str]) -> bytes: ...

    def decrypt(self, ciphertext: bytes, *, context: dict[str, str]) -> bytes: ...
