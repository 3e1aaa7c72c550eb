"""Folium maps built from GeoDataFrames, with every browser asset served locally.

folium's default page loads Leaflet, jQuery and Bootstrap from CDNs; on an isolated network
one unreachable script blanks the whole map (DESIGN §6). Every map made here swaps those for
Leaflet from ``static/`` and nothing else. There is no tile layer unless one is configured:
the real county outlines are the base map.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import warnings
from typing import Any, NamedTuple, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from geo.assets import GRIDCANVAS_JS, LEAFLET_CSS, LEAFLET_JS
from geo.coords import metric_crs


def offline_map(*, bounds: tuple[float, float, float, float], tiles_url: str | None = None,
                attribution: str | None = None, background: str = "#f5f7fa",
                fit: bool = True) -> folium.Map:
    """Return an empty folium map that loads nothing from outside the app.

    Parameters
    ----------
    bounds : tuple of float
        (minx, miny, maxx, maxy) in WGS84 to fit the view to.
    tiles_url : str, optional
        An XYZ tile URL (intranet tile server, OSM, Tianditu…). None means no tiles.
    attribution : str, optional
        Attribution for ``tiles_url``.
    background : str
        CSS colour behind the polygons where there are no tiles.
    fit : bool
        Fit the view to ``bounds`` when the map opens. Maps whose view a
        :class:`GridStyle` sets pass False: an animated fit still running would undo it.

    """
    minx, miny, maxx, maxy = bounds
    # zoomSnap 0.25: whole zoom levels leave a county at half the frame or cut off.
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9,
                      tiles=None, prefer_canvas=True, control_scale=False, zoomSnap=0.25,
                      zoomDelta=0.5)
    # Instance attributes shadow folium's class-level CDN lists for this map only.
    fmap.default_js = [("leaflet", LEAFLET_JS)]
    fmap.default_css = [("leaflet_css", LEAFLET_CSS)]
    _plain_background(fmap, background)
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr=attribution or "tiles", name="base").add_to(fmap)
    if fit:
        fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def simplified(gdf: gpd.GeoDataFrame, *, tolerance_m: float = 15.0,
               precision: int = 5) -> gpd.GeoDataFrame:
    """Simplify a polygon coverage with shared edges kept, and round coordinates.

    ``shapely.coverage_simplify`` keeps neighbouring grids edge to edge (no slivers, no gaps)
    where per-polygon simplification would not. Rounding to 5 decimals (about 1 m) keeps the
    GeoJSON small.
    """
    if gdf.empty:
        return gdf
    c = gdf.geometry.union_all().centroid
    crs = metric_crs(c.x, c.y)
    metric = gdf.geometry.to_crs(crs)
    simple = shapely.coverage_simplify(np.asarray(metric.values), tolerance_m)
    assert gdf.crs is not None  # the to_crs above refuses a frame without one
    back = gpd.GeoSeries(simple, crs=crs, index=gdf.index).to_crs(gdf.crs)
    back = back.set_precision(10 ** -precision)
    return gdf.set_geometry(back.values)


#: DESIGN §9: no more than this many polygons go to the browser at once (province scale).
MAX_POLYGONS = 10_000
#: Map levels from the finest to the coarsest.
MAP_LEVELS = ("grid", "community", "township", "county")
#: Admin levels from the coarsest down, as the columns of ``UnitHierarchy.grids``.
_ADMIN_DOWN = ("county", "township", "community")


class MapChoice(NamedTuple):
    """What a map sends to the browser (:func:`map_level`).

    Attributes
    ----------
    level : str
        One of :data:`MAP_LEVELS`: the polygons are grids, or admin units of that level.
    area : str or None
        The admin unit (or grid) whose polygons are sent; None for everything given.

    """

    level: str
    area: str | None


def _admin_level(membership: pd.DataFrame, code: str) -> str | None:
    for level in _ADMIN_DOWN:
        if level in membership.columns and (membership[level] == code).any():
            return level
    return None


def map_level(membership: pd.DataFrame, *, area: str | None = None,
              limit: int = MAX_POLYGONS) -> MapChoice:
    """Choose what a map of ``area`` sends so that at most ``limit`` polygons go at once.

    DESIGN §9: a province (60,000 grids) goes as admin-unit aggregates until the view is
    filtered to an area small enough for its grids. The grids sent are those of the
    *largest* area around ``area`` that fits (a township's view sends its whole county when
    that fits), so that moving between neighbouring areas keeps the same file and the
    surroundings stay on screen, drawn faint. A city under the limit always sends every grid.

    Parameters
    ----------
    membership : pandas.DataFrame
        ``UnitHierarchy.grids``: indexed by grid code, a column per admin level holding
        the grid's unit code at that level. Only its rows are counted (a scope's own).
    area : str, optional
        The admin unit or grid in view; None for everything.
    limit : int
        The most polygons to send.

    Returns
    -------
    MapChoice
        ``("grid", a)`` to send the grids of ``a`` (None: all of them), or
        ``(level, area)`` to send the admin units of ``level`` inside ``area``: the finest
        level that fits, or the counties if none does.

    """
    if len(membership) <= limit:
        return MapChoice("grid", None)
    rows = membership
    chain: list[tuple[str, str]] = []  # (level, code), coarsest first
    if area is not None and area in membership.index:
        row = membership.loc[area]
        chain = [(lv, code) for lv in _ADMIN_DOWN
                 if lv in membership.columns and isinstance(code := row[lv], str)]
        rows = membership.loc[[area]]
    elif area is not None:
        level = _admin_level(membership, area)
        if level is not None:
            rows = membership[(membership[level] == area).to_numpy()]
            first = rows.iloc[0]
            chain = [(lv, first[lv]) for lv in _ADMIN_DOWN[:_ADMIN_DOWN.index(level) + 1]
                     if isinstance(first[lv], str)]
    for level, code in chain:
        if int((membership[level] == code).sum()) <= limit:
            return MapChoice("grid", code)
    if area is not None and area in membership.index:
        return MapChoice("grid", area)
    for level in MAP_LEVELS[1:]:
        if level in rows.columns and rows[level].nunique() <= limit:
            return MapChoice(level, area)
    return MapChoice("county", area)


def map_shapes(choice: MapChoice, *, grids: gpd.GeoDataFrame, units: gpd.GeoDataFrame,
               membership: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return the polygons of a :class:`MapChoice`: ``code``, ``name``, geometry, by code.

    Parameters
    ----------
    choice : MapChoice
        From :func:`map_level` on the same ``membership``.
    grids : geopandas.GeoDataFrame
        ``code``, ``name`` and geometry of the grids (simplified for the browser).
    units : geopandas.GeoDataFrame
        ``code``, ``name`` and geometry of the admin units. A unit with no stored
        outline is drawn as the union of its grids.
    membership : pandas.DataFrame
        ``UnitHierarchy.grids`` of the same grids.

    """
    if choice.level == "grid":
        codes = membership.index
        if choice.area is not None:
            level = _admin_level(membership, choice.area)
            codes = (pd.Index([choice.area]) if level is None
                     else membership.index[(membership[level] == choice.area).to_numpy()])
        frame = grids[grids["code"].isin(codes)]
        return frame[["code", "name", "geometry"]].sort_values("code").reset_index(drop=True)
    rows = membership
    if choice.area is not None:
        level = _admin_level(membership, choice.area)
        if level is not None:
            rows = membership[(membership[level] == choice.area).to_numpy()]
    wanted = pd.Index(rows[choice.level].dropna().unique()).sort_values()
    known = units[units["code"].isin(wanted) & units.geometry.notna()]
    frame = known.set_index("code")[["name", "geometry"]]
    missing = wanted.difference(frame.index)
    if len(missing):
        of = membership[choice.level].reindex(grids["code"]).to_numpy()
        pick = grids[np.isin(of, missing)].assign(code_=of[np.isin(of, missing)])
        merged = pick.dissolve(by="code_")[["geometry"]]
        names = units.set_index("code")["name"].reindex(merged.index)
        frame = pd.concat([frame, merged.assign(name=names.fillna(""))])
    frame = gpd.GeoDataFrame(frame.reindex(wanted), geometry="geometry", crs=grids.crs)
    frame.index.name = "code"
    return frame.reset_index()[["code", "name", "geometry"]]


