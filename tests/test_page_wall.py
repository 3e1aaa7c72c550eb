"""AppTests of the command wall: default, filtered, kiosk, bad parameters, empty database."""

import os

import pytest
from streamlit.testing.v1 import AppTest

import ui.data
from tests.pages import ADMIN, COMMANDER, map_file, run_page, texts

WALL = "pages/wall.py"


def test_wall_shows_kpis_map_and_ticker(demo_url):
    at = run_page(demo_url, WALL)
    assert not at.exception
    page = texts(at)
    assert "指挥大屏 · 益阳市" in page
    assert "未办结" in page and "满意率" in page
    assert "最新揪心事" in page
    assert "%" in page  # rates formatted as percentages


def test_wall_counts_newly_overdue_and_marks_the_ticker(demo_url):
    at = run_page(demo_url, WALL)
    assert not at.exception
    page = texts(at)
    assert "24小时新超期" in page and "仍未办结" in page
    assert "最新揪心事与新超期" in page


def test_a_bad_deadline_file_is_named_on_the_wall_without_a_traceback(demo_url, tmp_path,
                                                                       monkeypatch):
    bad = tmp_path / "deadlines.toml"
    bad.write_text('[escalation]\nlong_overdue = 0.5\n', encoding="utf-8")
    monkeypatch.setenv("GRIDMAP_DEADLINES", str(bad))
    at = run_page(demo_url, WALL)
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "站点配置有误" in errors
    assert "GRIDMAP\\_DEADLINES" in errors and "long\\_overdue must be more than 1" in errors
    assert "deadlines\\.toml" in errors


def test_wall_filtered_to_a_county(demo_url):
    at = run_page(demo_url, WALL, area="430903")
    assert not at.exception
    assert "指挥大屏 · 赫山区" in texts(at)


def test_wall_in_english(demo_url):
    at = run_page(demo_url, WALL, lang="en")
    assert not at.exception
    page = texts(at)
    assert "Command wall" in page and "Satisfaction" in page
    assert "满意率" not in page


def test_kiosk_hides_the_sidebar_and_reads_refresh(demo_url):
    at = run_page(demo_url, WALL, kiosk="1", refresh="45", area="430902")
    assert not at.exception
    assert len(at.sidebar) == 0
    assert "资阳区" in texts(at)


def test_bad_parameters_are_reported_not_raised(demo_url):
    at = run_page(demo_url, WALL, area="999999", refresh="soon", colour="red")
    assert not at.exception
    page = texts(at)
    assert "999999" in page and "colour" in page and "refresh=soon" in page
    assert "指挥大屏 · 益阳市" in page  # falls back to the whole city


def test_bad_window_falls_back(demo_url):
    at = run_page(demo_url, WALL, window="1y")
    assert not at.exception
    assert "window=1y" in texts(at)


def test_empty_database_says_so(empty_url):
    at = run_page(empty_url, WALL)
    assert not at.exception
    assert "数据库中还没有网格" in texts(at)


def test_url_values_cannot_inject_markdown_links(demo_url):
    at = run_page(demo_url, WALL, area="[x](http://evil.example)", window="[y](http://e.x)")
    assert not at.exception
    for warning in at.warning:
        assert "](http" not in warning.value  # brackets escaped: shown as text, not a link


def test_kiosk_rotation_shows_one_county_at_a_time(demo_url):
    at = run_page(demo_url, WALL, kiosk="1", rotate="10")
    assert not at.exception
    page = texts(at)
    counties = ["资阳区", "赫山区", "南县", "桃江县", "安化县", "大通湖", "高新技术", "沅江市"]
    assert sum(name in page.split("更新于")[0] for name in counties) >= 1
    assert "益阳市 " not in page.split("更新于")[0].split("·")[-1]  # not the whole city


def test_sidebar_search_finds_a_grid_by_name(demo_url):
    # The search box's value set before the run, as if typed (AppTest loses the sidebar
    # on a second run of an st.navigation app, so the query cannot be typed in a rerun).
    at = run_page(demo_url, WALL, session={"grid_query": "石码头社区第1网格"})
    assert not at.exception
    assert [b.key for b in at.sidebar.button
            if b.key != "logout" and not b.key.startswith("FormSubmitter")] == ["grid_open"]
    assert not [c for c in at.sidebar.caption if "没有找到" in c.value]


def _search_box():
    """The sidebar's grid search alone, with navigation recorded instead of followed."""
    import streamlit as st

    from ui import links, sidebar

    went = st.session_state.setdefault("went", [])
    follow = links.switch_page
    links.switch_page = lambda page, *, query_params=None: went.append(
        (page, dict(query_params or {})))
    try:
        with st.sidebar:
            sidebar._grid_search()
    finally:
        links.switch_page = follow


