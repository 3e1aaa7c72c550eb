"""Heat and KPIs on four literal grids and a dozen literal requests, on both backends.

The city (codes follow 统计用区划代码):

    430900 益阳市
      430903 赫山区
        430903003 T1
          430903003001 C1: grid A (800 residents), grid B (650)
          430903003002 C2: grid C (720)
        430903004 T2
          430903004001 C3: grid D (0 residents)

Window W = [2026-11-01, 2026-11-08) UTC; the previous window is [2026-10-25, 2026-11-01).
Each request below says what it counts as in its window; the expected tables are worked
out by hand from these lines.
"""

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from tiny_city import C1, C2, C3, CITY, COUNTY, T1, T2, A, B, C, D, admin_units

from geo import clock, heat
from geo.store import engine as store_engine
from geo.store import requests as store_requests

SINCE, UNTIL = datetime(2026, 11, 1), datetime(2026, 11, 8)


def t(day, hour=0, month=11):
    return datetime(2026, month, day, hour)


def req(ext, grid, reported, *, category="road", due=None, resolved=None, status=None,
        satisfaction=None, closed=None):
    return dict(
        external_id=ext, grid_code=grid, outside_grid=grid is None, lon=112.305, lat=28.565,
        source_crs="wgs84", source="miniprogram", category=category, severity="routine",
        route="government",
        status=status or ("resolved" if resolved else "in_progress"),
        reported_at=reported, due_at=due, resolved_at=resolved, closed_at=closed,
        satisfaction=satisfaction, description="测试")


REQUESTS = [
    # current window
    req("r1", A, t(1, 2), due=t(8, 2)),  # open, not yet due at 11-08 00:00
    req("r2", A, t(2), due=t(3), resolved=t(2, 12), status="rated",
        satisfaction="satisfied", closed=t(2, 20)),  # due, resolved on time, satisfied
    req("r3", A, t(3), category="dispute", due=t(4), resolved=t(5), status="rated",
        satisfaction="dissatisfied", closed=t(5, 12)),  # dispute resolved late, unhappy
    req("r4", B, t(4), category="dispute", due=t(5)),  # open dispute, overdue
    req("r5", B, t(6), category="sanitation", due=t(13), resolved=t(7)),  # early: due, on time
    req("r6", C, t(7, 23), due=t(14), resolved=t(8, 1)),  # resolved after until: open
    req("r7", D, t(5), category="noise", due=t(6), status="resolved"),  # closed, no time
    req("r8", None, t(3), due=t(4), status="reported"),  # outside every grid, overdue
    req("r9", A, t(8)),  # reported at until: next window
    # previous window
    req("p1", A, t(26, month=10), due=t(27, month=10), resolved=t(26, 12, month=10),
        status="rated", satisfaction="basically_satisfied", closed=t(27, month=10)),
    req("p2", B, t(31, 20, month=10), due=t(7), resolved=t(1, 3)),  # open as of 11-01 00:00
]


@pytest.fixture
def city(engine, four_grids):
    grids = four_grids.copy()
    grids["code"] = [A, B, C, D]
    grids["community_code"] = [C1, C1, C2, C3]
    grids["population"] = [800, 650, 720, 0]
    grids["wechat_members"] = [500, 520, 400, 10]
    units = admin_units()
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, units)
        store_requests.write_grids(conn, gpd.GeoDataFrame(grids, geometry="geometry"))
        assert store_requests.bulk_insert_requests(conn, pd.DataFrame(REQUESTS)) == len(REQUESTS)
    return engine


def row(table, code):
    return table.set_index("code").loc[code]


# --------------------------------------------------------------------------- per grid

