"""Benchmark datasets, built once and cached under bench/_work/data/ by scale and seed.

* ``tiny``: one township of the synthetic province lattice (300 grids, 5,000 requests),
  built in a second or two; what ``python -m bench --quick`` runs on.
* ``city``: the Yiyang demo (:func:`geo.demo.init_demo`, 6,017 grids, about 80 k requests).
* ``province``: the synthetic province (:mod:`geo.province`, 60,000 grids, 10 M requests;
  about 5 minutes into SQLite).

A SQLite file is reused when its ``bench_dataset`` setting matches the key (written last, so a
half-built file is never reused). PostgreSQL copies are throw-away databases created and
dropped around the rows that need them (:func:`pg_database`).

    python -m bench.datasets province   # build (or reuse) one dataset and print its path
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from geo import accounts, demo, province
from geo.store import engine as store_engine
from geo.store import requests as store_requests

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work"
DATA = WORK / "data"
#: A fixed end, so that a cached dataset and a fresh one hold the same rows.
END = datetime(2026, 11, 24, 6)
SEED = 2021
TINY_REQUESTS = 5_000
PG_ADMIN_URL = os.environ.get("GRIDMAP_TEST_PG_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SCALES = ("tiny", "city", "province")
#: Seconds each :func:`pg_database` took to generate and load its rows, by URL.
LOAD_SECONDS: dict[str, float] = {}


def _key(scale: str, seed: int, requests: int | None) -> str:
    return f"{scale}:{seed}:{END.isoformat()}:{requests or 'all'}"


def _fill(engine, scale: str, *, seed: int, requests: int | None = None) -> None:
    """Write the dataset of ``scale`` into an empty, migrated database."""
    if scale == "city":
        demo.init_demo(engine, seed=seed, end=END)
    elif scale == "province":
        province.init_province(engine, seed=seed, end=END,
                               n_requests=requests or province.TARGET_REQUESTS)
    elif scale == "tiny":
        admin, grids = province.build_province_grids(seed=seed)
        town = "990100001"
        grids = grids[grids.code.str.startswith(town)].reset_index(drop=True)
        keep = admin.code.isin(["990000", town[:6], town]) | admin.code.str.startswith(town)
        admin = admin[keep].reset_index(drop=True)
        reqs = province.province_requests(grids, n=requests or TINY_REQUESTS, seed=seed,
                                          end=END)
        with store_engine.transaction(engine) as conn:
            store_engine.clear_all(conn)
            store_requests.write_admin_units(conn, admin)
            store_requests.write_grids(conn, grids)
            store_requests.bulk_insert_requests(conn, reqs)
            store_engine.set_setting(conn, "demo", "tiny")
            store_engine.set_setting(conn, "demo_seed", str(seed))
            store_engine.set_setting(conn, "demo_end", END.isoformat())
    else:
        raise ValueError(f"unknown scale {scale!r}: use one of {SCALES}")


def sqlite_path(scale: str, *, seed: int = SEED, requests: int | None = None,
                log=print) -> Path:
    """Return the SQLite file of ``scale``, building it first if it is missing or stale.

    Parameters
    ----------
    scale : {"tiny", "city", "province"}
        Which dataset.
    seed : int
        Generator seed; part of the cache key.
    requests : int, optional
        Number of requests (province and tiny only); default the full dataset.
    log : callable
        Where progress messages go.

    Returns
    -------
    pathlib.Path

    """
    suffix = f"-{requests}" if requests else ""
    path = DATA / f"{scale}-s{seed}{suffix}.db"
    key = _key(scale, seed, requests)
    if path.exists():
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                row = conn.execute("SELECT value FROM setting WHERE key='bench_dataset'"
                                   ).fetchone()
            if row and row[0] == key:
                return _with_accounts(path)
        except sqlite3.DatabaseError:
            pass
    DATA.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.db")
    if _being_built(partial):
        log(f"waiting for another process building {partial} …")
        while _being_built(partial):
            time.sleep(10)
        return sqlite_path(scale, seed=seed, requests=requests, log=log)
    for p in (path, partial):
        for extra in ("", "-wal", "-shm"):
            Path(f"{p}{extra}").unlink(missing_ok=True)
    log(f"building the {scale} dataset into {path} …")
    t0 = time.perf_counter()
    engine = store_engine.make_engine(f"sqlite:///{partial}")
    _fill(engine, scale, seed=seed, requests=requests)
    with store_engine.transaction(engine) as conn:
        store_engine.set_setting(conn, "bench_dataset", key)
    engine.dispose()
    # Fold the WAL into the file so that one rename moves the whole database.
    with sqlite3.connect(partial) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(path)
    for extra in ("-wal", "-shm"):
        Path(f"{partial}{extra}").unlink(missing_ok=True)
    log(f"built {scale} in {time.perf_counter() - t0:.0f} s")
    return _with_accounts(path)


def _with_accounts(path: Path) -> Path:
    """Give a dataset the demo admin (the app's pages sit behind a sign-in since issue 6).

    A dataset built before the accounts existed gets them here, with the schema upgraded.
    """
    engine = store_engine.make_engine(f"sqlite:///{path}")
    try:
        if "admin" not in set(accounts.list_users(engine)["username"]):
            role, _areas, password, name = accounts.DEMO_ACCOUNTS["admin"]
            with store_engine.transaction(engine) as conn:  # the demo admin is all the bench needs
                accounts.add_user(conn, username="admin", role=role, password=password,
                                  display_name=name, check_strength=False)
    finally:
        engine.dispose()
    return path


def _being_built(partial: Path) -> bool:
    """True while another process writes ``partial`` (its WAL changed in the last minute)."""
    for p in (Path(f"{partial}-wal"), partial):
        if p.exists() and time.time() - p.stat().st_mtime < 60:
            return True
    return False


@contextmanager
def pg_database(scale: str, *, seed: int = SEED, requests: int | None = None,
                log=print) -> Iterator[str]:
    """A throw-away PostgreSQL database holding the dataset of ``scale``; yields its URL."""
    name = f"gm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        log(f"loading the {scale} dataset into PostgreSQL {name} …")
        t0 = time.perf_counter()
        engine = store_engine.make_engine(url)
        _fill(engine, scale, seed=seed, requests=requests)
        loaded = time.perf_counter() - t0
        # VACUUM sets the visibility map, without which PostgreSQL's index-only scans
        # (the heat map's counts) still visit the table: a fresh load is never vacuumed.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
        engine.dispose()
        LOAD_SECONDS[url] = loaded
        log(f"loaded in {loaded:.0f} s, vacuumed in {time.perf_counter() - t0 - loaded:.0f} s")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["city"]:
        print(sqlite_path(arg))
