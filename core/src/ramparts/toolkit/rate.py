"""A rate limit for what a page may ask for again and again (log lines, notifications)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimit"]


class RateLimit:
    """A token bucket, safe to share between threads: up to ``burst`` takes at once, then
    ``per_second`` on average.

    It starts full. Each :meth:`take` spends one token if there is one; tokens come back
    at ``per_second``, never more than ``burst``. A refused take costs nothing, so a
    caller that keeps asking during a flood gets exactly the rate back once it slows.

    :param per_second: tokens added per second (> 0).
    :param burst: the most tokens held (>= 1).
    :param clock: seconds from any fixed point, rising (tests pass their own).
    """

    def __init__(
        self, per_second: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not per_second > 0 or burst < 1:
            raise ValueError(
                f"a rate limit needs per_second > 0 and burst >= 1: {per_second}, {burst}"
            )
        self.per_second = float(per_second)
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend a token: ``True`` if there was one, ``False`` when over the limit."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._stamp)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.per_second)
            self._stamp = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True
