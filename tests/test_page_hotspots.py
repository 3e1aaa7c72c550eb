"""AppTests of the dispute hotspots page: scan default, Gi*, area, widgets, English, empty."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from tests.pages import run_page, texts

PAGE = "pages/hotspots.py"


@pytest.fixture(scope="module")
def no_disputes_url(demo_url, tmp_path_factory) -> str:
    """The demo with every dispute removed."""
    src = demo_url.removeprefix("sqlite:///")
    path = tmp_path_factory.mktemp("nodisputes") / "demo.db"
    shutil.copy(src, path)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM request_event WHERE request_id IN "
                     "(SELECT id FROM request WHERE category = 'dispute')")
        conn.execute("DELETE FROM request WHERE category = 'dispute'")
    return f"sqlite:///{path}"


def _table(at, column: str):
    """The page's table that has ``column``."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_hotspots_open_on_the_scan_clusters(demo_url):
    at = run_page(demo_url, PAGE)
    assert not at.exception
    page = texts(at)
    assert "矛盾纠纷热点 · 益阳市" in page
    # The map and the first tile show the scan: the demo's planted dispute clusters, filled
    # by relative risk, with risk and p in the first table and one line on what it means.
    assert at.segmented_control(key="hot_mode").value == "scan"
    assert "纠纷聚集区（近90天，按相对风险）" in page and "不在聚集区" in page
    assert "聚集区中心（大小表示纠纷数）与边界" in page
    assert "扫描统计聚集区" in page and "不说明原因" in page
    scan = at.dataframe[0].value
    assert "相对风险" in scan.columns
    assert len(scan) >= 3
    assert all(float(p) <= 0.05 for p in scan["p 值"])
    assert all(float(rr) > 1 for rr in scan["相对风险"])
    # The Gi* table follows the scan's.
    assert set(_table(at, "置信度")["置信度"]) <= {"90%", "95%", "99%"}


def test_hotspots_gi_mode_shows_classes_and_cluster_markers(demo_url):
    at = run_page(demo_url, PAGE)
    at.segmented_control(key="hot_mode").set_value("gi")
    at.run()
    assert not at.exception
    page = texts(at)
    assert "热点 99%" in page and "不显著" in page
    assert "热点片区" in page  # Gi* cluster markers are on the map
    assert "纠纷聚集区边界（扫描统计，p ≤ 0.05）" in page  # and the scan's outlines
    assert len(_table(at, "置信度")) > 0


def test_hotspots_filtered_to_a_county(demo_url):
    at = run_page(demo_url, PAGE, area="430903")
    assert not at.exception
    assert "矛盾纠纷热点 · 赫山区" in texts(at)
    table = _table(at, "置信度")
    assert len(table) > 0 and table["编码"].str.startswith("430903").all()
    centres = _table(at, "相对风险")["中心网格"]
    assert centres.str.contains(" 430903").all()


def test_hotspots_widgets_window_trend_and_density(demo_url):
    at = run_page(demo_url, PAGE)
    assert not at.exception
    at.segmented_control(key="hot_window").set_value("365d")
    at.segmented_control(key="hot_mode").set_value("trend")
    at.checkbox(key="hot_density").check()
    at.run()
    assert not at.exception
    page = texts(at)
    assert "近52周趋势" in page
    assert "纠纷密度" in page
    assert "新增热点" in page  # the trend legend


def test_hotspots_window_from_the_url(demo_url):
    at = run_page(demo_url, PAGE, window="180d")
    assert not at.exception
    assert "近26周" in texts(at)
    bad = run_page(demo_url, PAGE, window="2y")
    assert not bad.exception
    assert "window=2y" in texts(bad)


def test_hotspots_in_english(demo_url):
    at = run_page(demo_url, PAGE, lang="en")
    assert not at.exception
    page = texts(at)
    assert "Dispute hotspots" in page and "Dispute clusters" in page
    assert "Relative risk ≥ 3" in page or "Relative risk 2–3" in page
    assert "矛盾纠纷热点" not in page


def test_hotspots_with_no_disputes_say_so(no_disputes_url):
    at = run_page(no_disputes_url, PAGE)
    assert not at.exception
    page = texts(at)
    assert "全市没有矛盾纠纷记录" in page
    assert "没有达到显著水平的热点网格" in page


def test_hotspots_on_an_empty_database(empty_url):
    at = run_page(empty_url, PAGE)
    assert not at.exception
    assert "数据库中还没有网格" in texts(at)
