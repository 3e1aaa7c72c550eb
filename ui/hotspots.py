"""The dispute hotspots page's pieces: controls, KPI tiles, scan/Gi*/trend map, density, tables.

The map opens on the Poisson scan's clusters: measured on planted clusters it is the one
method that finds urban, rural and diffuse excesses alike without flagging a dense district
for being dense (bench/RESULTS.md, "Detection power"). The scan, Gi* and the trend classes
are computed over the whole city (the statistics compare each grid's neighbourhood with the
whole study area, so an area's picture must not change with where it is cut) and cached per
window, hour and data version; an area only filters what is shown. The neighbour weights
are built once per version of the grids. The density surface is smoothed with a bandwidth
that suits the area on screen and drawn as one PNG.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from geo import hotspots as geo_hotspots
from geo import maps as geo_maps
from geo import raster
from geo.access import Scope
from geo.store.requests import read_requests
from ui import data, maps, widgets
from ui.text import count, literal, number, t

#: The one hot-spot definition (neighbours, default window, p-value, FDR) the export uses too.
DEFINITION = geo_hotspots.DEFAULT
#: Analysis windows: key -> days, and the weekly steps of the trend analysis over it.
WINDOWS = {"90d": 90, "180d": 180, "365d": 365}
TREND_WEEKS = {"90d": 12, "180d": 26, "365d": 52}
DEFAULT_WINDOW = f"{DEFINITION.window_days}d"
#: Map modes, the scan first (the default).
MODES = ("scan", "gi", "trend")
#: Scan clusters filled by relative risk: below 2, 2 to 3, 3 and above; other grids pale.
SCAN_COLOURS = ("#f4f4f4", "#fdae6b", "#e6550d", "#a63603")
SCAN_KEYS = ("none", "rr1", "rr2", "rr3")
SCAN_BREAKS = (2.0, 3.0)
#: Gi* classes, cold 99% … hot 99% (gi_bin + 3), ArcGIS's diverging colours.
GI_COLOURS = ("#4575b4", "#91bfdb", "#e0f3f8", "#f4f4f4", "#fee090", "#fc8d59", "#d73027")
GI_KEYS = ("cold99", "cold95", "cold90", "none", "hot90", "hot95", "hot99")
#: Trend classes: hot patterns, then any cold pattern, then none.
TREND_KEYS = (*geo_hotspots.PATTERNS, "cold", "none")
TREND_COLOURS = ("#e31a1c", "#fd8d3c", "#800026", "#bd0026", "#fed976", "#f781bf", "#984ea3",
                 "#a6761d", "#4575b4", "#f4f4f4")
#: Hot patterns that call for action now.
RISING = ("new", "consecutive", "intensifying")
STEADY = ("persistent", "sporadic", "oscillating")
#: Markers of hot-spot clusters.
CLUSTER_COLOUR = "#7f0000"
#: Scan clusters: a thick dashed outline that reads over the hot/cold fill.
SCAN_STYLE = {"color": "#6a1b9a", "weight": 3, "dashArray": "6 4", "fill": False,
              "opacity": 0.95}
#: Rows of the hot-spot table.
TABLE_ROWS = 300


# --------------------------------------------------------------------------- cached data


def until() -> datetime:
    """End of every window: the start of the next hour (naive UTC).

    A window then holds everything reported so far, and cached results last up to an hour
    (or until the data change).
    """
    return DEFINITION.window_end(data.now())


@st.cache_resource(show_spinner=False, max_entries=2)
def _weights(version: str) -> geo_hotspots.GridWeights:
    return DEFINITION.weights(data.analysis_grids())


@st.cache_data(show_spinner=False, max_entries=4)
def _disputes(end: datetime, version: str) -> pd.DataFrame:
    longest = max(WINDOWS.values()) + 7 * 2  # the trend's first week looks one week back
    return read_requests(data.engine(), since=end - timedelta(days=longest), until=end,
                         categories=["dispute"],
                         columns=["grid_code", "lon", "lat", "reported_at", "category"])


def _window_rows(window: str, end: datetime, version: str) -> pd.DataFrame:
    rows = _disputes(end, version)
    since = pd.Timestamp(end - timedelta(days=WINDOWS[window]))
    return rows[pd.to_datetime(rows["reported_at"]) >= since]


@st.cache_data(show_spinner=False, max_entries=8)
def _hotspots(window: str, end: datetime, version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    grids = data.analysis_grids()
    weights = _weights(data.grid_part(version))
    result = DEFINITION.hotspots(grids, _window_rows(window, end, version), weights=weights)
    clusters = geo_hotspots.hotspot_clusters(result, weights)
    frame = pd.DataFrame(result.drop(columns=result.geometry.name)).set_index("code",
                                                                             drop=False)
    names = grids.set_index("code")["name"]
    frame["name"] = names.reindex(frame.index)
    clusters = pd.DataFrame(clusters.drop(columns=clusters.geometry.name))
    clusters["name"] = names.reindex(clusters["top_code"]).to_numpy()
    return frame, clusters


@st.cache_data(show_spinner=False, max_entries=8)
def _emerging(window: str, end: datetime, version: str) -> pd.DataFrame:
    result = geo_hotspots.emerging_hotspots(
        data.analysis_grids(), _disputes(end, version), until=end, weeks=TREND_WEEKS[window],
        weights=_weights(data.grid_part(version)))
    return pd.DataFrame(result.drop(columns=result.geometry.name)).set_index("code")


@st.cache_data(show_spinner=False, max_entries=8)
def _density(window: str, area: str | None, end: datetime, version: str, who: Scope
             ) -> raster.RasterImage | None:
    rows = _window_rows(window, end, version)
    if not who.everywhere:  # only the disputes the session may see make the surface
        rows = rows[rows["grid_code"].isin(data.area_codes(None))]
    rows = rows[np.isfinite(rows["lon"].to_numpy(dtype=float))
                & np.isfinite(rows["lat"].to_numpy(dtype=float))]
    if rows.empty:
        return None
    grids = data.analysis_grids()
    shown = grids if data.whole(area) else grids[grids["code"].isin(data.area_codes(area))]
    if shown.empty:
        return None
    bandwidth = geo_hotspots.density_bandwidth(shown)
    surface = geo_hotspots.dispute_density(rows, bandwidth_m=bandwidth, extent=grids)
    return raster.surface_png(surface, extent=tuple(float(v) for v in shown.total_bounds))


def hotspots(window: str, area: str | None) -> pd.DataFrame:
    """Gi* per grid over the window (index: code), only the area's grids."""
    rows = _hotspots(window, until(), data.stamp())[0]
    return rows if data.whole(area) else rows[rows.index.isin(data.area_codes(area))]


