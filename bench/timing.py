"""What the benchmarks share: a rate taken as the median of several timed rounds, and one over concurrent threads."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence


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


def concurrent_rate(operations: Sequence[Callable[[], object]], seconds: float) -> float:
    """Operations per second summed over one thread per operation, each running its own over and over for
    ``seconds`` once all have started; the first failure is raised once every thread has stopped."""
    go = threading.Barrier(len(operations) + 1)
    counts: list[tuple[int, float]] = []
    failures: list[BaseException] = []

    def loop(operation: Callable[[], object]) -> None:
        go.wait()
        count, start = 0, time.perf_counter()
        try:
            while (elapsed := time.perf_counter() - start) < seconds:
                operation()
                count += 1
        except BaseException as e:  # raised by the calling thread
            failures.append(e)
            return
        counts.append((count, elapsed))

    threads = [threading.Thread(target=loop, args=(operation,)) for operation in operations]
    for thread in threads:
        thread.start()
    go.wait()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sum(count / elapsed for count, elapsed in counts)
