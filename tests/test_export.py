"""Exports on four literal grids, a few literal requests and two stations, on both backends.

The city (codes follow 统计用区划代码):

    430900 益阳市
      430903 赫山区
        430903003 甲街道
          430903003001 甲社区: grid A (NW, ring given clockwise, one vertex with 10
                              decimals), grid B (NE, with a hole; ring and hole both given
                              the wrong way round)
          430903003002 乙社区: grid C (SW)
        430903004 乙镇
          430903004001 丙村: grid D (SE, population unknown)

The window is November 2026 in Asia/Shanghai days.
"""

import io
import json
import re
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from tiny_city import C1, C2, C3, COUNTY, T1, T2, A, B, C, D, admin_units

from geo import export
from geo.store import engine as store_engine
from geo.store import requests as store_requests

NOV = export.local_days_window(date(2026, 11, 1), date(2026, 11, 30))

XSS = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example","点我")'
QUOTED = '楼上漏水\n"很急", 请尽快'
PHONE = "13912345678"
HEAD_PHONE = "13800001111"


def no_nan(text):
    raise AssertionError(f"{text} in JSON output")


def loads(data):
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, parse_constant=no_nan)


def req(ext, grid, reported, *, category="road", description="测试", lon=112.305, lat=28.565,
        name=None, phone=None):
    return dict(external_id=ext, grid_code=grid, outside_grid=grid is None, lon=lon, lat=lat,
                source_crs="wgs84", source="miniprogram", category=category,
                severity="routine", route="government", status="in_progress",
                reported_at=reported, due_at=None, resolved_at=None, closed_at=None,
                satisfaction=None, address="某某路 1 号", description=description,
                reporter_name=name, reporter_phone=phone)


REQUESTS = [
    req("r1", A, datetime(2026, 11, 2, 1), category="dispute", description=XSS, name="王五",
        phone=PHONE),
    req("r2", B, datetime(2026, 11, 3, 2), description=FORMULA, lon=112.315),
    req("r3", C, datetime(2026, 11, 5), category="dispute", description=QUOTED, lat=28.555),
    req("r4", D, datetime(2026, 11, 20), category="noise", lon=112.315, lat=28.555),
    req("r5", None, datetime(2026, 11, 4), lon=112.40, lat=28.60),  # outside every grid
    req("r6", A, datetime(2026, 10, 15)),  # before the window
]


def grid_shapes():
    # A: clockwise ring, with an extra vertex on its north edge at 10 decimals.
    a = shapely.Polygon([(112.30, 28.56), (112.30, 28.57), (112.3051234567, 28.57),
                         (112.31, 28.57), (112.31, 28.56)])
    # B: clockwise ring and a counterclockwise hole (both the wrong way for RFC 7946).
    hole = [(112.314, 28.564), (112.316, 28.564), (112.316, 28.566), (112.314, 28.566)]
    b = shapely.Polygon(shapely.box(112.31, 28.56, 112.32, 28.57, ccw=False).exterior.coords,
                        [hole])
    c = shapely.box(112.30, 28.55, 112.31, 28.56)
    d = shapely.box(112.31, 28.55, 112.32, 28.56)
    return [a, b, c, d]


@pytest.fixture
def city(engine, four_grids):
    grids = four_grids.copy()
    grids["code"] = [A, B, C, D]
    grids["community_code"] = [C1, C1, C2, C3]
    grids["population"] = [800, 650, 720, None]
    grids["head_name"] = ["张网格", "李网格", "赵网格", "钱网格"]
    grids["head_phone"] = [HEAD_PHONE, "13800002222", "13800003333", "13800004444"]
    grids = grids.set_geometry(
        gpd.GeoSeries([shapely.MultiPolygon([g]) for g in grid_shapes()], crs=4326))
    units = admin_units()
    stations = pd.DataFrame([
        dict(code="S1", name="甲警务站", kind="workstation", lon=112.305, lat=28.565),
        dict(code="S2", name="丙警务室", kind="room", lon=112.315, lat=28.555, radius_m=300.0),
    ])
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, units)
        store_requests.write_grids(conn, grids)
        store_requests.bulk_insert_requests(conn, pd.DataFrame(REQUESTS))
        store_requests.write_stations(conn, stations)
    return engine


