"""A per-client rate limit for the public verification page: a token bucket per client address.

In memory, per process: a limit on what one computer can make one process do, not an accounting. With several
processes behind a load balancer each has its own buckets, which still bounds a client to a multiple of it.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from esign.errors import EsignError


class RateLimited(EsignError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class RateLimit:
    per_minute: int
    """Tokens refilled each minute, and the bucket's size (a burst of that many is allowed)."""
    max_clients: int = 10_000
    """Buckets kept; past that the full ones (idle clients) are dropped first."""
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, client: str, *, now: float | None = None) -> None:
        """Spends one token of ``client``'s bucket, or raises :class:`RateLimited` with when to come back."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                raise RateLimited(
                    "too many verifications from this client", retry_after=max(1, math.ceil((1.0 - tokens) / rate))
                )
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_clients:
                self._forget_idle(now, rate)

    def _forget_idle(self, now: float, rate: float) -> None:
        full = [c for c, (tokens, last) in self._buckets.items() if tokens + (now - last) * rate >= self.per_minute]
        for client in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[client]
