"""AppTests of the police coverage page: default, area, widgets, English, no stations, empty."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

import ui.data
from tests.pages import map_file, run_page, texts

PAGE = "pages/coverage.py"


@pytest.fixture(scope="module")
def no_stations_url(demo_url, tmp_path_factory) -> str:
    """The demo with every police station removed."""
    src = demo_url.removeprefix("sqlite:///")
    path = tmp_path_factory.mktemp("nostations") / "demo.db"
    shutil.copy(src, path)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM station")
    return f"sqlite:///{path}"


def test_coverage_shows_kpis_map_and_tables(demo_url):
    at = run_page(demo_url, PAGE)
    assert not at.exception
    page = texts(at)
    assert "警务覆盖 · 益阳市" in page
    assert "派出所" in page and "人口覆盖率" in page and "未覆盖网格" in page
    assert "%" in page and "公里" in page
    assert "建议新增警务站站址" in page and "新增 5 处后" in page
    assert len(at.dataframe) == 2  # suggested sites and uncovered grids
    sites = at.dataframe[0].value
    assert len(sites) == 5
    gaps = at.dataframe[1].value
    assert len(gaps) > 0 and "编码" in gaps.columns


def test_coverage_filtered_to_a_county(demo_url):
    at = run_page(demo_url, PAGE, area="430903")
    assert not at.exception
    assert "警务覆盖 · 赫山区" in texts(at)
    gaps = at.dataframe[1].value
    assert gaps["编码"].str.startswith("430903").all()
    sites = at.dataframe[0].value
    assert sites["编码"].str.startswith("430903").all()


def test_coverage_widgets_change_figure_and_sites(demo_url):
    at = run_page(demo_url, PAGE, area="430902")
    assert not at.exception
    at.number_input(key="cov_sites").set_value(2)
    at.selectbox(key="cov_weight").set_value("requests")
    at.segmented_control(key="cov_figure").set_value("distance")
    at.checkbox(key="cov_areas").uncheck()
    at.run()
    assert not at.exception
    page = texts(at)
    assert "最近警务点距离" in page and "诉求覆盖率" in page
    assert len(at.dataframe[0].value) == 2
    at.number_input(key="cov_sites").set_value(0)
    at.run()
    assert not at.exception
    assert "填写要建议的站点数量" in texts(at)
    assert len(at.dataframe) == 1  # only the uncovered grids


def test_coverage_in_english(demo_url):
    at = run_page(demo_url, PAGE, lang="en")
    assert not at.exception
    page = texts(at)
    assert "Police coverage" in page and "Residents covered" in page
    assert "警务覆盖" not in page and "人口覆盖率" not in page


def test_coverage_without_stations_says_so(no_stations_url):
    at = run_page(no_stations_url, PAGE)
    assert not at.exception
    page = texts(at)
    assert "尚未导入派出所" in page
    assert "0.0%" in page  # nothing covered


def test_coverage_bad_area_falls_back(demo_url):
    at = run_page(demo_url, PAGE, area="999999")
    assert not at.exception
    page = texts(at)
    assert "999999" in page and "警务覆盖 · 益阳市" in page


def test_coverage_on_an_empty_database(empty_url):
    at = run_page(empty_url, PAGE)
    assert not at.exception
    assert "数据库中还没有网格" in texts(at)


def test_over_the_polygon_limit_the_map_shows_plain_units_and_says_how_to_zoom(
        demo_url, monkeypatch):
    # Coverage per grid is not summed to units: they are drawn plain, with the hint.
    monkeypatch.setattr(ui.data, "MAX_POLYGONS", 1_000)
    at = run_page(demo_url, PAGE)
    assert not at.exception
    assert "网格太多，地图暂按乡镇（街道）显示" in texts(at)
    assert len(map_file(at)["codes"]) == 98


def _sent(at) -> str:
    """What the page's map components send to the browser, as text."""
    import json

    return " ".join(json.dumps(json.loads(c.proto.json_args), ensure_ascii=False)
                    for c in at.get("component_instance"))


def test_station_markers_follow_the_readers_scope(demo_url):
    from geo.accounts import Account
    from geo.grids import GridIndex
    from geo.store import engine as store_engine
    from geo.store.requests import read_grids, read_stations

    eng = store_engine.make_engine(demo_url, upgrade=False)
    stations = read_stations(eng)
    grids = read_grids(eng)
    eng.dispose()
    stations["grid_code"] = GridIndex(grids).assign(stations["lon"], stations["lat"])
    names = set(stations["name"].dropna())
    inside = set(stations.loc[stations["grid_code"].fillna("").str.startswith("430902005001"),
                              "name"])

    everyone = run_page(demo_url, PAGE)
    assert not everyone.exception
    sent = _sent(everyone)
    all_names = {n for n in names if n in sent}
    head = Account("gridhead", "网格长", "grid_head", ("430902005001",))
    mine = run_page(demo_url, PAGE, account=head)
    assert not mine.exception
    sent = _sent(mine)
    shown = {n for n in names if n in sent}
    assert len(all_names) > 100 and shown < all_names
    assert shown <= inside  # names, officers and radius of other areas never sent
