"""AppTests of 解忧联盟 and volunteer tasks on the pages, on both backends.

The Data page manages members (admins only, contacts masked until asked); grid detail
lists a grid's market and charity cards with a claim form for grid heads and admins, and
the grid's volunteer tasks with their forms; other roles see no form.
"""

from __future__ import annotations

import pandas as pd
import pytest

from geo import alliance, clock, volunteers
from geo.access import Scope
from geo.accounts import Account
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates
from tests.pages import COMMANDER, PLANNER, database, run_page, texts
from tests.tiny_city import admin_units

G1, G2 = "430903003001001", "430903003001002"
# A community head (a grid-only scope trips the sidebar: see the report of issue 14).
HEAD = Account("wang", "王网格长", "grid_head", ("430903003001",))


@pytest.fixture
def city(engine, four_grids):
    """Four grids, a market card in G1 (reported an hour ago), one member; returns the url."""
    now = clock.now(precision="s")
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, admin_units())
        store_requests.write_grids(conn, four_grids)
        store_requests.insert_requests(conn, pd.DataFrame([dict(
            external_id="M1", grid_code=G1, outside_grid=False, lon=112.305, lat=28.565,
            source="miniprogram", category="welfare", severity="routine", route="market",
            status="reported", reported_at=now - pd.Timedelta(hours=1),
            description="<script>x</script>需要维修轮椅")]))
    alliance.add_member(engine, Scope.everything(actor="root"), name="海城爱心超市",
                        kind="shop", areas=[G1], contact_name="张三",
                        contact_phone="13812341234")
    return engine


def _url(engine):
    return engine.url.render_as_string(hide_password=False)


def test_data_page_lists_members_masked_and_adds_one(city):
    url = _url(city)
    at = run_page(url, "pages/data.py")
    assert not at.exception
    table = next(df.value for df in at.dataframe if "联系电话" in df.value.columns)
    assert table["联系电话"].tolist() == ["138****1234"] and table["联系人"].tolist() == ["张*"]
    form = {el.label: el for el in at.text_input}
    form["名称"].set_value("北海社工站")
    form["服务区域编码"].set_value(f"{G1}，{G2}")
    next(b for b in at.button if b.label == "新增").click()
    with database(url):
        at.run()
    assert not at.exception
    assert "已新增成员 北海社工站" in texts(at)
    listed = alliance.members(city, Scope.everything())
    assert sorted(listed.name) == ["北海社工站", "海城爱心超市"]
    at.toggle(key="alliance_personal").set_value(True)
    with database(url):
        at.run()
    table = next(df.value for df in at.dataframe if "联系电话" in df.value.columns)
    assert "13812341234" in table["联系电话"].tolist()
    assert "alliance.list" in set(store_access.read_audit(city).action)


def test_a_grid_head_records_a_claim_and_publishes_a_task_in_grid_detail(city):
    url = _url(city)
    at = run_page(url, "pages/grid.py", account=HEAD, grid=G1)
    assert not at.exception
    page = texts(at)
    assert "解忧联盟认领" in page and "志愿服务任务" in page
    cards = next(df.value for df in at.dataframe if "描述" in df.value.columns)
    assert cards["编号"].tolist() == ["M1"]
    assert cards["描述"].iloc[0] == "<script>x</script>需要维修轮椅"  # shown as text
    next(b for b in at.button if b.label == "登记认领").click()
    with database(url):
        at.run()
    assert not at.exception
    assert "M1 已由 海城爱心超市 认领" in texts(at)
    state = store_updates.read_states(city, external_ids=["M1"]).iloc[0]
    assert state.status == "dispatched" and state.assignee == "海城爱心超市"
    # Publish a task in the grid.
    title = next(el for el in at.text_input if el.label == "任务")
    title.set_value("敬老院陪护")
    next(b for b in at.button if b.label == "发布").click()
    with database(url):
        at.run()
    assert not at.exception
    assert "已发布任务：敬老院陪护" in texts(at)
    tasks, _ = volunteers.grid_tasks(city, Scope.everything(), grid_code=G1)
    assert tasks.title.tolist() == ["敬老院陪护"] and tasks.published_by.iloc[0] == "wang"


@pytest.mark.parametrize("account", [COMMANDER, PLANNER], ids=["commander", "planner"])
def test_other_roles_get_no_claim_or_task_forms(city, account):
    at = run_page(_url(city), "pages/grid.py", account=account, grid=G1)
    assert not at.exception
    labels = {b.label for b in at.button}
    assert not labels & {"登记认领", "发布", "认领", "登记并完成任务"}


def test_grid_detail_in_english(city):
    at = run_page(_url(city), "pages/grid.py", account=HEAD, lang="en", grid=G1)
    assert not at.exception
    page = texts(at)
    assert "Alliance claims" in page and "Volunteer tasks" in page
    assert "claim rate" in page  # the figures line is worded in English


def test_the_bulletin_shows_the_claim_rate_per_unit(city):
    state = store_updates.read_states(city, external_ids=["M1"]).iloc[0]
    alliance.claim(city, Scope.everything(), request_id=int(state.id), member="海城爱心超市",
                   seen_status="reported", seen_updated_at=None)
    at = run_page(_url(city), "pages/bulletin.py", account=COMMANDER)
    assert not at.exception
    assert "解忧联盟认领" in texts(at)
    table = next(df.value for df in at.dataframe if "认领率" in df.value.columns)
    assert table["认领率"].tolist() == ["100.0%"] and table["已认领"].tolist() == ["1"]


def test_a_member_account_claims_its_own_card_on_the_grid_page(city):
    from geo import accounts

    with store_engine.transaction(city) as conn:
        accounts.add_user(conn, username="shop1", role="alliance", password="x" * 12,
                          areas=["430903003001"], check_strength=False)
    alliance.add_member(city, Scope.everything(), name="北海便民商店", kind="shop",
                        areas=[G1], account="shop1")
    member = Account("shop1", "北海便民商店", "alliance", ("430903003001",))
    at = run_page(_url(city), "pages/grid.py", account=member, grid=G1)
    assert not at.exception
    assert not [s for s in at.selectbox if s.label == "认领成员"]  # claims for itself only
    assert "发布" not in {b.label for b in at.button}  # no volunteer task forms
    next(b for b in at.button if b.label == "登记认领").click()
    with database(_url(city)):
        at.run()
    assert not at.exception
    state = store_updates.read_states(city, external_ids=["M1"]).iloc[0]
    assert state.assignee == "北海便民商店"
    events = store_updates.read_events(city, ids=[int(state.id)])
    assert events[["kind", "actor"]].values.tolist() == [["claim", "shop1"]]
