"""Map widget glue: one grid map per page, styled per figure, clickable into grid detail.

Every page's map is the same base: the packed grid file (fetched once by the browser),
county outlines, and no tiles unless ``GRIDMAP_TILES`` names a tile server. What a page
maps goes in as a :func:`geo.maps.grid_style` (colours, tooltip figures, view) plus small
overlay layers, through streamlit-folium's ``feature_group_to_add``: changing them never
remounts the map, so pan and zoom survive a refresh (DESIGN §6).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import folium
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import maps
from geo.wall import Refresh
from ui import data, links, state
from ui.text import t

#: Where a click asks to go; read by :func:`follow_click` after the map is drawn.
_GOTO = "_goto_grid"
#: An admin unit a click asks to zoom into (province scale); read by :func:`follow_click`.
_ZOOM = "_zoom_area"
DARK_BACKGROUND = "#0b1220"
#: Fill of admin units on a page whose figure is per grid (province scale, zoomed out).
UNIT_COLOUR = "#90a4ae"


def base_map(view: data.MapView, *, dark: bool = False, fill: bool = False) -> folium.Map:
    """The map every page starts from: grids (fetched once) over the county outlines."""
    outlines = data.county_outlines()
    fmap = maps.offline_map(bounds=data.city_bounds(),
                            tiles_url=os.environ.get("GRIDMAP_TILES") or None,
                            attribution=os.environ.get("GRIDMAP_TILES_ATTRIBUTION") or None,
                            background=DARK_BACKGROUND if dark else "#f5f7fa", fit=False)
    maps.GridCanvas(url=view.url, file_id=view.file_id, dark=dark, fill=fill).add_to(fmap)
    if not outlines.empty:
        maps.outline_layer(outlines, dark=dark).add_to(fmap)
    return fmap


def heat_figures(area: str | None, *, window: str, column: str = "requests",
                 at: Refresh | None = None,
                 layer: str = "heat") -> tuple[data.MapView, pd.Series]:
    """One figure per polygon of the map of ``area``, and that map's view.

    Grids get their own figure; at province scale, zoomed out, each admin unit gets the
    sum over its grids (rates recomputed from the sums, not averaged). ``at``: a wall
    refresh's cut-off and data version (default the current minute). ``layer``: one of
    :data:`geo.wall.LAYERS` (request heat over ``window``, or the open backlog's
    ``column``).
    """
    view = data.map_view(area)
    if view.level == "grid":
        values = data.grid_layer(layer, window, at=at)[column].astype(float)
        if area is not None:
            values = values[values.index.isin(data.area_codes(area))]
    else:
        values = data.unit_layer(layer, window, view.level, at=at)[column].astype(float)
        values = values[values.index.isin(view.codes)]
    return view, values


def heat_classes(values: pd.Series, *, colours: Sequence[str] = maps.HEAT_COLOURS,
                 fmt=None, unit: str = "") -> tuple[pd.Series, list[tuple[str, str]]]:
    """Class each grid's value for a choropleth and describe the classes for the legend.

    Classes from :func:`geo.maps.class_breaks`: zero alone, then quantiles of the
    non-zero values.

    Returns
    -------
    (pandas.Series, list)
        Class per grid (-1 for NaN) and ``(colour, label)`` pairs, labels such as "0",
        "1–3", "> 12" formatted with ``fmt`` (default: grouped integers), each followed
        by ``unit`` ("件") when given.

    """
    fmt = fmt or (lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}")
    limits = maps.class_breaks(values, k=len(colours))
    cls = pd.Series(maps.classify(values, limits), index=values.index)
    finite = values.dropna().to_numpy(dtype=float)
    integral = bool(len(finite)) and bool((finite == finite.round()).all())
    items: list[tuple[str, str]] = []
    lower = None
    for i, upper in enumerate(limits):
        if lower is None:
            label = fmt(upper) if upper == 0 else f"≤ {fmt(upper)}"
        elif integral and upper - lower == 1:
            label = fmt(upper)  # counts: (1, 2] is just "2"
        elif integral:
            label = f"{fmt(lower + 1)} – {fmt(upper)}"
        else:
            label = f"{fmt(lower)} – {fmt(upper)}"
        items.append((colours[i], label))
        lower = upper
    if limits:
        items.append((colours[len(limits)], f"> {fmt(limits[-1])}"))
    if unit:
        items = [(colour, f"{label} {unit}") for colour, label in items]
    if (cls < 0).any():
        items.append((maps.NO_DATA, t("legend.no_data")))
    return cls, items


def grid_map(
    *, key: str, classes: pd.Series, colours: Sequence[str], values: pd.Series | None = None,
    label: str = "", area: str | None = None, fit: str | None = None,
    selected: str | None = None, overlays: Sequence[folium.FeatureGroup] = (),
    height: int = 620, clickable: bool = True, dark: bool = False, stamp: str = "",
    view: data.MapView | None = None, labels: pd.DataFrame | None = None,
    fill: bool = False,
) -> None:
    """Draw the page's grid map.

    At province scale the map may hold admin units instead of grids (:func:`ui.data.map_view`):
    a page that can sum its figure to units passes the ``view`` it classed them for; any
    other page's grids are drawn as plain units with a hint to choose an area, and a click
    on a unit zooms the page into it.

    Parameters
    ----------
    key : str
        Unique per page; keeps the map mounted across reruns.
    classes : pandas.Series
        Colour class per grid code; grids missing from it are drawn faint (outside).
    colours : sequence of str
        Colour per class.
    values : pandas.Series, optional
        Display text of the figure per grid code (tooltips).
    label : str
        What the figure is.
    area : str, optional
        Only this area's grids are coloured (others faint).
    fit : str, optional
        An area or grid code to show; default ``area`` (the city for None).
    selected : str, optional
        A grid code to outline.
    overlays : sequence of folium.FeatureGroup
        Small extra layers (stations, points, a surface image).
    height : int
        Pixels.
    clickable : bool
        A click on a grid opens its detail (off on unattended walls).
    dark : bool
        The wall's dark style.
    stamp : str
        Recorded on the page when the style is applied (tests watch it).
    view : ui.data.MapView, optional
        The polygons ``classes`` and ``values`` are keyed on; default
        ``data.map_view(area)``, with grid-keyed figures.
    labels : pandas.DataFrame, optional
        Names and figures written on the map (:func:`geo.maps.grid_style`).
    fill : bool
        The map's height follows its frame, which the page's CSS sizes from the screen
        (the kiosk); ``height`` is then only the first guess.

    """
    if view is None:
        view = data.map_view(area if area is not None else (selected or fit))
        if view.level != "grid":
            # This page's figure is per grid: show where to zoom in, not a made-up sum.
            classes, values, colours = constant_classes(view.codes), None, [UNIT_COLOUR]
            st.caption(t("map.units_hint", level=t(f"level.{view.level}")))
    if view.level == "grid" and area is not None:
        inside = data.area_codes(area)
        classes = classes[classes.index.isin(inside)]
    elif view.level != "grid":
        classes = classes[classes.index.isin(view.codes)]
    target = fit if fit is not None else area
    bounds = _bounds(target)
    style = maps.grid_style(view.codes, file_id=view.file_id, classes=classes,
                            colours=list(colours),
                            values=values, label=label, fit=bounds, fit_key=target or "city",
                            selected=selected, stamp=stamp, opacity=0.92 if dark else 0.8,
                            labels=labels)
    st_folium(base_map(view, dark=dark, fill=fill), key=key, height=height,
              use_container_width=True,
              returned_objects=["last_object_clicked_tooltip"] if clickable else [],
              feature_group_to_add=[style, *overlays],
              on_change=(lambda: _clicked(key)) if clickable else None)
    if clickable:
        follow_click(current=selected)


def _bounds(code: str | None) -> tuple[float, float, float, float]:
    if code is not None and data.is_grid(code):
        grids = data.map_grids()
        geom = grids.loc[grids["code"] == code].geometry
        minx, miny, maxx, maxy = (float(v) for v in geom.total_bounds)
        pad = max(maxx - minx, maxy - miny) * 1.5
        return (minx - pad, miny - pad, maxx + pad, maxy + pad)
    return data.area_bounds(code)


def _clicked(key: str) -> None:
    value = st.session_state.get(key) or {}
    text = value.get("last_object_clicked_tooltip") if isinstance(value, dict) else None
    match = maps.CODE_IN_TOOLTIP.search(text or "")
    if not match:
        return
    code = match.group(1)
    if data.is_grid(code):
        st.session_state[_GOTO] = code
    elif data.is_area(code):
        # An admin unit (province scale, zoomed out): zoom the page into it, which sends
        # its grids. Done after the map is drawn, as a whole-app rerun (follow_click).
        st.session_state[_ZOOM] = code


def follow_click(*, current: str | None = None) -> None:
    """Follow a click on the map: open a grid's detail, or zoom into an admin unit.

    The browser's back button returns from the detail.
    """
    code = st.session_state.pop(_GOTO, None)
    if code and code != current:
        links.switch_page("grid", query_params={"grid": code})
    area = st.session_state.pop(_ZOOM, None)
    if area:
        state.set_area(area)
        # The whole app, not just the map's fragment: the sidebar's area picker and the
        # titles must follow.
        st.rerun(scope="app")


def codes_text(values: pd.Series, fmt) -> pd.Series:
    """Format a per-grid figure for tooltips, NaN shown as the no-data mark."""
    out = values.map(lambda v: t("msg.no_data_value") if pd.isna(v) else fmt(v))
    return out.astype(str)


def constant_classes(codes: pd.Index, cls: int = 0) -> pd.Series:
    """Every grid in one class (a plain outline map)."""
    return pd.Series(np.full(len(codes), cls), index=codes)
