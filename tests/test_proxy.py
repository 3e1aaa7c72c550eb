"""The production layout (issue 17 item 5): nginx in front of two Streamlit servers and the API.

One PostgreSQL database holds the Yiyang demo, with the demo accounts' passwords changed as
a site would. Two Streamlit servers and ``gridmap api --root-path /api`` run against it with
``GRIDMAP_PROXY_HOPS=1``; Debian's nginx runs in the foreground with the configuration that
``deploy/render.py`` renders from deploy/nginx/gridmap.conf.in, a self-signed certificate
for 127.0.0.1, and its pid, logs and temporary files in the test's folder.

Checked through the proxy: TLS, the security headers on every answer, /_stcore/metrics
refused (the servers themselves answer it), /api/ reaching the Open311 service with links
that name the proxy's https address, every browser kept on one server (the access log says
which) while browsers spread over both, and in headless Chromium a sign-in, a wall and an
import. Checked across the servers: a session cookie issued through one works on both and a
sign-out through one ends it on both; a wall token opens the wall on both and a revocation
made elsewhere is refused by a server; an import through the proxy shows on the wall that
each server has open, at its next refresh, without a reload.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.error import HTTPError

import pytest
from sqlalchemy import create_engine, text

from deploy.render import render_site, render_standalone
from tests import browser as b

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")

PG_ADMIN_URL = os.environ.get(
    "GRIDMAP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
#: The security headers the proxy adds (Streamlit sends none of them on its pages).
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
#: One line of the proxy's access log (the ``gridmap`` format).
LOG_LINE = re.compile(r'\] (?P<upstream>\S+) "(?P<request>[^"]*)" (?P<status>\d{3}) \d+ '
                      r"route=(?P<route>\S+)")
REFRESH = 2  # seconds between the walls' refreshes


@dataclass
class Stack:
    """What the module runs: the database, two app servers, the API and the proxy."""

    db_url: str
    apps: list[b.App]
    api: b.App
    proxy: b.App
    http_url: str
    tls: ssl.SSLContext
    access_log: Path
    password: str

    def upstreams(self) -> dict[str, str]:
        """``host:port`` of each app server -> its direct URL."""
        return {a.url.removeprefix("http://"): a.url for a in self.apps}

    def routes(self) -> list[tuple[str, str, str]]:
        """(route cookie, upstream, request) of each proxied answer so far."""
        rows = []
        for line in self.access_log.read_text().splitlines():
            m = LOG_LINE.search(line)
            if m and m["upstream"] != "-":
                rows.append((m["route"], m["upstream"], m["request"]))
        return rows

    def server_of(self, route: str) -> str:
        """The one app server that answered every request of a route cookie."""
        seen = {u for r, u, _ in self.routes() if r == route and u in self.upstreams()}
        assert len(seen) == 1, f"route {route} reached {seen or 'no app server'}"
        return seen.pop()


def _fetch(url: str, *, tls: ssl.SSLContext | None = None,
           headers: dict[str, str] | None = None):
    """GET without following redirects: (status, headers, body)."""
    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls),
                                         _NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=20) as r:
            return r.status, r.headers, r.read()
    except HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _wait_for(check, *, what: str, timeout: float = 60, log=None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not ready in {timeout:.0f} s" + (f":\n{log()}" if log else ""))


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "proxy.crt", folder / "proxy.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def _demo_database(url: str, password: str) -> None:
    """The demo city in ``url``, its accounts' passwords changed (they stop working once
    real data is imported, and the import below is real data)."""
    from geo import accounts, demo
    from geo.store import engine as store_engine

    engine = store_engine.make_engine(url)
    try:
        demo.init_demo(engine, end=datetime.utcnow().replace(microsecond=0))
        with store_engine.transaction(engine) as conn:
            for name in accounts.DEMO_ACCOUNTS:
                accounts.set_password(conn, username=name, password=password)
    finally:
        engine.dispose()


def _start_api(url: str, log_dir: Path) -> b.App:
    """``gridmap api`` as the proxy expects it (under /api/), once it answers."""
    port = b.free_port()
    log = log_dir / "api.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "geo", "--database", url, "api", "--port", str(port),
             "--root-path", "/api", "--log-level", "warning"],
            cwd=b.ROOT, stdout=out, stderr=subprocess.STDOUT)
    api = b.App(url=f"http://127.0.0.1:{port}", proc=proc, db_url=url, log=log)
    _wait_for(lambda: proc.poll() is None and _fetch(f"{api.url}/services.json")[0] == 200,
              what="gridmap api", log=api.log_tail)
    return api


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (scripts/test.sh installs Debian's)")
    work = tmp_path_factory.mktemp("proxy")
    name = f"gm_proxy_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    password = f"Proxy-{uuid.uuid4().hex}"
    started: list[b.App] = []
    try:
        _demo_database(db_url, password)
        env = {"GRIDMAP_PROXY_HOPS": "1"}
        with ThreadPoolExecutor(3) as pool:
            apps = [pool.submit(b.start_app, db_url, log_dir=work / f"app{i}", extra_env=env)
                    for i in (1, 2)]
            api = pool.submit(_start_api, db_url, work)
            results = []
            for future in (*apps, api):
                try:
                    results.append(future.result())
                except Exception as exc:
                    results.append(exc)
        started = [r for r in results if isinstance(r, b.App)]
        failed = [r for r in results if not isinstance(r, b.App)]
        if failed:
            raise failed[0]
        *apps, api = started
        cert, key = _certificate(work)
        https_port, http_port = b.free_port(), b.free_port()
        access_log = work / "access.log"
        site = render_site(app_servers=[a.url.removeprefix("http://") for a in apps],
                           api_servers=[api.url.removeprefix("http://")], certificate=cert,
                           certificate_key=key, https_listen=f"127.0.0.1:{https_port}",
                           http_listen=f"127.0.0.1:{http_port}", access_log=str(access_log))
        prefix = work / "nginx"
        conf = prefix / "nginx.conf"
        prefix.mkdir()
        conf.write_text(render_standalone(site, prefix))
        log = prefix / "error.log"
        with open(prefix / "stderr.log", "w") as out:
            proc = subprocess.Popen(
                [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(log), "-g", "daemon off;"],
                stdout=out, stderr=subprocess.STDOUT)
        proxy = b.App(url=f"https://127.0.0.1:{https_port}", proc=proc, db_url=db_url, log=log)
        started.append(proxy)
        tls = ssl.create_default_context(cafile=str(cert))
        _wait_for(lambda: proc.poll() is None
                  and _fetch(f"{proxy.url}/_stcore/health", tls=tls)[0] == 200,
                  what="nginx", log=proxy.log_tail)
        yield Stack(db_url=db_url, apps=apps, api=api, proxy=proxy,
                    http_url=f"http://127.0.0.1:{http_port}", tls=tls, access_log=access_log,
                    password=password)
    finally:
        for server in reversed(started):  # the proxy first
            b.stop_app(server)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _assert_secured(headers, where: str) -> None:
    for name, expected in SECURITY_HEADERS.items():
        values = headers.get_all(name) or []
        assert len(values) == 1 and expected in values[0], f"{where}: {name}: {values}"


def test_tls_headers_metrics_and_the_api_route(stack):
    status, headers, body = _fetch(f"{stack.proxy.url}/", tls=stack.tls)
    assert status == 200 and b"<html" in body.lower()
    _assert_secured(headers, "/")
    route = [c for c in headers.get_all("Set-Cookie") or [] if c.startswith("gridmap_route=")]
    assert route and all(f in route[0] for f in ("HttpOnly", "Secure")), route
    # Plain HTTP only redirects, to the same path over HTTPS.
    status, headers, _ = _fetch(f"{stack.http_url}/grid?grid=1")
    assert status == 301 and headers["Location"] == f"{stack.proxy.url}/grid?grid=1"

    # The servers answer metrics to anyone; through the proxy, in no spelling.
    app = stack.apps[0].url
    assert _fetch(f"{app}/_stcore/metrics")[0] == 200
    for path in ("/_stcore/metrics", "/_stcore/metrics?x=1", "//_stcore/metrics",
                 "/_stcore/%6Detrics", "/_stcore/./metrics", "/_stcore/metrics/"):
        status, headers, body = _fetch(f"{stack.proxy.url}{path}", tls=stack.tls)
        assert status == 404 and b"stcore" not in body, (path, status, body[:200])
        _assert_secured(headers, path)

    # /api/ is the Open311 service, under the proxy's address.
    direct = _fetch(f"{stack.api.url}/services.json")
    status, headers, body = _fetch(f"{stack.proxy.url}/api/services.json", tls=stack.tls)
    assert status == 200 and body == direct[2] and b"service_code" in body
    _assert_secured(headers, "/api/services.json")
    status, _, body = _fetch(f"{stack.proxy.url}/api/requests.json", tls=stack.tls)
    assert status == 401 and b'"code":401' in body.replace(b" ", b"")
    from geo import intake
    from geo.store import engine as store_engine

    engine = store_engine.make_engine(stack.db_url, upgrade=False)
    try:
        key = intake.create_api_key(engine, f"proxy-{uuid.uuid4().hex[:8]}")
    finally:
        engine.dispose()
    status, headers, body = _fetch(
        f"{stack.proxy.url}/api/servicerequestupdates.json?api_key={key}&page_size=1"
        "&start_date=2000-01-01T00:00:00%2B08:00", tls=stack.tls)
    assert status == 200, body[:300]
    assert headers["Link"].startswith(
        f"<{stack.proxy.url}/api/servicerequestupdates.json?"), headers["Link"]


def test_each_browser_stays_on_one_server_and_browsers_use_both(stack):
    routes = [f"test{uuid.uuid4().hex}" for _ in range(24)]
    for route in routes:
        for _ in range(3):  # in a row: round robin would alternate within a route
            status, _, _ = _fetch(f"{stack.proxy.url}/_stcore/health", tls=stack.tls,
                                  headers={"Cookie": f"gridmap_route={route}"})
            assert status == 200
    servers = {route: stack.server_of(route) for route in routes}
    assert set(servers.values()) == set(stack.upstreams()), servers


def _browser_context(browser, *, https: bool):
    return browser.new_context(viewport={"width": 1600, "height": 1000}, locale="zh-CN",
                               timezone_id="Asia/Shanghai", ignore_https_errors=https)


def _route_cookie(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "gridmap_route")


def _signed_in_on(browser, url: str, cookie: str) -> bool:
    """Whether a fresh browser holding only ``cookie`` is signed in at ``url``."""
    context = _browser_context(browser, https=False)
    try:
        context.add_cookies([{"name": b.SESSION_COOKIE, "value": cookie, "url": url}])
        page = context.new_page()
        page.goto(f"{url}/")
        signed_in = page.locator(".st-key-logout button")
        form = b.login_form(page)
        deadline = time.time() + 60
        while time.time() < deadline:
            if signed_in.count():
                return True
            if form.count():
                return False
            page.wait_for_timeout(200)
        raise AssertionError(f"{url}: neither signed in nor the sign-in form in 60 s")
    finally:
        context.close()


def test_a_session_made_through_the_proxy_holds_on_both_servers_until_signed_out(stack,
                                                                                chromium):
    context = _browser_context(chromium, https=True)
    try:
        page = context.new_page()
        watch = b.Watch(app_host=stack.proxy.url.removeprefix("https://"))
        watch.attach(context, page)
        b.sign_in(page, stack.proxy, "admin", stack.password)
        b.script_done(page)
        # The headers (the CSP above all) leave the app whole: no console or page error.
        assert watch.problems() == []
        cookie = next(c for c in context.cookies() if c["name"] == b.SESSION_COOKIE)
        assert cookie["secure"], "over HTTPS (X-Forwarded-Proto) the cookie is Secure"
        home = stack.server_of(_route_cookie(context))
        for app in stack.apps:
            assert _signed_in_on(chromium, app.url, cookie["value"]), app.url

        page.locator(".st-key-logout button").click()
        b.login_form(page).wait_for(timeout=30_000)
        # Signed out through one server: the cookie signs nobody in on either.
        for app in stack.apps:
            assert not _signed_in_on(chromium, app.url, cookie["value"]), \
                f"{app.url} after a sign-out through {home}"
    finally:
        context.close()


def _requests_csv(stack, description: str) -> bytes:
    """One urgent request reported a few seconds ago, where a demo request lies."""
    engine = create_engine(stack.db_url)
    try:
        with engine.connect() as conn:
            lon, lat = conn.execute(text(
                "SELECT lon, lat FROM request WHERE grid_code IS NOT NULL LIMIT 1")).one()
    finally:
        engine.dispose()
    reported = datetime.utcnow() + timedelta(hours=8) - timedelta(seconds=5)
    return ("编号,类别,紧急程度,解决途径,状态,来源,上报时间,描述,经度,纬度\n"
            f"PROXY-{uuid.uuid4().hex[:8]},矛盾纠纷,揪心事,政府解决类,上报,热线,"
            f"{reported:%Y-%m-%d %H:%M:%S},{description},{lon},{lat}\n").encode()


def _ticker_text(page) -> str:
    ticker = page.locator(".gm-ticker")
    return ticker.first.inner_text() if ticker.count() else ""


def test_walls_on_both_servers_show_an_import_made_through_the_proxy(stack, chromium):
    from geo.demo import CITY_CODE

    _, token = b.wall_token(stack.db_url, CITY_CODE)
    wall = f"/?kiosk=1&refresh={REFRESH}&window=24h&token={token}"
    contexts = []
    try:
        # The wall through the proxy, and open on each server directly.
        walls = {}
        for url, https in [(stack.proxy.url, True), *((a.url, False) for a in stack.apps)]:
            context = _browser_context(chromium, https=https)
            contexts.append(context)
            page = context.new_page()
            page.goto(url + wall)
            b.map_frame(page)
            page.wait_for_selector(".gm-ticker, .gm-ticker-title", timeout=60_000)
            walls[url] = page
        description = f"代理导入{uuid.uuid4().hex[:6]}燃气泄漏"
        assert not any(description in _ticker_text(p) for p in walls.values())

        # The import, through the proxy's 数据管理 page: the upload must reach the server
        # that holds the page.
        context = _browser_context(chromium, https=True)
        contexts.append(context)
        page = context.new_page()
        b.sign_in(page, stack.proxy, "admin", stack.password)
        page.goto(f"{stack.proxy.url}/data")
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            files=[{"name": "proxy.csv", "mimeType": "text/csv",
                    "buffer": _requests_csv(stack, description)}])
        page.locator(".st-key-data_import button").click(timeout=60_000)
        page.get_by_text("导入完成：新增 1 行").wait_for(timeout=60_000)
        home = stack.server_of(_route_cookie(context))

        # Each wall shows it at a next refresh, with no reload: the data stamp each server
        # caches for a few seconds moved on with the database.
        deadline = time.time() + 30
        waiting = dict(walls)
        while waiting and time.time() < deadline:
            for url in [u for u, p in waiting.items() if description in _ticker_text(p)]:
                del waiting[url]
            time.sleep(0.3)
        assert not waiting, f"imported through {home}; not shown on {list(waiting)}"
    finally:
        for context in contexts:
            context.close()


def test_a_wall_token_revoked_elsewhere_is_refused_by_the_other_server(stack, chromium):
    from geo.demo import CITY_CODE

    name, token = b.wall_token(stack.db_url, CITY_CODE)
    wall = f"/?kiosk=1&token={token}"
    first, second = stack.apps
    context = _browser_context(chromium, https=False)
    try:
        page = context.new_page()
        page.goto(first.url + wall)
        b.map_frame(page)
        assert b.revoke_wall_token(stack.db_url, name)
        page = context.new_page()
        page.goto(second.url + wall)
        page.get_by_text("令牌已被撤销").wait_for(timeout=60_000)
        assert page.locator("iframe").count() == 0
    finally:
        context.close()
