"""AppTests of the monthly bulletin: default, filtered, level switch, English, empty states."""

import pandas as pd
import pytest

import ui.data
from geo.bulletin import bulletin_months
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from tests.pages import database, map_file, map_style, run_page, texts
from tests.tiny_city import admin_units

BULLETIN = "pages/bulletin.py"


def _frames(at) -> list[pd.DataFrame]:
    return [df.value for df in at.dataframe]


def _ranking(at) -> pd.DataFrame:
    """The full ranking table: the widest dataframe on the page."""
    return max(_frames(at), key=lambda f: f.shape[1])


def test_bulletin_ranks_townships_of_the_last_complete_month(demo_url):
    at = run_page(demo_url, BULLETIN)
    assert not at.exception
    page = texts(at)
    assert "基层治理指数" in page and "前五名" in page and "后五名" in page
    month = at.selectbox(key="bulletin_month")
    # The demo ends now: the default is the month before the current one.
    now = pd.Timestamp.now("Asia/Shanghai").tz_localize(None)
    assert month.value == str(now.to_period("M") - 1)
    table = _ranking(at)
    assert len(table) == 98  # every township of the Yiyang demo
    assert table["排名"].iloc[0] == "1"
    assert {"得分变化", "排名变化", "满意率", "每千人诉求量"} <= set(table.columns)
    assert table["满意率"].str.endswith("%").any()
    assert at.download_button(key="bulletin_download") is not None


def test_bulletin_filtered_to_a_county_keeps_city_wide_ranks(demo_url):
    at = run_page(demo_url, BULLETIN, area="430903")
    assert not at.exception
    assert "赫山区基层治理指数" in texts(at)
    table = _ranking(at)
    assert 0 < len(table) < 98
    assert set(table["上级"]) == {"赫山区"}


def test_bulletin_level_and_month_widgets(demo_url):
    at = run_page(demo_url, BULLETIN)
    at.segmented_control(key="bulletin_level").set_value("county")
    eng = store_engine.make_engine(demo_url)
    first = str(bulletin_months(eng)[0])
    eng.dispose()
    at.selectbox(key="bulletin_month").set_value(first)
    with database(demo_url):
        at.run()
    assert not at.exception
    table = _ranking(at)
    assert len(table) == 8  # the demo's counties and districts
    period = pd.Period(first, freq="M")
    assert f"{period.year}年{period.month}月" in texts(at)


def test_over_the_polygon_limit_townships_are_coloured_by_their_own_score(
        demo_url, monkeypatch):
    monkeypatch.setattr(ui.data, "MAX_POLYGONS", 1_000)
    at = run_page(demo_url, BULLETIN)
    assert not at.exception
    assert len(map_file(at)["codes"]) == 98
    # Five score classes over the 98 townships, not one plain colour.
    assert len(set(map_style(at)["classes"])) >= 4
    assert "网格太多" not in texts(at)


def test_bulletin_in_english(demo_url):
    at = run_page(demo_url, BULLETIN, lang="en")
    assert not at.exception
    page = texts(at)
    assert "Governance index" in page and "Top five" in page
    assert "前五名" not in page
    assert "Satisfaction" in _ranking(at).columns


def test_bulletin_on_an_empty_database(empty_url):
    at = run_page(empty_url, BULLETIN)
    assert not at.exception
    assert "数据库中还没有网格" in texts(at)


@pytest.fixture
def grids_only_url(tmp_path, four_grids) -> str:
    url = f"sqlite:///{tmp_path / 'grids.db'}"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_admin_units(conn, admin_units())
        store_requests.write_grids(conn, four_grids)
    eng.dispose()
    return url


def test_bulletin_without_requests_says_so(grids_only_url):
    at = run_page(grids_only_url, BULLETIN)
    assert not at.exception
    assert "暂无月度通报" in texts(at)


def test_rank_and_score_change_words():
    from ui import bulletin

    assert bulletin.rank_change_text(2) == "↑2"
    assert bulletin.rank_change_text(-1) == "↓1"
    assert bulletin.rank_change_text(0) == "持平"
    assert bulletin.rank_change_text(pd.NA) == "—"
    assert bulletin.score_change_text(-3.44) == "−3.4"
    limits, colours = bulletin.score_classes(pd.Series([10.0, 20, 30, 40, 50, 60]))
    assert len(colours) == len(limits) + 1 == 5
    assert colours[0] == bulletin.SCORE_COLOURS[0] and colours[-1] == bulletin.SCORE_COLOURS[-1]


@pytest.fixture
def story_url(engine, four_grids):
    """The supervision story (tests/supervision_story.py): November 2026, both backends."""
    from tests.supervision_story import tell

    tell(engine, four_grids)
    return engine.url.render_as_string(hide_password=False)