GRID_COUNTS = {  # requests open overdue due resolved on_time rated satisfied disputes
    A: (3, 1, 0, 2, 2, 1, 2, 1, 1),
    B: (2, 1, 1, 2, 1, 1, 0, 0, 1),
    C: (1, 1, 0, 0, 0, 0, 0, 0, 0),
    D: (1, 0, 0, 1, 1, 0, 0, 0, 0),
}
NAMES = ("requests", "open", "overdue", "due", "resolved", "on_time", "rated", "satisfied",
         "disputes")


def test_counts_per_grid_by_hand(city):
    table = heat.grid_kpis(city, since=SINCE, until=UNTIL)
    assert list(table.code) == [A, B, C, D]
    got = {r.code: tuple(int(getattr(r, n)) for n in NAMES) for r in table.itertuples()}
    assert got == GRID_COUNTS
    b = row(table, B)
    assert (b.disputes_open, b.disputes_due, b.disputes_resolved) == (1, 1, 0)
    assert tuple(row(table, A)[["parent_code", "name"]]) == (C1, "测试社区第1网格")


def test_rates_per_grid_by_hand(city):
    table = heat.grid_kpis(city, since=SINCE, until=UNTIL).set_index("code")
    cols = ["requests_per_1k", "resolution_rate", "on_time_rate", "satisfaction_rate",
            "dispute_resolution_rate"]
    want = pd.DataFrame({
        "requests_per_1k": [3 / 800 * 1000, 2 / 650 * 1000, 1 / 720 * 1000, np.nan],
        "resolution_rate": [2 / 2, 1 / 2, np.nan, 1.0],
        "on_time_rate": [1 / 2, 1 / 2, np.nan, 0.0],
        "satisfaction_rate": [1 / 2, np.nan, np.nan, np.nan],  # B, C, D: no rating
        "dispute_resolution_rate": [1.0, 0.0, np.nan, np.nan],
    }, index=pd.Index([A, B, C, D], name="code"))
    pd.testing.assert_frame_equal(table[cols], want)


def test_request_heat_counts_what_grid_counts_counts(city):
    h = heat.unit_hierarchy(city)
    lean = heat.add_rates(heat.request_heat(city, since=SINCE, until=UNTIL, hierarchy=h))
    full = heat.add_rates(heat.grid_counts(city, since=SINCE, until=UNTIL, hierarchy=h))
    assert lean["requests"].to_dict() == {A: 3, B: 2, C: 1, D: 1}
    pd.testing.assert_frame_equal(lean[["requests", "population", "requests_per_1k"]],
                                  full[["requests", "population", "requests_per_1k"]])
    # Summed to communities, only the request figure is there, rate recomputed from sums.
    comm = heat.add_rates(heat.rollup(lean, h.grids, level="community"))
    assert list(comm.columns) == ["requests", "population", "requests_per_1k"]
    assert comm.loc[C1, "requests_per_1k"] == pytest.approx(5 / 1450 * 1000)


def test_grid_with_no_residents_has_nan_not_inf(city):
    table = heat.grid_kpis(city, since=SINCE, until=UNTIL)
    d = row(table, D)
    assert d.population == 0 and d.requests == 1
    assert np.isnan(d.requests_per_1k)
    numeric = table.select_dtypes("number").to_numpy(dtype=float)
    assert not np.isinf(numeric).any()


def test_change_vs_previous_window(city):
    table = heat.grid_kpis(city, since=SINCE, until=UNTIL).set_index("code")
    a, b, c = table.loc[A], table.loc[B], table.loc[C]
    # A: 1 request before (p1), 3 now.
    assert (a.requests_prev, a.requests_change, a.requests_change_rel) == (1, 2, 2.0)
    assert (a.resolution_rate_prev, a.resolution_rate_change) == (1.0, 0.0)
    assert a.satisfaction_rate_prev == 1.0 and a.satisfaction_rate_change == -0.5
    # B: p2 was still open at the previous window's end (resolved 11-01 03:00).
    assert (b.open_prev, b.open_change, b.open_change_rel) == (1, 0, 0.0)
    assert np.isnan(b.resolution_rate_prev) and np.isnan(b.resolution_rate_change)
    # C: nothing before, so the relative change is NaN, not inf.
    assert (c.requests_prev, c.requests_change) == (0, 1)
    assert np.isnan(c.requests_change_rel)


