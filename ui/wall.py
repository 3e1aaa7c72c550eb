"""The command wall's pieces: controls, KPI tiles, heat map and urgent ticker.

The wall refreshes inside an ``st.fragment(run_every=…)``. Each refresh fixes one cut-off
(:func:`ui.data.wall_refresh`, :mod:`geo.wall`) and hands it to every figure, tiles, map
and ticker, so they agree: a request committed before the refresh is in all of them.
Figures are cached on the data version and the cut-off, and each refresh sends only a new
grid style (a few tens of KB): the map itself stays mounted, so there is no flicker and
pan/zoom are kept.
"""

from __future__ import annotations

import html
import time

import pandas as pd
import streamlit as st

from geo import maps as geo_maps
from geo.access import AccessDenied
from geo.deadlines import LEVELS, ConfigError
from geo.supervision import MIN_SAMPLE
from geo.wall import Refresh, WallSupervision
from ui import data, maps, state, widgets
from ui.text import count, literal, rate, short_when, t, time_left, vocab, when

MEASURES = ("count", "per_1k")


def still_allowed() -> bool:
    """Re-check the session on each refresh: a revoked or expired wall token stops here.

    The token is re-verified at most once a minute (ui.data), so a revoked screen goes dark
    within a minute instead of showing figures for days.
    """
    try:
        data.scope()
    except AccessDenied as exc:
        from ui.auth import token_refusal  # ui.auth imports the pages' helpers

        st.error(token_refusal(exc), icon=widgets.ICON_DENIED)
        return False
    return True


def controls(*, kiosk: bool) -> tuple[str, str]:
    """The heat window and measure: from the URL in kiosk mode, widgets otherwise."""
    wanted = st.query_params.get("window", "7d")
    if wanted not in data.WINDOWS:
        st.warning(t("msg.bad_param", name="window", value=literal(wanted),
                     reason="24h / 7d / 30d"))
        wanted = "7d"
    if kiosk:
        return wanted, "count"
    left, right, _ = st.columns([2, 2, 3])
    with left:
        window = st.segmented_control(t("window.label"), list(data.WINDOWS), default=wanted,
                                      format_func=lambda w: t(f"window.{w}"),
                                      key="wall_window") or wanted
    with right:
        measure = st.segmented_control(t("wall.measure"), MEASURES, default="count",
                                       format_func=lambda m: t(f"wall.measure.{m}"),
                                       key="wall_measure") or "count"
    return window, measure


def run_every(params: state.Params) -> int:
    """Seconds between refreshes: the shorter of refresh and rotation."""
    return min(params.refresh, params.rotate) if params.rotate else params.refresh


