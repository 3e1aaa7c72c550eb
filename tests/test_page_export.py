"""AppTests of the export page: default, filtered and run exports, English, empty database."""

import io
import json
from datetime import date

import pandas as pd

from geo.store import access as store_access
from geo.store import engine as store_engine
from tests.pages import database, run_page, texts

EXPORT = "pages/export.py"


def _run(at, url):
    with database(url):
        at.run()
    return at


def _audit_count(url) -> int:
    eng = store_engine.make_engine(url)
    try:
        return len(store_access.read_audit(eng, limit=100_000))
    finally:
        eng.dispose()


def test_export_page_shows_choices_and_map(demo_url):
    at = run_page(demo_url, EXPORT)
    assert not at.exception
    page = texts(at)
    assert "数据导出" in page and "不含个人信息" in page
    layer = at.selectbox(key="export_layer")
    assert layer.value == "grids"
    wanted = {"诉求点位", "警务站点", "警务覆盖（按网格）", "矛盾纠纷热点", "月度通报（治理指数）"}
    assert wanted <= set(layer.options)
    assert "导出范围内的网格（6,017 个）" in page  # the legend counts the whole city
    assert at.radio(key="export_format").value == "geojson"


def test_export_stations_csv_downloads_and_is_logged(demo_url):
    before = _audit_count(demo_url)
    at = run_page(demo_url, EXPORT)
    at.selectbox(key="export_layer").set_value("stations")
    _run(at, demo_url)
    at.radio(key="export_format").set_value("csv")
    _run(at, demo_url)
    at.button(key="export_run").click()
    _run(at, demo_url)
    assert not at.exception
    done = at.session_state["_export_result"]
    assert done["rows"] == 183 and done["name"] == "gridmap_stations.csv"
    assert done["body"].startswith("\ufeff".encode())
    frame = pd.read_csv(io.BytesIO(done["body"]), encoding="utf-8-sig")
    assert len(frame) == 183 and "lon" in frame.columns
    assert "导出完成：183 行" in texts(at)
    assert at.download_button(key="export_download") is not None
    assert _audit_count(demo_url) == before + 1


def test_export_grids_of_a_county_as_geojson(demo_url):
    at = run_page(demo_url, EXPORT, area="430903")
    # The area follows the sidebar's choice.
    assert at.selectbox(key="export_area_430903").value == "430903"
    at.date_input(key="export_days").set_value((date(2026, 11, 1), date(2026, 11, 20)))
    _run(at, demo_url)
    at.button(key="export_run").click()
    _run(at, demo_url)
    assert not at.exception
    done = at.session_state["_export_result"]
    assert done["name"] == "gridmap_grids_430903_20261101-20261120.geojson"
    doc = json.loads(done["body"])
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert 0 < done["rows"] == len(doc["features"]) < 6017
    props = doc["features"][0]["properties"]
    assert props["county_code"] == "430903"
    assert "head_phone" not in props and "head_name" not in props  # no personal data


def test_export_bulletin_layer_takes_a_month(demo_url):
    at = run_page(demo_url, EXPORT)
    at.selectbox(key="export_layer").set_value("bulletin")
    _run(at, demo_url)
    assert not at.exception
    month = at.selectbox(key="export_month").value
    at.selectbox(key="export_level").set_value("county")
    at.radio(key="export_format").set_value("csv")
    _run(at, demo_url)
    at.button(key="export_run").click()
    _run(at, demo_url)
    assert not at.exception
    done = at.session_state["_export_result"]
    assert done["rows"] == 8 and month.replace("-", "") in done["name"]


def test_export_page_in_english(demo_url):
    at = run_page(demo_url, EXPORT, lang="en")
    assert not at.exception
    page = texts(at)
    assert "Export" in page and "no personal data" in page
    assert "数据导出" not in page


def test_export_page_on_an_empty_database(empty_url):
    at = run_page(empty_url, EXPORT)
    assert not at.exception
    assert "数据库中还没有网格" in texts(at)


def test_size_text():
    from ui.export import size_text

    assert size_text(2048) == "2.0 KB"
    assert size_text(3 * 1024 * 1024) == "3.0 MB"


def test_hotspots_default_to_the_hotspot_pages_window_and_say_how(demo_url):
    from datetime import timedelta

    from geo import hotspots

    at = run_page(demo_url, EXPORT)
    assert at.date_input(key="export_days").value[1] - at.date_input(
        key="export_days").value[0] == timedelta(days=29)  # other layers: 30 days
    at.selectbox(key="export_layer").set_value("hotspots")
    _run(at, demo_url)
    assert not at.exception
    first, last = at.date_input(key="export_days_hotspots").value
    assert (last - first).days + 1 == hotspots.DEFAULT.window_days == 90
    assert "Queen 邻接加 800 米距离带，默认近 90 天" in texts(at)
