"""AppTests of the worklist page and the actions in grid detail, on both backends.

A tiny city (grids A and B of tiny_city) with requests in each; a grid head of A, a
commander, a planner and an admin act through the page's forms. Every action the page
takes goes through geo.actions.act, so refusals come from below the UI; these tests check
what the user sees and what was written.
"""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from tiny_city import C1, A, C, admin_units

from geo import actions as geo_actions
from geo import clock
from geo.access import Scope
from geo.accounts import Account
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates
from tests.pages import ADMIN, COMMANDER, PLANNER, run_page, texts

WORKLIST = "pages/worklist.py"
GRID = "pages/grid.py"
#: A grid head of community C1 (grid A); grid C lies in another community.
HEAD = Account("wang", "王网格长", "grid_head", (C1,))


def _seed(engine) -> dict[str, int]:
    """Grids A and C; in A a reported (due soonest), a dispatched and a resolved request;
    in C a reported one. Returns external id -> id."""
    now = clock.now(precision="s")
    grids = gpd.GeoDataFrame(
        {"code": [A, C], "name": ["甲社区第1网格", "乙社区第1网格"],
         "community_code": [A[:12], C[:12]], "population": [800, 500]},
        geometry=[shapely.box(112.30, 28.56, 112.31, 28.57),
                  shapely.box(112.31, 28.56, 112.32, 28.57)], crs=4326)

    def req(ext, grid, status, *, age_h, due_h, text="路灯不亮", **kw):
        return dict(external_id=ext, grid_code=grid, outside_grid=False, lon=112.305,
                    lat=28.565, source_crs="wgs84", source="miniprogram", category="road",
                    severity="routine", route="government", status=status,
                    reported_at=now - timedelta(hours=age_h),
                    due_at=now + timedelta(hours=due_h), description=text,
                    address="<i>人民路</i>1号", **kw)

    frame = pd.DataFrame([
        req("r1", A, "reported", age_h=30, due_h=2.5, text="<b>深夜</b>施工噪声",
            reporter_name="张三", reporter_phone="13812341234",
            media_url="javascript:alert(1)"),
        req("r2", A, "dispatched", age_h=80, due_h=-5.5,
            media_url="https://img.example.cn/p/1.jpg?a=1&b=<x>"),
        req("r3", A, "resolved", age_h=100, due_h=40,
            resolved_at=now - timedelta(hours=3)),
        req("r4", C, "reported", age_h=5, due_h=50),
    ])
    units = admin_units()
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, units[units["code"].isin(
            ["430900", "430903", "430903003", C1, C[:12]])])
        store_requests.write_grids(conn, grids)
        store_requests.insert_requests(conn, frame)
    states = store_updates.read_states(engine, external_ids=frame.external_id)
    return dict(zip(states.external_id, states.id.astype(int), strict=True))


@pytest.fixture
def city(engine):
    """(database URL, external id -> request id) of the seeded tiny city."""
    ids = _seed(engine)
    return engine.url.render_as_string(hide_password=False), ids, engine


def _state(engine, rid):
    return store_updates.read_states(engine, ids=[rid]).iloc[0]


def _events(engine, rid) -> list[str]:
    # People's events only: the deadline clock's escalations (the seeded requests are past
    # due) are recorded by whichever page refreshes first and are not under test here.
    kinds = store_updates.read_events(engine, ids=[rid])["kind"].tolist()
    return [k for k in kinds if k != "escalation"]


def _widget(widgets, rid: int, suffix: str):
    found = [w for w in widgets if str(w.key).startswith(f"wk{rid}_")
             and str(w.key).endswith(suffix)]
    assert found, f"no widget …{suffix} for request {rid}"
    return found[0]


def _buttons(at, rid: int) -> list[str]:
    return [str(b.key).split("_act_")[1] for b in at.button
            if str(b.key).startswith(f"wk{rid}_")]


def _do(at, rid: int, action: str, *, note: str | None = None, assignee: str | None = None):
    if note is not None:
        _widget(at.text_area, rid, "_note").set_value(note)
    if assignee is not None:
        _widget(at.text_input, rid, "_assignee").set_value(assignee)
    _widget(at.button, rid, f"_act_{action}").click().run()
    assert not at.exception, at.exception
    return at


def _focus(url, rid, account, **kw):
    at = run_page(url, WORKLIST, account=account, request=str(rid), **kw)
    assert not at.exception, at.exception
    return at


# --------------------------------------------------------------------------- the list


