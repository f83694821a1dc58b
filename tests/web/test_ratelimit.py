"""The verification page's per-client token bucket."""

from __future__ import annotations

import pytest

from web.ratelimit import RateLimit, RateLimited


def test_a_burst_then_one_every_sixtieth_of_a_minute_per_client() -> None:
    limit = RateLimit(per_minute=3)
    for _ in range(3):
        limit.take("a", now=0.0)
    with pytest.raises(RateLimited) as refused:
        limit.take("a", now=0.0)
    assert refused.value.retry_after == 20
    limit.take("b", now=0.0), "another client has its own bucket"
    limit.take("a", now=20.0)
    with pytest.raises(RateLimited):
        limit.take("a", now=21.0)


def test_idle_clients_are_forgotten_first() -> None:
    limit = RateLimit(per_minute=2, max_clients=3)
    for n, client in enumerate("abcd"):
        limit.take(client, now=float(n * 60))
    assert len(limit._buckets) <= 3 and "d" in limit._buckets
