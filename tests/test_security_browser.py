"""Sign-in, roles, wall tokens and escaping in a real headless Chromium (issue 6).

The module runs its own Streamlit server on a private copy of the session's demo database
(the ``demo_url`` fixture). Before the server starts, the copy gets script-bearing text
where residents' and admins' words reach the page: four open urgent requests in the first
grid of 石码头社区 (430902005001), with HTML, a closing ``</script>`` and Markdown in their
descriptions and HTML in the reporter's name, and that grid renamed to an ``<img onerror>``
tag. Every page that can show them must show them as text: no dialog may open and no
injected element may appear, in the page or in any iframe (the Leaflet maps).

Every request to another host is blocked and fails the test (``b.Watch``). Screenshots go
to tests/screenshots/ (gitignored): look at them.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests import browser as b

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

COMMUNITY = "430902005001"  # 石码头社区, the demo grid head's area
OTHER_COUNTY = "430921"
#: Descriptions of the planted requests (all open and urgent, so the wall's ticker shows
#: them) and the reporter's name and the grid's new name.
PAYLOADS = ("<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>",
            '"><svg onload=alert(3)>', "**bold** [link](javascript:alert(4))")
REPORTER = "<b>张三</b>"
GRID_NAME = "<img src=y onerror=alert(5)>网格"

#: Elements that exist only if a payload was parsed as HTML (or Markdown made a js: link).
_INJECTED_JS = """() => {
    const hits = [];
    const sel = 'img[src="x"], img[src="y"], svg[onload], [onerror], a[href^="javascript:"]';
    for (const e of document.querySelectorAll(sel)) hits.push(e.outerHTML.slice(0, 120));
    for (const s of document.querySelectorAll('script')) {
        const code = s.textContent;
        if (/alert\\(\\d\\)/.test(code)) hits.push('script: ' + code.slice(0, 120));
    }
    for (const e of document.querySelectorAll('b, strong')) {
        if (e.textContent === '张三') hits.push(e.outerHTML);
    }
    return hits;
}"""


def _plant(db: Path) -> dict[str, str]:
    """Write the payloads into the copied database; return the codes the tests use."""
    from geo.store import engine as store_engine
    from geo.store import requests as store_requests

    with sqlite3.connect(db) as conn:
        code = conn.execute("SELECT min(code) FROM grid WHERE community_code = ?",
                            (COMMUNITY,)).fetchone()[0]
        other = conn.execute("SELECT min(code) FROM grid WHERE code LIKE ?",
                             (OTHER_COUNTY + "%",)).fetchone()[0]
        other_name = conn.execute("SELECT name FROM grid WHERE code = ?", (other,)).fetchone()[0]
        lon, lat = conn.execute("SELECT lon, lat FROM request WHERE grid_code = ? LIMIT 1",
                                (code,)).fetchone()
        conn.execute("UPDATE grid SET name = ? WHERE code = ?", (GRID_NAME, code))
    assert code and other, (code, other)
    now = datetime.utcnow().replace(microsecond=0)
    rows = pd.DataFrame([{
        "external_id": f"xss-{uuid.uuid4().hex}", "grid_code": code, "outside_grid": False,
        "lon": lon, "lat": lat, "source": "hotline", "category": "safety",
        "severity": "urgent", "route": "government", "status": "reported",
        "reported_at": now - timedelta(minutes=3 + i), "due_at": now + timedelta(hours=24),
        "resolved_at": None, "description": text, "reporter_name": REPORTER,
        "reporter_phone": "13800001234",
    } for i, text in enumerate(PAYLOADS)])
    engine = store_engine.make_engine(f"sqlite:///{db}", upgrade=False)
    try:
        with store_engine.transaction(engine) as conn:
            assert store_requests.insert_requests(conn, rows) == len(PAYLOADS)
    finally:
        engine.dispose()
    return {"grid": code, "other": other, "other_name": other_name}


@pytest.fixture(scope="module")
def app(tmp_path_factory, demo_url):
    """The app on a private, payload-planted copy of the session's demo database."""
    work = tmp_path_factory.mktemp("security")
    db = b.copy_demo(work / "db", source=Path(demo_url.removeprefix("sqlite:///")))
    codes = _plant(db)
    server = b.start_app(f"sqlite:///{db}", log_dir=work)
    server.codes = codes
    yield server
    b.stop_app(server)