def test_a_grid_head_sees_their_grids_requests_by_deadline_escaped(city):
    url, ids, _ = city
    at = run_page(url, WORKLIST, account=HEAD)
    assert not at.exception, at.exception
    page = texts(at)
    assert "待办工单" in page
    # Own grid only: r2 (overdue) before r1 (due in 2 h) before r3 (resolved, to close).
    order = [page.find(f"#{ids[k]} ") for k in ("r2", "r1", "r3")]
    assert -1 not in order and order == sorted(order)
    assert f"#{ids['r4']} " not in page
    assert "超期 5 小时" in page and "临期 · 剩 2 小时" in page and "待结案" in page
    # Residents' words are escaped, never markup.
    assert "&lt;b&gt;深夜&lt;/b&gt;施工噪声" in page and "<b>深夜</b>" not in page
    assert "&lt;i&gt;人民路&lt;/i&gt;1号" in page
    # The reporter, in clear for the grid's own head, the phone one tap away.
    assert '上报人：张三 · <a href="tel:13812341234">13812341234</a>' in page
    # Each card links to the map of its grid, with the request chosen.
    links = [(e.proto.page, e.proto.query_string) for e in at.get("page_link")]
    assert any(f"grid={A}" in q and f"request={ids['r1']}" in q for _, q in links)
    # The actions offered fit each request's state.
    assert _buttons(at, ids["r1"]) == ["accept", "dispatch", "note", "suspend"]
    assert set(_buttons(at, ids["r3"])) == {"note", "close"}


def test_the_filter_shows_overdue_only(city):
    url, ids, _ = city
    at = run_page(url, WORKLIST, account=HEAD)
    at.segmented_control(key="work_filter").set_value("late").run()
    page = texts(at)
    assert f"#{ids['r2']} " in page and f"#{ids['r1']} " not in page


# --------------------------------------------------------------------------- each action


@pytest.mark.parametrize(("start", "action", "kw", "status", "zh"), [
    ("r1", "accept", {}, "accepted", "已受理"),
    ("r1", "dispatch", {"assignee": "城管执法中队"}, "dispatched", "已派遣"),
    ("r1", "note", {"note": "已联系报事人"}, "reported", "已添加备注"),
    ("r2", "return", {"note": "非本部门职责"}, "accepted", "已回退"),
    ("r2", "suspend", {"note": "等待配件"}, "dispatched", "已挂起"),
    ("r2", "resolve", {"note": "已修复"}, "resolved", "已办结"),
    ("r3", "close", {}, "resolved", "已结案"),
])
def test_each_action_by_the_grid_head(city, start, action, kw, status, zh):
    url, ids, engine = city
    rid = ids[start]
    at = _do(_focus(url, rid, HEAD), rid, action, **kw)
    assert zh in texts(at), texts(at)
    state = _state(engine, rid)
    assert state.status == status
    assert _events(engine, rid) == [action]
    audit = store_access.read_audit(engine, action=f"request.{action}")
    assert len(audit) == 1 and audit["actor"].iloc[0] == "wang"
    if action == "close":
        assert pd.notna(state.closed_at)
        assert "已不在待办列表中" in texts(at)  # a closed request leaves the list


def test_resume_after_suspend_moves_the_deadline(city):
    url, ids, engine = city
    rid = ids["r2"]
    at = _do(_focus(url, rid, HEAD), rid, "suspend", note="等待配件")
    assert "挂起中" in texts(at) and _buttons(at, rid) == ["note", "resume"]
    _do(at, rid, "resume")
    assert _events(engine, rid) == ["suspend", "resume"]
    assert pd.isna(_state(engine, rid).suspended_at)


@pytest.mark.parametrize(("action", "kw", "zh", "en"), [
    ("resolve", {"note": "  "}, "请填写意见或说明", "please write a note"),
    ("dispatch", {"assignee": ""}, "请填写派遣的部门", "please name the department"),
])
def test_a_missing_note_or_assignee_is_refused_in_words(city, action, kw, zh, en):
    url, ids, engine = city
    rid = ids["r2"] if action == "resolve" else ids["r1"]
    at = _do(_focus(url, rid, HEAD), rid, action, **kw)
    assert zh in at.error[0].value and "Traceback" not in texts(at)
    assert _events(engine, rid) == []
    at = _do(_focus(url, rid, HEAD, lang="en"), rid, action, **kw)
    assert en in at.error[0].value


def test_an_admin_acts_anywhere(city):
    url, ids, engine = city
    rid = ids["r4"]
    at = run_page(url, WORKLIST, account=ADMIN)
    assert f"#{rid} " in texts(at)
    _do(at, rid, "accept")
    assert _state(engine, rid).status == "accepted"


def test_a_commander_may_only_urge_and_the_handler_sees_it(city):
    url, ids, engine = city
    rid = ids["r2"]
    at = _focus(url, rid, COMMANDER)
    assert _buttons(at, rid) == ["urge"]
    at_r1 = _focus(url, ids["r1"], COMMANDER)
    assert "上报人：张* · 138****1234" in texts(at_r1) and "tel:" not in texts(at_r1)
    _do(at, rid, "urge", note="请今天内办结")
    assert "已督办" in texts(at) and "督办" in texts(at)
    assert _events(engine, rid) == ["urge"]
    assert pd.notna(_state(engine, rid).supervised_at)
    # The grid head sees the urge in the request's history in grid detail.
    at = run_page(url, GRID, account=HEAD, grid=A, request=str(rid))
    assert not at.exception, at.exception
    page = texts(at)
    assert "办理记录" in page and "请今天内办结" in page and "commander" in page
    assert '<span class="gm-tag">督办</span>' in page


