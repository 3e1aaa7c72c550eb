"""The ``gridmap`` command line (also ``python -m geo``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from geo import clock
from geo.store import access as store_access
from geo.store import engine as store_engine

IMPORT_KINDS = ("grids", "requests", "stations", "activities", "units", "auto")


def _progress(prefix: str):
    start = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s {fraction:4.0%}] {prefix}{message}",
              file=sys.stderr, flush=True)

    return report


def _cmd_init_demo(args: argparse.Namespace) -> int:
    from geo import demo

    engine = store_engine.make_engine(args.database)
    if not store_engine.is_empty(engine) and args.if_empty:
        print(f"{_where(engine)} already holds data: the demo is not built again",
              file=sys.stderr)
        return 0
    if not store_engine.is_empty(engine) and not args.force:
        print(f"{_where(engine)} already holds data; pass --force to replace it with the demo.",
              file=sys.stderr)
        return 1
    start = time.perf_counter()
    end = None
    if args.end:
        try:
            end = clock.from_local(datetime.fromisoformat(args.end))
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

    if args.template:
        if args.kind == "auto":
            print("gridmap import: error: --template needs a kind, not auto", file=sys.stderr)
            return 2
        Path(args.file).write_bytes(importer.template_file(args.kind, args.template,
                                                           lang=args.lang or "zh"))
        print(f"template for {args.kind}: {args.file}")
        return 0
    engine = store_engine.make_engine(args.database)
    kind = args.kind
    lang = args.lang or ("zh" if os.environ.get("LANG", "").lower().startswith("zh") else "en")
    if kind == "auto":
        try:
            kind = importer.detect_kind(importer.read_table(args.file, kind="requests"))
        except importer.ImportFileError:
            kind = "requests"  # the import below reports why the file cannot be read
        print(f"import: {args.file}: detected {kind}", file=sys.stderr)
    report = importer.import_file(engine, args.file, kind=kind, crs=args.crs,
                                  dry_run=args.dry_run, progress=_progress("import: "))
    shown = report.problems[:args.show]
    for problem in shown:
        print(f"  {problem.line(lang)}", file=sys.stderr)
    if len(report.problems) > len(shown):
        print(f"  … {len(report.problems) - len(shown):,} more problems"
              + ("" if args.report else " (write them all with --report FILE.csv)"),
              file=sys.stderr)
    if not args.dry_run:
        store_access.log_audit(
            engine, actor=_cli_actor(), action="import", rows=report.rows_to_write,
            detail={"kind": kind, "file": str(args.file), "ok": report.ok(),
                    "rows_read": report.rows_read, "new": report.rows_new,
                    "updated": report.rows_updated, "unchanged": report.rows_unchanged,
                    "refused": report.rows_rejected})
    if args.report:
        Path(args.report).write_bytes(importer.problems_file(report, lang=lang))
        print(f"full report: {args.report}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok() else 2


def _cmd_info(args: argparse.Namespace) -> int:
    engine = store_engine.make_engine(args.database)
    print(f"database: {_where(engine)} (schema {store_engine.schema_revision(engine)})")
    _print_counts(store_engine.table_counts(engine))
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    engine = store_engine.make_engine(args.database, upgrade=args.action == "upgrade")
    print(f"{_where(engine)}: schema revision {store_engine.schema_revision(engine)}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    app = Path(__file__).resolve().parents[1] / "app.py"
    env = dict(os.environ)
    if args.database:
        env["GRIDMAP_DATABASE_URL"] = args.database
    # ui.serve is `streamlit run app.py` that imports the app while waiting for a browser.
    cmd = [sys.executable, "-m", "ui.serve", "--server.port", str(args.port),
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
    engine = store_engine.make_engine(args.database)
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
    store_access.log_audit(engine, actor=_cli_actor(), action="export", area=result.area,
                           rows=result.rows,
                           detail={"layer": result.layer, "format": result.format,
                                   "personal": bool(args.personal), "path": str(result.path),
                                   "since": result.since, "until": result.until,
                                   "definition": result.definition})
    info = export.LAYERS[result.layer]
    where = f" of area {result.area}" if result.area else ""
    print(f"{result.rows:,} rows of {info.name_en} ({info.name_zh}){where} written to "
          f"{result.path} as {export.FORMATS[result.format].name} in {result.seconds:.1f} s")
    if result.definition:
        window = " – ".join("…" if t is None else str(clock.iso_local(t))
                            for t in (result.since, result.until))
        print(f"hot spots: {result.definition}; window {window} (Asia/Shanghai)")
    if result.repaired:
        print(f"{result.repaired:,} invalid stored geometries were repaired for the file "
              "(marked geometry_repaired=true)")
    return 0


def demo_password_refusal(engine) -> str | None:
    """Return why a server must not start on ``engine``, or None when it may.

    A database that is not the demo must not keep an account with a demo or default
    password (DESIGN §8): anyone who read the README could sign in.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database the server would use.

    Returns
    -------
    str or None
        The message naming the accounts and the command that fixes them.

    """
    from geo import accounts

    bad = accounts.demo_password_problems(engine)
    if not bad:
        return None
    names = ", ".join(bad)
    return (f"refusing to start: account(s) {names} still use a demo or default password "
            f"on a database that is not the demo. Change each with: gridmap users passwd "
            f"NAME (e.g. gridmap users passwd {bad[0]}), or disable it with gridmap users "
            "disable NAME.")


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from geo.api import create_app
    from geo.deadlines import policy_and_calendar

    policy_and_calendar()  # a bad deadline or holiday file stops the start, not a request
    engine = store_engine.make_engine(args.database)  # migrates once, before any worker starts
    refusal = demo_password_refusal(engine)
    if refusal:
        print(f"gridmap api: error: {refusal}", file=sys.stderr)
        store_access.log_audit(engine, actor=_cli_actor(), action="api_refused",
                               detail={"reason": "demo_password"})
        engine.dispose()
        return 2
    if args.workers > 1:
        # Several processes need the app by import path; each builds its own engine from
        # the URL. SQLite copes through WAL and its busy timeout.
        if args.database:
            os.environ["GRIDMAP_DATABASE_URL"] = args.database
        engine.dispose()
        uvicorn.run("geo.api:create_app", factory=True, workers=args.workers, host=args.host,
                    port=args.port, log_level=args.log_level, root_path=args.root_path)
        return 0
    uvicorn.run(create_app(engine), host=args.host, port=args.port, log_level=args.log_level,
                root_path=args.root_path)
    return 0


def _cmd_escalate(args: argparse.Namespace) -> int:
    from geo import escalation
    from geo.deadlines import policy_and_calendar

    policy, _calendar = policy_and_calendar()
    now = None
    if args.at:
        try:
            now = clock.from_local(datetime.fromisoformat(args.at))
        except ValueError:
            print(f"--at {args.at!r} is not a date-time like 2026-11-24T08:00",
                  file=sys.stderr)
            return 2
    engine = store_engine.make_engine(args.database)
    written = escalation.record(engine, now=now, policy=policy)
    store_access.log_audit(engine, actor=_cli_actor(), action="escalate", rows=written,
                           detail={"at": clock.iso_local(now or clock.now())})
    print(f"escalate: {written:,} escalation event(s) recorded in {_where(engine)}")
    return 0


def _cmd_api_key(args: argparse.Namespace) -> int:
    from geo import intake

    engine = store_engine.make_engine(args.database)
    if args.action == "create":
        try:
            key = intake.create_api_key(engine, args.name, role=args.role)
        except ValueError as exc:
            print(f"gridmap api-key: error: {exc}", file=sys.stderr)
            return 2
        store_access.log_audit(engine, actor=_cli_actor(), action="api_key_create",
                               detail={"name": args.name.strip(), "role": args.role})
        print(key)
        print(f"API key {args.name.strip()!r} ({args.role}) created. It is shown only this "
              "once: only its SHA-256 hash is stored.", file=sys.stderr)
        return 0
    if args.action == "revoke":
        if not intake.revoke_api_key(engine, args.name):
            print(f"gridmap api-key: error: no live API key called {args.name!r}",
                  file=sys.stderr)
            return 2
        store_access.log_audit(engine, actor=_cli_actor(), action="api_key_revoke",
                               detail={"name": args.name})
        print(f"API key {args.name!r} revoked")
        return 0
    keys = store_access.list_api_keys(engine)
    if keys.empty:
        print("no API keys; make one with: gridmap api-key create --name NAME")
    for row in keys.itertuples(index=False):
        state = "revoked" if row.revoked_at is not None and not _isnull(row.revoked_at) \
            else "live"
        used = "never" if _isnull(row.last_used_at) else f"{row.last_used_at:%Y-%m-%d %H:%M}"
        print(f"{row.name:<24} {row.role:<9} {state:<8} created "
              f"{row.created_at:%Y-%m-%d %H:%M} UTC, last used {used}")
    return 0


def _read_password(args: argparse.Namespace, *, confirm: bool = True) -> str:
    """Read a new password from one line of stdin or from two matching prompts.

    Never from argv: the command line shows in ``ps`` and in shell history.
    """
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValueError("no password on stdin (expected one line)")
        return password
    import getpass

    password = getpass.getpass("New password: ")
    if confirm and getpass.getpass("Repeat it: ") != password:
        raise ValueError("the two passwords differ; nothing changed")
    return password


def _cmd_users(args: argparse.Namespace) -> int:
    from geo import accounts

    engine = store_engine.make_engine(args.database)
    actor = _cli_actor()
    if args.action == "list":
        return _print_users(accounts.list_users(engine))
    try:
        if args.action in ("add", "passwd"):
            password = _read_password(args)
        with store_engine.transaction(engine) as conn:
            if args.action == "add":
                accounts.add_user(conn, username=args.name, role=args.role, password=password,
                                  areas=args.area or (), display_name=args.display_name,
                                  email=args.email)
                detail = {"name": args.name, "role": args.role, "areas": args.area or []}
                message = (f"account {args.name!r} ({args.role}"
                           + (f", areas {', '.join(args.area)}" if args.area else "")
                           + ") created")
            elif args.action == "passwd":
                accounts.set_password(conn, username=args.name, password=password)
                detail = {"name": args.name}
                message = (f"password of {args.name!r} changed (the account is unlocked and "
                           "its sessions ended)")
            elif args.action == "unlock":
                had = accounts.unlock(conn, username=args.name, actor=actor)
                detail = {"name": args.name}
                message = (f"account {args.name!r} unlocked" if had
                           else f"account {args.name!r} had no failed sign-ins to clear")
            elif args.action == "end-sessions":
                ended = accounts.end_account_sessions(conn, username=args.name, actor=actor)
                detail = {"name": args.name, "sessions": ended}
                message = f"{ended} session(s) of {args.name!r} ended"
            else:
                disabled = args.action == "disable"
                accounts.set_disabled(conn, username=args.name, disabled=disabled)
                detail = {"name": args.name}
                message = f"account {args.name!r} {args.action}d"
            store_access.log_audit(conn, actor=actor,
                                   action=f"user_{args.action.replace('-', '_')}", detail=detail)
    except ValueError as exc:
        print(f"gridmap users {args.action}: error: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


def _print_users(users) -> int:
    from geo import accounts

    if users.empty:
        print("no accounts; make one with: gridmap users add NAME --role ROLE")
        return 0
    now = clock.now()
    print(f"{'username':<20} {'role':<10} {'state':<9} {'areas':<28} {'last login (UTC)':<17} "
          "display name")
    for row in users.itertuples(index=False):
        state = accounts.account_state(row, now)
        last = "never" if _isnull(row.last_login_at) else f"{row.last_login_at:%Y-%m-%d %H:%M}"
        print(f"{row.username:<20} {row.role:<10} {state:<9} {row.areas or '-':<28} "
              f"{last:<17} {row.display_name or ''}")
    return 0


#: The dashboard's default port (``streamlit run``'s and ``gridmap serve``'s).
DEFAULT_PORT = 8501


def public_url(option: str | None = None) -> str:
    """Return the address wall screens open the dashboard at (no trailing slash).

    ``--url`` first, then ``GRIDMAP_PUBLIC_URL``, else ``http://HOSTNAME:8501`` (this
    machine's name on the default port: right for a wall on the same network).
    """
    import socket

    raw = (option or os.environ.get("GRIDMAP_PUBLIC_URL") or "").strip()
    if not raw:
        raw = f"http://{socket.gethostname() or 'localhost'}:{DEFAULT_PORT}"
    if "://" not in raw:
        raw = f"http://{raw}"
    return raw.rstrip("/")


def kiosk_url(base: str, *, area: str, token: str, refresh: int = 30) -> str:
    """Return the full kiosk URL of a wall token: ``BASE/?kiosk=1&refresh=30&area=…&token=…``."""
    from urllib.parse import urlencode

    query = urlencode({"kiosk": 1, "refresh": refresh, "area": area, "token": token})
    return f"{base}/?{query}"


def _cmd_wall_token(args: argparse.Namespace) -> int:
    from geo import accounts

    engine = store_engine.make_engine(args.database)
    actor = _cli_actor()
    if args.action == "create":
        try:
            expires = accounts.parse_duration(args.expires)
            with store_engine.transaction(engine) as conn:
                name, token = accounts.create_wall_token(
                    conn, area=args.area, expires=expires, name=args.name, created_by=actor)
        except ValueError as exc:
            print(f"gridmap wall-token create: error: {exc}", file=sys.stderr)
            return 2
        base = public_url(args.url)
        print(token)
        print(kiosk_url(base, area=args.area.strip(), token=token))
        print(f"wall token {name!r} for area {args.area.strip()} created, valid {args.expires}. "
              "It is shown only this once: only its SHA-256 hash is stored. Open the URL "
              f"above on the wall screen (the dashboard's address is {base}: set it with "
              "--url or GRIDMAP_PUBLIC_URL).", file=sys.stderr)
        return 0
    if args.action == "revoke":
        with store_engine.transaction(engine) as conn:
            done = accounts.revoke_wall_token(conn, args.name, actor=actor)
        if not done:
            print(f"gridmap wall-token revoke: error: no live wall token called {args.name!r}",
                  file=sys.stderr)
            return 2
        print(f"wall token {args.name!r} revoked")
        return 0
    tokens = accounts.list_wall_tokens(engine)
    if tokens.empty:
        print("no wall tokens; make one with: gridmap wall-token create --area CODE "
              "--expires 90d")
    now = clock.now()
    for row in tokens.itertuples(index=False):
        state = accounts.token_state(row, now)
        used = "never" if _isnull(row.last_used_at) else f"{row.last_used_at:%Y-%m-%d %H:%M}"
        print(f"{row.name:<32} {row.area:<15} {state:<8} expires "
              f"{row.expires_at:%Y-%m-%d %H:%M} UTC, last used {used}")
    return 0


def _cmd_alliance(args: argparse.Namespace) -> int:
    from geo import alliance
    from geo.access import AccessDenied, Scope

    engine = store_engine.make_engine(args.database)
    scope = Scope.everything(actor=_cli_actor())
    try:
        if args.action == "add":
            alliance.add_member(engine, scope, name=args.name, kind=args.kind, areas=args.area,
                                contact_name=args.contact_name, contact_phone=args.contact_phone,
                                account=args.account)
            print(f"alliance member {args.name!r} ({args.kind}, areas {', '.join(args.area)}) "
                  "added")
            return 0
        if args.action in ("disable", "enable"):
            changed = alliance.set_member_disabled(engine, scope, name=args.name,
                                                   disabled=args.action == "disable")
            print(f"alliance member {args.name!r} {args.action}d"
                  + ("" if changed else " already; nothing changed"))
            return 0
    except (alliance.MemberError, AccessDenied) as exc:
        where = f" ({exc.field})" if isinstance(exc, alliance.MemberError) else ""
        print(f"gridmap alliance {args.action}: error{where}: {exc}", file=sys.stderr)
        return 2
    if args.personal:
        print("gridmap alliance list: including personal data (contact names and phone "
              "numbers).", file=sys.stderr)
    frame = alliance.members(engine, scope, personal=args.personal)
    if frame.empty:
        print("no alliance members; add one with: gridmap alliance add NAME --kind shop "
              "--area CODE")
        return 0
    print(f"{'name':<24} {'kind':<5} {'state':<9} {'contact':<10} {'phone':<14} areas")
    for row in frame.to_dict("records"):
        state = "disabled" if row["disabled"] else "active"
        print(f"{row['name']:<24} {row['kind']:<5} {state:<9} {row['contact_name'] or '-':<10} "
              f"{row['contact_phone'] or '-':<14} {', '.join(row['areas'])}")
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
    p.add_argument("--if-empty", action="store_true",
                   help="build only on an empty database; leave one that holds data alone "
                        "(exit 0), as scripts/start.sh --demo does on every start")
    p.add_argument("--end", default=None,
                   help="Asia/Shanghai time the 8 months of requests lead up to (default now); "
                        "with --seed it makes the demo reproducible, e.g. 2026-11-24T14:00")
    p.set_defaults(func=_cmd_init_demo)

    # Its options belong to python -m bench; main() hands them over unparsed.
    p = sub.add_parser("bench", add_help=False,
                       help="the benchmark suite: `gridmap bench --help` (= python -m bench)")
    p.set_defaults(func=_cmd_bench, bench_args=[])

    p = sub.add_parser("import", help="import grids, requests, stations, volunteer "
                                      "activities or admin units; a requests file may "
                                      "update stored ones")
    p.add_argument("kind", choices=IMPORT_KINDS,
                   help="what the file holds; auto: guess from its columns and geometry "
                        "(requests when unsure)")
    p.add_argument("file", type=Path)
    p.add_argument("--crs", default=None,
                   help="coordinates of the file: wgs84, cgcs2000, gcj02, bd09 or EPSG:n "
                        "(default: the file's own CRS, else wgs84)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate and report what an import would do (new, updated, "
                        "unchanged, refused rows), write nothing")
    p.add_argument("--report", type=Path, default=None,
                   help="write every problem (row, field, value, reason) to this CSV")
    p.add_argument("--show", type=int, default=50, help="problems to print (default 50)")
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help="language of the problems printed and of --report's reasons "
                        "(default: zh when LANG starts with zh, else en)")
    p.add_argument("--template", choices=("csv", "xlsx"), default=None,
                   help="write the template of KIND to FILE instead of importing "
                        "(CSV with a UTF-8 BOM, or Excel with a sheet of the accepted columns)")
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

    p = sub.add_parser("serve", help="start the dashboard (streamlit run app.py, see ui/serve.py)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--address", default="0.0.0.0")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("api", help="start the Open311 GeoReport v2 intake API (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8311)
    p.add_argument("--log-level", default="info",
                   choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (one per core is a good start)")
    p.add_argument("--root-path", default="", metavar="PREFIX",
                   help="the path a reverse proxy serves the API under, e.g. /api (see "
                        "deploy/): links it answers with (Link, /docs) carry it")
    p.set_defaults(func=_cmd_api)

    p = sub.add_parser(
        "escalate", help="record each deadline threshold the open requests crossed (督办; "
                         "for a cron, e.g. every 5 minutes)",
        description="Judge every open request's escalation level (due soon, overdue, long "
                    "overdue) by the working-day clock and write one escalation event per "
                    "threshold crossed since the last run. Safe to run from several places "
                    "at once: a crossing is recorded once. The wall does the same on each "
                    "refresh.")
    p.add_argument("--at", default=None, metavar="YYYY-MM-DDTHH:MM",
                   help="judge as of this Asia/Shanghai time instead of now")
    p.set_defaults(func=_cmd_escalate)

    p = sub.add_parser("api-key", help="create, list or revoke Open311 API keys")
    keys = p.add_subparsers(dest="action", required=True)
    k = keys.add_parser("create", help="make a key and print it once (only its hash is kept)")
    k.add_argument("--name", required=True, help="who the key is for, e.g. wechat-miniprogram")
    k.add_argument("--role", choices=["reporter", "handler"], default="reporter",
                   help="reporter (default): create and read requests, e.g. the "
                        "mini-program; handler: also post status updates, e.g. the "
                        "handling platform")
    k.set_defaults(func=_cmd_api_key)
    k = keys.add_parser("list", help="list keys (names and times, never the keys)")
    k.set_defaults(func=_cmd_api_key)
    k = keys.add_parser("revoke", help="revoke a key by name")
    k.add_argument("name")
    k.set_defaults(func=_cmd_api_key)

    from geo.access import ROLES

    p = sub.add_parser("users", help="add, list, disable accounts and change passwords")
    users = p.add_subparsers(dest="action", required=True)
    stdin_help = "read the password from one line of stdin instead of prompting"
    u = users.add_parser("add", help="create an account (the password is prompted for)")
    u.add_argument("name", help="user name: 2-64 letters, digits or _ . @ -")
    u.add_argument("--role", required=True, choices=[r for r in ROLES if r != "wall"])
    u.add_argument("--area", action="append", default=None, metavar="CODE",
                   help="a grid or admin code the account may read (repeatable; required "
                        "for grid_head)")
    u.add_argument("--display-name", default=None)
    u.add_argument("--email", default=None, help="e-mail an OIDC sign-in maps to")
    u.add_argument("--password-stdin", action="store_true", help=stdin_help)
    u.set_defaults(func=_cmd_users)
    u = users.add_parser("passwd", help="change a password (also unlocks the account and "
                                        "ends its sessions)")
    u.add_argument("name")
    u.add_argument("--password-stdin", action="store_true", help=stdin_help)
    u.set_defaults(func=_cmd_users)
    for action, text in (("disable", "stop an account signing in (ends its sessions)"),
                         ("enable", "let a disabled account sign in again"),
                         ("unlock", "clear the wait that failed sign-ins put on an account"),
                         ("end-sessions", "sign an account out everywhere at once")):
        u = users.add_parser(action, help=text)
        u.add_argument("name")
        u.set_defaults(func=_cmd_users)
    u = users.add_parser("list", help="list accounts (never the password hashes)")
    u.set_defaults(func=_cmd_users)

    p = sub.add_parser("wall-token", help="create, list or revoke wall-screen (kiosk) tokens")
    walls = p.add_subparsers(dest="action", required=True)
    w = walls.add_parser("create", help="make a token for one area and print it once")
    w.add_argument("--area", required=True, help="the grid or admin code the wall shows")
    w.add_argument("--expires", required=True, metavar="DURATION",
                   help="how long it stays valid: e.g. 90d, 12h or 30m")
    w.add_argument("--name", default=None, help="a name to list and revoke it by")
    w.add_argument("--url", default=None, metavar="BASE",
                   help="the dashboard's address as the wall screen reaches it, e.g. "
                        "http://10.1.2.3:8501 (default $GRIDMAP_PUBLIC_URL, else "
                        "http://HOSTNAME:8501)")
    w.set_defaults(func=_cmd_wall_token)
    w = walls.add_parser("list", help="list tokens (names and times, never the tokens)")
    w.set_defaults(func=_cmd_wall_token)
    w = walls.add_parser("revoke", help="revoke a token by name")
    w.add_argument("name")
    w.set_defaults(func=_cmd_wall_token)

    from geo.vocab import MEMBER_KINDS

    p = sub.add_parser("alliance", help="add, list, disable 解忧联盟 members (units, NGOs, shops)")
    members = p.add_subparsers(dest="action", required=True)
    m = members.add_parser("add", help="add a member that claims market and charity requests")
    m.add_argument("name", help="the member's name (unique)")
    m.add_argument("--kind", required=True,
                   help=f"one of {', '.join(MEMBER_KINDS)} (or {'/'.join(MEMBER_KINDS.values())})")
    m.add_argument("--area", action="append", required=True, metavar="CODE",
                   help="a grid or admin code it serves (repeatable)")
    m.add_argument("--contact-name", default=None, help="contact person (personal data)")
    m.add_argument("--contact-phone", default=None, help="contact phone (personal data)")
    m.add_argument("--account", default=None,
                   help="the username of its own account (role alliance), to claim online")
    m.set_defaults(func=_cmd_alliance)
    for action, text in (("disable", "stop a member claiming (its claims are kept)"),
                         ("enable", "let a disabled member claim again")):
        m = members.add_parser(action, help=text)
        m.add_argument("name")
        m.set_defaults(func=_cmd_alliance)
    m = members.add_parser("list", help="list members, contacts masked")
    m.add_argument("--personal", action="store_true",
                   help="show contacts in clear (personal data; audited)")
    m.set_defaults(func=_cmd_alliance)

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
    from geo.deadlines import ConfigError

    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        # A deadline or holiday file that does not parse: name it, no traceback.
        print(f"gridmap {args.command}: error: {exc}", file=sys.stderr)
        return 2
