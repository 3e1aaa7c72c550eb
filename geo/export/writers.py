"""The file writers: values conformed to each field's type, GeoJSON, CSV and GeoPackage.

A writer takes a :class:`~geo.export.catalogue.LayerData` and writes it, chunk by chunk, to
a :class:`Target` (a path, through a temporary file renamed when complete, or a buffer);
:data:`WRITERS` maps each format key to its writer. The formats' rules (RFC 7946 rings and
rounding, CSV for Excel, GeoPackage layers) are described in :mod:`geo.export`.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import clock
from geo.export.catalogue import LayerData, Reporter, field_alias, split
from geo.store import schema as store_schema

__all__ = ["DECIMALS", "GPKG_VERSION", "REPAIRED", "TEXT_BATCH_ROWS", "WRITERS", "Target",
           "decimals", "prepare", "repair"]

#: Decimals of GeoJSON and WKT coordinates (1e-6° is about 0.1 m).
DECIMALS = 6

#: GeoPackage version written: 1.2 is read in full by GDAL 2.2 and later (QGIS LTR builds
#: with GDAL 3.6 warn that the 1.4 GDAL writes by default "may only be partially supported").
GPKG_VERSION = "1.2"

#: The flag field of polygon layers: True where the stored geometry was invalid (a
#: self-intersecting ring, say) and is written repaired.
REPAIRED = "geometry_repaired"

#: Decimals kept of float fields, by name; :func:`decimals` has the rules for the rest.
_FIELD_DECIMALS = {
    "lon": DECIMALS, "lat": DECIMALS,
    "gi_p": 6,  # p-values down to 1e-6 decide the FDR classes
    "requests_per_1k": 2, "score": 2, "median_hours_to_claim": 1,
}

# --------------------------------------------------------------------------- precision


def decimals(name: str) -> int:
    """Decimals a float field is rounded to on export.

    Areas in km² keep 4 (100 m²), rates and shares 3 (0.1 %), metres and estimated counts 1,
    coordinates 6 (about 0.1 m); anything else 4. More digits than that are noise of the
    computation, not information (an area_km2 of 0.04721803676017894).
    """
    if name in _FIELD_DECIMALS:
        return _FIELD_DECIMALS[name]
    if name.endswith("_km2"):
        return 4
    if name.endswith(("_rate", "_share")):
        return 3
    if name.endswith(("_m", "_population", "_requests")):
        return 1
    return 4


# --------------------------------------------------------------------------- geometry


def repair(geoms: np.ndarray, *, multi: bool) -> tuple[np.ndarray, np.ndarray]:
    """Make invalid polygons valid, keeping their polygonal parts.

    Returns the geometries (a copy where any changed) and a mask of those repaired.
    ``shapely.make_valid`` with the "structure" method keeps polygonal input polygonal (a
    bow-tie becomes its two triangles); any stray lines or points are dropped, and with
    ``multi`` a single polygon is written as a MultiPolygon, as the layer's type says.
    """
    geoms = np.asarray(geoms, dtype=object)
    bad = ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
    if not bad.any():
        return geoms, bad
    fixed = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    out = geoms.copy()
    out[bad] = [_polygonal(g, multi=multi) for g in fixed]
    return out, bad


def _polygonal(geom, *, multi: bool):
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    if not multi and len(polys) == 1:
        return polys[0]
    return shapely.MultiPolygon(polys)


def prepare(data: LayerData, *, fmt: str) -> LayerData:
    """Repair the invalid geometries of a polygon layer and flag them in :data:`REPAIRED`.

    Layers of points, and the CSV of a layer written without geometry, pass unchanged.
    The count of repaired features is kept in the returned layer's ``repaired``.
    """
    if "Polygon" not in data.geometry_type or (fmt == "csv" and not data.csv_geometry):
        return data
    out = LayerData(data.key, [*data.schema, (REPAIRED, "bool")], [], data.total,
                    data.geometry_type, data.csv_geometry)
    multi = data.geometry_type.startswith("Multi")

    def chunks() -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        for attrs, geoms in data.chunks:
            fixed, bad = repair(geoms, multi=multi)
            out.repaired += int(bad.sum())
            yield attrs.assign(**{REPAIRED: bad}), fixed

    out.chunks = chunks()
    return out


# --------------------------------------------------------------------------- values


def _conform(frame: pd.DataFrame, schema: list[tuple[str, str]]) -> pd.DataFrame:
    """Give every field its declared type, so all chunks agree (an all-null chunk too)."""
    out = {}
    for name, kind in schema:
        s = (frame[name] if name in frame.columns
             else pd.Series(None, index=frame.index, dtype=object))
        if kind == "str":
            s = s.astype(object).where(s.notna(), None)
            s = s.map(lambda v: v if v is None or isinstance(v, str) else str(v))
        elif kind == "int":
            s = pd.to_numeric(s, errors="coerce").round().astype("Int64")
        elif kind == "float":
            s = pd.to_numeric(s, errors="coerce").astype("float64").round(decimals(name))
        elif kind == "bool":
            s = s.astype(object).where(s.notna(), None).astype("boolean")
        elif kind == "datetime":
            s = pd.to_datetime(s)
            if s.dt.tz is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        out[name] = s.reset_index(drop=True)
    # Positional from here on: the geometries of a chunk are a plain array.
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _as_text_values(frame: pd.DataFrame, schema: list[tuple[str, str]]) -> pd.DataFrame:
    out = frame.copy()
    for name, kind in schema:
        if kind == "datetime":
            out[name] = clock.iso_local_series(frame[name])
    return out


def _plain(values: list) -> list:
    """Python values for JSON: NA and NaN become None."""
    return [None if v is pd.NA or v is None or (isinstance(v, float) and v != v) else v
            for v in values]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _orient(geoms: np.ndarray) -> np.ndarray:
    """Exterior rings counterclockwise, holes clockwise (RFC 7946 §3.1.6)."""
    if hasattr(shapely, "orient_polygons"):  # shapely >= 2.1
        return shapely.orient_polygons(geoms, exterior_cw=False)
    from shapely.geometry.polygon import orient

    def one(g):
        if g is None or g.is_empty:
            return g
        if g.geom_type == "Polygon":
            return orient(g, 1.0)
        if g.geom_type == "MultiPolygon":
            return shapely.MultiPolygon([orient(p, 1.0) for p in g.geoms])
        return g

    return np.array([one(g) for g in geoms], dtype=object)


def _rounded(geoms: np.ndarray) -> np.ndarray:
    """Coordinates rounded to :data:`DECIMALS`, in 2D, then rings oriented.

    Rounding goes first so that the orientation is that of the coordinates written.
    """
    geoms = shapely.transform(np.asarray(geoms, dtype=object),
                              lambda xy: np.round(xy, DECIMALS))
    return _orient(geoms)


def _rings(polygon) -> list:
    return [shapely.get_coordinates(ring).tolist()
            for ring in (polygon.exterior, *polygon.interiors)]


def _round_nested(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_round_nested(v) for v in value]
    if isinstance(value, float):
        return round(value, DECIMALS)
    return value


def _geojson_geometry(geom) -> dict | None:
    """Return the GeoJSON geometry object of a rounded, oriented shapely geometry."""
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if kind == "Point":
        return {"type": "Point", "coordinates": [geom.x, geom.y]}
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": _rings(geom)}
    if kind == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [_rings(p) for p in geom.geoms]}
    # No layer writes other types; kept general all the same.
    return _geojson_mapping(shapely.geometry.mapping(geom))


def _geojson_mapping(mapped: dict) -> dict:
    if "geometries" in mapped:
        return {"type": mapped["type"],
                "geometries": [_geojson_mapping(g) for g in mapped["geometries"]]}
    return {"type": mapped["type"], "coordinates": _round_nested(mapped["coordinates"])}


# --------------------------------------------------------------------------- targets


class Target:
    """Where the export goes: a path (via a temporary file renamed at the end) or a buffer."""

    def __init__(self, path_or_buffer: str | os.PathLike | IO, fmt: str) -> None:
        self.fmt = fmt
        self.buffer: IO | None = None
        self.path: Path | None = None
        self.name: str | None = None
        self.tmp: Path | None = None
        self._stream: IO | None = None
        if isinstance(path_or_buffer, str | os.PathLike):
            self.path = Path(path_or_buffer)
            self.name = str(self.path)
            if self.path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "Is a directory", str(self.path))
            suffix = ".part.gpkg" if fmt == "gpkg" else ".part"
            self.tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}{suffix}")
            # Open now: an unwritable path fails before anything is computed. The error names
            # the path asked for, not the temporary file.
            try:
                with open(self.tmp, "wb"):
                    pass
            except OSError as exc:
                raise type(exc)(exc.errno, exc.strerror, str(self.path)) from None
            if fmt == "gpkg":
                self.tmp.unlink()
                if self.path.exists():
                    try:
                        shutil.copyfile(self.path, self.tmp)
                    except BaseException:
                        self.tmp.unlink(missing_ok=True)
                        raise
        elif hasattr(path_or_buffer, "write"):
            self.buffer = path_or_buffer
            if fmt == "gpkg":
                if isinstance(path_or_buffer, io.TextIOBase):
                    raise ValueError("a GeoPackage is binary: pass a path or a binary buffer")
                handle, name = tempfile.mkstemp(suffix=".gpkg")
                os.close(handle)
                self.tmp = Path(name)
                held = path_or_buffer.getvalue() if hasattr(path_or_buffer, "getvalue") else b""
                if held[:16] == b"SQLite format 3\x00":
                    self.tmp.write_bytes(held)
                else:
                    self.tmp.unlink()
        else:
            raise TypeError("path_or_buffer must be a path or a writable file-like object")

    def write(self, text: str) -> None:
        """Write text (GeoJSON, CSV): UTF-8 to files and binary buffers."""
        if self._stream is None:
            if self.buffer is not None:
                self._stream = self.buffer
            else:
                assert self.tmp is not None  # a path is written through its temporary file
                self._stream = open(self.tmp, "wb")  # noqa: SIM115 closed in commit/abort
        if isinstance(self._stream, io.TextIOBase):
            self._stream.write(text)
        else:
            self._stream.write(text.encode("utf-8"))

    def commit(self) -> None:
        """Finish: close and rename the file, or copy a GeoPackage into the buffer."""
        if self._stream is not None and self._stream is not self.buffer:
            self._stream.close()
        self._stream = None
        if self.path is not None:
            assert self.tmp is not None  # set with the path
            os.replace(self.tmp, self.path)
        elif self.fmt == "gpkg":
            assert self.tmp is not None and self.buffer is not None  # set for a gpkg buffer
            data = self.tmp.read_bytes()
            self.tmp.unlink()
            if hasattr(self.buffer, "truncate") and hasattr(self.buffer, "seek"):
                self.buffer.seek(0)
                self.buffer.truncate()
            self.buffer.write(data)

    def abort(self) -> None:
        """Remove the temporary file; leave the target as it was."""
        if self._stream is not None and self._stream is not self.buffer:
            self._stream.close()
        self._stream = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)

    def gpkg_path(self) -> str:
        """Return the GeoPackage file that the writer fills (the temporary copy)."""
        return str(self.tmp)


# --------------------------------------------------------------------------- writers


#: Rows formatted as text at a time: a feature's JSON text takes a few kB of memory, so a
#: whole 50,000-row chunk at once would hold hundreds of MB.
TEXT_BATCH_ROWS = 5_000


def _batches(chunks: Iterable[tuple[pd.DataFrame, np.ndarray]]
             ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    for attrs, geoms in chunks:
        yield from split(attrs, np.asarray(geoms, dtype=object), TEXT_BATCH_ROWS)


def _write_geojson(data: LayerData, target: Target, report: Reporter) -> int:
    target.write(f'{{"type":"FeatureCollection","name":{json.dumps(data.key)},"features":[')
    names = [name for name, _ in data.schema]
    rows = 0
    for attrs, geoms in _batches(data.chunks):
        frame = _as_text_values(_conform(attrs, data.schema), data.schema)
        columns = [_plain(frame[name].tolist()) for name in names]
        shapes = [_geojson_geometry(g) for g in _rounded(geoms)]
        features = []
        for i, shape in enumerate(shapes):
            props = {name: col[i] for name, col in zip(names, columns, strict=True)}
            features.append(json.dumps(
                {"type": "Feature", "geometry": shape, "properties": props},
                ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                default=_json_default))
        if features:
            target.write(("\n" if rows == 0 else ",\n") + ",\n".join(features))
        rows += len(features)
        report.written(rows, data.total)
    target.write("\n]}\n")
    return rows


#: First characters that make Excel treat a cell as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: object) -> object:
    """Prefix text that Excel would run as a formula with a quote (OWASP CSV injection).

    Used by every CSV or Excel file GridMap writes from stored or uploaded text.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write_csv(data: LayerData, target: Target, report: Reporter) -> int:
    wkt = data.csv_geometry
    target.write("\ufeff")  # the byte-order mark Excel needs to read UTF-8
    rows = 0
    first = True
    for attrs, geoms in _batches(data.chunks):
        frame = _as_text_values(_conform(attrs, data.schema), data.schema)
        for name, kind in data.schema:
            if kind == "str":
                frame[name] = frame[name].map(defuse)
        if wkt:
            frame["wkt"] = shapely.to_wkt(_rounded(geoms), rounding_precision=DECIMALS,
                                          trim=True)
        buf = io.StringIO()
        frame.to_csv(buf, header=first, index=False, lineterminator="\r\n")
        target.write(buf.getvalue())
        first = False
        rows += len(frame)
        report.written(rows, data.total)
    if first:  # no rows: still a header, so the file opens with its columns
        header = [name for name, _ in data.schema] + (["wkt"] if wkt else [])
        buf = io.StringIO()
        pd.DataFrame(columns=header).to_csv(buf, index=False, lineterminator="\r\n")
        target.write(buf.getvalue())
    return rows