def _search(demo_url, query: str) -> AppTest:
    at = AppTest.from_function(_search_box, default_timeout=120)
    at.session_state["_account"] = ADMIN
    os.environ["GRIDMAP_DATABASE_URL"] = demo_url  # put back by tests/conftest.py
    at.run()
    at.sidebar.text_input(key="grid_query").input(query)
    # Enter in a form's text box submits the form, as its submit button does.
    submit = [b for b in at.sidebar.button if b.key.startswith("FormSubmitter:grid_search")]
    submit[0].click().run()
    assert not at.exception, at.exception
    return at


def test_enter_in_the_search_opens_the_single_match(demo_url):
    at = _search(demo_url, "石码头社区第1网格")
    [(page, query)] = at.session_state["went"]
    code = query["grid"]
    assert page == "grid" and code.startswith("430902005001") and len(code) == 15
    # A full code opens its grid even where it prefixes nothing else.
    at = _search(demo_url, code)
    assert at.session_state["went"] == [("grid", {"grid": code})]


def test_enter_in_the_search_lists_several_matches_without_leaving(demo_url):
    at = _search(demo_url, "石码头社区")
    assert at.session_state["went"] == []
    assert any("找到" in c.value for c in at.sidebar.caption)
    assert len(at.sidebar.selectbox) == 1


def test_sidebar_search_lists_several_matches(demo_url):
    at = run_page(demo_url, WALL, session={"grid_query": "石码头社区"})
    assert not at.exception
    assert any("找到" in c.value for c in at.sidebar.caption)
    assert len(at.sidebar.selectbox) == 2  # the area picker and the list of matches


def test_sidebar_search_says_when_nothing_matches(demo_url):
    at = run_page(demo_url, WALL, session={"grid_query": "不存在的网格*"})
    assert not at.exception
    assert any("没有找到" in c.value for c in at.sidebar.caption)


def test_a_city_under_the_polygon_limit_sends_every_grid(demo_url):
    at = run_page(demo_url, WALL, area="430903")
    shapes = map_file(at)
    # Every grid, the area's coloured and the rest faint, so switching areas keeps the map.
    assert len(shapes["codes"]) == 6_017
    assert all(len(c) == 15 for c in shapes["codes"])


@pytest.mark.parametrize(("limit", "area", "level_text", "n_codes", "code_len"), [
    # 6,017 grids and 1,446 communities over 1,000: the wall sums its heat to townships.
    (1_000, None, "按乡镇（街道）汇总", 98, 9),
    # One county chosen, its grids fit under 2,000: they are sent, and only they.
    (2_000, "430903", None, None, 15),
])
def test_a_map_over_the_polygon_limit_sends_units_until_an_area_is_chosen(
        demo_url, monkeypatch, limit, area, level_text, n_codes, code_len):
    monkeypatch.setattr(ui.data, "MAX_POLYGONS", limit)
    at = run_page(demo_url, WALL, **({"area": area} if area else {}))
    assert not at.exception
    shapes = map_file(at)
    assert len(shapes["codes"]) <= limit
    assert all(len(c) == code_len for c in shapes["codes"])
    if n_codes is not None:
        assert len(shapes["codes"]) == n_codes
    else:
        assert all(c.startswith(area) for c in shapes["codes"])
    page = texts(at)
    if level_text:
        assert level_text in page and "点击地图上的区域放大" in page
    else:
        assert "汇总" not in page


def test_the_polygon_limit_comes_from_the_environment_or_says_what_is_wrong(monkeypatch):
    monkeypatch.delenv("GRIDMAP_MAX_POLYGONS", raising=False)
    assert ui.data._polygon_limit() == 10_000
    monkeypatch.setenv("GRIDMAP_MAX_POLYGONS", "2500")
    assert ui.data._polygon_limit() == 2_500
    for bad in ("lots", "0", "-5", "1e4"):
        monkeypatch.setenv("GRIDMAP_MAX_POLYGONS", bad)
        with pytest.raises(ValueError, match=f"GRIDMAP_MAX_POLYGONS='{bad}'.*whole number"):
            ui.data._polygon_limit()


def _tile(page: str, label: str) -> str:
    """The value of the KPI tile with this label, from the page's HTML."""
    import re

    found = re.search(r'gm-kpi-label">' + re.escape(label) +
                      r'</div><div class="gm-kpi-value">([^<]*)</div>'
                      r'(?:<div class="gm-kpi-note">([^<]*)</div>)?', page)
    assert found, f"no tile {label!r}"
    return found.group(1) + " | " + (found.group(2) or "")


