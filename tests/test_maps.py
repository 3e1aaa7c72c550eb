import geopandas as gpd
import shapely

from geo import maps


def _html(fmap) -> str:
    return fmap.get_root().render()


def test_offline_map_loads_only_local_assets(four_grids):
    fmap = maps.offline_map(bounds=tuple(four_grids.total_bounds))
    maps.grid_layer(four_grids).add_to(fmap)
    page = _html(fmap)
    assert "/app/static/vendor/leaflet/leaflet.js" in page
    for cdn in ("cdn.jsdelivr", "cdnjs.cloudflare", "code.jquery", "bootstrapcdn", "unpkg"):
        assert cdn not in page
    assert "tile.openstreetmap" not in page


def test_grid_names_are_escaped_in_tooltips():
    evil = gpd.GeoDataFrame({"code": ["430903003001001"],
                             "name": ["<img src=x onerror=alert(1)>"]},
                            geometry=[shapely.box(112.30, 28.56, 112.31, 28.57)], crs=4326)
    fmap = maps.offline_map(bounds=tuple(evil.total_bounds))
    maps.grid_layer(evil).add_to(fmap)
    page = _html(fmap)
    assert "<img src=x" not in page
    # Escaped once, then JSON-encoded into the page (& becomes \u0026).
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in page


def test_simplified_keeps_shared_edges(four_grids):
    out = maps.simplified(four_grids, tolerance_m=5).to_crs(32649)
    union = out.union_all()
    assert abs(union.area - out.area.sum()) < 1e-3  # m²: no overlaps created
    assert len(out) == 4
