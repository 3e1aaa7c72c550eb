"""The dashboard in a real headless Chromium with every non-local request blocked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Start the app on an EMPTY database: it must seed the demo by itself."""
    db = tmp_path_factory.mktemp("app") / "gridmap.db"
    port = _free_port()
    env = dict(os.environ, GRIDMAP_DATABASE_URL=f"sqlite:///{db}")
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("streamlit did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_first_start_seeds_demo_and_paints_map_offline(app_url, tmp_path):
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})

        def route(r):
            host = r.request.url.split("/")[2] if "://" in r.request.url else ""
            if host.startswith(("127.0.0.1", "localhost")) or r.request.url.startswith(
                    ("data:", "blob:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.context.route("**/*", route)
        page.goto(app_url)
        # Visible progress while the empty database is seeded.
        page.get_by_text("首次启动").first.wait_for(timeout=30_000)
        frame = page.frame_locator("iframe").first
        frame.locator(".leaflet-overlay-pane canvas").first.wait_for(timeout=120_000)
        page.get_by_text("6,017 个网格").first.wait_for(timeout=10_000)
        # The tooltip names the grid and its code.
        box = page.locator("iframe").first.bounding_box()
        tip = frame.locator(".leaflet-tooltip")
        for fx in (0.55, 0.6, 0.62, 0.5):  # Leaflet's canvas renderer hit-tests on mousemove
            page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.6,
                            steps=8)
            page.wait_for_timeout(500)
            if tip.count():
                break
        tip.first.wait_for(timeout=10_000)
        text = tip.first.inner_text()
        page.screenshot(path=str(tmp_path / "overview.png"))
        browser.close()
    assert outside == []
    assert "网格" in text and any(ch.isdigit() for ch in text)