def run(engine, layer, fmt="geojson", **options):
    buf = io.BytesIO()
    options.setdefault("now", datetime(2026, 12, 15))
    result = export.export_layer(engine, layer=layer, fmt=fmt, path_or_buffer=buf, **options)
    return result, buf.getvalue()


def features(data):
    return loads(data)["features"]


def by_code(feats, key="code"):
    return {f["properties"][key]: f for f in feats}


# --------------------------------------------------------------------------- catalogue


def test_layers_list_names_formats_and_personal_fields():
    layers = {info.key: info for info in export.export_layers()}
    assert list(layers) == ["grids", "requests", "stations", "coverage", "coverage_areas",
                            "hotspots", "scan_clusters", "claims", "bulletin"]
    assert layers["grids"].name_zh == "网格" and layers["bulletin"].name_zh == "月度通报"
    assert all(set(info.formats) == {"geojson", "gpkg", "csv"} for info in layers.values())
    assert layers["requests"].personal_fields == ("reporter_name", "reporter_phone")
    assert layers["grids"].personal_fields == ("head_name", "head_phone")
    assert layers["stations"].window is None and layers["bulletin"].window == "month"


def test_local_days_window_is_shanghai_days_last_day_included():
    since, until = export.local_days_window(date(2026, 11, 1), date(2026, 11, 30))
    assert since == datetime(2026, 10, 31, 16) and until == datetime(2026, 11, 30, 16)
    assert export.local_days_window(None, None) == (None, None)
    with pytest.raises(ValueError, match="2026-10-01"):
        export.local_days_window(date(2026, 11, 1), date(2026, 10, 1))


def test_default_filename():
    name = export.default_filename("grids", "gpkg", area=COUNTY, since=NOV[0], until=NOV[1])
    assert name == "gridmap_grids_430903_20261101-20261130.gpkg"


# --------------------------------------------------------------------------- GeoJSON


def test_geojson_is_an_rfc7946_feature_collection(city):
    result, data = run(city, "grids", since=NOV[0], until=NOV[1])
    doc = loads(data)
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    assert result.rows == len(doc["features"]) == 4
    geoms = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"])
             for f in doc["features"]}
    # The input rings were stored the wrong way round: the export must turn them.
    stored = store_requests.read_grids(city).set_index("code").geometry
    assert not stored[A].geoms[0].exterior.is_ccw
    assert not stored[B].geoms[0].exterior.is_ccw and stored[B].geoms[0].interiors[0].is_ccw
    for geom in geoms.values():
        for polygon in geom.geoms:
            assert polygon.exterior.is_ccw
            assert all(not ring.is_ccw for ring in polygon.interiors)
    assert len(geoms[B].geoms[0].interiors) == 1
    assert geoms[A].equals(stored[A])  # same shape, only the order of vertices differs


def test_geojson_coordinates_have_six_decimals(city):
    _, data = run(city, "grids")
    coords = [xy for f in features(data) for xy in
              shapely.get_coordinates(shapely.geometry.shape(f["geometry"])).tolist()]
    assert all(round(v, 6) == v for xy in coords for v in xy)
    assert [112.305123, 28.57] in coords
    assert not re.search(r"\d\.\d{7,}", data.decode()[:data.decode().index('"properties"')])


def test_grid_layer_carries_names_codes_population_and_window_figures(city):
    _, data = run(city, "grids", since=NOV[0], until=NOV[1])
    props = {code: f["properties"] for code, f in by_code(features(data)).items()}
    a = props[A]
    assert a["name"] == "测试社区第1网格"
    assert (a["community_code"], a["community_name"]) == (C1, "甲社区")
    assert (a["township_code"], a["township_name"]) == (T1, "甲街道")
    assert (a["county_code"], a["county_name"]) == (COUNTY, "赫山区")
    assert a["population"] == 800
    # r1 only: r6 was reported in October.
    assert a["requests"] == 1 and a["disputes"] == 1 and a["open"] == 1
    assert a["requests_per_1k"] == pytest.approx(1.25)
    assert props[D]["requests"] == 1
    assert props[D]["population"] is None and props[D]["requests_per_1k"] is None
    assert a["resolution_rate"] is None  # nothing due: null, not NaN
    for key in ("overdue", "on_time_rate", "satisfaction_rate"):
        assert key in a


