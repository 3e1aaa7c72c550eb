"""The police coverage page's pieces: controls, KPI tiles, coverage map, gap and site tables.

Coverage per grid (:func:`geo.coverage.station_coverage`) is computed once for the whole
city per version of the grids and stations, since a station near an area's edge covers
grids on both sides; an area only filters the rows. New-site suggestions are computed per
area, count and weight, and cached.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import streamlit as st

from geo import coverage as geo_coverage
from geo import maps as geo_maps
from geo.access import Scope
from geo.grids import GridIndex
from geo.store.requests import read_requests, read_stations
from ui import data, links, maps, widgets
from ui.text import count, distance, rate, t, vocab

#: What the map can show (the first is the default).
FIGURES = ("share", "uncovered", "distance")
#: What a new site should reach.
WEIGHTS = ("population", "requests")
#: Station kinds in display order, with their marker colour and size.
KIND_COLOURS = {"station": "#1a237e", "workstation": "#00838f", "room": "#6a1b9a"}
KIND_SIZES = {"station": 8.0, "workstation": 6.0, "room": 4.5}
OTHER_KIND_COLOUR = "#455a64"
#: Suggested sites: a colour no station kind and no grid class uses.
SITE_COLOUR = "#ff6d00"
#: Covered share classes (uncovered red → fully covered blue).
SHARE_COLOURS = ("#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac")
#: Distance to the nearest station: class limits in metres and colours (near → far).
DISTANCE_LIMITS = (500.0, 1000.0, 2000.0, 3000.0, 5000.0)
DISTANCE_COLOURS = ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f")
#: Largest number of sites one may ask for, and the default.
MAX_SITES = 20
DEFAULT_SITES = 5
#: Requests behind "covered requests": the trailing year.
REQUEST_WINDOW = timedelta(days=365)
#: Rows of the uncovered-grids table shown on the page (the export page has them all).
TABLE_ROWS = 500


# --------------------------------------------------------------------------- cached data


@st.cache_resource(show_spinner=False, max_entries=2)
def _stations(version: str) -> pd.DataFrame:
    raw = read_stations(data.engine())
    frame = pd.DataFrame(raw.drop(columns=raw.geometry.name))
    frame = frame[np.isfinite(frame["lon"].to_numpy(dtype=float))
                  & np.isfinite(frame["lat"].to_numpy(dtype=float))].reset_index(drop=True)
    if frame.empty:
        frame["radius_used"] = pd.Series(dtype=float)
        frame["grid_code"] = pd.Series(dtype=object)
        return frame
    frame["radius_used"] = geo_coverage.coverage_areas(frame)["radius_m"].to_numpy()
    index = GridIndex(data.analysis_grids_at(version))
    frame["grid_code"] = index.assign(frame["lon"], frame["lat"])
    return frame


def stations() -> pd.DataFrame:
    """Stations with coordinates: their columns plus ``radius_used`` and ``grid_code``."""
    return _stations(data.grid_part(data.stamp()))


@st.cache_data(show_spinner=False, max_entries=4)
def _per_grid(version: str) -> pd.DataFrame:
    grids = data.analysis_grids_at(version)
    out = geo_coverage.station_coverage(_stations(version), grids)
    return pd.DataFrame(out.drop(columns=out.geometry.name)).set_index("code", drop=False)


def per_grid(area: str | None) -> pd.DataFrame:
    """Coverage per grid in an area (index: code): share, population, nearest station."""
    rows = _per_grid(data.grid_part(data.stamp()))
    return rows if data.whole(area) else rows[rows.index.isin(data.area_codes(area))]


def area_stations(area: str | None) -> pd.DataFrame:
    """The stations that stand in an area's grids (all stations for the whole city)."""
    frame = stations()
    if data.whole(area):
        return frame
    return frame[frame["grid_code"].isin(data.area_codes(area))]


def visible_stations() -> pd.DataFrame:
    """The stations the session may see: all, or those standing in the grids of its scope.

    Coverage itself is computed from every station (one just outside a community covers
    its edge); the markers, with names, officers and radius, follow the scope as every
    other read of the page does.
    """
    frame = stations()
    if data.everywhere():
        return frame
    return frame[frame["grid_code"].isin(data.area_codes(None))]


@st.cache_data(show_spinner=False, max_entries=4)
def _recent_requests(day: str, version: str, who: Scope) -> pd.DataFrame:
    until = pd.Timestamp(day).to_pydatetime() + timedelta(days=1)
    return read_requests(data.engine(), since=until - REQUEST_WINDOW, until=until,
                         columns=["grid_code", "lon", "lat"], scope=who)