#: Leaflet style of admin outlines on a light and on a dark (wall) map.
OUTLINE_STYLE = {"color": "#37474f", "weight": 2.0, "fill": False}
OUTLINE_STYLE_DARK = {"color": "#90a4ae", "weight": 2.0, "fill": False}

#: Version of the packed grid file; the browser refuses a file it does not understand.
PACK_VERSION = 1
#: Coordinates are sent as integers of 1e-5 degree (about 1 m, DESIGN §6).
PACK_SCALE = 100_000
#: Sequential classes for counts and rates (light → dark red), readable on light and dark.
HEAT_COLOURS = ("#fff3bf", "#ffc078", "#ff8a3d", "#e8590c", "#b02a07")
#: Fill for a grid in the area with no figure (no residents, nothing rated…).
NO_DATA = "#cfd8dc"
#: The wall's classes: a muted zero class, then four for the places that have something.
#: On the light theme the zero class is a pale grey and the rest run yellow → dark red
#: (ColorBrewer OrRd); on the dark wall the zero class is a shade above the background and
#: the rest run dark red → bright yellow (as matplotlib's "inferno"), so that the worst
#: places are the brightest on a dark screen and the empty ones recede on both.
WALL_COLOURS = {
    "light": ("#e9edf1", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"),
    "dark": ("#1b2636", "#7a1e5c", "#c73e4c", "#f3782a", "#fce94f"),
}

#: Marks a grid outside the area on the map (faint, not clickable for the figure).
OUTSIDE = " "
#: Brackets a polygon's code in its tooltip (see :data:`CODE_IN_TOOLTIP`).
CODE_MARK = "\u200b"
#: A polygon's code in the plain text of its tooltip, as a click returns it.
CODE_IN_TOOLTIP = re.compile(CODE_MARK + r"(\d+)" + CODE_MARK)
#: Marks a grid inside the area whose figure is missing.
MISSING = "-"


# --------------------------------------------------------------------------- packed grids


def pack_grids(grids: gpd.GeoDataFrame, *, name_col: str = "name") -> tuple[bytes, str]:
    """Encode grid polygons compactly for the browser; return the bytes and their id.

    GeoJSON spends most of its bytes on repeated keys, brackets and full-length decimals:
    6,017 grids were 1.94 MB. Here each ring is a flat list of integer steps of 1e-5 degree
    (5 decimals, about 1 m) from the previous vertex, the closing vertex dropped (Leaflet
    closes rings), with one running cursor across the whole file, so that most numbers
    have two to four digits. The decoder is the few lines of JavaScript in
    ``static/gridmap/gridcanvas.js`` (:class:`GridCanvas`).

    Parameters
    ----------
    grids : geopandas.GeoDataFrame
        ``code``, ``name_col`` and (Multi)Polygon geometry in EPSG:4326, in the order the
        styles will use.
    name_col : str
        The column with the grid's display name.

    Returns
    -------
    (bytes, str)
        UTF-8 JSON ``{"v", "scale", "codes", "names", "shapes"}``, where ``shapes[i]`` is a
        list of polygons, each a list of rings, each ``[dx0, dy0, dx1, dy1, …]``; and a
        12-hex-digit content hash that names the file (browsers may cache it for ever).

    """
    cursor = np.zeros(2, dtype=np.int64)
    shapes = []
    for geom in grids.geometry.to_numpy():
        polygons = [] if geom is None else list(getattr(geom, "geoms", [geom]))
        packed = []
        for poly in polygons:
            rings = []
            for ring in (poly.exterior, *poly.interiors):
                ints = np.round(np.asarray(ring.coords)[:-1, :2] * PACK_SCALE).astype(np.int64)
                if len(ints) < 3:
                    continue
                steps = np.diff(ints, axis=0, prepend=cursor[None, :])
                cursor = ints[-1]
                rings.append(steps.ravel().tolist())
            if rings:
                packed.append(rings)
        shapes.append(packed)
    doc = {"v": PACK_VERSION, "scale": PACK_SCALE,
           "codes": [str(c) for c in grids["code"]],
           "names": ["" if n is None else str(n) for n in grids[name_col]],
           "shapes": shapes}
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body, hashlib.sha1(body).hexdigest()[:12]


#: Colours the canvas draws with that are not a figure's (a :class:`GridStyle` brings those):
#: grid edges, and the fill and opacity of grids outside the area, on a light and a dark map.
CANVAS_PALETTE = {
    "light": {"edge": "#ffffff", "outside": "#dde3e8", "outsideOpacity": 0.5},
    "dark": {"edge": "#0b1220", "outside": "#37474f", "outsideOpacity": 0.25},
}


def canvas_options(*, url: str, file_id: str, dark: bool = False,
                   fill: bool = False) -> dict[str, object]:
    """Return what ``static/gridmap/gridcanvas.js`` is given, as JSON data, to draw a map.

    Parameters
    ----------
    url : str
        The packed grid file (:func:`pack_grids`, published under static/).
    file_id : str
        Its id; the browser ignores a style meant for another file.
    dark : bool
        The wall's dark theme.
    fill : bool
        The map takes the height of its frame, which the page sizes from the screen (the
        kiosk), instead of the fixed height it was drawn with.

    """
    return {"url": url, "file": file_id, "dark": bool(dark), "fill": bool(fill),
            "version": PACK_VERSION,
            "noData": NO_DATA, "palette": CANVAS_PALETTE["dark" if dark else "light"],
            "codeMark": CODE_MARK, "outside": OUTSIDE, "missing": MISSING}


class GridCanvas(JSCSSMixin):
    """The grid polygons of a map, fetched once from a packed file and drawn on the canvas.

    The drawing is ``static/gridmap/gridcanvas.js``, loaded after Leaflet from static/ and
    called with :func:`canvas_options`. The polygons live in one ``L.featureGroup`` so that
    streamlit-folium's click handler, bound to the map's top-level layers, sees a click on
    any grid (with the grid's tooltip, which carries its code). Colours, tooltip figures and
    the view come later from a :class:`GridStyle`, so that a refresh changes colours without
    re-sending or remounting the geometry.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
GridMapCanvas({{ this._parent.get_name() }}, {{ this.options|tojson }});
{% endmacro %}
""")

    def __init__(self, *, url: str, file_id: str, dark: bool = False, fill: bool = False):
        super().__init__()
        self._name = "GridCanvas"
        # An instance list: JSCSSMixin's class-level default is shared by every subclass.
        self.default_js = [("gridcanvas", GRIDCANVAS_JS)]
        self.options = canvas_options(url=url, file_id=file_id, dark=dark, fill=fill)


