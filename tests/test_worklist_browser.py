"""The grid head's worklist in headless Chromium at phone size (390×844) and on a desktop.

A grid head of the demo signs in on a phone, opens the worklist, resolves a request with a
note and a small photo, and the command wall (open in another tab) shows it resolved at
its next refresh. Screenshots go to /tmp/shots/ (and tests/screenshots/): look at them.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests import browser as b

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

SHOTS = Path("/tmp/shots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
#: The demo's grid head serves this community (geo.accounts.DEMO_ACCOUNTS).
COMMUNITY = "430902005001"


@pytest.fixture(scope="module")
def app(tmp_path_factory, demo_url):
    """The app on a private copy of the demo database (this module writes into it)."""
    work = tmp_path_factory.mktemp("worklist-browser")
    db = b.copy_demo(work / "db", source=Path(demo_url.removeprefix("sqlite:///")))
    server = b.start_app(f"sqlite:///{db}", log_dir=work)
    yield server
    b.stop_app(server)


def _insert(db_url: str, text: str) -> int:
    """An urgent request, dispatched, in the grid head's community: returns its id."""
    from geo.store import engine as store_engine
    from geo.store import requests as store_requests
    from geo.store import updates as store_updates

    engine = store_engine.make_engine(db_url, upgrade=False)
    try:
        grids = store_requests.read_grids(engine)
        code = sorted(c for c in grids["code"] if str(c).startswith(COMMUNITY))[0]
        # Reported minutes ago: the wall judges figures as of the minute, so it counts it.
        now = datetime.utcnow().replace(microsecond=0) - timedelta(minutes=3)
        ext = f"browser-{uuid.uuid4().hex}"
        row = pd.DataFrame([{
            "external_id": ext, "grid_code": code, "outside_grid": False, "lon": 112.35,
            "lat": 28.55, "source": "hotline", "category": "safety", "severity": "urgent",
            "route": "government", "status": "dispatched", "reported_at": now,
            "due_at": now + timedelta(hours=24), "description": text,
            "address": "<script>alert(1)</script>人民路1号"}])
        with store_engine.transaction(engine) as conn:
            assert store_requests.insert_requests(conn, row) == 1
        return int(store_updates.read_states(engine, external_ids=[ext])["id"].iloc[0])
    finally:
        engine.dispose()


def _png(path: Path) -> Path:
    Image.new("RGB", (64, 48), (40, 160, 80)).save(path, format="PNG")
    return path


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    b.screenshot(page, name)


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate("""() => ({doc: document.documentElement.scrollWidth,
        body: document.body.scrollWidth, view: window.innerWidth})""")
    assert max(widths["doc"], widths["body"]) <= widths["view"], widths


def _open_kpi(page) -> str:
    tile = page.locator(".gm-kpi", has_text="未办结").first
    return tile.locator(".gm-kpi-value").inner_text()


def _card(page, rid: int):
    """Show more cards until the request's card is there; return its action expander."""
    label = f"办理 #{rid}"
    for _ in range(60):
        b.script_done(page)
        box = page.locator('[data-testid="stExpander"]').filter(
            has=page.locator("summary", has_text=label))
        if box.count():
            return box.first
        more = page.locator("button", has_text="再显示")
        assert more.count(), f"request {rid} not on the worklist"
        more.first.click()
        page.wait_for_timeout(300)
    raise AssertionError(f"request {rid} not found")