def test_a_commander_cannot_take_a_handlers_action(city):
    """A button the page would not show, sent anyway: refused below the UI."""
    url, ids, engine = city
    rid = ids["r1"]
    state = _state(engine, rid)
    with pytest.raises(geo_actions.AccessDenied):
        geo_actions.act(engine, Scope("commander", None, "commander"), request_id=rid,
                        action="accept", seen_status=state.status, seen_updated_at=None)
    assert _events(engine, rid) == []


def test_a_planner_has_no_worklist_and_no_actions(city):
    url, ids, engine = city
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        run_page(url, WORKLIST, account=PLANNER)  # the page does not exist for a planner
    at = run_page(url, GRID, account=PLANNER, grid=A, request=str(ids["r1"]))
    assert not at.exception, at.exception
    assert "您对该诉求当前没有可办理的操作" in texts(at)
    assert not [b for b in at.button if str(b.key).startswith("wk")]


# --------------------------------------------------------------------------- stale, tampered


def test_two_sessions_act_on_the_same_request_the_second_is_refused(city):
    url, ids, engine = city
    rid = ids["r1"]
    first, second = _focus(url, rid, HEAD), _focus(url, rid, ADMIN)
    _do(first, rid, "accept")
    assert _state(engine, rid).status == "accepted"
    _do(second, rid, "dispatch", assignee="城管执法中队")
    message = second.error[0].value
    assert "刚被他人更新" in message and "已重新载入" in message
    assert _events(engine, rid) == ["accept"]
    # Reloaded: the second session now sees the accepted request and may dispatch it.
    assert "受理" in texts(second)
    _do(second, rid, "dispatch", assignee="城管执法中队")
    assert _state(engine, rid).status == "dispatched"


def test_a_grid_head_cannot_open_another_grids_request_by_url(city):
    url, ids, engine = city
    rid = ids["r4"]  # in grid C
    at = _focus(url, rid, HEAD)
    assert "无权查看该诉求" in at.error[0].value
    assert not [b for b in at.button if str(b.key).startswith("wk")]
    at = run_page(url, GRID, account=HEAD, grid=A, request=str(rid))
    assert not at.exception, at.exception
    assert any("无权查看该诉求" in e.value for e in at.error)
    assert f"#{rid} " not in texts(at)
    denied = store_access.read_audit(engine, action="denied")
    assert len(denied) >= 2 and (denied["actor"] == "wang").all()
    assert _events(engine, rid) == []


def test_a_grid_head_gets_no_actions_on_another_grids_detail(city):
    """Form values cannot name a request (callbacks hold the id on the server), so the
    other way in is the grid in the URL: refused, with no request list or form."""
    url, ids, _ = city
    at = run_page(url, GRID, account=HEAD, grid=C)
    assert not at.exception, at.exception
    assert any("无权查看" in e.value for e in at.error)
    assert not [b for b in at.button if str(b.key).startswith("wk")]
    assert not [s for s in at.selectbox if str(s.key).startswith("detail_pick")]


def test_grid_detail_resolves_the_chosen_request_and_shows_its_history(city):
    url, ids, engine = city
    rid = ids["r2"]
    at = run_page(url, GRID, account=HEAD, grid=A, request=str(rid))
    assert not at.exception, at.exception
    pick = next(s for s in at.selectbox if str(s.key).startswith("detail_pick"))
    assert pick.value == rid and set(pick.options) == {
        pick.format_func(i) for i in (ids["r1"], ids["r2"], ids["r3"])}
    _do(at, rid, "resolve", note="<script>x</script>已修复")
    assert _state(engine, rid).status == "resolved"
    page = texts(at)
    assert "办理记录" in page and "派遣 → 办结" in page
    assert "&lt;script&gt;x&lt;/script&gt;已修复" in page and "<script>x" not in page


def test_the_worklist_in_english(city):
    url, ids, _ = city
    at = run_page(url, WORKLIST, account=HEAD, lang="en")
    assert not at.exception, at.exception
    page = texts(at)
    assert "Worklist" in page and "5 h overdue" in page and "To close" in page
    assert "待办工单" not in page
    labels = {b.label for b in at.button if str(b.key).startswith(f"wk{ids['r1']}_")}
    assert labels == {"Accept", "Dispatch", "Add note", "Suspend"}


def test_media_urls_are_links_only_when_http(city):
    url, ids, _ = city
    at = run_page(url, GRID, account=HEAD, grid=A, request=str(ids["r2"]))
    page = texts(at)
    assert ('href="https://img.example.cn/p/1.jpg?a=1&amp;b=&lt;x&gt;"' in page
            and 'rel="noopener noreferrer nofollow"' in page)
    assert "<img" not in page  # a link, fetched only on a click
    at = run_page(url, GRID, account=HEAD, grid=A, request=str(ids["r1"]))
    assert "javascript:" not in texts(at) and "群众上传的图片" not in texts(at)
