"""Folium maps built from GeoDataFrames, with every browser asset served locally.

folium's default page loads Leaflet, jQuery and Bootstrap from CDNs; on an isolated network
one unreachable script blanks the whole map (DESIGN §6). Every map made here swaps those for
Leaflet from ``static/`` and nothing else. There is no tile layer unless one is configured:
the real county outlines are the base map.
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np
import shapely

from geo.assets import LEAFLET_CSS, LEAFLET_JS
from geo.coords import metric_crs

#: Stroke and fill used for the placeholder grid layer.
GRID_STYLE = {"color": "#5c6bc0", "weight": 0.6, "fillColor": "#c5cae9", "fillOpacity": 0.55}
OUTLINE_STYLE = {"color": "#37474f", "weight": 2.0, "fill": False}


def offline_map(*, bounds: tuple[float, float, float, float], tiles_url: str | None = None,
                attribution: str | None = None, background: str = "#f5f7fa") -> folium.Map:
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

    """
    minx, miny, maxx, maxy = bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9,
                      tiles=None, prefer_canvas=True, control_scale=True)
    # Instance attributes shadow folium's class-level CDN lists for this map only.
    fmap.default_js = [("leaflet", LEAFLET_JS)]
    fmap.default_css = [("leaflet_css", LEAFLET_CSS)]
    _plain_background(fmap, background)
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr=attribution or "tiles", name="base").add_to(fmap)
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
    back = gpd.GeoSeries(simple, crs=crs, index=gdf.index).to_crs(gdf.crs)
    back = back.set_precision(10 ** -precision)
    return gdf.set_geometry(back.values)


def grid_layer(grids: gpd.GeoDataFrame, *, name: str = "grids",
               tooltip_fields: tuple[str, ...] = ("name", "code"),
               tooltip_aliases: tuple[str, ...] | None = None) -> folium.FeatureGroup:
    """Return a feature group with the grid polygons and a name/code tooltip."""
    group = folium.FeatureGroup(name=name)
    data = grids[[*tooltip_fields, grids.geometry.name]].copy()
    # Leaflet puts tooltip text in as HTML; imported names are untrusted (DESIGN §6).
    for field in tooltip_fields:
        data[field] = data[field].map(lambda v: html.escape(str(v)) if v is not None else "")
    folium.GeoJson(
        data.to_json(drop_id=True),
        style_function=lambda _f: GRID_STYLE,
        tooltip=folium.GeoJsonTooltip(fields=list(tooltip_fields),
                                      aliases=list(tooltip_aliases or tooltip_fields)),
    ).add_to(group)
    return group


def outline_layer(outlines: gpd.GeoDataFrame, *, name: str = "outlines") -> folium.FeatureGroup:
    """Return a feature group with admin outlines drawn as lines only."""
    group = folium.FeatureGroup(name=name)
    # Not interactive: on a canvas the outlines would otherwise swallow the hover and clicks
    # meant for the grids underneath.
    folium.GeoJson(outlines[[outlines.geometry.name]].to_json(drop_id=True),
                   style_function=lambda _f: OUTLINE_STYLE, interactive=False).add_to(group)
    return group


def _plain_background(fmap: folium.Map, colour: str) -> None:
    # With no tile layer Leaflet shows its grey "tiles missing" backdrop; paint it plain.
    style = f"<style>.leaflet-container {{ background: {colour}; }}</style>"
    fmap.get_root().header.add_child(folium.Element(style))
