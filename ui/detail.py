"""The grid detail page's pieces: header, KPI tiles, map, profile, posts, worklist, charts.

Figures come from :mod:`geo.detail` through the cached wrappers below, keyed on the grid,
the minute and the data version (:func:`ui.data.stamp`), so a rerun of the same grid is
served from cache. Residents' words reach the page only inside ``st.dataframe`` (plain
text) or escaped (map tooltips by :func:`geo.maps.point_layer`, HTML blocks here).
"""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import streamlit as st

from geo import access, clock
from geo import detail as geo_detail
from geo import maps as geo_maps
from geo.access import Scope
from geo.coverage import UNCOVERED_BELOW
from geo.deadlines import LEVELS, escalation_levels
from geo.store.access import log_audit
from geo.store.area import AreaFilter
from geo.store.counts import request_counts_by
from geo.store.live import grid_requests, latest_requests, read_volunteer_activities
from geo.store.requests import read_grids, read_stations
from ui import data, errors, links, maps, state, widgets
from ui.text import count, distance, duration, literal, number, points, rate, t, time_left, when
from ui.text import vocab as vocab_text

#: The KPI window and the comparison window before it.
KPI_WINDOW = timedelta(days=30)
#: Weeks of the trend, the breakdowns and the map's points.
TREND_WEEKS = 12
#: At most this many request points on the map (DESIGN §6).
POINT_LIMIT = 300
#: Requests listed in a tooltip of a spot where several coincide.
SPOT_LINES = 5
#: The volunteer activity window.
VOLUNTEER_DAYS = 90
#: Point colours: by state and by severity (clear of the heat palette under them).
STATE_COLOURS = {"closed": "#90a4ae", "open": "#1971c2", "overdue": "#c2255c"}
SEVERITY_COLOURS = {"routine": "#74c0fc", "pressing": "#7048e8", "urgent": "#c2255c"}
#: Police post markers by kind.
STATION_COLOURS = {"station": "#1b5e20", "workstation": "#2f9e44", "room": "#0c8599"}
OTHER_STATION = "#495057"
COLOUR_BY = ("state", "severity")
#: Worklist row colours by escalation level: in time, due soon, overdue, long overdue.
LEVEL_ROWS = ("", "background-color: #fff3bf", "background-color: #ffe3e3",
              "background-color: #f3d9fa")
#: Characters with a meaning in Markdown, escaped in text taken from the URL.


# --------------------------------------------------------------------------- cached reads


def _version() -> str:
    return data.grid_part(data.stamp())


@st.cache_data(show_spinner=False, max_entries=32)
def _grid(code: str, version: str, who: Scope) -> dict | None:
    grids = read_grids(data.engine(), codes=[code], personal=True, scope=who)
    if grids.empty:
        return None
    if who.role == "planner":  # planners work without personal data (DESIGN §8)
        grids = access.mask_frame(grids, who, grid_column="code")
    row = grids.iloc[0]
    return {**{k: row[k] for k in grids.columns if k != "geometry"}, "geometry": row.geometry}


def grid_record(code: str) -> dict | None:
    """The grid's stored row (grid head included) with its full polygon, or None."""
    return _grid(code, _version(), data.cache_scope())


@st.cache_resource(show_spinner=False, max_entries=2)
def _stations(version: str) -> pd.DataFrame:
    frame = read_stations(data.engine())
    return pd.DataFrame(frame.drop(columns=frame.geometry.name))


@st.cache_data(show_spinner=False, max_entries=32)
def _posts(code: str, version: str) -> tuple[pd.DataFrame, float]:
    grid = _grid(code, version, data.cache_scope())
    stations = _stations(version)
    if grid is None:
        return geo_detail.nearest_stations(None, stations.iloc[:0]), float("nan")
    return (geo_detail.nearest_stations(grid["geometry"], stations),
            geo_detail.covered_share(grid["geometry"], stations))


