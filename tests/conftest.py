"""Shared fixtures: an ``engine`` on each backend, tiny literal grids.

Every test that takes ``engine`` runs twice: on a SQLite file and on a fresh PostgreSQL +
PostGIS database (``GRIDMAP_TEST_PG_URL``, default the local trust-auth server). The
PostgreSQL run is never skipped: if the server is missing the tests error, and with
``GRIDMAP_STRICT=1`` (set by scripts/test.sh) a session that skipped anything, or ran no
PostgreSQL test, fails.
"""

from __future__ import annotations

import os
import uuid

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import create_engine, text

from geo.store import engine as store_engine

PG_ADMIN_URL = os.environ.get(
    "GRIDMAP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _database_env():
    """Put back the app's database settings that a page test (tests/pages.py) sets."""
    keys = ("GRIDMAP_DATABASE_URL", "GRIDMAP_DEMO")
    old = {k: os.environ.get(k) for k in keys}
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _default_deadlines(monkeypatch):
    """Every test starts with the built-in deadline policy and the package's calendar."""
    monkeypatch.delenv("GRIDMAP_DEADLINES", raising=False)
    monkeypatch.delenv("GRIDMAP_HOLIDAYS", raising=False)


@pytest.fixture(scope="session")
def pg_url():
    """Create a throw-away PostgreSQL database for the session and drop it afterwards."""
    name = f"gm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _engines(tmp_path_factory, request):
    cache: dict[str, object] = {}

    def get(backend: str):
        if backend not in cache:
            if backend == "sqlite":
                path = tmp_path_factory.mktemp("db") / "gridmap.db"
                cache[backend] = store_engine.make_engine(f"sqlite:///{path}")
            else:
                cache[backend] = store_engine.make_engine(request.getfixturevalue("pg_url"))
        return cache[backend]

    yield get
    for eng in cache.values():
        eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, _engines):
    """An empty, migrated database on each backend."""
    eng = _engines(request.param)
    with store_engine.transaction(eng) as conn:
        store_engine.clear_all(conn)
    return eng


@pytest.fixture
def four_grids() -> gpd.GeoDataFrame:
    """Four 0.01° squares in a 2×2 block near Yiyang, in reading order."""
    boxes = [
        shapely.box(112.30, 28.56, 112.31, 28.57),  # NW
        shapely.box(112.31, 28.56, 112.32, 28.57),  # NE
        shapely.box(112.30, 28.55, 112.31, 28.56),  # SW
        shapely.box(112.31, 28.55, 112.32, 28.56),  # SE
    ]
    return gpd.GeoDataFrame(
        {
            "code": [f"430903003001{i:03d}" for i in range(1, 5)],
            "name": [f"测试社区第{i}网格" for i in range(1, 5)],
            "community_code": ["430903003001"] * 4,
            "population": [800, 650, 720, 900],
        },
        geometry=[shapely.MultiPolygon([b]) for b in boxes],
        crs=4326,
    )


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("GRIDMAP_STRICT") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    passed = reporter.stats.get("passed", [])
    pg = [r for r in passed if "postgresql" in r.nodeid]
    if skipped:
        reporter.write_line(f"GRIDMAP_STRICT: {len(skipped)} test(s) skipped; CI needs all.",
                            red=True)
        session.exitstatus = 1
    elif not pg:
        reporter.write_line("GRIDMAP_STRICT: no PostgreSQL test ran.", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory) -> str:
    """A SQLite database holding the Yiyang demo (built once per session, about 20 s)."""
    from datetime import datetime

    from geo import demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    url = f"sqlite:///{path}"
    eng = store_engine.make_engine(url)
    # Ends "now" so that the wall's trailing windows hold requests.
    demo.init_demo(eng, end=datetime.utcnow().replace(microsecond=0))
    eng.dispose()
    return url


@pytest.fixture(scope="session")
def empty_url(tmp_path_factory) -> str:
    """A migrated SQLite database with no rows."""
    path = tmp_path_factory.mktemp("empty") / "empty.db"
    url = f"sqlite:///{path}"
    store_engine.make_engine(url).dispose()
    return url


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium (Debian's), shared by a browser test module's tests."""
    from playwright.sync_api import sync_playwright

    from tests import browser as b

    with sync_playwright() as p:
        browser = b.launch(p)
        yield browser
        browser.close()
