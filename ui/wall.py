"""The command wall's pieces: controls, KPI tiles, heat map and urgent ticker.

The wall refreshes inside an ``st.fragment(run_every=…)``. Each refresh re-reads figures
(cached per minute and data version) and sends only a new grid style (a few tens of KB):
the map itself stays mounted, so there is no flicker and pan/zoom are kept.
"""

from __future__ import annotations

import html
import time

import pandas as pd
import streamlit as st

from geo import maps as geo_maps
from geo.access import AccessDenied
from ui import data, maps, state, widgets
from ui.text import count, literal, rate, short_when, t, vocab, when

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

        st.error(token_refusal(exc), icon="⛔")
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
        counties = data.units()
        codes = list(counties.index[counties["level"] == "county"])
        if codes:
            return codes[int(time.time() // params.rotate) % len(codes)]
    return state.area()


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


def kpis(area: str | None) -> None:
    """The seven KPI tiles."""
    k = data.wall_kpis(area)
    recent = t("wall.rates_note")
    backlog = t("wall.backlog_note")
    widgets.kpi_tiles([
        (t("kpi.today"), count(k.today_requests), None),
        (t("kpi.open"), count(k.open), backlog),
        (t("kpi.overdue"), count(k.overdue), backlog),
        (t("kpi.resolution_rate"), rate(k.resolution_rate), recent),
        (t("kpi.on_time_rate"), rate(k.on_time_rate), recent),
        (t("kpi.satisfaction_rate"), rate(k.satisfaction_rate), recent),
        (t("kpi.open_disputes"), count(k.open_disputes), backlog),
    ], alert=[False, False, k.overdue > 0, False, False, False, k.open_disputes > 0])


def heat_map(area: str | None, *, window: str, measure: str, kiosk: bool) -> None:
    """The choropleth of request heat per grid, with its legend."""
    column = "requests" if measure == "count" else "requests_per_1k"
    view, values = maps.heat_figures(area, window=window, column=column)
    if measure == "count":
        fmt = count
    else:
        def fmt(v: float) -> str:
            return f"{v:,.1f}"
    classes, items = maps.heat_classes(values, fmt=fmt if measure == "per_1k" else None)
    label = t(f"wall.map_label.{measure}", window=t(f"window.{window}"))
    if view.level != "grid":
        label += t("map.by_level", level=t(f"level.{view.level}"))
    if float(data.grid_heat(window)["requests"].sum()) == 0:
        st.info(t("msg.no_requests"))
    maps.grid_map(key="wall_map", classes=classes, colours=geo_maps.HEAT_COLOURS,
                  values=maps.codes_text(values, fmt), label=label, area=area,
                  height=640, clickable=not kiosk, dark=kiosk, view=view,
                  stamp=f"{data.stamp()}|{data.minute():%H%M}|{area}|{window}|{measure}")
    widgets.legend(items, title=label)
    if not kiosk:
        st.caption(t("msg.map_click_hint" if view.level == "grid" else "map.units_click_hint"))


def ticker(area: str | None, *, kiosk: bool) -> None:
    """The newest open urgent requests, newest first; residents' text escaped."""
    st.markdown(f"**{html.escape(t('wall.ticker'))}**")
    rows = data.urgent_requests(area, limit=6 if kiosk else 10)
    if rows.empty:
        st.caption(t("wall.ticker.none"))
        return
    names = data.hierarchy().grids["name"]
    items = []
    for r in rows.itertuples(index=False):
        where = names.get(r.grid_code, r.grid_code) if isinstance(r.grid_code, str) else "—"
        text = str(r.description or "")
        if len(text) > 40:
            text = text[:39] + "…"
        due = t("wall.deadline", time=short_when(r.due_at)) if pd.notna(r.due_at) else ""
        items.append(
            f'<li><span class="gm-when">{html.escape(short_when(r.reported_at))}</span>'
            f'<span class="gm-where">{html.escape(str(where))}</span>'
            f'{html.escape(vocab("category", r.category))} · '
            f'{html.escape(vocab("status", r.status))}<br>'
            f'<span>{html.escape(text)}</span> '
            f'<span style="opacity:.7">{html.escape(due)}</span></li>')
    st.markdown(f'<ul class="gm-ticker">{"".join(items)}</ul>', unsafe_allow_html=True)