def posts(code: str) -> tuple[pd.DataFrame, float]:
    """The nearest police posts and the grid's covered share (0 … 1).

    The posts are the k nearest plus the nearest of each kind (:func:`geo.detail.nearest_stations`).
    """
    return _posts(code, _version())


@st.cache_data(show_spinner=False, max_entries=32)
def _neighbours(code: str, version: str) -> list[str]:
    return list(geo_detail.grid_neighbours(data.map_grids(), code))


def neighbours(code: str) -> list[str]:
    """Codes of the grids touching this one."""
    return _neighbours(code, _version())


@st.cache_data(show_spinner=False, max_entries=32)
def _kpis(code: str, at: datetime, version: str, population: float | None,
          who: Scope) -> pd.DataFrame:
    return geo_detail.grid_kpis(data.engine(), code, now=at, population=population,
                                window=KPI_WINDOW, scope=who)


@st.cache_data(show_spinner=False, max_entries=32)
def _points(code: str, at: datetime, version: str,
            who: Scope) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    since = geo_detail.trend_since(at, weeks=TREND_WEEKS)
    rows = grid_requests(data.engine(), grid_code=code, since=since, until=at,
                         limit=POINT_LIMIT + 1, scope=who)
    capped = len(rows) > POINT_LIMIT
    # Residents' text in the points' tooltips: phone and ID numbers masked as contacts are.
    rows = access.mask_frame(rows.head(POINT_LIMIT).assign(grid_code=code), who,
                             columns=access.FREE_TEXT).drop(columns="grid_code")
    rows["state"] = geo_detail.request_state(rows, now=at)
    level = escalation_levels(rows["reported_at"], rows["due_at"], now=at,
                              policy=data.deadline_policy())
    rows["level"] = level.where(rows["state"] != "closed", 0).to_numpy()
    spots = geo_detail.request_spots(rows, now=at, limit=POINT_LIMIT)
    return rows, spots, capped


@st.cache_data(show_spinner=False, max_entries=32)
def _open(code: str, at: datetime, version: str, who: Scope) -> pd.DataFrame:
    rows = latest_requests(data.engine(), until=at, limit=2000, open_only=True,
                           area=AreaFilter(grid_code=code, scope=who),
                           contacts=who.sees_contacts())
    # Contacts in clear only for the grid's own head and admins; masked for the rest.
    return geo_detail.open_requests(access.mask_frame(rows, who), now=at,
                                    policy=data.deadline_policy())


@st.cache_data(show_spinner=False, max_entries=32)
def _breakdowns(code: str, at: datetime, version: str, who: Scope) -> dict[str, pd.Series]:
    since = geo_detail.trend_since(at, weeks=TREND_WEEKS)
    return {col: geo_detail.breakdown(
        request_counts_by(data.engine(), column=col, since=since, until=at,
                          area=AreaFilter(grid_code=code, scope=who)), col)
        for col in ("category", "severity", "route")}


@st.cache_data(show_spinner=False, max_entries=32)
def _trend(code: str, at: datetime, version: str, who: Scope) -> pd.DataFrame:
    return geo_detail.weekly_requests(data.engine(), code, now=at, weeks=TREND_WEEKS,
                                      scope=who)


@st.cache_data(show_spinner=False, max_entries=32)
def _activities(code: str, day: date, version: str, who: Scope) -> pd.DataFrame:
    return read_volunteer_activities(
        data.engine(), grid_code=code, since=day - timedelta(days=VOLUNTEER_DAYS - 1),
        until=day + timedelta(days=1), scope=who)


def _local_today() -> date:
    return clock.local_date(data.now())


# --------------------------------------------------------------------------- small helpers


def _population(code: str) -> float | None:
    pop = pd.to_numeric(pd.Series([data.hierarchy().grids.at[code, "population"]]),
                        errors="coerce").iloc[0]
    return None if pd.isna(pop) else float(pop)


def _has_residents(population: float | None) -> bool:
    return population is not None and population > 0