def clusters(window: str, area: str | None) -> pd.DataFrame:
    """Clusters of neighbouring hot-spot grids, largest first (whose top grid is in the area)."""
    rows = _hotspots(window, until(), data.stamp())[1]
    return rows if data.whole(area) else rows[rows["top_code"].isin(data.area_codes(area))]


@st.cache_data(show_spinner=False, max_entries=8)
def _scan(window: str, end: datetime, version: str) -> gpd.GeoDataFrame:
    # The same circles for every reader (the seed is fixed); filtered by area below.
    return DEFINITION.scan(data.analysis_grids(), _window_rows(window, end, version))


def scan_clusters(window: str, area: str | None) -> gpd.GeoDataFrame:
    """The scan's clusters at p ≤ the definition's alpha whose centre grid is in the area."""
    with st.spinner(t("hot.scan.computing", reps=count(DEFINITION.scan_replicates))):
        found = _scan(window, until(), data.stamp())
    found = found[found["found"]]
    return found if data.whole(area) else found[found["centre"].isin(data.area_codes(area))]


def trends(window: str, area: str | None) -> pd.DataFrame:
    """Emerging-trend class per grid over the window's weeks (index: code)."""
    rows = _emerging(window, until(), data.stamp())
    return rows if data.whole(area) else rows[rows.index.isin(data.area_codes(area))]


# --------------------------------------------------------------------------- drawing


def header(area: str | None) -> None:
    """Title with the area's name and how hot spots are found."""
    st.subheader(f"{t('hot.title')} · {data.area_name(area)}")
    st.caption(t("hot.method", share=f"{DEFINITION.scan_share:.0%}",
                 reps=count(DEFINITION.scan_replicates),
                 distance=f"{DEFINITION.distance_m or 0:,.0f}"))


