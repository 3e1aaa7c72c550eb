"""The command wall in a real headless Chromium agrees with itself within one refresh.

A request is POSTed through the Open311 API (in process, on the wall's own database), then
updated to resolved. After each, the first refresh that shows it anywhere shows it
everywhere: the ticker, the KPI tiles and the grid's figure and colour on the map. Before
issue 13 the tiles and the map counted up to the start of the current minute and the ticker
a minute further, so for up to a minute the ticker showed a request its grid did not.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tests import browser as b

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

#: Seconds between the wall's refreshes in this test (the URL's refresh=).
REFRESH = 4


@pytest.fixture(scope="module")
def app(tmp_path_factory, demo_url):
    """The app on a private copy of the session's demo database."""
    work = tmp_path_factory.mktemp("wall-browser")
    db = b.copy_demo(work / "db", source=Path(demo_url.removeprefix("sqlite:///")))
    server = b.start_app(f"sqlite:///{db}", log_dir=work)
    server.grids = b.grid_count(db)
    yield server
    b.stop_app(server)


_SNAPSHOT_JS = """(i) => ({
    style: document.documentElement.getAttribute('data-style'),
    cls: window.gridmap.last ? window.gridmap.last.classes.charAt(i) : null,
    value: window.gridmap.last && window.gridmap.last.values
        ? String(window.gridmap.last.values[i]) : null,
    fill: window.gridmap.layers[i].options.fillColor})"""


def _tiles(page) -> dict[str, str]:
    out = {}
    for tile in page.locator(".gm-kpi").all():
        label = tile.locator(".gm-kpi-label").inner_text().strip()
        out[label] = tile.locator(".gm-kpi-value").inner_text().strip()
    return out


def _snapshot(page, frame, index: int, text: str) -> dict:
    """What the screen shows now: header clock, tiles, ticker, and the grid on the map."""
    ticker = page.locator(".gm-ticker")
    return {"header": page.locator("h2", has_text="更新于").first.inner_text(),
            "tiles": _tiles(page),
            "ticker": text in ticker.first.inner_text() if ticker.count() else False,
            "ticker_cutoff": (ticker.first.get_attribute("data-cutoff") or "").replace(
                "-", "").replace(":", "") if ticker.count() else None,
            **frame.evaluate(_SNAPSHOT_JS, index)}


def _header_cutoff(snap: dict) -> str | None:
    """The header's clock (the cut-off in Asia/Shanghai) as the UTC stamp the map carries."""
    found = re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", snap["header"])
    if found is None:
        return None
    utc = pd.Timestamp(found.group(0)) - pd.Timedelta(hours=8)
    return f"{utc:%Y%m%dT%H%M%S}"


def _same_refresh(snap: dict) -> bool:
    """Header and tiles, ticker and map all show one refresh (the same cut-off).

    The refresh redraws them in that order: for a moment the header and tiles can be the
    next refresh's while the map and ticker are still the last one's.
    """
    cutoff = snap["style"].split("|")[1]
    return (_header_cutoff(snap) == cutoff
            and (snap["ticker_cutoff"] is None or snap["ticker_cutoff"] == cutoff))


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _moved(now: dict, then: dict, *labels: str) -> bool:
    # Only tiles the request moves: overdue and the rates may move with the clock alone.
    return any(now["tiles"].get(k) != then["tiles"].get(k) for k in labels)


