import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import maps


def _html(fmap) -> str:
    return fmap.get_root().render()


def test_offline_map_loads_only_local_assets(four_grids):
    fmap = maps.offline_map(bounds=tuple(four_grids.total_bounds))
    maps.GridCanvas(url="/app/static/cache/grids-x.json", file_id="x").add_to(fmap)
    maps.outline_layer(four_grids).add_to(fmap)
    page = _html(fmap)
    assert "/app/static/vendor/leaflet/leaflet.js" in page
    for cdn in ("cdn.jsdelivr", "cdnjs.cloudflare", "code.jquery", "bootstrapcdn", "unpkg"):
        assert cdn not in page
    assert "tile.openstreetmap" not in page
    assert '"/app/static/cache/grids-x.json"' in page


def test_pack_grids_round_trips_to_5_decimals(four_grids):
    body, file_id = maps.pack_grids(four_grids)
    doc = json.loads(body)
    assert doc["codes"] == list(four_grids["code"])
    assert doc["names"] == list(four_grids["name"])
    assert len(file_id) == 12
    # Decode as the browser does: one running cursor over every ring.
    x = y = 0
    decoded = []
    for polys in doc["shapes"]:
        rings = []
        for ring in polys[0]:
            pts = []
            for dx, dy in zip(ring[::2], ring[1::2], strict=True):
                x += dx
                y += dy
                pts.append((x / doc["scale"], y / doc["scale"]))
            rings.append(pts)
        decoded.append(shapely.Polygon(rings[0]))
    for got, want in zip(decoded, four_grids.geometry, strict=True):
        assert got.symmetric_difference(want).area < 1e-9
    # Same content, same id; different content, different id.
    assert maps.pack_grids(four_grids)[1] == file_id
    moved = four_grids.copy()
    moved.loc[0, "name"] = "别的名字"
    assert maps.pack_grids(moved)[1] != file_id


def test_pack_grids_is_smaller_than_geojson(four_grids):
    body, _ = maps.pack_grids(four_grids)
    assert len(body) < len(four_grids.to_json().encode())


def test_grid_style_encodes_classes_outside_and_missing(four_grids):
    codes = pd.Index(four_grids["code"])
    classes = pd.Series([0, 2, -1], index=codes[:3])  # the fourth grid is outside the area
    values = pd.Series(["0", "12", "—"], index=codes[:3])
    group = maps.grid_style(codes, file_id="abc", classes=classes, colours=["#a", "#b", "#c"],
                            values=values, label="近7天诉求", selected=codes[1],
                            fit=(112.3, 28.55, 112.32, 28.57), fit_key="430903")
    style = next(iter(group._children.values()))
    p = style.payload
    assert p["classes"] == "02- "
    assert p["values"] == ["0", "12", "—", ""]
    assert p["selected"] == 1
    assert p["fit"] == [[28.55, 112.3], [28.57, 112.32]]
    assert p["file"] == "abc"


def test_grid_style_refuses_a_class_without_colour(four_grids):
    codes = pd.Index(four_grids["code"])
    with pytest.raises(ValueError, match="no colour"):
        maps.grid_style(codes, file_id="x", classes=pd.Series([5], index=codes[:1]),
                        colours=["#a"])


def test_style_payload_escapes_script_endings(four_grids):
    codes = pd.Index(four_grids["code"])
    group = maps.grid_style(codes, file_id="x", classes=pd.Series([0], index=codes[:1]),
                            colours=["#a"], label="</script><script>alert(1)</script>")
    fmap = maps.offline_map(bounds=tuple(four_grids.total_bounds))
    group.add_to(fmap)
    assert "</script><script>alert(1)" not in _html(fmap)


def test_class_breaks_give_zero_its_own_class():
    values = pd.Series([0, 0, 0, 1, 2, 3, 5, 8, 13, 40, np.nan])
    limits = maps.class_breaks(values, k=5)
    assert limits[0] == 0
    assert limits == sorted(set(limits))
    cls = maps.classify(values, limits)
    assert list(cls[:3]) == [0, 0, 0]
    assert cls[-1] == -1
    assert cls[9] == len(limits)  # the largest value is in the top class


def test_class_breaks_of_nothing():
    assert maps.class_breaks(pd.Series([np.nan, np.nan])) == []
    assert maps.class_breaks(pd.Series([0, 0])) == [0.0]


def test_point_layer_escapes_tooltips():
    pts = pd.DataFrame({"lon": [112.3], "lat": [28.56]})
    group = maps.point_layer(pts, tooltips=pd.Series(["<img src=x onerror=alert(1)>"]))
    fmap = maps.offline_map(bounds=(112.2, 28.5, 112.4, 28.6))
    group.add_to(fmap)
    page = _html(fmap)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_simplified_keeps_shared_edges(four_grids):
    out = maps.simplified(four_grids, tolerance_m=5).to_crs(32649)
    union = out.union_all()
    assert abs(union.area - out.area.sum()) < 1e-3  # m²: no overlaps created
    assert len(out) == 4


def test_evil_names_stay_data_in_the_packed_file():
    evil = gpd.GeoDataFrame({"code": ["430903003001001"],
                             "name": ["<img src=x onerror=alert(1)>"]},
                            geometry=[shapely.box(112.30, 28.56, 112.31, 28.57)], crs=4326)
    body, _ = maps.pack_grids(evil)
    # The name travels as JSON data; the browser escapes it (gm.esc) when it builds tooltips.
    assert json.loads(body)["names"] == ["<img src=x onerror=alert(1)>"]


def test_map_level_keeps_the_province_under_the_polygon_limit():
    from geo.province import build_province_grids

    units, grids = build_province_grids()
    level, shown = maps.map_level(grids, units)
    assert len(grids) == 60_000
    assert level == "community" and len(shown) == 3_000
    # One county filtered: its own grids, none of the neighbours'.
    level, shown = maps.map_level(grids, units, area="990100")
    assert level == "grid" and len(shown) == 6_000
    assert shown.code.str.startswith("990100").all()
    # A tighter limit falls back to coarser units.
    level, shown = maps.map_level(grids, units, limit=100)
    assert level == "county" and len(shown) == 10
