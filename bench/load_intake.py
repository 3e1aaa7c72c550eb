"""Open311 intake under load (issue 5): POSTs at a fixed rate while 10 walls read counts.

For each backend it starts ``gridmap api`` (uvicorn, one process) on a free loopback port,
against a copy of the demo database (SQLite) or a throw-away PostgreSQL database with the
demo loaded, makes an API key, then sends a fixed number of ``POST /requests.json``
(form-encoded, reports from :mod:`geo.simulate`) paced at ``--rate`` per second by a pool of
threads, while ``--walls`` threads each read the per-grid counts of the last 24 h once a
second (:func:`geo.heat.grid_counts`, what the command wall does). It stops by itself: after
the last request, or at ``--time-limit``.

It checks that every POST was acknowledged (2xx), that the acknowledged ids are distinct, and
that the database holds exactly that many new requests; it prints throughput, POST latency
p50/p95/p99 and wall-read latency, and exits non-zero when a check fails.

    python -m bench.load_intake [--backend sqlite|postgresql|both] [--requests 10000]
                                [--rate 250] [--quick] [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import clock, heat, intake, simulate  # noqa: E402
from geo.store import engine as store_engine  # noqa: E402

WORK = ROOT / "bench" / "_work" / "load_intake"
PG_ADMIN_URL = os.environ.get("GRIDMAP_TEST_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Outcome:
    """What one backend's run measured."""

    backend: str
    sent: int = 0
    acknowledged: int = 0
    distinct_ids: int = 0
    rows_added: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    post_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    wall_reads: int = 0
    wall_errors: list[str] = field(default_factory=list)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return (not self.errors and not self.wall_errors and not self.timed_out
                and self.acknowledged == self.sent == self.distinct_ids == self.rows_added)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# --------------------------------------------------------------------------- databases


def _sqlite_copy(source: Path) -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    target = WORK / "load.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    # The backup API gives a consistent copy even if the demo is open elsewhere (WAL).
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    src.backup(dst)
    dst.close()
    src.close()
    return f"sqlite:///{target}"


def _pg_create(source_url: str) -> tuple[str, str]:
    """Create a throw-away database and load the demo into it; return (url, name)."""
    from sqlalchemy import create_engine, text

    from geo import demo

    name = f"gm_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = store_engine.make_engine(url)
    # The same demo as the SQLite copy: same seed, same end.
    src = store_engine.make_engine(source_url, upgrade=False)
    seed = int(store_engine.get_setting(src, "demo_seed", "2021"))
    end = store_engine.get_setting(src, "demo_end")
    src.dispose()
    demo.init_demo(engine, seed=seed, end=datetime.fromisoformat(end) if end else None)
    engine.dispose()
    return url, name


def _pg_drop(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --------------------------------------------------------------------------- the run


def _start_api(url: str, port: int, log: Path, workers: int = 1) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "geo", "--database", url, "api", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gridmap api exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/services.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("gridmap api did not answer within 60 s")


def run_backend(backend: str, url: str, *, requests: int, rate: float, threads: int,
                walls: int, time_limit: float, seed: int, workers: int = 1) -> Outcome:
    """Load one backend's API; see the module docstring."""
    out = Outcome(backend)
    engine = store_engine.make_engine(url)
    key = intake.create_api_key(engine, f"load-{uuid.uuid4().hex[:6]}")
    city = simulate.SimCity.from_database(engine)
    gen = simulate.stream(city, rate=rate, start=clock.now(),
                          rng=np.random.default_rng(seed), rhythm=False,
                          tag=f"load{uuid.uuid4().hex[:8]}")
    bodies = [dict(next(gen).fields, api_key=key) for _ in range(requests)]
    hierarchy = heat.unit_hierarchy(engine)
    before = store_engine.table_counts(engine)["request"]

    port = _free_port()
    WORK.mkdir(parents=True, exist_ok=True)
    proc = _start_api(url, port, WORK / f"api-{backend}.log", workers)
    post_url = f"http://127.0.0.1:{port}/requests.json"
    lock = threading.Lock()
    counter = itertools.count()
    ids: list[str] = []
    stop = threading.Event()
    t0 = time.monotonic() + 0.5  # let every thread get ready

    def sender() -> None:
        with httpx.Client(timeout=30.0) as client:
            while not stop.is_set():
                i = next(counter)
                if i >= requests:
                    return
                # Open loop: request i is due at t0 + i/rate, whatever came before.
                due = t0 + i / rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if time.monotonic() - t0 > time_limit:
                    stop.set()
                    return
                start = time.perf_counter()
                try:
                    resp = client.post(post_url, data=bodies[i])
                    ms = (time.perf_counter() - start) * 1000
                    if 200 <= resp.status_code < 300:
                        sid = str(resp.json()[0]["service_request_id"])
                        with lock:
                            ids.append(sid)
                            out.post_ms.append(ms)
                    else:
                        with lock:
                            out.errors.append(f"HTTP {resp.status_code}: {resp.text[:200]}")
                except Exception as exc:  # counted: a lost request is the failure we test
                    with lock:
                        out.errors.append(f"{type(exc).__name__}: {exc}")
                with lock:
                    out.sent += 1

    def wall() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            now = clock.now()
            try:
                counts = heat.grid_counts(engine, since=now - timedelta(hours=24), until=now,
                                          hierarchy=hierarchy, now=now)
                assert len(counts) == len(hierarchy.grids)
                ms = (time.perf_counter() - start) * 1000
                with lock:
                    out.wall_ms.append(ms)
                    out.wall_reads += 1
            except Exception as exc:
                with lock:
                    out.wall_errors.append(f"{type(exc).__name__}: {exc}")
            # A wall refreshes once a second, however long the read took.
            stop.wait(max(0.0, 1.0 - (time.perf_counter() - start)))

    wall_threads = [threading.Thread(target=wall, daemon=True) for _ in range(walls)]
    send_threads = [threading.Thread(target=sender, daemon=True) for _ in range(threads)]
    try:
        for t in wall_threads + send_threads:
            t.start()
        for t in send_threads:
            t.join(time_limit + 60)
        out.seconds = time.monotonic() - t0
        out.timed_out = stop.is_set() or any(t.is_alive() for t in send_threads)
        stop.set()
        for t in wall_threads:
            t.join(10)
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    out.acknowledged = len(ids)
    out.distinct_ids = len(set(ids))
    out.rows_added = store_engine.table_counts(engine)["request"] - before
    engine.dispose()
    return out


# --------------------------------------------------------------------------- reporting


def _versions() -> str:
    import fastapi
    import sqlalchemy
    import uvicorn
    from sqlalchemy import create_engine, text

    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect() as conn:
            pg = conn.execute(text("SHOW server_version")).scalar()
        eng.dispose()
    except Exception:
        pg = "?"
    return (f"Python {platform.python_version()}, FastAPI {fastapi.__version__}, uvicorn "
            f"{uvicorn.__version__}, SQLAlchemy {sqlalchemy.__version__}, httpx "
            f"{httpx.__version__}, SQLite {sqlite3.sqlite_version}, PostgreSQL {pg}")


def _machine() -> str:
    cpus = os.cpu_count()
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                   if ln.startswith("MemTotal"))
        gib = int(mem.split()[1]) / 1024 / 1024
    except (OSError, StopIteration):
        gib = float("nan")
    return f"{cpus} CPUs ({model}), {gib:.0f} GiB, Linux {platform.release()}"


