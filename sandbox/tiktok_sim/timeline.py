"""A clock tests can move forward, and a thread that runs actions at times of that clock."""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("sandbox.tiktok_sim")


class SimClock:
    """Wall-clock time plus an offset that the control API advances (token expiry, 24 h caps, 1 h URLs)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        self._offset += seconds
        for listener in self._listeners:
            listener()
        return self.now()

    def reset(self) -> None:
        self._offset = 0.0

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


class Timeline:
    """Runs actions, one at a time in its own thread, when the clock reaches their time."""

    def __init__(self, clock: SimClock, name: str) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._stopped = False
        self._running = 0
        clock.on_change(self.wake)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def after(self, delay: float, action: Callable[[], None]) -> None:
        with self._condition:
            heapq.heappush(self._heap, (self._clock.now() + max(0.0, delay), next(self._counter), action))
            self._condition.notify_all()

    def wake(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def clear(self) -> None:
        with self._condition:
            self._heap.clear()

    def idle(self) -> bool:
        """Nothing due now and nothing running (tests wait for this instead of sleeping)."""
        with self._condition:
            due = bool(self._heap) and self._heap[0][0] <= self._clock.now()
            return not due and not self._running

    def pending(self) -> int:
        with self._condition:
            return len(self._heap) + self._running

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped:
                    if self._heap and self._heap[0][0] <= self._clock.now():
                        break
                    timeout = min(self._heap[0][0] - self._clock.now(), 0.5) if self._heap else None
                    self._condition.wait(timeout)
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._heap)
                self._running += 1
            try:
                action()
            except Exception:
                log.exception("simulator task failed")
            finally:
                with self._condition:
                    self._running -= 1
                    self._condition.notify_all()