class GridStyle(MacroElement):
    """Colours, tooltip figures and view of a :class:`GridCanvas`, applied in the browser.

    Put it in the ``feature_group_to_add`` of ``st_folium``: streamlit-folium re-evaluates
    that group's script when it changes and leaves the map (and its pan/zoom) alone.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
if (window.gridmap) { window.gridmap.apply({{ this.payload|tojson }}); }
{% endmacro %}
""")

    def __init__(self, payload: dict):
        super().__init__()
        self._name = "GridStyle"
        self.payload = payload


def class_breaks(values: pd.Series | np.ndarray, *, k: int = len(HEAT_COLOURS)) -> list[float]:
    """Return up to ``k - 1`` upper class limits for a choropleth of ``values``.

    Zero gets its own lowest class (most grids see nothing in a short window, and a map
    whose classes start at zero reads pale everywhere); the other classes are quantiles of
    the **non-zero** values (``mapclassify.Quantiles``), so that each holds about as many
    of the places that have something, and a handful of hot grids stand out from the many
    with one or two. Limits are rounded to "nice" numbers and made strictly increasing,
    below the largest value so that the top class is never empty. NaN is ignored.

    Fisher–Jenks would fit skewed counts a little better, but without numba mapclassify
    takes about 16 s for 6,000 grids, and its sampled variant draws at random, so a
    refresh could recolour a map whose data did not change. Quantiles are exact and fast.

    Returns
    -------
    list of float
        Increasing limits ``b``: class 0 holds ``v <= b[0]``, class i holds
        ``b[i-1] < v <= b[i]``, the last class everything above. Empty when every value is
        NaN.

    """
    import mapclassify  # imported here: the maps of most pages do not class anything

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return []
    positive = v[v > 0]
    if positive.size == 0:
        return [0.0]
    # Zero's class even when no value is zero: the lowest colour means "none" (muted on
    # the wall), never "a few". A negative value (a change, a rate) falls into it too.
    limits = [0.0]
    classes = min(k - len(limits), int(np.unique(positive).size))
    if classes >= 2:
        top = float(positive.max())
        with warnings.catch_warnings():
            # Ties (counts of 1 and 2 are common) leave fewer distinct quantiles; the
            # limits below are made strictly increasing anyway.
            warnings.simplefilter("ignore", UserWarning)
            bins = mapclassify.Quantiles(positive, k=classes).bins
        for q in bins[:-1]:
            nice = _nice(float(q))
            if nice < top and (not limits or nice > limits[-1]):
                limits.append(nice)
        # Small counts tie (most places have 1 or 2): the quantiles then give fewer limits
        # than there are colours. Split the top class at the median of what lies above
        # its lower limit, again while colours are left (head/tail breaks), so that the
        # few places with the most still get a class of their own.
        while len(limits) < k - 1:
            above = positive[positive > limits[-1]]
            if np.unique(above).size < 2:
                break
            nice = _nice(float(np.median(above)))
            if nice >= top or nice <= limits[-1]:
                nice = float(np.unique(above)[0])  # the smallest value above the limit
            if nice >= top or nice <= limits[-1]:
                break
            limits.append(nice)
    return limits[: k - 1]