@st.cache_data(show_spinner=False, max_entries=16)
def _suggestions(area: str | None, n: int, weight: str, day: str,
                 version: str, who: Scope) -> pd.DataFrame:
    grids = data.analysis_grids_at(data.grid_part(version))
    if area is not None or not who.everywhere:
        grids = grids[grids["code"].isin(data.area_codes(area))]
    requests = _recent_requests(day, version, who) if weight == "requests" else None
    sites = geo_coverage.suggest_sites(
        grids, _stations(data.grid_part(version)), n, weight=weight, requests=requests,
        radius_m=geo_coverage.DEFAULT_RADII["workstation"])
    frame = pd.DataFrame(sites.drop(columns=sites.geometry.name))
    names = grids.set_index("code")["name"]
    frame["name"] = frame["candidate"].map(names)
    return frame


def suggestions(area: str | None, n: int, weight: str) -> pd.DataFrame:
    """Up to ``n`` new workstation sites for an area, best first (index: rank)."""
    if n <= 0 or not len(per_grid(area)):
        return pd.DataFrame(columns=["candidate", "name", "lon", "lat", "gain", "cumulative",
                                     "remaining", "grids_reached"])
    day = data.now().date().isoformat()
    return _suggestions(area, int(n), weight, day, data.stamp(), data.cache_scope())


def requests_total(area: str | None) -> int:
    """Requests of the trailing year in an area's grids (the base of the request weight)."""
    frame = _recent_requests(data.now().date().isoformat(), data.stamp(), data.cache_scope())
    return int(frame["grid_code"].isin(data.area_codes(area)).sum() if not data.whole(area)
               else frame["grid_code"].notna().sum())


# --------------------------------------------------------------------------- drawing


def header(area: str | None) -> None:
    """Title with the area's name and how coverage is modelled."""
    st.subheader(f"{t('cov.title')} · {data.area_name(area)}")
    radii = geo_coverage.DEFAULT_RADII
    st.caption(t("cov.model", station=distance(radii["station"]),
                 workstation=distance(radii["workstation"]), room=distance(radii["room"])))


def controls() -> tuple[str, bool, int, str]:
    """Map figure, whether to draw coverage areas, and the site count and weight."""
    left, mid, right, far = st.columns([4, 2, 2, 2], vertical_alignment="bottom")
    with left:
        figure = st.segmented_control(t("cov.figure"), FIGURES, default=FIGURES[0],
                                      format_func=lambda f: t(f"cov.figure.{f}"),
                                      key="cov_figure") or FIGURES[0]
    with mid:
        show_areas = st.checkbox(t("cov.show_areas"), value=True, key="cov_areas")
    with right:
        n = st.number_input(t("cov.sites_n"), min_value=0, max_value=MAX_SITES,
                            value=DEFAULT_SITES, step=1, key="cov_sites",
                            help=t("cov.sites_help",
                                   radius=distance(geo_coverage.DEFAULT_RADII["workstation"])))
    with far:
        weight = st.selectbox(t("cov.weight"), WEIGHTS, key="cov_weight",
                              format_func=lambda w: t(f"cov.weight.{w}"))
    return figure, bool(show_areas), int(n or 0), weight


def kpis(area: str | None) -> None:
    """Stations per kind, covered share of residents, uncovered grids, median distance."""
    rows = per_grid(area)
    here = area_stations(area)
    tiles = []
    for kind in geo_coverage.DEFAULT_RADII:
        of_kind = here[here["kind"] == kind]
        officers = pd.to_numeric(of_kind.get("officers"), errors="coerce")
        note = (t("cov.officers", n=count(officers.sum()))
                if officers is not None and officers.notna().any() else None)
        tiles.append((vocab("station_kind", kind), count(len(of_kind)), note))
    population = float(rows["population"].sum())
    share = rows["covered_population"].sum() / population if population > 0 else np.nan
    uncovered = int(rows["uncovered"].sum())
    tiles += [
        (t("cov.kpi.covered_share"), rate(share),
         t("cov.kpi.covered_note", covered=count(rows["covered_population"].sum()),
           total=count(population))),
        (t("cov.kpi.uncovered"), count(uncovered),
         t("cov.kpi.uncovered_note", n=count(len(rows)))),
        (t("cov.kpi.median_distance"), distance(rows["nearest_station_m"].median()),
         t("cov.kpi.median_note")),
    ]
    widgets.kpi_tiles(tiles, alert=[False] * 3 + [bool(share < 0.5), uncovered > 0, False])