@pytest.fixture
def session(app, chromium, request):
    """Open contexts as someone: ``session(user)`` -> (page, watch, dialogs); all closed
    afterwards. Every dialog (alert, confirm, prompt) is recorded and dismissed."""
    contexts = []

    def open_as(user: str | None = "admin", **kw):
        context, page, watch = b.open_page(chromium, app, user=user, **kw)
        contexts.append(context)
        dialogs: list[str] = []

        def on_dialog(dialog) -> None:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page, watch, dialogs

    yield open_as
    for context in contexts:
        context.close()


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _injected(page) -> list[str]:
    """Injected elements in the page and in every frame, as ``frame url: element``."""
    hits = []
    for frame in page.frames:
        try:
            found = frame.evaluate(_INJECTED_JS)
        except Exception as exc:  # a frame navigating or detached
            found = [] if "detached" in str(exc) or "navigat" in str(exc) else [repr(exc)]
        hits += [f"{frame.url[:60]}: {h}" for h in found]
    return hits


def _settle(page, *, map_expected: bool = True, timeout: float = 60) -> None:
    """Wait for the script, for the map if the page has one, and a little for late work."""
    b.script_done(page, timeout)
    if map_expected:
        b.map_frame(page, timeout=timeout)
        b.script_done(page, timeout)
    page.wait_for_timeout(1000)


def _hover_grid(page, code: str) -> str:
    """Move the mouse onto ``code`` on the page's grid map; return its tooltip's HTML."""
    frame = b.map_frame(page)
    frame.frame_element().scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    spot = frame.evaluate("""(code) => {
        const gm = window.gridmap, map = window.map, i = gm.codes.indexOf(code);
        if (i < 0) return null;
        const layer = gm.layers[i];
        // Zoomed in on it: in the city view a grid may be a few pixels wide.
        map.fitBounds(layer.getBounds(), {padding: [40, 40], animate: false});
        let c = layer.getCenter();
        if (!layer._containsPoint(map.latLngToLayerPoint(c))) {  // a concave grid
            const ring = layer.getLatLngs().flat(3);
            c = ring[Math.floor(ring.length / 2)];
        }
        const p = map.latLngToContainerPoint(c);
        return {x: p.x, y: p.y};
    }""", code)
    assert spot, f"{code} is not on the map"
    box = frame.frame_element().bounding_box()
    x, y = box["x"] + spot["x"], box["y"] + spot["y"]
    page.mouse.move(x - 6, y - 6)
    page.mouse.move(x, y, steps=5)
    tip = frame.locator(".leaflet-tooltip").first
    tip.wait_for(timeout=10_000)
    return tip.inner_html()


def test_detector_sees_an_injection(chromium):
    """The checks below would notice a payload that ran (no server needed)."""
    page = chromium.new_page()
    try:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.set_content(f"<p>{PAYLOADS[0]}</p><p>{REPORTER}</p>")
        page.wait_for_timeout(500)
        assert dialogs == ["1"]
        hits = _injected(page)
        assert len(hits) == 2 and "onerror" in hits[0] and "张三" in hits[1], hits
    finally:
        page.close()


PAGES_WITH_PAYLOAD = ["wall", "grid", "hotspots", "coverage", "bulletin"]


@pytest.mark.parametrize("name", PAGES_WITH_PAYLOAD)
def test_payloads_render_as_text(app, session, name):
    page, watch, dialogs = session("admin")
    code = app.codes["grid"]
    path = f"grid?grid={code}" if name == "grid" else b.PAGES[name]
    page.goto(f"{app.url}/{path}")
    try:
        _settle(page, map_expected=name != "bulletin")
        tooltip = None
        if name in ("wall", "grid"):
            tooltip = _hover_grid(page, code)
            page.wait_for_timeout(500)
    finally:
        b.screenshot(page, f"xss_{name}")
    if name == "grid":  # the open requests' table (a canvas), below the fold
        table = page.locator('[data-testid="stDataFrame"]').first
        table.scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        b.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        table.screenshot(path=str(b.SCREENSHOTS / "xss_grid_table.png"))
    assert dialogs == [], f"a payload ran: {dialogs}"
    assert _injected(page) == []
    text = _main_text(page)
    assert "Traceback" not in text
    assert page.locator('[data-testid="stException"]').count() == 0
    if name == "wall":  # the ticker shows each description and the grid's name, as text
        for payload in PAYLOADS:
            assert payload in text, f"{payload!r} not shown as text on the wall"
        assert GRID_NAME in text
    if name == "grid":  # the header names the grid, as text
        assert GRID_NAME in text, text[:400]
    if tooltip is not None:  # the name reached the tooltip escaped, not as a tag
        assert "&lt;img src=y onerror=alert(5)&gt;网格" in tooltip, tooltip
    assert watch.problems() == []


