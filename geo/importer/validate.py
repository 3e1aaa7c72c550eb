"""The four validators: each checks one kind's rows and returns those ready for the store.

Each reads validate → compute → assemble: resolve the CRS, rename columns
(:func:`~geo.importer.columns.canonical`), run the row checks of
:class:`~geo.importer.rows.Rows` and the coordinate checks of :mod:`geo.importer.geometry`,
then build the frame of kept rows in store columns, indexed by row number.
"""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import deadlines, vocab
from geo.grids import GridIndex, grid_code_problem, metric_area_km2
from geo.importer.columns import Columns, canonical
from geo.importer.geometry import crs_label, resolve_crs, wgs84_points, wgs84_polygons
from geo.importer.reasons import LEVEL_WORDS, Reason
from geo.importer.report import Problem
from geo.importer.rows import Rows, max_len, object_values
from geo.importer.updates import changed_times, note_column, validate_updates
from geo.store import schema as store_schema
from geo.volunteers import points_for

#: Residents' descriptions longer than this are cut (with a warning).
MAX_DESCRIPTION = 4000


def validate_grids(frame: pd.DataFrame, *, crs: str | None = None,
                   known_communities: set[str] | None = None,
                   community_outlines: gpd.GeoSeries | None = None,
                   stored_grids: gpd.GeoSeries | None = None
                   ) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Check grid rows and return the valid ones ready for :func:`geo.store.write_grids`.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`. Polygons come from the geometry, or from a ``wkt`` column.
    crs : str, optional
        The coordinates' CRS; see :func:`resolve_crs`.
    known_communities : set of str, optional
        Community admin-unit codes; a grid whose community is not among them gets a
        warning. None skips the check.
    community_outlines : GeoSeries, optional
        Community outlines (EPSG:4326) indexed by code: a grid with less than
        :data:`MIN_INSIDE_COMMUNITY` of its area inside its community's outline gets a
        warning naming both. Grids of the file that overlap one another by more than
        :data:`OVERLAP_TOLERANCE` of the smaller one's area are warned about in any case.
    stored_grids : GeoSeries, optional
        The stored grids' polygons (EPSG:4326) indexed by code: a grid of the file that
        overlaps a stored grid it does not replace is warned about the same way.

    Returns
    -------
    grids : GeoDataFrame
        Store columns in EPSG:4326, indexed by row number. Optional columns the file lacks
        (population, head_name…) are left out, so that an upsert keeps stored values.
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing.

    """
    problems: list[Problem] = []
    crs = resolve_crs(frame, crs)
    cols = canonical(frame, "grids", problems)
    rows = Rows(cols, problems)
    table = store_schema.grid
    geoms = wgs84_polygons(rows, crs)
    code = rows.code("code")
    assert code is not None  # a required column: canonical() checked
    present = rows.required("code", code)
    community = rows.code("community_code")
    comm_given = community.notna().to_numpy() if community is not None else np.zeros(rows.n,
                                                                                      bool)
    if community is not None:
        well_formed = community.str.fullmatch(r"\d{12}").fillna(False).to_numpy(dtype=bool)
        rows.flag(comm_given & ~well_formed, "community_code", community,
                  Reason("community_code_form"))
    codes = object_values(code)
    comms = (object_values(community) if community is not None
             else np.full(rows.n, None, dtype=object))
    # grid_code_problem is per value; grid files have thousands of rows, not millions.
    reasons = np.array([_grid_code_reason(c, k) if ok else None
                        for c, k, ok in zip(codes, comms, present, strict=True)], dtype=object)
    rows.flag([r is not None for r in reasons], "code", code, reasons)
    rows.duplicates("code", code, among=present)
    name = rows.max_length("name", rows.text("name"), max_len(table, "name"))
    rows.required("name", name)
    ints = {c: rows.number_column(c, integer=True)
            for c in ("population", "households", "wechat_groups", "wechat_members",
                      "volunteers")}
    head_name = rows.max_length("head_name", rows.text("head_name"),
                                max_len(table, "head_name"))
    head_phone = rows.max_length("head_phone", rows.text("head_phone"),
                                 max_len(table, "head_phone"))
    comm_final = np.where(comm_given, comms,
                          np.array([c[:12] if c else None for c in codes], dtype=object))
    keep = ~rows.rejected
    if known_communities is not None:
        unknown = keep & ~np.isin(comm_final.astype(str), list(known_communities))
        rows.flag(unknown, "community_code", comm_final, Reason("community_unknown"),
                  severity="warning")
    optional = {**{c: _int_objects(v[keep]) for c, v in ints.items()},
                "head_name": _objects(head_name, keep), "head_phone": _objects(head_phone, keep)}
    out = pd.DataFrame({
        "code": codes[keep],
        "name": _objects(name, keep),
        "community_code": comm_final[keep],
        # Only the columns the file has: re-importing boundaries must not blank the
        # population or grid head stored earlier (write_grids replaces what it is given).
        **{c: v for c, v in optional.items() if cols.has(c)},
        "source_crs": crs_label(crs),
    }, index=pd.Index(rows.numbers[keep], name="row"))
    grids = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms[keep], index=out.index,
                                                         crs=store_schema.SRID))
    grids["area_km2"] = metric_area_km2(grids.geometry) if len(grids) else []
    if community_outlines is not None:
        _check_communities(grids, community_outlines, rows)
    _check_overlaps(grids, rows, stored_grids)
    return grids, problems


#: A grid with less than this share of its area inside its community's outline is warned
#: about (a grid on the wrong community, or drawn in another coordinate system).
MIN_INSIDE_COMMUNITY = 0.5
#: Two grids of a file overlapping by more than this share of the smaller one's area are
#: warned about; below it, digitising slivers along shared edges pass.
OVERLAP_TOLERANCE = 0.01


def _check_communities(grids: gpd.GeoDataFrame, outlines: gpd.GeoSeries, rows: Rows) -> None:
    """Warn about grids lying mostly outside the outline of their community."""
    keep = (outlines.notna() & ~outlines.index.duplicated()).to_numpy(dtype=bool)
    shapes = pd.Series(np.asarray(outlines.values, dtype=object)[keep],
                       index=outlines.index[keep], dtype=object)
    has = grids["community_code"].isin(shapes.index).to_numpy()
    if not has.any():
        return
    geoms = np.asarray(grids.geometry.values, dtype=object)[has]
    comm = shapes.reindex(grids["community_code"][has]).to_numpy(dtype=object)
    inside = shapely.area(shapely.intersection(geoms, comm)) / shapely.area(geoms)
    low = np.zeros(rows.n, dtype=bool)
    positions = np.flatnonzero(np.isin(rows.numbers, grids.index[has][inside
                                                                    < MIN_INSIDE_COMMUNITY]))
    low[positions] = True
    share = dict(zip(grids.index[has], inside, strict=True))
    codes = dict(zip(grids.index, grids["code"], strict=True))
    comms = dict(zip(grids.index, grids["community_code"], strict=True))

    def reasons(idx: np.ndarray) -> list[Reason]:
        return [Reason("grid_outside_community", grid=codes[rows.number(i)],
                       community=comms[rows.number(i)],
                       share=f"{share[rows.number(i)]:.0%}") for i in idx]

    rows.flag(low, "community_code", lambda idx: [comms[rows.number(i)] for i in idx],
              reasons, severity="warning")


def _overlaps(geoms: np.ndarray, others: np.ndarray, *, same: bool
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i in geoms, j in others) overlapping by more than the tolerance, and km².

    ``same``: ``others`` is ``geoms`` itself; each pair is given once, with i > j.
    """
    empty = np.zeros(0, dtype=int)
    if not len(geoms) or not len(others):
        return empty, empty, np.zeros(0)
    tree = shapely.STRtree(others)
    mine, theirs = tree.query(geoms, predicate="intersects")
    if same:
        keep = mine > theirs
        mine, theirs = mine[keep], theirs[keep]
    if not len(mine):
        return empty, empty, np.zeros(0)
    shared = shapely.intersection(geoms[mine], others[theirs])
    smaller = np.minimum(shapely.area(geoms[mine]), shapely.area(others[theirs]))
    big = shapely.area(shared) > OVERLAP_TOLERANCE * smaller
    if not big.any():
        return empty, empty, np.zeros(0)
    km2 = metric_area_km2(gpd.GeoSeries(shared[big], crs=store_schema.SRID))
    return mine[big], theirs[big], km2


def _check_overlaps(grids: gpd.GeoDataFrame, rows: Rows,
                    stored: gpd.GeoSeries | None = None) -> None:
    """Warn about grids of the file overlapping each other or a stored grid.

    A pair within the file is named on its later row; a stored grid the file replaces
    (same code) is not compared.
    """
    geoms = np.asarray(grids.geometry.values, dtype=object)
    codes = grids["code"].to_numpy()
    position = {n: i for i, n in enumerate(rows.numbers)}
    where = "wkt" if rows.cols.geometry is None else "geometry"
    mine, theirs, km2 = _overlaps(geoms, geoms, same=True)
    found = [(a, str(codes[b]), size, "grid_overlap")
             for a, b, size in zip(mine, theirs, km2, strict=True)]
    if stored is not None and len(stored):
        kept = stored[~stored.index.isin(codes) & stored.notna()]
        others = np.asarray(kept.values, dtype=object)
        mine, theirs, km2 = _overlaps(geoms, others, same=False)
        found += [(a, str(kept.index[b]), size, "grid_overlap_stored")
                  for a, b, size in zip(mine, theirs, km2, strict=True)]
    for a, other, size, code in found:
        rows.flag(_one(rows.n, position[grids.index[a]]), where, codes[a],
                  Reason(code, grid=str(codes[a]), other=other, area=f"{size:.3f} km²"),
                  severity="warning")


def _one(n: int, i: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    return mask


def validate_requests(frame: pd.DataFrame, *, crs: str | None = None,
                      grid_index: GridIndex | None = None
                      ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check request rows and return the valid ones for :func:`geo.store.bulk_insert_requests`.

    Vectorised throughout: a million rows take seconds, and Python only loops over rows
    with problems (and over rows without an external id, to hash one). Rows of requests
    already stored become updates (:mod:`geo.importer.updates`); a file without what a new
    request needs but with ``external_id`` and something to change is a file of updates
    only (:func:`~geo.importer.updates.validate_updates`).

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`.
    crs : str, optional
        The coordinates' CRS; see :func:`resolve_crs`.
    grid_index : GridIndex, optional
        The stored grids. A point in no grid is kept with ``outside_grid`` True and a
        warning. None treats every point as outside.

    Returns
    -------
    requests : DataFrame
        Store columns, times as naive UTC, indexed by row number, and the
        :data:`~geo.importer.updates.UPDATE_EXTRAS` for rows that update a stored request.
        ``attrs["names"]`` maps store columns to the file's names; ``attrs["missing"]`` names
        what a file of updates only lacks to create a request (empty otherwise).
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing (and the file is not one of updates only).

    """
    problems: list[Problem] = []
    crs = resolve_crs(frame, crs)
    cols = canonical(frame, "requests", problems)
    rows = Rows(cols, problems)
    if cols.updates_only:
        out = validate_updates(rows, cols)
    else:
        out = _new_requests(rows, cols, crs=crs, grid_index=grid_index)
    out.attrs = {"names": dict(cols.names), "missing": cols.missing}
    return out, problems


def _new_requests(rows: Rows, cols: Columns, *, crs: str, grid_index: GridIndex | None
                  ) -> pd.DataFrame:
    """Check the rows of a full requests file: new requests, or newer states of stored ones."""
    table = store_schema.request
    lon, lat = wgs84_points(rows, crs)
    category = rows.vocab_column("category", vocab.CATEGORIES, what="category", default=None,
                                 required=True)
    severity = rows.vocab_column("severity", vocab.SEVERITIES, what="severity",
                                 default="routine")
    status = rows.vocab_column("status", vocab.STATUSES, what="status", default="reported")
    route = rows.vocab_column("route", vocab.ROUTES, what="route", default=None)
    source = rows.vocab_column("source", vocab.SOURCES, what="source",
                               default=None if cols.has("source") else "miniprogram")
    satisfaction = rows.vocab_column("satisfaction", vocab.SATISFACTION, what="satisfaction",
                                     default=None)
    reported = rows.times("reported_at", required=True)
    due = rows.times("due_at")
    # A row without its own deadline gets the site's, in working time (geo.deadlines).
    missing = (due.isna().to_numpy() & reported.notna().to_numpy()
               & pd.notna(severity).astype(bool))
    if missing.any():
        due[missing] = deadlines.configured_due_times(
            reported[missing], pd.Series(severity[missing]),
            pd.Series(category[missing], dtype=object)).to_numpy()
    resolved = rows.times("resolved_at")
    closed = rows.times("closed_at")
    updated = rows.times("updated_at")
    for col, when in (("due_at", due), ("resolved_at", resolved), ("closed_at", closed),
                      ("updated_at", updated)):
        rows.flag((when < reported).to_numpy(dtype=bool), col, rows.text(col),
                  Reason("before_reported", field=rows.label(col)))
    note = note_column(rows)
    status_text = rows.text("status")  # blank: keep a stored request's status
    status_given = (status_text.notna().to_numpy() if status_text is not None
                    else np.zeros(rows.n, dtype=bool))
    description = rows.text("description", strip=False)
    description = rows.max_length("description", description, MAX_DESCRIPTION, cut=True)
    address = rows.max_length("address", rows.text("address"), max_len(table, "address"),
                              cut=True)
    reporter_name = rows.max_length("reporter_name", rows.text("reporter_name"),
                                    max_len(table, "reporter_name"))
    reporter_phone = rows.max_length("reporter_phone", rows.text("reporter_phone"),
                                     max_len(table, "reporter_phone"))
    external = rows.max_length("external_id", rows.text("external_id"),
                               max_len(table, "external_id"))
    ext = (object_values(external) if external is not None
           else np.full(rows.n, None, dtype=object))
    # A stable id for rows without one, so importing the same file twice adds nothing.
    derive = np.flatnonzero(~rows.rejected & pd.isna(ext))
    if len(derive):
        desc = (description.to_numpy(dtype=object, na_value="") if description is not None
                else np.full(rows.n, "", dtype=object))
        stamps = reported.iloc[derive].dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy()
        ext[derive] = [
            "imp-" + hashlib.sha1(f"{t}|{x:.6f}|{y:.6f}|{c}|{d}".encode()).hexdigest()[:32]
            for t, x, y, c, d in zip(stamps, lon[derive], lat[derive], category[derive],
                                     desc[derive], strict=True)
        ]
    rows.duplicates("external_id", pd.Series(ext), among=~rows.rejected,
                    what="duplicate" if external is not None else "duplicate_derived")
    keep = ~rows.rejected
    grid_code = (grid_index.assign(lon[keep], lat[keep]) if grid_index is not None
                 else np.full(int(keep.sum()), None, dtype=object))
    outside = np.zeros(rows.n, dtype=bool)
    outside[np.flatnonzero(keep)[pd.isna(grid_code)]] = True
    where = ("geometry" if cols.geometry is not None
             else "lon/lat" if cols.has("lon") else "wkt")
    rows.flag(outside, where, lambda i: [f"{lon[j]:.6f}, {lat[j]:.6f}" for j in i],
              Reason("outside_grid"), severity="warning")
    out = pd.DataFrame({
        "external_id": ext[keep],
        "grid_code": grid_code,
        "outside_grid": outside[keep],
        "lon": lon[keep],
        "lat": lat[keep],
        "source_crs": crs_label(crs),
        "source": source[keep],
        "category": category[keep],
        "severity": severity[keep],
        "route": route[keep],
        "status": status[keep],
        "reported_at": reported[keep].to_numpy(),
        "due_at": due[keep].to_numpy(),
        "resolved_at": resolved[keep].to_numpy(),
        "closed_at": closed[keep].to_numpy(),
        "satisfaction": satisfaction[keep],
        "address": _objects(address, keep),
        "description": _objects(description, keep),
        "reporter_name": _objects(reporter_name, keep),
        "reporter_phone": _objects(reporter_phone, keep),
        "note": _objects(note, keep),
        "changed_at": changed_times(updated, resolved, closed)[keep].to_numpy(),
        "status_given": status_given[keep],
    }, index=pd.Index(rows.numbers[keep], name="row"))
    return out


def validate_stations(frame: pd.DataFrame, *, crs: str | None = None
                      ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check police station rows and return the valid ones for :func:`geo.store.write_stations`.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`: code, name, kind (派出所/警务站/警务室 or their codes), a
        point; optional officers, radius_m, address.
    crs : str, optional
        The coordinates' CRS; see :func:`resolve_crs`.

    Returns
    -------
    stations : DataFrame
        Store columns, indexed by row number; optional columns the file lacks are left out.
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing.

    """
    problems: list[Problem] = []
    crs = resolve_crs(frame, crs)
    cols = canonical(frame, "stations", problems)
    rows = Rows(cols, problems)
    table = store_schema.station
    lon, lat = wgs84_points(rows, crs)
    code = rows.max_length("code", rows.code("code"), max_len(table, "code"))
    assert code is not None  # a required column: canonical() checked
    present = rows.required("code", code)
    rows.duplicates("code", code, among=present)
    name = rows.max_length("name", rows.text("name"), max_len(table, "name"))
    rows.required("name", name)
    kind = rows.vocab_column("kind", vocab.STATION_KINDS, what="station kind", default=None,
                             required=True)
    officers = rows.number_column("officers", integer=True)
    radius = rows.number_column("radius_m", minimum=1.0)
    address = rows.max_length("address", rows.text("address"), max_len(table, "address"),
                              cut=True)
    keep = ~rows.rejected
    optional = {"officers": _int_objects(officers[keep]),
                "radius_m": _float_objects(radius[keep]), "address": _objects(address, keep)}
    out = pd.DataFrame({
        "code": _objects(code, keep),
        "name": _objects(name, keep),
        "kind": kind[keep],
        "lon": lon[keep],
        "lat": lat[keep],
        **{c: v for c, v in optional.items() if cols.has(c)},  # see validate_grids
        "source_crs": crs_label(crs),
    }, index=pd.Index(rows.numbers[keep], name="row"))
    return out, problems