def _first_refresh_showing(page, frame, index, text, *, changed, timeout=40.0) -> dict:
    """Poll until any figure shows the change; return the screen once that refresh is drawn.

    The refresh draws header, tiles, map and ticker in that order, and the map's iframe
    applies its new style a moment after; so once any figure moved, wait until the header's
    clock and the ticker's ``data-cutoff`` are the cut-off of the style the map shows, then
    read everything again, checking the header clock shows that the same refresh is
    still on screen.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        snap = _snapshot(page, frame, index, text)
        if changed(snap):
            settle = time.time() + 3 * REFRESH
            while not _same_refresh(snap) and time.time() < settle:
                page.wait_for_timeout(100)
                snap = _snapshot(page, frame, index, text)
            page.wait_for_timeout(300)
            again = _snapshot(page, frame, index, text)
            assert again["header"] == snap["header"], "the next refresh came meanwhile"
            assert _same_refresh(again), again
            return again
        page.wait_for_timeout(150)
    raise AssertionError(f"no refresh showed the change in {timeout:.0f} s: {snap}")


def test_post_then_resolve_shows_in_ticker_tiles_and_grid_within_one_refresh(app, chromium):
    from fastapi.testclient import TestClient

    from geo import api, intake, updates
    from geo.demo import CITY_CODE
    from geo.store import engine as store_engine

    _, token = b.wall_token(app.db_url, CITY_CODE)
    context, page, watch = b.open_page(chromium, app, width=1920, height=1080, user=None)
    engine = store_engine.make_engine(app.db_url, upgrade=False)
    try:
        page.goto(f"{app.url}/?kiosk=1&refresh={REFRESH}&window=24h&token={token}")
        frame = b.map_frame(page, expected=app.grids)
        frame.wait_for_function("window.gridmap.last && window.gridmap.last.values",
                                timeout=30_000)
        # A grid with no request in the last 24 h, drawn large enough to find: the POST
        # lands at its centre.
        target = frame.evaluate("""() => {
            const gm = window.gridmap;
            for (let i = 0; i < gm.layers.length; i++) {
                if (gm.last.classes.charAt(i) === '0' && String(gm.last.values[i]) === '0') {
                    const c = gm.layers[i].getCenter();
                    if (gm.layers[i]._containsPoint(window.map.latLngToLayerPoint(c)))
                        return {index: i, code: gm.codes[i], lat: c.lat, lng: c.lng};
                }
            }
            return null;
        }""")
        assert target, "no grid without requests in the last 24 h"
        i = target["index"]
        text = f"浏览器督办{uuid.uuid4().hex[:6]}燃气泄漏"
        before = _snapshot(page, frame, i, text)
        assert not before["ticker"] and before["value"] == "0"

        # 1. POST the request through the Open311 API (the FastAPI app, in process).
        key = intake.create_api_key(engine, f"browser-{uuid.uuid4().hex[:8]}")
        client = TestClient(api.create_app(engine))
        posted = client.post("/requests.json", data={
            "api_key": key, "service_code": "safety", "lat": f"{target['lat']:.6f}",
            "long": f"{target['lng']:.6f}", "description": text,
            "attribute[severity]": "urgent"})
        assert posted.status_code == 200, posted.text
        request_id = posted.json()[0]["service_request_id"]
        # Reading needs the key too (issue 17); a key still gets extended_attributes.
        assert client.get(f"/requests/{request_id}.json").status_code == 401
        assert client.get(f"/requests/{request_id}.json", params={"api_key": key}).json()[0][
            "extended_attributes"]["grid_code"] == target["code"]

        shown = _first_refresh_showing(
            page, frame, i, text,
            changed=lambda s: (s["ticker"] or s["value"] != "0"
                               or _moved(s, before, "今日诉求", "未办结")))
        b.screenshot(page, "wall_one_cutoff_posted")
        assert shown["ticker"], f"tiles or map moved, the ticker did not: {shown}"
        assert _number(shown["tiles"]["今日诉求"]) == _number(before["tiles"]["今日诉求"]) + 1
        assert _number(shown["tiles"]["未办结"]) == _number(before["tiles"]["未办结"]) + 1
        assert shown["value"] == "1" and shown["cls"] != "0", shown
        assert shown["fill"] != before["fill"], "the grid's colour did not change"

        # 2. Resolve it. The Open311 update endpoint is being built alongside; this call of
        # geo.updates.apply_updates on the wall's database stands for it (the endpoint
        # hands its update to the same function).
        with store_engine.transaction(engine) as conn:
            verdict = updates.apply_updates(conn, pd.DataFrame([dict(
                id=int(request_id), status="resolved", at=datetime.utcnow(),
                note="已处置")]), actor="api:browser-handler")
        assert verdict["verdict"].tolist() == ["updated"]

        done = _first_refresh_showing(
            page, frame, i, text,
            changed=lambda s: not s["ticker"] or _moved(s, shown, "未办结"))
        b.screenshot(page, "wall_one_cutoff_resolved")
        assert not done["ticker"], f"tiles moved, the ticker still shows it: {done}"
        assert _number(done["tiles"]["未办结"]) == _number(before["tiles"]["未办结"])
        assert done["tiles"]["今日诉求"] == shown["tiles"]["今日诉求"]  # still reported today
        # Still reported in the last 24 h: the grid keeps its figure and colour, and the map
        # was re-styled by this refresh (its stamp names the new data version).
        assert done["value"] == "1" and done["fill"] == shown["fill"]
        assert done["style"] != shown["style"]
        assert re.search(r"\|\d{8}T\d{6}\|", done["style"]), done["style"]
        assert watch.problems() == []
    finally:
        engine.dispose()
        context.close()


# --------------------------------------------------------------------------- the kiosk itself

#: Effective opacity (the product up the ancestors) of the map, the tiles and the ticker,
#: sampled on every animation frame; also whether Streamlit was running a rerun then and
#: which ticker cut-off was on screen.
_WATCH_OPACITY_JS = """() => {
    const effective = (el) => { let o = 1;
        for (let e = el; e && e.nodeType === 1; e = e.parentElement)
            o *= parseFloat(getComputedStyle(e).opacity);
        return o; };
    const w = window.__opacity = {samples: 0, running: 0, min: {}, cutoffs: []};
    const parts = {map: 'iframe[title="streamlit_folium.st_folium"]', tiles: '.gm-kpis',
                   ticker: '.gm-ticker-title', legend: '.gm-legend'};
    const tick = () => {
        const app = document.querySelector('[data-testid="stApp"]');
        const running = app && app.getAttribute('data-test-script-state') === 'running';
        w.samples++; if (running) w.running++;
        for (const [name, sel] of Object.entries(parts)) {
            for (const el of document.querySelectorAll(sel)) {
                const o = effective(el);
                w.min[name] = Math.min(w.min[name] === undefined ? 1 : w.min[name], o);
            }
        }
        const list = document.querySelector('.gm-ticker');
        const cut = list ? list.getAttribute('data-cutoff') : null;
        if (cut && w.cutoffs[w.cutoffs.length - 1] !== cut) w.cutoffs.push(cut);
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


def _kiosk(page, app, token, *, whole_city: bool = True, **params) -> object:
    query = "&".join(f"{k}={v}" for k, v in {"kiosk": 1, **params, "token": token}.items())
    page.goto(f"{app.url}/?{query}")
    # A token of one community sees only its grids.
    frame = b.map_frame(page, expected=app.grids if whole_city else None)
    frame.wait_for_function("window.gridmap.last", timeout=60_000)
    page.wait_for_selector(".gm-ticker, .gm-ticker-title", timeout=60_000)
    return frame


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_every_kiosk_layer_fills_the_screen_with_nothing_below_the_fold(app, chromium, width,
                                                                          height):
    from geo.demo import CITY_CODE
    from geo.wall import LAYERS

    _, token = b.wall_token(app.db_url, CITY_CODE)
    context, page, watch = b.open_page(chromium, app, width=width, height=height, user=None)
    scale = height / 1080
    try:
        for layer in LAYERS:
            frame = _kiosk(page, app, token, refresh=30, layer=layer)
            frame.wait_for_function(f"(document.documentElement.getAttribute('data-style') "
                                    f"|| '').includes('|{layer}|')"
                                    " && document.querySelectorAll('.gm-label').length > 0",
                                    timeout=60_000)
            # The frame is sized from the screen after the map is drawn: wait until it is.
            page.wait_for_function(
                "() => { const f = document.querySelector("
                "'iframe[title=\"streamlit_folium.st_folium\"]');"
                " return f && f.getBoundingClientRect().height > innerHeight * 0.6; }",
                timeout=30_000)
            fit = page.evaluate("""() => {
                const main = document.querySelector('[data-testid="stMain"]');
                const below = [];
                for (const el of document.querySelectorAll(
                        'iframe, .gm-kpi, .gm-legend, .gm-ticker li, .gm-ticker-title, h2')) {
                    const r = el.getBoundingClientRect();
                    if (r.height > 0 && r.bottom > innerHeight + 0.5)
                        below.push(el.className || el.tagName);
                }
                const li = document.querySelector('.gm-ticker li');
                return {scroll: document.scrollingElement.scrollHeight, inner: innerHeight,
                        main: main.scrollHeight, mainClient: main.clientHeight, below,
                        ticker: li ? parseFloat(getComputedStyle(li).fontSize) : null,
                        map: document.querySelector(
                            'iframe[title="streamlit_folium.st_folium"]')
                            .getBoundingClientRect().height};
            }""")
            label = frame.evaluate("""() => {
                const b = document.querySelector('.gm-label b');
                return {n: document.querySelectorAll('.gm-label').length,
                        size: b ? parseFloat(getComputedStyle(b).fontSize) : 0,
                        text: b ? b.textContent : ''}; }""")
            b.screenshot(page, f"wall_kiosk_{width}_{layer}")
            assert fit["scroll"] <= fit["inner"], (layer, fit)
            assert fit["main"] <= fit["mainClient"] + 1, (layer, fit)
            assert fit["below"] == [], (layer, fit)
            assert fit["map"] >= 0.7 * height, (layer, fit)  # the map takes the screen
            if fit["ticker"] is not None:
                assert fit["ticker"] >= 28 * scale, (layer, fit)
            # Eight counties named, in type read from 5 m, none written over another (once
            # the labels are spread again with the final font and frame size).
            assert label["n"] == 8 and label["size"] >= 28 * scale, (layer, label)
            frame.wait_for_timeout(800)
            shown = frame.evaluate("""() => [...document.querySelectorAll('.gm-label')]
                .filter(e => getComputedStyle(e).visibility !== 'hidden')
                .map(e => { const r = e.getBoundingClientRect();
                            return [e.textContent, r.left, r.top, r.right, r.bottom]; })""")
            clashes = [(a[0], c[0]) for i, a in enumerate(shown) for c in shown[i + 1:]
                       if a[1] < c[3] and a[3] > c[1] and a[2] < c[4] and a[4] > c[2]]
            assert clashes == [], (layer, clashes)
            assert len(shown) == 8, (layer, [s[0] for s in shown])
        assert watch.problems() == []
    finally:
        context.close()


@pytest.mark.parametrize("refresh", [2, 3, 4, 5])
def test_no_part_of_the_wall_dims_while_it_refreshes(app, chromium, refresh):
    from geo.demo import CITY_CODE

    _, token = b.wall_token(app.db_url, CITY_CODE)
    context, page, watch = b.open_page(chromium, app, width=1920, height=1080, user=None)
    try:
        frame = _kiosk(page, app, token, refresh=refresh)
        page.evaluate(_WATCH_OPACITY_JS)
        elements = "() => document.getElementsByTagName('*').length"
        before = frame.evaluate(elements)
        # Five refreshes: five new cut-offs after the first one seen (they step with refresh).
        page.wait_for_function("() => window.__opacity.cutoffs.length >= 6",
                               timeout=(refresh * 6 + 60) * 1000, polling=500)
        # The map's frame does not grow with refreshes (it gained a <style> each time).
        assert frame.evaluate(elements) == before
        seen = page.evaluate("() => window.__opacity")
        print(f"refresh={refresh}: {seen['samples']} samples, {seen['running']} during "
              f"reruns, lowest opacity {seen['min']}")
        assert seen["running"] > 0, "no sample fell inside a rerun"
        assert set(seen["min"]) == {"map", "tiles", "ticker", "legend"}, seen
        assert all(v == 1 for v in seen["min"].values()), seen
        assert watch.problems() == []
    finally:
        context.close()


def _ticker_state(page, request_id: int) -> dict | None:
    """The ticker list and one entry's badges, read at once (one refresh's list)."""
    return page.evaluate("""(id) => {
        const list = document.querySelector('.gm-ticker');
        if (!list) return null;
        const li = list.querySelector(`li[data-id="${id}"]`);
        return {cutoff: list.getAttribute('data-cutoff'), since: list.getAttribute('data-since'),
                badges: li ? [...li.querySelectorAll('.gm-badge')].map(e => e.textContent)
                           : null};
    }""", request_id)


def test_the_ticker_marks_new_and_overdue_requests_in_words(app, chromium):
    from datetime import timedelta

    from geo.store import engine as store_engine
    from geo.store import requests as store_requests

    grid = "430902005001001"  # 石码头社区第1网格: a wall of its community, a short ticker
    _, token = b.wall_token(app.db_url, "430902005001")
    context, page, watch = b.open_page(chromium, app, width=1920, height=1080, user=None)
    engine = store_engine.make_engine(app.db_url, upgrade=False)
    try:
        _kiosk(page, app, token, whole_city=False, refresh=3)
        now = datetime.utcnow().replace(microsecond=0)
        tag = uuid.uuid4().hex[:6]
        rows = [dict(external_id=f"new-{tag}", reported_at=now, due_at=now + timedelta(hours=24),
                     description=f"新到{tag}燃气泄漏"),
                dict(external_id=f"late-{tag}", reported_at=now - timedelta(hours=30),
                     due_at=now - timedelta(hours=6), description=f"超期{tag}路灯不亮")]
        with store_engine.transaction(engine) as conn:
            store_requests.insert_requests(conn, pd.DataFrame([dict(
                grid_code=grid, outside_grid=False, lon=112.33, lat=28.59, source="hotline",
                category="safety", severity="urgent", route="government", status="reported",
                **r) for r in rows]))
        ids = dict(pd.read_sql(f"SELECT external_id, id FROM request WHERE external_id LIKE "
                               f"'%-{tag}'", engine).itertuples(index=False))
        new_id, late_id = int(ids[f"new-{tag}"]), int(ids[f"late-{tag}"])

        deadline = time.time() + 60
        shown = None
        while time.time() < deadline:
            state = _ticker_state(page, new_id)
            if state and state["badges"] is not None:
                shown = state
                break
            page.wait_for_timeout(200)
        assert shown, "the new request never reached the ticker"
        b.screenshot(page, "wall_ticker_badges")
        # The first list that holds it: reported in [since, cutoff), so marked new.
        reported = f"{now:%Y-%m-%dT%H:%M:%S}"
        assert shown["since"] and shown["since"] <= reported < shown["cutoff"], shown
        assert "新到" in shown["badges"], shown
        # Past its deadline by six hours: said in words, and not new (reported 30 h ago).
        late = _ticker_state(page, late_id)
        assert late["badges"] is not None, late
        assert any(x.startswith("超期") and "小时" in x for x in late["badges"]), late
        assert "新到" not in late["badges"], late
        # A later refresh (a later cut-off, the previous one past the report): not new.
        page.wait_for_function(
            "(c) => { const l = document.querySelector('.gm-ticker');"
            " return l && l.getAttribute('data-cutoff') > c; }", arg=shown["cutoff"],
            timeout=60_000)
        later = _ticker_state(page, new_id)
        assert later["since"] >= shown["cutoff"], later
        assert later["badges"] is not None and "新到" not in later["badges"], later
        assert watch.problems() == []
    finally:
        engine.dispose()
        context.close()


def test_the_grid_map_names_grids_once_zoomed_in_far_enough(app, chromium):
    context, page, watch = b.open_page(chromium, app, width=1440, height=900, user="commander",
                                       password=b.demo_password("commander"))
    try:
        page.goto(f"{app.url}/grid?grid=430902005001003")
        frame = b.map_frame(page, expected=app.grids)
        frame.wait_for_function("window.gridmap.last && window.map.getZoom() >= 13"
                                " && Number(document.documentElement.getAttribute("
                                "'data-grid-labels')) > 0", timeout=60_000)
        names = frame.evaluate("""() => [...document.querySelectorAll('.gm-grid-label')].map(
            e => ({text: e.textContent, children: e.children.length}))""")
        assert any(n["text"] in ("石码头社区第3网格", "第3网格") for n in names), names
        assert all(n["children"] == 0 for n in names)  # plain text, escaped
        # Zoomed out to the city: no names (they would not fit).
        frame.evaluate("() => { window.map.setZoom(10, {animate: false}); }")
        frame.wait_for_function("document.documentElement.getAttribute('data-grid-labels')"
                                " === '0'", timeout=30_000)
        assert watch.problems() == []
    finally:
        context.close()
