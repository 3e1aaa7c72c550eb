"""Peak memory and time of a large requests import (issue 17, item 7).

    python -m bench.import_memory [--rows 1000000] [--runs 3]

Each run is a fresh process (its peak RSS is its own ``ru_maxrss``) that imports the same
CSV into a fresh SQLite copy of the demo city's grids. Three ways, in the same run:

* **streamed**: ``gridmap import`` as shipped, ``READ_CHUNK`` rows at a time in one
  transaction;
* **whole file**: the same importer with the whole file as one chunk (what it did before);
* **naive**: pandas ``read_csv`` + ``geopandas.sjoin`` + ``DataFrame.to_sql`` (no checks).

Prints a Markdown table (medians) for bench/RESULTS.md; writes nothing to the repo.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.foundation import _requests_csv

#: The child: import ``csv`` into ``db`` one way; print seconds, peak RSS and rows stored.
_CHILD = r"""
import json, resource, sys, time
way, csv, db = sys.argv[1:4]
t = time.perf_counter()
if way == "naive":
    import geopandas as gpd
    import pandas as pd
    from geo.store import engine as store_engine
    from geo.store import requests as store_requests
    eng = store_engine.make_engine(f"sqlite:///{db}", upgrade=False)
    grids = store_requests.read_grids(eng)
    frame = pd.read_csv(csv, parse_dates=["reported_at"])
    p = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)
    joined = gpd.sjoin(p, grids[["code", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    out = pd.DataFrame(joined.drop(columns=["geometry", "index_right"]))
    out = out.rename(columns={"code": "grid_code"}).assign(outside_grid=False, route="government")
    out.to_sql("request", eng, if_exists="append", index=False, chunksize=10000)
    stored = len(out)
else:
    from geo import importer
    from geo.store import engine as store_engine
    if way == "whole":
        importer.load.READ_CHUNK = 1 << 40
    eng = store_engine.make_engine(f"sqlite:///{db}", upgrade=False)
    report = importer.import_file(eng, csv, kind="requests")
    assert report.ok(), report.summary()
    stored = report.rows_inserted
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "stored": stored}))
"""
WAYS = ("streamed", "whole", "naive")


def _run(way: str, csv: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, way, str(csv), str(db)], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--demo", type=Path, default=Path("data/gridmap.db"),
                        help="a built demo database (its grids are the import's grids)")
    args = parser.parse_args(argv)
    from geo.store import engine as store_engine
    from geo.store import requests as store_requests

    work = Path(tempfile.mkdtemp(prefix="gridmap-import-memory-"))
    try:
        grids = store_requests.read_grids(store_engine.make_engine(f"sqlite:///{args.demo}",
                                                                   upgrade=False))
        csv = work / "requests.csv"
        _requests_csv(csv, grids, args.rows)
        results: dict[str, list[dict]] = {way: [] for way in WAYS}
        for run in range(args.runs):
            for way in WAYS:  # interleaved, so drift on a shared machine hits all three
                db = work / f"{way}{run}.db"
                shutil.copyfile(args.demo, db)
                results[way].append(_run(way, csv, db))
                db.unlink()
                print(f"run {run + 1} {way}: {results[way][-1]}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {way: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "peak_mib")}
           for way, rs in results.items()}
    print(f"machine: {platform.platform()}, {platform.machine()}, Python "
          f"{platform.python_version()}; {args.rows:,} rows; medians of {args.runs} runs\n")
    print("| way | time | peak RSS | RSS vs streamed | time vs streamed |")
    print("|---|---|---|---|---|")
    base = med["streamed"]
    for way in WAYS:
        m = med[way]
        print(f"| {way} | {m['seconds']:.1f} s | {m['peak_mib']:,.0f} MiB | "
              f"{m['peak_mib'] / base['peak_mib']:.2f}× | {m['seconds'] / base['seconds']:.2f}× |")


if __name__ == "__main__":
    main()