def _nice(x: float) -> float:
    if x <= 0:
        return 0.0
    if x < 1:
        return float(np.round(x, 3))
    if x < 20:
        return float(np.floor(x))
    magnitude = 10 ** np.floor(np.log10(x))
    return float(np.floor(x / magnitude * 2) / 2 * magnitude)


def classify(values: pd.Series | np.ndarray, limits: list[float]) -> np.ndarray:
    """Return each value's class (0 …) under :func:`class_breaks` limits; -1 for NaN."""
    v = np.asarray(values, dtype=float)
    cls = np.searchsorted(np.asarray(limits, dtype=float), v, side="left").astype(np.int64)
    cls[~np.isfinite(v)] = -1
    return cls


def grid_style(
    codes: pd.Index | list[str], *, file_id: str, classes: pd.Series,
    colours: tuple[str, ...] | list[str], values: pd.Series | None = None, label: str = "",
    fit: tuple[float, float, float, float] | None = None, fit_key: str | None = None,
    selected: str | None = None, selected_colour: str = "#1565c0", opacity: float = 0.8,
    stamp: str = "", labels: pd.DataFrame | None = None,
) -> folium.FeatureGroup:
    """Return the feature group that colours a :class:`GridCanvas` for one figure.

    Parameters
    ----------
    codes : sequence of str
        The grid codes in the order of the packed file (``pack_grids``).
    file_id : str
        The packed file's id; a style meant for another file is ignored by the browser.
    classes : pandas.Series
        Colour class per grid code (0 … ``len(colours) - 1``; -1: in the area, no figure).
        Grids not in the index are outside the area: drawn faint.
    colours : sequence of str
        CSS colour per class.
    values : pandas.Series, optional
        Display text of the figure per grid code, shown in the tooltip after ``label``.
    label : str
        What the figure is ("近7天诉求").
    fit, fit_key : optional
        Bounds (minx, miny, maxx, maxy) to show; the view moves only when ``fit_key``
        differs from the last one applied, so a refresh keeps the user's pan and zoom.
    selected : str, optional
        A grid code to outline.
    selected_colour : str
        Its outline colour.
    opacity : float
        Fill opacity of the grids in the area.
    stamp : str
        An opaque marker the browser records on the page when the style is applied (the
        tests use it to see a refresh arrive).
    labels : pandas.DataFrame, optional
        Names written on the map (the wall's counties with their totals): ``name``,
        ``figure`` (display text), ``lon``, ``lat``. Plain text: the browser escapes it.

    """
    if len(colours) > 10:
        raise ValueError("at most 10 colour classes")
    order = pd.Index(codes)
    cls = classes.reindex(order)
    text = np.full(len(order), OUTSIDE, dtype="<U1")
    inside = cls.notna().to_numpy()
    c = cls.fillna(-1).astype(int).to_numpy()
    if ((c >= len(colours)) & inside).any():
        raise ValueError("a class has no colour")
    text[inside & (c < 0)] = MISSING
    ok = inside & (c >= 0)
    text[ok] = np.array([chr(48 + int(i)) for i in c[ok]], dtype="<U1")
    shown = None
    if values is not None:
        shown = values.reindex(order).fillna("").astype(str).tolist()
    payload = {
        "file": file_id, "classes": "".join(text.tolist()), "colours": list(colours),
        "noData": NO_DATA, "values": shown, "label": label, "opacity": opacity,
        # Grid codes are unique, so get_loc gives a position (not a slice or a mask).
        "selected": int(cast(int, order.get_loc(selected))) if selected in order else -1,
        "selectedColour": selected_colour, "stamp": stamp, "fitKey": fit_key,
        "fit": None if fit is None else [[fit[1], fit[0]], [fit[3], fit[2]]],
        "labels": None if labels is None else [
            {"name": str(n), "figure": str(f), "lat": round(float(y), 5),
             "lon": round(float(x), 5)}
            for n, f, x, y in zip(labels["name"], labels["figure"], labels["lon"],
                                  labels["lat"], strict=True)],
    }
    group = folium.FeatureGroup(name="style", control=False)
    group.add_child(GridStyle(payload))
    return group


