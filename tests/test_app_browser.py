"""The dashboard in a real headless Chromium, with every request to another host blocked.

One Streamlit server runs on a private copy of the session's demo database (the
``demo_url`` fixture) for the module; the kiosk test writes a request into that copy.
Each test's browser context signs in as the demo admin first (``b.open_page``); the kiosk
test instead opens the wall the way a wall screen does, with a wall token for the whole
city and no sign-in. Screenshots go to tests/screenshots/ (gitignored): look at them.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests import browser as b

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

UNKNOWN_GRID = "439999999999999"
#: Grid file and map component, at most this much for the command wall (DESIGN §9).
MAP_PAYLOAD_LIMIT = 1_000_000


@pytest.fixture(scope="module")
def app(tmp_path_factory, demo_url):
    """The app on a private copy of the session's demo database (built by the fixture, so
    a fresh clone needs no ``gridmap init-demo`` first)."""
    work = tmp_path_factory.mktemp("browser")
    db = b.copy_demo(work / "db", source=Path(demo_url.removeprefix("sqlite:///")))
    server = b.start_app(f"sqlite:///{db}", log_dir=work)
    server.grids = b.grid_count(db)
    yield server
    b.stop_app(server)


@pytest.fixture
def tab(app, chromium):
    """(page, watch) in a fresh browser context signed in as admin, closed afterwards."""
    context, page, watch = b.open_page(chromium, app)
    yield page, watch
    context.close()


def _script_done(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished running the page's script."""
    b.script_done(page, timeout)


