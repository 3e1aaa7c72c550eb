"""One grid in detail (geo/detail.py) and its reads (geo/store.py), on literal data.

Geometry is drawn in metres in UTM 49N (EPSG:32649) near Yiyang and converted to EPSG:4326,
so distances and shares are worked out by hand. The KPI and store tests run on SQLite and
PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose

from geo import detail, heat
from geo.deadlines import DeadlinePolicy
from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import live as store_live
from geo.store import requests as store_requests
from geo.store.area import AreaFilter

UTM = "EPSG:32649"
X0, Y0 = 630_000.0, 3_150_000.0  # about 112.35°E, 28.46°N
DISC = 0.002  # a 64-gon disc is 0.16 % short of πr²


def lonlat(x, y):
    p = gpd.GeoSeries(gpd.points_from_xy(np.atleast_1d(x) + X0, np.atleast_1d(y) + Y0),
                      crs=UTM).to_crs(4326)
    return p.x.to_numpy(), p.y.to_numpy()


def square(x, y, size=1000.0):
    """A square grid in EPSG:4326 with its south-west corner (x, y) metres from the origin."""
    box = shapely.box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size)
    return gpd.GeoSeries([box], crs=UTM).to_crs(4326).iloc[0]


def stations_at(rows):
    """Stations from (x, y, kind[, radius_m]) in metres from the origin."""
    rows = [r if len(r) == 4 else (*r, np.nan) for r in rows]
    x, y, kind, radius = zip(*rows, strict=True)
    lon, lat = lonlat(list(x), list(y))
    return pd.DataFrame({"code": [f"S{i}" for i in range(len(rows))],
                         "name": [f"站{i}" for i in range(len(rows))], "kind": list(kind),
                         "lon": lon, "lat": lat, "radius_m": np.asarray(radius, dtype=float)})


# --------------------------------------------------------------------------- neighbours


@pytest.fixture
def block():
    """A 3 × 3 block of 1 km squares, codes ...001 (north-west) to ...009, and one far away."""
    cells, codes = [], []
    for row in range(3):
        for col in range(3):
            cells.append(square(col * 1000.0, (2 - row) * 1000.0))
            codes.append(f"430903003001{row * 3 + col + 1:03d}")
    cells.append(square(10_000.0, 0.0))
    codes.append("430903003001010")
    return gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=4326)


def test_centre_grid_has_eight_neighbours_edges_and_corners(block):
    got = detail.grid_neighbours(block, "430903003001005")
    assert list(got) == [f"430903003001{i:03d}" for i in (1, 2, 3, 4, 6, 7, 8, 9)]


def test_corner_grid_has_three_and_a_detached_grid_none(block):
    assert list(detail.grid_neighbours(block, "430903003001001")) == [
        "430903003001002", "430903003001004", "430903003001005"]
    assert list(detail.grid_neighbours(block, "430903003001010")) == []
    assert list(detail.grid_neighbours(block, "999999999999999")) == []


def test_a_hair_thin_gap_still_touches(block):
    moved = block.copy()
    # Grid 006 shifted 0.5 m east: a rounding gap, still a neighbour of 005.
    moved.loc[5, "geometry"] = square(2000.5, 1000.0)
    assert "430903003001006" in detail.grid_neighbours(moved, "430903003001005")
    moved.loc[5, "geometry"] = square(2010.0, 1000.0)  # 10 m away: not a neighbour
    assert "430903003001006" not in detail.grid_neighbours(moved, "430903003001005")


# --------------------------------------------------------------------------- stations


def test_nearest_stations_distances_reach_and_share_by_hand():
    grid = square(0, 0)  # 1 km square; its representative point is its centre (500, 500)
    st = stations_at([
        (500, 500, "room"),             # S0 at the centre: 0 m; a 500 m disc inside the grid
        (1500, 500, "workstation", 700.0),  # S1 1,000 m east; edge 500 m away; 700 m
        (500, 5500, "station"),         # S2 5,000 m north; edge 4,500 m; 3 km: no reach
        (500, -1300, "workstation", 200.0),  # S3 1,800 m south; own radius 200 m: no reach
        (9500, 500, "room"),            # S4 far east
    ])
    got = detail.nearest_stations(grid, st, k=2)
    # The two nearest, plus the nearest station of the one kind not yet listed (S2).
    assert list(got["code"]) == ["S0", "S1", "S2"]
    assert_allclose(got["distance_m"], [0, 1000, 5000], atol=0.5)
    assert_allclose(got["gap_m"], [0, 500, 4500], atol=0.5)
    assert_allclose(got["radius_m"], [500, 700, 3000])
    assert list(got["reaches"]) == [True, True, False]
    # S0: the inscribed disc, π/4 of the square; S2: nothing.
    assert_allclose(got["share"].iloc[0], math.pi / 4, rtol=DISC)
    assert got["share"].iloc[2] == 0
    # S1: the circular segment of its 700 m disc west of the square's east edge (the chord
    # 500 m from the disc's centre, 490 m either side of it: wholly inside the square).
    d, r = 500.0, 700.0
    segment = r * r * math.acos(d / r) - d * math.sqrt(r * r - d * d)
    # The 64-gon's shortfall falls on the arc, a quarter of the circle: about 0.5 % here.
    assert_allclose(got["share"].iloc[1], segment / 1e6, rtol=0.01)
    assert list(got["name"]) == ["站0", "站1", "站2"]


def test_nearest_without_per_kind_and_override_radius():
    grid = square(0, 0)
    st = stations_at([(500, 500, "room"), (1500, 500, "workstation"),
                      (500, 5500, "station")])
    got = detail.nearest_stations(grid, st, k=1, per_kind=False, radius_m=800.0)
    assert list(got["code"]) == ["S0"]
    assert_allclose(got["radius_m"], [800])


def test_no_stations_give_an_empty_table_and_no_coverage():
    grid = square(0, 0)
    empty = stations_at([(0, 0, "room")]).iloc[:0]
    assert detail.nearest_stations(grid, empty).empty
    assert detail.covered_share(grid, empty) == 0.0


def test_covered_share_of_the_union_of_discs():
    grid = square(0, 0)
    assert_allclose(detail.covered_share(grid, stations_at([(500, 500, "station")])), 1.0)
    assert_allclose(detail.covered_share(grid, stations_at([(500, 500, "room")])),
                    math.pi / 4, rtol=DISC)
    # Two overlapping rooms count their overlap once: west and east halves of the square.
    two = stations_at([(0, 500, "room"), (1000, 500, "room")])
    assert_allclose(detail.covered_share(grid, two), 2 * (math.pi * 500 ** 2 / 2) / 1e6,
                    rtol=DISC)
    assert detail.covered_share(grid, stations_at([(5000, 5000, "station")])) == 0.0


# --------------------------------------------------------------------------- requests

NOW = datetime(2026, 11, 10, 12, 0)


def rows(*specs):
    """Requests from (id, reported, due, resolved, status, severity, x, y) specs."""
    out = []
    for rid, reported, due, resolved, status, severity, x, y in specs:
        lon, lat = lonlat(x, y)
        out.append(dict(id=rid, reported_at=reported, due_at=due, resolved_at=resolved,
                        status=status, severity=severity, lon=lon[0], lat=lat[0],
                        category="road"))
    frame = pd.DataFrame(out)
    for col in ("reported_at", "due_at", "resolved_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def test_request_state_as_of_now():
    r = rows(
        (1, NOW - timedelta(days=3), NOW - timedelta(days=1), NOW - timedelta(days=2),
         "rated", "routine", 0, 0),                       # resolved in time: closed
        (2, NOW - timedelta(days=3), NOW - timedelta(days=1), NOW + timedelta(hours=1),
         "resolved", "routine", 0, 0),                    # resolved after now: overdue now
        (3, NOW - timedelta(days=3), NOW + timedelta(days=1), None,
         "dispatched", "routine", 0, 0),                  # open, within its deadline
        (4, NOW - timedelta(days=3), None, None, "resolved", "routine", 0, 0),  # no time
        (5, NOW - timedelta(days=3), None, None, "reported", "routine", 0, 0),  # no deadline
    )
    assert list(detail.request_state(r, now=NOW)) == [
        "closed", "overdue", "open", "closed", "open"]


def test_open_requests_worklist_order_age_and_time_left():
    r = rows(
        (1, NOW - timedelta(days=1), NOW + timedelta(hours=30), None, "accepted", "routine",
         0, 0),
        (2, NOW - timedelta(days=9), NOW - timedelta(days=2), None, "dispatched", "routine",
         0, 0),
        (3, NOW - timedelta(hours=5), NOW + timedelta(hours=19), None, "reported", "urgent",
         0, 0),
        (4, NOW - timedelta(days=4), NOW - timedelta(hours=6), None, "in_progress",
         "pressing", 0, 0),
        (5, NOW - timedelta(days=2), None, None, "reported", "routine", 0, 0),
        (6, NOW - timedelta(days=2), NOW - timedelta(days=1), NOW - timedelta(days=1, hours=2),
         "rated", "routine", 0, 0),  # closed: left out
    )
    got = detail.open_requests(r, now=NOW)
    # Overdue first (most overdue first), then the nearest deadline, no deadline last.
    assert list(got["id"]) == [2, 4, 3, 1, 5]
    assert list(got["state"]) == ["overdue", "overdue", "open", "open", "open"]
    assert_allclose(got["age_h"], [216, 96, 5, 24, 48])
    assert_allclose(got["left_h"].iloc[:4], [-48, -6, 19, 30])
    assert np.isnan(got["left_h"].iloc[4])
    # Escalation levels by the clock: both overdue (neither past twice its span yet).
    assert list(got["level"]) == [2, 2, 0, 0, 0]
    # An earlier "due soon" (20 % of the span): 3 is 5 h into 24 h, 1 is 24 h into 54 h.
    eager = detail.open_requests(r, now=NOW, policy=DeadlinePolicy(due_soon=0.2))
    assert list(eager["level"]) == [2, 2, 1, 1, 0]


def test_request_spots_group_coinciding_points_and_cap_newest_first():
    r = rows(
        (1, NOW - timedelta(days=5), None, NOW - timedelta(days=4), "rated", "routine",
         100, 100),
        (2, NOW - timedelta(days=1), NOW - timedelta(hours=1), None, "reported", "urgent",
         103, 102),  # 3.6 m from 1: the same 10 m spot
        (3, NOW - timedelta(days=2), NOW + timedelta(days=1), None, "reported", "pressing",
         600, 600),
        (4, NOW - timedelta(days=30), None, NOW - timedelta(days=29), "rated", "pressing",
         900, 100),
    )
    spots = detail.request_spots(r, now=NOW, spot_m=10.0)
    assert len(spots) == 3
    pair = spots[spots["requests"] == 2].iloc[0]
    assert pair["ids"] == (2, 1)  # newest first
    assert pair["severity"] == "urgent" and pair["state"] == "overdue"  # the most pressing
    lon, lat = lonlat(101.5, 101.0)
    assert_allclose([pair["lon"], pair["lat"]], [lon[0], lat[0]], atol=1e-7)
    # Drawn least pressing first, so the overdue spot is on top.
    assert list(spots["state"]) == ["closed", "open", "overdue"]
    # Capped: only the newest three are placed; request 4 (the oldest) is left out.
    capped = detail.request_spots(r, now=NOW, limit=3)
    assert sorted(i for ids in capped["ids"] for i in ids) == [1, 2, 3]


def test_request_spots_of_nothing():
    empty = rows((1, NOW, None, None, "reported", "routine", 0, 0)).iloc[:0]
    assert detail.request_spots(empty, now=NOW).empty


def test_breakdown_in_vocabulary_order_with_zeros_unknown_and_unset():
    counts = pd.DataFrame({"value": ["market", None, "government", "barter"],
                           "requests": [4, 2, 7, 1]})
    got = detail.breakdown(counts, "route")
    assert list(got.index) == ["government", "market", "charity", "barter", detail.UNSET]
    assert list(got) == [7, 4, 0, 1, 2]
    sev = detail.breakdown(pd.DataFrame({"value": [], "requests": []}), "severity")
    assert list(sev.index) == ["routine", "pressing", "urgent"] and sev.sum() == 0


def test_trend_starts_on_the_local_monday_eleven_weeks_back():
    # Tuesday 24 Nov 2026, 23:00 in Shanghai: the current week began on Monday 23 Nov.
    assert detail.trend_since(datetime(2026, 11, 24, 15, 0)) == datetime(2026, 9, 6, 16, 0)
    # Sunday 22 Nov 17:00 UTC is already Monday 01:00 in Shanghai: the same week.
    assert detail.trend_since(datetime(2026, 11, 22, 17, 0)) == datetime(2026, 9, 6, 16, 0)
    # ... and 15:59 UTC is still Sunday there: the week before.
    assert detail.trend_since(datetime(2026, 11, 22, 15, 59)) == datetime(2026, 8, 30, 16, 0)
    assert detail.trend_since(datetime(2026, 11, 24, 15, 0), weeks=1) == datetime(
        2026, 11, 22, 16, 0)


def test_per_resident_figures_are_nan_without_residents():
    assert detail.per_1k(5, 2000) == 2.5
    assert math.isnan(detail.per_1k(5, 0)) and math.isnan(detail.per_1k(5, None))
    assert detail.share_of(300, 1200) == 0.25
    for whole in (0, None, float("nan")):
        assert math.isnan(detail.share_of(300, whole))
    assert math.isnan(detail.share_of(None, 1200))


def test_volunteer_totals():
    acts = pd.DataFrame({"volunteers": [5, 8], "hours": [2.5, 1.0], "points": [8.0, 5.0]})
    assert detail.volunteer_totals(acts) == {"activities": 2, "volunteer_hours": 20.5,
                                             "points": 13.0}
    assert detail.volunteer_totals(acts.iloc[:0])["activities"] == 0


# --------------------------------------------------------------------------- KPIs and reads

G, H = "430903003001001", "430903003001002"
T0 = datetime(2026, 11, 10, 12, 0)  # now; the window is [10-11 12:00, now)


def _req(ext, grid, reported, *, due=None, resolved=None, status=None, category="road",
         satisfaction=None, severity="routine", route="government"):
    return dict(external_id=ext, grid_code=grid, outside_grid=False, lon=112.305, lat=28.565,
                source_crs="wgs84", source="miniprogram", category=category,
                severity=severity, route=route,
                status=status or ("resolved" if resolved else "dispatched"),
                reported_at=reported, due_at=due, resolved_at=resolved, closed_at=None,
                satisfaction=satisfaction, description="测试", reporter_name="张三",
                reporter_phone="13800000000")


def d(days, hours=0):
    return T0 - timedelta(days=days, hours=hours)


REQUESTS = [
    # The last 30 days of G.
    _req("c1", G, d(2), due=d(1), resolved=d(1, 12), satisfaction="satisfied",
         status="rated"),                                             # on time, satisfied
    _req("c2", G, d(5), due=d(4), resolved=d(3), satisfaction="dissatisfied",
         status="rated", category="dispute", severity="urgent"),      # late, unhappy
    _req("c3", G, d(3), due=d(1), route=None, severity="pressing"),   # overdue
    _req("c4", G, d(1), due=d(-2), category="dispute"),               # open, not yet due
    # The 30 days before.
    _req("p1", G, d(40), due=d(39), resolved=d(39, 12)),              # on time
    _req("p2", G, d(45), due=d(44), resolved=d(20)),                  # open at d(30), late
    # Older still, open to this day.
    _req("o1", G, d(100), due=d(90), severity="pressing"),
    # Another grid: never counted for G.
    _req("h1", H, d(1), due=d(-1)),
]


@pytest.fixture
def city(engine):
    grids = gpd.GeoDataFrame(
        {"code": [G, H], "name": ["甲网格", "乙网格"], "community_code": [G[:12]] * 2,
         "population": [800, 0]},
        geometry=[shapely.MultiPolygon([square(0, 0)]), shapely.MultiPolygon([square(1000, 0)])],
        crs=4326)
    acts = pd.DataFrame({
        "external_id": ["a1", "a2", "a3", "a4"], "grid_code": [G, G, G, H],
        "date": [date(2026, 11, 9), date(2026, 10, 1), date(2026, 6, 1), date(2026, 11, 9)],
        "title": ["反诈宣传", "关爱老人", "旧活动", "别的网格"], "volunteers": [5, 8, 3, 9],
        "hours": [2.5, 1.0, 2.0, 1.0], "points": [8.0, 5.0, 4.0, 6.0]})
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, grids)
        store_requests.bulk_insert_requests(conn, pd.DataFrame(REQUESTS))
        store_requests.insert_activities(conn, acts)
    return engine


def test_grid_kpis_by_hand(city):
    k = detail.grid_kpis(city, G, now=T0, population=800)
    v, p = k["value"], k["previous"]
    assert list(k.index) == list(detail.KPI_NAMES)
    # Current window: c1–c4. Due: c1, c2 (resolved), c3 (past due). Resolved: c1, c2.
    assert v["requests"] == 4 and v["disputes"] == 2
    assert_allclose(v["requests_per_1k"], 5.0)
    assert_allclose(v["resolution_rate"], 2 / 3)
    assert_allclose(v["on_time_rate"], 1 / 3)
    assert_allclose(v["satisfaction_rate"], 1 / 2)
    # Backlog now: c3, c4, o1 open; c3 and o1 overdue; c4 an open dispute.
    assert (v["open"], v["overdue"], v["disputes_open"]) == (3, 2, 1)
    # Previous window, judged as of its end d(30): p1 resolved on time; p2 overdue, open.
    assert p["requests"] == 2
    assert_allclose([p["resolution_rate"], p["on_time_rate"]], [0.5, 0.5])
    assert np.isnan(p["satisfaction_rate"])  # nothing rated: no rating, not 0 % or 100 %
    # Backlog 30 days ago: p2 and o1, both overdue.
    assert (p["open"], p["overdue"]) == (2, 2)
    assert k.at["requests", "change"] == 2
    assert_allclose(k.at["resolution_rate", "change"], 2 / 3 - 0.5)
    assert np.isnan(k.at["satisfaction_rate", "change"])


def test_grid_kpis_without_residents_or_requests(city):
    k = detail.grid_kpis(city, H, now=T0, population=0)
    assert k.at["requests", "value"] == 1
    assert np.isnan(k.at["requests_per_1k", "value"])
    empty = detail.grid_kpis(city, "430903003001099", now=T0)
    assert (empty["value"].fillna(0) == 0).all()
    assert empty.loc[["resolution_rate", "on_time_rate", "satisfaction_rate"],
                     "value"].isna().all()


def test_grid_requests_recent_plus_open_newest_first_no_personal_data(city):
    got = store_live.grid_requests(city, grid_code=G, since=d(30), until=T0)
    assert list(got["external_id"]) == ["c4", "c1", "c3", "c2", "o1"]
    assert "reporter_name" not in got and "reporter_phone" not in got
    only = store_live.grid_requests(city, grid_code=G, since=d(30), until=T0, include_open=False)
    assert list(only["external_id"]) == ["c4", "c1", "c3", "c2"]
    capped = store_live.grid_requests(city, grid_code=G, since=None, until=T0, limit=2)
    assert list(capped["external_id"]) == ["c4", "c1"]


def test_request_counts_by_column(city):
    got = store_counts.request_counts_by(city, column="route", since=d(30), until=T0,
                                         area=AreaFilter(grid_code=G))
    values = ["unset" if pd.isna(v) else v for v in got["value"]]
    assert dict(zip(values, got["requests"], strict=True)) == {"government": 3, "unset": 1}
    assert got["requests"].dtype == "int64"
    sev = detail.breakdown(store_counts.request_counts_by(
        city, column="severity", since=d(30), until=T0, area=AreaFilter(grid_code=G)), "severity")
    assert sev.to_dict() == {"routine": 2, "pressing": 1, "urgent": 1}
    none = store_counts.request_counts_by(city, column="category", since=d(30), until=T0,
                                          area=AreaFilter(grid_code="430903003001099"))
    assert none.empty
    with pytest.raises(ValueError):
        store_counts.request_counts_by(city, column="description", since=None, until=T0)


def test_read_volunteer_activities_of_one_grid(city):
    got = store_live.read_volunteer_activities(city, grid_code=G, since=date(2026, 8, 13),
                                               until=date(2026, 11, 11))
    assert list(got["title"]) == ["反诈宣传", "关爱老人"]  # newest first; June is too old
    assert detail.volunteer_totals(got) == {"activities": 2, "volunteer_hours": 20.5,
                                            "points": 13.0}
    assert len(store_live.read_volunteer_activities(city, grid_code=G)) == 3
    assert store_live.read_volunteer_activities(city, grid_code="430903003001099").empty


def test_weekly_requests_match_the_heat_series(city):
    got = detail.weekly_requests(city, G, now=T0, weeks=12)
    want = heat.request_series(city, area=G, since=detail.trend_since(T0, weeks=12), until=T0,
                               freq="W")
    pd.testing.assert_frame_equal(got, want)
    assert len(got) == 12 and got["requests"].sum() == 6  # c1–c4, p1, p2 (o1 is too old)
    assert got["disputes"].sum() == 2
    assert got["period"].dt.day_of_week.eq(0).all()
