"""Foundation benchmarks: demo generation time and request import throughput.

    python -m bench.foundation [--rows 1000000] [--runs 3]

Writes nothing to the repo; prints a Markdown table for bench/RESULTS.md. Each figure is the
median of ``--runs`` runs. The import baseline, measured in the same run, is the naive way:
pandas ``read_csv`` + ``geopandas.sjoin`` + ``DataFrame.to_sql`` (SQLAlchemy row inserts).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.timing import median_seconds
from geo import demo, importer
from geo.grids import GridIndex
from geo.store import engine as store_engine
from geo.store import requests as store_requests


def _requests_csv(path: Path, grids: gpd.GeoDataFrame, rows: int) -> None:
    rng = np.random.default_rng(1)
    b = grids.total_bounds
    pd.DataFrame({
        "external_id": [f"B{i}" for i in range(rows)],
        "lon": rng.uniform(b[0], b[2], rows).round(6),
        "lat": rng.uniform(b[1], b[3], rows).round(6),
        "category": rng.choice(["road", "sanitation", "矛盾纠纷", "noise"], rows),
        "severity": rng.choice(["routine", "pressing", "urgent"], rows),
        "status": "reported",
        "reported_at": pd.Timestamp("2026-06-01")
        + pd.to_timedelta(rng.integers(0, 150 * 86400, rows), unit="s"),
        "description": "路灯不亮",
    }).to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-rows", type=int, default=None,
                        help="rows for the naive import (default: same as --rows)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridmap-bench-"))
    end = datetime(2026, 11, 24, 6)

    rows = []
    # Demo generation: build + write to a fresh SQLite file.
    def gen():
        path = work / f"demo{time.time_ns()}.db"
        demo.init_demo(store_engine.make_engine(f"sqlite:///{path}"), seed=2021, end=end)

    t_demo = median_seconds(gen, args.runs)
    rows.append(("demo city generation (build + write, SQLite)", f"{t_demo:.1f} s", "", ""))

    base = store_engine.make_engine(f"sqlite:///{work}/base.db")
    demo.init_demo(base, seed=2021, end=end)
    grids = store_requests.read_grids(base)

    # Point -> grid assignment.
    rng = np.random.default_rng(2)
    b = grids.total_bounds
    n = 500_000
    lon, lat = rng.uniform(b[0], b[2], n), rng.uniform(b[1], b[3], n)
    index = GridIndex(grids)
    t_assign = median_seconds(lambda: index.assign(lon, lat), args.runs)
    # Both start from lon/lat arrays, so both pay for building GEOS points.
    t_sjoin = median_seconds(lambda: gpd.sjoin(
        gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326),
        grids[["code", "geometry"]], predicate="within"), args.runs)
    rows.append(("point → grid assignment, 500 k points (one core)",
                 f"{n / t_assign:,.0f} points/s", f"geopandas.sjoin {n / t_sjoin:,.0f} points/s",
                 f"{t_sjoin / t_assign:.1f}×"))
    # The per-point Python loop: every point against every grid until one contains it.
    m = 300
    polys = list(zip(grids.code, grids.geometry, strict=True))

    def loop():
        for x, y in zip(lon[:m], lat[:m], strict=True):
            p = shapely.Point(x, y)
            next((c for c, poly in polys if poly.contains(p)), None)

    t_loop = median_seconds(loop, args.runs)
    rows.append(("", "", f"per-point Python loop {m / t_loop:,.0f} points/s",
                 f"{(m / t_loop) and (n / t_assign) / (m / t_loop):,.0f}×"))

    # Import of requests from CSV.
    csv = work / "requests.csv"
    _requests_csv(csv, grids, args.rows)

    def imp():
        path = work / f"imp{time.time_ns()}.db"
        eng = store_engine.make_engine(f"sqlite:///{path}")
        with store_engine.transaction(eng) as conn:
            store_requests.write_grids(conn, grids)
        report = importer.import_file(eng, csv, kind="requests")
        assert report.rows_inserted == args.rows, report.summary()

    t_imp = median_seconds(imp, args.runs)

    baseline_rows = args.baseline_rows or args.rows
    small = work / "small.csv"
    _requests_csv(small, grids, baseline_rows)

    def naive():
        path = work / f"naive{time.time_ns()}.db"
        eng = store_engine.make_engine(f"sqlite:///{path}")
        frame = pd.read_csv(small, parse_dates=["reported_at"])
        p = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)
        joined = gpd.sjoin(p, grids[["code", "geometry"]], how="left", predicate="within")
        # A point on a shared edge joins twice; keep one row per point, as GridIndex does.
        joined = joined[~joined.index.duplicated()]
        out = pd.DataFrame(joined.drop(columns=["geometry", "index_right"]))
        out = out.rename(columns={"code": "grid_code"}).assign(outside_grid=False,
                                                               route="government")
        out.to_sql("request", eng, if_exists="append", index=False, chunksize=1000)

    t_naive = median_seconds(naive, args.runs)
    ours = args.rows / t_imp
    theirs = baseline_rows / t_naive
    rows.append((f"import {args.rows:,} requests from CSV (SQLite)", f"{t_imp:.1f} s, "
                 f"{ours:,.0f} rows/s", f"naive {theirs:,.0f} rows/s", f"{ours / theirs:.1f}×"))

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; median of {args.runs} runs\n")
    print("| what | GridMap | naive baseline (same run, same data) | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
