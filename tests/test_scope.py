"""Every scoped read returns only rows inside the caller's areas, on both backends.

The tiny city of tests/tiny_city.py: grids A and B in community C1, grid C in community C2
(both in township T1), grid D in community C3 (township T2). One open request in each grid
and one outside every grid; one volunteer activity in A and one in C. The grid head ``wang``
holds community C1, so sees grids A and B only.
"""

import io
from datetime import date, datetime

import geopandas as gpd
import pandas as pd
import pytest
from tiny_city import C1, C2, C3, T1, A, B, C, D, admin_units

from geo import detail, export, heat
from geo.access import AccessDenied, Scope
from geo.store import access as store_access
from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import live as store_live
from geo.store import requests as store_requests
from geo.store import schema as store_schema
from geo.store.area import AreaFilter

NOW = datetime(2026, 11, 10)
SINCE = datetime(2026, 11, 1)
HEAD = Scope("grid_head", (C1,), "wang")
TOWN = Scope("grid_head", (T1,), "li")
ALL = Scope("commander", None, "zhao")
PHONE = "13912345678"


def req(ext, grid, day, category="road"):
    return dict(external_id=ext, grid_code=grid, outside_grid=grid is None, lon=112.305,
                lat=28.565, source_crs="wgs84", source="miniprogram", category=category,
                severity="routine", route="government", status="in_progress",
                reported_at=datetime(2026, 11, day, 3), due_at=datetime(2026, 11, day + 1),
                resolved_at=None, description="测试", reporter_name="张三",
                reporter_phone=PHONE)


REQUESTS = [req("a1", A, 2), req("b1", B, 3, "dispute"), req("c1", C, 4), req("d1", D, 5),
            req("x1", None, 6)]


@pytest.fixture
def city(engine, four_grids):
    grids = four_grids.copy()
    grids["code"] = [A, B, C, D]
    grids["community_code"] = [C1, C1, C2, C3]
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, admin_units())
        store_requests.write_grids(conn, gpd.GeoDataFrame(grids, geometry="geometry"))
        assert store_requests.insert_requests(conn, pd.DataFrame(REQUESTS)) == len(REQUESTS)
        store_requests.insert_activities(conn, pd.DataFrame([
            dict(external_id=f"v{g}", grid_code=g, date=date(2026, 11, 3), title="清扫",
                 volunteers=3, hours=2.0, points=6.0) for g in (A, C)]))
    return engine


# --------------------------------------------------------------------------- geo.store


def test_grid_reads_keep_only_the_grids_in_scope(city):
    assert store_requests.read_grids(city, scope=HEAD)["code"].tolist() == [A, B]
    assert store_requests.read_grids(city, scope=TOWN)["code"].tolist() == [A, B, C]
    assert store_requests.read_grids(city, scope=ALL)["code"].tolist() == [A, B, C, D]
    assert store_requests.read_grid_attributes(city, scope=HEAD)["code"].tolist() == [A, B]
    assert store_requests.read_grid_attributes(city, scope=None)["code"].tolist() == [A, B, C, D]
    # a grid code as the scope's area: that grid only
    assert store_requests.read_grids(city, scope=Scope("grid_head", (D,)))["code"].tolist() == [D]


def test_request_reads_keep_only_rows_in_scope(city):
    assert store_requests.read_requests(city, scope=HEAD)["grid_code"].tolist() == [A, B]
    assert store_requests.read_requests(city, scope=TOWN)["grid_code"].tolist() == [A, B, C]
    # unrestricted: every request, including the one outside every grid
    assert store_requests.read_requests(city, scope=ALL)["external_id"].tolist() == [
        "a1", "b1", "c1", "d1", "x1"]
    per_grid = store_counts.request_counts_per_grid(city, since=None, until=NOW, scope=HEAD)
    assert per_grid["grid_code"].tolist() == [A, B]
    assert store_counts.request_counts_per_grid(city, since=None, until=NOW)["grid_code"].tolist() \
        == [A, B, C, D]
    latest = store_live.latest_requests(city, until=NOW, area=AreaFilter(scope=HEAD),
                                        contacts=True)
    assert latest["grid_code"].tolist() == [B, A]
    assert len(store_live.latest_requests(city, until=NOW, area=AreaFilter(scope=ALL))) == 5
    # a grid filter outside the scope finds nothing rather than the grid's rows
    assert store_live.latest_requests(city, until=NOW,
                                     area=AreaFilter(grid_code=C, scope=HEAD)).empty