def validate_activities(frame: pd.DataFrame, *, known_grids: set[str],
                        crs: str | None = None, grid_index: GridIndex | None = None
                        ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check volunteer activity rows; return the valid ones for :func:`geo.store.insert_activities`.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`: grid_code, date, title, volunteers, hours; optional points
        (default volunteers × hours) and external_id (derived when absent).
    known_grids : set of str
        Stored grid codes; an activity in another grid is rejected.
    crs : str, optional
        The CRS of a point, used only when the file has no grid_code column.
    grid_index : GridIndex, optional
        Finds the grid of each point when the file has no grid_code column.

    Returns
    -------
    activities : DataFrame
        Store columns (``date`` as datetime.date), indexed by row number.
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing.

    """
    problems: list[Problem] = []
    cols = canonical(frame, "activities", problems)
    rows = Rows(cols, problems)
    table = store_schema.volunteer_activity
    if cols.has("grid_code"):
        grid = rows.code("grid_code")
        assert grid is not None  # cols.has("grid_code")
        present = rows.required("grid_code", grid)
        grid_codes = object_values(grid)
        unknown = present & ~np.isin(grid_codes.astype(str), list(known_grids))
        rows.flag(unknown, "grid_code", grid, Reason("unknown_grid"))
    else:
        lon, lat = wgs84_points(rows, resolve_crs(frame, crs))
        grid_codes = np.full(rows.n, None, dtype=object)
        ok = ~rows.rejected
        if grid_index is not None:
            grid_codes[ok] = grid_index.assign(lon[ok], lat[ok])
        rows.flag(ok & pd.isna(grid_codes), "lon/lat",
                  lambda i: [f"{lon[j]:.6f}, {lat[j]:.6f}" for j in i],
                  Reason("outside_grid_activity"))
    day = rows.times("date", required=True, local=True)
    title = rows.max_length("title", rows.text("title"), max_len(table, "title"))
    assert title is not None  # a required column: canonical() checked
    rows.required("title", title)
    volunteers = rows.number_column("volunteers", integer=True, required=True)
    hours = rows.number_column("hours", required=True)
    points = rows.number_column("points")
    # The points rule (one point per volunteer-hour) is geo.volunteers', shared with tasks.
    points = np.where(np.isnan(points), points_for(volunteers * hours), points)
    external = rows.max_length("external_id", rows.text("external_id"),
                               max_len(table, "external_id"))
    ext = (object_values(external) if external is not None
           else np.full(rows.n, None, dtype=object))
    derive = np.flatnonzero(~rows.rejected & pd.isna(ext))
    if len(derive):
        titles = title.to_numpy(dtype=object, na_value="")
        days = day.iloc[derive].dt.strftime("%Y-%m-%d").to_numpy()
        ext[derive] = [
            "imp-" + hashlib.sha1(f"{g}|{d}|{t}|{v:g}|{h:g}".encode()).hexdigest()[:32]
            for g, d, t, v, h in zip(grid_codes[derive], days, titles[derive],
                                     volunteers[derive], hours[derive], strict=True)
        ]
    rows.duplicates("external_id", pd.Series(ext), among=~rows.rejected,
                    what="duplicate" if external is not None else "duplicate_activity")
    keep = ~rows.rejected
    out = pd.DataFrame({
        "external_id": ext[keep],
        "grid_code": grid_codes[keep],
        "date": day[keep].dt.date.to_numpy(dtype=object),
        "title": _objects(title, keep),
        "volunteers": _int_objects(volunteers[keep]),
        "hours": hours[keep],
        "points": points[keep],
    }, index=pd.Index(rows.numbers[keep], name="row"))
    return out, problems


def _grid_code_reason(code: object, community: object) -> Reason | None:
    """:func:`geo.grids.grid_code_problem` as a reason code."""
    why = grid_code_problem(code, community)
    if why is None:
        return None
    if why.startswith("grid code must be"):
        return Reason("grid_code_form")
    if why.startswith("grid sequence 000"):
        return Reason("grid_code_000")
    return Reason("grid_code_community", community=community)


#: Admin levels as files name them (besides the codes of :data:`geo.vocab.ADMIN_LEVELS`).
LEVEL_NAMES = {
    "市": "city", "地级市": "city", "州": "city", "地区": "city", "盟": "city",
    "县": "county", "区": "county", "县级市": "county", "旗": "county", "县（区）": "county",
    "县区": "county", "区县": "county",
    "乡": "township", "镇": "township", "街道": "township", "乡镇": "township",
    "乡镇（街道）": "township", "苏木": "township",
    "社区": "community", "村": "community", "居委会": "community", "村委会": "community",
    "社区（村）": "community", "嘎查": "community",
}
#: Digits of an admin unit's code (统计用区划代码, cut) by level.
UNIT_CODE_DIGITS = {"city": 6, "county": 6, "township": 9, "community": 12}


def _level(value: object) -> str | None:
    text = str(value).strip()
    if text.lower() in vocab.ADMIN_LEVELS:
        return text.lower()
    return LEVEL_NAMES.get(text.replace("(", "（").replace(")", "）"))


def validate_units(frame: pd.DataFrame, *, crs: str | None = None,
                   stored: pd.DataFrame | None = None
                   ) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Check admin unit rows; return the valid ones for :func:`geo.store.write_admin_units`.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`: code, name, level (city/county/township/community or 市,
        县/区, 乡镇/街道, 社区/村…); optional parent_code, population and an outline
        (a polygon geometry, or a ``wkt`` column).
    crs : str, optional
        The outlines' CRS; see :func:`resolve_crs`.
    stored : DataFrame, optional
        The stored units (code, level): a parent may be stored rather than in the file.

    Returns
    -------
    units : GeoDataFrame
        code, name, level, parent_code, and population and ``geom`` where the file has
        them (a re-import without outlines keeps the stored ones), indexed by row number.
    problems : list of Problem

    Notes
    -----
    A code is 6 (city, county), 9 (township) or 12 (community) digits; codes are unique in
    a file; a parent must be in the file or stored and of a higher level; only a city may
    lack a parent (a warning). A child of a refused row is refused too.

    """
    problems: list[Problem] = []
    crs = resolve_crs(frame, crs)
    cols = canonical(frame, "units", problems)
    rows = Rows(cols, problems)
    table = store_schema.admin_unit
    code = rows.code("code")
    assert code is not None  # a required column: canonical() checked
    present = rows.required("code", code)
    form = code.str.fullmatch(r"\d{6}|\d{9}|\d{12}").fillna(False).to_numpy(dtype=bool)
    rows.flag(present & ~form, "code", code, Reason("unit_code_form"))
    rows.duplicates("code", code, among=present & form)
    name = rows.max_length("name", rows.text("name"), max_len(table, "name"))
    rows.required("name", name)
    level_text = rows.text("level")
    assert level_text is not None  # a required column
    level = level_text.map(_level, na_action="ignore")
    given = level_text.notna().to_numpy()
    known = level.notna().to_numpy()
    allowed = "city (市), county (县/区), township (乡镇/街道), community (社区/村)"
    rows.flag(given & ~known, "level", level_text,
              Reason("vocab", what="admin level", allowed=allowed))
    rows.required("level", level_text)
    levels = object_values(level)
    codes = object_values(code)
    digits = np.array([UNIT_CODE_DIGITS.get(lv, 0) if lv else 0 for lv in levels])
    lengths = np.array([len(c) if c else 0 for c in codes])
    wrong = known & form & (digits != lengths)
    rows.flag(wrong, "code", code, [
        Reason("unit_level_code", level=LEVEL_WORDS[lv][0], level_en=LEVEL_WORDS[lv][1],
               digits=UNIT_CODE_DIGITS[lv]) if lv else None for lv in levels])
    population = rows.number_column("population", integer=True)
    parent = rows.code("parent_code")
    parents = (object_values(parent) if parent is not None
               else np.full(rows.n, None, dtype=object))
    geoms = wgs84_polygons(rows, crs, optional=True)
    rank = {lv: i for i, lv in enumerate(vocab.ADMIN_LEVELS)}
    stored_levels = ({} if stored is None or stored.empty
                     else dict(zip(stored["code"], stored["level"], strict=True)))
    has_parent = pd.notna(parents)
    top = np.array([lv == "city" for lv in levels])
    rows.flag(~rows.rejected & ~has_parent & ~top & known, "parent_code", None,
              Reason("unit_parent_missing"), severity="warning")
    # A parent refused in this file refuses its children: repeat until nothing changes
    # (at most once per level).
    for _ in vocab.ADMIN_LEVELS:
        levels_known = dict(stored_levels)
        levels_known.update({c: lv for c, lv, bad in zip(codes, levels, rows.rejected,
                                                            strict=True) if not bad})
        todo = ~rows.rejected & has_parent
        unknown = np.array([t and p not in levels_known for t, p in
                            zip(todo, parents, strict=True)], dtype=bool)
        rows.flag(unknown, "parent_code", parent, [Reason("unit_parent_unknown", parent=p)
                                                    for p in parents])
        order = np.array([
            bool(t and not u and rank.get(str(levels_known.get(p)), 9) >= rank.get(lv, -1))
            for t, u, p, lv in zip(todo, unknown, parents, levels, strict=True)])
        rows.flag(order, "parent_code", parent, [
            Reason("unit_parent_level", parent=p,
                   parent_level=LEVEL_WORDS.get(str(levels_known.get(p)), ("?", "?"))[0],
                   parent_level_en=LEVEL_WORDS.get(str(levels_known.get(p)), ("?", "?"))[1],
                   level=LEVEL_WORDS.get(lv, ("?", "?"))[0],
                   level_en=LEVEL_WORDS.get(lv, ("?", "?"))[1])
            for p, lv in zip(parents, levels, strict=True)])
        if not (unknown | order).any():
            break
    keep = ~rows.rejected
    out = pd.DataFrame({
        "code": codes[keep],
        "name": _objects(name, keep),
        "level": levels[keep],
        "parent_code": parents[keep],
        **({"population": _int_objects(population[keep])} if cols.has("population") else {}),
    }, index=pd.Index(rows.numbers[keep], name="row"))
    units = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms[keep], index=out.index,
                                                         crs=store_schema.SRID))
    units.attrs["outlines"] = cols.geometry is not None or cols.has("wkt")
    return units, problems


def _objects(s: pd.Series | None, keep: np.ndarray) -> np.ndarray:
    """Plain Python strings/None for the kept rows (what DB drivers want)."""
    if s is None:
        return np.full(int(keep.sum()), None, dtype=object)
    return object_values(s)[keep]


def _int_objects(values: np.ndarray) -> np.ndarray:
    return np.array([None if np.isnan(v) else int(v) for v in values], dtype=object)


def _float_objects(values: np.ndarray) -> np.ndarray:
    return np.array([None if np.isnan(v) else float(v) for v in values], dtype=object)

