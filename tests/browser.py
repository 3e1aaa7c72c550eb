"""Helpers of the real-browser tests and the wall benchmark: a Streamlit server, Chromium.

``start_app(db_url)`` runs ``streamlit run app.py`` on a free port against a database URL
(``GRIDMAP_DATABASE_URL``, never ``GRIDMAP_DEMO``) and waits for ``/_stcore/health``;
``copy_demo(dir)`` copies the demo database so that tests that write disturb nobody.
``launch(playwright)`` starts Debian's chromium headless; ``Watch`` blocks and records every
request to another host and collects console errors, page errors, responses and websocket
bytes; ``map_frame(page)`` finds the Leaflet iframe once it reports its grids.

Every page sits behind the sign-in gate (ui/auth.py): ``sign_in(page, app, user, password)``
fills the form and waits for the ``gridmap_session`` cookie, and ``open_page`` signs in as the
demo admin unless told otherwise (``user=None`` for a signed-out context, e.g. a wall token's
``/?kiosk=1&token=…``). ``wall_token(db_url, area)`` issues such a token.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
#: The checkout whose app.py is served (``GRIDMAP_APP_ROOT`` to try a patched copy).
APP_ROOT = Path(os.environ.get("GRIDMAP_APP_ROOT") or ROOT)
DEMO_DB = ROOT / "data" / "gridmap.db"
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
#: Chromium console noise that is not an app error (permission-policy and sandbox notes).
IGNORED_CONSOLE = ("Unrecognized feature", "sandbox", "Allow-Sandbox")
#: Streamlit's own probe, on a deep link such as /grid?grid=…, of whether "/grid" is the
#: server's base path: it asks /grid/_stcore/health and /grid/_stcore/host-config, gets
#: 404, and falls back to /. Chromium logs each 404 as a console error; it is not the app's.
BASE_PATH_PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")
#: Pages of the app: name -> URL path (the wall is the default page).
PAGES = {"wall": "", "grid": "grid", "coverage": "coverage", "hotspots": "hotspots",
         "bulletin": "bulletin", "export": "export", "data": "data"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_demo(dest_dir: Path, *, source: Path = DEMO_DB) -> Path:
    """Copy the demo database (consistently, through SQLite's backup API) into ``dest_dir``."""
    if not source.exists():
        raise FileNotFoundError(f"{source} missing: run `gridmap init-demo` first")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / "gridmap.db"
    for extra in (dest, dest.with_name(dest.name + "-wal"), dest.with_name(dest.name + "-shm")):
        extra.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    except sqlite3.DatabaseError:  # pragma: no cover - a read-only WAL database
        dst.close()
        shutil.copyfile(source, dest)
    finally:
        src.close()
        dst.close()
    return dest


def grid_count(db_path: Path) -> int:
    """Grids stored in a SQLite database."""
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM grid").fetchone()[0])


@dataclass
class App:
    """A running ``streamlit run app.py``."""

    url: str
    proc: subprocess.Popen
    db_url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output (for failure messages)."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_app(db_url: str, *, log_dir: Path, timeout: float = 90,
              extra_env: dict[str, str] | None = None, script: str = "app.py") -> App:
    """Run the app (or another ``script``) on a free port against ``db_url``; wait for it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GRIDMAP_DEMO"}
    env.update(GRIDMAP_DATABASE_URL=db_url, PYTHONUNBUFFERED="1", **(extra_env or {}))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"streamlit-{port}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script,
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=APP_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    app = App(url=f"http://127.0.0.1:{port}", proc=proc, db_url=db_url, log=log)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{app.log_tail()}")
        try:
            with urllib.request.urlopen(f"{app.url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return app
        except OSError:
            pass
        time.sleep(0.3)
    stop_app(app)
    raise RuntimeError(f"streamlit did not answer in {timeout:.0f} s:\n{app.log_tail()}")


def stop_app(app: App) -> None:
    """Stop the server started by :func:`start_app` (and only that process)."""
    if app.proc.poll() is None:
        app.proc.terminate()
        try:
            app.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.proc.kill()
            app.proc.wait(timeout=10)


def rss_kib(pid: int, *, children: bool = True) -> int:
    """Resident memory of a process (and its descendants), KiB, from /proc."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
        if children:
            for task in Path(f"/proc/{p}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    pids.extend(int(c) for c in task.read_text().split())
    return total


def launch(playwright):
    """Headless Debian chromium with the flags that keep it off the network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class Watch:
    """What a page did: requests blocked, console errors, responses and websocket bytes.

    Every request whose host is not the app's own is aborted and recorded in ``outside``.
    """

    app_host: str
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    responses: list[dict] = field(default_factory=list)
    ws_received: int = 0
    ws_sent: int = 0
    ws_frames: list[tuple[float, int]] = field(default_factory=list)
    record_ws_frames: bool = False

    def attach(self, context, page) -> None:
        """Route and listen on a browser context and its page."""
        context.route("**/*", self._route)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("response", self._response)
        page.on("websocket", self._websocket)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or urlsplit(url).netloc == self.app_host:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        text = msg.text
        where = msg.location.get("url", "")
        if any(s in text for s in IGNORED_CONSOLE):
            return
        if "404" in text and BASE_PATH_PROBE.search(urlsplit(where).path):
            return
        self.console_errors.append(f"{text} @ {where}")

    def _response(self, response) -> None:
        self.responses.append({"url": response.url, "status": response.status,
                               "response": response})

    def _websocket(self, ws) -> None:
        def received(payload):
            n = len(payload)
            self.ws_received += n
            if self.record_ws_frames:
                self.ws_frames.append((time.monotonic(), n))

        def sent(payload):
            self.ws_sent += len(payload)

        ws.on("framereceived", received)
        ws.on("framesent", sent)

    def problems(self) -> list[str]:
        """Requests to other hosts, console errors and page errors, for one assert."""
        return ([f"outside request: {u}" for u in self.outside]
                + [f"console error: {e}" for e in self.console_errors]
                + [f"page error: {e}" for e in self.page_errors])

    def clear(self) -> None:
        """Forget what was seen so far (the route stays)."""
        self.outside.clear()
        self.console_errors.clear()
        self.page_errors.clear()
        self.responses.clear()
        self.ws_frames.clear()
        self.ws_received = self.ws_sent = 0


#: The cookie that resumes a sign-in in later navigations (ui.auth.COOKIE).
SESSION_COOKIE = "gridmap_session"
#: Streamlit has finished running the page's script.
SCRIPT_DONE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def demo_password(username: str) -> str:
    """The documented password of a demo account (geo.accounts.DEMO_ACCOUNTS)."""
    from geo.accounts import DEMO_ACCOUNTS

    return DEMO_ACCOUNTS[username][2]


def script_done(page, timeout: float = 60) -> None:
    """Wait until Streamlit has finished running the page's script."""
    page.wait_for_selector(SCRIPT_DONE, timeout=timeout * 1000)


def login_form(page):
    """The sign-in form's account field (a locator; ``.count()`` is 0 when signed in)."""
    return page.locator('[data-testid="stTextInput"] input[aria-label="账号"]')


def session_cookie(context) -> str | None:
    """The value of the ``gridmap_session`` cookie in a browser context, if set."""
    for cookie in context.cookies():
        if cookie["name"] == SESSION_COOKIE and cookie["value"]:
            return cookie["value"]
    return None


def sign_in(page, app: App, username: str, password: str | None = None, *,
            timeout: float = 60) -> None:
    """Open the app's root, sign in through the form and wait for the session cookie.

    ``password`` defaults to the demo password of ``username``. Returns once the form is
    gone and ``gridmap_session`` is set in the page's context, so that later navigations in
    the same context resume the account.

    Raises
    ------
    AssertionError
        With the page's text, when the form stays (a refused sign-in) or no cookie arrives.

    """
    if password is None:
        password = demo_password(username)
    page.goto(f"{app.url}/")
    user_box = login_form(page)
    user_box.wait_for(timeout=timeout * 1000)
    script_done(page, timeout)
    user_box.fill(username)
    page.locator('[data-testid="stTextInput"] input[aria-label="密码"]').fill(password)
    page.locator('[data-testid="stFormSubmitButton"] button', has_text="登录").click()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not login_form(page).count() and session_cookie(page.context):
            return
        page.wait_for_timeout(200)
    text = page.locator('[data-testid="stMain"]').inner_text()[:400]
    raise AssertionError(f"sign-in as {username} did not complete in {timeout:.0f} s "
                         f"(form shown: {bool(login_form(page).count())}, cookie: "
                         f"{session_cookie(page.context)!r}): {text!r}")


def open_page(browser, app: App, *, width: int = 1600, height: int = 1000,
              user: str | None = "admin", password: str | None = None):
    """A new context and page with a :class:`Watch` attached: (context, page, watch).

    Signed in as ``user`` (the demo admin by default; ``None`` leaves the context signed
    out). The sign-in must itself be clean (no outside request, console or page error);
    the watch is then cleared, so a test sees only what its own navigation did.
    """
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    watch = Watch(app_host=urlsplit(app.url).netloc)
    watch.attach(context, page)
    if user is not None:
        try:
            sign_in(page, app, user, password)
            # Let the landing page (the wall) settle before the test navigates away.
            script_done(page)
            problems = watch.problems()
            assert problems == [], f"sign-in as {user}: {problems}"
        except BaseException:
            context.close()
            raise
        watch.clear()
    return context, page, watch


def wall_token(db_url: str, area: str, *, days: float = 1) -> tuple[str, str]:
    """Issue a wall token for ``area`` in the app's database: ``(name, token)``."""
    import uuid
    from datetime import timedelta

    from geo import accounts
    from geo.store import engine as store_engine

    engine = store_engine.make_engine(db_url, upgrade=False)
    try:
        with store_engine.transaction(engine) as conn:
            return accounts.create_wall_token(conn, area=area, expires=timedelta(days=days),
                                              name=f"browser-{uuid.uuid4().hex[:10]}",
                                              created_by="browser-test")
    finally:
        engine.dispose()


def revoke_wall_token(db_url: str, name: str) -> bool:
    """Revoke a wall token by name in the app's database."""
    from geo import accounts
    from geo.store import engine as store_engine

    engine = store_engine.make_engine(db_url, upgrade=False)
    try:
        with store_engine.transaction(engine) as conn:
            return accounts.revoke_wall_token(conn, name, actor="browser-test")
    finally:
        engine.dispose()


_GRIDS_JS = ("() => window.gridmap ? (document.documentElement.getAttribute('data-grids')"
             " || '') : null")


def map_frame(page, *, expected: int | None = None, timeout: float = 60):
    """The iframe holding the grid map, once it reports ``data-grids`` (== ``expected``).

    Raises
    ------
    TimeoutError
        With what each frame reported, when no map shows its grids in time.

    """
    deadline = time.time() + timeout
    seen: dict[str, object] = {}
    while time.time() < deadline:
        for frame in page.frames:
            if frame is page.main_frame:
                continue
            try:
                value = frame.evaluate(_GRIDS_JS)
            except Exception as exc:  # a frame navigating or detached
                seen[frame.url[:80]] = f"error {type(exc).__name__}"
                continue
            seen[frame.url[:80]] = value
            if value and (expected is None or int(value) == expected):
                return frame
        page.wait_for_timeout(200)
    raise TimeoutError(f"no map reported data-grids={expected} in {timeout:.0f} s: {seen}")


def map_state(frame) -> dict:
    """The map's centre, zoom and applied style stamp, and the mount marker."""
    return frame.evaluate("""() => ({
        lat: window.map.getCenter().lat, lng: window.map.getCenter().lng,
        zoom: window.map.getZoom(),
        style: document.documentElement.getAttribute('data-style'),
        mounted: window.__mounted === undefined ? null : window.__mounted})""")


def grid_click_point(page, frame) -> dict:
    """A point on the page inside a grid on the map: {x, y, code, index}.

    Picks, among grids whose centre lies inside the map view and inside the grid itself,
    the one drawn largest, so that a click lands on it and not on a neighbour.
    """
    # Wholly in view first: a click focuses the iframe, which would scroll it into view
    # between measuring and clicking.
    frame.frame_element().scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    found = frame.evaluate("""() => {
        const map = window.map, gm = window.gridmap, size = map.getSize();
        const rect = map.getContainer().getBoundingClientRect();
        let best = null;
        for (let i = 0; i < gm.layers.length; i++) {
            const layer = gm.layers[i];
            const c = layer.getCenter();
            const p = map.latLngToContainerPoint(c);
            if (p.x < 60 || p.y < 60 || p.x > size.x - 60 || p.y > size.y - 60) continue;
            if (!layer._containsPoint(map.latLngToLayerPoint(c))) continue;
            const b = layer.getBounds();
            const a = map.latLngToContainerPoint(b.getNorthWest());
            const z = map.latLngToContainerPoint(b.getSouthEast());
            const extent = Math.min(Math.abs(z.x - a.x), Math.abs(z.y - a.y));
            if (!best || extent > best.extent) {
                best = {x: rect.left + p.x, y: rect.top + p.y, code: gm.codes[i], index: i,
                        extent: extent};
            }
        }
        return best;
    }""")
    if not found:
        raise AssertionError("no grid centre inside the map view")
    box = frame.frame_element().bounding_box()
    return {**found, "x": box["x"] + found["x"], "y": box["y"] + found["y"]}


def screenshot(page, name: str) -> Path:
    """Save a screenshot to tests/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
