"""The Yiyang demo city: real outlines and names, synthetic tiling, calibrated totals."""

import json
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import demo, vocab
from geo.grids import GridIndex
from geo.store import engine as store_engine

END = datetime(2026, 11, 24, 6, 0)


@pytest.fixture(scope="module")
def city():
    return demo.build_city(seed=2021, end=END)


@pytest.fixture(scope="module")
def outlines():
    return gpd.read_file(demo.DATA_DIR / "yiyang_counties.geojson").to_crs(demo.METRIC)


def test_real_names_and_codes(city):
    admin = city.admin_units
    towns = pd.read_csv(demo.DATA_DIR / "townships_4309.csv", dtype=str)
    comms = pd.read_csv(demo.DATA_DIR / "communities_4309.csv", dtype=str)
    assert admin.level.value_counts().to_dict() == {"community": 1446, "township": 98,
                                                    "county": 8, "city": 1}
    got = admin[admin.level == "community"].set_index("code").name.sort_index()
    want = comms.set_index("code").name.sort_index()
    assert got.equals(want)
    assert set(admin[admin.level == "township"].code) == set(towns.code)
    assert admin.set_index("code").loc["430971", "name"] == "益阳市大通湖管理区"


def test_about_6017_grids_with_well_formed_codes(city):
    g = city.grids
    assert len(g) == demo.TARGETS["grids"]
    assert g.code.is_unique
    assert g.code.str.fullmatch(r"\d{15}").all()
    assert (g.code.str[:12] == g.community_code).all()
    # Each community numbers its grids 001, 002, … with no gap.
    seq = g.code.str[12:].astype(int)
    per = seq.groupby(g.community_code).agg(["min", "max", "count"])
    assert (per["min"] == 1).all() and (per["max"] == per["count"]).all()


def test_grids_tile_the_real_city_without_gaps_or_overlaps(city, outlines):
    grids = city.grids.to_crs(demo.METRIC)
    total = grids.area.sum()
    union = grids.union_all()
    city_poly = outlines[outlines.gb == "156430900"].geometry.iloc[0]
    assert abs(total - union.area) < 1e-6 * total  # no overlaps
    assert abs(union.area - city_poly.area) < 1e-6 * city_poly.area  # no gaps
    assert union.difference(city_poly.buffer(1)).area < 1.0  # nothing outside, m²
    assert grids.is_valid.all()


def test_guest_districts_sit_inside_their_hosts(city, outlines):
    admin = city.admin_units.to_crs(demo.METRIC).set_index("code")
    real = outlines.assign(code=outlines.gb.str[3:]).set_index("code")
    datong = admin.loc["430971", "geom"]
    hosts = real.loc["430921", "geometry"].union(real.loc["430981", "geometry"])
    assert datong.difference(hosts.buffer(1)).area < 1.0
    assert 500e6 < datong.area < 1000e6
    gaoxin = admin.loc["430972", "geom"]
    assert gaoxin.difference(real.loc["430903", "geometry"].buffer(1)).area < 1.0
    # Hosts lose exactly what the guests take.
    assert admin.loc["430903", "geom"].intersection(gaoxin).area < 1.0


def test_grid_numbering_reads_west_to_east_north_to_south(city):
    g = city.grids.to_crs(demo.METRIC)
    for comm in g.groupby("community_code").size().nlargest(5).index:
        sub = g[g.community_code == comm].sort_values("code")
        c = sub.geometry.centroid
        row_h = np.sqrt(sub.area.sum() / len(sub))
        band = np.floor((c.y.max() - c.y) / row_h).to_numpy()
        # Rows never go back north, and within a row the sequence runs west to east.
        assert (np.diff(band) >= 0).all()
        same_row = np.diff(band) == 0
        assert (np.diff(c.x.to_numpy())[same_row] > 0).all()


def test_population_and_wechat_totals_match_the_published_figures(city):
    g = city.grids
    assert g.population.sum() == 3_850_000
    assert g.wechat_groups.sum() == 6017
    assert g.wechat_members.sum() == 1_285_854
    assert g.volunteers.sum() == 28_932