def controls() -> tuple[str, str, bool]:
    """The window, the map mode and whether to draw the density surface."""
    wanted = st.query_params.get("window", DEFAULT_WINDOW)
    if wanted not in WINDOWS:
        if st.query_params.get("window") is not None and wanted not in data.WINDOWS:
            st.warning(t("msg.bad_param", name="window", value=literal(wanted),
                         reason=" / ".join(WINDOWS)))
        wanted = DEFAULT_WINDOW
    left, mid, right = st.columns([3, 3, 2], vertical_alignment="bottom")
    with left:
        window = st.segmented_control(t("hot.window"), list(WINDOWS), default=wanted,
                                      format_func=lambda w: t(f"hot.window.{w}"),
                                      key="hot_window") or wanted
    with mid:
        mode = st.segmented_control(t("hot.mode"), MODES, default=MODES[0],
                                    format_func=lambda m: t(f"hot.mode.{m}"),
                                    key="hot_mode") or MODES[0]
    with right:
        density = st.checkbox(t("hot.density"), value=False, key="hot_density")
    return window, mode, bool(density)


def scan_membership(window: str, area: str | None) -> pd.DataFrame:
    """Per grid in a scan cluster (index: code): its ``cluster`` and ``relative_risk``."""
    found = scan_clusters(window, area)
    if found.empty:
        return pd.DataFrame({"cluster": pd.Series(dtype=int),
                             "relative_risk": pd.Series(dtype=float)})
    rows = found[["cluster", "codes", "relative_risk"]].assign(
        code=found["codes"].str.split(",")).explode("code")
    return rows.drop_duplicates("code").set_index("code")[["cluster", "relative_risk"]]


def kpis(window: str, area: str | None) -> None:
    """Disputes, scan clusters, hot and cold spot grids, rising and steady hot spots."""
    gi = hotspots(window, area)
    trend = trends(window, area)
    scan = scan_clusters(window, area)
    hot = gi["gi_bin"] > 0
    hot_trend = trend["spot"] == "hot"
    widgets.kpi_tiles([
        (t("hot.kpi.disputes"), count(gi["disputes"].sum()), t(f"hot.window.{window}")),
        (t("hot.kpi.scan"), count(len(scan)),
         t("hot.kpi.scan_note", grids=count(int(scan["grids"].sum()) if len(scan) else 0))),
        (t("hot.kpi.hot"), count(hot.sum()),
         t("hot.kpi.hot_note", n=count((gi["gi_bin"] == 3).sum()))),
        (t("hot.kpi.cold"), count((gi["gi_bin"] < 0).sum()), t("hot.kpi.cold_note")),
        (t("hot.kpi.rising"), count((hot_trend & trend["pattern"].isin(RISING)).sum()),
         t("hot.kpi.rising_note", weeks=TREND_WEEKS[window])),
        (t("hot.kpi.steady"), count((hot_trend & trend["pattern"].isin(STEADY)).sum()),
         t("hot.kpi.steady_note", weeks=TREND_WEEKS[window])),
    ], alert=[False, bool(len(scan)), bool(hot.any()), False,
              bool((hot_trend & trend["pattern"].isin(RISING)).any()), False])


def no_disputes_note(window: str, area: str | None) -> bool:
    """Say so when the window holds no dispute (in the city, or in the area)."""
    city = int(hotspots(window, None)["disputes"].sum())
    if city == 0:
        st.info(t("hot.none.city", window=t(f"hot.window.{window}")))
        return True
    if area is not None and int(hotspots(window, area)["disputes"].sum()) == 0:
        st.info(t("hot.none.area", window=t(f"hot.window.{window}")))
        return True
    return False


def _gi_label(level: int) -> str:
    return t(f"hot.class.{GI_KEYS[int(level) + 3]}")


def _trend_label(pattern: str, spot: str) -> str:
    if spot == "cold":
        return t("hot.trend.cold_of", pattern=t(f"hot.trend.{pattern}"))
    return t(f"hot.trend.{pattern}") if spot == "hot" else t("hot.trend.none")


def _gi_layer(gi: pd.DataFrame) -> tuple[pd.Series, pd.Series, list[tuple[str, str]]]:
    cls = (gi["gi_bin"].astype(int) + 3).where(~gi["excluded"].astype(bool), -1)
    text = pd.Series([
        t("hot.tip.gi", cls=_gi_label(b), n=count(d), z=number(z, digits=2))
        for b, d, z in zip(gi["gi_bin"], gi["disputes"], gi["gi_z"], strict=True)],
        index=gi.index, dtype=object)
    items = [(c, t(f"hot.class.{k}")) for c, k in zip(GI_COLOURS, GI_KEYS, strict=True)]
    if (cls < 0).any():
        items.append((geo_maps.NO_DATA, t("hot.legend.excluded")))
    return cls, text, items