def test_geojson_never_writes_nan(city):
    _, data = run(city, "grids", since=NOV[0], until=NOV[1])
    text = data.decode()
    assert "NaN" not in text and "Infinity" not in text
    loads(text)


def test_geojson_times_are_shanghai_local_with_offset(city):
    _, data = run(city, "requests", since=NOV[0], until=NOV[1])
    r1 = by_code(features(data), "external_id")["r1"]["properties"]
    assert r1["reported_at"] == "2026-11-02T09:00:00+08:00"
    assert r1["category_name"] == "矛盾纠纷" and r1["severity_name"] == "操心事"
    assert r1["due_at"] is None


# --------------------------------------------------------------------------- GeoPackage


def test_gpkg_layer_reads_back_with_crs_fields_and_rows(city, tmp_path):
    path = tmp_path / "planner.gpkg"
    result = export.export_layer(city, layer="grids", fmt="gpkg", path_or_buffer=path,
                                 since=NOV[0], until=NOV[1])
    assert result.path == str(path) and result.rows == 4
    info = pyogrio.read_info(path, layer="grids")
    assert info["crs"] == "EPSG:4326"
    assert info["features"] == 4
    assert info["geometry_type"] == "MultiPolygon"
    fields = list(info["fields"])
    assert fields[:9] == ["code", "name", "community_code", "community_name", "township_code",
                          "township_name", "county_code", "county_name", "population"]
    assert {"requests", "requests_per_1k", "resolution_rate", "disputes"} <= set(fields)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", f) and len(f) <= 63 for f in fields)
    back = pyogrio.read_dataframe(path, layer="grids")
    assert back.set_index("code").at[A, "community_name"] == "甲社区"
    assert back["code"].tolist() == [A, B, C, D]


def test_gpkg_second_kind_is_added_and_same_kind_replaced(city, tmp_path):
    path = tmp_path / "planner.gpkg"
    export.export_layer(city, layer="grids", fmt="gpkg", path_or_buffer=path)
    export.export_layer(city, layer="requests", fmt="gpkg", path_or_buffer=path)
    export.export_layer(city, layer="grids", fmt="gpkg", path_or_buffer=path, area=T2)
    layers = dict(pyogrio.list_layers(path))
    assert layers == {"grids": "MultiPolygon", "requests": "Point"}
    assert pyogrio.read_info(path, layer="requests")["features"] == len(REQUESTS)
    assert pyogrio.read_info(path, layer="grids")["features"] == 1  # replaced, area T2 only


def test_gpkg_datetimes_are_utc_and_text_round_trips(city, tmp_path):
    path = tmp_path / "r.gpkg"
    export.export_layer(city, layer="requests", fmt="gpkg", path_or_buffer=path)
    back = pyogrio.read_dataframe(path, layer="requests").set_index("external_id")
    assert back.at["r1", "description"] == XSS
    assert back.at["r3", "description"] == QUOTED
    assert back.at["r2", "description"] == FORMULA  # only CSV defuses formulas
    stamp = pd.Timestamp(back.at["r1", "reported_at"])
    assert stamp.tz_convert("UTC") == pd.Timestamp("2026-11-02 01:00", tz="UTC")


def test_gpkg_written_in_chunks_keeps_every_row(city, tmp_path):
    path = tmp_path / "r.gpkg"
    result = export.export_layer(city, layer="requests", fmt="gpkg", path_or_buffer=path,
                                 chunk_rows=2)
    back = pyogrio.read_dataframe(path, layer="requests")
    assert result.rows == len(back) == len(REQUESTS)
    assert sorted(back["external_id"]) == sorted(r["external_id"] for r in REQUESTS)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:.*non conformant file extension:RuntimeWarning")
def test_gpkg_into_a_buffer_keeps_earlier_layers(city):
    buf = io.BytesIO()
    export.export_layer(city, layer="stations", fmt="gpkg", path_or_buffer=buf)
    export.export_layer(city, layer="hotspots", fmt="gpkg", path_or_buffer=buf)
    assert buf.getvalue()[:16] == b"SQLite format 3\x00"
    layers = dict(pyogrio.list_layers(io.BytesIO(buf.getvalue())))
    assert set(layers) == {"stations", "hotspots"}


