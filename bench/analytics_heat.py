"""Heat benchmark: counts per grid over a 30-day window at city scale.

    python -m bench.analytics_heat [--runs 5] [--url URL] [--db PATH]

Builds the Yiyang demo city (seed 2021) once into a SQLite file in the temp directory and
reuses it on later runs (``--db`` to choose the file, ``--url`` to time any other database,
e.g. a PostgreSQL copy or the province dataset). Each figure is the median of ``--runs``
runs. The baseline, measured in the same run on the same data, is the naive way: load
every request with ``pandas.read_sql`` and count per grid with ``groupby``, computing the
same counts; the script checks both give identical numbers.

Prints a Markdown table for bench/RESULTS.md. DESIGN §9 target: counts per grid, 30-day
window ≤ 0.2 s (city), ≤ 2 s (province).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from bench.timing import median_time
from geo import bulletin, clock, demo, heat, vocab
from geo.store import _sql as store_sql
from geo.store import counts as store_counts
from geo.store import engine as store_engine

END = datetime(2026, 11, 24, 6)


def _engine(args) -> Engine:
    if args.url:
        return store_engine.make_engine(args.url)
    path = Path(args.db or Path(tempfile.gettempdir()) / "gridmap-bench-heat-city.db")
    engine = store_engine.make_engine(f"sqlite:///{path}")
    if store_engine.get_setting(engine, "demo_end") != END.isoformat():
        print(f"building the demo city into {path} …", flush=True)
        demo.init_demo(engine, seed=2021, end=END)
    return engine


def naive_counts(engine, *, since: datetime, until: datetime) -> pd.DataFrame:
    """Load every request into pandas, then filter and count per grid."""
    frame = pd.read_sql("SELECT * FROM request", engine,
                        parse_dates=["reported_at", "due_at", "resolved_at", "closed_at"])
    w = frame[(frame.reported_at >= since) & (frame.reported_at < until)
              & frame.grid_code.notna()].copy()
    resolved = ((w.resolved_at < until)
                | (w.resolved_at.isna() & w.status.isin(vocab.CLOSED_STATUSES)))
    past_due = w.due_at < until
    due = past_due | resolved
    on_time = resolved & (w.due_at.isna() | (w.resolved_at <= w.due_at))
    rated = w.satisfaction.isin(list(vocab.SATISFACTION)) & (
        w.closed_at.isna() | (w.closed_at < until))
    dispute = w.category == "dispute"
    flags = pd.DataFrame({
        "grid_code": w.grid_code, "requests": 1, "open": ~resolved,
        "overdue": past_due & ~resolved, "due": due, "resolved": resolved,
        "on_time": on_time, "rated": rated,
        "satisfied": rated & w.satisfaction.isin(list(vocab.SATISFIED)),
        "disputes": dispute, "disputes_open": dispute & ~resolved,
        "disputes_due": dispute & due, "disputes_resolved": dispute & resolved,
    })
    return flags.groupby("grid_code").sum().astype("int64").reset_index()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="time this database instead of the demo SQLite file")
    parser.add_argument("--db", help="SQLite file for the demo city (built if missing)")
    args = parser.parse_args()
    engine = _engine(args)
    counts = store_engine.table_counts(engine)
    last = store_sql.read_frame(engine, "SELECT max(reported_at) AS m FROM request")["m"][0]
    until = pd.Timestamp(last).ceil("h").to_pydatetime()
    since = until - timedelta(days=30)

    t_sql, ours = median_time(lambda: store_counts.request_counts_per_grid(engine, since=since,
                                                                until=until), args.runs)
    t_naive, theirs = median_time(lambda: naive_counts(engine, since=since, until=until),
                              args.runs)
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs, check_dtype=False)
    t_grid, table = median_time(lambda: heat.grid_kpis(engine, since=since, until=until),
                            args.runs)
    t_county, _ = median_time(lambda: heat.area_kpis(engine, level="county", since=since,
                                                 until=until), args.runs)
    t_wall, _ = median_time(lambda: heat.wall_kpis(engine, now=until), args.runs)
    day0, _ = clock.local_day_bounds(until - timedelta(days=84))
    t_series, _ = median_time(lambda: heat.request_series(engine, since=day0, until=until),
                          args.runs)
    month = clock.local_month(until) - 1
    t_bulletin, _ = median_time(lambda: bulletin.monthly_bulletin(engine, month=month, now=until),
                            args.runs)
    assert int(table.requests.sum()) == int(ours.requests.sum())

    n_window = int(ours.requests.sum())
    scale = (f"{counts['grid']:,} grids, {counts['request']:,} requests, "
             f"{n_window:,} in the window; {engine.dialect.name}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; median of {args.runs} runs; {scale}\n")
    print("| what | GridMap | naive baseline (same run, same data) | ratio | design target |")
    print("|---|---|---|---|---|")
    rows = [
        ("counts per grid, 30-day window (`store_counts.request_counts_per_grid`: 12 counts, "
         "one GROUP BY)", f"{t_sql * 1000:.0f} ms",
         f"`read_sql` all requests + `groupby`: {t_naive * 1000:.0f} ms",
         f"{t_naive / t_sql:.1f}×", f"≤ 0.2 s {'✔' if t_sql <= 0.2 else '✘'}"),
        ("KPI table per grid, with rates and the previous window (`heat.grid_kpis`)",
         f"{t_grid * 1000:.0f} ms", "", "", ""),
        ("KPI table per county (`heat.area_kpis(level='county')`)",
         f"{t_county * 1000:.0f} ms", "", "", ""),
        ("wall KPI tiles, whole city (`heat.wall_kpis`: today, backlog, 30-day rates)",
         f"{t_wall * 1000:.0f} ms", "", "", ""),
        ("daily series, 12 weeks, whole city (`heat.request_series`)",
         f"{t_series * 1000:.0f} ms", "", "", ""),
        (f"monthly bulletin {month}, county + township + community, with last month's ranks "
         "(`bulletin.monthly_bulletin`)", f"{t_bulletin * 1000:.0f} ms", "", "", ""),
    ]
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
