"""AppTests of sign-in, roles, scopes, masking and wall tokens on the real pages.

Each role gets the pages and the fields DESIGN §8 allows, and URL tampering gets a
refusal. Tests that write (tokens, accounts) use a private copy of the demo database.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from geo import accounts, clock
from geo.accounts import Account
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import schema
from tests import browser as b
from tests.pages import COMMANDER, PLANNER, run_page, texts

GRID = "pages/grid.py"
WALL = "pages/wall.py"
OTHER_GRID = "430921102003001"  # 新村社区第1网格, in another county
GRID_HEAD = Account("gridhead", "网格长", "grid_head", ("430902005001",))
CLEAR_PHONE = re.compile(r"(?<![\d*])1\d{10}(?!\d)")
MASKED_PHONE = re.compile(r"\d{3}\*{4}\d{4}")


@pytest.fixture
def own_demo(demo_url, tmp_path):
    """A private copy of the demo database (for tests that write)."""
    source = Path(demo_url.removeprefix("sqlite:///"))
    return f"sqlite:///{b.copy_demo(tmp_path, source=source)}"


def _engine(url):
    return store_engine.make_engine(url)


def _reporters(at) -> list[str]:
    for frame in at.dataframe:
        if "reporter" in frame.value.columns:
            return [str(v) for v in frame.value["reporter"]]
    return []


# --------------------------------------------------------------------------- sign-in


def test_signed_out_sees_only_the_sign_in_form(demo_url):
    at = run_page(demo_url, WALL, account=None)
    assert not at.exception
    page = texts(at)
    assert "登录网格一张图" in page
    assert "commander / gridhead" in page  # the demo's documented accounts
    assert not at.metric  # no KPI, no data before sign-in
    assert at.text_input(key="login_password") is not None


def _sign_in(at, username, password):
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click()  # the form's submit button
    at.run()
    return at


def test_sign_in_with_a_demo_account_opens_the_wall(own_demo):
    at = run_page(own_demo, WALL, account=None)
    _sign_in(at, "commander", "demo-commander")
    assert not at.exception
    assert at.session_state["_account"].role == "commander"
    at.run()
    assert "登录网格一张图" not in texts(at)
    eng = _engine(own_demo)
    try:
        assert store_access.read_audit(eng, action="login")["actor"].iloc[0] == "commander"
    finally:
        eng.dispose()


def _throttle_rows(url):
    eng = _engine(url)
    try:
        with eng.connect() as conn:
            return {r.key: r for r in conn.execute(schema.login_throttle.select())}
    finally:
        eng.dispose()


def test_failed_sign_ins_are_throttled_on_the_server_not_in_the_session(own_demo):
    with clock.frozen(clock.now()):  # the wait (1 s after one failure) must not run out
        at = run_page(own_demo, WALL, account=None)
        _sign_in(at, "planner", "not-the-password")
        assert "账号或密码不正确" in texts(at)
        # A fresh browser session (a reload) finds the wait stored: even the right password
        # is refused unheard until it is over.
        again = run_page(own_demo, WALL, account=None)
        _sign_in(again, "planner", "demo-planner")
        assert "秒后再试" in texts(again) and "_account" not in again.session_state
        rows = _throttle_rows(own_demo)
        # AppTest has no client address: the connection counts as local
        assert rows["account:planner"].failures == 1 and rows["ip:local"].failures == 1
        eng = _engine(own_demo)
        try:
            reasons = store_access.read_audit(eng, action="login_failed")["detail"].tolist()
            assert ['"throttled"' in r for r in reasons] == [True, False]
            with store_engine.transaction(eng) as conn:  # an admin unlocks the name...
                accounts.unlock(conn, username="planner")
                conn.execute(schema.login_throttle.delete())  # ...and the address's wait ends
        finally:
            eng.dispose()
        _sign_in(again, "planner", "demo-planner")
        assert again.session_state["_account"].username == "planner"


def test_a_session_trying_many_names_is_throttled(own_demo):
    with clock.frozen(clock.now()):
        at = run_page(own_demo, WALL, account=None)
        _sign_in(at, "guess0", "whatever-password")
        assert "账号或密码不正确" in texts(at)
        # a different name from the same address must wait too (the address's throttle)
        _sign_in(at, "commander", "demo-commander")
        assert "秒后再试" in texts(at) and "_account" not in at.session_state
    assert "account:commander" not in _throttle_rows(own_demo)  # unheard: not counted


def test_an_ended_session_stops_a_running_page_and_the_gate_signs_it_out(own_demo):
    at = run_page(own_demo, WALL, account=None)
    _sign_in(at, "commander", "demo-commander")
    token, account = at.session_state["_session"], at.session_state["_account"]
    eng = _engine(own_demo)
    try:
        assert accounts.account_for_session(eng, token).username == "commander"
        with store_engine.transaction(eng) as conn:  # an admin ends the account's sessions
            assert accounts.end_account_sessions(conn, username="commander") == 1
    finally:
        eng.dispose()
    from ui import data as ui_data

    ui_data._session_account.clear()  # the re-check is cached for a minute
    # The running page's next run: the gate signs the session out, no figures, no error.
    at.run()
    assert not at.exception and not at.metric
    assert "登录已结束" in texts(at) and "_account" not in at.session_state
    # A new browser tab with the old session: the same.
    again = run_page(own_demo, WALL, account=account, session={"_session": token})
    page = texts(again)
    assert "登录已结束" in page and "登录网格一张图" in page and not again.metric
    assert "_account" not in again.session_state and not again.exception
    # (Signing out, and replaying the cookie after it: tests/test_security_browser.py.)


def test_demo_passwords_are_refused_on_a_database_that_is_not_the_demo(empty_url):
    eng = _engine(empty_url)
    try:
        with store_engine.transaction(eng) as conn:
            accounts.add_user(conn, username="admin", role="admin", password="demo-admin",
                              check_strength=False)
        at = run_page(empty_url, WALL, account=None)
        assert "已拒绝启动" in texts(at) and "admin" in texts(at)
        assert not [w for w in at.text_input if w.key == "login_password"]
    finally:
        with store_engine.transaction(eng) as conn:
            conn.execute(schema.account_scope.delete())
            conn.execute(schema.account.delete())
        eng.dispose()


def test_an_empty_database_stays_empty_without_the_demo_switch(tmp_path):
    url = f"sqlite:///{tmp_path / 'production.db'}"
    at = run_page(url, WALL, account=None)
    assert not at.exception
    page = texts(at)
    assert "登录网格一张图" in page and "commander / gridhead" not in page
    eng = _engine(url)
    try:
        assert store_engine.is_empty(eng) and not accounts.is_demo(eng)
        assert store_engine.table_counts(eng)["account"] == 0
    finally:
        eng.dispose()


def test_a_demo_given_real_requests_refuses_its_passwords_and_hides_them(own_demo, tmp_path):
    from geo import cli
    from geo.importer import import_file

    csv = tmp_path / "requests.csv"
    csv.write_text("external_id,lon,lat,category,severity,reported_at,description\n"
                   "REAL-1,112.355,28.554,road,routine,2026-11-30 08:30,路灯不亮\n")
    eng = _engine(own_demo)
    try:
        assert accounts.is_demo(eng)
        assert import_file(eng, csv, kind="requests").rows_inserted == 1
        refusal = cli.demo_password_refusal(eng)
        assert refusal and "admin" in refusal
    finally:
        eng.dispose()
    at = run_page(own_demo, WALL, account=None)
    page = texts(at)
    assert "已拒绝启动" in page and "commander / gridhead" not in page
    assert not [w for w in at.text_input if w.key == "login_password"]


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize(("account", "allowed"), [
    (COMMANDER, {"wall", "grid", "worklist", "coverage", "hotspots", "bulletin"}),
    (PLANNER, {"wall", "grid", "coverage", "hotspots", "bulletin", "export"}),
    (GRID_HEAD, {"wall", "grid", "worklist", "coverage", "hotspots", "bulletin"}),
])
def test_each_role_has_only_its_pages(demo_url, account, allowed):
    for page in ("export", "data"):
        if page in allowed:
            continue
        # The page is not registered for this session at all, so no URL reaches it.
        with pytest.raises(ValueError, match="Known pages") as refused:
            run_page(demo_url, f"pages/{page}.py", account=account)
        known = set(re.findall(r"pages/(\w+)\.py", str(refused.value).split("Known pages")[1]))
        assert known == allowed


def test_planner_exports_without_a_personal_option_admin_has_one(demo_url):
    planner = run_page(demo_url, "pages/export.py", account=PLANNER)
    assert not planner.exception
    assert not [c for c in planner.checkbox if c.key == "export_personal"]
    planner.selectbox(key="export_layer").set_value("requests").run()
    assert not [c for c in planner.checkbox if c.key == "export_personal"]
    admin = run_page(demo_url, "pages/export.py")
    admin.selectbox(key="export_layer").set_value("requests").run()
    assert admin.checkbox(key="export_personal").value is False


def test_grid_head_is_refused_another_counties_grid(own_demo):
    at = run_page(own_demo, GRID, account=GRID_HEAD, grid=OTHER_GRID)
    assert not at.exception
    page = texts(at)
    assert f"无权查看 {OTHER_GRID}" in page
    assert "新村社区第1网格" not in page and not at.metric
    eng = _engine(own_demo)
    try:
        denied = store_access.read_audit(eng, action="denied")
        assert denied["area"].iloc[0] == OTHER_GRID and denied["actor"].iloc[0] == "gridhead"
    finally:
        eng.dispose()


def test_grid_head_is_refused_another_area_in_the_url(demo_url):
    at = run_page(demo_url, WALL, account=GRID_HEAD, area="430921")
    assert "无权查看 430921" in texts(at)


def test_grid_head_search_finds_only_their_own_grids(demo_url):
    mine = run_page(demo_url, WALL, account=GRID_HEAD, session={"grid_query": "石码头社区第1网格"})
    assert [x.key for x in mine.sidebar.button
            if x.key != "logout" and not x.key.startswith("FormSubmitter")] == ["grid_open"]
    other = run_page(demo_url, WALL, account=GRID_HEAD, session={"grid_query": "新村社区第1网格"})
    assert "没有找到" in texts(other)


def test_reporter_contacts_clear_for_the_grid_head_masked_for_the_commander(demo_url):
    own = _busy_grid(demo_url, "430902005001")
    head = run_page(demo_url, GRID, account=GRID_HEAD, grid=own)
    assert not head.exception
    shown = _reporters(head)
    assert shown and all(CLEAR_PHONE.search(r) for r in shown)
    commander = run_page(demo_url, GRID, account=COMMANDER, grid=own)
    masked = _reporters(commander)
    assert len(masked) == len(shown)
    assert all(MASKED_PHONE.search(r) and not CLEAR_PHONE.search(r) for r in masked)
    assert all(re.match(r"^\S\*+ · ", r) for r in masked)  # 张* · 138****1234
    planner = run_page(demo_url, GRID, account=PLANNER, grid=own)
    assert _reporters(planner) == []  # planners get no personal column at all


def _busy_grid(url: str, prefix: str) -> str:
    """A grid under ``prefix`` with open requests (the demo's end moves with the clock)."""
    eng = _engine(url)
    try:
        frame = store_requests.read_requests(eng, columns=["grid_code", "resolved_at"])
    finally:
        eng.dispose()
    open_ = frame[frame["resolved_at"].isna() & frame["grid_code"].str.startswith(prefix)]
    return open_["grid_code"].value_counts().index[0]


def test_admin_sees_contacts_of_every_grid(demo_url):
    at = run_page(demo_url, GRID, grid=_busy_grid(demo_url, "430921"))
    shown = _reporters(at)
    assert shown and all(CLEAR_PHONE.search(r) for r in shown)


# --------------------------------------------------------------------------- wall tokens


def _token(url, *, area="430903", expires=timedelta(days=1), name="wall-test"):
    eng = _engine(url)
    try:
        with store_engine.transaction(eng) as conn:
            return accounts.create_wall_token(conn, area=area, expires=expires, name=name)[1]
    finally:
        eng.dispose()


def test_wall_token_opens_the_wall_of_its_area_without_sign_in(own_demo):
    token = _token(own_demo)
    at = run_page(own_demo, WALL, account=None, kiosk="1", token=token)
    assert not at.exception
    page = texts(at)
    assert "登录网格一张图" not in page and "gm-kpi" in page and "最新揪心事" in page
    assert "_account" not in at.session_state  # a token is not an account
    # A token may not choose another area, nor see another page.
    other = run_page(own_demo, WALL, account=None, kiosk="1", token=token, area="430921")
    assert "无权查看 430921" in texts(other)
    with pytest.raises(ValueError, match=r"Known pages: \['[^']*pages/wall.py'\]"):
        run_page(own_demo, GRID, account=None, kiosk="1", token=token, grid=OTHER_GRID)


def test_revoked_and_expired_wall_tokens_are_refused(own_demo):
    revoked = _token(own_demo, name="wall-revoked")
    expired = _token(own_demo, name="wall-expired", expires=timedelta(minutes=1))
    eng = _engine(own_demo)
    try:
        with store_engine.transaction(eng) as conn:
            assert accounts.revoke_wall_token(conn, "wall-revoked")
            conn.execute(schema.wall_token.update()
                         .where(schema.wall_token.c.name == "wall-expired")
                         .values(expires_at=schema.wall_token.c.created_at))
    finally:
        eng.dispose()
    for token, why in ((revoked, "令牌已被撤销"), (expired, "令牌已过期"),
                       ("gmw_forged", "令牌不存在")):
        at = run_page(own_demo, WALL, account=None, kiosk="1", token=token)
        assert not at.exception
        page = texts(at)
        assert "大屏令牌无效" in page and why in page
        assert not at.metric


def test_a_wall_running_on_a_token_goes_dark_when_it_is_revoked(own_demo):
    token = _token(own_demo, name="wall-live")
    at = run_page(own_demo, WALL, account=None, kiosk="1", token=token)
    assert "最新揪心事" in texts(at)
    assert "赫山区" in texts(at)  # the token's county, named in the title
    eng = _engine(own_demo)
    try:
        with store_engine.transaction(eng) as conn:
            assert accounts.revoke_wall_token(conn, "wall-live")
    finally:
        eng.dispose()
    # The check is cached for a minute; after that the running screen's next run refuses:
    # no figures, only the refusal, no error.
    from ui import data as ui_data

    ui_data._wall_scope.clear()
    at.run()
    assert "最新揪心事" not in texts(at) and not at.metric
    assert "大屏令牌无效" in texts(at) and not at.exception
    fresh = run_page(own_demo, WALL, account=None, kiosk="1", token=token)
    assert "大屏令牌无效" in texts(fresh) and "最新揪心事" not in texts(fresh)


@pytest.mark.parametrize("page", [WALL, GRID, "pages/coverage.py", "pages/worklist.py"])
def test_a_grid_head_bound_to_one_grid_opens_the_pages(demo_url, page):
    """An account bound to one grid (not a community) has no area to pick, and no crash."""
    one_grid = Account("onegrid", "单网格网格长", "grid_head", ("430902005001001",))
    at = run_page(demo_url, page, account=one_grid)
    assert not at.exception, at.exception
    assert "Traceback" not in texts(at)


# --------------------------------------------------------------------------- no tracebacks


def _no_traceback(at) -> str:
    """The page's text, after checking that it shows no exception nor a traceback."""
    assert not at.exception, [e.message for e in at.exception]
    page = texts(at)
    assert "Traceback" not in page and 'File "' not in page
    return page


def test_grid_head_opening_a_county_that_holds_their_grid_is_refused_plainly(demo_url):
    """430902 names the grid head's own county, but reading all of it is outside scope."""
    at = run_page(demo_url, WALL, account=GRID_HEAD, area="430902")
    page = _no_traceback(at)
    assert "无权查看 430902" in page
    assert "gm-kpi" in page  # the wall of their own area is shown instead


@pytest.mark.parametrize("account", [None, COMMANDER, GRID_HEAD])
def test_coverage_of_one_county_renders(demo_url, account):
    kw = {} if account is None else {"account": account}
    at = run_page(demo_url, "pages/coverage.py", area="430903", **kw)
    page = _no_traceback(at)
    if account is GRID_HEAD:
        assert "无权查看 430903" in page
    else:
        assert "赫山区" in page and "无权查看" not in page


@pytest.mark.parametrize("where", ["controls", "header"])  # in the page run; in a fragment
def test_an_unexpected_error_shows_an_id_and_logs_the_traceback(demo_url, monkeypatch, caplog,
                                                                where):
    from ui import wall as ui_wall

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail /srv/gridmap/geo/x.py")

    monkeypatch.setattr(ui_wall, where, broken)
    with caplog.at_level("ERROR", logger="gridmap.app"):
        at = run_page(demo_url, WALL, account=COMMANDER)
    page = _no_traceback(at)
    found = re.search(r"错误编号 ([0-9a-f]{8})", page)
    assert found and "secret detail" not in page and "RuntimeError" not in page
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info and "secret detail" in str(logged[0].exc_info[1])


def test_streamlit_shows_no_error_details():
    import tomllib

    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