@pytest.fixture
def story_url(engine, four_grids):
    """The supervision story (tests/supervision_story.py) told so that its cut-off is now."""
    from geo import clock
    from tests.supervision_story import CUTOFF, tell

    tell(engine, four_grids, shift=clock.now(precision="s") - CUTOFF)
    return engine.url.render_as_string(hide_password=False)


def test_wall_shows_supervision_and_the_claim_rate(story_url):
    at = run_page(story_url, WALL, account=COMMANDER)
    assert not at.exception
    page = texts(at)
    # Urged and still open: r3, r5, r6; of the 5 due among the 6 urged in 30 days, 2 on time.
    assert _tile(page, "督办在办") == "3 | 全部积压"
    assert _tile(page, "督办按期率") == "40.0% | 近30天督办 6 件"
    assert "解忧联盟认领率 50.0%（近30天 1/2 张）" in page
    # One community: fewer than five due, so the count and not a percentage.
    at = run_page(story_url, WALL, account=COMMANDER, area="430903003001")
    assert not at.exception
    page = texts(at)
    assert _tile(page, "督办在办") == "1 | 全部积压"
    assert _tile(page, "督办按期率") == "1/2 | 近30天 · 不足5件不计比率"


def test_wall_supervision_in_english(story_url):
    at = run_page(story_url, WALL, account=COMMANDER, lang="en")
    assert not at.exception
    page = texts(at)
    assert _tile(page, "Supervised, open") == "3 | whole backlog"
    assert _tile(page, "Supervised on time") == "40.0% | 6 urged, last 30 days"
    assert "Alliance claim rate 50.0% (1 of 2 cards, 30 days)" in page


def test_kiosk_ticker_masks_residents_phone_and_id_for_a_wall_token(demo_url, tmp_path):
    from datetime import datetime, timedelta
    from pathlib import Path

    import pandas as pd

    from geo import accounts
    from geo.store import engine as store_engine
    from geo.store import requests as store_requests
    from tests import browser as b

    url = f"sqlite:///{b.copy_demo(tmp_path, source=Path(demo_url.removeprefix('sqlite:///')))}"
    said = "我是王小明13912345678，身份证43090319900101123X，住3栋502，邻居打我"
    # On a whole second: the cut-off is the second after the newest report (geo.wall.cutoff).
    now = datetime.utcnow().replace(microsecond=0)
    eng = store_engine.make_engine(url)
    try:
        with store_engine.transaction(eng) as conn:
            store_requests.insert_requests(conn, pd.DataFrame([dict(
                external_id="pii-wall", grid_code="430902005001001", outside_grid=False,
                lon=112.33, lat=28.6, source="hotline", category="dispute",
                severity="urgent", route="government", status="reported",
                reported_at=now - timedelta(seconds=30), due_at=now + timedelta(hours=24),
                description=said, reporter_name="王 小明", reporter_phone="13912345678")]))
            token = accounts.create_wall_token(conn, area="430902",
                                               expires=timedelta(days=1), name="wall-pii")[1]
    finally:
        eng.dispose()
    at = run_page(url, WALL, account=None, kiosk="1", token=token)
    assert not at.exception
    page = texts(at)
    assert "139****5678" in page and "430***********123X" in page and "王**" in page
    assert "13912345678" not in page and "43090319900101123X" not in page
    assert "王小明" not in page


@pytest.mark.parametrize(("layer", "legend"), [
    ("heat", "近7天诉求"), ("backlog", "在办诉求（全部积压）"), ("overdue", "超期未办结诉求"),
    ("disputes", "在办矛盾纠纷")])
def test_each_layer_is_chosen_by_the_url_and_has_a_legend_with_units(demo_url, layer, legend):
    at = run_page(demo_url, WALL, kiosk="1", layer=layer)
    assert not at.exception
    page = texts(at)
    assert legend in page
    assert "0 件" in page  # the muted zero class, with its unit
    assert "gm-ticker-title" in page


def test_a_bad_layer_is_reported_and_heat_shown(demo_url):
    at = run_page(demo_url, WALL, kiosk="1", layer="crime,overdue")
    assert not at.exception
    page = texts(at)
    assert "layer=crime" in page
    assert "超期未办结诉求" in page  # the good one of the two


def test_unit_names_lose_the_city_in_front():
    from ui.wall import short_name

    assert short_name("湖南益阳高新技术产业园区", within="益阳市") == "高新技术产业园区"
    assert short_name("益阳市大通湖管理区", within="益阳市") == "大通湖管理区"
    assert short_name("资阳区", within="益阳市") == "资阳区"
    assert short_name("益阳", within="益阳市") == "益阳"  # nothing left: kept whole
