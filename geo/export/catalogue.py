"""What can be exported and what an export returns; the layer data passed to the writers.

The catalogue of formats (:data:`FORMATS`) and layers (:data:`LAYERS`), the fields kept for
admins (:data:`PERSONAL_FIELDS`), an export's result and area, and the two things the layer
builders (:mod:`geo.export.layers`) hand to the writers (:mod:`geo.export.writers`): a
:class:`LayerData` and a :class:`Reporter`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "CHUNK_ROWS",
    "FORMATS",
    "LAYERS",
    "PERSONAL_FIELDS",
    "Area",
    "ExportResult",
    "FormatInfo",
    "LayerData",
    "LayerInfo",
    "Progress",
    "Reporter",
    "check_format",
    "export_layers",
    "split",
]


Progress = Callable[[float, str], None]

#: Rows read and written per chunk: bounds memory and paces progress reports.
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class FormatInfo:
    """One output format.

    Attributes
    ----------
    key : str
        ``geojson``, ``gpkg`` or ``csv``.
    name : str
        What users call it.
    extension : str
        File name extension, with the dot.
    media_type : str
        MIME type, e.g. for a download button.

    """

    key: str
    name: str
    extension: str
    media_type: str


FORMATS: dict[str, FormatInfo] = {
    "geojson": FormatInfo("geojson", "GeoJSON", ".geojson", "application/geo+json"),
    "gpkg": FormatInfo("gpkg", "GeoPackage", ".gpkg", "application/geopackage+sqlite3"),
    "csv": FormatInfo("csv", "CSV", ".csv", "text/csv"),
}


@dataclass(frozen=True)
class LayerInfo:
    """One exportable layer.

    Attributes
    ----------
    key : str
        Identifier, also the GeoPackage layer name.
    name_zh, name_en : str
        Display names.
    geometry : {"polygon", "point"}
        Geometry of its features.
    formats : tuple of str
        Keys of :data:`FORMATS` it can be written in.
    window : {"reported", "month", None}
        What ``since``/``until`` select: requests by report time, a bulletin month, or
        nothing.
    personal_fields : tuple of str
        Fields written only with ``personal=True``.

    """

    key: str
    name_zh: str
    name_en: str
    geometry: str
    formats: tuple[str, ...]
    window: str | None
    personal_fields: tuple[str, ...] = ()


_ALL = tuple(FORMATS)

#: Fields exported only on an admin's explicit request (DESIGN §8).
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "grids": ("head_name", "head_phone"),
    "requests": ("reporter_name", "reporter_phone"),
}

LAYERS: dict[str, LayerInfo] = {info.key: info for info in (
    LayerInfo("grids", "网格", "Grids", "polygon", _ALL, "reported", PERSONAL_FIELDS["grids"]),
    LayerInfo("requests", "诉求", "Requests", "point", _ALL, "reported",
              PERSONAL_FIELDS["requests"]),
    LayerInfo("stations", "警务站点", "Police stations", "point", _ALL, None),
    LayerInfo("coverage", "警务覆盖（按网格）", "Police coverage per grid", "polygon", _ALL,
              "reported"),
    LayerInfo("coverage_areas", "警务覆盖范围", "Station coverage areas", "polygon", _ALL, None),
    LayerInfo("hotspots", "矛盾纠纷热点", "Dispute hotspots", "polygon", _ALL, "reported"),
    LayerInfo("claims", "解忧联盟认领（按网格）", "Alliance claims per grid", "polygon", _ALL,
              "reported"),
    LayerInfo("bulletin", "月度通报", "Monthly bulletin", "polygon", _ALL, "month"),
)}


def export_layers() -> list[LayerInfo]:
    """Return the exportable layers in display order (see the module docstring)."""
    return list(LAYERS.values())


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_layer` wrote.

    Attributes
    ----------
    rows : int
        Features (or CSV rows) written.
    path : str or None
        The file written; None for a file-like object.
    format, layer : str
        Keys of :data:`FORMATS` and :data:`LAYERS`.
    seconds : float
        Wall time of the whole export.
    area : str or None
        The area code, None for everything.
    since, until : datetime or None
        The window used (naive UTC); for the bulletin, its month's bounds.
    columns : tuple of str
        The attribute fields, in order (without the geometry).
    definition : str or None
        For hot spots, the definition used (:meth:`geo.hotspots.HotspotDefinition.describe`).

    """

    rows: int
    path: str | None
    format: str
    layer: str
    seconds: float
    area: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    columns: tuple[str, ...] = field(default=())
    definition: str | None = None


class Area(NamedTuple):
    """An export area resolved against the stored grids and admin units.

    Attributes
    ----------
    code : str or None
        The code given; None for everything.
    level : str
        ``"all"``, ``"grid"`` or the admin level of the unit.
    name : str or None
        The grid's or unit's name.
    grids : pandas.Index or None
        Codes of the grids in the area; None when nothing is left out (no area, or the
        only city), so requests outside every grid still count.

    """

    code: str | None
    level: str
    name: str | None
    grids: pd.Index | None


def check_format(info: LayerInfo, fmt: str) -> str:
    """Return the key of ``fmt`` (``json`` and ``geopackage`` accepted) for layer ``info``.

    Raises
    ------
    ValueError
        The layer cannot be written in this format.

    """
    key = str(fmt).strip().lower().lstrip(".")
    key = {"json": "geojson", "geopackage": "gpkg"}.get(key, key)
    if key not in info.formats:
        raise ValueError(f"layer {info.key!r} cannot be exported as {fmt!r}; "
                         f"choose {', '.join(info.formats)}")
    return key


# --------------------------------------------------------------------------- layer data


@dataclass
class LayerData:
    """A layer ready to write: its schema and its rows, chunk by chunk.

    ``schema`` lists (field, kind) with kind one of str, int, float, bool, datetime
    (naive UTC). ``chunks`` yields (attributes, geometries) with geometries in EPSG:4326
    (an object array, None where missing). ``total`` is the expected row count, for
    progress. ``geometry_type`` is the GeoPackage layer's; ``csv_geometry`` says whether
    the CSV gets a ``wkt`` column (not for points, which have lon/lat, nor the bulletin).
    """

    key: str
    schema: list[tuple[str, str]]
    chunks: Iterable[tuple[pd.DataFrame, np.ndarray]]
    total: int
    geometry_type: str
    csv_geometry: bool = True


def split(frame: pd.DataFrame, geoms: np.ndarray, rows: int
          ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield ``frame`` and its geometries ``rows`` at a time."""
    for begin in range(0, len(frame), rows):
        yield frame.iloc[begin:begin + rows], geoms[begin:begin + rows]


# --------------------------------------------------------------------------- progress


class Reporter:
    """Forward progress to the caller's callback, fraction clamped to [0, 1]."""

    #: Share of the bar for reading and computing before the first row is written.
    COMPUTE = 0.05

    def __init__(self, callback: Progress | None, info: LayerInfo) -> None:
        self.callback = callback
        self.label = info.name_zh

    def __call__(self, fraction: float, message: str) -> None:
        """Report ``fraction`` done with ``message``, prefixed by the layer's name."""
        if self.callback is not None:
            self.callback(min(max(float(fraction), 0.0), 1.0), f"{self.label}：{message}")

    def written(self, rows: int, total: int) -> None:
        """Report ``rows`` of about ``total`` written (the bar's share after computing)."""
        share = rows / total if total else 1.0
        self(self.COMPUTE + (1 - self.COMPUTE) * min(share, 1.0),
             f"已写入 {rows:,}/{max(total, rows):,} 行")
