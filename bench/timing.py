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


def median_wall_cpu(fn: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """Median wall-clock and process-CPU seconds of ``runs`` runs, and the last result.

    On a shared machine the CPU seconds show what the code costs when the wall clock also
    counts time spent waiting for a core.
    """
    walls, cpus, out = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls), statistics.median(cpus), out