def _signed(value: float, fmt) -> str | None:
    return None if pd.isna(value) else fmt(value)



def _local_naive(values: pd.Series) -> pd.Series:
    """Stored naive-UTC times as naive Asia/Shanghai (what the table shows)."""
    return clock.local_series(values)


def _facts(rows: list[tuple[str, str]]) -> None:
    """Label/value pairs as a small two-column block; both escaped."""
    cells = "".join(
        f'<tr><th style="text-align:left;font-weight:600;padding:.2rem .8rem .2rem 0;'
        f'white-space:nowrap;vertical-align:top;border:none">{html.escape(label)}</th>'
        f'<td style="padding:.2rem 0;border:none">{html.escape(value)}</td></tr>'
        for label, value in rows)
    st.markdown(f'<table class="gm-facts" style="border:none;margin:.2rem 0 .6rem">{cells}'
                f"</table>", unsafe_allow_html=True)


# --------------------------------------------------------------------------- which grid


def requested_grid() -> tuple[str | None, str | None]:
    """The grid named by ``?grid=``.

    ``(code, None)`` for a stored grid, ``(None, raw)`` for an unknown code, ``(None, None)``
    when the URL names none.
    """
    raw = st.query_params.get("grid")
    if raw is None or not raw.strip():
        return None, None
    code = raw.strip()
    return (code, None) if data.is_grid(code) else (None, code)


def _unknown(code: str) -> None:
    """Say the code names no grid (escaped: it came from the URL), and offer close matches.

    A real grid outside the account's areas gets a refusal instead, logged for the admin.
    """
    if data.outside_scope(code):
        st.error(t("auth.area_denied", code=literal(code)), icon=widgets.ICON_DENIED)
        who = data.scope()
        log_audit(data.engine(), actor=who.actor, action="denied", area=code[:15],
                  detail={"page": "grid", "role": who.role})
        return
    st.warning(t("msg.unknown_grid", code=literal(code)), icon=widgets.ICON_WARN)
    found = data.search_grids(code, limit=5) if len(code) >= 2 else pd.DataFrame()
    if not found.empty:
        st.caption(t("detail.did_you_mean"))
        for c, name in zip(found["code"], found["name"], strict=True):
            links.page_link("grid", label=f"{name} · {c}", query_params={"grid": c},
                            icon=":material/grid_view:")


def prompt(*, unknown: str | None = None) -> None:
    """No grid chosen: say how to choose one, over the clickable city (or area) heat map.

    ``unknown`` is a code from the URL that names no grid; it is reported first.
    """
    st.subheader(t("detail.title"))
    if unknown is not None:
        _unknown(unknown)
    st.info(t("detail.prompt"), icon=":material/touch_app:")
    area = state.area()
    view, values = maps.heat_figures(area, window="30d")
    classes, items = maps.heat_classes(values)
    label = t("detail.prompt.map_label")
    if view.level != "grid":
        label += t("map.by_level", level=t(f"level.{view.level}"))
        st.caption(t("map.units_click_hint"))
    maps.grid_map(key="grid_map", classes=classes, colours=geo_maps.HEAT_COLOURS,
                  values=maps.codes_text(values, count), label=label, area=area, view=view,
                  stamp=f"{data.stamp()}|{data.minute():%H%M}|{area}|prompt")
    widgets.legend(items, title=label)


# --------------------------------------------------------------------------- sections


def header(code: str) -> None:
    """The grid's name, code, community / township / county and the time of the figures."""
    row = data.hierarchy().grids.loc[code]
    st.subheader(f"{t('detail.title')} · {row['name']}")
    parts = [t("detail.code", code=code)]
    for level in ("community", "township", "county"):
        unit = row.get(level)
        if isinstance(unit, str) and unit:
            parts.append(data.area_name(unit))
    parts.append(t("detail.as_of", time=when(data.now())))
    st.caption(" · ".join(parts))