def test_text_formats_write_to_text_buffers_gpkg_does_not(city):
    buf = io.StringIO()
    result = export.export_layer(city, layer="stations", fmt="geojson", path_or_buffer=buf)
    assert result.path is None and len(loads(buf.getvalue())["features"]) == 2
    with pytest.raises(ValueError, match="binary"):
        export.export_layer(city, layer="stations", fmt="gpkg", path_or_buffer=io.StringIO())


# --------------------------------------------------------------------------- CSV


def test_csv_has_bom_and_chinese_round_trips(city):
    _, data = run(city, "grids", "csv", since=NOV[0], until=NOV[1])
    assert data.startswith(b"\xef\xbb\xbf")
    assert not data[3:].startswith(b"\xef\xbb\xbf")  # one mark, not one per chunk
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert frame["code"].tolist() == [A, B, C, D]  # codes are text, digits intact
    assert frame.set_index("code").at[A, "community_name"] == "甲社区"
    assert frame.columns[-1] == "wkt"
    polygon = shapely.from_wkt(frame.set_index("code").at[B, "wkt"])
    assert polygon.geoms[0].exterior.is_ccw and not polygon.geoms[0].interiors[0].is_ccw
    assert "head_phone" not in frame.columns


def test_csv_point_layer_has_lon_lat_and_quotes_residents_text(city):
    _, data = run(city, "requests", "csv")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str,
                        keep_default_na=False).set_index("external_id")
    assert {"lon", "lat"} <= set(frame.columns) and "wkt" not in frame.columns
    assert float(frame.at["r2", "lon"]) == 112.315
    assert frame.at["r1", "description"] == XSS
    assert frame.at["r3", "description"].replace("\r\n", "\n") == QUOTED
    # A formula would run when Excel opens the file: it goes out as text.
    assert frame.at["r2", "description"] == "'" + FORMULA
    assert frame.at["r1", "reported_at"] == "2026-11-02T09:00:00+08:00"


def test_bulletin_csv_is_a_table_without_geometry(city):
    result, data = run(city, "bulletin", "csv", month="2026-11")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert "wkt" not in frame.columns
    assert frame["level"].tolist().count("county") == 1
    assert set(frame["level_name"]) == {"区县", "乡镇（街道）", "村（社区）"}
    assert result.rows == 1 + 2 + 3
    assert (result.since, result.until) == NOV


# --------------------------------------------------------------------------- personal data


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_no_personal_data_by_default(city, fmt):
    _, data = run(city, "requests", fmt)
    assert PHONE.encode() not in data and "王五".encode() not in data
    assert b"reporter_name" not in data and b"reporter_phone" not in data
    _, data = run(city, "grids", fmt)
    assert HEAD_PHONE.encode() not in data and "张网格".encode() not in data
    assert b"head_phone" not in data


def test_personal_fields_only_when_asked(city):
    result, data = run(city, "requests", personal=True)
    r1 = by_code(features(data), "external_id")["r1"]["properties"]
    assert (r1["reporter_name"], r1["reporter_phone"]) == ("王五", PHONE)
    assert result.columns[-2:] == ("reporter_name", "reporter_phone")
    _, data = run(city, "grids", "csv", personal=True)
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str).set_index("code")
    assert frame.at[A, "head_phone"] == HEAD_PHONE and frame.at[A, "head_name"] == "张网格"


# --------------------------------------------------------------------------- area and window


def test_area_keeps_only_its_grids_requests_and_stations(city):
    _, data = run(city, "grids", area=T1)
    assert set(by_code(features(data))) == {A, B, C}
    _, data = run(city, "grids", area=D)
    assert set(by_code(features(data))) == {D}
    _, data = run(city, "requests", area=C1)
    assert set(by_code(features(data), "external_id")) == {"r1", "r2", "r6"}
    _, data = run(city, "stations", area=C3)
    assert set(by_code(features(data))) == {"S2"}
    _, data = run(city, "grids", area=COUNTY)
    assert len(features(data)) == 4


