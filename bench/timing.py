"""Timing helpers shared by the benchmarks: medians of repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Run ``fn`` ``runs`` times; return the median seconds and the last result."""
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """Run ``fn`` ``runs`` times; return the median seconds."""
    return median_time(fn, runs)[0]
