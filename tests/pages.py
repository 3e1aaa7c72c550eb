"""Shared harness of the page tests: run app.py with Streamlit's AppTest on a given database.

``run_page(url, page, **query)`` runs the app on the database at ``url``, switched to
``page`` (a file under pages/) with the query parameters given, and returns the AppTest.
The fixtures ``demo_url`` (the Yiyang demo, built once per session) and ``empty_url`` (a
migrated database with no rows) live in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

import ui  # noqa: F401 - see below
from geo.accounts import Account
from geo.assets import CACHE_DIR

# ui/__init__.py reruns the script when it is first imported inside a script run (a fix
# for deep links on a fresh server). In an AppTest that rerun eats the first run's widget
# triggers, so a form submitted on the next run reads as not submitted: import ui here,
# outside any script run, as a long-running server has done long before a user clicks.



class _ServerPagesManager(PagesManager):
    """A PagesManager in the state of a running server: pages come from st.navigation.

    AppTest forgets, before every run, that app.py called st.navigation (it resets
    ``uses_pages_directory``), so a run after the signed-out one (whose hidden navigation
    already chose the wall) would execute pages/wall.py alone, without app.py. A server
    remembers it for the life of the process (ui/__init__.py, ui/serve.py).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


app_test.PagesManager = _ServerPagesManager  # type: ignore[misc]

TIMEOUT = 120
DEFAULT_PAGE = "pages/wall.py"
#: Signed-in accounts the page tests use (the session holds what ui/auth.py puts there
#: after a password check; the sign-in itself is tested in tests/test_auth_pages.py).
ADMIN = Account("admin", "管理员", "admin", ())
COMMANDER = Account("commander", "指挥长", "commander", ())
PLANNER = Account("planner", "规划员", "planner", ())
APP = str(Path(__file__).resolve().parents[1] / "app.py")


@contextmanager
def database(url: str):
    """Point the app at ``url`` while the block runs (and never seed the demo)."""
    old = {k: os.environ.get(k) for k in ("GRIDMAP_DATABASE_URL", "GRIDMAP_DEMO")}
    os.environ["GRIDMAP_DATABASE_URL"] = url
    os.environ.pop("GRIDMAP_DEMO", None)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_page(url: str, page: str, *, lang: str | None = None, session: dict | None = None,
             account: Account | None = ADMIN, **query: str) -> AppTest:
    """Run app.py on ``page`` against the database at ``url`` and return the AppTest.

    ``account`` is the signed-in account (default an admin, who may open every page);
    None leaves the session signed out.
    """
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    if lang:
        at.session_state["lang"] = lang
    if account is not None:
        at.session_state["_account"] = account
    for key, value in (session or {}).items():
        at.session_state[key] = value
    # Every later run (``at.run()``, ``widget.set_value(…).run()``, and the widget-state
    # pass before it, which calls the app's format_func) must read ``url`` too, not
    # whatever data/gridmap.db the machine holds: the environment stays set for the rest
    # of the test and tests/conftest.py puts it back afterwards.
    os.environ["GRIDMAP_DATABASE_URL"] = url
    os.environ.pop("GRIDMAP_DEMO", None)  # an empty database stays empty
    # st.navigation registers the pages on the first run; only then can we switch.
    at.run()
    if page != DEFAULT_PAGE and not at.exception:
        at.switch_page(page)
        at.run()
    return at


def map_file(at: AppTest) -> dict:
    """The packed polygon file the page's map fetches: what goes to the browser."""
    args = json.loads(at.get("component_instance")[0].proto.json_args)
    name = re.search(r"grids-[0-9a-f]{12}\.json", args["script"]).group(0)
    return json.loads((CACHE_DIR / name).read_text(encoding="utf-8"))


def map_style(at: AppTest) -> dict:
    """The style the page's map applies (classes per polygon, colours, tooltip figures)."""
    args = json.loads(at.get("component_instance")[0].proto.json_args)
    found = re.search(r"window\.gridmap\.apply\((\{.*\})\);", args["feature_group"])
    return json.loads(found.group(1))


def texts(at: AppTest) -> str:
    """Everything the page wrote as text (markdown, captions, headings, alerts, metrics)."""
    parts = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning",
                 "error", "success", "metric", "text"):
        for el in getattr(at, kind, []):
            parts.append(str(getattr(el, "value", "")) + " " + str(getattr(el, "label", "")))
    return "\n".join(parts)
