"""Coverage benchmark: per-grid police coverage and new-site suggestions.

    python -m bench.analytics_coverage [--runs 5] [--no-province]

City: the Yiyang demo (seed 2021) built in memory, 6,017 grids, 183 police posts, 80,787
requests. Province: ``geo.province.build_province_grids()`` (60,000 grids of about 1 km²)
with 400 synthetic posts (40 派出所, 160 警务站, 200 警务室) at the representative points of
random grids. Nothing touches a database. Each figure is the median of ``--runs`` runs.

Baselines, measured in the same run on the same data and checked to give the same numbers:

* per-grid coverage: intersect every grid with the union of discs
  (``GeoSeries.intersection(union).area``) and find the nearest station with
  ``geopandas.sjoin_nearest``;
* suggest_sites: the same greedy on a dense candidate × demand matrix built from all
  pairwise distances, with every gain recomputed at each step (city only: the province's
  dense matrix would be 3.6 × 10⁹ cells).

Prints Markdown table rows for bench/RESULTS.md. DESIGN §9: a warm page rerun ≤ 0.3 s (city),
≤ 1.5 s (province).
"""

from __future__ import annotations

import argparse
import platform
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.timing import median_time
from geo import coords, coverage, demo, province

END = datetime(2026, 11, 24, 6)


def _metric(grids: gpd.GeoDataFrame) -> str:
    b = grids.total_bounds
    return coords.metric_crs((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def _naive_per_grid(stations: pd.DataFrame, grids: gpd.GeoDataFrame, crs: str) -> pd.DataFrame:
    pts = gpd.GeoDataFrame(stations[["code", "kind"]],
                           geometry=gpd.points_from_xy(stations.lon, stations.lat),
                           crs=4326).to_crs(crs)
    radius = stations["kind"].map(coverage.DEFAULT_RADII).to_numpy()
    union = pts.buffer(radius, quad_segs=coverage.QUAD_SEGS).union_all()
    gm = grids.to_crs(crs)
    share = gm.geometry.intersection(union).area / gm.geometry.area
    rep = gpd.GeoDataFrame(geometry=grids.geometry.representative_point(), crs=4326).to_crs(crs)
    near = gpd.sjoin_nearest(rep, pts, distance_col="d")
    near = near[~near.index.duplicated()]
    return pd.DataFrame({"share": share.to_numpy(), "d": near["d"].to_numpy()})


def _naive_suggest(grids: gpd.GeoDataFrame, per_grid: pd.DataFrame, n: int, radius: float,
                   crs: str) -> list[str]:
    rep = grids.geometry.representative_point().to_crs(crs)
    xy = np.column_stack([rep.x, rep.y])
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    reach = (d2 <= radius * radius).astype(float)
    left = np.array(per_grid["uncovered_population"].fillna(0).clip(lower=0), dtype=float)
    picks = []
    for _ in range(n):
        gains = reach @ left
        j = int(np.argmax(gains))
        picks.append(grids["code"].iloc[j])
        left[reach[j] > 0] = 0.0
    return picks


def _province_stations(grids: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    kinds = ["station"] * 40 + ["workstation"] * 160 + ["room"] * 200
    at = rng.choice(len(grids), size=len(kinds), replace=False)
    p = shapely.point_on_surface(grids.geometry.array[at])
    return pd.DataFrame({"code": [f"P{i:03d}" for i in range(len(kinds))],
                         "name": [f"站{i}" for i in range(len(kinds))], "kind": kinds,
                         "lon": shapely.get_x(p), "lat": shapely.get_y(p)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-province", action="store_true")
    args = parser.parse_args()
    runs = args.runs
    rows: list[tuple[str, str, str, str]] = []

    city = demo.build_city(seed=2021, end=END)
    grids, stations = city.grids, city.stations
    requests = city.requests[["lon", "lat", "grid_code"]]
    crs = _metric(grids)
    label = f"{len(grids):,} grids, {len(stations)} posts"

    t, per = median_time(lambda: coverage.station_coverage(stations, grids), runs)
    tn, naive = median_time(lambda: _naive_per_grid(stations, grids, crs), runs)
    assert np.allclose(per["covered_share"], naive["share"], atol=1e-7)
    assert np.allclose(per["nearest_station_m"], naive["d"], atol=1e-6)
    rows.append((f"city per-grid coverage ({label}): share, population, nearest",
                 f"{t:.3f} s", f"intersect all + sjoin_nearest {tn:.3f} s", f"{tn / t:.1f}×"))

    t, per_r = median_time(lambda: coverage.station_coverage(stations, grids, requests=requests),
                       runs)
    rows.append((f"… with {len(requests):,} requests covered per grid", f"{t:.3f} s", "", ""))

    t, sites = median_time(lambda: coverage.suggest_sites(grids, stations, 10), runs)
    tn, picks = median_time(lambda: _naive_suggest(grids, per, 10, 1000.0, crs), runs)
    assert sites["candidate"].tolist() == picks, (sites["candidate"].tolist(), picks)
    rows.append((f"city suggest_sites(n=10, population, {len(grids):,} candidates, 1 km)",
                 f"{t:.3f} s", f"dense matrix greedy {tn:.3f} s", f"{tn / t:.1f}×"))
    t, _ = median_time(lambda: coverage.suggest_sites(grids, stations, 10, weight="requests",
                                                  requests=requests), runs)
    rows.append(("city suggest_sites(n=10, requests)", f"{t:.3f} s", "", ""))

    if not args.no_province:
        _, pgrids = province.build_province_grids()
        pstations = _province_stations(pgrids, np.random.default_rng(1))
        pcrs = _metric(pgrids)
        label = f"{len(pgrids):,} grids, {len(pstations)} posts"
        t, per = median_time(lambda: coverage.station_coverage(pstations, pgrids), runs)
        tn, naive = median_time(lambda: _naive_per_grid(pstations, pgrids, pcrs), runs)
        assert np.allclose(per["covered_share"], naive["share"], atol=1e-7)
        assert np.allclose(per["nearest_station_m"], naive["d"], atol=1e-6)
        rows.append((f"province per-grid coverage ({label})", f"{t:.3f} s",
                     f"intersect all + sjoin_nearest {tn:.3f} s", f"{tn / t:.1f}×"))
        t, _ = median_time(lambda: coverage.suggest_sites(pgrids, pstations, 10), runs)
        rows.append((f"province suggest_sites(n=10, {len(pgrids):,} candidates, 1 km)",
                     f"{t:.3f} s", "", ""))

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; median of {runs} runs\n")
    print("| what | GridMap | naive baseline (same run, same data) | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
