"""Links to other pages (ui/links.py): drawn only for pages the session's role may open."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from geo.access import PAGES
from geo.accounts import Account
from tests.pages import ADMIN, COMMANDER, PLANNER, run_page, texts

GRID_HEAD = Account("gridhead", "网格长", "grid_head", ("430902005001",))
ROLES = {"commander": COMMANDER, "grid_head": GRID_HEAD, "planner": PLANNER, "admin": ADMIN}
#: A grid of the grid head's community, so that every role may open its detail.
GRID = "430902005001001"


def _targets(at) -> list[str]:
    """The pages (URL paths) the page links on the page lead to."""
    return [el.proto.page for el in at.get("page_link")]


@pytest.fixture(scope="module")
def no_stations_url(demo_url, tmp_path_factory) -> str:
    """The demo with every police station removed."""
    path = tmp_path_factory.mktemp("nostations_links") / "demo.db"
    shutil.copy(demo_url.removeprefix("sqlite:///"), path)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM station")
    return f"sqlite:///{path}"


@pytest.mark.parametrize(("role", "page"), [
    (role, page) for role in ROLES for page in ("coverage", "grid", "worklist")
    if page in PAGES[role]])
def test_every_link_leads_to_a_page_the_role_has(demo_url, role, page):
    at = run_page(demo_url, f"pages/{page}.py", account=ROLES[role],
                  **({"grid": GRID} if page == "grid" else {}))
    assert not at.exception, at.exception
    targets = _targets(at)
    assert set(targets) <= PAGES[role], (role, page, targets)
    if page == "grid":
        assert "grid" in targets  # the neighbours: there are links to check


def test_coverage_sends_only_the_roles_that_export_to_the_export_page(demo_url):
    planner = run_page(demo_url, "pages/coverage.py", account=PLANNER)
    assert "export" in _targets(planner)  # the city has more uncovered grids than shown
    for account in (COMMANDER, ADMIN):
        at = run_page(demo_url, "pages/coverage.py", account=account)
        assert ("export" in _targets(at)) == (account.role == "admin")
        if account.role == "commander":
            assert "数据导出" not in texts(at)


def test_no_stations_points_only_an_admin_to_the_data_page(no_stations_url):
    admin = run_page(no_stations_url, "pages/coverage.py", account=ADMIN)
    assert "data" in _targets(admin)
    planner = run_page(no_stations_url, "pages/coverage.py", account=PLANNER)
    assert "尚未导入" in texts(planner)
    assert "data" not in _targets(planner) and "数据管理" not in texts(planner)


def test_an_empty_database_tells_each_role_what_it_can_do(empty_url):
    admin = run_page(empty_url, "pages/coverage.py", account=ADMIN)
    assert "数据管理" in texts(admin) and _targets(admin) == ["data"]
    commander = run_page(empty_url, "pages/coverage.py", account=COMMANDER)
    assert "请联系管理员" in texts(commander)
    assert _targets(commander) == [] and "数据管理" not in texts(commander)
