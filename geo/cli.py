"""The ``gridmap`` command line (also ``python -m geo``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from geo import store

LOCAL_OFFSET = timedelta(hours=8)  # Asia/Shanghai has no daylight saving
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
    end = None
    if args.end:
        try:
            end = datetime.fromisoformat(args.end) - LOCAL_OFFSET
        except ValueError:
            print(f"--end {args.end!r} is not a date or date-time like 2026-11-24T08:00",
                  file=sys.stderr)
            return 2
    counts = demo.init_demo(engine, seed=args.seed, scale=args.scale, end=end,
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
    if not args.dry_run:
        store.log_audit(engine, actor=_cli_actor(), action="import", rows=report.rows_inserted,
                        detail={"kind": args.kind, "file": str(args.file), "ok": report.ok(),
                                "rows_read": report.rows_read, "rejected": report.rows_rejected})
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


def _parse_day(text: str | None, option: str):
    """Return the date of a YYYY-MM-DD option, or raise ValueError naming the option."""
    from datetime import datetime

    if text is None:
        return None
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"bad date {text!r} for {option}: expected YYYY-MM-DD, an "
                         "Asia/Shanghai calendar day") from None


def _parse_month(text: str) -> str:
    """Return a YYYY-MM option as given, or raise ValueError."""
    import re

    text = text.strip()
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise ValueError(f"bad month {text!r} for --month: expected YYYY-MM, e.g. 2026-10")
    return text


_EXPORT_SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".csv": "csv"}


def _export_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    fmt = _EXPORT_SUFFIXES.get(args.output.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the format from {args.output.name!r}: pass --format "
                         "geojson, gpkg or csv")
    return fmt


def _cmd_export(args: argparse.Namespace) -> int:
    from geo import bulletin, export

    try:
        fmt = _export_format(args)
        first, last = _parse_day(args.since, "--since"), _parse_day(args.until, "--until")
        since, until = export.local_days_window(first, last)
        month = None
        if args.month is not None:
            month = _parse_month(args.month)
            if args.layer != "bulletin":
                if first is not None or last is not None:
                    raise ValueError("give either --month or --since/--until, not both")
                _, since, until = bulletin.month_window(month)
                month = None
        if args.level is not None and args.layer != "bulletin":
            raise ValueError("--level applies to the bulletin only")
    except ValueError as exc:
        print(f"gridmap export: error: {exc}", file=sys.stderr)
        return 2
    if args.personal:
        print("gridmap export: including personal data (names and phone numbers); "
              "keep the file within the rules for personal information.", file=sys.stderr)
    engine = store.make_engine(args.database)
    try:
        result = export.export_layer(
            engine, layer=args.layer, fmt=fmt, path_or_buffer=args.output, area=args.area,
            since=since, until=until, personal=args.personal, month=month, level=args.level,
            progress=_progress("export: "))
    except ValueError as exc:
        print(f"gridmap export: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"gridmap export: error: cannot write {args.output}: {reason}", file=sys.stderr)
        return 2
    store.log_audit(engine, actor=_cli_actor(), action="export", area=result.area,
                    rows=result.rows,
                    detail={"layer": result.layer, "format": result.format,
                            "personal": bool(args.personal), "path": str(result.path),
                            "since": result.since, "until": result.until})
    info = export.LAYERS[result.layer]
    where = f" of area {result.area}" if result.area else ""
    print(f"{result.rows:,} rows of {info.name_en} ({info.name_zh}){where} written to "
          f"{result.path} as {export.FORMATS[result.format].name} in {result.seconds:.1f} s")
    return 0


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from geo.api import create_app

    if args.workers > 1:
        # Several processes need the app by import path; each builds its own engine from
        # the URL. SQLite copes through WAL and its busy timeout.
        if args.database:
            os.environ["GRIDMAP_DATABASE_URL"] = args.database
        store.make_engine(args.database).dispose()  # migrate once, before the workers start
        uvicorn.run("geo.api:create_app", factory=True, workers=args.workers, host=args.host,
                    port=args.port, log_level=args.log_level)
        return 0
    engine = store.make_engine(args.database)
    uvicorn.run(create_app(engine), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _cmd_api_key(args: argparse.Namespace) -> int:
    from geo import intake

    engine = store.make_engine(args.database)
    if args.action == "create":
        try:
            key = intake.create_api_key(engine, args.name)
        except ValueError as exc:
            print(f"gridmap api-key: error: {exc}", file=sys.stderr)
            return 2
        store.log_audit(engine, actor=_cli_actor(), action="api_key_create",
                        detail={"name": args.name.strip()})
        print(key)
        print(f"API key {args.name.strip()!r} created. It is shown only this once: only its "
              "SHA-256 hash is stored.", file=sys.stderr)
        return 0
    if args.action == "revoke":
        if not intake.revoke_api_key(engine, args.name):
            print(f"gridmap api-key: error: no live API key called {args.name!r}",
                  file=sys.stderr)
            return 2
        store.log_audit(engine, actor=_cli_actor(), action="api_key_revoke",
                        detail={"name": args.name})
        print(f"API key {args.name!r} revoked")
        return 0
    keys = store.list_api_keys(engine)
    if keys.empty:
        print("no API keys; make one with: gridmap api-key create --name NAME")
    for row in keys.itertuples(index=False):
        state = "revoked" if row.revoked_at is not None and not _isnull(row.revoked_at) \
            else "live"
        used = "never" if _isnull(row.last_used_at) else f"{row.last_used_at:%Y-%m-%d %H:%M}"
        print(f"{row.name:<24} {state:<8} created {row.created_at:%Y-%m-%d %H:%M} UTC, "
              f"last used {used}")
    return 0


def _isnull(value) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry, e.g. in a bare container
        return "cli:unknown"


def _where(engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _print_counts(counts: dict[str, int]) -> None:
    for table, n in counts.items():
        print(f"  {table:<20} {n:>12,}")


def _cmd_bench(args: argparse.Namespace) -> int:
    # bench/ lives next to geo/ in a checkout (it is not a runtime dependency of geo).
    from bench.__main__ import main as bench_main

    return bench_main(args.bench_args)


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
    p.add_argument("--end", default=None,
                   help="Asia/Shanghai time the 8 months of requests lead up to (default now); "
                        "with --seed it makes the demo reproducible, e.g. 2026-11-24T14:00")
    p.set_defaults(func=_cmd_init_demo)

    # Its options belong to python -m bench; main() hands them over unparsed.
    p = sub.add_parser("bench", add_help=False,
                       help="the benchmark suite: `gridmap bench --help` (= python -m bench)")
    p.set_defaults(func=_cmd_bench, bench_args=[])

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

    from geo.export import FORMATS, LAYERS

    p = sub.add_parser(
        "export", help="export a layer as GeoJSON, GeoPackage or CSV for QGIS or Excel",
        description="Export one layer for an area and a window. Dates are Asia/Shanghai "
                    "calendar days, both included. Personal fields are left out unless "
                    "--personal is given.")
    p.add_argument("layer", choices=list(LAYERS))
    p.add_argument("--format", default=None, metavar="{" + ",".join(FORMATS) + "}",
                   help="output format (default: from the extension of -o)")
    p.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    p.add_argument("--area", default=None,
                   help="a grid code or a community (12 digits), township (9), county (6) "
                        "or city code")
    p.add_argument("--since", default=None, metavar="YYYY-MM-DD", help="first day")
    p.add_argument("--until", default=None, metavar="YYYY-MM-DD", help="last day (included)")
    p.add_argument("--month", default=None, metavar="YYYY-MM",
                   help="the bulletin's month (default: the last complete month); for other "
                        "layers, the window")
    p.add_argument("--level", default=None, choices=["county", "township", "community"],
                   help="bulletin: only this level")
    p.add_argument("--personal", action="store_true",
                   help="include reporter and grid head names and phone numbers (admins only)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("info", help="show the database and its row counts")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("db", help="schema migrations")
    p.add_argument("action", choices=["upgrade", "current"])
    p.set_defaults(func=_cmd_db)

    p = sub.add_parser("serve", help="start the dashboard (streamlit run app.py)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="0.0.0.0")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("api", help="start the Open311 GeoReport v2 intake API (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8311)
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (one per core is a good start)")
    p.set_defaults(func=_cmd_api)

    p = sub.add_parser("api-key", help="create, list or revoke Open311 API keys")
    keys = p.add_subparsers(dest="action", required=True)
    k = keys.add_parser("create", help="make a key and print it once (only its hash is kept)")
    k.add_argument("--name", required=True, help="who the key is for, e.g. wechat-miniprogram")
    k.set_defaults(func=_cmd_api_key)
    k = keys.add_parser("list", help="list keys (names and times, never the keys)")
    k.set_defaults(func=_cmd_api_key)
    k = keys.add_parser("revoke", help="revoke a key by name")
    k.add_argument("name")
    k.set_defaults(func=_cmd_api_key)

    from geo import simulate  # its own module: the stream, the flow and their options

    simulate.add_parser(sub)

    p = sub.add_parser("assets", help="copy Leaflet from its installed package into static/")
    p.set_defaults(func=_cmd_assets)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``gridmap`` command line."""
    args, rest = build_parser().parse_known_args(argv)
    if args.command == "bench":
        args.bench_args = rest
    elif rest:
        build_parser().error(f"unrecognized arguments: {' '.join(rest)}")
    return int(args.func(args) or 0)
