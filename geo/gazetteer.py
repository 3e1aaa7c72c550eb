"""Place a free-text address on the map by the grid and admin-unit names it mentions.

Open311 lets a client send ``address_string`` instead of ``lat``/``long``. A phone without a
location fix still knows the resident wrote "石码头社区3栋楼下". There is no geocoding
service on the networks GridMap runs on, but the database already holds every grid's and
community's name and outline: the longest stored name found in the address wins, and the
request is placed at a point inside that grid or unit (``shapely.point_on_surface``).

A match on a grid name places the request in that grid. A match on a community, township
or county is only approximate, so the caller files the request for triage rather than in an
arbitrary grid of that unit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from geo.store import requests as store_requests

#: Names shorter than this are too likely to occur by chance inside other words.
MIN_NAME = 2
_TTL = 60.0
_lock = threading.Lock()
_cache: dict[str, tuple[int, float, Gazetteer]] = {}


@dataclass(frozen=True)
class Place:
    """Where an address was placed: ``level`` is ``grid`` or an admin level."""

    code: str
    name: str
    level: str
    lon: float
    lat: float


class Gazetteer:
    """Names of grids and admin units with a point inside each.

    Parameters
    ----------
    names : pandas.DataFrame
        ``code``, ``name``, ``level``, ``lon`` and ``lat``; a name held by several places
        is kept only at its most precise level and, there, only when it is unique.

    """

    _PRECISION = {"grid": 0, "community": 1, "township": 2, "county": 3, "city": 4}

    def __init__(self, names: pd.DataFrame) -> None:
        frame = names.dropna(subset=["name", "lon", "lat"]).copy()
        frame["name"] = frame["name"].astype(str).str.strip()
        frame = frame[frame["name"].str.len() >= MIN_NAME]
        frame["rank"] = frame["level"].map(self._PRECISION).fillna(9)
        frame = frame.sort_values(["rank", "code"], kind="stable")
        # "新村社区" exists in several townships: such a name says nothing about where.
        best = frame.groupby("name")["rank"].transform("min")
        frame = frame[frame["rank"] == best]
        frame = frame[~frame.duplicated("name", keep=False)]
        # Longest first, so "石码头社区第3网格" beats "石码头社区".
        order = frame["name"].str.len().sort_values(ascending=False, kind="stable").index
        best_first = frame.loc[order]
        self._places = [
            Place(str(code), str(name), str(level), float(lon), float(lat))
            for code, name, level, lon, lat in zip(
                best_first["code"].tolist(), best_first["name"].tolist(),
                best_first["level"].tolist(), best_first["lon"].tolist(),
                best_first["lat"].tolist(), strict=True)
        ]

    def __len__(self) -> int:
        return len(self._places)

    def find(self, address: str) -> Place | None:
        """Return the place of the longest known name in ``address``, or None."""
        text = (address or "").strip()
        if not text:
            return None
        # Places are built once and frozen, so the same one may be handed out again.
        return next((place for place in self._places if place.name in text), None)

    @classmethod
    def from_engine(cls, engine: Engine) -> Gazetteer:
        """Build from the stored grids and admin units (points inside their outlines)."""
        grids = store_requests.read_grids(engine)
        units = store_requests.read_admin_units(engine)
        parts = []
        for frame, level in ((grids, None), (units, "level")):
            if frame.empty:
                continue
            geoms = frame.geometry.to_numpy()
            has = ~shapely.is_missing(geoms)
            points = np.full(len(frame), None, dtype=object)
            points[has] = shapely.point_on_surface(geoms[has])
            parts.append(pd.DataFrame({
                "code": frame["code"].to_numpy(), "name": frame["name"].to_numpy(),
                "level": "grid" if level is None else frame[level].to_numpy(),
                "lon": [p.x if p is not None else np.nan for p in points],
                "lat": [p.y if p is not None else np.nan for p in points],
            }))
        names = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["code", "name", "level", "lon", "lat"])
        return cls(names)


def gazetteer(engine: Engine) -> Gazetteer:
    """Return a cached :class:`Gazetteer` of the database, rebuilt when the grids change."""
    key = engine.url.render_as_string(hide_password=False)
    count = store_requests.grid_count(engine)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == count and time.monotonic() - cached[1] < _TTL:
            return cached[2]
    found = Gazetteer.from_engine(engine)
    with _lock:
        _cache[key] = (count, time.monotonic(), found)
    return found


def clear_cache() -> None:
    """Forget every cached gazetteer (tests; after replacing grids)."""
    with _lock:
        _cache.clear()
