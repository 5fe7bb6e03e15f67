"""Anti-automation limits (security §2): per IP, per account, per user, in DynamoDB counters with a TTL.

Sign-in failures are counted per account (keyed by a hash of the e-mail as typed, whether or not
an account has it, so the limit says nothing about existence) and sign-in attempts per source IP.
After `SLOW_DOWN_AFTER` failures an account must wait before the next attempt, twice as long
after each further failure, up to a lock of `MAX_DELAY`; the failures are forgotten after
`FAILURE_MEMORY` without one, or at the next successful sign-in. A password reset still works
while an account is locked, so the lock cannot be used to keep its owner out.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flowctory.errors import RateLimited


@dataclass(frozen=True)
class Limit:
    """At most `max_hits` per `window` (fixed windows)."""

    kind: str
    max_hits: int
    window: timedelta


LOGIN_PER_IP = Limit("login_ip", 20, timedelta(minutes=1))
SIGNUP_PER_IP = Limit("signup_ip", 10, timedelta(hours=1))
RESET_REQUEST_PER_IP = Limit("reset_ip", 10, timedelta(minutes=15))
RESET_REQUEST_PER_ACCOUNT = Limit("reset_acct", 3, timedelta(minutes=15))
VERIFY_RESEND_PER_USER = Limit("verify_resend", 3, timedelta(minutes=15))
TOKEN_USE_PER_IP = Limit("token_ip", 30, timedelta(minutes=15))

SLOW_DOWN_AFTER = 5
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
FAILURE_MEMORY = timedelta(minutes=15)
LOGIN_FAILURES = "login_fail"


class TooManyAttempts(RateLimited):
    """Refused for now; `retry_after` (seconds) goes into the Retry-After header."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many attempts. Please wait a little and try again.", code="rate_limited")
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True)
class Failures:
    count: int
    last_at: datetime


class CounterStore(Protocol):
    def hit(self, kind: str, key: str, *, window_start: datetime, expires_at: datetime) -> int:
        """Add one to the counter of this window and return its new value."""
        ...

    def failures(self, kind: str, key: str) -> Failures | None: ...

    def add_failure(self, kind: str, key: str, *, now: datetime, expires_at: datetime) -> Failures: ...

    def clear_failures(self, kind: str, key: str) -> None: ...


def account_key(email: str) -> str:
    """The counter key of an e-mail: a hash, so counters hold no address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def login_delay(failure_count: int) -> timedelta:
    """How long an account waits after its `failure_count`-th consecutive failure."""
    if failure_count < SLOW_DOWN_AFTER:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** (failure_count - SLOW_DOWN_AFTER), MAX_DELAY)


class RateLimiter:
    def __init__(self, store: CounterStore) -> None:
        self._store = store

    def _window(self, limit: Limit, now: datetime) -> tuple[datetime, datetime]:
        seconds = int(limit.window.total_seconds())
        start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, now.tzinfo)
        return start, start + limit.window

    def hit(self, limit: Limit, key: str, *, now: datetime) -> None:
        """Count one attempt.

        Raises:
            TooManyAttempts: this key already used up its window.
        """
        if not self.allow(limit, key, now=now):
            _, window_end = self._window(limit, now)
            raise TooManyAttempts(math.ceil((window_end - now).total_seconds()))

    def allow(self, limit: Limit, key: str, *, now: datetime) -> bool:
        """Count one attempt and say whether it is within the limit (for limits that must stay silent)."""
        window_start, window_end = self._window(limit, now)
        count = self._store.hit(limit.kind, key, window_start=window_start, expires_at=window_end)
        return count <= limit.max_hits

    def check_login(self, email: str, *, now: datetime) -> None:
        """Raises:
        TooManyAttempts: the account must wait after its recent failures.
        """
        failures = self._store.failures(LOGIN_FAILURES, account_key(email))
        if failures is None or now - failures.last_at >= FAILURE_MEMORY:
            return
        allowed_at = failures.last_at + login_delay(failures.count)
        if now < allowed_at:
            raise TooManyAttempts(math.ceil((allowed_at - now).total_seconds()))

    def login_failed(self, email: str, *, now: datetime) -> None:
        previous = self._store.failures(LOGIN_FAILURES, account_key(email))
        key = account_key(email)
        if previous is not None and now - previous.last_at >= FAILURE_MEMORY:
            self._store.clear_failures(LOGIN_FAILURES, key)
        self._store.add_failure(LOGIN_FAILURES, key, now=now, expires_at=now + max(FAILURE_MEMORY, MAX_DELAY))

    def login_succeeded(self, email: str) -> None:
        self._store.clear_failures(LOGIN_FAILURES, account_key(email))
