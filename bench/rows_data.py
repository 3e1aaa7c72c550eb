"""Rows measured in process: map payload, the polygon rule, assignment, counts, Gi*.

Each function takes a :class:`bench.context.Ctx` and returns a list of
:class:`bench.report.Row`; the naive baseline is timed in the same call on the same data.
"""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.analytics_heat import naive_counts
from bench.context import Ctx
from bench.report import Row
from bench.timing import median_time, median_wall_cpu
from geo import assets, heat, maps
from geo import hotspots as hs
from geo.grids import GridIndex
from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import requests as store_requests


def _target(ctx: Ctx, city: str, province: str) -> str:
    return province if ctx.scale == "province" else city


def _gridmap_payload(grids: gpd.GeoDataFrame) -> int:
    """Bytes the browser gets for the map: the packed grid file, the page and GridMap's script."""
    body, file_id = maps.pack_grids(maps.simplified(grids))
    b = grids.total_bounds
    fmap = maps.offline_map(bounds=tuple(b), fit=False)
    maps.GridCanvas(url=f"/app/static/cache/grids-{file_id}.json", file_id=file_id
                    ).add_to(fmap)
    codes = pd.Index(grids.code)
    style = maps.grid_style(codes, file_id=file_id, classes=pd.Series(0, index=codes),
                            colours=list(maps.HEAT_COLOURS), label="bench")
    style.add_to(fmap)
    # The canvas script is a file of its own since issue 12; it was part of the page before.
    script = assets.GRIDCANVAS_FILE.stat().st_size
    return len(body) + len(fmap.get_root().render().encode()) + script


def _explore_payload(grids: gpd.GeoDataFrame) -> int:
    return len(grids.explore().get_root().render().encode())


def payload(ctx: Ctx) -> list[Row]:
    """Map payload bytes and build time: packed grids vs ``GeoDataFrame.explore()``."""
    grids = ctx.grids
    runs = ctx.runs
    t_ours, ours = median_time(lambda: _gridmap_payload(grids), runs)
    # explore() of 60,000 grids takes minutes: one run there.
    naive_runs = 1 if len(grids) > 20_000 else runs
    t_naive, theirs = median_time(lambda: _explore_payload(grids), naive_runs)
    note = "explore: 1 run" if naive_runs == 1 and runs > 1 else ""
    return [
        Row("payload", "map payload to the browser, all grids (packed file + map HTML)",
            ctx.label, "–", ours, "bytes", theirs, "explore() HTML", target=_target(
                ctx, "≤ 1 MB, ≥ 5× smaller than explore()", ""),
            limit=1e6 if ctx.scale != "province" else None,
            min_ratio=5 if ctx.scale != "province" else None,
            # A province's maps never send every grid at once (the polygons rows): this
            # row compares the encodings only.
            note=", ".join(x for x in (note, "encoding only; the app sends fewer polygons"
                                       if ctx.scale == "province" else "") if x)),
        Row("payload", "map build time (simplify + pack + render)", ctx.label, "–", t_ours,
            "s", t_naive, "explore() + render", note=note),
    ]


def polygons(ctx: Ctx) -> list[Row]:
    """DESIGN §9 province rule: at most 10,000 polygons at once (:func:`geo.maps.map_level`).

    The same choice the app's maps make (``ui.data.map_view``): every grid when they fit,
    else admin units until an area small enough for its grids is in view.
    """
    grids = ctx.grids
    units = store_requests.read_admin_units(ctx.engine)
    membership = heat.unit_hierarchy(ctx.engine).grids
    picks = [("whole area, unfiltered", None)]
    if (units.level == "county").any():
        # The county with the most grids: the worst case of a filtered view.
        county = membership["county"].value_counts().index[0]
        township = membership.loc[membership["county"] == county, "township"].iloc[0]
        picks += [("filtered to the largest county", county),
                  ("filtered to one of its townships", township)]
    simple = maps.simplified(grids[["code", "name", "geometry"]])
    rows = []
    for label, area in picks:
        choice = maps.map_level(membership, area=area)
        frame = maps.map_shapes(choice, grids=simple, units=units, membership=membership)
        kb = len(maps.pack_grids(frame)[0]) / 1e3
        sent = f"{choice.level} level" + (f" of {choice.area}" if choice.area else "")
        rows.append(Row("polygons", f"polygons sent at once, {label} → {sent} "
                        f"({kb:,.0f} KB packed)", ctx.label, "–",
                        len(frame), "polygons", float(len(grids)), "every grid",
                        target="≤ 10,000 at once", limit=maps.MAX_POLYGONS))
    return rows


