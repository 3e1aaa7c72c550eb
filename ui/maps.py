"""Map widget glue: one grid map per page, styled per figure, clickable into grid detail.

Every page's map is the same base: the packed grid file (fetched once by the browser),
county outlines, and no tiles unless ``GRIDMAP_TILES`` names a tile server. What a page
maps goes in as a :func:`geo.maps.grid_style` (colours, tooltip figures, view) plus small
overlay layers, through streamlit-folium's ``feature_group_to_add``: changing them never
remounts the map, so pan and zoom survive a refresh (DESIGN §6).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import folium
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo import maps
from ui import data
from ui.text import t

#: A grid code inside a clicked grid's tooltip text. The text arrives without its line
#: breaks, so the code touches Chinese characters, which \b counts as word characters.
_CODE = re.compile(r"(?<!\d)(\d{15})(?!\d)")
#: Where a click asks to go; read by :func:`follow_click` after the map is drawn.
_GOTO = "_goto_grid"
DARK_BACKGROUND = "#0b1220"


def base_map(*, dark: bool = False) -> folium.Map:
    """The map every page starts from: grids (fetched once) over the county outlines."""
    file_id, url, _codes = data.grid_file()
    outlines = data.county_outlines()
    fmap = maps.offline_map(bounds=data.city_bounds(),
                            tiles_url=os.environ.get("GRIDMAP_TILES") or None,
                            attribution=os.environ.get("GRIDMAP_TILES_ATTRIBUTION") or None,
                            background=DARK_BACKGROUND if dark else "#f5f7fa", fit=False)
    maps.GridCanvas(url=url, file_id=file_id, dark=dark).add_to(fmap)
    if not outlines.empty:
        maps.outline_layer(outlines, dark=dark).add_to(fmap)
    return fmap


def heat_classes(values: pd.Series, *, colours: Sequence[str] = maps.HEAT_COLOURS,
                 fmt=None) -> tuple[pd.Series, list[tuple[str, str]]]:
    """Class each grid's value for a choropleth and describe the classes for the legend.

    Returns
    -------
    (pandas.Series, list)
        Class per grid (-1 for NaN) and ``(colour, label)`` pairs, labels such as "0",
        "1–3", "> 12" formatted with ``fmt`` (default: grouped integers).

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
    if (cls < 0).any():
        items.append((maps.NO_DATA, t("legend.no_data")))
    return cls, items


def grid_map(
    *, key: str, classes: pd.Series, colours: Sequence[str], values: pd.Series | None = None,
    label: str = "", area: str | None = None, fit: str | None = None,
    selected: str | None = None, overlays: Sequence[folium.FeatureGroup] = (),
    height: int = 620, clickable: bool = True, dark: bool = False, stamp: str = "",
) -> None:
    """Draw the page's grid map.

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

    """
    file_id, _url, codes = data.grid_file()
    if area is not None:
        inside = data.area_codes(area)
        classes = classes[classes.index.isin(inside)]
    target = fit if fit is not None else area
    bounds = _bounds(target)
    style = maps.grid_style(codes, file_id=file_id, classes=classes, colours=list(colours),
                            values=values, label=label, fit=bounds, fit_key=target or "city",
                            selected=selected, stamp=stamp, opacity=0.92 if dark else 0.8)
    st_folium(base_map(dark=dark), key=key, height=height, use_container_width=True,
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
    match = _CODE.search(text or "")
    if match:
        st.session_state[_GOTO] = match.group(1)


def follow_click(*, current: str | None = None) -> None:
    """Open the detail of the grid the user clicked (the browser's back button returns)."""
    code = st.session_state.pop(_GOTO, None)
    if code and code != current:
        st.switch_page("pages/grid.py", query_params={"grid": code})


def codes_text(values: pd.Series, fmt) -> pd.Series:
    """Format a per-grid figure for tooltips, NaN shown as the no-data mark."""
    out = values.map(lambda v: t("msg.no_data_value") if pd.isna(v) else fmt(v))
    return out.astype(str)


def constant_classes(codes: pd.Index, cls: int = 0) -> pd.Series:
    """Every grid in one class (a plain outline map)."""
    return pd.Series(np.full(len(codes), cls), index=codes)
