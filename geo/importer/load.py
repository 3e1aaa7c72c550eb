"""Loading: read, validate, then write every valid row in one transaction (or a dry run).

:func:`import_file` is what ``gridmap import`` and the Data page call. It never raises for a
bad file: a file-level error, or a database that refuses the write, comes back as
``report.file_error`` with nothing written.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from geo import clock
from geo.grids import GridIndex
from geo.importer import updates as file_updates
from geo.importer.geometry import resolve_crs
from geo.importer.read import read_chunks, read_table
from geo.importer.reasons import Reason
from geo.importer.report import ImportFileError, ImportReport, Problem, Progress, check_kind
from geo.importer.rows import MAX_PROBLEMS_PER_REASON, more_rows
from geo.importer.validate import (
    validate_activities,
    validate_grids,
    validate_requests,
    validate_stations,
    validate_units,
)
from geo.store import engine as store_engine
from geo.store import live
from geo.store import requests as store_requests
from geo.store import updates as store_updates

#: Requests are written in chunks of this many rows, to report progress.
WRITE_CHUNK = 200_000
#: A requests file is read, checked and written this many rows at a time (CSV is streamed):
#: memory follows the chunk, not the file. 1 M rows at once peaked at 1.5 GB.
READ_CHUNK = 100_000

try:  # the raw-cursor bulk paths raise driver errors, not SQLAlchemy ones
    import psycopg

    _DB_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, psycopg.Error)
except ImportError:  # pragma: no cover - PostgreSQL support not installed
    _DB_ERRORS = (SQLAlchemyError, sqlite3.Error)

#: A write that leaves nothing behind: the database refused, or stored requests moved.
_WRITE_ERRORS: tuple[type[Exception], ...] = (store_updates.ConcurrentUpdate, *_DB_ERRORS)

#: Imports that make a database the site's own rather than the demo (geo.accounts.is_demo).
REAL_KINDS = ("grids", "requests")
#: The setting recording when the latest such import was written (naive UTC).
REAL_DATA_SETTING = "real_data"

_KEYS = {"grids": ("grid", "code"), "requests": ("request", "external_id"),
         "stations": ("station", "code"), "activities": ("volunteer_activity", "external_id"),
         "units": ("admin_unit", "code")}
# The columns compared with the stored row to tell an updated grid, station or unit from an
# unchanged one (besides the geometry); computed ones (area, source CRS) are left out.
_COMPARED = {
    "grids": ("name", "community_code", "population", "households", "head_name",
              "head_phone", "wechat_groups", "wechat_members", "volunteers"),
    "stations": ("name", "kind", "lon", "lat", "officers", "radius_m", "address"),
    "units": ("name", "level", "parent_code", "population"),
}

def import_file(engine: Engine, path: str | Path, *, kind: str, crs: str | None = None,
                dry_run: bool = False, progress: Progress | None = None,
                layer: str | None = None) -> ImportReport:
    """Read, validate and store one file; return the report.

    All valid rows (including rows with only warnings) are written in one transaction: if
    anything fails nothing is left behind. A file-level error writes nothing. Requests
    already stored (by external id) are updated through :func:`geo.updates.apply_updates`
    (see :mod:`geo.importer.updates`); new ones take the bulk path.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database to write to (and to read the stored grids from).
    path : str or Path
        CSV, Excel .xlsx, GeoJSON, GeoPackage or zipped Shapefile.
    kind : str
        ``"grids"``, ``"requests"``, ``"stations"``, ``"activities"`` or ``"units"`` (admin
        units: names, codes, levels, parents, optional outlines).
    crs : str, optional
        The CRS of the file's coordinates (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``,
        ``EPSG:n``). None: the file's declared CRS, else WGS84 (see :func:`resolve_crs`).
    dry_run : bool
        Validate and report, write nothing. The report's counts (new, updated, unchanged,
        refused) are judged against the stored data, as a real run would judge them.
    progress : callable, optional
        ``progress(fraction, message)``, called as the import advances (0 to 1).
    layer : str, optional
        The layer of a multi-layer GeoPackage; default the first.

    Returns
    -------
    ImportReport
        ``ok()`` is False when the whole file was rejected (or the database refused the
        write, in which case nothing was written).

    """
    check_kind(kind)
    started = time.perf_counter()

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(fraction, 0.0), 1.0), message)

    report = ImportReport(kind=kind, path=str(path), crs=crs or "wgs84", dry_run=dry_run)
    step(0.0, f"reading {Path(path).name}")
    if kind == "requests":
        return _import_requests(engine, Path(path), report, crs=crs, layer=layer, step=step,
                                started=started)
    try:
        frame = read_table(path, kind=kind, layer=layer)
        report.format = frame.attrs.get("format")
        report.encoding = frame.attrs.get("encoding")
        read_problems = frame.attrs.get("read_problems", [])
        report.crs = resolve_crs(frame, crs)
        # Lines the reader had to drop (malformed CSV lines) were read too.
        report.rows_read = len(frame) + sum(p.row is not None and p.severity == "error"
                                            for p in read_problems)
        step(0.2, f"validating {len(frame):,} rows")
        valid, problems = _validate(engine, frame, kind=kind, crs=report.crs)
    except ImportFileError as exc:
        return _failed(report, exc.problem, started, step)
    report.problems = read_problems + problems
    report.rows_valid = len(valid)
    step(0.6, f"{len(valid):,} valid rows")
    try:
        if dry_run:
            _preview(engine, valid, report)
        else:
            _write(engine, valid, report, step)
    except _WRITE_ERRORS as exc:
        return _refused_write(report, exc, started, step)
    return _finished(report, started, step)


def _finished(report: ImportReport, started: float, step: Progress) -> ImportReport:
    # File-level lines first, then by row; within a row, in the order checked.
    report.problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    report.seconds = time.perf_counter() - started
    step(1.0, "dry run: nothing written" if report.dry_run else "done")
    return report


def _refused_write(report: ImportReport, exc: Exception, started: float,
                   step: Progress) -> ImportReport:
    """Report a write the database refused (or stored requests that moved): none of it stays."""
    _nothing_written(report)
    if isinstance(exc, store_updates.ConcurrentUpdate):
        reason = (f"requests changed while this file was imported ({exc}); nothing was "
                  "written: import the file again")
    else:
        reason = f"database error, nothing was written: {str(exc).splitlines()[0][:300]}"
    return _failed(report, Problem(None, None, None, reason), started, step)


def _import_requests(engine: Engine, path: Path, report: ImportReport, *, crs: str | None,
                     layer: str | None, step: Progress, started: float) -> ImportReport:
    """Import a requests file :data:`READ_CHUNK` rows at a time, in one transaction.

    Each chunk is read, checked, judged against the stored requests (and the rows of the
    chunks before it, written in the same transaction) and written; a problem anywhere
    (a line pandas cannot parse in the last chunk, the database) rolls all of it back.
    """
    try:
        chunks = read_chunks(path, kind="requests", rows=READ_CHUNK, layer=layer)
        index = GridIndex(store_requests.read_grids(engine))
    except ImportFileError as exc:
        return _failed(report, exc.problem, started, step)
    seen = _SeenKeys()
    problems: list[Problem] = []

    def run(conn: Connection) -> None:
        for i, chunk in enumerate(chunks):
            if i == 0:
                report.format = chunk.attrs.get("format")
                report.encoding = chunk.attrs.get("encoding")
                report.crs = resolve_crs(chunk, crs)
            read_problems = chunk.attrs.get("read_problems", [])
            # Lines the reader had to drop (malformed CSV lines) were read too.
            report.rows_read += len(chunk) + sum(p.row is not None and p.severity == "error"
                                                 for p in read_problems)
            valid, found = validate_requests(chunk, crs=report.crs, grid_index=index)
            if i > 0:  # the file's own lines (unknown columns…) once, from the first chunk
                found = [p for p in found if p.row is not None or p.code == "more_rows"]
            valid, repeats = seen.drop_repeats(valid)
            problems.extend(read_problems + found + repeats)
            report.rows_valid += len(valid)
            plan = file_updates.plan_file(conn, valid, actor=_actor(report),
                                          dry_run=report.dry_run)
            inserted = None
            if not report.dry_run:
                inserted = sum(store_requests.bulk_insert_requests(
                    conn, plan.new.iloc[at:at + WRITE_CHUNK])
                    for at in range(0, len(plan.new), WRITE_CHUNK))
            _account(report, plan, inserted=inserted)
            lines = chunk.attrs.get("lines") or report.rows_read
            step(0.05 + 0.9 * report.rows_read / max(lines, 1),
                 f"{report.rows_read:,} rows read, checked"
                 + ("" if report.dry_run else " and written"))
        if not report.dry_run and report.rows_inserted + report.rows_updated > 0:
            store_engine.set_setting(conn, REAL_DATA_SETTING, clock.now().isoformat())

    try:
        if report.dry_run:
            with engine.connect() as conn:
                run(conn)
        else:
            with store_engine.transaction(engine) as conn:
                run(conn)
    except ImportFileError as exc:
        _nothing_written(report)
        return _failed(report, exc.problem, started, step)
    except _WRITE_ERRORS as exc:
        return _refused_write(report, exc, started, step)
    report.problems = _capped(problems) + report.problems
    return _finished(report, started, step)


class _SeenKeys:
    """The external ids of the rows kept so far, as 64-bit hashes (16 bytes a row).

    A chunk's own repeats are refused by :func:`validate_requests`; this refuses a row that
    repeats one from an earlier chunk, naming that row, as a file read whole would.
    """

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)

    def drop_repeats(self, valid: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
        """Return ``valid`` without rows whose key was kept before, and their problems."""
        if not len(valid):
            return valid, []
        keys = valid["external_id"].to_numpy(dtype=object)
        hashes = pd.util.hash_array(keys)
        problems: list[Problem] = []
        hit = np.zeros(len(valid), dtype=bool)
        if len(self.hashes):
            at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
            hit = self.hashes[at] == hashes
            names = valid.attrs.get("names", {})
            what = "duplicate" if "external_id" in names else "duplicate_derived"
            field = names.get("external_id", "external_id")
            problems = [Problem(int(row), field, str(key), Reason(what, row=int(first)))
                        for row, key, first in zip(valid.index[hit], keys[hit],
                                                   self.rows[at[hit]], strict=True)]
        kept = ~hit
        hashes_all = np.concatenate([self.hashes, hashes[kept]])
        order = np.argsort(hashes_all, kind="stable")
        self.hashes = hashes_all[order]
        self.rows = np.concatenate([self.rows, valid.index.to_numpy()[kept]])[order]
        out = valid[kept]
        out.attrs = valid.attrs
        return out, problems


def _capped(problems: list[Problem]) -> list[Problem]:
    """Keep the listing of one file read whole: :data:`MAX_PROBLEMS_PER_REASON` rows at most.

    Per field and reason over all chunks; the rest are summed in one "more rows" line each.
    """
    out: list[Problem] = []
    listed: dict[tuple, int] = {}
    more: dict[tuple, tuple[int, object]] = {}
    for p in problems:
        if p.row is None and p.code == "more_rows":
            inner = p.params["reason"]
            key = (p.severity, p.field, getattr(inner, "code", str(inner)))
            n, first = more.get(key, (0, inner))
            more[key] = (n + p.params["n"], first)
            continue
        key = (p.severity, p.field, p.code or p.reason)
        if p.row is not None and listed.get(key, 0) >= MAX_PROBLEMS_PER_REASON:
            n, inner = more.get(key, (0, Reason(p.code, **p.params) if p.code else p.reason))
            more[key] = (n + 1, inner)
            continue
        listed[key] = listed.get(key, 0) + 1
        out.append(p)
    out += [Problem(None, field, None, more_rows(n, inner), severity)
            for (severity, field, _), (n, inner) in more.items()]
    return out


def _stored(bind: Engine | Connection, valid: pd.DataFrame, kind: str) -> int:
    """Return how many valid rows have a key (code or external id) already stored."""
    table, key = _KEYS[kind]
    keys = valid[key].tolist() if len(valid) else []
    return len(store_requests.existing_keys(bind, table, key, keys)) if keys else 0


def _nothing_written(report: ImportReport) -> None:
    report.rows_inserted = report.rows_new = report.rows_updated = 0
    report.rows_unchanged = report.rows_stale = 0


def _actor(report: ImportReport) -> str:
    """Who an import's events name: ``import:`` and the file's name."""
    return f"import:{Path(report.path).name}"


def _preview(engine: Engine, valid: pd.DataFrame, report: ImportReport) -> None:
    """Count what a real run would do against the stored data, writing nothing."""
    if report.kind in _COMPARED:
        same, stored = _same_as_stored(engine, valid, report.kind)
        report.rows_new = len(valid) - stored
        report.rows_unchanged = int(same.sum())
        report.rows_updated = stored - report.rows_unchanged
        return
    stored = _stored(engine, valid, report.kind)
    report.rows_new = len(valid) - stored
    report.rows_unchanged = stored


def _account(report: ImportReport, plan: file_updates.FilePlan, *,
             inserted: int | None) -> None:
    """Add a chunk of a requests file to the counts: new, updated, unchanged (stale), refused."""
    planned = len(plan.new)
    new = planned if inserted is None else inserted
    report.rows_inserted += inserted or 0
    report.rows_new += new
    report.rows_updated += plan.count("updated")
    report.rows_stale += plan.count("stale")
    # A new row stored meanwhile by someone else is left alone (ON CONFLICT DO NOTHING).
    report.rows_unchanged += plan.count("unchanged", "stale") + planned - new
    report.rows_valid -= plan.count("refused")
    report.problems += plan.problems


def _write(engine: Engine, valid: pd.DataFrame, report: ImportReport, step: Progress) -> None:
    """Write the valid rows in one transaction and count them in the report."""
    kind = report.kind
    with store_engine.transaction(engine) as conn:
        if kind == "activities":
            inserted = store_requests.insert_activities(conn, valid)
            report.rows_inserted = report.rows_new = inserted
            report.rows_unchanged = len(valid) - inserted
        else:
            same, stored = _same_as_stored(conn, valid, kind)
            changed = valid[~same]  # an unchanged row is not written again
            if kind == "grids":  # validate_grids returns a GeoDataFrame
                store_requests.write_grids(conn, cast(gpd.GeoDataFrame, changed))
            elif kind == "units":
                store_requests.write_admin_units(conn, _unit_rows(changed))
            else:
                store_requests.write_stations(conn, changed)
            report.rows_unchanged = int(same.sum())
            report.rows_updated = stored - report.rows_unchanged
            report.rows_inserted = report.rows_new = len(valid) - stored
            if len(changed):
                live.mark_written(conn)  # no count or id shows a row rewritten in place
        if kind in REAL_KINDS and report.rows_inserted + report.rows_updated > 0:
            # The site's own grids or requests: from now on this is not the demo (its
            # documented passwords are refused, its sign-in page stops advertising them).
            store_engine.set_setting(conn, REAL_DATA_SETTING, clock.now().isoformat())


def _unit_rows(units: pd.DataFrame) -> pd.DataFrame:
    """Admin units as :func:`geo.store.write_admin_units` takes them (outline as ``geom``)."""
    frame = pd.DataFrame(units.drop(columns=units.geometry.name))
    if units.attrs.get("outlines"):  # without outlines in the file, keep the stored ones
        frame["geom"] = units.geometry.to_numpy()
    return frame


def _stored_rows(bind: Engine | Connection, valid: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Return the stored grids, stations or units with the keys of ``valid``, by key."""
    keys = list(valid["code"]) if len(valid) else []
    if kind == "grids":
        stored = store_requests.read_grids(bind, codes=keys if len(keys) <= 5000 else None,
                                           personal=True)
    elif kind == "units":
        stored = store_requests.read_admin_units(bind)
    else:
        stored = store_requests.read_stations(bind)
    return stored[stored["code"].isin(keys)].set_index("code")