def _share_classes(share: pd.Series) -> tuple[pd.Series, list[str], list[tuple[str, str]]]:
    s = share.to_numpy(dtype=float)
    cls = np.select([~np.isfinite(s), s <= 0, s < 0.25, s < 0.5, s < 0.75, s < 0.999],
                    [-1, 0, 1, 2, 3, 4], default=5)
    labels = ["0%", "0 – 25%", "25 – 50%", "50 – 75%", "75 – 100%", "100%"]
    items = list(zip(SHARE_COLOURS, labels, strict=True))
    if (cls < 0).any():
        items.append((geo_maps.NO_DATA, t("legend.no_data")))
    return pd.Series(cls, index=share.index), list(SHARE_COLOURS), items


def _distance_classes(metres: pd.Series) -> tuple[pd.Series, list[str], list[tuple[str, str]]]:
    limits = list(DISTANCE_LIMITS)
    cls = pd.Series(geo_maps.classify(metres, limits), index=metres.index)
    labels = [f"≤ {distance(limits[0])}"]
    labels += [f"{distance(a)} – {distance(b)}" for a, b in zip(limits, limits[1:], strict=False)]
    labels.append(f"> {distance(limits[-1])}")
    items = list(zip(DISTANCE_COLOURS, labels, strict=True))
    if (cls < 0).any():
        items.append((geo_maps.NO_DATA, t("legend.no_data")))
    return cls, list(DISTANCE_COLOURS), items


def _station_tips(frame: pd.DataFrame) -> pd.Series:
    """Name, kind, officers and radius of each station (escaped by the point layer)."""
    tips = []
    for row in frame.itertuples(index=False):
        lines = ["" if pd.isna(row.name) else str(row.name), vocab("station_kind", row.kind)]
        officers = getattr(row, "officers", None)
        if officers is not None and pd.notna(officers):
            lines.append(t("cov.tip.officers", n=count(officers)))
        lines.append(t("cov.tip.radius", r=distance(row.radius_used)))
        tips.append("\n".join(lines))
    return pd.Series(tips, index=frame.index, dtype=object)


def _site_tips(sites: pd.DataFrame, weight: str) -> pd.Series:
    unit = t(f"cov.weight.unit.{weight}")
    tips = [t("cov.tip.site", rank=rank, name="" if pd.isna(name) else name, code=code,
              gain=count(gain), unit=unit)
            for rank, name, code, gain in zip(sites.index, sites["name"], sites["candidate"],
                                              sites["gain"], strict=True)]
    return pd.Series(tips, index=sites.index, dtype=object)


def _kind_colours(frame: pd.DataFrame) -> pd.Series:
    return frame["kind"].map(KIND_COLOURS).fillna(OTHER_KIND_COLOUR)


def _overlays(show_areas: bool, sites: pd.DataFrame, weight: str) -> list:
    """Coverage discs (optional), station markers, then the suggested sites on top."""
    frame = visible_stations()
    layers = []
    if show_areas and len(frame):
        layers.append(geo_maps.circle_layer(frame, radius_m=frame["radius_used"],
                                            colours=_kind_colours(frame), name="coverage"))
    if len(frame):
        layers.append(geo_maps.point_layer(
            frame, colours=_kind_colours(frame), tooltips=_station_tips(frame),
            radius=frame["kind"].map(KIND_SIZES).fillna(5.0), name="stations"))
    if len(sites):
        reach = pd.Series(geo_coverage.DEFAULT_RADII["workstation"], index=sites.index)
        layers.append(geo_maps.circle_layer(sites, radius_m=reach,
                                            colours=pd.Series(SITE_COLOUR, index=sites.index),
                                            name="site_areas"))
        layers.append(geo_maps.point_layer(sites, colours=SITE_COLOUR,
                                           tooltips=_site_tips(sites, weight), radius=9.0,
                                           name="sites"))
    return layers


