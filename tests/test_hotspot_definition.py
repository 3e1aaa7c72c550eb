"""One hot-spot definition: the page and the export (function and CLI) give the same hot grids.

A 12 × 12 lattice of 0.003° squares (about 290 × 330 m) in one community. RECENT disputes
were reported 5 days ago, a cluster of OLDER ones 60 days ago (inside the page's 90 days,
outside 30). With squares this small the 800 m band gives each grid about 20 neighbours
against Queen's 8, so Queen alone finds other hot grids: the test can tell the definitions
apart.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from tiny_city import C1, admin_units

from geo import cli, export
from geo import hotspots as hs
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from tests.pages import run_page

RECENT = np.array([
    [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1],
    [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 2, 1, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0],
    [0, 0, 0, 1, 2, 1, 1, 2, 0, 0, 0, 0],
    [0, 0, 1, 2, 1, 2, 1, 2, 0, 0, 0, 0],
    [0, 0, 0, 0, 2, 2, 0, 1, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0],
    [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
])
#: Three by three grids in the south-east corner, two disputes each, 60 days ago.
OLDER = [(r, c) for r in range(9, 12) for c in range(9, 12)]
SIDE = 12


def code(r: int, c: int) -> str:
    return f"{C1}{r * SIDE + c + 1:03d}"


def lattice() -> gpd.GeoDataFrame:
    step = 0.003
    xs = np.round(112.30 + np.arange(SIDE + 1) * step, 6)
    ys = np.round(28.60 - np.arange(SIDE + 1) * step, 6)
    cells = [(r, c) for r in range(SIDE) for c in range(SIDE)]
    return gpd.GeoDataFrame(
        {"code": [code(r, c) for r, c in cells],
         "name": [f"测试网格{r}-{c}" for r, c in cells],
         "community_code": C1, "population": 1000},
        geometry=[shapely.MultiPolygon([shapely.box(xs[c], ys[r + 1], xs[c + 1], ys[r])])
                  for r, c in cells], crs=4326)


def dispute(ext: str, r: int, c: int, reported: datetime) -> dict:
    return dict(external_id=ext, grid_code=code(r, c), outside_grid=False,
                lon=112.30 + 0.003 * (c + 0.5), lat=28.60 - 0.003 * (r + 0.5),
                source_crs="wgs84", source="miniprogram", category="dispute",
                severity="routine", route="government", status="in_progress",
                reported_at=reported, due_at=None, resolved_at=None, closed_at=None,
                satisfaction=None, description="邻里纠纷")


@pytest.fixture
def lattice_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'lattice.db'}"
    eng = store_engine.make_engine(url)
    now = datetime.utcnow().replace(microsecond=0)
    rows = [dispute(f"n{r}-{c}-{j}", r, c, now - timedelta(days=5, hours=j))
            for r in range(SIDE) for c in range(SIDE) for j in range(RECENT[r, c])]
    rows += [dispute(f"o{r}-{c}-{j}", r, c, now - timedelta(days=60, hours=j))
             for r, c in OLDER for j in range(2)]
    with store_engine.transaction(eng) as conn:
        store_requests.write_admin_units(conn, admin_units())
        store_requests.write_grids(conn, lattice())
        store_requests.bulk_insert_requests(conn, pd.DataFrame(rows))
    eng.dispose()
    return url


def _hot(geojson: bytes | str) -> tuple[set[str], dict]:
    feats = json.loads(geojson)["features"]
    props = [f["properties"] for f in feats]
    return {p["code"] for p in props if p["gi_bin"] > 0}, props[0]


def _page_hot(url: str) -> set[str]:
    at = run_page(url, "pages/hotspots.py")
    assert not at.exception
    tables = [df.value for df in at.dataframe if "编码" in df.value.columns]
    assert tables, "the page shows no hot-spot table"
    return set(tables[0]["编码"])


def test_the_page_and_the_export_find_the_same_hot_grids(lattice_url):
    page = _page_hot(lattice_url)
    eng = store_engine.make_engine(lattice_url)
    buf = io.BytesIO()
    result = export.export_layer(eng, layer="hotspots", fmt="geojson", path_or_buffer=buf)
    exported, props = _hot(buf.getvalue())
    assert page and exported == page
    # The window was the page's: 90 days up to the next full hour.
    assert result.until - result.since == timedelta(days=hs.DEFAULT.window_days)
    assert result.until == hs.DEFAULT.window_end(datetime.utcnow())
    assert props["weights"] == "queen+800m" and props["window_days"] == 90
    assert "800 m" in (result.definition or "")
    # Queen alone (the export before one definition) finds other grids on the same data.
    grids = lattice()
    counts = pd.Series(0, index=grids["code"])
    for r in range(SIDE):
        for c in range(SIDE):
            counts[code(r, c)] = RECENT[r, c]
    for r, c in OLDER:
        counts[code(r, c)] += 2
    queen = hs.dispute_hotspots(grids, counts)
    assert set(queen.loc[queen["gi_bin"] > 0, "code"]) != page
    assert set(hs.DEFAULT.hotspots(grids, counts).query("gi_bin > 0")["code"]) == page
    eng.dispose()


def test_cli_export_takes_the_pages_window_and_records_the_definition(lattice_url, tmp_path,
                                                                       capsys):
    out = tmp_path / "hot.geojson"
    assert cli.main(["--database", lattice_url, "export", "hotspots", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Queen contiguity plus grids within 800 m, 90 days" in printed
    assert "window " in printed and "+08:00" in printed
    hot, props = _hot(out.read_text(encoding="utf-8"))
    assert props["weights"] == "queen+800m" and props["window_days"] == 90
    assert props["p_value"] == "exact" and props["fdr"] is True
    # The OLDER cluster (60 days ago) is in the page's window, so it is hot here …
    assert {code(r, c) for r, c in OLDER} & hot
    # … and not in a 30-day export, which says so in its properties.
    last30 = tmp_path / "hot30.geojson"
    today = (datetime.utcnow() + timedelta(hours=8)).date()
    assert cli.main(["--database", lattice_url, "export", "hotspots", "-o", str(last30),
                     "--since", str(today - timedelta(days=29)), "--until", str(today)]) == 0
    hot30, props30 = _hot(last30.read_text(encoding="utf-8"))
    assert not {code(r, c) for r, c in OLDER} & hot30
    assert props30["window_days"] == 30 and props30["weights"] == "queen+800m"


def test_a_scan_with_no_cluster_filters_to_an_empty_frame_with_its_columns():
    # An empty object column used as a mask reads as a list of columns: "found" is typed.
    grids = gpd.GeoDataFrame({"code": ["A", "B"], "population": [100, 100]},
                             geometry=[shapely.box(112.30, 28.59, 112.31, 28.60),
                                       shapely.box(112.31, 28.59, 112.32, 28.60)], crs=4326)
    none = hs.DEFAULT.scan(grids, pd.Series([0, 0], index=["A", "B"]))
    assert none.empty and none["found"].dtype == bool
    assert list(none[none["found"]].columns) == list(none.columns)
