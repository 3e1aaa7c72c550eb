"""Links to other pages, drawn only when the session's role may open the target.

The navigation (app.py) registers only the pages of :data:`geo.access.PAGES` for the role;
a link to any other page would lead to the wall instead. Every link to a page, and every
sentence that sends the user to one, asks :func:`may_open`: the same check as the navigation.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from geo.access import AccessDenied
from ui import data
from ui.text import t


def may_open(page: str) -> bool:
    """Return True when the session's role may open ``page`` (a file stem under pages/)."""
    try:
        return data.scope().may_open(page)
    except AccessDenied:  # nobody signed in: no page but the sign-in form
        return False


def page_link(page: str, *, label: str, icon: str | None = None,
              query_params: Mapping[str, str] | None = None) -> bool:
    """Draw a link to ``page`` when the role may open it; return whether it was drawn."""
    if not may_open(page):
        return False
    st.page_link(f"pages/{page}.py", label=label, icon=icon,
                 query_params=dict(query_params) if query_params else None)
    return True


def switch_page(page: str, *, query_params: Mapping[str, str] | None = None) -> None:
    """Go to ``page`` when the role may open it (a click on a map, a search); else stay."""
    if may_open(page):
        st.switch_page(f"pages/{page}.py",
                       query_params=dict(query_params) if query_params else None)


def empty_db_note() -> None:
    """No grids stored yet: say where to import them, or whom to ask."""
    st.info(t("msg.empty_db" if may_open("data") else "msg.empty_db.ask"))
    page_link("data", label=t("nav.data"), icon=":material/database:")