def kpis(code: str) -> None:
    """KPI tiles over the last 30 days, each against the 30 days before."""
    population = _population(code)
    k = _kpis(code, data.minute(), data.stamp(), population, data.cache_scope())
    v, p, c = k["value"], k["previous"], k["change"]

    def vs(name: str, fmt) -> str | None:
        change = _signed(c[name], fmt)
        return None if change is None else t("detail.kpi.vs_prev", change=change)

    def before(name: str) -> str:
        return t("detail.kpi.backlog_before", value=count(p[name]))

    def whole(x: float) -> str:
        return f"{x:+,.0f}"

    widgets.kpi_tiles([
        (t("detail.kpi.requests"), count(v["requests"]),
         " · ".join(x for x in (vs("requests", whole),
                                t("detail.kpi.per_1k", value=number(v["requests_per_1k"])))
                    if x)),
        (t("kpi.open"), count(v["open"]), before("open")),
        (t("kpi.overdue"), count(v["overdue"]), before("overdue")),
        (t("kpi.resolution_rate"), rate(v["resolution_rate"]), vs("resolution_rate", points)),
        (t("kpi.on_time_rate"), rate(v["on_time_rate"]), vs("on_time_rate", points)),
        (t("kpi.satisfaction_rate"), rate(v["satisfaction_rate"]),
         vs("satisfaction_rate", points)),
        (t("detail.kpi.disputes"), count(v["disputes"]),
         t("detail.kpi.disputes_open", n=count(v["disputes_open"]))),
    ], alert=[False, False, v["overdue"] > 0, False, False, False, v["disputes_open"] > 0])
    st.caption(t("detail.kpi.note"))


def _point_tooltips(rows: pd.DataFrame, spots: pd.DataFrame) -> pd.Series:
    by_id = rows.set_index("id")

    def line(rid) -> str:
        r = by_id.loc[rid]
        status = vocab_text("status", r["status"])
        if r["level"] > 0:  # the escalation level: due soon, overdue, long overdue
            status += f"（{t('escalation.' + LEVELS[int(r['level'])])}）"
        return (f"{when(r['reported_at'])} {vocab_text('category', r['category'])} · "
                f"{vocab_text('severity', r['severity'])} · {status}")

    tips = []
    for ids in spots["ids"]:
        lines = [t("detail.map.spot", n=len(ids))] if len(ids) > 1 else []
        lines += [line(rid) for rid in ids[:SPOT_LINES]]
        if len(ids) > SPOT_LINES:
            lines.append(t("detail.map.more", n=len(ids) - SPOT_LINES))
        tips.append("\n".join(lines))
    return pd.Series(tips, index=spots.index, dtype=object)


def _kind_colours(kinds: pd.Series) -> pd.Series:
    return kinds.map(STATION_COLOURS).fillna(OTHER_STATION)


def _overlays(code: str, colour_by: str, rows: pd.DataFrame, spots: pd.DataFrame) -> list:
    layers = []
    near, _share = posts(code)
    if len(near):
        # Markers only: coverage discs would cover the neighbours and take their clicks
        # (the side panel says which posts cover the grid, and how much of it).
        colours = _kind_colours(near["kind"])
        tips = pd.Series([f"{vocab_text('station_kind', r.kind)}\n{r.name}\n"
                          f"{distance(r.distance_m)}" for r in near.itertuples()],
                         index=near.index, dtype=object)
        layers.append(geo_maps.point_layer(near, colours=colours, tooltips=tips, radius=8.0,
                                           name="stations"))
    if len(spots):
        palette = STATE_COLOURS if colour_by == "state" else SEVERITY_COLOURS
        colours = spots[colour_by].map(palette).fillna(OTHER_STATION)
        radius = 5.0 + 1.5 * np.minimum(spots["requests"].astype(float) - 1, 6)
        layers.append(geo_maps.point_layer(spots, colours=colours,
                                           tooltips=_point_tooltips(rows, spots),
                                           radius=radius, name="requests"))
    return layers