def _write_gpkg(data: LayerData, target: Target, report: Reporter) -> int:
    path = target.gpkg_path()
    rows = 0
    first = True

    def write(attrs: pd.DataFrame, geoms: np.ndarray, mode: Literal["w", "a"]) -> None:
        frame = _conform(attrs, data.schema)
        for name, kind in data.schema:
            if kind == "datetime":  # GeoPackage datetimes are UTC
                frame[name] = frame[name].dt.tz_localize("UTC")
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(
            _orient(np.asarray(geoms, dtype=object)), index=frame.index, crs=store_schema.SRID))
        # mode "w" on an existing GeoPackage replaces this layer only and keeps the others;
        # the version is chosen when the file is created (a file added to keeps its own).
        created: dict[str, Any] = ({} if os.path.exists(path) else
                                   {"dataset_options": {"VERSION": GPKG_VERSION}})
        gdf.to_file(path, layer=data.key, driver="GPKG", engine="pyogrio", mode=mode,
                    geometry_type=data.geometry_type, index=False, **created)

    for attrs, geoms in data.chunks:
        write(attrs, geoms, "w" if first else "a")
        first = False
        rows += len(attrs)
        report.written(rows, data.total)
    if first:
        write(pd.DataFrame(), np.empty(0, dtype=object), "w")
    _write_aliases(path, data.key, [name for name, _ in data.schema])
    return rows