def label_points(units: gpd.GeoDataFrame) -> pd.DataFrame:
    """Where to write each unit's name on a map: inside it, far from its edges.

    The pole of inaccessibility (``shapely.ops.polylabel``) of each unit's largest part:
    unlike the centroid, it lies inside a crescent-shaped county. Units without a shape
    are left out.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``lon``, ``lat``.

    """
    from shapely.ops import polylabel

    rows = []
    for code, name, geom in zip(units["code"], units["name"], units.geometry, strict=True):
        if geom is None or geom.is_empty:
            continue
        part = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        size = max(part.bounds[2] - part.bounds[0], part.bounds[3] - part.bounds[1])
        point = polylabel(part, tolerance=max(size / 200, 1e-6))
        rows.append((str(code), "" if name is None else str(name), point.x, point.y))
    return pd.DataFrame(rows, columns=["code", "name", "lon", "lat"])


# --------------------------------------------------------------------------- overlays


def outline_layer(outlines: gpd.GeoDataFrame, *, name: str = "outlines",
                  dark: bool = False, style: dict | None = None) -> folium.FeatureGroup:
    """Return a feature group with outlines (admin units by default) drawn as lines only."""
    group = folium.FeatureGroup(name=name)
    if style is None:
        style = OUTLINE_STYLE_DARK if dark else OUTLINE_STYLE
    # Not interactive: on a canvas the outlines would otherwise swallow the hover and clicks
    # meant for the grids underneath.
    folium.GeoJson(outlines[[outlines.geometry.name]].to_json(drop_id=True),
                   style_function=lambda _f: style, interactive=False).add_to(group)
    return group


