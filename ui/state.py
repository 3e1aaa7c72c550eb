"""What the URL and the session say: kiosk mode, refresh, area, language, problems to show.

URL parameters (all optional):

``kiosk=1``
    Wall-screen mode: no sidebar, toolbar or page menu; dark; large type.
``refresh=<seconds>``
    How often the wall refreshes itself (1 … 3600; default 30 in kiosk mode, 60 otherwise).
``rotate=<seconds>``
    Kiosk only: each turn shows the wall's next layer and, without ``area``, the next
    county once every layer has been shown (1 … 3600 s a turn).
``layer=heat|backlog|overdue|disputes``
    The wall's map layer, or several separated by commas to rotate (:mod:`ui.wall`).
``area=<admin code>``
    Show one county, township or community instead of the whole city.
``grid=<grid code>``
    The grid shown on the grid detail page.
``request=<request id>``
    The request chosen on the grid detail and worklist pages (refused outside the scope).
``lang=zh|en``
    The interface language.
``token=<wall token>``
    A wall screen's read-only credential (``gridmap wall-token create``): no sign-in, the
    command wall of the token's area only.
``window=…``
    The page's time window: 24h, 7d or 30d on the wall; 90d, 180d or 365d on the
    dispute hotspots page.

An unknown parameter or a bad value is reported on the page, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from ui import data, widgets
from ui.text import LANGS, literal, t

KNOWN = ("kiosk", "refresh", "rotate", "area", "grid", "lang", "window", "month", "layer",
         "token", "request")
REFRESH_RANGE = (1, 3600)


@dataclass(frozen=True)
class Params:
    """The URL's parameters, checked.

    Attributes
    ----------
    kiosk : bool
        Wall-screen mode.
    refresh : int
        Seconds between wall refreshes.
    rotate : int or None
        Seconds per county when rotating; None: no rotation.
    problems : list of str
        Messages about unknown parameters and bad values, already in the UI language.

    """

    kiosk: bool = False
    refresh: int = 60
    rotate: int | None = None
    problems: list[str] = field(default_factory=list)


def _seconds(name: str, raw: str, problems: list[str]) -> int | None:
    low, high = REFRESH_RANGE
    try:
        value = int(raw)
    except ValueError:
        problems.append(t("msg.bad_param", name=name, value=literal(raw),
                          reason=f"{low}–{high} s"))
        return None
    if not low <= value <= high:
        problems.append(t("msg.bad_param", name=name, value=literal(raw), reason=f"{low}–{high} s"))
        return min(max(value, low), high)
    return value


def read_params() -> Params:
    """Parse and check the URL parameters (see the module docstring)."""
    qp = st.query_params
    problems: list[str] = []
    unknown = [k for k in qp if k not in KNOWN]
    if unknown:
        problems.append(t("msg.unknown_param", names=literal(", ".join(sorted(unknown)))))
    kiosk_raw = qp.get("kiosk", "0").strip().lower()
    kiosk = kiosk_raw in ("1", "true", "yes", "on")
    if kiosk_raw not in ("0", "1", "true", "false", "yes", "no", "on", "off", ""):
        problems.append(t("msg.bad_param", name="kiosk", value=literal(kiosk_raw), reason="0/1"))
    refresh = 30 if kiosk else 60
    if "refresh" in qp:
        refresh = _seconds("refresh", qp["refresh"], problems) or refresh
    rotate = None
    if "rotate" in qp:
        rotate = _seconds("rotate", qp["rotate"], problems)
    return Params(kiosk=kiosk, refresh=refresh, rotate=rotate, problems=problems)


#: The browser cookie that remembers the chosen language across reloads and new tabs.
LANG_COOKIE = "gridmap_lang"
_LANG_SAVED = "_lang_saved"


def _cookie_lang() -> str | None:
    cookies = st.context.cookies or {}
    value = cookies.get(LANG_COOKIE)
    return value if value in LANGS else None


def init_language() -> None:
    """Take the language from ``?lang=``, else the browser's cookie, on a session's first run.

    The switch (sign-in page, sidebar) keeps it for the session after; :func:`remember_language`
    writes it back to the browser.
    """
    if "lang" in st.session_state:
        return
    wanted = st.query_params.get("lang")
    st.session_state["lang"] = wanted if wanted in LANGS else _cookie_lang() or LANGS[0]


def remember_language() -> None:
    """Keep the session's language for the next visit: a cookie, and ``?lang=`` if present.

    A reload starts a new session, so the choice lives in the browser: the cookie (a year)
    for a plain address, and the URL's own ``lang`` parameter, which wins on load, is kept
    in step with the switch.
    """
    lang = st.session_state.get("lang", LANGS[0])
    if lang in LANGS and "lang" in st.query_params and st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    if lang not in LANGS or st.session_state.get(_LANG_SAVED, _cookie_lang()) == lang:
        widgets.browser_script(None)
        return
    st.session_state[_LANG_SAVED] = lang
    # The value is one of LANGS: nothing to escape.
    widgets.browser_script(f"<script>document.cookie = '{LANG_COOKIE}={lang}; path=/; "
                           "max-age=31536000; SameSite=Strict';</script>")


def area() -> str | None:
    """The chosen admin area code, or None for the whole city.

    Taken from ``?area=`` when the URL has one, else from the session (the sidebar). An
    unknown code is reported once and ignored.
    """
    raw = st.query_params.get("area")
    if raw is not None:
        code = raw.strip()
        if not code:
            return None
        if data.is_area(code) and data.may_read_area(code):
            st.session_state["area"] = code
            return code
        if data.outside_scope(code) or data.is_area(code):
            st.error(t("auth.area_denied", code=literal(code)), icon=widgets.ICON_DENIED)
            return None
        st.warning(t("msg.unknown_area", code=literal(code)), icon=widgets.ICON_WARN)
        return None
    code = st.session_state.get("area")
    if code and data.is_area(code) and data.may_read_area(code):
        return code
    # An account or wall token bound to one area starts there, not at "the whole city"
    # (which it could not see anyway): the titles and the picker then name that area.
    areas = data.scope().areas
    return areas[0] if areas and len(areas) == 1 and data.is_area(areas[0]) else None


def set_area(code: str | None) -> None:
    """Choose an area (None: the whole city) and put it in the URL."""
    st.session_state["area"] = code
    if code:
        st.query_params["area"] = code
    elif "area" in st.query_params:
        del st.query_params["area"]


def show_problems(params: Params) -> None:
    """Show the URL problems found by :func:`read_params`."""
    for message in params.problems:
        st.warning(message, icon=widgets.ICON_WARN)