def test_no_area_includes_requests_outside_every_grid(city):
    _, data = run(city, "requests")
    assert set(by_code(features(data), "external_id")) == {r["external_id"] for r in REQUESTS}
    _, data = run(city, "requests", area=COUNTY)
    assert "r5" not in by_code(features(data), "external_id")


def test_window_selects_by_report_time(city):
    _, data = run(city, "requests", since=NOV[0], until=NOV[1])
    assert set(by_code(features(data), "external_id")) == {"r1", "r2", "r3", "r4", "r5"}
    _, data = run(city, "requests", until=NOV[0])
    assert set(by_code(features(data), "external_id")) == {"r6"}
    since, until = export.local_days_window(date(2026, 11, 2), date(2026, 11, 3))
    _, data = run(city, "requests", since=since, until=until)
    assert set(by_code(features(data), "external_id")) == {"r1", "r2"}


def test_unknown_area_names_the_code_and_leaves_no_file(city, tmp_path):
    path = tmp_path / "x.geojson"
    with pytest.raises(ValueError, match="999999"):
        export.export_layer(city, layer="grids", fmt="geojson", path_or_buffer=path,
                            area="999999")
    assert list(tmp_path.iterdir()) == []


def test_failed_export_leaves_an_earlier_file_intact(city, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("earlier", encoding="utf-8")
    with pytest.raises(ValueError, match="4309039"):
        export.export_layer(city, layer="requests", fmt="csv", path_or_buffer=path,
                            area="4309039")
    assert path.read_text(encoding="utf-8") == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


def test_bad_format_window_and_path_are_refused(city, tmp_path):
    with pytest.raises(ValueError, match="shp"):
        run(city, "grids", "shp")
    with pytest.raises(ValueError, match="unknown layer"):
        run(city, "roads")
    with pytest.raises(ValueError, match="reversed"):
        run(city, "requests", since=NOV[1], until=NOV[0])
    with pytest.raises(ValueError, match="bulletin"):
        run(city, "grids", month="2026-11")
    with pytest.raises(ValueError, match="YYYY-MM"):
        run(city, "bulletin", month="2026-13")
    with pytest.raises(OSError):
        export.export_layer(city, layer="grids", fmt="csv",
                            path_or_buffer=tmp_path / "missing" / "x.csv")


def test_xss_description_round_trips_as_literal_text(city):
    _, data = run(city, "requests")
    r1 = by_code(features(data), "external_id")["r1"]["properties"]
    assert r1["description"] == XSS
    r3 = by_code(features(data), "external_id")["r3"]["properties"]
    assert r3["description"] == QUOTED


# --------------------------------------------------------------------------- other layers


def test_stations_and_coverage_areas(city):
    _, data = run(city, "stations")
    s = {code: f["properties"] for code, f in by_code(features(data)).items()}
    assert s["S1"]["grid_code"] == A and s["S1"]["kind_name"] == "警务站"
    assert s["S1"]["coverage_radius_m"] == 1000.0 and s["S1"]["radius_override_m"] is None
    assert s["S2"]["coverage_radius_m"] == 300.0
    _, data = run(city, "coverage_areas")
    discs = {code: shapely.geometry.shape(f["geometry"])
             for code, f in by_code(features(data)).items()}
    assert discs["S1"].contains(shapely.Point(112.305, 28.565))
    assert discs["S1"].area > discs["S2"].area


def test_coverage_per_grid(city):
    _, data = run(city, "coverage", since=NOV[0], until=NOV[1])
    props = {code: f["properties"] for code, f in by_code(features(data)).items()}
    # S1's 1 km disc at A's centre reaches A's corners (about 740 m away).
    assert props[A]["covered_share"] == pytest.approx(1.0)
    assert props[A]["uncovered"] is False
    assert props[A]["nearest_station_code"] == "S1"
    assert props[A]["requests"] == 1 and props[A]["covered_requests"] == 1
    assert props[D]["covered_population"] is None  # population unknown


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_hotspots_do_not_depend_on_the_area(city):
    _, whole = run(city, "hotspots", since=NOV[0], until=NOV[1])
    _, part = run(city, "hotspots", since=NOV[0], until=NOV[1], area=T1)
    whole, part = by_code(features(whole)), by_code(features(part))
    assert set(part) == {A, B, C}
    for code in part:
        assert part[code]["properties"] == whole[code]["properties"]
    classes = {f["properties"]["gi_class"] for f in whole.values()}
    assert classes <= {"hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95",
                       "cold_99"}
    assert whole[A]["properties"]["disputes"] == 1 and whole[D]["properties"]["disputes"] == 0


def test_scan_clusters_are_the_definitions_scan_and_say_how(city):
    from geo.hotspots import DEFAULT
    from geo.store import counts as store_counts

    _, data = run(city, "scan_clusters", since=NOV[0], until=NOV[1])
    feats = features(data)
    grids = store_requests.read_grids(city)
    counts = store_counts.request_counts_per_grid(city, since=NOV[0], until=NOV[1])
    same = DEFAULT.scan(grids[["code", "population", "geometry"]],
                        counts[["grid_code", "disputes"]])
    assert len(feats) == len(same) >= 1
    for feat, (_, row) in zip(feats, same.iterrows(), strict=True):
        props = feat["properties"]
        for key in ("cluster", "centre", "grids", "codes", "disputes", "p_value", "found"):
            assert props[key] == row[key]
        assert props["relative_risk"] == pytest.approx(row["relative_risk"])
        assert shapely.geometry.shape(feat["geometry"]).equals(row.geometry)
    props = feats[0]["properties"]
    assert (props["method"], props["replicates"], props["max_share"], props["alpha"]) == (
        "kulldorff_poisson_circular", DEFAULT.scan_replicates, DEFAULT.scan_share,
        DEFAULT.scan_alpha)
    assert props["window_days"] == pytest.approx(30.0)


def test_bulletin_geojson_has_unit_polygons_and_area(city):
    result, data = run(city, "bulletin", month="2026-11", area=T1)
    feats = features(data)
    assert {f["properties"]["code"] for f in feats} == {T1, C1, C2}
    union = shapely.geometry.shape(by_code(feats)[C1]["geometry"])
    assert union.area == pytest.approx(shapely.union_all(grid_shapes()[:2]).area, rel=1e-6)
    assert all(f["properties"]["month"] == "2026-11" for f in feats)
    with pytest.raises(ValueError, match="grid"):
        run(city, "bulletin", month="2026-11", area=A)
    result, data = run(city, "bulletin", month="2026-11", level="community")
    assert {f["properties"]["level"] for f in features(data)} == {"community"}


def test_empty_database_exports_empty_layers(engine, tmp_path):
    for layer in export.LAYERS:
        _, data = run(engine, layer, month="2026-11" if layer == "bulletin" else None)
        assert loads(data) == {"type": "FeatureCollection", "name": layer, "features": []}
    path = tmp_path / "e.gpkg"
    export.export_layer(engine, layer="requests", fmt="gpkg", path_or_buffer=path)
    assert pyogrio.read_info(path, layer="requests")["features"] == 0
    _, data = run(engine, "requests", "csv")
    assert data.decode("utf-8-sig").splitlines()[0].startswith("id,external_id,")


# --------------------------------------------------------------------------- streaming


class CountingBuffer(io.BytesIO):
    def __init__(self):
        super().__init__()
        self.writes = 0

    def write(self, data):
        self.writes += 1
        return super().write(data)


def many_requests(n, *, days=20):
    rows = []
    for i in range(n):
        col, row = i % 97, (i // 97) % 89
        rows.append(req(f"m{i:05d}", None, datetime(2026, 11, 1 + i % days, i % 24, i % 60),
                        lon=112.30 + col * 0.0002, lat=28.55 + row * 0.0002,
                        description=f"第{i}号"))
    frame = pd.DataFrame(rows)
    frame["grid_code"] = [A if lat >= 28.56 and lon < 112.31 else None
                          for lon, lat in zip(frame["lon"], frame["lat"], strict=True)]
    frame["outside_grid"] = frame["grid_code"].isna()
    return frame


def test_large_export_streams_in_chunks_with_progress(engine, four_grids):
    grids = four_grids.copy()
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, grids.assign(code=[A, B, C, D]))
        store_requests.bulk_insert_requests(conn, many_requests(20_000))
    calls = []
    buf = CountingBuffer()
    result = export.export_layer(engine, layer="requests", fmt="geojson", path_or_buffer=buf,
                                 chunk_rows=5000, progress=lambda f, m: calls.append((f, m)))
    doc = loads(buf.getvalue())
    assert result.rows == len(doc["features"]) == 20_000
    ids = [f["properties"]["external_id"] for f in doc["features"]]
    assert len(set(ids)) == 20_000
    assert buf.writes >= 5  # header, four chunks of features, footer
    fractions = [f for f, _ in calls]
    assert len(calls) >= 6
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("20,000" in m for _, m in calls)


def test_request_chunks_partition_the_window_exactly(city):
    for rows in (1, 2, 3, 100):
        result, data = run(city, "requests", chunk_rows=rows)
        ids = [f["properties"]["external_id"] for f in features(data)]
        assert sorted(ids) == sorted(r["external_id"] for r in REQUESTS)
        assert result.rows == len(REQUESTS)
        reported = [f["properties"]["reported_at"] for f in features(data)]
        assert reported == sorted(reported)


def test_csv_streams_in_chunks_with_one_header(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids.assign(code=[A, B, C, D]))
        store_requests.bulk_insert_requests(conn, many_requests(1200, days=6))
    result, data = run(engine, "requests", "csv", chunk_rows=250)
    text = data.decode("utf-8-sig")
    assert text.count("id,external_id,") == 1
    frame = pd.read_csv(io.StringIO(text), dtype=str)
    assert len(frame) == result.rows == 1200


def test_requests_carry_their_escalation_level_at_the_export_moment(city):
    # Exported at 12-15 00:00 UTC; each a 10-day span from 12-01 (due soon after 80 %).
    def dated(ext, due, resolved=None):
        row = req(ext, C, datetime(2026, 12, 1))
        row.update(due_at=due, resolved_at=resolved,
                   status="resolved" if resolved else "in_progress")
        return row

    rows = pd.DataFrame([dated("e-soon", datetime(2026, 12, 16)),
                         dated("e-late", datetime(2026, 12, 11)),
                         dated("e-long", datetime(2026, 12, 6)),
                         dated("e-fine", datetime(2027, 1, 31)),
                         dated("e-done", datetime(2026, 12, 6), resolved=datetime(2026, 12, 7))])
    with store_engine.transaction(city) as conn:
        store_requests.insert_requests(conn, rows)
    _, data = run(city, "requests", since=datetime(2026, 11, 30, 16),
                  until=datetime(2026, 12, 14, 16))
    props = {k: v["properties"] for k, v in by_code(features(data), "external_id").items()}
    assert {k: (p["escalation"], p["escalation_name"]) for k, p in props.items()} == {
        "e-soon": ("due_soon", "即将到期"), "e-late": ("overdue", "已超期"),
        "e-long": ("long_overdue", "严重超期"), "e-fine": ("in_time", "正常"),
        "e-done": (None, None)}


def test_free_text_is_exported_with_phone_and_id_masked_unless_personal(engine, four_grids):
    said = "邻居吵闹，请回电13912345678，身份证43090319900101123X"
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.insert_requests(conn, pd.DataFrame([
            req("pii", A, datetime(2026, 11, 2, 1), description=said)]))
    _, data = run(engine, "requests", "csv")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert frame["description"].tolist() == [
        "邻居吵闹，请回电139****5678，身份证430***********123X"]
    _, data = run(engine, "requests", "csv", personal=True)
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert frame["description"].tolist() == [said]


# --------------------------------------------------------------------------- readers' needs

#: A bow-tie: the ring crosses itself at (112.315, 28.555), as stored grid 430921125238002.
BOWTIE = shapely.Polygon([(112.31, 28.55), (112.32, 28.56), (112.32, 28.55), (112.31, 28.56)])


@pytest.fixture
def bowtie_city(city):
    """The tiny city with grid D's outline replaced by a self-intersecting ring."""
    grids = store_requests.read_grids(city)
    grids.loc[grids["code"] == D, "geometry"] = shapely.MultiPolygon([BOWTIE])
    assert not shapely.is_valid(grids.loc[grids["code"] == D, "geometry"].iloc[0])
    with store_engine.transaction(city) as conn:
        store_requests.write_grids(conn, grids)
    return city


def test_gpkg_is_version_1_2_with_chinese_field_aliases(city, tmp_path):
    import sqlite3

    path = tmp_path / "q.gpkg"
    export.export_layer(city, layer="grids", fmt="gpkg", path_or_buffer=path)
    export.export_layer(city, layer="requests", fmt="gpkg", path_or_buffer=path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 10200
        aliases = dict(conn.execute(
            "SELECT table_name || '.' || column_name, name FROM gpkg_data_columns"))
        schema_ext = conn.execute(
            "SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_schema'"
            " AND table_name = 'gpkg_data_columns'").fetchone()[0]
    conn.close()
    assert aliases["grids.community_name"] == "社区"
    assert aliases["grids.area_km2"] == "面积(平方公里)"
    assert aliases["grids.geometry_repaired"] == "几何已修复"
    assert aliases["requests.reported_at"] == "上报时间"
    assert schema_ext == 1
    # The layers still read back whole, with their ASCII field names.
    assert pyogrio.read_info(path, layer="grids")["features"] == 4
    assert "community_name" in pyogrio.read_info(path, layer="grids")["fields"]


def test_field_aliases_name_indicator_scores_after_their_indicator():
    assert export.field_alias("resolution_rate_score") == "办结率得分"
    assert export.field_alias("no_such_field") is None


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_invalid_stored_geometry_is_repaired_and_flagged(bowtie_city, fmt, tmp_path):
    path = tmp_path / f"g.{fmt}"
    result = export.export_layer(bowtie_city, layer="grids", fmt=fmt, path_or_buffer=path)
    assert result.repaired == 1 and "geometry_repaired" in result.columns
    back = pyogrio.read_dataframe(path).set_index("code")
    assert back["geometry_repaired"].tolist() == [False, False, False, True]  # A, B, C, D
    fixed = back.geometry[D]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    # Both triangles of the bow-tie, each a quarter of the 0.01° square.
    assert len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(0.01 * 0.01 / 2)
    assert back.geometry[A].is_valid and shapely.equals(back.geometry[C], shapely.box(
        112.30, 28.55, 112.31, 28.56))


def test_repair_keeps_only_polygonal_parts():
    spike = shapely.Polygon([(0, 0), (2, 0), (2, 2), (0, 2), (0, 0), (-1, -1), (0, 0)])
    fixed, bad = export.writers.repair(np.array([spike, BOWTIE, None], dtype=object),
                                       multi=True)
    assert bad.tolist() == [True, True, False]
    assert all(g.is_valid and g.geom_type == "MultiPolygon" for g in fixed[:2])
    assert fixed[0].area == pytest.approx(4.0) and fixed[2] is None


def test_properties_are_rounded_to_sensible_precision(city):
    grids = store_requests.read_grids(city)
    grids["area_km2"] = [0.04721803676017894, 0.1, 1 / 3, 2 / 7]  # areas as computed
    with store_engine.transaction(city) as conn:
        store_requests.write_grids(conn, grids)
    _, data = run(city, "grids", since=NOV[0], until=NOV[1])
    text = data.decode()
    assert not re.search(r"\d\.\d{7,}", text)  # nothing anywhere past 6 decimals
    props = by_code(features(data))
    assert [props[c]["properties"]["area_km2"] for c in (A, B, C, D)] == [
        0.0472, 0.1, 0.3333, 0.2857]
    assert props[B]["properties"]["requests_per_1k"] == 1.54  # 1 of 650 residents
    _, data = run(city, "coverage", since=NOV[0], until=NOV[1])
    for p in (f["properties"] for f in features(data)):
        assert round(p["covered_share"], 3) == p["covered_share"]
        assert round(p["covered_km2"], 4) == p["covered_km2"]
    _, data = run(city, "requests", fmt="csv")
    assert not re.search(r"\d\.\d{7,}", data.decode("utf-8-sig"))


def test_decimals_per_field():
    decimals = export.writers.decimals
    assert (decimals("area_km2"), decimals("on_time_rate"), decimals("covered_share")) == (
        4, 3, 3)
    assert (decimals("lon"), decimals("nearest_station_m"), decimals("gi_p")) == (6, 1, 6)
