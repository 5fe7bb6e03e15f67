"""Password rules and hashing (security reference §1; ASVS 5.0 6.2).

- Length 8 to 128 characters, no composition rules, checked exactly as typed (no trimming or case
  folding), and not one of the most common passwords nor the account's own e-mail address.
- argon2id with OWASP's parameters (m=19 MiB, t=2, p=1); the full PHC string is stored, and a hash
  made with older parameters is upgraded at the next successful sign-in.
- A sign-in for an unknown e-mail still verifies once, against a dummy hash with the same
  parameters, so that timing does not tell whether the account exists.

argon2 is imported on first use only: importing a handler stays cheap.
"""

from functools import cached_property, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Protocol

from flowctory.errors import BadRequest

if TYPE_CHECKING:
    from argon2 import PasswordHasher as Argon2PasswordHasher

MIN_LENGTH = 8
MAX_LENGTH = 128
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19456
ARGON2_PARALLELISM = 1


class WeakPassword(BadRequest):
    """The new password breaks a rule; `code` says which."""


def check_new_password(password: str, *, email: str | None = None) -> None:
    """Raises:
    WeakPassword: too short (`password_too_short`), too long (`password_too_long`), or too easy to
        guess (`password_too_common`).
    """
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use a password of at least {MIN_LENGTH} characters.", code="password_too_short")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use a password of at most {MAX_LENGTH} characters.", code="password_too_long")
    lowered = password.lower()
    guessable = {email.lower(), email.lower().split("@", 1)[0]} if email else set()
    if lowered in common_passwords() or lowered in guessable:
        raise WeakPassword(
            "This password is too common or too easy to guess. Choose another one; a phrase of a few words works well.",
            code="password_too_common",
        )


@lru_cache
def common_passwords() -> frozenset[str]:
    text = resources.files("flowctory.domain").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for a sign-in whose account does not exist."""
        ...


class Argon2Hasher:
    """argon2id through argon2-cffi."""

    def __init__(
        self,
        *,
        time_cost: int = ARGON2_TIME_COST,
        memory_cost: int = ARGON2_MEMORY_KIB,
        parallelism: int = ARGON2_PARALLELISM,
    ) -> None:
        self._time_cost, self._memory_cost, self._parallelism = time_cost, memory_cost, parallelism

    @cached_property
    def _hasher(self) -> "Argon2PasswordHasher":
        from argon2 import PasswordHasher as Argon2PasswordHasher
        from argon2 import Type

        return Argon2PasswordHasher(
            time_cost=self._time_cost, memory_cost=self._memory_cost, parallelism=self._parallelism, type=Type.ID
        )

    @cached_property
    def _dummy_hash(self) -> str:
        import secrets

        return self._hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def verify_dummy(self, password: str) -> None:
        self.verify(self._dummy_hash, password)
