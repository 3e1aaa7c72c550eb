"""The ``gridmap`` command line (also ``python -m geo``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from geo import store

IMPORT_KINDS = ("grids", "requests", "stations", "activities")


def _progress(prefix: str):
    start = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s {fraction:4.0%}] {prefix}{message}",
              file=sys.stderr, flush=True)

    return report


def _cmd_init_demo(args: argparse.Namespace) -> int:
    from geo import demo

    engine = store.make_engine(args.database)
    if not store.is_empty(engine) and not args.force:
        print(f"{_where(engine)} already holds data; pass --force to replace it with the demo.",
              file=sys.stderr)
        return 1
    start = time.perf_counter()
    counts = demo.init_demo(engine, seed=args.seed, scale=args.scale,
                            progress=_progress("init-demo: "))
    print(f"demo ({args.scale}, seed {args.seed}) written to {_where(engine)} in "
          f"{time.perf_counter() - start:.1f} s")
    _print_counts(counts)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from geo import importer

    engine = store.make_engine(args.database)
    report = importer.import_file(engine, args.file, kind=args.kind, crs=args.crs,
                                  dry_run=args.dry_run, progress=_progress("import: "))
    shown = report.problems[:args.show]
    for problem in shown:
        print(f"  {problem}", file=sys.stderr)
    if len(report.problems) > len(shown):
        print(f"  … {len(report.problems) - len(shown):,} more problems"
              + ("" if args.report else " (write them all with --report FILE.csv)"),
              file=sys.stderr)
    if args.report:
        report.to_frame().to_csv(args.report, index=False, encoding="utf-8-sig")
        print(f"full report: {args.report}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok() else 2


def _cmd_info(args: argparse.Namespace) -> int:
    engine = store.make_engine(args.database)
    print(f"database: {_where(engine)} (schema {store.schema_revision(engine)})")
    _print_counts(store.table_counts(engine))
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    engine = store.make_engine(args.database, upgrade=args.action == "upgrade")
    print(f"{_where(engine)}: schema revision {store.schema_revision(engine)}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    app = Path(__file__).resolve().parents[1] / "app.py"
    env = dict(os.environ)
    if args.database:
        env["GRIDMAP_DATABASE_URL"] = args.database
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
           "--server.address", args.address, "--server.headless", "true"]
    return subprocess.call(cmd, env=env, cwd=app.parent)


def _cmd_assets(_args: argparse.Namespace) -> int:
    from geo.assets import install_assets

    for path in install_assets():
        print(path)
    return 0


def _where(engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _print_counts(counts: dict[str, int]) -> None:
    for table, n in counts.items():
        print(f"  {table:<20} {n:>12,}")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for all sub-commands."""
    parser = argparse.ArgumentParser(
        prog="gridmap", description="GridMap (网格一张图): grid governance map dashboard")
    parser.add_argument("--database", default=None,
                        help="database URL (default: $GRIDMAP_DATABASE_URL or data/gridmap.db)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init-demo", help="build the Yiyang demo (or a province for benchmarks)")
    p.add_argument("--seed", type=int, default=2021)
    p.add_argument("--scale", choices=["city", "province"], default="city")
    p.add_argument("--force", action="store_true", help="replace existing data")
    p.set_defaults(func=_cmd_init_demo)

    p = sub.add_parser("import", help="import grids, requests, stations or volunteer activities")
    p.add_argument("kind", choices=IMPORT_KINDS)
    p.add_argument("file", type=Path)
    p.add_argument("--crs", default=None,
                   help="coordinates of the file: wgs84, cgcs2000, gcj02, bd09 or EPSG:n "
                        "(default: the file's own CRS, else wgs84)")
    p.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    p.add_argument("--report", type=Path, default=None,
                   help="write every problem (row, field, value, reason) to this CSV")
    p.add_argument("--show", type=int, default=50, help="problems to print (default 50)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("info", help="show the database and its row counts")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("db", help="schema migrations")
    p.add_argument("action", choices=["upgrade", "current"])
    p.set_defaults(func=_cmd_db)

    p = sub.add_parser("serve", help="start the dashboard (streamlit run app.py)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="0.0.0.0")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("assets", help="copy Leaflet from its installed package into static/")
    p.set_defaults(func=_cmd_assets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``gridmap`` command line."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