def test_urban_centres_are_denser(city):
    g = city.grids.assign(density=city.grids.population / city.grids.area_km2)
    geoms = g.geometry.to_crs(demo.METRIC).values
    core, anhua = gpd.GeoSeries.from_xy([112.355, 111.215], [28.565, 28.385], crs=4326
                                        ).to_crs(demo.METRIC)
    near = g[shapely.distance(geoms, core) < 3000].density.median()
    anhua_rural = g[g.code.str.startswith("430923") &
                    (shapely.distance(geoms, anhua) > 30000)].density.median()
    assert near > 20 * anhua_rural


def test_request_totals(city):
    r = city.requests
    assert len(r) == 80_787
    assert (r.category == "dispute").sum() == 926
    assert r[r.category == "dispute"].resolved_at.notna().all()  # all 926 resolved
    assert r.resolved_at.notna().sum() == 76_931
    rated = r.satisfaction.notna()
    satisfied = r.satisfaction.isin(vocab.SATISFIED)
    assert round(satisfied.sum() / rated.sum(), 4) == 0.9947
    assert set(r.category) <= set(vocab.CATEGORIES)
    assert r.external_id.is_unique
    assert r.reported_at.max() < pd.Timestamp(END)
    assert r.reported_at.min() >= pd.Timestamp(END) - pd.Timedelta(days=244)
    # Open requests are the ones without a resolution.
    open_ = ~r.status.isin(vocab.CLOSED_STATUSES)
    assert open_.sum() == 80_787 - 76_931


def test_daily_rhythm(city):
    local_hour = (city.requests.reported_at + pd.Timedelta(hours=8)).dt.hour
    share = local_hour.value_counts(normalize=True)
    assert share.loc[10] > 5 * share.loc[3]


def test_every_request_lies_in_its_grid(city):
    r = city.requests
    got = GridIndex(city.grids).assign(r.lon.to_numpy(), r.lat.to_numpy())
    assert (got == r.grid_code.to_numpy()).mean() > 0.999


def test_planted_dispute_clusters_hold_many_disputes(city):
    clusters = json.loads(city.settings["demo_clusters"])
    assert len(clusters) >= 3
    disputes = city.requests[city.requests.category == "dispute"]
    for cl in clusters:
        inside = disputes.grid_code.isin(cl["grids"]).sum()
        # Far above what population alone would put in a handful of grids.
        assert inside >= 0.08 * 926, cl["name"]


def test_stations_and_activities(city):
    kinds = city.stations.kind.value_counts().to_dict()
    assert kinds["station"] == 40 and kinds["workstation"] == 63
    assert city.stations.code.is_unique
    a = city.activities
    assert len(a) == 4876
    assert a.points.sum() == 61_567
    assert a.grid_code.isin(city.grids.code).all()


def test_same_seed_and_end_same_requests(city):
    again = demo.build_city(seed=2021, end=END)
    pd.testing.assert_frame_equal(city.requests, again.requests)
    later = demo.build_city(seed=2021, end=END + pd.Timedelta(days=1))
    assert not later.requests.reported_at.equals(city.requests.reported_at)


def test_same_seed_same_city():
    a_admin, a = demo.build_geography(seed=5)
    b_admin, b = demo.build_geography(seed=5)
    assert a.code.tolist() == b.code.tolist()
    assert all(shapely.equals_exact(x, y, 0) for x, y in zip(a.geometry, b.geometry,
                                                             strict=True))
    _, c = demo.build_geography(seed=6)
    assert not np.array_equal(a.population.to_numpy(), c.population.to_numpy())


def test_writes_every_table(engine, city):
    counts = demo.write_city(engine, city)
    assert counts["grid"] == 6017
    assert counts["request"] == 80_787
    assert counts["station"] == len(city.stations)
    assert counts["volunteer_activity"] == 4876
    # Each request has at least its "reported" event and resolved ones a "resolved" event.
    ev = store_engine.read_frame(
        engine, "select to_status, count(*) as n from request_event group by to_status")
    ev = dict(zip(ev.to_status, ev.n, strict=True))
    assert ev["reported"] == 80_787
    assert ev["resolved"] == 76_931
    assert store_engine.get_setting(engine, "demo") == "city"
