"""What the benchmarks share: a rate taken as the median of several timed rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def rate(operation: Callable[[], object], seconds: float, rounds: int) -> float:
    """Operations per second: ``operation`` run once to warm up, then for ``seconds`` in each of ``rounds``
    rounds; the median round's rate."""
    operation()
    results = []
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            operation()
            count += 1
        results.append(count / elapsed)
    return statistics.median(results)