def test_bulletin_lists_supervision_and_returns_per_unit(story_url):
    from tests.pages import COMMANDER

    at = run_page(story_url, BULLETIN, account=COMMANDER)
    assert not at.exception
    assert at.selectbox(key="bulletin_month").value == "2026-11"
    table = _ranking(at).set_index("名称")
    cols = ["督办件数", "督办按期率", "回退次数"]
    # 甲街道: r1 r2 r3 r6 urged, 1 of 3 due on time (under five: a count, not a rate).
    assert table.loc["甲街道", cols].tolist() == ["4", "(1/3)", "2"]
    assert table.loc["乙镇", cols].tolist() == ["1", "(1/1)", "0"]
    page = texts(at)
    assert "当月督办" in page and "按期 (2/4) · 回退 2 次" in page
    at.segmented_control(key="bulletin_level").set_value("community")
    with database(story_url):
        at.run()
    assert not at.exception
    table = _ranking(at).set_index("名称")
    assert table.loc[["甲社区", "乙社区", "丙村"], cols].values.tolist() == [
        ["3", "(1/2)", "0"], ["1", "(0/1)", "2"], ["1", "(1/1)", "0"]]
    assert "不计入得分" in " ".join(c.value for c in at.caption)


def test_bulletin_supervision_in_english(story_url):
    from tests.pages import COMMANDER

    at = run_page(story_url, BULLETIN, account=COMMANDER, lang="en")
    assert not at.exception
    table = _ranking(at)
    assert {"Supervised", "Supervised on time", "Returns"} <= set(table.columns)
    assert "Supervised this month" in texts(at)


def test_a_grid_head_sees_their_units_true_rank_and_nobody_elses(demo_url):
    from geo.access import Scope
    from geo.accounts import Account
    from geo.bulletin import monthly_bulletin

    head = Account("gridhead", "网格长", "grid_head", ("430902005001",))
    at = run_page(demo_url, BULLETIN, account=head)
    assert not at.exception
    month = at.selectbox(key="bulletin_month").value
    eng = store_engine.make_engine(demo_url)
    everyone = monthly_bulletin(eng, month=month).rankings["township"].set_index("code")
    mine = monthly_bulletin(eng, month=month, scope=Scope("grid_head", ("430902005001",)))
    eng.dispose()
    township = everyone.loc["430902005"]
    page = texts(at)
    assert "本单位排名" in page and "第一名" not in page and "参评单位" not in page
    if township["small_sample"]:
        assert "样本不足" in page
    else:
        assert f"第 {int(township['rank'])} 名 / {mine.ranked['township']}" in page
    table = _ranking(at)
    assert table["代码"].tolist() == ["430902005"]  # no other unit's figures
    assert "样本 n（应办结）" in table.columns


def _downloaded(monkeypatch, url, **kw) -> pd.DataFrame:
    """Run the bulletin page and read the CSV its download button carries."""
    import io

    import streamlit as st

    import ui.bulletin

    sent = []
    original = st.download_button

    def capture(label, data, *args, **kwargs):
        sent.append(data)
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(ui.bulletin.st, "download_button", capture)
    at = run_page(url, BULLETIN, **kw)
    assert not at.exception
    assert sent, "no download button"
    body = sent[-1]() if callable(sent[-1]) else sent[-1]  # made on the click (ui.downloads)
    return pd.read_csv(io.BytesIO(body), encoding="utf-8-sig", dtype=str)


def test_bulletin_csv_carries_only_the_units_of_the_readers_scope(demo_url, monkeypatch):
    from geo.accounts import Account

    everyone = _downloaded(monkeypatch, demo_url)
    assert len(everyone) > 1500  # every county, township and community of the city
    head = Account("gridhead", "网格长", "grid_head", ("430902005001",))
    mine = _downloaded(monkeypatch, demo_url, account=head)
    # The community, its township and its county: what the page's table shows.
    assert sorted(mine["代码"]) == ["430902", "430902005", "430902005001"]
    # A county chosen by a commander: that county's units only.
    county = _downloaded(monkeypatch, demo_url, area="430903")
    assert len(county) < len(everyone)
    assert all(code.startswith("430903") for code in county["代码"])


def test_a_bad_minimum_sample_setting_is_named_on_the_page_not_a_traceback(demo_url,
                                                                            monkeypatch):
    monkeypatch.setenv("GRIDMAP_BULLETIN_MIN_SAMPLE", "many")
    at = run_page(demo_url, BULLETIN)
    assert not at.exception
    page = texts(at)
    # Named (Markdown escapes its underscores), with the value and what is wrong.
    assert "站点配置有误" in page and "BULLETIN" in page and "'many'" in page
    assert "Traceback" not in page
