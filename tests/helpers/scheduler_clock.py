"""A clock for the sandbox's scheduler that a test moves forward, instead of waiting for a post's time."""

import threading
from datetime import UTC, datetime, timedelta


class SchedulerClock:
    """The real clock plus an offset that only grows (until `reset`). Only the scheduler runs on it:
    handlers, moto and the simulators keep the real clock, so leases and tokens are not fooled."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def jump_to(self, instant: datetime) -> None:
        with self._lock:
            self._offset = max(self._offset, instant - datetime.now(UTC))

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()