def _same_as_stored(bind: Engine | Connection, valid: pd.DataFrame, kind: str
                    ) -> tuple[np.ndarray, int]:
    """Return which valid rows equal their stored row (mask), and how many are stored.

    Only the columns the file gives are compared (the others are kept as stored), and the
    geometry to within 1e-7° (about 1 cm).
    """
    if not len(valid):
        return np.zeros(0, dtype=bool), 0
    stored = _stored_rows(bind, valid, kind)
    found = valid["code"].isin(stored.index).to_numpy()
    same = found.copy()
    if not found.any():
        return same, 0
    mine = valid[found]
    theirs = stored.reindex(mine["code"])
    for col in _COMPARED[kind]:
        if col not in mine.columns or col not in theirs.columns:
            continue
        same[found] &= _same_column(mine[col].reset_index(drop=True).astype(object),
                                    theirs[col].reset_index(drop=True).astype(object))
    if isinstance(valid, gpd.GeoDataFrame) and (kind != "units" or valid.attrs.get("outlines")):
        a = np.asarray(mine.geometry.values, dtype=object)
        b = np.asarray(theirs.geometry.values, dtype=object)
        both = ~(shapely.is_missing(a) | shapely.is_missing(b))
        equal = shapely.is_missing(a) & shapely.is_missing(b)
        equal[both] = shapely.equals_exact(shapely.normalize(a[both]),
                                           shapely.normalize(b[both]), tolerance=1e-7)
        same[found] &= equal
    return same, int(found.sum())


