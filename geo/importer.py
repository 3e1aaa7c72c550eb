"""Validated import of grids, requests, police stations and volunteer activities from files.

Used by ``gridmap import`` and the Data page (preview and validation report). The flow is
read → validate → write:

* :func:`read_table` sniffs the content, not only the extension, and reads CSV (UTF-8 with
  or without BOM, or GB18030/GBK), Excel ``.xlsx``, GeoJSON, GeoPackage (first layer) or a
  zipped Shapefile into a frame of text columns. Its index, named ``row``, is the 1-based
  data row (or feature) number that every :class:`Problem` refers to.
* ``validate_*`` map English store column names or their Chinese aliases to store columns,
  check every row with vectorised pandas/shapely operations (Python loops run over bad rows
  only), convert coordinates to WGS84 once, and return the rows ready for :mod:`geo.store`
  together with the problems found.
* :func:`import_file` runs both and writes all valid rows in one transaction.

Rules
-----
CRS
    An explicit ``crs`` always wins. Without one, a GeoJSON/GeoPackage/Shapefile that
    declares a CRS other than EPSG:4326/EPSG:4490 is read in its declared CRS; everything
    else is taken as WGS84. The normalised name is stored in ``source_crs``. The "outside
    China" check runs on the converted WGS84 coordinates.
Times
    Naive times in a file are Asia/Shanghai local time; times with an offset (``Z``,
    ``+08:00``) are honoured. Both are stored as naive UTC. Activity dates are taken as
    written (local dates).
Rows
    A row with an error is rejected; a row with only warnings is written. Within a file the
    first row with a given code or external id wins; later ones are rejected.
"""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from geo import coords, store, vocab
from geo.grids import GridIndex, as_multipolygon, grid_code_problem, metric_area_km2

__all__ = [
    "KINDS",
    "ImportFileError",
    "ImportReport",
    "Problem",
    "import_file",
    "read_table",
    "resolve_crs",
    "validate_activities",
    "validate_grids",
    "validate_requests",
    "validate_stations",
]

#: What can be imported.
KINDS = ("grids", "requests", "stations", "activities")
#: Residents' descriptions longer than this are cut (with a warning).
MAX_DESCRIPTION = 4000
#: Per field and reason, the report lists this many rows and summarises the rest in one line,
#: so a million rows with the same mistake give a readable report.
MAX_PROBLEMS_PER_REASON = 1000
#: Requests are written in chunks of this many rows, to report progress.
WRITE_CHUNK = 200_000

_VALUE_WIDTH = 60
_SHANGHAI = "Asia/Shanghai"
_GEOGRAPHIC = ("wgs84", "cgcs2000")

Progress = Callable[[float, str], None]


# --------------------------------------------------------------------------- report


@dataclass
class Problem:
    """One line of the validation report.

    Attributes
    ----------
    row : int or None
        1-based data row (CSV/Excel, header not counted) or feature number; None for a
        problem with the whole file or a whole column.
    field : str or None
        The column as named in the file (or the store column when the file has none).
    value : str or None
        The offending raw value, cut to about 60 characters.
    reason : str
        What is wrong, in English.
    severity : str
        ``"error"``: the row is rejected. ``"warning"``: the row is kept.

    """

    row: int | None
    field: str | None
    value: str | None
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.field:
            where += f", field {self.field}"
        if self.value is not None:
            where += f", value {self.value!r}"
        return f"{self.severity}: {where}: {self.reason}"


class ImportFileError(Exception):
    """The whole file is rejected; carries a :class:`Problem` with ``row=None``."""

    def __init__(self, problem: Problem | str) -> None:
        if isinstance(problem, str):
            problem = Problem(None, None, None, problem)
        super().__init__(problem.reason)
        self.problem = problem


@dataclass
class ImportReport:
    """What an import read, kept, wrote and complained about.

    ``rows_inserted`` counts new rows; ``rows_updated`` counts grids/stations whose code was
    already stored (they are replaced); ``rows_skipped_existing`` counts requests/activities
    whose external id was already stored (they are left alone). In a dry run nothing is
    written, ``rows_inserted`` is 0 and the two other counts say what a real run would do.
    """

    kind: str
    path: str
    crs: str
    rows_read: int = 0
    rows_valid: int = 0
    rows_inserted: int = 0
    rows_skipped_existing: int = 0
    problems: list[Problem] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    rows_updated: int = 0
    format: str | None = None
    encoding: str | None = None
    file_error: Problem | None = None

    @property
    def rows_rejected(self) -> int:
        """Rows read but not valid."""
        return self.rows_read - self.rows_valid

    @property
    def errors(self) -> list[Problem]:
        """The problems that rejected a row or the file."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that did not stop a row from being written."""
        return [p for p in self.problems if p.severity == "warning"]

    def ok(self) -> bool:
        """Return True unless the whole file was rejected (rows may still be rejected)."""
        return self.file_error is None

    def summary(self) -> str:
        """Return a few lines for the CLI or a status box."""
        name = Path(self.path).name
        if self.file_error is not None:
            reason = self.file_error.reason.removeprefix(f"{name}: ")
            return f"{name}: file rejected, nothing written: {reason}"
        parts = [f"{self.rows_read:,} rows read", f"{self.rows_valid:,} valid"]
        if not self.dry_run:
            parts.append(f"{self.rows_inserted:,} inserted")
        if self.kind in ("grids", "stations"):
            verb = "would be updated" if self.dry_run else "updated"
            parts.append(f"{self.rows_updated:,} {verb}")
        else:
            parts.append(f"{self.rows_skipped_existing:,} already stored")
        n_warn = len(self.warnings)
        line = (f"{name}: {', '.join(parts)}; {self.rows_rejected:,} rejected, "
                f"{n_warn:,} warning{'s' if n_warn != 1 else ''}")
        if self.dry_run:
            line += " (dry run: nothing written)"
        fmt = _NAMES.get(self.format or "", self.format or "?")
        if self.encoding:
            fmt += f", {self.encoding}"
        lines = [line + ".", f"{fmt}; coordinates from {self.crs}; {self.seconds:.2f} s."]
        counts: dict[tuple[str, str], int] = {}
        for p in self.problems:
            if p.row is not None:
                counts[(p.severity, p.reason)] = counts.get((p.severity, p.reason), 0) + 1
        for (severity, reason), n in sorted(counts.items(), key=lambda kv: -kv[1])[:3]:
            short = reason if len(reason) <= 100 else reason[:99] + "…"
            lines.append(f"  {n:,} × {severity}: {short}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Return the problems as a table: row, field, value, reason, severity."""
        frame = pd.DataFrame(
            [(p.row, p.field, p.value, p.reason, p.severity) for p in self.problems],
            columns=["row", "field", "value", "reason", "severity"],
        )
        frame["row"] = frame["row"].astype("Int64")
        return frame


# --------------------------------------------------------------------------- reading

_LABELS = {
    "csv": "CSV text",
    "xlsx": "an Excel workbook (.xlsx)",
    "geojson": "GeoJSON",
    "gpkg": "a GeoPackage",
    "shpzip": "a zipped Shapefile (a ZIP archive with a .shp inside)",
    "shp": "a Shapefile",
}
_NAMES = {"csv": "CSV", "xlsx": "Excel", "geojson": "GeoJSON", "gpkg": "GeoPackage",
          "shpzip": "zipped Shapefile", "shp": "Shapefile"}
_SUFFIXES = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
    ".geojson": "geojson", ".json": "geojson",
    ".gpkg": "gpkg",
    ".zip": "shpzip",
    ".shp": "shp",
}
_MAGIC = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     "a legacy Office 97-2003 file (.xls?); save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
]
_BOM = b"\xef\xbb\xbf"


