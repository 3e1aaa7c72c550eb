"""The whole benchmark: every DESIGN §9 row at city and province scale, on each backend.

Which rows run where:

* city (and ``tiny`` for ``--quick``): every row; counts per grid and update throughput by
  file (:mod:`bench.rows_updates`, 100,000 updates; 5,000 with ``--quick``) also on
  PostgreSQL.
* province: the polygon rule, map payload, assignment, counts per grid (SQLite with 10 M
  requests; PostgreSQL with ``--pg-province-requests``, 10 M by default, said in a note
  when fewer), Gi*, warm rerun (and the polygons the wall page sends), first paint.
  Memory runs at city scale only.
* each PostgreSQL dataset's load time is a row: at province scale, the bulk import target.
* deadlines: escalation levels of the open backlog on a wall refresh (issue 13; ≤ 50 ms at
  city scale), on each backend.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import datasets, rows_app, rows_data, rows_deadlines, rows_updates
from bench.context import Ctx
from bench.report import Row, plain_table

#: Row name -> (function, scales it runs at, whether it runs per backend).
ROWS: dict[str, tuple[Callable[[Ctx], list[Row]], tuple[str, ...], bool]] = {
    "payload": (rows_data.payload, ("tiny", "city", "province"), False),
    "polygons": (rows_data.polygons, ("tiny", "city", "province"), False),
    "assign": (rows_data.assign, ("tiny", "city", "province"), False),
    "counts": (rows_data.counts, ("tiny", "city", "province"), True),
    "hotspots": (rows_data.hotspots, ("tiny", "city", "province"), False),
    "rerun": (rows_app.rerun, ("tiny", "city", "province"), False),
    "paint": (rows_app.paint, ("tiny", "city", "province"), False),
    "memory": (rows_app.memory, ("tiny", "city"), False),
    # Fresh databases of its own with the dataset's grids; the city's are enough.
    "updates": (rows_updates.update_throughput, ("tiny", "city"), True),
    "deadlines": (rows_deadlines.deadlines_rows, ("tiny", "city", "province"), True),
}


@dataclass
class Options:
    """What to run (see ``python -m bench --help``)."""

    scales: tuple[str, ...] = ("city", "province")
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    runs: int = 5
    only: tuple[str, ...] = tuple(ROWS)
    quick: bool = False
    refreshes: int | None = None
    province_requests: int | None = None
    pg_province_requests: int = 10_000_000


@dataclass
class Outcome:
    """Rows measured, notes for the results file, and rows that failed."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _run_row(name: str, ctx: Ctx, out: Outcome, log) -> None:
    fn = ROWS[name][0]
    log(f"[{ctx.scale}/{ctx.backend}] {name} …")
    t0 = time.perf_counter()
    try:
        rows = fn(ctx)
    except Exception as exc:  # one broken row must not lose the others' figures
        out.failures.append(f"{name} at {ctx.scale}/{ctx.backend}: {type(exc).__name__}: "
                            f"{exc}")
        log(traceback.format_exc())
        return
    out.rows.extend(rows)
    log(plain_table(rows))
    log(f"[{ctx.scale}/{ctx.backend}] {name} done in {time.perf_counter() - t0:.0f} s\n")


def run(opts: Options, *, log: Callable[[str], None] = print) -> Outcome:
    """Build or reuse the datasets and measure every selected row."""
    out = Outcome()
    for scale in opts.scales:
        wanted = [n for n in ROWS if n in opts.only and scale in ROWS[n][1]]
        if not wanted:
            continue
        requests = opts.province_requests if scale == "province" else None
        path = datasets.sqlite_path(scale, requests=requests, log=log)
        if "sqlite" in opts.backends or any(not ROWS[n][2] for n in wanted):
            ctx = Ctx(scale, "sqlite", f"sqlite:///{path}", path, opts.runs, opts.quick, log,
                      refreshes=opts.refreshes)
            for name in wanted:
                if ROWS[name][2] and "sqlite" not in opts.backends:
                    continue
                _run_row(name, ctx, out, log)
            ctx.close()
        per_backend = [n for n in wanted if ROWS[n][2]]
        if "postgresql" in opts.backends and per_backend:
            pg_requests = opts.pg_province_requests if scale == "province" else None
            try:
                with datasets.pg_database(scale, requests=pg_requests, log=log) as url:
                    ctx = Ctx(scale, "postgresql", url, path, opts.runs, opts.quick, log)
                    out.rows.append(_load_row(ctx, datasets.LOAD_SECONDS[url]))
                    for name in per_backend:
                        _run_row(name, ctx, out, log)
                    ctx.close()
            except Exception as exc:  # PostgreSQL missing: the SQLite rows still count
                out.failures.append(f"PostgreSQL at {scale}: {type(exc).__name__}: {exc}")
                log(traceback.format_exc())
            if scale == "province" and pg_requests and pg_requests < 10_000_000:
                out.notes.append(f"PostgreSQL at province scale holds the 60,000 grids and "
                                 f"{pg_requests:,} requests (not 10 M): 10 M were not "
                                 "loaded, to keep the run within its time budget "
                                 "(`--pg-province-requests`).")
    return out


def _load_row(ctx: Ctx, seconds: float) -> Row:
    """The dataset's load into PostgreSQL, as the bulk-import row (an upper bound)."""
    province = ctx.scale == "province"
    return Row("load", "bulk load of the dataset's requests into PostgreSQL (generating "
               "them in pandas, COPY, five indexes; an upper bound of an import)", ctx.label,
               "postgresql", seconds, "s",
               target="10 M rows in ≤ 15 min" if province else "",
               limit=900.0 if province else None)


def default_results() -> Path:
    """bench/RESULTS.md of this checkout."""
    return datasets.ROOT / "bench" / "RESULTS.md"


def quick_results() -> Path:
    """Where ``--quick`` writes its table: bench/_work/ (not committed), never RESULTS.md."""
    return datasets.WORK / "RESULTS-quick.md"