@st.fragment
@errors.guarded("grid")  # a fragment's reruns bypass app.py's error handling
def map_section(code: str) -> None:
    """The map: the grid outlined among its neighbours, its requests and nearest posts."""
    colour_by = st.segmented_control(
        t("detail.map.colour_by"), COLOUR_BY, default="state", key="grid_colour_by",
        format_func=lambda c: t(f"detail.map.colour_by.{c}")) or "state"
    at = data.minute()
    rows, spots, capped = _points(code, at, data.stamp(), data.cache_scope())
    focus = [code, *neighbours(code)]
    heat30 = data.grid_heat("30d")["requests"].astype(float)
    classes, items = maps.heat_classes(heat30)
    label = t("detail.map.grid_label")
    maps.grid_map(key="grid_map", classes=classes.reindex(focus),
                  colours=geo_maps.HEAT_COLOURS,
                  values=maps.codes_text(heat30.reindex(focus), count), label=label,
                  fit=code, selected=code, overlays=_overlays(code, colour_by, rows, spots),
                  stamp=f"{data.stamp()}|{at:%H%M}|{code}|{colour_by}")
    widgets.legend(items, title=t("detail.map.grid_legend"))
    palette = STATE_COLOURS if colour_by == "state" else SEVERITY_COLOURS
    kind = "detail.state" if colour_by == "state" else "severity"
    widgets.legend([(colour, t(f"{kind}.{name}")) for name, colour in palette.items()],
                   title=f"{t('detail.map.points_legend')} · "
                         f"{t(f'detail.map.colour_by.{colour_by}')}")
    near, _share = posts(code)
    if len(near):
        kinds = [k for k in STATION_COLOURS if (near["kind"] == k).any()]
        widgets.legend([(STATION_COLOURS[k], vocab_text("station_kind", k)) for k in kinds],
                       title=t("detail.map.stations_legend"))
    if rows.empty:
        st.caption(t("detail.map.no_points", weeks=TREND_WEEKS))
    elif capped:
        st.caption(t("detail.map.points_capped", weeks=TREND_WEEKS, n=f"{len(rows):,}"))
    else:
        st.caption(t("detail.map.points_note", weeks=TREND_WEEKS, n=f"{len(rows):,}"))
    st.caption(t("detail.map.click_hint"))


def profile(code: str) -> None:
    """Grid head, residents, households, WeChat coverage, volunteers, neighbours."""
    rec = grid_record(code) or {}
    population = _population(code)
    st.markdown(f"**{html.escape(t('detail.profile'))}**")
    if not _has_residents(population):
        st.info(t("msg.no_residents"))
    head_name, head_phone = rec.get("head_name"), rec.get("head_phone")
    head = " · ".join(str(x) for x in (head_name, head_phone) if isinstance(x, str) and x)
    members = rec.get("wechat_members")
    groups = rec.get("wechat_groups")
    acts = geo_detail.volunteer_totals(
        _activities(code, _local_today(), data.stamp(), data.cache_scope()))
    area = rec.get("area_km2")
    _facts([
        (t("detail.head"), head or t("detail.head.none")),
        (t("detail.population"), t("detail.people", n=count(population))
         if population is not None else count(None)),
        (t("detail.households"), t("detail.households.value", n=count(rec.get("households")))
         if pd.notna(rec.get("households")) else count(None)),
        (t("detail.area"), t("detail.area.value", km2=number(area, digits=2))
         if pd.notna(area) else count(None)),
        (t("detail.wechat"), t("detail.wechat.value", groups=count(groups),
                               members=count(members))),
        (t("detail.wechat_coverage"),
         f"{rate(geo_detail.share_of(members, population))}"
         f"（{t('detail.wechat_coverage.help')}）"),
        (t("detail.volunteers"), t("detail.volunteers.value", n=count(rec.get("volunteers")))),
        (t("detail.volunteer_activity", days=VOLUNTEER_DAYS),
         t("detail.volunteer_activity.value", n=count(acts["activities"]),
           hours=number(acts["volunteer_hours"], digits=1),
           points=number(acts["points"], digits=0))),
    ])
    _volunteer_list(code)
    _neighbour_links(code)