def point_layer(points: pd.DataFrame, *, colours: pd.Series | str = "#1565c0",
                tooltips: pd.Series | None = None, radius: float | pd.Series = 5.0,
                name: str = "points", group: folium.FeatureGroup | None = None,
                fill_opacity: float = 0.9) -> folium.FeatureGroup:
    """Return a feature group of circle markers at ``lon``/``lat`` (a few hundred at most).

    Tooltip text is escaped here: it may hold residents' words (DESIGN §6).
    """
    group = group if group is not None else folium.FeatureGroup(name=name, control=False)
    n = len(points)
    fill = colours if isinstance(colours, pd.Series) else pd.Series([colours] * n,
                                                                    index=points.index)
    size = radius if isinstance(radius, pd.Series) else pd.Series([radius] * n,
                                                                 index=points.index)
    for idx, lat, lon in _labelled_lat_lon(points):
        tip = None
        if tooltips is not None and pd.notna(tooltips.get(idx)):
            tip = folium.Tooltip(_escape_lines(str(tooltips[idx])))
        folium.CircleMarker(location=[lat, lon],
                            radius=float(size[idx]), color="#ffffff", weight=1,
                            fill=True, fill_color=fill[idx], fill_opacity=fill_opacity,
                            tooltip=tip).add_to(group)
    return group