def test_compare_false_leaves_out_the_previous_window(city):
    table = heat.grid_kpis(city, since=SINCE, until=UNTIL, compare=False)
    assert "requests_prev" not in table.columns
    assert int(table.requests.sum()) == 7


# --------------------------------------------------------------------------- admin units


def test_rollup_by_hand(city):
    comm = heat.area_kpis(city, level="community", since=SINCE, until=UNTIL).set_index("code")
    assert list(comm.index) == [C1, C2, C3]
    c1 = comm.loc[C1]
    assert (c1["name"], c1.parent_code, c1.population) == ("甲社区", T1, 1450)
    assert tuple(int(c1[n]) for n in NAMES) == (5, 2, 1, 4, 3, 2, 2, 1, 2)
    assert c1.resolution_rate == 0.75 and c1.on_time_rate == 0.5
    assert c1.dispute_resolution_rate == 0.5
    assert c1.requests_per_1k == pytest.approx(5 / 1450 * 1000)
    town = heat.area_kpis(city, level="township", since=SINCE, until=UNTIL).set_index("code")
    assert town.loc[T1, "requests"] == 6 and town.loc[T1, "population"] == 2170
    assert np.isnan(town.loc[T2, "requests_per_1k"])  # only grid D, no residents
    top = heat.area_kpis(city, level="city", since=SINCE, until=UNTIL)
    assert list(top.code) == [CITY] and top.loc[0, "name"] == "益阳市"
    assert (top.loc[0, "resolution_rate"], top.loc[0, "on_time_rate"]) == (4 / 5, 2 / 5)


@pytest.mark.parametrize("level", ["community", "township", "county", "city"])
def test_rollup_sums_equal_grid_sums(city, level):
    grids = heat.grid_kpis(city, since=SINCE, until=UNTIL)
    units = heat.area_kpis(city, level=level, since=SINCE, until=UNTIL)
    cols = list(heat.COUNT_COLUMNS) + ["population", "requests_prev", "open_prev"]
    pd.testing.assert_series_equal(units[cols].sum().astype(float),
                                   grids[cols].sum().astype(float))


