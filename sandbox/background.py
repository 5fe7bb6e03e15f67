"""A task run every few seconds on its own thread: how the scheduler runner and the sweepers run."""

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flowctory.clock import Clock, utcnow

log = logging.getLogger("sandbox.background")


class Periodic:
    """Calls `task(now)` every `interval` seconds until stopped; a failing run is logged, not fatal."""

    def __init__(
        self,
        name: str,
        interval: float,
        task: Callable[[datetime], Any],
        *,
        clock: Clock = utcnow,
        run_at_start: bool = False,
    ) -> None:
        self.name = name
        self.interval = interval
        self._task = task
        self._clock = clock
        self._run_at_start = run_at_start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sandbox-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for the run in progress, if any, to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s did not stop within %.0f s", self.name, timeout)

    def _loop(self) -> None:
        if self._run_at_start:
            self._run()
        while not self._stop.wait(self.interval):
            self._run()

    def _run(self) -> None:
        try:
            self._task(self._clock())
        except Exception:
            log.exception("%s failed; it runs again in %.1f s", self.name, self.interval)
