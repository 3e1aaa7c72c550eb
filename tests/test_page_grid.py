"""AppTests of the grid detail page: no grid, a demo grid (中文 and English), unknown codes,
a grid with no residents and no requests, and an empty database."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from tiny_city import admin_units

import ui.data
from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import live as store_live
from geo.store import requests as store_requests
from geo.store.area import AreaFilter
from tests.pages import map_file, run_page, texts

GRID = "pages/grid.py"


def _minute() -> datetime:
    return pd.Timestamp.now("UTC").tz_localize(None).floor("min").to_pydatetime()


@pytest.fixture(scope="module")
def busy_grid(demo_url) -> dict:
    """The demo grid with the most requests in the last 30 days among those with open ones."""
    eng = store_engine.make_engine(demo_url)
    now = _minute()
    counts = store_counts.request_counts_per_grid(eng, since=now - timedelta(days=30), until=now)
    counts = counts[counts["open"] > 0].sort_values(["requests", "grid_code"],
                                                    ascending=[False, True])
    code = counts["grid_code"].iloc[0]
    row = store_requests.read_grids(eng, codes=[code], personal=True).iloc[0]
    units = store_requests.read_admin_unit_attributes(eng).set_index("code")["name"]
    info = {"code": code, "name": row["name"], "head": row["head_name"],
            "community": units[code[:12]], "township": units[code[:9]],
            "county": units[code[:6]], "requests": int(counts["requests"].iloc[0])}
    eng.dispose()
    return info


def _open_count(url: str, code: str) -> set[int]:
    """Open requests of a grid now (as of this minute and the one before: a run may span)."""
    eng = store_engine.make_engine(url)
    now = _minute()
    out = {len(store_live.latest_requests(eng, until=at, limit=5000, open_only=True,
                                          area=AreaFilter(grid_code=code)))
           for at in (now, now - timedelta(minutes=1))}
    eng.dispose()
    return out


def _table(at, column: str) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _links(at) -> list[str]:
    return [e.proto.label for e in at.get("page_link")]


def test_no_grid_prompts_over_the_city_map(demo_url):
    at = run_page(demo_url, GRID)
    assert not at.exception
    page = texts(at)
    assert "网格详情" in page
    assert "点击地图上的网格" in page  # the prompt
    assert "近30天诉求" in page  # the city map's legend
    assert not at.warning


def test_a_demo_grid_in_detail(demo_url, busy_grid):
    g = busy_grid
    at = run_page(demo_url, GRID, grid=g["code"])
    assert not at.exception
    page = texts(at)
    assert f"网格详情 · {g['name']}" in [h.value for h in at.subheader]
    header = at.caption[0].value
    for part in (g["code"], g["community"], g["township"], g["county"]):
        assert part in header
    # KPI tiles over the last 30 days, compared with the 30 days before.
    for label in ("近30天诉求", "未办结", "已超期", "办结率", "按期办结率", "满意率",
                  "近30天矛盾纠纷", "较前30天", "30天前"):
        assert label in page
    assert f'<div class="gm-kpi-value">{g["requests"]:,}</div>' in page
    # The grid head, residents and WeChat coverage; the nearest police posts.
    assert g["head"] in page
    assert "微信群覆盖率" in page and "%" in page
    assert "派出所" in page and ("米" in page or "公里" in page)
    # Its open requests, overdue first, with age and deadline.
    table = _table(at, "deadline")
    assert len(table) in _open_count(demo_url, g["code"])
    assert f"未办结诉求（{len(table)}）" in page
    assert table["age"].str.contains("天|小时").all()
    late = table["deadline"].str.startswith("超期")
    assert not (late.astype(int).diff() > 0).any()  # every overdue row comes first
    assert set(table["severity"]) <= {"操心事", "烦心事", "揪心事"}
    # Breakdowns and the 12-week trend; the map's points are explained.
    assert "诉求构成（近12周）" in page and "近12周诉求趋势" in page
    assert "按类别" in page and "按紧急程度" in page and "按解决渠道" in page
    assert "地图上的点" in page
    # Its neighbours link to their own detail.
    assert any(label.endswith(tuple("0123456789")) for label in _links(at))


def test_over_the_polygon_limit_a_grid_shows_among_its_area_and_the_prompt_sums_units(
        demo_url, busy_grid, monkeypatch):
    monkeypatch.setattr(ui.data, "MAX_POLYGONS", 1_000)
    at = run_page(demo_url, GRID)
    assert not at.exception
    assert "点击地图上的区域放大" in texts(at)
    assert len(map_file(at)["codes"]) == 98
    code = busy_grid["code"]
    at = run_page(demo_url, GRID, grid=code)
    assert not at.exception
    codes = map_file(at)["codes"]
    # The largest area around the grid whose grids fit: its county, or its township.
    assert code in codes and len(codes) <= 1_000
    assert all(c[:6] == code[:6] for c in codes)
    assert "网格太多" not in texts(at)


def test_a_demo_grid_in_english(demo_url, busy_grid):
    at = run_page(demo_url, GRID, lang="en", grid=busy_grid["code"])
    assert not at.exception
    page = texts(at)
    assert f"Grid detail · {busy_grid['name']}" in page
    for label in ("Requests, 30 days", "Open", "Overdue", "Resolution rate", "Satisfaction",
                  "Grid head", "WeChat coverage", "Nearest police posts", "Open requests",
                  "By category", "Requests per week, last 12 weeks"):
        assert label in page
    for zh in ("未办结", "满意率", "网格长", "诉求构成"):
        assert zh not in page
    table = _table(at, "deadline")
    assert set(table["severity"]) <= {"Routine", "Pressing", "Urgent"}
    assert table["deadline"].str.contains("overdue|left|No deadline").all()


@pytest.mark.parametrize("code", ["430903999999999", "abc"])
def test_unknown_codes_warn_and_prompt(demo_url, code):
    at = run_page(demo_url, GRID, grid=code)
    assert not at.exception
    assert len(at.warning) == 1 and code in at.warning[0].value
    assert "不存在" in at.warning[0].value
    assert "点击地图上的网格" in texts(at)


def test_a_code_prefix_offers_matching_grids(demo_url, busy_grid):
    community = busy_grid["code"][:12]
    at = run_page(demo_url, GRID, lang="en", grid=community)
    assert not at.exception
    assert "There is no grid with code" in at.warning[0].value
    assert "Did you mean:" in texts(at)
    links = _links(at)
    assert links and all(community in label for label in links)


def test_a_code_from_the_url_cannot_inject_markdown(demo_url):
    at = run_page(demo_url, GRID, grid="[x](http://example.com)")
    assert not at.exception
    shown = at.warning[0].value
    assert r"\[x\]\(http" in shown and "](http" not in shown  # text, not a link


def test_empty_database_says_so(empty_url):
    at = run_page(empty_url, GRID, grid="430903003001001")
    assert not at.exception
    assert "数据库中还没有网格" in texts(at)


# --------------------------------------------------------------------------- a tiny city


@pytest.fixture(scope="module")
def tiny_url(tmp_path_factory) -> str:
    """Two 1 km grids: A (800 residents, requests, a volunteer) and B (no residents, no
    requests, no head); no police posts."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.db"
    url = f"sqlite:///{path}"
    eng = store_engine.make_engine(url)
    a, b = "430903003001001", "430903003001002"
    grids = gpd.GeoDataFrame(
        {"code": [a, b], "name": ["甲社区第1网格", "甲社区第2网格"],
         "community_code": ["430903003001"] * 2, "population": [800, 0],
         "households": [300, None], "head_name": ["李四", None],
         "head_phone": ["13900000000", None], "wechat_groups": [1, 0],
         "wechat_members": [400, 0], "volunteers": [6, 0]},
        geometry=[shapely.box(112.30, 28.56, 112.31, 28.57),
                  shapely.box(112.31, 28.56, 112.32, 28.57)], crs=4326)
    now = _minute()
    requests = pd.DataFrame([dict(
        external_id=f"r{i}", grid_code=a, outside_grid=False, lon=112.305, lat=28.565,
        source_crs="wgs84", source="hotline", category="noise", severity="urgent",
        route="government", status="dispatched", reported_at=now - timedelta(days=i + 1),
        due_at=now - timedelta(days=i, hours=1), description="<b>深夜</b>施工噪声")
        for i in range(3)])
    acts = pd.DataFrame({"external_id": ["v1"], "grid_code": [a],
                         "date": [date.today() - timedelta(days=3)], "title": ["夜间巡逻"],
                         "volunteers": [4], "hours": [2.0], "points": [6.0]})
    units = admin_units()
    with store_engine.transaction(eng) as conn:
        store_requests.write_admin_units(conn, units[units["code"].isin(
            ["430900", "430903", "430903003", "430903003001"])])
        store_requests.write_grids(conn, grids)
        store_requests.bulk_insert_requests(conn, requests)
        store_requests.insert_activities(conn, acts)
    eng.dispose()
    return url


