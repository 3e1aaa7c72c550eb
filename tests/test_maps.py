import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo import assets, maps


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


def test_grid_canvas_loads_its_script_after_leaflet_and_passes_its_palette_as_data(four_grids):
    fmap = maps.offline_map(bounds=tuple(four_grids.total_bounds))
    maps.GridCanvas(url="/app/static/cache/grids-x.json", file_id="x", dark=True).add_to(fmap)
    page = _html(fmap)
    leaflet = page.index("/app/static/vendor/leaflet/leaflet.js")
    script = page.index("/app/static/gridmap/gridcanvas.js")
    assert leaflet < script
    assert assets.GRIDCANVAS_FILE.is_file()
    assert "GridMapCanvas" in assets.GRIDCANVAS_FILE.read_text(encoding="utf-8")
    # The drawing code is in the file; the page only calls it with data.
    assert "L.featureGroup" not in page
    options = maps.canvas_options(url="/app/static/cache/grids-x.json", file_id="x", dark=True)
    assert options["palette"] == maps.CANVAS_PALETTE["dark"]
    assert options["noData"] == maps.NO_DATA and options["version"] == maps.PACK_VERSION
    assert json.dumps(options["palette"], sort_keys=True) in page


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


def test_class_breaks_are_quantiles_of_the_non_zero_grids():
    # A hundred empty grids do not pull the breaks down: the places that have something
    # are split into four classes of four.
    values = pd.Series([0] * 100 + list(range(1, 17)))
    limits = maps.class_breaks(values, k=5)
    assert limits == [0.0, 4.0, 8.0, 12.0]
    assert np.bincount(maps.classify(values, limits)).tolist() == [100, 4, 4, 4, 4]


def test_tied_small_counts_still_give_the_busiest_places_a_class():
    # Most grids have 1 or 2: the quantiles tie, and the top class is split again.
    values = pd.Series([0] * 50 + [1] * 30 + [2] * 10 + [3, 4, 5, 9, 12])
    limits = maps.class_breaks(values, k=5)
    assert limits == [0.0, 1.0, 2.0, 5.0]
    cls = maps.classify(values, limits)
    assert values[cls == 4].tolist() == [9, 12]


def test_the_zero_class_holds_only_zeros():
    # No grid without requests: still none of them in the "none" colour.
    assert maps.class_breaks(pd.Series([1, 1, 1]), k=5) == [0.0]
    assert maps.classify(pd.Series([1, 1, 1]), [0.0]).tolist() == [1, 1, 1]
    assert maps.class_breaks(pd.Series([0, 1, 2]), k=5) == [0.0, 1.0]


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


def _membership(codes):
    """UnitHierarchy.grids for grid codes that nest by prefix (6/9/12/15 digits)."""
    idx = pd.Index(codes)
    return pd.DataFrame({"county": idx.str[:6], "township": idx.str[:9],
                         "community": idx.str[:12]}, index=idx)


# Two counties; the first has two townships of 2 + 1 grids, the second one grid.
TINY = _membership(["430902001001001", "430902001001002", "430902002001001",
                    "430903001001001"])


def test_map_level_sends_every_grid_when_they_fit():
    assert maps.map_level(TINY, limit=4) == ("grid", None)
    assert maps.map_level(TINY, area="430902001", limit=4) == ("grid", None)


def test_map_level_falls_back_to_units_then_to_the_largest_area_that_fits():
    # Whole area: 4 grids > 3, 3 communities fit.
    assert maps.map_level(TINY, limit=3) == ("community", None)
    # 3 townships do not fit in 2: the 2 counties do.
    assert maps.map_level(TINY, limit=2) == ("county", None)
    # Nothing fits: the counties, the coarsest there is.
    assert maps.map_level(TINY, limit=1) == ("county", None)
    # A township's view sends its whole county when the county fits...
    assert maps.map_level(TINY, area="430902001", limit=3) == ("grid", "430902")
    # ...and only itself when it does not.
    assert maps.map_level(TINY, area="430902001", limit=2) == ("grid", "430902001")
    # A grid's view (the detail page) sends its county's grids.
    assert maps.map_level(TINY, area="430902002001001", limit=3) == ("grid", "430902")
    # A county too big for its grids goes as its communities.
    assert maps.map_level(TINY, area="430902", limit=2) == ("community", "430902")


def test_map_shapes_draws_units_from_outlines_or_from_their_grids():
    grids = gpd.GeoDataFrame(
        {"code": list(TINY.index), "name": ["a", "b", "c", "d"]},
        geometry=[shapely.box(i, 0, i + 1, 1) for i in range(4)], crs=4326)
    # Only one township has a stored outline; the other is the union of its grids.
    units = gpd.GeoDataFrame({"code": ["430902001", "430902002"], "name": ["甲镇", "乙镇"]},
                             geometry=[shapely.box(0, 0, 2, 1), None], crs=4326)
    shapes = maps.map_shapes(maps.MapChoice("township", "430902"), grids=grids, units=units,
                             membership=TINY)
    assert list(shapes.code) == ["430902001", "430902002"]
    assert list(shapes.name) == ["甲镇", "乙镇"]
    assert shapes.geometry.iloc[1].equals(shapely.box(2, 0, 3, 1))
    grid_shapes = maps.map_shapes(maps.MapChoice("grid", "430902001"), grids=grids, units=units,
                                  membership=TINY)
    assert list(grid_shapes.code) == ["430902001001001", "430902001001002"]


def test_map_level_keeps_the_province_under_the_polygon_limit():
    from geo.province import build_province_grids

    _units, grids = build_province_grids()
    membership = _membership(grids.code)
    assert len(grids) == 60_000
    assert maps.map_level(membership) == ("community", None)
    assert membership["community"].nunique() == 3_000
    # One county filtered, or one of its townships: that county's 6,000 grids.
    assert maps.map_level(membership, area="990100") == ("grid", "990100")
    assert maps.map_level(membership, area="990100001") == ("grid", "990100")


def test_a_clicked_tooltip_gives_back_its_code_even_after_a_name_ending_in_digits():
    # A click returns the tooltip as plain text: no line breaks between name and code.
    mark = maps.CODE_MARK
    text = f"社区990100001001{mark}990100001001{mark}近7天诉求：1,032"
    assert maps.CODE_IN_TOOLTIP.search(text).group(1) == "990100001001"
    assert maps.CODE_IN_TOOLTIP.search("网格12 430903003001001") is None
