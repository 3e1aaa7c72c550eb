"""What every benchmark row function gets: the dataset, the backend and the run count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import geopandas as gpd
from sqlalchemy.engine import Engine

from geo.store import engine as store_engine
from geo.store import requests as store_requests


@dataclass
class Ctx:
    """One dataset on one backend.

    ``sqlite`` is the dataset's SQLite file, also when ``url`` points at PostgreSQL: rows that
    need a running app or a file copy use it.
    """

    scale: str
    backend: str
    url: str
    sqlite: Path
    runs: int
    quick: bool = False
    log: Callable[[str], None] = print
    #: Wall refreshes of the memory soak (default 500; 20 with ``quick``).
    refreshes: int | None = None
    notes: list[str] = field(default_factory=list)

    @cached_property
    def engine(self) -> Engine:
        return store_engine.make_engine(self.url, upgrade=False)

    @cached_property
    def grids(self) -> gpd.GeoDataFrame:
        grids = store_requests.read_grids(self.engine)
        return grids[["code", "name", "community_code", "population", "geometry"]]

    @cached_property
    def label(self) -> str:
        counts = store_engine.table_counts(self.engine)
        return f"{self.scale} ({counts['grid']:,} grids, {counts['request']:,} requests)"

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