def test_a_grid_with_no_residents_and_no_requests(tiny_url):
    at = run_page(tiny_url, GRID, grid="430903003001002")
    assert not at.exception
    page = texts(at)
    assert "该网格没有登记常住人口" in page  # msg.no_residents
    assert "所选时间段内没有诉求" in page  # msg.no_requests, instead of empty charts
    assert "每千人 —" in page  # per-resident figures are a dash, not inf or 0
    assert "—（群成员 ÷ 常住人口）" in page  # WeChat coverage
    assert "未登记" in page  # no grid head recorded
    assert "本网格目前没有未办结诉求" in page
    assert "还没有登记警务站点" in page
    assert "近12周没有诉求" in page


def test_a_tiny_grid_with_overdue_requests(tiny_url):
    at = run_page(tiny_url, GRID, grid="430903003001001")
    assert not at.exception
    page = texts(at)
    assert "甲社区 · 甲街道 · 赫山区" in at.caption[0].value
    table = _table(at, "deadline")
    assert len(table) == 3 and table["deadline"].str.startswith("超期").all()
    # Escalation levels (24 h urgent spans): overdue for 1 h, then past twice the span.
    assert table["level"].tolist() == ["严重超期", "严重超期", "已超期"]
    for level, text in ((3, "严重超期 2"), (2, "已超期 1"), (1, "即将到期 0"), (0, "正常 0")):
        assert f'<span class="gm-badge gm-lv-{level}">{text}</span>' in page
    # Residents' words reach the table as plain text, never as markup on the page.
    assert (table["description"] == "<b>深夜</b>施工噪声").all()
    assert "<b>深夜</b>" not in page
    assert "李四 · 13900000000" in page
    assert "50.0%" in page  # WeChat coverage: 400 members ÷ 800 residents
    assert "1 次，8.0 人时，6 积分" in page
    assert "每千人 3.8" in page  # 3 requests in 30 days ÷ 800 residents