def _scan_layer(gi: pd.DataFrame, member: pd.DataFrame
                ) -> tuple[pd.Series, pd.Series, list[tuple[str, str]]]:
    """Grids of scan clusters by relative risk; the rest pale, with their dispute count."""
    risk = member["relative_risk"].reindex(gi.index)
    cls = pd.Series(np.where(risk.isna(), 0,
                             1 + np.searchsorted(SCAN_BREAKS, risk.fillna(0), side="right")),
                    index=gi.index)
    rank = member["cluster"].reindex(gi.index)
    text = pd.Series([
        t("hot.tip.scan_none", n=count(d)) if pd.isna(k) else
        t("hot.tip.scan", rank=int(k), rr=number(r, digits=1), n=count(d))
        for k, r, d in zip(rank, risk, gi["disputes"], strict=True)],
        index=gi.index, dtype=object)
    items = [(c, t(f"hot.scan.class.{k}")) for c, k in zip(SCAN_COLOURS, SCAN_KEYS, strict=True)]
    return cls, text, items


def _trend_layer(trend: pd.DataFrame, weeks: int
                 ) -> tuple[pd.Series, pd.Series, list[tuple[str, str]]]:
    keys = np.where(trend["spot"] == "hot", trend["pattern"],
                    np.where(trend["spot"] == "cold", "cold", "none"))
    index = {k: i for i, k in enumerate(TREND_KEYS)}
    cls = pd.Series([index[k] for k in keys], index=trend.index)
    text = pd.Series([
        t("hot.tip.trend", cls=_trend_label(p, s), weeks=weeks, n=count(d))
        for p, s, d in zip(trend["pattern"], trend["spot"], trend["disputes"], strict=True)],
        index=trend.index, dtype=object)
    present = set(keys)
    items = [(c, t(f"hot.trend.{k}") if k != "none" else t("hot.trend.none"))
             for c, k in zip(TREND_COLOURS, TREND_KEYS, strict=True)
             if k in present or k in ("none", *RISING)]
    return cls, text, items


def _cluster_layer(found: pd.DataFrame, window: str):
    """One marker per hot-spot cluster, sized by its disputes (visible at city scale)."""
    tips = pd.Series([
        t("hot.tip.cluster", rank=rank, name="" if pd.isna(name) else name, code=code,
          grids=count(grids), n=count(n), window=t(f"hot.window.{window}"))
        for rank, name, code, grids, n in zip(found.index, found["name"], found["top_code"],
                                               found["grids"], found["disputes"], strict=True)],
        index=found.index, dtype=object)
    size = 6.0 + 2.0 * np.sqrt(found["disputes"].astype(float).clip(lower=0))
    return geo_maps.point_layer(found, colours=CLUSTER_COLOUR, tooltips=tips,
                                radius=size.clip(upper=24.0), name="clusters")


def _scan_marker_layer(found: pd.DataFrame, window: str):
    """One dot per scan cluster at its centre grid, sized by its disputes (city scale)."""
    grids = data.analysis_grids().set_index("code")
    centres = grids.loc[found["centre"]]
    points = centres.geometry.representative_point()
    frame = pd.DataFrame({"lon": points.x.to_numpy(), "lat": points.y.to_numpy()},
                         index=found.index)
    tips = pd.Series([
        t("hot.tip.scan_cluster", rank=int(k), name="" if pd.isna(name) else name, code=code,
          grids=count(g), n=count(n), expected=number(e, digits=1), rr=number(r, digits=1),
          p=number(p, digits=3), window=t(f"hot.window.{window}"))
        for k, name, code, g, n, e, r, p in zip(
            found["cluster"], centres["name"], found["centre"], found["grids"],
            found["disputes"], found["expected"], found["relative_risk"], found["p_value"],
            strict=True)], index=found.index, dtype=object)
    size = 7.0 + 2.0 * np.sqrt(found["disputes"].astype(float).clip(lower=0))
    # Half transparent: zoomed in, the dot sits on the very grids it marks.
    return geo_maps.point_layer(frame, colours=SCAN_STYLE["color"], tooltips=tips,
                                radius=size.clip(upper=26.0), name="scan_markers",
                                fill_opacity=0.45)