def read_table(path: str | Path, *, kind: str, layer: str | None = None) -> pd.DataFrame:
    """Sniff a file and read it into a frame of text columns.

    Parameters
    ----------
    path : str or Path
        A CSV, Excel .xlsx, GeoJSON, GeoPackage or zipped Shapefile. The content decides
        how it is read; a known extension must agree with the content.
    kind : str
        One of :data:`KINDS`, used in messages.
    layer : str, optional
        The GeoPackage/Shapefile layer to read; default the first.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        Attribute columns as text (missing cells are NaN), indexed by the 1-based data row
        number (``row``). Vector formats return a GeoDataFrame with the file's declared CRS.
        ``attrs`` holds ``format``, ``encoding`` (CSV), ``layer`` and ``read_problems`` (rows
        lost to malformed CSV lines, extra layers ignored).

    Raises
    ------
    ImportFileError
        The file is missing, empty, not what its name says, or cannot be read.

    """
    _check_kind(kind)
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ImportFileError(f"{name}: file not found ({path})")
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.replace(_BOM, b"").strip():
        raise ImportFileError(f"{name}: the file is empty"
                              + (" (0 bytes)" if not head else " (only white space)"))
    found, found_label = _sniff(path, head)
    expected = _SUFFIXES.get(path.suffix.lower())
    if expected is not None and found != expected:
        raise ImportFileError(
            f"{name}: expected {_LABELS[expected]} (from the extension {path.suffix}) "
            f"but found {found_label}"
        )
    if found is None:
        raise ImportFileError(
            f"{name}: unsupported file: found {found_label}; expected CSV, Excel .xlsx, "
            "GeoJSON, GeoPackage or a zipped Shapefile"
        )
    read_problems: list[Problem] = []
    encoding = None
    if found == "csv":
        frame, encoding = _read_csv(path, read_problems)
    elif found == "xlsx":
        frame = _read_excel(path)
    else:
        frame, layer, encoding = _read_vector(path, found, layer, read_problems)
    if frame.empty:
        what = "features" if found in ("geojson", "gpkg", "shpzip", "shp") else "data rows"
        raise ImportFileError(f"{name}: no {what}: the file holds no {kind}"
                              + (" (only a header)" if len(frame.columns) else ""))
    if frame.index.name != "row":
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    frame.attrs.update(format=found, encoding=encoding, layer=layer,
                       read_problems=read_problems)
    return frame


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")