def current_area(params: state.Params) -> str | None:
    """The area on screen now: the chosen one, or the county whose turn it is."""
    if params.kiosk and params.rotate:
        codes = rotation()
        if codes:
            return codes[int(time.time() // params.rotate) % len(codes)]
    return state.area()


def rotation() -> list[str]:
    """The areas a rotating wall cycles through, all inside the session's scope.

    The counties it may read, when there are several; otherwise its own area and the
    units one level below (a county's wall shows the county, then each township).
    """
    units = data.units()
    counties = [c for c in units.index[units["level"] == "county"] if data.may_read_area(c)]
    if len(counties) > 1:
        return counties
    home = state.area()
    if home is None:
        return counties
    below = [c for c in units.index[units["parent_code"] == home] if data.may_read_area(c)]
    return [home, *below]


def refresh() -> Refresh | None:
    """Fix the refresh's cut-off and data version (:func:`ui.data.wall_refresh`).

    None, with the reason shown, when the site's deadline or holiday file cannot be read.
    """
    try:
        return data.wall_refresh()
    except ConfigError as exc:
        st.error(t("msg.config_error", reason=literal(str(exc), limit=300)),
                 icon=widgets.ICON_DENIED)
        return None


def header(area: str | None, *, kiosk: bool) -> None:
    """Title with the area's name and the time of the figures (Asia/Shanghai)."""
    name = data.area_name(area)
    # Seconds on the wall: a ticking clock shows the screen is live, not frozen.
    stamp = when(data.now(), seconds=kiosk)
    if kiosk:
        st.markdown(f"<h2 style='margin:0 0 .3rem'>{html.escape(t('app.title'))} · "
                    f"{html.escape(name)} <span style='font-size:.6em;opacity:.75'>"
                    f"{html.escape(t('wall.as_of', time=stamp))}</span></h2>",
                    unsafe_allow_html=True)
    else:
        st.subheader(f"{t('wall.title')} · {name}")
        st.caption(t("wall.as_of", time=stamp))


def kpis(area: str | None, *, at: Refresh) -> None:
    """The eight KPI tiles, as of the refresh's cut-off."""
    k = data.wall_kpis(area, at=at)
    recent = t("wall.rates_note")
    backlog = t("wall.backlog_note")
    widgets.kpi_tiles([
        (t("kpi.today"), count(k.today_requests), None),
        (t("kpi.open"), count(k.open), backlog),
        (t("kpi.overdue"), count(k.overdue), backlog),
        (t("kpi.newly_overdue"), count(k.newly_overdue), t("wall.newly_note")),
        (t("kpi.resolution_rate"), rate(k.resolution_rate), recent),
        (t("kpi.on_time_rate"), rate(k.on_time_rate), recent),
        (t("kpi.satisfaction_rate"), rate(k.satisfaction_rate), recent),
        (t("kpi.open_disputes"), count(k.open_disputes), backlog),
    ], alert=[False, False, k.overdue > 0, k.newly_overdue > 0, False, False, False,
              k.open_disputes > 0])


def action_figures(area: str | None, *, at: Refresh) -> WallSupervision:
    """Read the supervision and claim figures at the cut-off (before anything is drawn).

    Read with the tiles' figures, not between the map and the ticker, so that the pieces
    of one refresh still reach the screen together.
    """
    return data.wall_supervision(area, at=at)


def supervision(s: WallSupervision) -> None:
    """督办 beside the map, above the ticker: two tiles, and the claim rate in a line.

    Eleven tiles do not fit one row at the wall's type size (a second row pushes the
    map's legend off a 1080 px screen), so the action figures sit in the side column, two
    tiles wide; the 解忧联盟 claim rate, a figure for the sites that run an alliance, is
    one line under them when there were cards to claim.
    """
    widgets.kpi_tiles([(t("kpi.supervised_open"), count(s.supervised_open),
                        t("wall.backlog_note")),
                       supervised_tile(s)],
                      alert=[s.supervised_open > 0, False])
    if s.claims.claimable:
        st.caption(t("wall.claims", rate=rate(s.claims.claim_rate),
                     claimed=count(s.claims.claimed), claimable=count(s.claims.claimable)))


def supervised_tile(s: WallSupervision) -> tuple[str, str, str]:
    """督办按期率: a percentage from MIN_SAMPLE due requests up, else "on time/due"."""
    r = s.recent
    if r.supervised_due and r.small_sample:
        return (t("kpi.supervised_on_time"), f"{r.supervised_on_time}/{r.supervised_due}",
                t("wall.small_sample", n=MIN_SAMPLE))
    return (t("kpi.supervised_on_time"), rate(r.on_time_rate),
            t("wall.supervised_note", n=count(r.supervised)))


def heat_map(area: str | None, *, window: str, measure: str, kiosk: bool,
             at: Refresh) -> None:
    """The choropleth of request heat per grid, with its legend, up to the cut-off."""
    column = "requests" if measure == "count" else "requests_per_1k"
    view, values = maps.heat_figures(area, window=window, column=column, at=at)
    if measure == "count":
        fmt = count
    else:
        def fmt(v: float) -> str:
            return f"{v:,.1f}"
    classes, items = maps.heat_classes(values, fmt=fmt if measure == "per_1k" else None)
    label = t(f"wall.map_label.{measure}", window=t(f"window.{window}"))
    if view.level != "grid":
        label += t("map.by_level", level=t(f"level.{view.level}"))
    if float(data.grid_heat(window, at=at)["requests"].sum()) == 0:
        st.info(t("msg.no_requests"))
    # The stamp (recorded on the page when the style is applied) names the data version
    # and the cut-off, so a test can tell which refresh the map shows.
    maps.grid_map(key="wall_map", classes=classes, colours=geo_maps.HEAT_COLOURS,
                  values=maps.codes_text(values, fmt), label=label, area=area,
                  height=640, clickable=not kiosk, dark=kiosk, view=view,
                  stamp=f"{at.stamp}|{at.cutoff:%Y%m%dT%H%M%S}|{area}|{window}|{measure}")
    widgets.legend(items, title=label)
    if not kiosk:
        st.caption(t("msg.map_click_hint" if view.level == "grid" else "map.units_click_hint"))


def _mark(kind: str, level: int) -> str:
    """The badge of a ticker entry: newly overdue, or the level when it is not in time."""
    if kind == "newly_overdue":
        return f'<span class="gm-badge gm-lv-2">{html.escape(t("wall.newly_overdue"))}</span>'
    if level > 0:
        return (f'<span class="gm-badge gm-lv-{level}">'
                f'{html.escape(t(f"escalation.{LEVELS[level]}"))}</span>')
    return ""


def ticker_rows(area: str | None, *, kiosk: bool, at: Refresh) -> pd.DataFrame:
    """Read the ticker's entries at the cut-off (before anything is drawn, like the tiles)."""
    return data.ticker(area, at=at, limit=5 if kiosk else 10)


def ticker(rows: pd.DataFrame) -> None:
    """New urgent and newly overdue requests, newest first; residents' text escaped.

    Three short lines an entry, so five fit beside the map on a 1080-line wall: when, the
    mark and the grid; what the resident wrote (one line, cut); category, status and the
    time left (or how long overdue).
    """
    st.markdown(f"**{html.escape(t('wall.ticker'))}**")
    if rows.empty:
        st.caption(t("wall.ticker.none"))
        return
    names = data.hierarchy().grids["name"]
    items = []
    for r in rows.itertuples(index=False):
        where = names.get(r.grid_code, r.grid_code) if isinstance(r.grid_code, str) else "—"
        text = str(r.description or "")
        if len(text) > 60:
            text = text[:59] + "…"
        facts = [vocab("category", r.category), vocab("status", r.status)]
        if pd.notna(r.due_at):
            left = time_left(r.left.total_seconds() / 3600)
            # A newly overdue entry's time is its deadline already: say only how late.
            facts.append(left if r.kind == "newly_overdue" else
                         f"{t('wall.deadline', time=short_when(r.due_at))} · {left}")
        items.append(
            f'<li class="gm-lv-{int(r.level)}">'
            f'<span class="gm-when">{html.escape(short_when(r.moment))}</span>'
            f'{_mark(r.kind, int(r.level))}'
            f'<span class="gm-where">{html.escape(str(where))}</span>'
            f'<span class="gm-text">{html.escape(text)}</span>'
            f'<span class="gm-due">{html.escape(" · ".join(facts))}</span></li>')
    st.markdown(f'<ul class="gm-ticker">{"".join(items)}</ul>', unsafe_allow_html=True)