def circle_layer(centres: pd.DataFrame, *, radius_m: pd.Series, colours: pd.Series,
                 name: str = "circles", group: folium.FeatureGroup | None = None,
                 ) -> folium.FeatureGroup:
    """Return a feature group of metric circles (coverage areas), not interactive."""
    group = group if group is not None else folium.FeatureGroup(name=name, control=False)
    for idx, lat, lon in _labelled_lat_lon(centres):
        circle = folium.Circle(location=[lat, lon],
                               radius=float(radius_m[idx]), color=colours[idx], weight=1,
                               fill=True, fill_color=colours[idx], fill_opacity=0.12)
        # folium drops interactive=False for circles; without it a 3 km disc would take
        # every hover and click meant for the grids beneath.
        circle.options["interactive"] = False
        circle.add_to(group)
    return group


def image_layer(png: bytes, *, bounds: tuple[float, float, float, float], opacity: float = 0.7,
                name: str = "surface", group: folium.FeatureGroup | None = None,
                ) -> folium.FeatureGroup:
    """Return a feature group with a PNG drawn over ``bounds`` (a server-computed surface)."""
    group = group if group is not None else folium.FeatureGroup(name=name, control=False)
    minx, miny, maxx, maxy = bounds
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    folium.raster_layers.ImageOverlay(image=url, bounds=[[miny, minx], [maxy, maxx]],
                                      opacity=opacity, interactive=False,
                                      zindex=400).add_to(group)
    return group


def _labelled_lat_lon(frame: pd.DataFrame) -> list[tuple[Any, float, float]]:
    """Each row's index label with its ``lat`` and ``lon``, for label look-ups alongside."""
    return list(zip(frame.index.tolist(), map(float, frame["lat"].tolist()),
                    map(float, frame["lon"].tolist()), strict=True))


def _escape_lines(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def _plain_background(fmap: folium.Map, colour: str) -> None:
    # With no tile layer Leaflet shows its grey "tiles missing" backdrop; paint it plain.
    style = f"<style>.leaflet-container {{ background: {colour}; }}</style>"
    cast(Figure, fmap.get_root()).header.add_child(folium.Element(style))