def _same_column(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Equal cells, vectorised: missing equals only missing, numbers by value (1 == 1.0)."""
    a_missing, b_missing = a.isna().to_numpy(), b.isna().to_numpy()
    a_num = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    b_num = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    numeric = ~np.isnan(a_num) & ~np.isnan(b_num)
    with np.errstate(invalid="ignore"):
        equal = np.where(numeric, np.abs(a_num - b_num) <= 1e-9,
                         a.astype(str).to_numpy() == b.astype(str).to_numpy())
    return np.where(a_missing | b_missing, a_missing & b_missing, equal)


def _failed(report: ImportReport, problem: Problem, started: float,
            step: Progress) -> ImportReport:
    if not problem.reason.startswith(Path(report.path).name):
        problem.reason = f"{Path(report.path).name}: {problem.reason}"
    report.file_error = problem
    report.problems.append(problem)
    report.seconds = time.perf_counter() - started
    step(1.0, "file rejected")
    return report


def _validate(engine: Engine, frame: pd.DataFrame, *, kind: str, crs: str
              ) -> tuple[pd.DataFrame, list[Problem]]:
    if kind == "grids":
        communities = store_requests.read_admin_units(engine, level="community")
        known = set(communities["code"]) if len(communities) else None
        outlines = (communities.set_index("code").geometry if len(communities) else None)
        stored = store_requests.read_grids(engine)
        valid, problems = validate_grids(frame, crs=crs, known_communities=known,
                                         community_outlines=outlines,
                                         stored_grids=stored.set_index("code").geometry)
        if known is None:
            problems.append(Problem(None, "community_code", None, Reason("no_communities"),
                                    "warning"))
        return valid, problems
    if kind == "units":
        return validate_units(frame, crs=crs,
                              stored=store_requests.read_admin_unit_attributes(engine))
    if kind == "stations":
        return validate_stations(frame, crs=crs)
    grids = store_requests.read_grids(engine)
    index = GridIndex(grids)
    return validate_activities(frame, known_grids=set(grids["code"]), crs=crs,
                               grid_index=index)

