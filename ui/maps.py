"""Map widget glue: builds the folium maps the pages show from cached data."""

from __future__ import annotations

import folium

from geo import maps
from ui import data


def overview_map() -> folium.Map:
    """All grids over the county outlines, no tiles, nothing loaded from outside."""
    grids = data.map_grids()
    outlines = data.county_outlines()
    fmap = maps.offline_map(bounds=tuple(outlines.total_bounds))
    maps.grid_layer(grids, tooltip_aliases=("网格", "编码")).add_to(fmap)
    maps.outline_layer(outlines).add_to(fmap)
    return fmap