def _write_aliases(path: str, table: str, columns: list[str]) -> None:
    """Give the layer's columns their Chinese names in ``gpkg_data_columns``.

    The GeoPackage schema extension (gpkg_schema, in the 1.2 standard): ``name`` and
    ``title`` hold the alias, which GDAL reads as the field's alternative name and QGIS
    shows as its alias. pyogrio has no option for field aliases, so the table is written
    here, with SQLite, after the layer.
    """
    rows = [(table, c, alias, alias) for c in columns if (alias := field_alias(c))]
    with sqlite3.connect(path) as conn:
        conn.execute("""CREATE TABLE IF NOT EXISTS gpkg_data_columns (
            table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
            description TEXT, mime_type TEXT, constraint_name TEXT,
            CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
            CONSTRAINT gdc_tn UNIQUE (table_name, name))""")
        conn.execute("DELETE FROM gpkg_data_columns WHERE table_name = ?", (table,))
        conn.executemany("INSERT INTO gpkg_data_columns (table_name, column_name, name, title)"
                         " VALUES (?, ?, ?, ?)", rows)
        known = conn.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = "
                             "'gpkg_data_columns' AND extension_name = 'gpkg_schema'").fetchone()
        if known is None:
            conn.execute(
                "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, "
                "definition, scope) VALUES ('gpkg_data_columns', NULL, 'gpkg_schema', "
                "'http://www.geopackage.org/spec120/#extension_schema', 'read-write')")
    conn.close()


WRITERS: dict[str, Callable[[LayerData, Target, Reporter], int]] = {
    "geojson": _write_geojson,
    "gpkg": _write_gpkg,
    "csv": _write_csv,
}