def _row(o: Outcome) -> str:
    thr = o.acknowledged / o.seconds if o.seconds else float("nan")
    return (f"| {o.backend} | {o.sent:,} | {o.acknowledged:,} | {o.rows_added:,} | "
            f"{len(o.errors)} | {o.seconds:.1f} s | {thr:.0f}/s | "
            f"{_pct(o.post_ms, 50):.0f} / {_pct(o.post_ms, 95):.0f} / {_pct(o.post_ms, 99):.0f}"
            f" ms | {o.wall_reads:,} | {_pct(o.wall_ms, 50):.0f} / {_pct(o.wall_ms, 95):.0f} /"
            f" {max(o.wall_ms, default=float('nan')):.0f} ms | {'yes' if o.ok else 'NO'} |")


def table(outcomes: list[Outcome]) -> str:
    """Return the figures as a markdown table."""
    head = ("| backend | sent | acknowledged | rows added | errors | time | throughput | "
            "POST p50 / p95 / p99 | wall reads | wall read p50 / p95 / max | pass |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    return "\n".join([head, *(_row(o) for o in outcomes)])


def main(argv: list[str] | None = None) -> int:
    """Run the load test; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=250.0, help="POSTs per second to send")
    ap.add_argument("--threads", type=int, default=32, help="sending threads")
    ap.add_argument("--walls", type=int, default=10, help="wall sessions reading counts")
    ap.add_argument("--workers", type=int, default=1, help="API server processes")
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per backend")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--db", type=Path, default=store_engine.DEFAULT_SQLITE,
                    help="the demo database")
    ap.add_argument("--quick", action="store_true", help="a small run: 1,000 requests")
    ap.add_argument("--results", type=Path, default=None,
                    help="append the figures to this markdown file")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests = min(args.requests, 1000)
    if not args.db.exists():
        print(f"{args.db} does not exist: run `gridmap init-demo` first", file=sys.stderr)
        return 2
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    outcomes = []
    for backend in backends:
        print(f"[{backend}] preparing the database …", file=sys.stderr, flush=True)
        prep = time.monotonic()
        pg_name = None
        if backend == "sqlite":
            url = _sqlite_copy(args.db)
        else:
            url, pg_name = _pg_create(f"sqlite:///{args.db}")
        print(f"[{backend}] ready in {time.monotonic() - prep:.0f} s; sending "
              f"{args.requests:,} POSTs at {args.rate:.0f}/s with {args.walls} walls",
              file=sys.stderr, flush=True)
        try:
            o = run_backend(backend, url, requests=args.requests, rate=args.rate,
                            threads=args.threads, walls=args.walls,
                            time_limit=args.time_limit, seed=args.seed,
                            workers=args.workers)
        finally:
            if pg_name:
                _pg_drop(pg_name)
        outcomes.append(o)
        print(table([o]), flush=True)
        for msg in (o.errors + o.wall_errors)[:10]:
            print(f"  {msg}", file=sys.stderr)
    text_out = (f"\nMachine: {_machine()}. {_versions()}.\n"
                f"Run: {args.requests:,} POSTs paced at {args.rate:.0f}/s by {args.threads} "
                f"threads, {args.walls} walls reading every second.\n\n{table(outcomes)}\n")
    print(text_out)
    if args.results:
        with args.results.open("a", encoding="utf-8") as fh:
            fh.write(text_out)
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