def _volunteer_list(code: str) -> None:
    activities = _activities(code, _local_today(), data.stamp(), data.cache_scope())
    with st.expander(t("detail.volunteer_list", days=VOLUNTEER_DAYS)):
        if activities.empty:
            st.caption(t("detail.volunteer_none", days=VOLUNTEER_DAYS))
            return
        st.dataframe(activities, hide_index=True, column_config={
            "date": st.column_config.DateColumn(t("detail.col.date"), format="YYYY-MM-DD"),
            "title": st.column_config.TextColumn(t("detail.col.activity")),
            "volunteers": st.column_config.NumberColumn(t("detail.col.volunteers")),
            "hours": st.column_config.NumberColumn(t("detail.col.hours"), format="%.1f"),
            "points": st.column_config.NumberColumn(t("detail.col.points"), format="%.0f"),
        })


def _neighbour_links(code: str) -> None:
    codes = neighbours(code)
    if not codes:
        return
    names = data.hierarchy().grids["name"]
    with st.expander(t("detail.neighbours", n=len(codes))):
        for c in codes:
            links.page_link("grid", label=f"{names.get(c, c)} · {c}",
                            query_params={"grid": c}, icon=":material/grid_view:")


def stations(code: str) -> None:
    """The nearest police posts with kind, name, distance and whether each covers the grid."""
    st.markdown(f"**{html.escape(t('detail.stations'))}**")
    near, share = posts(code)
    if near.empty:
        st.caption(t("detail.stations.none"))
        return
    if pd.notna(share) and share < UNCOVERED_BELOW:
        st.warning(t("detail.stations.uncovered", share=rate(share)))
    else:
        st.caption(t("detail.stations.covered", share=rate(share)))
    rows = []
    for r in near.itertuples():
        reach = (t("detail.stations.reaches", share=rate(r.share)) if r.reaches
                 else t("detail.stations.outside", radius=distance(r.radius_m)))
        rows.append((vocab_text("station_kind", r.kind),
                     f"{r.name} · {distance(r.distance_m)} · {reach}"))
    _facts(rows)
    st.caption(t("detail.stations.note"))


def open_requests(code: str) -> None:
    """The grid's open requests, overdue first then by deadline, rows coloured by level.

    The first columns are what a grid head acts on, so a phone shows them without
    scrolling: the escalation level (督办), the time left and the deadline, in local time.
    """
    rows = _open(code, data.minute(), data.stamp(), data.cache_scope())
    st.markdown(f"#### {html.escape(t('detail.open', n=f'{len(rows):,}'))}")
    if rows.empty:
        st.caption(t("detail.open.none"))
        return
    level = rows["level"].to_numpy(dtype=int)
    counts = pd.Series(level).value_counts()
    # The levels at a glance, most pressing first, in the colours the rows use.
    badges = "".join(
        f'<span class="gm-badge gm-lv-{lv}">'
        f'{html.escape(t(f"escalation.{LEVELS[lv]}"))} {counts.get(lv, 0):,}</span>'
        for lv in (3, 2, 1, 0))
    st.markdown(f'<div class="gm-badges">{badges}</div>', unsafe_allow_html=True)
    table = pd.DataFrame({
        "level": [t(f"escalation.{LEVELS[lv]}") for lv in level],
        "deadline": [time_left(left) for left in rows["left_h"]],
        "due": _local_naive(rows["due_at"]),
        "category": [vocab_text("category", x) for x in rows["category"]],
        "severity": [vocab_text("severity", x) for x in rows["severity"]],
        "status": [vocab_text("status", x) for x in rows["status"]],
        "description": rows["description"].fillna("").astype(str),
        "reported": _local_naive(rows["reported_at"]),
        "age": [duration(h) for h in rows["age_h"]],
        "route": [vocab_text("route", x) for x in rows["route"]],
        "source": [vocab_text("source", x) for x in rows["source"]],
    })
    if "reporter_name" in rows.columns:  # only for roles that see contacts (masked or not)
        table["reporter"] = [" · ".join(str(x) for x in pair if isinstance(x, str) and x)
                             for pair in zip(rows["reporter_name"], rows["reporter_phone"],
                                             strict=True)]
    styled = table.style.apply(
        lambda row: [LEVEL_ROWS[level[row.name]]] * len(row), axis=1)
    when_fmt = "YYYY-MM-DD HH:mm"
    st.dataframe(styled, hide_index=True, column_config={
        "level": st.column_config.TextColumn(t("detail.col.level")),
        "reported": st.column_config.DatetimeColumn(t("detail.col.reported"), format=when_fmt),
        "age": st.column_config.TextColumn(t("detail.col.age")),
        "due": st.column_config.DatetimeColumn(t("detail.col.due"), format=when_fmt),
        "deadline": st.column_config.TextColumn(t("detail.col.deadline")),
        "category": st.column_config.TextColumn(t("col.category")),
        "severity": st.column_config.TextColumn(t("col.severity")),
        "route": st.column_config.TextColumn(t("col.route")),
        "status": st.column_config.TextColumn(t("col.status")),
        "source": st.column_config.TextColumn(t("col.source")),
        "description": st.column_config.TextColumn(t("col.description"), width="large"),
        "reporter": st.column_config.TextColumn(t("detail.col.reporter")),
    })