def test_request_totals_and_breakdowns_count_only_the_scope(city):
    totals = store_counts.request_totals(city, since=None, until=NOW, area=AreaFilter(scope=HEAD))
    assert (totals["requests"], totals["disputes"]) == (2, 1)
    assert store_counts.request_totals(city, since=None, until=NOW,
                                       area=AreaFilter(scope=ALL))["requests"] == 5
    assert store_counts.backlog_totals(city, as_of=NOW, area=AreaFilter(scope=HEAD)) == {
        "open": 2, "overdue": 2, "disputes_open": 1}
    assert store_counts.backlog_totals(city, as_of=NOW, area=AreaFilter(scope=ALL))["open"] == 5
    days = store_counts.request_counts_per_local_period(city, since=SINCE, until=NOW,
                                                        area=AreaFilter(scope=HEAD))
    assert days["requests"].tolist() == [1, 1]
    assert store_counts.request_counts_per_local_period(
        city, since=SINCE, until=NOW, area=AreaFilter(scope=ALL))["requests"].sum() == 5
    by = store_counts.request_counts_by(city, column="category", since=None, until=NOW,
                                        area=AreaFilter(scope=HEAD))
    assert dict(zip(by["value"], by["requests"], strict=True)) == {"road": 1, "dispute": 1}
    by_all = store_counts.request_counts_by(city, column="category", since=None, until=NOW)
    assert by_all["requests"].sum() == 5


def test_one_grid_reads_are_empty_outside_the_scope(city):
    assert store_live.grid_requests(city, grid_code=A, since=None, until=NOW,
                                    scope=HEAD)["external_id"].tolist() == ["a1"]
    assert store_live.grid_requests(city, grid_code=C, since=None, until=NOW, scope=HEAD).empty
    assert store_live.grid_requests(city, grid_code=C, since=None, until=NOW,
                                    scope=TOWN)["external_id"].tolist() == ["c1"]
    assert len(store_live.read_volunteer_activities(city, grid_code=A, scope=HEAD)) == 1
    assert store_live.read_volunteer_activities(city, grid_code=C, scope=HEAD).empty
    assert len(store_live.read_volunteer_activities(city, grid_code=C, scope=ALL)) == 1


def test_volunteer_hours_are_scoped(city):
    window = dict(since=date(2026, 11, 1), until=date(2026, 12, 1))
    hours = store_counts.volunteer_hours_per_grid(city, **window, scope=HEAD)
    assert hours["grid_code"].tolist() == [A]
    assert hours["volunteer_hours"].tolist() == [6.0]
    assert store_counts.volunteer_hours_per_grid(city, **window)["grid_code"].tolist() == [A, C]


def test_a_restricted_scope_never_sees_requests_outside_every_grid(city):
    city_scope = Scope("grid_head", ("430900",))  # the whole city, yet still by grid
    assert "x1" not in store_requests.read_requests(city, scope=city_scope)["external_id"].tolist()
    assert len(store_requests.read_requests(city, scope=city_scope)) == 4


# --------------------------------------------------------------------------- geo.heat


def test_area_filter_refuses_areas_outside_the_scope(city):
    assert heat.area_filter(city, A, scope=HEAD).grid_code == A
    assert heat.area_filter(city, C1, scope=HEAD).scope is HEAD
    for outside in (C, C2, C3, D, T1, "430903"):
        with pytest.raises(AccessDenied):
            heat.area_filter(city, outside, scope=HEAD)
    assert heat.area_filter(city, C, scope=TOWN).grid_code == C
    assert heat.area_filter(city, D, scope=ALL).grid_code == D


def test_wall_and_series_refuse_outside_areas_and_count_the_scope(city):
    with pytest.raises(AccessDenied):
        heat.wall_kpis(city, now=NOW, area=D, scope=HEAD)
    with pytest.raises(AccessDenied):
        heat.request_series(city, area=C2, since=SINCE, until=NOW, scope=HEAD)
    assert heat.wall_kpis(city, now=NOW, scope=HEAD).open == 2
    assert heat.wall_kpis(city, now=NOW, area=C1, scope=HEAD).open == 2
    assert heat.wall_kpis(city, now=NOW, scope=ALL).open == 5
    wall = Scope("wall", (C1,), "wall:lobby")
    assert heat.wall_kpis(city, now=NOW, scope=wall).open_disputes == 1
    series = heat.request_series(city, since=SINCE, until=NOW, scope=HEAD)
    assert series["requests"].sum() == 2