def test_grid_head_refused_outside_their_area(app, session):
    page, watch, dialogs = session("gridhead")
    other, other_name = app.codes["other"], app.codes["other_name"]
    page.goto(f"{app.url}/grid?grid={other}")
    b.script_done(page)
    refusal = page.get_by_text(f"无权查看 {other}")
    try:
        refusal.first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
    finally:
        b.screenshot(page, "grid_head_refused")
    text = _main_text(page)
    # Nothing of the refused grid: no name, header, KPIs or request table.
    assert other_name not in text
    assert "网格详情 ·" not in text
    assert page.locator(".gm-kpis").count() == 0
    assert page.locator('[data-testid="stDataFrame"]').count() == 0
    assert "Traceback" not in text
    # Their own grid opens (the refusal is about the area, not the page).
    own = app.codes["grid"]
    page.goto(f"{app.url}/grid?grid={own}")
    b.script_done(page)
    page.get_by_text(f"网格详情 · {GRID_NAME}").first.wait_for(timeout=30_000)
    assert "无权查看" not in _main_text(page)
    assert dialogs == []
    assert watch.problems() == []


def _nav_labels(page) -> list[str]:
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.wait_for(timeout=30_000)
    return [x.strip() for x in nav.locator("a").all_inner_texts()]


def test_navigation_follows_role(app, session):
    page, watch, _ = session("commander")
    page.goto(f"{app.url}/")
    b.script_done(page)
    commander = _nav_labels(page)
    assert any("指挥大屏" in x for x in commander), commander
    assert not any("数据导出" in x or "数据管理" in x for x in commander), commander
    assert watch.problems() == []
    # A typed URL of a page the role may not open falls back to the wall, with no export;
    # Streamlit says so on the console (its one expected error here).
    page.goto(f"{app.url}/export")
    b.script_done(page)
    page.wait_for_timeout(1000)
    assert page.locator('[data-testid="stDownloadButton"]').count() == 0
    assert [p for p in watch.problems()
            if "does not seem to exist. Running the app's main page" not in p] == []

    page, watch, _ = session("planner")
    page.goto(f"{app.url}/")
    b.script_done(page)
    planner = _nav_labels(page)
    assert any("数据导出" in x for x in planner), planner
    assert not any("数据管理" in x for x in planner), planner

    page, watch, _ = session("admin")
    page.goto(f"{app.url}/")
    b.script_done(page)
    admin = _nav_labels(page)
    assert any("数据导出" in x for x in admin) and any("数据管理" in x for x in admin), admin


def test_sign_in_form_and_wrong_password(app, session):
    page, watch, _ = session(None)
    page.goto(f"{app.url}/grid?grid={app.codes['grid']}")
    b.login_form(page).wait_for(timeout=30_000)
    b.script_done(page)
    page.wait_for_timeout(500)
    b.screenshot(page, "sign_in")
    # Signed out, no page draws anything: no map, no grid name, no figures.
    assert page.locator('iframe[title*="st_folium"]').count() == 0
    assert GRID_NAME not in _main_text(page)
    assert page.locator(".gm-kpis").count() == 0
    page.locator('input[aria-label="账号"]').fill("admin")
    page.locator('input[aria-label="密码"]').fill("not-the-password")
    page.locator('[data-testid="stFormSubmitButton"] button', has_text="登录").click()
    # While the rerun draws, the form is redrawn in place: never a stale second copy below
    # it (a cookie script that is there on one run only used to shift every element).
    forms = []
    while not page.get_by_text("账号或密码不正确").count():
        forms.append(b.login_form(page).count())
        page.wait_for_timeout(20)
        assert len(forms) < 1500, "no refusal after 30 s"
    b.script_done(page)
    assert set(forms) <= {1}, forms
    assert b.session_cookie(page.context) is None
    assert b.login_form(page).count() == 1
    assert watch.problems() == []
    # The right password then works in the same session once the first failure's wait
    # (1 s, stored on the server) is over.
    page.wait_for_timeout(1200)
    b.sign_in(page, app, "admin")
    assert b.session_cookie(page.context)


def test_wall_token_opens_wall_without_sign_in(app, session):
    _, token = b.wall_token(app.db_url, COMMUNITY[:6])
    page, watch, dialogs = session(None, width=1920, height=1080)
    page.goto(f"{app.url}/?kiosk=1&token={token}")
    frame = b.map_frame(page)
    b.script_done(page)
    page.wait_for_timeout(1500)
    b.screenshot(page, "wall_token")
    assert int(frame.evaluate("document.documentElement.getAttribute('data-grids')")) > 0
    assert b.login_form(page).count() == 0
    assert not page.locator('[data-testid="stSidebar"]').is_visible()
    assert "大屏令牌无效" not in _main_text(page)
    assert dialogs == [] and _injected(page) == []
    assert watch.problems() == []