def _sniff(path: Path, head: bytes) -> tuple[str | None, str]:
    """Return (format or None, what the content looks like in words)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(path)
    if head.startswith(b"SQLite format 3\x00"):
        return _sniff_sqlite(path)
    if head.startswith(b"\x00\x00\x27\x0a"):
        return "shp", "a Shapefile .shp"
    for magic, label in _MAGIC:
        if head.startswith(magic):
            return None, label
    if b"\x00" in head[:8192]:
        return None, "binary data"
    text = head.removeprefix(_BOM).lstrip()
    if text[:1] in (b"{", b"["):
        if b'"type"' in head and (b"Feature" in head or b'"coordinates"' in head):
            return "geojson", "GeoJSON text"
        return None, "JSON that is not GeoJSON (no Feature or FeatureCollection)"
    snippet = text[:40].decode("utf-8", errors="replace").splitlines()[0]
    return "csv", f"text that is not JSON (it starts with {snippet!r})"


def _sniff_zip(path: Path) -> tuple[str | None, str]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return None, "a damaged ZIP archive"
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return "xlsx", "an Excel workbook"
    if any(n.lower().endswith(".shp") for n in names):
        return "shpzip", "a ZIP archive with a Shapefile"
    listed = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
    return None, f"a ZIP archive with no .shp or Excel workbook inside ({listed or 'empty'})"


def _sniff_sqlite(path: Path) -> tuple[str | None, str]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'gpkg_contents'"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return None, "a damaged SQLite database"
    if found:
        return "gpkg", "a GeoPackage"
    return None, "a SQLite database that is not a GeoPackage (no gpkg_contents table)"


def _read_csv(path: Path, read_problems: list[Problem]) -> tuple[pd.DataFrame, str]:
    name = path.name
    data = path.read_bytes()
    # The whole file is decoded once to choose the encoding: a GBK file often starts with
    # plain ASCII headers, so the first kilobytes prove nothing.
    try:
        data.decode("utf-8")
        encoding, codec = ("UTF-8 (BOM)", "utf-8-sig") if data.startswith(_BOM) else (
            "UTF-8", "utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            data.decode("gb18030")
            encoding, codec = "GB18030", "gb18030"
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{name}: the text is neither UTF-8 nor GB18030/GBK (bad byte at position "
                f"{utf8_error.start}); save the file as UTF-8 CSV"
            ) from None
    first_line = data[:4096].split(b"\n", 1)[0]
    sep = max([b",", b"\t", b";", b"|"], key=first_line.count).decode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(io.BytesIO(data), dtype=str, sep=sep, encoding=codec,
                                keep_default_na=False, na_values=[""], on_bad_lines="warn")
        except pd.errors.EmptyDataError:
            raise ImportFileError(f"{name}: the file is empty (no header)") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise ImportFileError(f"{name}: not readable as CSV: {exc}") from None
    # pandas skips lines with too many fields and warns "Skipping line N: …"; turn each into
    # a rejected row and keep row numbers aligned with the file.
    skipped: list[int] = []
    for w in caught:
        for line, why in re.findall(r"Skipping line (\d+): ([^\n]*)", str(w.message)):
            skipped.append(int(line) - 1)
            read_problems.append(Problem(int(line) - 1, None, None,
                                         f"malformed CSV line ({why.strip()}); row skipped"))
    if skipped:
        numbers = np.arange(1, len(frame) + len(skipped) + 1)
        numbers = numbers[~np.isin(numbers, skipped)][: len(frame)]
        frame.index = pd.Index(numbers, name="row")
    return frame, encoding


def _read_excel(path: Path) -> pd.DataFrame:
    try:
        return pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl",
                             keep_default_na=False, na_values=[""])
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise ImportFileError(f"{path.name}: not readable as an Excel workbook: {exc}") from None


def _read_vector(path: Path, fmt: str, layer: str | None, read_problems: list[Problem]
                 ) -> tuple[gpd.GeoDataFrame, str, str | None]:
    import pyogrio

    name = path.name
    src = f"/vsizip/{path}" if fmt == "shpzip" else str(path)
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(src)]
    except Exception as exc:
        raise ImportFileError(f"{name}: not readable as {_LABELS[fmt]}: {exc}") from None
    if not layers:
        raise ImportFileError(f"{name}: no layers in {_LABELS[fmt]}")
    if layer is None:
        layer = layers[0]
        if len(layers) > 1:
            read_problems.append(Problem(
                None, None, None,
                f"{len(layers)} layers found; read the first, {layer!r} "
                f"(others: {', '.join(layers[1:6])})", "warning"))
    elif layer not in layers:
        raise ImportFileError(f"{name}: no layer {layer!r}; layers: {', '.join(layers)}")
    # A Shapefile's text encoding comes from its .cpg (or the DBF's code page byte). Old
    # Chinese files have neither and are GBK, which GDAL would read as Latin-1 mojibake:
    # try UTF-8, then GB18030, as for CSV.
    guess = fmt in ("shpzip", "shp") and _dbf_without_codepage(path, fmt)
    attempts: list[str | None] = ["UTF-8", "GB18030"] if guess else [None]
    for encoding in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame = pyogrio.read_dataframe(src, layer=layer, datetime_as_string=True,
                                               encoding=encoding)
            break
        except UnicodeDecodeError:
            if encoding == attempts[-1]:
                raise ImportFileError(f"{name}: the attribute text is neither UTF-8 nor "
                                      "GB18030/GBK; add a .cpg file naming its encoding"
                                      ) from None
        except Exception as exc:
            raise ImportFileError(f"{name}: not readable as {_LABELS[fmt]}: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame):  # a GeoPackage attribute table
        frame = gpd.GeoDataFrame(frame)
    geom_name = frame.active_geometry_name
    for col in frame.columns:
        if col != geom_name:
            frame[col] = _column_as_text(frame[col])
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame, layer, encoding


def _dbf_without_codepage(path: Path, fmt: str) -> bool:
    """Return True when a Shapefile has no .cpg and its DBF declares no code page."""
    if fmt == "shpzip":
        with zipfile.ZipFile(path) as zf:
            names = {n.lower(): n for n in zf.namelist()}
            stem = next(n for n in names if n.endswith(".shp"))[:-4]
            if stem + ".cpg" in names or stem + ".dbf" not in names:
                return False
            with zf.open(names[stem + ".dbf"]) as fh:
                head = fh.read(32)
    else:
        siblings = {p.name.lower(): p for p in path.parent.glob(path.stem + ".*")}
        stem = path.stem.lower()
        if stem + ".cpg" in siblings or stem + ".dbf" not in siblings:
            return False
        with siblings[stem + ".dbf"].open("rb") as fh:
            head = fh.read(32)
    return len(head) > 29 and head[29] == 0  # byte 29: the DBF language driver id


def _column_as_text(s: pd.Series) -> pd.Series:
    """Text form of a typed column, so vector files go through the same checks as CSV."""
    if pd.api.types.is_float_dtype(s):
        finite = s.dropna().to_numpy()
        # Integer fields with a gap come back as float; "1200.0" would fail the int checks.
        if len(finite) and np.all(np.mod(finite, 1) == 0) and np.all(np.abs(finite) < 2**53):
            s = s.astype("Int64")
    elif pd.api.types.is_datetime64_any_dtype(s):
        s = s.dt.strftime("%Y-%m-%dT%H:%M:%S%z").where(s.notna())
    return s.astype("str")


# --------------------------------------------------------------------------- column names

_POINT = {
    "lon": ("lng", "long", "longitude", "x", "经度"),
    "lat": ("latitude", "y", "纬度"),
    "wkt": ("geometry", "geom", "the_geom", "shape", "几何", "空间信息"),
}
_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "grids": {
        "code": ("网格编码", "网格代码", "网格编号", "grid_code"),
        "name": ("网格名称", "网格名", "名称"),
        "community_code": ("社区编码", "社区代码", "村社区编码", "所属社区编码"),
        "population": ("人口", "人口数", "常住人口"),
        "households": ("户数", "住户数"),
        "head_name": ("网格长", "网格长姓名", "网格员"),
        "head_phone": ("网格长电话", "网格长手机", "联系电话", "电话"),
        "wechat_groups": ("微信群数", "微信群"),
        "wechat_members": ("微信群人数", "群成员数", "微信群成员数"),
        "volunteers": ("志愿者数", "志愿者人数"),
        "wkt": _POINT["wkt"] + ("边界", "范围"),
        "area_km2": ("面积",),
        "source_crs": ("坐标系",),
    },
    "requests": {
        "external_id": ("编号", "诉求编号", "工单编号", "工单号"),
        "category": ("类别", "诉求类别", "问题类别", "事项类别", "service_code"),
        "severity": ("紧急程度", "等级", "分级"),
        "route": ("解决途径", "办理途径"),
        "status": ("状态", "办理状态"),
        "source": ("来源", "渠道", "上报渠道"),
        "reported_at": ("上报时间", "requested_datetime"),
        "due_at": ("办理期限", "期限", "截止时间"),
        "resolved_at": ("办结时间",),
        "closed_at": ("关闭时间", "评价时间"),
        "satisfaction": ("满意度",),
        "address": ("地址", "详细地址"),
        "description": ("描述", "诉求内容", "内容", "问题描述"),
        "reporter_name": ("上报人", "姓名", "联系人"),
        "reporter_phone": ("联系电话", "电话", "手机", "手机号"),
        **_POINT,
        "grid_code": ("网格编码", "网格代码"),
        "outside_grid": (),
        "source_crs": ("坐标系",),
    },
    "stations": {
        "code": ("编码", "编号", "站点编码", "站点编号"),
        "name": ("名称", "站点名称"),
        "kind": ("类型", "站点类型", "类别"),
        "officers": ("警力", "民警数", "民警人数", "警员数"),
        "radius_m": ("覆盖半径", "半径"),
        "address": ("地址", "详细地址"),
        **_POINT,
        "source_crs": ("坐标系",),
    },
    "activities": {
        "external_id": ("编号", "活动编号"),
        "grid_code": ("网格编码", "网格代码"),
        "date": ("日期", "活动日期"),
        "title": ("活动名称", "标题", "主题", "名称"),
        "volunteers": ("志愿者人数", "参与人数", "人数"),
        "hours": ("时长", "小时", "服务时长"),
        "points": ("积分",),
        **_POINT,
    },
}
_REQUIRED = {
    "grids": ("code", "name"),
    "requests": ("category", "reported_at"),
    "stations": ("code", "name", "kind"),
    "activities": ("date", "title", "volunteers", "hours"),
}
# Store columns that the importer computes itself; a value in the file is ignored.
_COMPUTED = {
    "area_km2": "computed from the geometry",
    "source_crs": "recorded from the coordinate system of the import",
    "grid_code": "assigned from the point",
    "outside_grid": "assigned from the point",
}


def _key(name: object) -> str:
    text = str(name).replace("\ufeff", "").strip()
    text = re.sub(r"\s*[（(][^()（）]*[)）]\s*$", "", text)  # "人口（人）" -> "人口"
    return re.sub(r"[\s\-]+", "_", text.lower())


def _hint(kind: str, canonical: str) -> str:
    chinese = [a for a in _FIELDS[kind].get(canonical, ()) if not a.isascii()]
    return f"{canonical} ({chinese[0]})" if chinese else canonical


@dataclass
class _Columns:
    """A frame renamed to store columns, plus what the file called them."""

    frame: pd.DataFrame
    names: dict[str, str]
    geometry: np.ndarray | None  # shapely objects from a vector file

    def has(self, col: str) -> bool:
        return col in self.frame.columns


def _canonical(frame: pd.DataFrame, kind: str, problems: list[Problem]) -> _Columns:
    """Rename columns to store names; warn about unknown ones; check required ones."""
    fields = _FIELDS[kind]
    lookup: dict[str, str] = {}
    for canon, aliases in fields.items():
        for alias in (canon, *aliases):
            lookup.setdefault(_key(alias), canon)
    for canon in fields:  # Shapefile (DBF) field names are cut to 10 characters
        if len(canon) > 10:
            lookup.setdefault(canon[:10], canon)
    geom_name = None
    geometry = None
    if isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name is not None:
        geom_name = frame.active_geometry_name
        geometry = np.asarray(frame.geometry.values, dtype=object)
        if shapely.is_missing(geometry).all():  # e.g. a CSV read by GDAL: use the columns
            geometry = None
    data: dict[str, pd.Series] = {}
    names: dict[str, str] = {}
    for col in frame.columns:
        if col == geom_name:
            continue
        canon = lookup.get(_key(col))
        # A request's grid comes from its point; an activity's grid_code is data.
        computed = canon in _COMPUTED and not (kind == "activities" and canon == "grid_code")
        if canon is None:
            problems.append(Problem(None, str(col), None,
                                    "unknown column, ignored", "warning"))
        elif canon in names:
            problems.append(Problem(None, str(col), None,
                                    f"same field as column {names[canon]!r}; ignored",
                                    "warning"))
        elif computed:
            problems.append(Problem(None, str(col), None,
                                    f"{_COMPUTED[canon]}; the file's values are ignored",
                                    "warning"))
            names[canon] = str(col)
        else:
            names[canon] = str(col)
            s = frame[col]
            data[canon] = s if pd.api.types.is_string_dtype(s) else s.astype("str")
    out = pd.DataFrame(data, index=frame.index)
    out.attrs = {}
    missing = [_hint(kind, c) for c in _REQUIRED[kind] if c not in out.columns]
    has_geom = geometry is not None
    if kind == "grids" and not has_geom and "wkt" not in out.columns:
        missing.append("a polygon geometry: a GeoJSON/GeoPackage/Shapefile geometry, or a "
                       "wkt column (几何) in CSV/Excel")
    if kind in ("requests", "stations") and not has_geom and "wkt" not in out.columns:
        missing += [_hint(kind, c) for c in ("lon", "lat") if c not in out.columns]
    if kind == "activities" and "grid_code" not in out.columns and not (
            has_geom or {"lon", "lat"} <= set(out.columns)):
        missing.append(_hint(kind, "grid_code") + " (or a point to find the grid)")
    if missing:
        available = ", ".join(str(c) for c in frame.columns if c != geom_name)
        raise ImportFileError(
            f"missing required column{'s' if len(missing) > 1 else ''}: "
            f"{'; '.join(missing)}. The file has: {available or 'no columns'}"
        )
    return _Columns(out, names, geometry)


# --------------------------------------------------------------------------- row checks


def _short(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


class _Rows:
    """Problems for a frame's rows and the mask of rejected rows."""

    def __init__(self, cols: _Columns, problems: list[Problem]) -> None:
        self.cols = cols
        self.n = len(cols.frame)
        self.numbers = cols.frame.index.to_numpy()
        if cols.frame.index.name != "row":  # a frame built by hand: number rows 1..n
            self.numbers = np.arange(1, self.n + 1)
        self.rejected = np.zeros(self.n, dtype=bool)
        self.problems = problems

    def label(self, col: str) -> str:
        names = self.cols.names
        if col == "lon/lat":
            return f"{names.get('lon', 'lon')}/{names.get('lat', 'lat')}"
        return names.get(col, col)

    def number(self, i: int) -> int:
        return int(self.numbers[i])

    def flag(self, mask: Any, col: str, values: Any, reason: str | Sequence[str] | Any, *,
             severity: str = "error") -> None:
        """Record a problem for each row in ``mask``; errors reject the row.

        ``values`` and ``reason`` are per-row sequences (or a callable taking the row
        positions shown), or one value for all rows.
        """
        hits = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(hits) == 0:
            return
        if severity == "error":
            self.rejected[hits] = True
        shown = hits[:MAX_PROBLEMS_PER_REASON]
        vals = _take(values, shown)
        reasons = _take(reason, shown)
        label = self.label(col)
        self.problems.extend(
            Problem(self.number(i), label, _short(v), str(r), severity)
            for i, v, r in zip(shown, vals, reasons, strict=True)
        )
        if len(hits) > len(shown):
            self.problems.append(Problem(
                None, label, None,
                f"{len(hits) - len(shown):,} more rows not listed: {reasons[0]}", severity))

    def text(self, col: str, *, strip: bool = True) -> pd.Series | None:
        """Return the column as text without NULs, blanks as NaN; None if absent."""
        frame = self.cols.frame
        if col not in frame.columns:
            return None
        s = frame[col]
        # PostgreSQL rejects NUL in text, and no real value carries one.
        s = s.str.replace("\x00", "", regex=False)
        stripped = s.str.strip()
        return (stripped if strip else s).where(stripped.str.len() > 0)

    def code(self, col: str) -> pd.Series | None:
        """Return a code column; Excel's numeric cells ("430903003001001.0") lose ".0"."""
        s = self.text(col)
        return None if s is None else s.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)

    def required(self, col: str, s: pd.Series | None) -> np.ndarray:
        """Reject rows where a required value is blank; return the mask of present ones."""
        if s is None:
            self.flag(np.ones(self.n, bool), col, None, "missing required value")
            return np.zeros(self.n, dtype=bool)
        present = s.notna().to_numpy()
        self.flag(~present, col, None, "missing required value")
        return present

    def number_column(self, col: str, *, integer: bool = False, required: bool = False,
                      minimum: float | None = 0.0) -> np.ndarray:
        """Parse a numeric column; NaN where blank or bad."""
        s = self.text(col)
        if required:
            self.required(col, s)
        if s is None:
            return np.full(self.n, np.nan)
        present = s.notna().to_numpy()
        cleaned = s.str.replace(",", "", regex=False) if integer else s  # "1,200" people
        num = np.array(pd.to_numeric(cleaned, errors="coerce"), dtype=float)  # writable
        bad = present & ~np.isfinite(num)
        if integer:
            bad |= present & np.isfinite(num) & (num != np.floor(num))
        self.flag(bad, col, s, "not a whole number" if integer else "not a number")
        if minimum is not None:
            low = present & ~bad & (num < minimum)
            self.flag(low, col, s, "must not be negative" if minimum == 0
                      else f"must be at least {minimum:g}")
            bad |= low
        num[bad | ~present] = np.nan
        return num

    def vocab_column(self, col: str, table: dict, *, what: str, default: str | None,
                     required: bool = False) -> np.ndarray:
        """Map codes or Chinese names to codes; blanks get ``default``."""
        s = self.text(col)
        out = np.full(self.n, default, dtype=object)
        if s is None:
            if required:
                self.required(col, None)
            return out
        mapping = {u: vocab.lookup(table, u) for u in s.dropna().unique()}
        codes = s.map(mapping)
        present = s.notna().to_numpy()
        known = codes.notna().to_numpy()
        allowed = ", ".join(
            f"{code} ({v[0] if isinstance(v, tuple) else v})" for code, v in table.items())
        self.flag(present & ~known, col, s, f"unknown {what}; allowed: {allowed}")
        if required:
            self.required(col, s)
        out[known] = codes.to_numpy(dtype=object)[known]
        return out

    def times(self, col: str, *, required: bool = False, local: bool = False
              ) -> pd.Series:
        """Parse date/times to naive UTC (or naive local time); NaT where blank or bad."""
        s = self.text(col)
        if required:
            self.required(col, s)
        if s is None:
            return pd.Series(pd.NaT, index=range(self.n), dtype="datetime64[us]")
        parsed = _parse_times(s.reset_index(drop=True), local=local)
        bad = s.notna().to_numpy() & parsed.isna().to_numpy()
        self.flag(bad, col, s, "not a date/time (expected e.g. 2024-05-01 08:30)")
        return parsed

    def max_length(self, col: str, s: pd.Series | None, limit: int | None, *,
                   cut: bool = False) -> pd.Series | None:
        """Reject (or cut, with a warning) text longer than the store column allows."""
        if s is None or limit is None:
            return s
        long = (s.str.len() > limit).fillna(False).to_numpy(dtype=bool)
        if not long.any():
            return s
        if cut:
            self.flag(long, col, s, f"longer than {limit:,} characters; cut to {limit:,}",
                      severity="warning")
            return s.where(~long, s.str.slice(0, limit))
        self.flag(long, col, s, f"longer than {limit:,} characters")
        return s

    def duplicates(self, col: str, keys: pd.Series, *, among: np.ndarray,
                   what: str = "") -> None:
        """Reject every row ``among`` whose key repeats an earlier one (keep the first)."""
        keys = keys.reset_index(drop=True)
        candidates = keys.where(pd.Series(among)).dropna()
        dup = candidates.duplicated(keep="first")
        if not dup.any():
            return
        first = {k: i for i, k in candidates[~dup].items()}
        later = dup[dup].index.to_numpy()
        mask = np.zeros(self.n, dtype=bool)
        mask[later] = True
        reasons = np.full(self.n, None, dtype=object)
        reasons[later] = [f"duplicate of row {self.number(first[keys[i]])}{what}"
                          for i in later]
        self.flag(mask, col, keys, reasons)