def _label(column: str, code: object) -> str:
    return t("detail.unset") if code == geo_detail.UNSET else vocab_text(column, code)


def breakdowns(code: str) -> None:
    """Requests by category, severity and route over the trend's weeks, and the trend."""
    at = data.minute()
    parts = _breakdowns(code, at, data.stamp(), data.cache_scope())
    st.markdown(f"#### {html.escape(t('detail.breakdowns', weeks=TREND_WEEKS))}")
    if int(parts["severity"].sum()) == 0:
        st.info(t("msg.no_requests"))
    else:
        n = t("detail.count")
        for column, box in zip(("category", "severity", "route"), st.columns(3), strict=True):
            counts = parts[column]
            if column == "category":
                counts = counts[counts > 0]
            name = t(f"col.{column}")
            frame = pd.DataFrame({name: [_label(column, c) for c in counts.index],
                                  n: counts.to_numpy()})
            with box:
                st.caption(t(f"detail.by.{column}"))
                st.bar_chart(frame, x=name, y=n, horizontal=True,
                             sort=f"-{n}" if column == "category" else False,
                             color="#1971c2", height=260)
    _trend_chart(code, at)


def _trend_chart(code: str, at: datetime) -> None:
    series = _trend(code, at, data.stamp(), data.cache_scope())
    st.markdown(f"#### {html.escape(t('detail.trend', weeks=TREND_WEEKS))}")
    if int(series["requests"].sum()) == 0:
        st.info(t("msg.no_requests"))
        return
    week = t("detail.trend.week")
    other, disputes = t("detail.trend.other"), t("kpi.disputes")
    frame = pd.DataFrame({
        week: series["period"].dt.strftime("%m-%d"),
        other: (series["requests"] - series["disputes"]).to_numpy(),
        disputes: series["disputes"].to_numpy(),
    })
    st.bar_chart(frame, x=week, y=[other, disputes], color=["#90a4ae", "#c2255c"],
                 sort=False, stack=True, y_label=t("detail.count"), height=280)



def alliance_and_tasks(code: str) -> None:
    """解忧联盟 cards and claim figures, and the grid's volunteer tasks (issue 14)."""
    from ui import alliance, volunteers

    cards, tasks = st.columns(2, gap="medium")
    with cards:
        alliance.grid_cards(code)
    with tasks:
        volunteers.grid_tasks(code)