def coverage_map(area: str | None, *, figure: str, show_areas: bool, sites: pd.DataFrame,
                 weight: str) -> None:
    """The grids coloured by the chosen figure, stations, coverage areas and new sites."""
    rows = per_grid(area)
    if figure == "share":
        values = rows["covered_share"].astype(float)
        classes, colours, items = _share_classes(values)
        text = maps.codes_text(values, rate)
    elif figure == "distance":
        values = rows["nearest_station_m"].astype(float)
        classes, colours, items = _distance_classes(values)
        text = maps.codes_text(values, distance)
    else:
        values = rows["uncovered_population"].astype(float)
        classes, items = maps.heat_classes(values)
        colours = list(geo_maps.HEAT_COLOURS)
        text = maps.codes_text(values, lambda v: t("cov.people", n=count(v)))
    label = t(f"cov.figure.{figure}")
    maps.grid_map(key="coverage_map", classes=classes, colours=colours, values=text,
                  label=label, area=area, overlays=_overlays(show_areas, sites, weight),
                  height=620, stamp=f"{data.stamp()}|{area}|{figure}|{show_areas}|{len(sites)}")
    widgets.legend(items, title=label)
    kinds = [(KIND_COLOURS[k], vocab("station_kind", k)) for k in KIND_COLOURS]
    if len(sites):
        kinds.append((SITE_COLOUR, t("cov.legend.site")))
    widgets.legend(kinds, title=t("cov.legend.stations"))
    st.caption(t("msg.map_click_hint"))


def uncovered_table(area: str | None) -> None:
    """The uncovered grids, the most uncovered residents first."""
    rows = per_grid(area)
    st.markdown(f"**{t('cov.uncovered.title')}**")
    gaps = geo_coverage.uncovered_grids(rows.reset_index(drop=True), by="population")
    if gaps.empty:
        st.success(t("cov.uncovered.none"))
        return
    shown = gaps.head(TABLE_ROWS)
    table = pd.DataFrame({
        t("col.name"): shown["name"].fillna("").astype(str).to_numpy(),
        t("col.code"): shown["code"].to_numpy(),
        t("col.population"): [count(v) for v in shown["population"]],
        t("cov.col.uncovered_pop"): [count(v) for v in shown["uncovered_population"]],
        t("cov.col.share"): [rate(v) for v in shown["covered_share"]],
        t("cov.col.distance"): [distance(v) for v in shown["nearest_station_m"]],
        t("cov.col.nearest"): [
            "" if pd.isna(n) else t("cov.nearest", name=n, kind=vocab("station_kind", k))
            for n, k in zip(shown["nearest_station_name"], shown["nearest_station_kind"],
                            strict=True)],
    })
    st.dataframe(table, hide_index=True, width="stretch", height=380)
    note = "cov.uncovered.note_cut" if len(gaps) > TABLE_ROWS else "cov.uncovered.note"
    st.caption(t(note, n=count(len(gaps)), shown=count(len(shown))))
    if len(gaps) > TABLE_ROWS:
        links.page_link("export", label=t("cov.uncovered.export"), icon=":material/download:")


def sites_table(area: str | None, sites: pd.DataFrame, *, n: int, weight: str) -> None:
    """The suggested sites with what each adds, and the covered share before and after."""
    st.markdown(f"**{t('cov.sites.title')}**")
    if n <= 0:
        st.caption(t("cov.sites.zero"))
        return
    if sites.empty:
        st.info(t("cov.sites.none"))
        return
    unit = t(f"cov.weight.unit.{weight}")
    table = pd.DataFrame({
        t("cov.col.rank"): [str(r) for r in sites.index],
        t("col.grid"): sites["name"].fillna("").astype(str).to_numpy(),
        t("col.code"): sites["candidate"].astype(str).to_numpy(),
        t("cov.col.gain", unit=unit): [count(v) for v in sites["gain"]],
        t("cov.col.cumulative", unit=unit): [count(v) for v in sites["cumulative"]],
        t("cov.col.grids_reached"): [count(v) for v in sites["grids_reached"]],
    })
    st.dataframe(table, hide_index=True, width="stretch")
    rows = per_grid(area)
    if weight == "population":
        total = float(rows["population"].sum())
        before = float(rows["covered_population"].sum())
    else:
        total = float(requests_total(area))
        before = total - float(sites["remaining"].iloc[0] + sites["gain"].iloc[0])
    if total > 0:
        after = before + float(sites["cumulative"].iloc[-1])
        st.caption(t(f"cov.sites.effect.{weight}", n=len(sites), before=rate(before / total),
                     after=rate(min(after / total, 1.0))))
    if len(sites) < n:
        st.caption(t("cov.sites.fewer", n=len(sites)))


def no_stations_note() -> None:
    """Say so when no station is loaded (the map then shows every grid uncovered)."""
    if stations().empty:
        st.info(t("cov.no_stations"))
        links.page_link("data", label=t("cov.no_stations.import"), icon=":material/upload:")
