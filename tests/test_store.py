import json
import warnings
from datetime import datetime

import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import schema
from geo.store import schema as store_schema


def _request(ext, **kw):
    row = dict(external_id=ext, grid_code="430903003001001", outside_grid=False, lon=112.305,
               lat=28.565, source_crs="wgs84", source="miniprogram", category="road",
               severity="routine", route="government", status="reported",
               reported_at=datetime(2026, 11, 1, 2, 30, 15), due_at=datetime(2026, 11, 8, 2, 30),
               description="路灯不亮")
    row.update(kw)
    return row


def test_schema_is_at_head_and_matches_metadata(engine):
    assert store_engine.schema_revision(engine) == "0010"
    with engine.connect() as conn, warnings.catch_warnings():
        # SQLAlchemy's reflection does not know PostGIS's type name; the type is ours.
        warnings.filterwarnings("ignore", "Did not recognize type 'geometry'")
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    # PostGIS brings its own table and our GiST indexes live only in the migration.
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "spatial_ref_sys")
            and not (d[0] == "remove_index" and d[1].name.endswith("_geom"))]
    assert diff == []


def test_indexes_on_grid_time_and_status(engine):
    idx = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("request")}
    assert idx["ix_request_grid_reported"] == ["grid_code", "reported_at"]
    assert idx["ix_request_status"] == ["status"]


def test_postgis_geometry_column_has_gist_index(engine):
    if engine.dialect.name != "postgresql":
        assert engine.dialect.name == "sqlite"
        return
    with engine.connect() as conn:
        kind = conn.exec_driver_sql(
            "select type from geometry_columns where f_table_name='grid'").scalar()
        method = conn.exec_driver_sql(
            "select am.amname from pg_index i join pg_class c on c.oid=i.indexrelid "
            "join pg_am am on am.oid=c.relam where c.relname='ix_grid_geom'").scalar()
    assert kind == "MULTIPOLYGON"
    assert method == "gist"


def test_sqlite_runs_in_wal_mode(tmp_path):
    eng = store_engine.make_engine(f"sqlite:///{tmp_path}/w.db")
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_database_url_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", f"sqlite:///{tmp_path}/env.db")
    assert store_engine.database_url().endswith("env.db")
    monkeypatch.delenv("GRIDMAP_DATABASE_URL")
    assert store_engine.database_url().endswith("data/gridmap.db")


