"""The app's pages for ``st.navigation``: registered on every run, listed once signed in.

Light on purpose (Streamlit only): app.py registers the pages before its slow imports, so
that Streamlit's own list of the files in pages/ (app, bulletin, data…) never shows beside
the sign-in form, not even on the first visit after a start.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui import ACCOUNT_KEY

#: Sidebar sections (catalogue keys) and their pages: (file name under pages/, icon).
SECTIONS: dict[str, list[tuple[str, str]]] = {
    "nav.section.watch": [("wall", "monitor"), ("grid", "grid_view"), ("worklist", "assignment")],
    "nav.section.analyse": [("coverage", "local_police"), ("hotspots", "local_fire_department"),
                            ("bulletin", "summarize")],
    "nav.section.manage": [("export", "download"), ("data", "database")],
}


def navigation(*, title: Callable[[str], str], may_open: Callable[[str], bool] | None = None,
               hidden: bool) -> st.Page:
    """Register the pages ``may_open`` allows (all for None), listed in the sidebar unless hidden.

    Only the pages a role may open exist for its session: a typed URL of another page falls
    back to the wall. ``title`` turns a catalogue key into the UI language.
    """
    # Hidden pages get no icon: the first run registers them before set_page_config, and
    # the default page's icon would become the favicon, fetched from fonts.gstatic.com.
    pages = {title(section): [
        st.Page(f"pages/{name}.py", title=title(f"nav.{name}"),
                icon=None if hidden else f":material/{icon}:",
                url_path=name, default=name == "wall")
        for name, icon in items if may_open is None or may_open(name)]
        for section, items in SECTIONS.items()}
    return st.navigation({k: v for k, v in pages.items() if v},
                         position="hidden" if hidden else "sidebar")


def hide_until_signed_in() -> None:
    """Signed out (or not yet resumed from the cookie): register every page, list none.

    A deep link (/grid?grid=…) keeps its path through the sign-in.
    """
    if st.session_state.get(ACCOUNT_KEY) is None:
        navigation(title=lambda key: key, hidden=True)
