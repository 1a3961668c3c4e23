"""A leaky bucket per key, per process: the limit the API and the Bitrix24 endpoint apply to
each token or webhook code, and the widget socket to each client token and address (each web
process limits what it serves).

A bucket holds `capacity` requests and drains `rate` a second; a request into a full bucket is
refused, and `retry_after` says when one more would fit.
"""

from __future__ import annotations

import math
import threading
import time


class LeakyBucket:
    def __init__(self):
        self.levels: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str, capacity: int, rate: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            level, at = self.levels.get(key, (0.0, now))
            level = max(0.0, level - (now - at) * rate)
            if level + 1 > capacity:
                self.levels[key] = (level, now)
                return False
            self.levels[key] = (level + 1, now)
            if len(self.levels) > 50_000:
                self.levels.clear()
            return True

    def retry_after(self, key: str, capacity: int, rate: float) -> int:
        """Whole seconds until one more request fits in `key`'s bucket (at least 1)."""
        with self.lock:
            level, _at = self.levels.get(key, (0.0, 0.0))
        return max(1, math.ceil((level + 1 - capacity) / rate)) if rate > 0 else 60