def hotspot_map(window: str, area: str | None, *, mode: str, density: bool) -> None:
    """The scan, Gi* or trend choropleth with its legend, and the density surface if asked."""
    overlays = []
    image = _density(window, area, until(), data.stamp(), data.cache_scope()) if density else None
    if image is not None:
        overlays.append(geo_maps.image_layer(image.png, bounds=image.bounds, opacity=0.85,
                                             name="density"))
    scan = scan_clusters(window, area)
    if mode == "gi":
        overlays.append(_cluster_layer(clusters(window, area), window))
    if mode in ("scan", "gi") and len(scan):
        overlays.append(geo_maps.outline_layer(scan, name="scan", style=SCAN_STYLE))
    if mode == "scan" and len(scan):
        overlays.append(_scan_marker_layer(scan, window))
    if mode == "scan":
        classes, text, items = _scan_layer(hotspots(window, area),
                                           scan_membership(window, area))
        colours = SCAN_COLOURS
        label = t("hot.map_label.scan", window=t(f"hot.window.{window}"))
    elif mode == "trend":
        weeks = TREND_WEEKS[window]
        classes, text, items = _trend_layer(trends(window, area), weeks)
        colours, label = TREND_COLOURS, t("hot.map_label.trend", weeks=weeks)
    else:
        classes, text, items = _gi_layer(hotspots(window, area))
        colours, label = GI_COLOURS, t("hot.map_label.gi", window=t(f"hot.window.{window}"))
    maps.grid_map(key="hotspot_map", classes=classes, colours=colours, values=text,
                  label=label, area=area, overlays=overlays, height=640,
                  stamp=f"{data.stamp()}|{area}|{window}|{mode}|{density}")
    widgets.legend(items, title=label)
    if mode in ("scan", "gi"):
        marks = ([(CLUSTER_COLOUR, t("hot.legend.cluster"))]
                 if mode == "gi" and len(clusters(window, area)) else [])
        if len(scan):
            marks.append((SCAN_STYLE["color"], t(f"hot.legend.scan_{mode}")))
        if marks:
            widgets.legend(marks, title=t("hot.legend.marks"))
    if density:
        if image is None:
            st.caption(t("hot.density.none"))
        else:
            stops = raster.ramp_stops(image.vmax)
            widgets.legend([(c, number(v, digits=1)) for c, v in stops],
                           title=t("hot.density.legend"))
    st.caption(t("msg.map_click_hint"))


def hotspot_table(window: str, area: str | None) -> None:
    """The hot-spot grids, strongest first, with their trend."""
    st.markdown(f"**{t('hot.table.title')}**")
    gi = hotspots(window, area)
    hot = gi[gi["gi_bin"] > 0].sort_values(["gi_bin", "gi_z"], ascending=False)
    if hot.empty:
        st.caption(t("hot.table.none"))
        return
    trend = trends(window, area).reindex(hot.index)
    shown = hot.head(TABLE_ROWS)
    table = pd.DataFrame({
        t("col.name"): shown["name"].fillna("").astype(str).to_numpy(),
        t("col.code"): shown["code"].to_numpy(),
        t("hot.col.disputes"): [count(v) for v in shown["disputes"]],
        t("hot.col.z"): [number(v, digits=2) for v in shown["gi_z"]],
        t("hot.col.confidence"): [t(f"hot.confidence.{int(b)}") for b in shown["gi_bin"]],
        t("hot.col.trend", weeks=TREND_WEEKS[window]): [
            _trend_label(p, s) for p, s in zip(trend["pattern"].head(TABLE_ROWS),
                                               trend["spot"].head(TABLE_ROWS), strict=True)],
    })
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(t("hot.table.note", n=count(len(hot)), shown=count(len(shown))))


def scan_table(window: str, area: str | None) -> None:
    """The scan statistic's clusters: where, how many against how many expected, p."""
    st.markdown(f"**{t('hot.scan.title')}**")
    st.caption(t("hot.scan.meaning", reps=count(DEFINITION.scan_replicates)))
    found = scan_clusters(window, area)
    if found.empty:
        st.caption(t("hot.scan.none"))
        return
    names = data.analysis_grids().set_index("code")["name"]
    table = pd.DataFrame({
        t("hot.scan.col.centre"): [f"{names.get(c, '')} {c}".strip() for c in found["centre"]],
        t("hot.scan.col.grids"): [count(v) for v in found["grids"]],
        t("hot.col.disputes"): [count(v) for v in found["disputes"]],
        t("hot.scan.col.expected"): [number(v, digits=1) for v in found["expected"]],
        t("hot.scan.col.rr"): [number(v, digits=1) for v in found["relative_risk"]],
        t("hot.scan.col.p"): [number(v, digits=3) for v in found["p_value"]],
    })
    st.dataframe(table, hide_index=True, width="stretch")