def test_grids_round_trip_geometry_exactly(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        assert store_requests.write_grids(conn, four_grids) == 4
    back = store_requests.read_grids(engine)
    assert list(back.code) == list(four_grids.code)
    assert back.crs.to_epsg() == 4326
    for a, b in zip(back.geometry, four_grids.geometry, strict=True):
        assert shapely.equals_exact(a, b, tolerance=0)


def test_rewriting_a_grid_replaces_it(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.write_grids(conn, four_grids.assign(population=[1, 2, 3, 4]))
    back = store_requests.read_grids(engine)
    assert len(back) == 4
    assert back.population.tolist() == [1, 2, 3, 4]


def test_bulk_insert_skips_stored_external_ids(engine):
    frame = pd.DataFrame([_request("A"), _request("B"), _request("A", category="noise")])
    with store_engine.transaction(engine) as conn:
        # Within one batch the first "A" wins, as on a resend.
        assert store_requests.bulk_insert_requests(conn, frame) == 2
    with store_engine.transaction(engine) as conn:
        assert store_requests.bulk_insert_requests(conn, frame.iloc[:2]) == 0
    rows = store_engine.read_frame(
        engine, "select external_id, category, reported_at from request order by external_id")
    assert rows.external_id.tolist() == ["A", "B"]
    assert rows.category.tolist() == ["road", "road"]
    assert pd.Timestamp(rows.reported_at.iloc[0]) == pd.Timestamp("2026-11-01 02:30:15")


def test_bulk_times_compare_like_orm_times(engine):
    # Times written by the bulk path must sort and filter like those bound by SQLAlchemy.
    frame = pd.DataFrame([_request("A", reported_at=datetime(2026, 11, 1, 23, 59, 59)),
                          _request("B", reported_at=datetime(2026, 11, 2, 0, 0, 0))])
    with store_engine.transaction(engine) as conn:
        store_requests.bulk_insert_requests(conn, frame)
    got = store_engine.read_frame(
        engine, sa.select(store_schema.request.c.external_id)
        .where(store_schema.request.c.reported_at >= datetime(2026, 11, 2)))
    assert got.external_id.tolist() == ["B"]


def test_failed_transaction_leaves_nothing(engine, four_grids):
    before = store_engine.table_counts(engine)
    with pytest.raises(RuntimeError), store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.bulk_insert_requests(conn, pd.DataFrame([_request("A")]))
        raise RuntimeError("boom")
    assert store_engine.table_counts(engine) == before


def test_settings_round_trip(engine):
    with store_engine.transaction(engine) as conn:
        store_engine.set_setting(conn, "demo_clusters", json.dumps(["x"]))
        store_engine.set_setting(conn, "demo_clusters", json.dumps(["y"]))
    assert json.loads(store_engine.get_setting(engine, "demo_clusters")) == ["y"]
    assert store_engine.get_setting(engine, "missing", "d") == "d"


def test_is_empty(engine, four_grids):
    assert store_engine.is_empty(engine)
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    assert not store_engine.is_empty(engine)


def test_upgrade_keeps_existing_rows(tmp_path, four_grids):
    url = f"sqlite:///{tmp_path}/up.db"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_grids(conn, four_grids)
    eng.dispose()
    again = store_engine.make_engine(url)  # runs the migrations again: a no-op at head
    assert len(store_requests.read_grids(again)) == 4


def test_read_requests_window_category_and_no_personal_fields(engine):
    frame = pd.DataFrame([
        _request("A", category="dispute", reporter_name="张三", reporter_phone="13812341234"),
        _request("B", reported_at=datetime(2026, 11, 3)),
        _request("C", category="dispute", reported_at=datetime(2026, 10, 1)),
    ])
    with store_engine.transaction(engine) as conn:
        store_requests.bulk_insert_requests(conn, frame)
    got = store_requests.read_requests(engine, since=datetime(2026, 10, 15),
                                       until=datetime(2026, 11, 30), categories=["dispute"])
    assert got.external_id.tolist() == ["A"]
    assert "reporter_name" not in got.columns and "reporter_phone" not in got.columns
    both = store_requests.read_requests(engine, since=datetime(2026, 10, 15))
    assert both.external_id.tolist() == ["A", "B"]


def test_upgrade_from_0001_adds_the_backlog_index_and_keeps_rows(tmp_path, four_grids):
    url = f"sqlite:///{tmp_path}/old.db"
    old = store_engine.make_engine(url, upgrade=False)
    store_engine.upgrade_schema(old, revision="0001")
    with store_engine.transaction(old) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.bulk_insert_requests(conn, pd.DataFrame([_request("A")]))
    assert "ix_request_resolved" not in {i["name"] for i in inspect(old).get_indexes("request")}
    old.dispose()
    new = store_engine.make_engine(url)
    assert store_engine.schema_revision(new) == "0010"
    indexes = {i["name"] for i in inspect(new).get_indexes("request")}
    assert "ix_request_resolved" in indexes
    # 0005 replaced the reported_at index by one that also holds the grid.
    assert "ix_request_reported_grid" in indexes and "ix_request_reported" not in indexes
    assert store_engine.table_counts(new)["request"] == 1
    assert len(store_requests.read_grids(new)) == 4


def test_requests_per_grid_counts_the_window_from_the_index(engine):
    frame = pd.DataFrame([
        _request("A"),
        _request("B", grid_code="430903003001002", reported_at=datetime(2026, 11, 2)),
        _request("C", reported_at=datetime(2026, 11, 5), status="resolved"),
        _request("D", reported_at=datetime(2026, 10, 31, 23, 59)),  # before the window
        _request("E", grid_code=None, outside_grid=True),  # in no grid
    ])
    with store_engine.transaction(engine) as conn:
        store_requests.bulk_insert_requests(conn, frame)
    got = store_counts.requests_per_grid(engine, since=datetime(2026, 11, 1),
                                         until=datetime(2026, 11, 5))
    # C is reported at the window's end (exclusive): not counted.
    assert got.to_dict() == {"430903003001001": 1, "430903003001002": 1}
    full = store_counts.request_counts_per_grid(engine, since=datetime(2026, 11, 1),
                                                until=datetime(2026, 11, 6))
    lean = store_counts.requests_per_grid(engine, since=datetime(2026, 11, 1),
                                          until=datetime(2026, 11, 6))
    assert lean.to_dict() == dict(zip(full.grid_code, full.requests, strict=True))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT grid_code, count(*) FROM request WHERE "
                "reported_at >= '2026-11-01' AND reported_at < '2026-11-06' "
                "AND grid_code IS NOT NULL GROUP BY grid_code"))
        assert "COVERING INDEX ix_request_reported_grid" in plan


def test_backlog_totals_match_request_totals(engine):
    frame = pd.DataFrame([
        _request("A"),  # open, overdue by 2026-11-20
        _request("B", category="dispute", status="resolved",
                 resolved_at=datetime(2026, 11, 2)),
        _request("C", category="dispute", reported_at=datetime(2026, 11, 19),
                 due_at=datetime(2026, 11, 26)),  # open, not yet due
        _request("D", status="resolved", resolved_at=datetime(2026, 11, 25)),  # after as_of
    ])
    with store_engine.transaction(engine) as conn:
        store_requests.bulk_insert_requests(conn, frame)
    as_of = datetime(2026, 11, 20)
    full = store_counts.request_totals(engine, since=None, until=as_of)
    fast = store_counts.backlog_totals(engine, as_of=as_of)
    assert fast == {k: full[k] for k in ("open", "overdue", "disputes_open")}
    assert fast == {"open": 3, "overdue": 2, "disputes_open": 1}  # A and D are past due


def test_grid_heads_are_personal_and_read_only_on_request(engine, four_grids):
    heads = four_grids.assign(head_name="王芳", head_phone="13812345678")
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, heads)
    plain = store_requests.read_grids(engine)
    assert "head_name" not in plain.columns and "head_phone" not in plain.columns
    full = store_requests.read_grids(engine, personal=True)
    assert full.head_phone.tolist() == ["13812345678"] * 4


def test_closed_without_resolution_time_is_resolved_but_not_on_time(engine):
    frame = pd.DataFrame([_request("A", status="rated", due_at=None),
                          _request("B", status="resolved", resolved_at=datetime(2026, 11, 2))])
    with store_engine.transaction(engine) as conn:
        store_requests.bulk_insert_requests(conn, frame)
    got = store_counts.request_totals(engine, since=None, until=datetime(2026, 11, 20))
    assert got["resolved"] == 2
    assert got["on_time"] == 1
