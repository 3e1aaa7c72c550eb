"""Update throughput by file: a later export of the handling platform, re-imported.

    python -m bench --only updates [--quick] [--backend sqlite|postgresql|both]
    python -m bench.rows_updates [--rows 100000] [--backend both]   # this row alone

The dataset's grids are written into a fresh database, which then receives ``n`` open
requests from a file (untimed). The timed step imports the platform's later export of the
same ``n`` requests (full rows: 60 % resolved, 40 % rated, each with its 更新时间), so
every row is a status update: read, validated, judged against the stored state
(:mod:`geo.lifecycle`), applied and written with one event each, in one transaction. The
baseline in the same run is a plain insert: the same file imported into a fresh database
with the same grids and no requests, where every row is new (the bulk path: executemany
on SQLite, COPY on PostgreSQL). ``n`` is 100,000 (5,000 with ``--quick``). Each figure is
the median of the context's runs; every run starts from fresh databases.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bench.context import Ctx
from bench.report import Row
from geo import importer
from geo.store import engine as store_engine
from geo.store import requests as store_requests

#: Updates per run: full size and ``--quick``.
ROWS, QUICK_ROWS = 100_000, 5_000
PG_ADMIN_URL = os.environ.get("GRIDMAP_TEST_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def write_files(folder: Path, grids: gpd.GeoDataFrame, n: int, *, seed: int = 13
                ) -> tuple[Path, Path]:
    """Write ``n`` open requests and the later export of the same requests; return both."""
    rng = np.random.default_rng(seed)
    points = grids.geometry.representative_point().to_numpy()[rng.integers(0, len(grids), n)]
    reported = pd.Timestamp("2026-06-01") + pd.to_timedelta(
        rng.integers(0, 150 * 86400, n), unit="s")
    base = pd.DataFrame({
        "external_id": [f"U{i:07d}" for i in range(n)],
        "lon": [round(p.x, 6) for p in points],
        "lat": [round(p.y, 6) for p in points],
        "category": rng.choice(["road", "sanitation", "矛盾纠纷", "noise"], n),
        "severity": rng.choice(["routine", "pressing", "urgent"], n),
        "reported_at": reported,
        "status": "reported",
        "description": "路灯不亮",
    })
    rated = rng.random(n) < 0.4
    resolved = reported + pd.to_timedelta(rng.integers(3600, 5 * 86400, n), unit="s")
    closed = resolved + pd.to_timedelta(rng.integers(600, 86400, n), unit="s")
    later = base.assign(
        status=np.where(rated, "评价", "办结"),
        resolved_at=resolved,
        closed_at=pd.Series(closed).where(rated),
        satisfaction=np.where(rated, rng.choice(["满意", "基本满意", "不满意"], n), ""),
        updated_at=pd.Series(closed).where(rated, resolved),
    )
    paths = folder / "open.csv", folder / "later.csv"
    base.to_csv(paths[0], index=False, date_format="%Y-%m-%d %H:%M:%S")
    later.to_csv(paths[1], index=False, date_format="%Y-%m-%d %H:%M:%S")
    return paths


@contextmanager
def fresh_database(backend: str, folder: Path, grids: gpd.GeoDataFrame) -> Iterator[Engine]:
    """A new, migrated database holding only ``grids``; dropped (or deleted) afterwards."""
    name = f"gm_bench_upd_{uuid.uuid4().hex[:8]}"
    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / name}.db"
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = store_engine.make_engine(url)
    try:
        with store_engine.transaction(engine) as conn:
            store_requests.write_grids(conn, grids)
        yield engine
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        else:
            for extra in ("", "-wal", "-shm"):
                Path(f"{folder / name}.db{extra}").unlink(missing_ok=True)


def _timed_import(engine: Engine, path: Path) -> tuple[float, importer.ImportReport]:
    t0 = time.perf_counter()
    report = importer.import_file(engine, path, kind="requests")
    return time.perf_counter() - t0, report


def measure(backend: str, grids: gpd.GeoDataFrame, n: int, runs: int,
            log=print) -> tuple[float, float]:
    """Median seconds of ``n`` updates by file and of the same file inserted as new."""
    updates, inserts = [], []
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-upd-") as tmp:
        folder = Path(tmp)
        open_csv, later_csv = write_files(folder, grids, n)
        for run in range(runs):
            with fresh_database(backend, folder, grids) as engine:
                first = importer.import_file(engine, open_csv, kind="requests")
                assert first.rows_new == n, first.summary()
                if backend == "postgresql":  # as a production database would be
                    with engine.connect().execution_options(
                            isolation_level="AUTOCOMMIT") as conn:
                        conn.execute(text("VACUUM (ANALYZE) request"))
                seconds, report = _timed_import(engine, later_csv)
                assert (report.rows_updated, report.rows_rejected) == (n, 0), report.summary()
                updates.append(seconds)
            with fresh_database(backend, folder, grids) as engine:
                seconds, report = _timed_import(engine, later_csv)
                assert report.rows_new == n, report.summary()
                inserts.append(seconds)
            log(f"  run {run + 1}: {n:,} updates {updates[-1]:.2f} s, "
                f"{n:,} inserts {inserts[-1]:.2f} s")
    return statistics.median(updates), statistics.median(inserts)


def update_throughput(ctx: Ctx) -> list[Row]:
    """The suite's row: updates by file per second, against a plain insert of the file."""
    n = QUICK_ROWS if ctx.quick else ROWS
    t_update, t_insert = measure(ctx.backend, ctx.grids, n, ctx.runs, log=ctx.log)
    return [Row("updates", f"update throughput by file: {n:,} status updates, a later export "
                "re-imported (judged, applied, one event each, one transaction)", ctx.label,
                ctx.backend, n / t_update, "rows/s", baseline=n / t_insert,
                baseline_what="same file into an empty database (all new, bulk insert)",
                higher=True, note=f"{t_update:.1f} s; insert {t_insert:.1f} s")]


def main(argv: list[str] | None = None) -> int:
    """Measure this row alone on the tiny dataset's grids."""
    from bench import datasets

    ap = argparse.ArgumentParser(prog="python -m bench.rows_updates")
    ap.add_argument("--rows", type=int, default=ROWS)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--scale", choices=["tiny", "city"], default="city")
    args = ap.parse_args(argv)
    engine = store_engine.make_engine(f"sqlite:///{datasets.sqlite_path(args.scale)}")
    grids = store_requests.read_grids(engine)[["code", "name", "community_code", "population",
                                               "geometry"]]
    engine.dispose()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        t_update, t_insert = measure(backend, grids, args.rows, args.runs)
        print(f"{backend}: {args.rows:,} updates in {t_update:.2f} s "
              f"({args.rows / t_update:,.0f} rows/s); the same file inserted as new in "
              f"{t_insert:.2f} s ({args.rows / t_insert:,.0f} rows/s); ratio "
              f"{t_insert / t_update:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