def assign(ctx: Ctx) -> list[Row]:
    """Point → grid: GridIndex (STRtree) vs ``geopandas.sjoin`` vs a per-point loop."""
    grids = ctx.grids
    n = 50_000 if ctx.quick else 500_000
    rng = np.random.default_rng(2)
    b = grids.total_bounds
    lon, lat = rng.uniform(b[0], b[2], n), rng.uniform(b[1], b[3], n)
    index = GridIndex(grids)
    t_ours, c_ours, codes = median_wall_cpu(lambda: index.assign(lon, lat), ctx.runs)
    right = grids[["code", "geometry"]]

    def sjoin():
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
        return gpd.sjoin(pts, right, predicate="within")

    t_sjoin, joined = median_time(sjoin, ctx.runs)
    # Same answer, up to points on a shared edge (sjoin gives them two rows).
    assert int(pd.notna(codes).sum()) == joined.index.nunique()
    # The loop scans every grid per point: on a sample, rate extrapolated.
    m = 30 if ctx.quick else (100 if len(grids) > 20_000 else 300)
    polys = list(zip(grids.code, grids.geometry, strict=True))

    def loop():
        for x, y in zip(lon[:m], lat[:m], strict=True):
            p = shapely.Point(x, y)
            next((c for c, poly in polys if poly.contains(p)), None)

    t_loop, _ = median_time(loop, ctx.runs)
    ours = n / t_ours
    target = "≥ 500,000 points/s, one core"
    return [
        Row("assign", f"point → grid assignment, {n:,} points (GridIndex.assign)", ctx.label,
            "–", ours, "points/s", n / t_sjoin, "geopandas.sjoin", target=target,
            limit=500_000, higher=True, note=f"{n / c_ours:,.0f} points per CPU second"),
        Row("assign", "point → grid assignment vs per-point Python loop", ctx.label, "–",
            ours, "points/s", m / t_loop, f"loop over grids ({m} points, extrapolated)",
            higher=True),
    ]


def _window(ctx: Ctx) -> tuple:
    last = store_engine.read_frame(ctx.engine, "SELECT max(reported_at) AS m FROM request")["m"][0]
    until = pd.Timestamp(last).ceil("h").to_pydatetime()
    return until - timedelta(days=30), until


def counts(ctx: Ctx) -> list[Row]:
    """Counts per grid over 30 days: SQL GROUP BYs vs every request into pandas.

    Two reads: the heat map's requests per grid (``store_counts.requests_per_grid``, from the
    ``(reported_at, grid_code)`` index), and all twelve state counts per grid
    (``store_counts.request_counts_per_grid``, which must read each row; bulletin and export).
    """
    since, until = _window(ctx)
    eng = ctx.engine
    t_heat, c_heat, heat_counts = median_wall_cpu(
        lambda: store_counts.requests_per_grid(eng, since=since, until=until), ctx.runs)
    t_ours, c_ours, ours = median_wall_cpu(
        lambda: store_counts.request_counts_per_grid(eng, since=since, until=until), ctx.runs)
    # 10 M requests into pandas take minutes and gigabytes: one run at province scale.
    naive_runs = 1 if ctx.scale == "province" else ctx.runs
    t_naive, theirs = median_time(lambda: naive_counts(eng, since=since, until=until),
                                  naive_runs)
    assert int(ours.requests.sum()) == int(theirs.requests.sum()) == int(heat_counts.sum())
    rows = []
    for what, t, cpu in (("requests per grid, the heat map's figure (requests_per_grid)",
                          t_heat, c_heat),
                         ("all 12 state counts per grid (request_counts_per_grid)",
                          t_ours, c_ours)):
        note = f"{int(ours.requests.sum()):,} requests in the window"
        if ctx.backend == "sqlite":  # SQLite runs in this process, so its CPU time is ours
            note += f"; CPU {cpu * 1000:,.0f} ms"
        if naive_runs == 1 and ctx.runs > 1:
            note += "; naive: 1 run"
        rows.append(Row("counts", f"counts per grid, 30-day window: {what}", ctx.label,
                        ctx.backend, t, "s", t_naive, "read_sql all + groupby",
                        target=_target(ctx, "≤ 0.2 s", "≤ 2 s"),
                        limit=2.0 if ctx.scale == "province" else 0.2, note=note))
    return rows


def hotspots(ctx: Ctx) -> list[Row]:
    """Gi* + FDR with 999 permutations on the last 30 days of disputes."""
    since, until = _window(ctx)
    per = store_counts.request_counts_per_grid(ctx.engine, since=since, until=until)
    disputes = per.set_index("grid_code")["disputes"]
    grids = ctx.grids
    t_w, w = median_time(lambda: hs.grid_weights(grids), ctx.runs)

    def perm():
        return hs.dispute_hotspots(grids, disputes, weights=w, p_value="permutation",
                                   permutations=999)

    perm()  # esda's first call in a process sets things up; a page pays it once
    t_perm, _ = median_time(perm, ctx.runs)
    t_exact, _ = median_time(lambda: hs.dispute_hotspots(grids, disputes, weights=w),
                             ctx.runs)
    limit = 10.0 if ctx.scale == "province" else 2.0
    target = _target(ctx, "≤ 2 s", "≤ 10 s")
    note = f"{int(disputes.sum()):,} disputes"
    return [
        Row("hotspots", "Gi* + FDR, 999 permutations, cached weights", ctx.label, "–",
            t_perm, "s", target=target, limit=limit, note=note),
        Row("hotspots", "Gi* + FDR, 999 permutations, weights built each time", ctx.label,
            "–", t_perm + t_w, "s", target=target, limit=limit),
        Row("hotspots", "Gi* + FDR, exact p-values (the page's default), cached weights",
            ctx.label, "–", t_exact, "s", target=target, limit=limit),
    ]