def test_kpi_tables_hold_only_units_in_scope(city):
    grids = heat.grid_kpis(city, since=SINCE, until=NOW, now=NOW, scope=HEAD)
    assert grids["code"].tolist() == [A, B]
    assert grids["requests"].tolist() == [1, 1]
    communities = heat.area_kpis(city, level="community", since=SINCE, until=NOW, now=NOW,
                                 scope=TOWN)
    assert communities["code"].tolist() == [C1, C2]
    assert len(heat.grid_kpis(city, since=SINCE, until=NOW, now=NOW, scope=ALL)) == 4


# --------------------------------------------------------------------------- geo.detail


def test_detail_refuses_a_grid_outside_the_scope(city):
    with pytest.raises(AccessDenied):
        detail.grid_kpis(city, C, now=NOW, scope=HEAD)
    with pytest.raises(AccessDenied):
        detail.weekly_requests(city, D, now=NOW, scope=HEAD)
    assert detail.grid_kpis(city, A, now=NOW, scope=HEAD).at["requests", "value"] == 1
    assert detail.weekly_requests(city, B, now=NOW, scope=HEAD)["requests"].sum() == 1


def test_detail_judges_a_grid_by_the_stored_hierarchy_not_its_digits(city):
    # D's code says community C3, but it is filed under C1 (wang's); A's says C1, filed
    # under C3. The reads follow the filing, so the check before them must too.
    with store_engine.transaction(city) as conn:
        conn.execute(store_schema.grid.update().where(store_schema.grid.c.code == D)
                     .values(community_code=C1))
        conn.execute(store_schema.grid.update().where(store_schema.grid.c.code == A)
                     .values(community_code=C3))
    assert detail.grid_kpis(city, D, now=NOW, scope=HEAD).at["requests", "value"] == 1
    with pytest.raises(AccessDenied, match=A):
        detail.weekly_requests(city, A, now=NOW, scope=HEAD)
    assert store_access.grid_in_scope(city, D, HEAD)
    assert not store_access.grid_in_scope(city, A, HEAD)
    assert not store_access.grid_in_scope(city, "430999999999999", ALL)  # not stored at all


# --------------------------------------------------------------------------- geo.export


def test_export_refuses_roles_that_may_not_export(city):
    for scope in (ALL, HEAD, Scope("wall", (C1,))):
        buf = io.BytesIO()
        with pytest.raises(AccessDenied, match="may not export"):
            export.export_layer(city, layer="requests", fmt="csv", path_or_buffer=buf,
                                scope=scope)
        assert buf.getvalue() == b""


def test_export_refuses_personal_fields_to_a_planner(city):
    with pytest.raises(AccessDenied, match="admin"):
        export.export_layer(city, layer="requests", fmt="csv", path_or_buffer=io.BytesIO(),
                            personal=True, scope=Scope("planner", None, "plan"))


def test_planner_export_has_no_personal_fields(city):
    planner = Scope("planner", None, "plan")
    buf = io.BytesIO()
    result = export.export_layer(city, layer="requests", fmt="csv", path_or_buffer=buf,
                                 scope=planner)
    text = buf.getvalue().decode("utf-8-sig")
    assert result.rows == 5
    assert "reporter" not in text.splitlines()[0]
    assert PHONE not in text and "张三" not in text
    grids = io.BytesIO()
    export.export_layer(city, layer="grids", fmt="csv", path_or_buffer=grids, scope=planner)
    assert "head_" not in grids.getvalue().decode("utf-8-sig").splitlines()[0]
    # the admin (unrestricted) export is where the phone numbers go out
    full = io.BytesIO()
    export.export_layer(city, layer="requests", fmt="csv", path_or_buffer=full, personal=True,
                        scope=Scope.everything(actor="admin"))
    assert PHONE in full.getvalue().decode("utf-8-sig")