def _wait_map(page, app, *, timeout: float = 60):
    """The map iframe once it shows every grid; fails fast when the page has no map."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if page.locator('iframe[title*="st_folium"]').count():
            return b.map_frame(page, expected=app.grids, timeout=max(deadline - time.time(), 5))
        try:
            _script_done(page, timeout=1)
        except sync_api.TimeoutError:
            continue
        page.wait_for_timeout(1500)  # the component may mount just after the run ends
        if not page.locator('iframe[title*="st_folium"]').count():
            text = page.locator('[data-testid="stMain"]').inner_text()[:300]
            raise AssertionError(f"the page has no map (placeholder?): {text!r}")
    raise AssertionError(f"no map within {timeout:.0f} s")


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


@pytest.mark.parametrize("name", list(b.PAGES))
def test_page_paints_grids_offline(app, tab, name):
    page, watch = tab
    page.goto(f"{app.url}/{b.PAGES[name]}")
    try:
        frame = _wait_map(page, app)
        # A short settle so that late console errors and requests are caught too.
        page.wait_for_timeout(800)
        assert int(frame.evaluate("document.documentElement.getAttribute('data-grids')")) \
            == app.grids
    finally:
        b.screenshot(page, name)
    assert "Traceback" not in _main_text(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert watch.problems() == []


def test_enter_in_the_grid_search_opens_the_grid(app, tab):
    page, watch = tab
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{app.url}/")
    _script_done(page)
    box = page.locator('[data-testid="stSidebar"] input[aria-label="查找网格"]')
    box.fill("石码头社区第1网格")
    box.press("Enter")  # no click: Enter alone submits the search
    deadline = time.time() + 30
    while time.time() < deadline and not re.search(r"/grid\?grid=430902005001\d{3}", page.url):
        page.wait_for_timeout(200)
    assert re.search(r"/grid\?grid=430902005001\d{3}", page.url), page.url
    _script_done(page)
    page.get_by_text("石码头社区第1网格").first.wait_for(timeout=30_000)
    b.screenshot(page, "search_enter_1440")
    assert watch.problems() == []


def test_click_grid_opens_detail_and_back_returns(app, tab):
    page, watch = tab
    page.goto(f"{app.url}/")
    frame = _wait_map(page, app)
    _script_done(page)
    point = b.grid_click_point(page, frame)
    code = point["code"]
    page.mouse.move(point["x"], point["y"], steps=4)
    page.mouse.click(point["x"], point["y"])
    # The component got the grid's tooltip (with its code): the browser side worked.
    tooltip = frame.evaluate("() => window.__GLOBAL_DATA__.last_object_clicked_tooltip")
    deadline = time.time() + 20
    while time.time() < deadline and f"/grid?grid={code}" not in page.url:
        page.wait_for_timeout(200)
    assert code in (tooltip or ""), f"clicked tooltip {tooltip!r} lacks {code}"
    assert f"/grid?grid={code}" in page.url, (
        f"the click on {code} did not open its detail (url {page.url}); the component "
        f"returned the tooltip {tooltip!r}")
    page.get_by_text(code).first.wait_for(timeout=30_000)
    try:
        _wait_map(page, app)  # the detail's own map
    finally:
        b.screenshot(page, "grid_clicked")
    page.go_back()
    page.wait_for_url(re.compile(r"^[^?]*/(wall)?(\?.*)?$"), timeout=15_000)
    _wait_map(page, app)
    assert "/grid" not in page.url
    assert watch.problems() == []


def test_over_the_polygon_limit_a_click_on_a_unit_zooms_into_its_grids(
        tmp_path_factory, demo_url, chromium):
    # The demo's 6,017 grids under a limit of 1,000: the wall sends 98 townships (DESIGN §9
    # at province scale); a click on one sends grids instead, and names the area.
    work = tmp_path_factory.mktemp("zoom")
    db = b.copy_demo(work, source=Path(demo_url.removeprefix("sqlite:///")))
    server = b.start_app(f"sqlite:///{db}", log_dir=work,
                         extra_env={"GRIDMAP_MAX_POLYGONS": "1000"})
    try:
        context, page, watch = b.open_page(chromium, server)
        page.goto(f"{server.url}/")
        frame = b.map_frame(page, expected=98)
        _script_done(page)
        point = b.grid_click_point(page, frame)
        assert len(point["code"]) == 9  # a township
        page.mouse.move(point["x"], point["y"], steps=4)
        page.mouse.click(point["x"], point["y"])
        page.wait_for_url(re.compile(rf"area={point['code']}"), timeout=30_000)
        _script_done(page)
        deadline = time.time() + 60
        codes: list[str] = []
        while time.time() < deadline:
            frame = b.map_frame(page)
            codes = frame.evaluate("() => window.gridmap.codes || []")
            if codes and len(codes[0]) == 15:
                break
            page.wait_for_timeout(300)
        assert codes and all(len(c) == 15 for c in codes) and len(codes) <= 1000
        assert any(c.startswith(point["code"]) for c in codes)
        b.screenshot(page, "zoomed_into_township")
        assert watch.problems() == []
        context.close()
    finally:
        b.stop_app(server)


def _insert_urgent(db_url: str, *, code: str, lon: float, lat: float, text: str) -> None:
    from geo.store import engine as store_engine
    from geo.store import requests as store_requests

    now = datetime.utcnow().replace(microsecond=0) - timedelta(seconds=5)
    row = pd.DataFrame([{
        "external_id": f"browser-{uuid.uuid4().hex}", "grid_code": code, "outside_grid": False,
        "lon": lon, "lat": lat, "source": "hotline", "category": "safety",
        "severity": "urgent", "route": "government", "status": "reported",
        "reported_at": now, "due_at": now + timedelta(hours=24), "description": text,
    }])
    engine = store_engine.make_engine(db_url, upgrade=False)
    try:
        with store_engine.transaction(engine) as conn:
            assert store_requests.insert_requests(conn, row) == 1
    finally:
        engine.dispose()


def test_kiosk_refresh_keeps_map_mounted(app, chromium):
    # A wall screen's real setup: a token for the whole city, no account, no sign-in.
    from geo.demo import CITY_CODE

    _, token = b.wall_token(app.db_url, CITY_CODE)
    context, page, watch = b.open_page(chromium, app, width=1920, height=1080, user=None)
    try:
        watch.record_ws_frames = True
        page.goto(f"{app.url}/?kiosk=1&refresh=2&token={token}")
        frame = _wait_map(page, app)
        assert not b.login_form(page).count()
        frame.wait_for_function("document.documentElement.getAttribute('data-style')",
                                timeout=30_000)
        # Mark the document and move the view the way a person at the wall would.
        target = frame.evaluate("""() => {
            window.__mounted = 1;
            const gm = window.gridmap, i = Math.floor(gm.layers.length / 3);
            const c = gm.layers[i].getCenter();
            window.map.setView([c.lat + 0.003, c.lng - 0.004], window.map.getZoom() + 2,
                               {animate: false});
            return {code: gm.codes[i], lat: c.lat, lng: c.lng};
        }""")
        page.wait_for_timeout(500)
        before = b.map_state(frame)
        assert before["mounted"] == 1
        header = page.locator("h2", has_text="更新于").first
        stamps = {header.inner_text()}

        text = f"浏览器测试{uuid.uuid4().hex[:6]}燃气泄漏"
        _insert_urgent(app.db_url, code=target["code"], lon=target["lng"], lat=target["lat"],
                       text=text)
        deadline = time.time() + 30
        seen = changed = False
        # The header shows the refresh's cut-off, which steps with refresh=2: the change may
        # arrive within one step, so keep watching until the time has moved on too.
        while time.time() < deadline and not (seen and changed and len(stamps) >= 2):
            page.wait_for_timeout(500)
            stamps.add(header.inner_text())
            seen = text in _main_text(page)
            changed = b.map_state(frame)["style"] != before["style"]
        after = b.map_state(frame)
        b.screenshot(page, "wall_kiosk")
        assert seen, "the new urgent request never reached the ticker"
        assert changed, "the map's style was not re-applied after the data changed"
        assert after["mounted"] == 1, "the map iframe was reloaded (remounted)"
        assert after["zoom"] == before["zoom"]
        assert after["lat"] == pytest.approx(before["lat"], abs=1e-9)
        assert after["lng"] == pytest.approx(before["lng"], abs=1e-9)
        assert len(stamps) >= 2, f"the kiosk clock did not tick: {stamps}"
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        assert not page.locator('[data-testid="stToolbar"]').is_visible()
        assert watch.problems() == []
    finally:
        context.close()


def test_unknown_grid_code_shows_message(app, tab):
    page, watch = tab
    page.goto(f"{app.url}/grid?grid={UNKNOWN_GRID}")
    _script_done(page)
    try:
        page.get_by_text(f"网格编码 {UNKNOWN_GRID} 不存在").first.wait_for(timeout=20_000)
    finally:
        b.screenshot(page, "grid_unknown")
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in _main_text(page)
    assert watch.problems() == []


def test_wall_map_payload_under_1mb(app, tab, record_property):
    page, watch = tab
    page.goto(f"{app.url}/")
    _wait_map(page, app)
    _script_done(page)
    page.wait_for_timeout(500)

    def body(entry) -> tuple[int, int]:
        resp = entry["response"]
        try:
            decoded = len(resp.body())
        except Exception:  # redirects and aborted bodies
            decoded = 0
        return decoded, resp.request.sizes()["responseBodySize"]

    # Only this page's fetches: the sign-in lands on the wall too, and its map's fetch can
    # still be answered after the watch was cleared (its frame is gone by now).
    grid_files = [e for e in watch.responses if "/static/cache/grids-" in e["url"]
                  and not e["response"].frame.is_detached()]
    map_assets = [e for e in watch.responses
                  if "/component/streamlit_folium" in e["url"] or "/app/static/" in e["url"]]
    assert len(grid_files) == 1, [e["url"] for e in grid_files]
    grid_raw, grid_sent = body(grid_files[0])
    assets_sent = sum(body(e)[1] for e in map_assets)
    total_sent = sum(body(e)[1] for e in watch.responses)
    figures = {"grid_file_bytes": grid_raw, "grid_file_transferred": grid_sent,
               "map_assets_transferred": assets_sent, "websocket_received": watch.ws_received,
               "all_http_transferred": total_sent}
    for key, value in figures.items():
        record_property(key, value)
    print("wall payload:", figures)
    assert grid_raw <= MAP_PAYLOAD_LIMIT
    # The map's own bytes: grid file, Leaflet, the component, and what the websocket carried.
    assert assets_sent + watch.ws_received <= MAP_PAYLOAD_LIMIT, figures


def test_language_is_remembered_across_a_reload_and_the_title_says_gridmap_once(app, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{app.url}/")
        b.login_form(page).wait_for(timeout=60_000)
        assert page.title() == "网格一张图 GridMap"
        # Signed out: no list of pages (raw file names or titles) in a sidebar.
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        page.get_by_text("English", exact=True).click()
        page.get_by_text("Sign in to GridMap").wait_for(timeout=30_000)
        page.wait_for_function("document.cookie.includes('gridmap_lang=en')", timeout=30_000)
        assert page.title() == "GridMap"
        page.reload()
        page.locator('[data-testid="stTextInput"] input[aria-label="Account"]').wait_for(
            timeout=60_000)
        assert page.get_by_text("Sign in to GridMap").count() == 1
        assert page.title() == "GridMap"
        # A ?lang= in the URL still wins, and follows the switch.
        page.goto(f"{app.url}/?lang=zh")
        b.login_form(page).wait_for(timeout=60_000)
        assert page.title() == "网格一张图 GridMap"
    finally:
        context.close()