def test_a_grid_head_resolves_on_a_phone_and_the_wall_shows_it(app, chromium, tmp_path):
    text = f"浏览器测试{uuid.uuid4().hex[:6]}井盖缺失"
    rid = _insert(app.db_url, text)
    context, page, watch = b.open_page(chromium, app, user="gridhead", **PHONE)
    wall = context.new_page()
    try:
        # The wall of the grid head's community, refreshing every 5 s, in another tab.
        wall.set_viewport_size(DESKTOP)
        wall.goto(f"{app.url}/?refresh=5")
        b.script_done(wall)
        wall.locator(".gm-kpi").first.wait_for(timeout=60_000)
        before = _open_kpi(wall)
        assert text in wall.locator('[data-testid="stMain"]').inner_text()

        page.goto(f"{app.url}/worklist")
        b.script_done(page)
        page.locator(".gm-card").first.wait_for(timeout=60_000)
        assert not page.locator('[data-testid="stSidebar"][aria-expanded="true"]').count()
        _no_sideways_scroll(page)
        _shot(page, "worklist-390")
        box = _card(page, rid)
        box.scroll_into_view_if_needed()
        box.locator("summary").click()
        box.locator("textarea").fill("已补装井盖，现场已清理")
        button = box.locator('[data-testid="stFormSubmitButton"] button', has_text="办结")
        # A file that only claims to be an image is refused in words; nothing is written.
        fake = tmp_path / "fake.png"
        fake.write_text("not a picture")
        box.locator('input[type="file"]').set_input_files(str(fake))
        box.locator('[data-testid="stFileChip"]').wait_for(timeout=30_000)
        button.click()
        page.get_by_text("只能上传图片").first.wait_for(timeout=30_000)
        b.script_done(page)
        box = _card(page, rid)
        if not box.locator("textarea").is_visible():
            box.locator("summary").click()
        box.locator("textarea").fill("已补装井盖，现场已清理")
        box.locator('[data-testid="stFileChipDeleteBtn"]').first.click()
        box.locator('input[type="file"]').set_input_files(str(_png(tmp_path / "fix.png")))
        box.locator('[data-testid="stFileChip"]').wait_for(timeout=30_000)
        height = button.bounding_box()["height"]
        assert height >= 44, f"the resolve button is {height} px high"
        _no_sideways_scroll(page)
        button.scroll_into_view_if_needed()
        _shot(page, "worklist-390-form")
        button.click()
        page.get_by_text(f"已办结：#{rid}").first.wait_for(timeout=30_000)
        b.script_done(page)
        _no_sideways_scroll(page)

        # The wall's next refresh: one fewer open request, the urgent one gone.
        wall.bring_to_front()
        # Figures are judged as of the minute: the change shows within a minute and a refresh.
        deadline = time.time() + 90
        after = before
        while time.time() < deadline and after == before:
            wall.wait_for_timeout(1000)
            after = _open_kpi(wall)
        assert int(after.replace(",", "")) == int(before.replace(",", "")) - 1
        # The tiles are sent before the map and the ticker of the same refresh: wait for the
        # rest of that refresh to arrive rather than read the page between the two.
        main = wall.locator('[data-testid="stMain"]')
        while time.time() < deadline and text in main.inner_text():
            wall.wait_for_timeout(500)
        assert text not in main.inner_text()

        # Grid detail shows the request's history and the photo (served by the scope check).
        page.goto(f"{app.url}/worklist?request={rid}")
        b.script_done(page)
        page.locator(".gm-card", has_text="待结案").wait_for(timeout=30_000)
        page.locator('[data-testid="stPageLink"] a', has_text="在地图上查看").first.click()
        b.script_done(page)
        page.locator(".gm-history").wait_for(timeout=60_000)
        history = page.locator(".gm-history").inner_text()
        assert "办结" in history and "已补装井盖" in history and "gridhead" in history
        image = page.locator(".gm-photo img").first
        image.wait_for(timeout=30_000)
        assert image.evaluate("img => img.naturalWidth") == 64
        # Inline in the page, not a /media/ URL that would answer anyone who had it.
        assert image.get_attribute("src").startswith("data:image/")
        assert page.locator('img[src*="/media/"]').count() == 0
        _no_sideways_scroll(page)
        page.locator(".gm-history").scroll_into_view_if_needed()
        _shot(page, "grid-detail-history-390")
        # The resident's address reached the page as text, not as a script.
        assert "<script>alert(1)</script>人民路1号" in page.locator(".gm-card").first.inner_text()
        assert watch.problems() == []
    finally:
        context.close()


def test_the_worklist_on_a_desktop(app, chromium):
    context, page, watch = b.open_page(chromium, app, user="gridhead", **DESKTOP)
    try:
        page.goto(f"{app.url}/worklist")
        b.script_done(page)
        page.locator(".gm-card").first.wait_for(timeout=60_000)
        page.locator('[data-testid="stExpander"]').first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)  # let the last elements paint before the screenshot
        _no_sideways_scroll(page)
        assert page.locator('[data-testid="stSidebar"]').is_visible()
        _shot(page, "worklist-1440")
        # The first card's map link: grid detail with that request chosen, its history.
        page.locator('[data-testid="stPageLink"] a', has_text="在地图上查看").first.click()
        b.script_done(page)
        page.get_by_text("办理记录").first.wait_for(timeout=60_000)
        page.get_by_text("办理记录").first.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        _no_sideways_scroll(page)
        _shot(page, "grid-detail-1440")
        assert watch.problems() == []
    finally:
        context.close()