def test_wall_token_header_names_its_area(app, session):
    _, token = b.wall_token(app.db_url, COMMUNITY[:6])
    page, _, _ = session(None, width=1920, height=1080)
    page.goto(f"{app.url}/?kiosk=1&token={token}")
    b.script_done(page)
    header = page.locator("h2", has_text="更新于").first
    header.wait_for(timeout=30_000)
    assert "资阳区" in header.inner_text(), header.inner_text()


def test_revoked_wall_token_is_refused(app, session):
    name, token = b.wall_token(app.db_url, COMMUNITY[:6])
    assert b.revoke_wall_token(app.db_url, name)
    page, watch, _ = session(None)
    page.goto(f"{app.url}/?kiosk=1&token={token}")
    b.script_done(page)
    page.get_by_text("大屏令牌无效").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    b.screenshot(page, "wall_token_revoked")
    assert page.locator('iframe[title*="st_folium"]').count() == 0
    assert page.locator(".gm-kpis").count() == 0
    assert b.login_form(page).count() == 0
    assert watch.problems() == []


def test_sign_out_ends_the_session_so_a_replayed_cookie_fails(app, session, chromium):
    page, _, _ = session("commander")
    cookie = b.session_cookie(page.context)
    assert cookie

    def replay() -> bool:
        """Open the app in a fresh browser holding only the cookie: signed in?"""
        context = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        try:
            context.add_cookies([{"name": b.SESSION_COOKIE, "value": cookie, "url": app.url}])
            fresh = context.new_page()
            fresh.goto(f"{app.url}/")
            b.script_done(fresh)
            fresh.wait_for_timeout(500)
            return b.login_form(fresh).count() == 0
        finally:
            context.close()

    assert replay()  # the control: before sign-out the copied cookie resumes the session
    page.goto(f"{app.url}/grid")
    b.script_done(page)
    page.locator('[data-testid="stSidebar"] button', has_text="退出登录").click()
    b.login_form(page).wait_for(timeout=30_000)
    assert not replay()  # after it, the same cookie signs nobody in
    assert b.session_cookie(page.context) is None  # and the browser dropped it


def test_a_county_wall_token_rotates_only_within_its_county(app, session):
    _, token = b.wall_token(app.db_url, "430903")  # 赫山区
    page, watch, _ = session(None, width=1920, height=1080)
    page.goto(f"{app.url}/?kiosk=1&token={token}&rotate=5&refresh=5")
    b.script_done(page)
    header = page.locator("h2", has_text="更新于").first
    seen = set()
    for _ in range(16):  # about 24 s: several turns
        header.wait_for(timeout=30_000)
        seen.add(header.inner_text().split("·")[1].split()[0])
        page.wait_for_timeout(1500)
    text = _main_text(page)
    assert "Traceback" not in text and 'File "' not in text
    assert "已拒绝" not in text and "无权查看" not in text
    with sqlite3.connect(app.db_url.removeprefix("sqlite:///")) as db:
        inside = {name for (name,) in db.execute(
            "SELECT name FROM admin_unit WHERE code = '430903' OR parent_code = '430903'")}
    assert seen <= inside, seen - inside  # the county and its townships, nothing else
    assert len(seen) > 1, seen  # and it does rotate
    assert watch.problems() == []


def test_a_download_url_exists_from_the_click_and_serves_one_download(app, session, chromium):
    page, watch, _ = session("admin")
    page.goto(f"{app.url}/data")
    b.script_done(page)
    page.get_by_text("下载导入模板").click()
    button = page.locator('[data-testid="stDownloadButton"] button', has_text="CSV 模板")
    button.wait_for(timeout=30_000)
    # Drawn, not clicked: no file and no URL in the page yet.
    assert page.locator('a[href*="/media/"]').count() == 0
    with page.expect_download(timeout=30_000) as started:
        button.click()
    download = started.value
    assert "/media/" in download.url
    assert download.path().read_bytes().startswith(b"\xef\xbb\xbf")  # the CSV, with its BOM
    # The URL served its download (Streamlit's check, then the file): replayed from the
    # same browser or another, it is gone.
    assert page.request.get(download.url).status == 404
    context = chromium.new_context()
    try:
        assert context.request.get(download.url).status == 404
    finally:
        context.close()
    # A second click makes a fresh file for the same user.
    with page.expect_download(timeout=30_000) as again:
        button.click()
    assert again.value.path().read_bytes() == download.path().read_bytes()
    assert watch.problems() == []