def test_rollup_without_admin_units_uses_code_prefixes(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.bulk_insert_requests(conn, pd.DataFrame([
            req("x1", "430903003001001", t(2)), req("x2", "430903003001004", t(3))]))
    for level, code in [("township", "430903003"), ("county", "430903"), ("city", "430900")]:
        table = heat.area_kpis(engine, level=level, since=SINCE, until=UNTIL)
        assert list(table.code) == [code]
        assert table.loc[0, "requests"] == 2 and table.loc[0, "population"] == 3070


def test_parent_chain_wins_over_code_prefixes(city):
    # Township T2 is handed to a development zone but keeps its 赫山区 code.
    with store_engine.transaction(city) as conn:
        store_requests.write_admin_units(conn, pd.DataFrame({
            "code": ["430972", T2], "name": ["高新区", "乙镇"], "level": ["county", "township"],
            "parent_code": [CITY, "430972"]}))
    counties = heat.area_kpis(city, level="county", since=SINCE, until=UNTIL)
    assert counties.code.tolist() == [COUNTY, "430972"]
    assert counties.requests.tolist() == [6, 1]  # r7 in grid D went with T2
    day = datetime(2026, 10, 31, 16)
    zone = heat.request_series(city, area="430972", since=day, until=UNTIL)
    assert zone.requests.sum() == 1
    old = heat.request_series(city, area=COUNTY, since=day, until=UNTIL)
    assert old.requests.sum() == 7  # r1–r6 and p2 (local 11-01); r8 has no grid
    assert heat.wall_kpis(city, now=UNTIL, area="430972").open == 0


def test_geometry_on_request(city):
    grids = heat.grid_kpis(city, since=SINCE, until=UNTIL, geometry=True)
    assert isinstance(grids, gpd.GeoDataFrame) and grids.crs.to_epsg() == 4326
    assert shapely.area(grids.geometry.to_numpy()).round(6).tolist() == [0.0001] * 4
    # Admin units were stored without polygons: each gets the union of its grids.
    comm = heat.area_kpis(city, level="community", since=SINCE, until=UNTIL, geometry=True)
    assert shapely.area(comm.set_index("code").geometry[C1]) == pytest.approx(0.0002)


def test_unknown_level_and_reversed_window_are_refused(city):
    with pytest.raises(ValueError, match="level"):
        heat.area_kpis(city, level="province", since=SINCE, until=UNTIL)
    with pytest.raises(ValueError, match="window"):
        heat.grid_kpis(city, since=UNTIL, until=SINCE)


# --------------------------------------------------------------------------- empty cases


def test_empty_window(city):
    table = heat.grid_kpis(city, since=datetime(2025, 1, 1), until=datetime(2025, 2, 1))
    assert list(table.code) == [A, B, C, D]
    assert (table[list(heat.COUNT_COLUMNS)] == 0).all().all()
    assert table[list(heat.RATES)].isna().all().all()  # nothing due, nothing rated
    assert table.requests_per_1k.tolist()[:3] == [0.0, 0.0, 0.0]
    assert np.isnan(table.requests_per_1k.iloc[3])
    assert table.requests_change_rel.isna().all()


def test_all_counts_zero_without_any_request(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    table = heat.area_kpis(engine, level="community", since=SINCE, until=UNTIL)
    assert table.requests.tolist() == [0] and table.population.tolist() == [3070]
    assert np.isnan(table.satisfaction_rate.iloc[0])
    kpis = heat.wall_kpis(engine, now=UNTIL)
    assert (kpis.today_requests, kpis.open, kpis.overdue, kpis.open_disputes) == (0, 0, 0, 0)
    assert np.isnan(kpis.resolution_rate) and np.isnan(kpis.satisfaction_rate)
    series = heat.request_series(engine, since=SINCE, until=UNTIL)
    # UTC midnights: local 11-01 08:00 to 11-08 08:00 touches 8 local days.
    assert len(series) == 8 and series.requests.sum() == 0


def test_no_rating_is_nan_not_full_marks(city):
    # Only B's requests in this window: r5 was resolved but nobody rated it.
    table = heat.grid_kpis(city, since=t(6), until=UNTIL).set_index("code")
    assert table.loc[B, "resolved"] == 1 and table.loc[B, "rated"] == 0
    assert np.isnan(table.loc[B, "satisfaction_rate"])


# --------------------------------------------------------------------------- series


@pytest.fixture
def evening(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.bulk_insert_requests(conn, pd.DataFrame([
            req("e1", A, datetime(2026, 11, 1, 15, 59, 59)),  # local 11-01 23:59:59
            req("e2", A, datetime(2026, 11, 1, 16, 0)),  # local 11-02 00:00
            req("e3", "430903003001002", datetime(2026, 11, 1, 17, 0), category="dispute"),
            req("e4", A, datetime(2026, 11, 3, 3, 0)),  # local 11-03 11:00
            req("e5", None, datetime(2026, 11, 2, 1, 0)),  # outside every grid
        ]))
    return engine


def test_series_buckets_by_asia_shanghai_day(evening):
    # Local days 11-01 … 11-03 are [10-31 16:00, 11-03 16:00) UTC.
    start, _ = clock.local_day_bounds(datetime(2026, 11, 1, 2))
    assert start == datetime(2026, 10, 31, 16)
    series = heat.request_series(evening, since=start, until=start + timedelta(days=3))
    assert series.period.tolist() == list(pd.date_range("2026-11-01", periods=3))
    assert series.requests.tolist() == [1, 3, 1]
    assert series.disputes.tolist() == [0, 1, 0]


def test_series_by_area(evening):
    start = datetime(2026, 10, 31, 16)
    until = start + timedelta(days=3)
    grid = heat.request_series(evening, area=A, since=start, until=until)
    assert grid.requests.tolist() == [1, 1, 1]
    comm = heat.request_series(evening, area="430903003001", since=start, until=until)
    assert comm.requests.tolist() == [1, 2, 1]  # e5 has no grid
    with pytest.raises(ValueError, match="unknown area"):
        heat.request_series(evening, area="999999", since=start, until=until)


def test_weekly_series_starts_on_local_monday(evening):
    # 2026-11-01 is a Sunday: e1 falls in the week of Monday 10-26, the rest in 11-02's.
    series = heat.request_series(evening, since=datetime(2026, 10, 25, 16),
                                 until=datetime(2026, 11, 8, 16), freq="W")
    assert series.period.tolist() == [pd.Timestamp("2026-10-26"), pd.Timestamp("2026-11-02")]
    assert series.requests.tolist() == [1, 4]
    daily = heat.request_series(evening, since=datetime(2026, 10, 25, 16),
                                until=datetime(2026, 11, 8, 16))
    assert daily.requests.sum() == series.requests.sum() == 5
    # A window opening mid-week (local Wednesday 10-28) still labels weeks by their Monday.
    mid = heat.request_series(evening, since=datetime(2026, 10, 27, 16),
                              until=datetime(2026, 11, 3, 16), freq="W")
    assert mid.period.tolist() == [pd.Timestamp("2026-10-26"), pd.Timestamp("2026-11-02")]
    assert mid.requests.tolist() == [1, 4]


# --------------------------------------------------------------------------- wall


def test_wall_kpis_by_hand(city):
    kpis = heat.wall_kpis(city, now=UNTIL, window=timedelta(days=7))
    # Local today began 11-07 16:00 UTC: only r6. r9, reported at now, is not yet in.
    assert kpis.today_requests == 1
    # Backlog at 11-08 00:00: r1, r4, r6 and r8 (outside every grid) are unresolved.
    assert (kpis.open, kpis.overdue, kpis.open_disputes) == (4, 2, 1)
    # Window [11-01, 11-08): due r2 r3 r4 r5 r7 r8, resolved r2 r3 r5 r7, on time r2 r5.
    assert kpis.resolution_rate == pytest.approx(4 / 6)
    assert kpis.on_time_rate == pytest.approx(2 / 6)
    assert kpis.satisfaction_rate == 0.5


def test_wall_kpis_for_one_area(city):
    kpis = heat.wall_kpis(city, now=UNTIL, area=T1, window=timedelta(days=7))
    assert (kpis.open, kpis.overdue, kpis.open_disputes) == (3, 1, 1)  # r1, r4, r6
    assert kpis.resolution_rate == pytest.approx(3 / 4)  # due r2 r3 r4 r5
    city_wide = heat.wall_kpis(city, now=UNTIL, area=CITY, window=timedelta(days=7))
    assert city_wide.open == 4  # the city code means everything, r8 included


def test_window_ending_in_the_future_is_judged_as_of_now(city):
    # At 11-04 12:00, r3 (due 11-04 00:00, resolved 11-05) is open and overdue.
    a = row(heat.grid_kpis(city, since=SINCE, until=UNTIL, now=t(4, 12)), A)
    assert (a.open, a.overdue, a.resolved) == (2, 1, 1)
    assert (a.rated, a.satisfied) == (1, 1)  # r3's rating (11-05 12:00) is yet to come
    a = row(heat.grid_kpis(city, since=SINCE, until=UNTIL, now=t(20)), A)
    assert (a.open, a.overdue, a.resolved) == (1, 0, 2)