def _take(values: Any, idx: np.ndarray) -> list:
    if values is None or isinstance(values, str):
        return [values] * len(idx)
    if callable(values):
        return list(values(idx))
    if isinstance(values, pd.Series):
        return values.iloc[idx].tolist()
    return np.asarray(values, dtype=object)[idx].tolist()


# A time followed by Z or an offset. " *" not "\s*": \s sends pandas to the slow Python regex.
_OFFSET = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)? *(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _parse_times(s: pd.Series, *, local: bool = False) -> pd.Series:
    """Parse text to naive UTC (``local=False``) or naive Asia/Shanghai time."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    present = s.notna().to_numpy()
    aware = s.str.contains(_OFFSET, regex=True, na=False).to_numpy(dtype=bool)
    for mask, has_offset in ((present & ~aware, False), (present & aware, True)):
        if not mask.any():
            continue
        sub = s[mask]
        parsed = pd.to_datetime(sub, format="ISO8601", errors="coerce", utc=has_offset)
        retry = parsed.isna()
        if retry.any():  # 2024年5月1日 8时30分, 2024.05.01 and friends: the slow path, few rows
            parsed[retry] = pd.to_datetime(_normalise_dates(sub[retry]), format="ISO8601",
                                           errors="coerce", utc=has_offset)
        if has_offset:
            zone = _SHANGHAI if local else "UTC"
            parsed = parsed.dt.tz_convert(zone).dt.tz_localize(None)
        elif not local:
            parsed = (parsed.dt.tz_localize(_SHANGHAI, ambiguous="NaT", nonexistent="NaT")
                      .dt.tz_convert("UTC").dt.tz_localize(None))
        out[mask] = parsed.astype("datetime64[us]").to_numpy()
    return out


def _normalise_dates(s: pd.Series) -> pd.Series:
    s = s.str.replace(r"^(\d{4})\s*[年./]\s*(\d{1,2})\s*[月./]\s*(\d{1,2})\s*日?",
                      r"\1-\2-\3 ", regex=True)
    s = s.str.replace(r"(\d{1,2})\s*[时點点:]\s*(\d{1,2})\s*分?\s*(?:(\d{1,2})\s*秒)?",
                      lambda m: f"{m[1]}:{m[2]}" + (f":{m[3]}" if m[3] else ""), regex=True)
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def _max_len(table, col: str) -> int | None:
    return getattr(table.c[col].type, "length", None)


# --------------------------------------------------------------------------- CRS and geometry


def resolve_crs(frame: pd.DataFrame, crs: str | None = None) -> str:
    """Decide which CRS the coordinates of ``frame`` are in.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        As returned by :func:`read_table`.
    crs : str, optional
        The user's choice (``--crs``); it always wins when given.

    Returns
    -------
    str
        A name for :func:`geo.coords.to_wgs84`: the explicit ``crs``, else the file's
        declared CRS when it is not EPSG:4326/EPSG:4490, else ``"wgs84"``. Normalised with
        :func:`geo.coords.normalise_crs_name`.

    Raises
    ------
    ImportFileError
        ``crs`` is not a coordinate system pyproj or :mod:`geo.coords` knows.

    """
    if crs is not None:
        try:
            return coords.normalise_crs_name(crs)
        except ValueError as exc:
            raise ImportFileError(str(exc)) from None
    declared = frame.crs if isinstance(frame, gpd.GeoDataFrame) else None
    if declared is None:
        return "wgs84"
    epsg = declared.to_epsg()
    if epsg is not None:
        return coords.normalise_crs_name(f"EPSG:{epsg}")
    return declared.to_wkt()


def _crs_label(crs: str) -> str:
    """Return the name recorded in ``source_crs`` (a String(32) column)."""
    if len(crs) <= 32:
        return crs
    from pyproj import CRS

    return CRS.from_user_input(crs).name[:32]


def _to_wgs84(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    if crs in _GEOGRAPHIC:
        return x, y
    lon, lat = coords.to_wgs84(x, y, crs=crs)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _points(rows: _Rows, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat of each row's point (NaN where rejected)."""
    cols = rows.cols
    n = rows.n
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    field_of = np.full(n, "lon/lat", dtype=object)
    need = np.ones(n, dtype=bool)
    geom = cols.geometry
    if geom is not None:
        has = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
        single = has & (shapely.get_type_id(geom) == 4) & (shapely.get_num_geometries(geom) == 1)
        geom = np.where(single, shapely.get_geometry(geom, 0), geom)
        is_point = has & (shapely.get_type_id(geom) == 0)
        x[is_point] = shapely.get_x(geom[is_point])
        y[is_point] = shapely.get_y(geom[is_point])
        field_of[has] = "geometry"
        rows.flag(has & ~is_point, "geometry", lambda i: [g.geom_type for g in geom[i]],
                  lambda i: [f"expected a point, found a {g.geom_type}" for g in geom[i]])
        need = ~has
    if need.any() and cols.has("lon") and cols.has("lat"):
        lon_s, lat_s = rows.text("lon"), rows.text("lat")
        for col, s, out in (("lon", lon_s, x), ("lat", lat_s, y)):
            present = s.notna().to_numpy()
            rows.flag(need & ~present, col, None, "missing required value")
            num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            rows.flag(need & present & ~np.isfinite(num), col, s, "not a number")
            out[need] = num[need]
    elif need.any() and cols.has("wkt"):
        s = rows.text("wkt")
        parsed = shapely.from_wkt(s.to_numpy(dtype=object, na_value=None), on_invalid="ignore")
        present = s.notna().to_numpy()
        ok = need & ~shapely.is_missing(parsed) & ~shapely.is_empty(parsed)
        rows.flag(need & ~present, "wkt", None, "missing required value")
        rows.flag(need & present & shapely.is_missing(parsed), "wkt", s, "not valid WKT")
        point = ok & (shapely.get_type_id(parsed) == 0)
        rows.flag(ok & ~point, "wkt", s, "expected a POINT")
        x[point] = shapely.get_x(parsed[point])
        y[point] = shapely.get_y(parsed[point])
        field_of[need] = "wkt"
    elif need.any():
        rows.flag(need, "geometry", None, "empty geometry")
    return _convert_points(rows, x, y, crs, field_of)


def _convert_points(rows: _Rows, x: np.ndarray, y: np.ndarray, crs: str,
                    field_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.full(rows.n, np.nan)
    lat = np.full(rows.n, np.nan)
    ok = np.isfinite(x) & np.isfinite(y)
    lon[ok], lat[ok] = _to_wgs84(x[ok], y[ok], crs)
    outside = ok & ~coords.in_china(lon, lat)

    def reasons(idx: np.ndarray) -> list[str]:
        base = "coordinate outside China" + ("" if crs in _GEOGRAPHIC
                                              else f" after conversion from {crs}")
        swapped = coords.in_china(lat[idx], lon[idx]) & (crs in _GEOGRAPHIC)
        return [base + ("; lon and lat swapped?" if s else "") for s in swapped]

    def values(idx: np.ndarray) -> list[str]:
        return [f"{x[i]:g}, {y[i]:g}" for i in idx]

    for label in np.unique(field_of[outside]) if outside.any() else ():
        rows.flag(outside & (field_of == label), str(label), values, reasons)
    lon[~ok | outside] = np.nan
    lat[~ok | outside] = np.nan
    return lon, lat


def _polygons(rows: _Rows, crs: str) -> np.ndarray:
    """WGS84 MultiPolygons for each row (None where rejected)."""
    cols = rows.cols
    n = rows.n
    if cols.geometry is not None:
        geom = cols.geometry.copy()
        label = "geometry"
        missing = shapely.is_missing(geom) | shapely.is_empty(geom)
        rows.flag(missing, label, None, "empty geometry")
    else:
        label = "wkt"
        s = rows.text("wkt")
        present = rows.required("wkt", s)
        geom = shapely.from_wkt(s.to_numpy(dtype=object, na_value=None), on_invalid="ignore")
        rows.flag(present & shapely.is_missing(geom), label, s, "not valid WKT")
        empty = present & ~shapely.is_missing(geom) & shapely.is_empty(geom)
        rows.flag(empty, label, s, "empty geometry")
        missing = ~present | shapely.is_missing(geom) | shapely.is_empty(geom)
    types = shapely.get_type_id(geom)
    polygonal = ~missing & np.isin(types, (3, 6))  # Polygon, MultiPolygon
    rows.flag(~missing & ~polygonal, label, lambda i: [g.wkt for g in geom[i]],
              lambda i: [f"expected a polygon, found a {g.geom_type}" for g in geom[i]])
    out = np.full(n, None, dtype=object)
    if not polygonal.any():
        return out
    work = geom[polygonal]
    if crs not in _GEOGRAPHIC:
        def to_wgs(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(_to_wgs84(xy[:, 0], xy[:, 1], crs))

        # Every vertex of every polygon in one vectorised call.
        work = shapely.transform(work, to_wgs)
    bounds = shapely.bounds(work)
    finite = np.isfinite(bounds).all(axis=1)
    inside = finite & coords.in_china(bounds[:, 0], bounds[:, 1]) & coords.in_china(
        bounds[:, 2], bounds[:, 3])
    idx = np.flatnonzero(polygonal)
    bad = np.zeros(n, dtype=bool)
    bad[idx[~inside]] = True
    where = "" if crs in _GEOGRAPHIC else f" after conversion from {crs}"
    rows.flag(bad, label, lambda i: [f"bounds {shapely.bounds(g).round(4).tolist()}"
                                     for g in geom[i]],
              f"polygon outside China{where}")
    valid = shapely.is_valid(work)
    repaired_ok = np.zeros(n, dtype=bool)
    unrepairable = np.zeros(n, dtype=bool)
    why = np.full(n, None, dtype=object)
    for j in np.flatnonzero(inside):
        fixed = as_multipolygon(work[j])
        if fixed is None:
            unrepairable[idx[j]] = True
        else:
            out[idx[j]] = fixed
            repaired_ok[idx[j]] = not valid[j]
        if not valid[j]:
            why[idx[j]] = shapely.is_valid_reason(work[j])
    def wkt(i: np.ndarray) -> list[str]:
        return [shapely.to_wkt(geom[j], rounding_precision=6) for j in i]

    rows.flag(repaired_ok, label, wkt, [f"invalid polygon repaired ({w})" for w in why],
              severity="warning")
    rows.flag(unrepairable, label, wkt,
              [f"invalid polygon could not be repaired ({w})" for w in why])
    return out


# --------------------------------------------------------------------------- validators


def validate_grids(frame: pd.DataFrame, *, crs: str | None = None,
                   known_communities: set[str] | None = None
                   ) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Check grid rows and return the valid ones ready for :func:`geo.store.write_grids`.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`. Polygons come from the geometry, or from a ``wkt`` column.
    crs : str, optional
        The coordinates' CRS; see :func:`resolve_crs`.
    known_communities : set of str, optional
        Community admin-unit codes; a grid whose community is not among them gets a
        warning. None skips the check.

    Returns
    -------
    grids : GeoDataFrame
        Store columns in EPSG:4326, indexed by row number. Optional columns the file lacks
        (population, head_name…) are left out, so that an upsert keeps stored values.
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing.

    """
    problems: list[Problem] = []
    crs = resolve_crs(frame, crs)
    cols = _canonical(frame, "grids", problems)
    rows = _Rows(cols, problems)
    table = store.grid
    geoms = _polygons(rows, crs)
    code = rows.code("code")
    present = rows.required("code", code)
    community = rows.code("community_code")
    comm_given = community.notna().to_numpy() if community is not None else np.zeros(rows.n,
                                                                                      bool)
    if community is not None:
        well_formed = community.str.fullmatch(r"\d{12}").fillna(False).to_numpy(dtype=bool)
        rows.flag(comm_given & ~well_formed, "community_code", community,
                  "community code must be 12 digits")
    codes = code.to_numpy(dtype=object, na_value=None)
    comms = (community.to_numpy(dtype=object, na_value=None) if community is not None
             else np.full(rows.n, None, dtype=object))
    # grid_code_problem is per value; grid files have thousands of rows, not millions.
    reasons = np.array([grid_code_problem(c, k) if ok else None
                        for c, k, ok in zip(codes, comms, present, strict=True)], dtype=object)
    rows.flag([r is not None for r in reasons], "code", code, reasons)
    rows.duplicates("code", code, among=present)
    name = rows.max_length("name", rows.text("name"), _max_len(table, "name"))
    rows.required("name", name)
    ints = {c: rows.number_column(c, integer=True)
            for c in ("population", "households", "wechat_groups", "wechat_members",
                      "volunteers")}
    head_name = rows.max_length("head_name", rows.text("head_name"),
                                _max_len(table, "head_name"))
    head_phone = rows.max_length("head_phone", rows.text("head_phone"),
                                 _max_len(table, "head_phone"))
    comm_final = np.where(comm_given, comms,
                          np.array([c[:12] if c else None for c in codes], dtype=object))
    keep = ~rows.rejected
    if known_communities is not None:
        unknown = keep & ~np.isin(comm_final.astype(str), list(known_communities))
        rows.flag(unknown, "community_code", comm_final,
                  "community code is not a known community (admin unit); grid kept",
                  severity="warning")
    optional = {**{c: _int_objects(v[keep]) for c, v in ints.items()},
                "head_name": _objects(head_name, keep), "head_phone": _objects(head_phone, keep)}
    out = pd.DataFrame({
        "code": codes[keep],
        "name": _objects(name, keep),
        "community_code": comm_final[keep],
        # Only the columns the file has: re-importing boundaries must not blank the
        # population or grid head stored earlier (write_grids replaces what it is given).
        **{c: v for c, v in optional.items() if cols.has(c)},
        "source_crs": _crs_label(crs),
    }, index=pd.Index(rows.numbers[keep], name="row"))
    grids = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms[keep], index=out.index,
                                                         crs=store.SRID))
    grids["area_km2"] = metric_area_km2(grids.geometry) if len(grids) else []
    return grids, problems


def validate_requests(frame: pd.DataFrame, *, crs: str | None = None,
                      grid_index: GridIndex | None = None
                      ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check request rows and return the valid ones for :func:`geo.store.bulk_insert_requests`.

    Vectorised throughout: a million rows take seconds, and Python only loops over rows
    with problems (and over rows without an external id, to hash one).

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`.
    crs : str, optional
        The coordinates' CRS; see :func:`resolve_crs`.
    grid_index : GridIndex, optional
        The stored grids. A point in no grid is kept with ``outside_grid`` True and a
        warning. None treats every point as outside.

    Returns
    -------
    requests : DataFrame
        Store columns, times as naive UTC, indexed by row number.
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing.

    """
    problems: list[Problem] = []
    crs = resolve_crs(frame, crs)
    cols = _canonical(frame, "requests", problems)
    rows = _Rows(cols, problems)
    table = store.request
    lon, lat = _points(rows, crs)
    category = rows.vocab_column("category", vocab.CATEGORIES, what="category", default=None,
                                 required=True)
    severity = rows.vocab_column("severity", vocab.SEVERITIES, what="severity",
                                 default="routine")
    status = rows.vocab_column("status", vocab.STATUSES, what="status", default="reported")
    route = rows.vocab_column("route", vocab.ROUTES, what="route", default=None)
    source = rows.vocab_column("source", vocab.SOURCES, what="source",
                               default=None if cols.has("source") else "miniprogram")
    satisfaction = rows.vocab_column("satisfaction", vocab.SATISFACTION, what="satisfaction",
                                     default=None)
    reported = rows.times("reported_at", required=True)
    due = rows.times("due_at")
    deadline = pd.to_timedelta(pd.Series(severity).map(
        {code: v[1] for code, v in vocab.SEVERITIES.items()}))
    due = due.fillna(reported + deadline)
    resolved = rows.times("resolved_at")
    closed = rows.times("closed_at")
    for col, when in (("due_at", due), ("resolved_at", resolved), ("closed_at", closed)):
        rows.flag((when < reported).to_numpy(dtype=bool), col, rows.text(col),
                  f"{col} is before reported_at")
    description = rows.text("description", strip=False)
    description = rows.max_length("description", description, MAX_DESCRIPTION, cut=True)
    address = rows.max_length("address", rows.text("address"), _max_len(table, "address"),
                              cut=True)
    reporter_name = rows.max_length("reporter_name", rows.text("reporter_name"),
                                    _max_len(table, "reporter_name"))
    reporter_phone = rows.max_length("reporter_phone", rows.text("reporter_phone"),
                                     _max_len(table, "reporter_phone"))
    external = rows.max_length("external_id", rows.text("external_id"),
                               _max_len(table, "external_id"))
    ext = (external.to_numpy(dtype=object, na_value=None) if external is not None
           else np.full(rows.n, None, dtype=object))
    # A stable id for rows without one, so importing the same file twice adds nothing.
    derive = np.flatnonzero(~rows.rejected & pd.isna(ext))
    if len(derive):
        desc = (description.to_numpy(dtype=object, na_value="") if description is not None
                else np.full(rows.n, "", dtype=object))
        stamps = reported.iloc[derive].dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy()
        ext[derive] = [
            "imp-" + hashlib.sha1(f"{t}|{x:.6f}|{y:.6f}|{c}|{d}".encode()).hexdigest()[:32]
            for t, x, y, c, d in zip(stamps, lon[derive], lat[derive], category[derive],
                                     desc[derive], strict=True)
        ]
    rows.duplicates("external_id", pd.Series(ext), among=~rows.rejected,
                    what="" if external is not None else
                    " (same time, place, category and description)")
    keep = ~rows.rejected
    grid_code = (grid_index.assign(lon[keep], lat[keep]) if grid_index is not None
                 else np.full(int(keep.sum()), None, dtype=object))
    outside = np.zeros(rows.n, dtype=bool)
    outside[np.flatnonzero(keep)[pd.isna(grid_code)]] = True
    where = ("geometry" if cols.geometry is not None
             else "lon/lat" if cols.has("lon") else "wkt")
    rows.flag(outside, where, lambda i: [f"{lon[j]:.6f}, {lat[j]:.6f}" for j in i],
              "point is outside every grid; kept for triage", severity="warning")
    out = pd.DataFrame({
        "external_id": ext[keep],
        "grid_code": grid_code,
        "outside_grid": outside[keep],
        "lon": lon[keep],
        "lat": lat[keep],
        "source_crs": _crs_label(crs),
        "source": source[keep],
        "category": category[keep],
        "severity": severity[keep],
        "route": route[keep],
        "status": status[keep],
        "reported_at": reported[keep].to_numpy(),
        "due_at": due[keep].to_numpy(),
        "resolved_at": resolved[keep].to_numpy(),
        "closed_at": closed[keep].to_numpy(),
        "satisfaction": satisfaction[keep],
        "address": _objects(address, keep),
        "description": _objects(description, keep),
        "reporter_name": _objects(reporter_name, keep),
        "reporter_phone": _objects(reporter_phone, keep),
    }, index=pd.Index(rows.numbers[keep], name="row"))
    return out, problems


def validate_stations(frame: pd.DataFrame, *, crs: str | None = None
                      ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check police station rows and return the valid ones for :func:`geo.store.write_stations`.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`: code, name, kind (派出所/警务站/警务室 or their codes), a
        point; optional officers, radius_m, address.
    crs : str, optional
        The coordinates' CRS; see :func:`resolve_crs`.

    Returns
    -------
    stations : DataFrame
        Store columns, indexed by row number; optional columns the file lacks are left out.
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing.

    """
    problems: list[Problem] = []
    crs = resolve_crs(frame, crs)
    cols = _canonical(frame, "stations", problems)
    rows = _Rows(cols, problems)
    table = store.station
    lon, lat = _points(rows, crs)
    code = rows.max_length("code", rows.code("code"), _max_len(table, "code"))
    present = rows.required("code", code)
    rows.duplicates("code", code, among=present)
    name = rows.max_length("name", rows.text("name"), _max_len(table, "name"))
    rows.required("name", name)
    kind = rows.vocab_column("kind", vocab.STATION_KINDS, what="station kind", default=None,
                             required=True)
    officers = rows.number_column("officers", integer=True)
    radius = rows.number_column("radius_m", minimum=1.0)
    address = rows.max_length("address", rows.text("address"), _max_len(table, "address"),
                              cut=True)
    keep = ~rows.rejected
    optional = {"officers": _int_objects(officers[keep]),
                "radius_m": _float_objects(radius[keep]), "address": _objects(address, keep)}
    out = pd.DataFrame({
        "code": _objects(code, keep),
        "name": _objects(name, keep),
        "kind": kind[keep],
        "lon": lon[keep],
        "lat": lat[keep],
        **{c: v for c, v in optional.items() if cols.has(c)},  # see validate_grids
        "source_crs": _crs_label(crs),
    }, index=pd.Index(rows.numbers[keep], name="row"))
    return out, problems


def validate_activities(frame: pd.DataFrame, *, known_grids: set[str],
                        crs: str | None = None, grid_index: GridIndex | None = None
                        ) -> tuple[pd.DataFrame, list[Problem]]:
    """Check volunteer activity rows; return the valid ones for :func:`geo.store.insert_activities`.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`read_table`: grid_code, date, title, volunteers, hours; optional points
        (default volunteers × hours) and external_id (derived when absent).
    known_grids : set of str
        Stored grid codes; an activity in another grid is rejected.
    crs : str, optional
        The CRS of a point, used only when the file has no grid_code column.
    grid_index : GridIndex, optional
        Finds the grid of each point when the file has no grid_code column.

    Returns
    -------
    activities : DataFrame
        Store columns (``date`` as datetime.date), indexed by row number.
    problems : list of Problem

    Raises
    ------
    ImportFileError
        A required column is missing.

    """
    problems: list[Problem] = []
    cols = _canonical(frame, "activities", problems)
    rows = _Rows(cols, problems)
    table = store.volunteer_activity
    if cols.has("grid_code"):
        grid = rows.code("grid_code")
        present = rows.required("grid_code", grid)
        grid_codes = grid.to_numpy(dtype=object, na_value=None)
        unknown = present & ~np.isin(grid_codes.astype(str), list(known_grids))
        rows.flag(unknown, "grid_code", grid, "unknown grid: no stored grid has this code")
    else:
        lon, lat = _points(rows, resolve_crs(frame, crs))
        grid_codes = np.full(rows.n, None, dtype=object)
        ok = ~rows.rejected
        if grid_index is not None:
            grid_codes[ok] = grid_index.assign(lon[ok], lat[ok])
        rows.flag(ok & pd.isna(grid_codes), "lon/lat",
                  lambda i: [f"{lon[j]:.6f}, {lat[j]:.6f}" for j in i],
                  "point is outside every grid; an activity needs a grid")
    day = rows.times("date", required=True, local=True)
    title = rows.max_length("title", rows.text("title"), _max_len(table, "title"))
    rows.required("title", title)
    volunteers = rows.number_column("volunteers", integer=True, required=True)
    hours = rows.number_column("hours", required=True)
    points = rows.number_column("points")
    points = np.where(np.isnan(points), volunteers * hours, points)
    external = rows.max_length("external_id", rows.text("external_id"),
                               _max_len(table, "external_id"))
    ext = (external.to_numpy(dtype=object, na_value=None) if external is not None
           else np.full(rows.n, None, dtype=object))
    derive = np.flatnonzero(~rows.rejected & pd.isna(ext))
    if len(derive):
        titles = title.to_numpy(dtype=object, na_value="")
        days = day.iloc[derive].dt.strftime("%Y-%m-%d").to_numpy()
        ext[derive] = [
            "imp-" + hashlib.sha1(f"{g}|{d}|{t}|{v:g}|{h:g}".encode()).hexdigest()[:32]
            for g, d, t, v, h in zip(grid_codes[derive], days, titles[derive],
                                     volunteers[derive], hours[derive], strict=True)
        ]
    rows.duplicates("external_id", pd.Series(ext), among=~rows.rejected,
                    what="" if external is not None else
                    " (same grid, date, title, volunteers and hours)")
    keep = ~rows.rejected
    out = pd.DataFrame({
        "external_id": ext[keep],
        "grid_code": grid_codes[keep],
        "date": day[keep].dt.date.to_numpy(dtype=object),
        "title": _objects(title, keep),
        "volunteers": _int_objects(volunteers[keep]),
        "hours": hours[keep],
        "points": points[keep],
    }, index=pd.Index(rows.numbers[keep], name="row"))
    return out, problems


def _objects(s: pd.Series | None, keep: np.ndarray) -> np.ndarray:
    """Plain Python strings/None for the kept rows (what DB drivers want)."""
    if s is None:
        return np.full(int(keep.sum()), None, dtype=object)
    return s.to_numpy(dtype=object, na_value=None)[keep]


def _int_objects(values: np.ndarray) -> np.ndarray:
    return np.array([None if np.isnan(v) else int(v) for v in values], dtype=object)


def _float_objects(values: np.ndarray) -> np.ndarray:
    return np.array([None if np.isnan(v) else float(v) for v in values], dtype=object)


# --------------------------------------------------------------------------- import

try:  # the raw-cursor bulk paths raise driver errors, not SQLAlchemy ones
    import psycopg

    _DB_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, sqlite3.Error, psycopg.Error)
except ImportError:  # pragma: no cover - PostgreSQL support not installed
    _DB_ERRORS = (SQLAlchemyError, sqlite3.Error)

_KEYS = {"grids": ("grid", "code"), "requests": ("request", "external_id"),
         "stations": ("station", "code"), "activities": ("volunteer_activity", "external_id")}


def import_file(engine: Engine, path: str | Path, *, kind: str, crs: str | None = None,
                dry_run: bool = False, progress: Progress | None = None,
                layer: str | None = None) -> ImportReport:
    """Read, validate and store one file; return the report.

    All valid rows (including rows with only warnings) are written in one transaction: if
    anything fails nothing is left behind. A file-level error writes nothing.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database to write to (and to read the stored grids from).
    path : str or Path
        CSV, Excel .xlsx, GeoJSON, GeoPackage or zipped Shapefile.
    kind : str
        ``"grids"``, ``"requests"``, ``"stations"`` or ``"activities"``.
    crs : str, optional
        The CRS of the file's coordinates (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``,
        ``EPSG:n``). None: the file's declared CRS, else WGS84 (see :func:`resolve_crs`).
    dry_run : bool
        Validate and report, write nothing. The report still counts rows already stored.
    progress : callable, optional
        ``progress(fraction, message)``, called as the import advances (0 to 1).
    layer : str, optional
        The layer of a multi-layer GeoPackage; default the first.

    Returns
    -------
    ImportReport
        ``ok()`` is False when the whole file was rejected (or the database refused the
        write, in which case nothing was written).

    """
    _check_kind(kind)
    started = time.perf_counter()

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(fraction, 0.0), 1.0), message)

    report = ImportReport(kind=kind, path=str(path), crs=crs or "wgs84", dry_run=dry_run)
    step(0.0, f"reading {Path(path).name}")
    try:
        frame = read_table(path, kind=kind, layer=layer)
        report.format = frame.attrs.get("format")
        report.encoding = frame.attrs.get("encoding")
        read_problems = frame.attrs.get("read_problems", [])
        report.crs = resolve_crs(frame, crs)
        report.rows_read = len(frame) + sum(p.row is not None for p in read_problems)
        step(0.2, f"validating {len(frame):,} rows")
        valid, problems = _validate(engine, frame, kind=kind, crs=report.crs)
    except ImportFileError as exc:
        return _failed(report, exc.problem, started, step)
    # File-level lines first, then by row; within a row, in the order checked.
    report.problems = sorted(read_problems + problems,
                             key=lambda p: (p.row is not None, p.row or 0))
    report.rows_valid = len(valid)
    step(0.6, f"{len(valid):,} valid rows")
    table, key = _KEYS[kind]
    keys = valid[key].tolist() if len(valid) else []
    if dry_run:
        stored = len(store.existing_keys(engine, table, key, keys)) if keys else 0
        if kind in ("grids", "stations"):
            report.rows_updated = stored
        else:
            report.rows_skipped_existing = stored
        report.seconds = time.perf_counter() - started
        step(1.0, "dry run: nothing written")
        return report
    try:
        with store.transaction(engine) as conn:
            if kind == "requests":
                inserted = 0
                for start in range(0, len(valid), WRITE_CHUNK):
                    inserted += store.bulk_insert_requests(
                        conn, valid.iloc[start:start + WRITE_CHUNK])
                    done = min(start + WRITE_CHUNK, len(valid))
                    step(0.6 + 0.4 * done / max(len(valid), 1),
                         f"written {done:,} of {len(valid):,}")
                report.rows_inserted = inserted
                report.rows_skipped_existing = len(valid) - inserted
            elif kind == "activities":
                inserted = store.insert_activities(conn, valid)
                report.rows_inserted = inserted
                report.rows_skipped_existing = len(valid) - inserted
            else:
                stored = len(store.existing_keys(conn, table, key, keys)) if keys else 0
                if kind == "grids":
                    store.write_grids(conn, valid)
                else:
                    store.write_stations(conn, valid)
                report.rows_updated = stored
                report.rows_inserted = len(valid) - stored
    except _DB_ERRORS as exc:
        report.rows_inserted = report.rows_updated = report.rows_skipped_existing = 0
        reason = f"database error, nothing was written: {str(exc).splitlines()[0][:300]}"
        return _failed(report, Problem(None, None, None, reason), started, step)
    report.seconds = time.perf_counter() - started
    step(1.0, "done")
    return report


def _failed(report: ImportReport, problem: Problem, started: float,
            step: Callable[[float, str], None]) -> ImportReport:
    if not problem.reason.startswith(Path(report.path).name):
        problem.reason = f"{Path(report.path).name}: {problem.reason}"
    report.file_error = problem
    report.problems.append(problem)
    report.seconds = time.perf_counter() - started
    step(1.0, "file rejected")
    return report


def _validate(engine: Engine, frame: pd.DataFrame, *, kind: str, crs: str
              ) -> tuple[pd.DataFrame, list[Problem]]:
    if kind == "grids":
        communities = store.read_admin_units(engine, level="community")
        known = set(communities["code"]) if len(communities) else None
        valid, problems = validate_grids(frame, crs=crs, known_communities=known)
        if known is None:
            problems.append(Problem(None, "community_code", None,
                                    "no community admin units stored; community codes "
                                    "not checked", "warning"))
        return valid, problems
    if kind == "stations":
        return validate_stations(frame, crs=crs)
    grids = store.read_grids(engine)
    index = GridIndex(grids)
    if kind == "requests":
        return validate_requests(frame, crs=crs, grid_index=index)
    return validate_activities(frame, known_grids=set(grids["code"]), crs=crs,
                               grid_index=index)
