"""Reading a file into a frame of text columns: sniffing, decoding and the formats.

:func:`read_table` trusts the content, not the name: the first bytes say whether a file is
CSV text, GeoJSON, a GeoPackage (SQLite), an Excel workbook or a zipped Shapefile (ZIP), and
a known extension must agree. CSV is decoded as UTF-8 (with or without BOM), else GB18030
(which covers GBK), or as UTF-16 when it starts with its BOM (Excel's "Unicode text", tab
separated); a Shapefile without a code page is tried the same way. Every reader
returns text columns indexed by the row number that problems cite, ``row``: for CSV and
Excel the line of the spreadsheet (the header is line 1, so the first data row is 2), for a
vector file the 1-based feature number.
"""

from __future__ import annotations

import codecs
import io
import re
import sqlite3
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.importer.reasons import Reason
from geo.importer.report import ImportFileError, Problem, check_kind
from geo.importer.rows import more_rows

_LABELS = {
    "csv": "CSV text",
    "xlsx": "an Excel workbook (.xlsx)",
    "geojson": "GeoJSON",
    "gpkg": "a GeoPackage",
    "shpzip": "a zipped Shapefile (a ZIP archive with a .shp inside)",
    "shp": "a Shapefile",
}
_LABELS_ZH = {
    "csv": " CSV 文本", "xlsx": " Excel 工作簿（.xlsx）", "geojson": " GeoJSON",
    "gpkg": " GeoPackage", "shpzip": "压缩的 Shapefile（内含 .shp 的 ZIP）", "shp": " Shapefile",
}
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
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: The number of a CSV or Excel file's first data row, as the spreadsheet shows it (the
#: header is line 1).
FIRST_ROW = 2
#: A header line longer than this is not a header (a real one with 100 Chinese column names
#: is a few kilobytes): refused before the file is read, in bounded memory.
MAX_HEADER_BYTES = 1 << 20
#: More columns than this is a wrong separator or not a table; the widest template has 30.
MAX_COLUMNS = 1000
#: Excel sheets longer than this are refused before pandas reads them (openpyxl takes about
#: 2 minutes for 300,000 rows); larger files come as CSV, which is read 100 times faster.
MAX_EXCEL_ROWS = 100_000
#: Formula cells without a saved value reported one by one; the rest in one line.
_MAX_FORMULA_CELLS = 20
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def read_table(path: str | Path, *, kind: str, layer: str | None = None) -> pd.DataFrame:
    """Sniff a file and read it into a frame of text columns.

    Parameters
    ----------
    path : str or Path
        A CSV, Excel .xlsx, GeoJSON, GeoPackage or zipped Shapefile. The content decides
        how it is read; a known extension must agree with the content.
    kind : str
        One of :data:`~geo.importer.report.KINDS`, used in messages.
    layer : str, optional
        The GeoPackage/Shapefile layer to read; default the first.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        Attribute columns as text (missing cells are NaN), indexed by the row number
        (``row``): the spreadsheet line for CSV/Excel (first data row 2), else the feature
        number from 1. Vector formats return a GeoDataFrame with the file's declared CRS.
        ``attrs`` holds ``format``, ``encoding`` (CSV), ``layer`` and ``read_problems`` (rows
        lost to malformed CSV lines, extra layers ignored).

    Raises
    ------
    ImportFileError
        The file is missing, empty, not what its name says, or cannot be read.

    """
    path = Path(path)
    name = path.name
    found = _sniffed(path, kind)
    read_problems: list[Problem] = []
    encoding = None
    if found == "csv":
        _check_header(path)
        frame, encoding = _read_csv(path, read_problems)
    elif found == "xlsx":
        formulas = _scan_excel(path)
        frame = _read_excel(path)
        read_problems.extend(_formula_problems(formulas, frame))
    else:
        frame, layer, encoding = _read_vector(path, found, layer, read_problems)
    if frame.empty:
        what = "features" if found in ("geojson", "gpkg", "shpzip", "shp") else "data rows"
        header = bool(len(frame.columns))
        raise ImportFileError(Reason("file_no_rows", name=name, what=what, kind=kind,
                                     detail="（只有表头）" if header else "",
                                     detail_en=" (only a header)" if header else ""))
    if frame.index.name != "row":
        first = FIRST_ROW if found in ("csv", "xlsx") else 1
        frame.index = pd.RangeIndex(first, len(frame) + first, name="row")
    frame.attrs.update(format=found, encoding=encoding, layer=layer,
                       read_problems=read_problems)
    return frame


def _sniffed(path: Path, kind: str) -> str:
    """Return the format of ``path`` from its content, or refuse the file."""
    check_kind(kind)
    name = path.name
    if not path.is_file():
        raise ImportFileError(f"{name}: file not found ({path})")
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.replace(_BOM, b"").strip():
        raise ImportFileError(Reason("file_empty", name=name, detail_en=" (0 bytes)" if not head
                                     else " (only white space)"))
    found, found_label = _sniff(path, head)
    expected = _SUFFIXES.get(path.suffix.lower())
    if expected is not None and found != expected:
        raise ImportFileError(Reason("file_mismatch", name=name, suffix=path.suffix,
                                     expected=_LABELS_ZH[expected],
                                     expected_en=_LABELS[expected], found=found_label))
    if found is None:
        raise ImportFileError(Reason("file_unsupported", name=name, found=found_label))
    return found


def read_chunks(path: str | Path, *, kind: str, rows: int, layer: str | None = None
                ) -> Iterator[pd.DataFrame]:
    """Read a file as frames of at most ``rows`` rows each, as :func:`read_table` reads it.

    CSV text (UTF-8 or GB18030) is streamed: memory follows ``rows``, not the file's length.
    Other formats (UTF-16 text, Excel, vector files) come as one frame. Every frame carries
    ``attrs`` as :func:`read_table` documents, its own ``read_problems`` (the malformed lines
    within it) and ``lines``, the file's line count (for progress; 0 when not streamed).

    The file-level checks (missing, empty, not what its name says, a runaway header, an
    undecodable byte) run before this returns, so a refused file raises here, before any
    row is taken. A line pandas cannot parse raises :class:`ImportFileError` from the
    iteration.
    """
    path = Path(path)
    found = _sniffed(path, kind)
    with path.open("rb") as fh:
        utf16 = fh.read(2).startswith(_UTF16_BOMS)
    if found != "csv" or utf16:
        frame = read_table(path, kind=kind, layer=layer)
        frame.attrs["lines"] = 0
        return iter([frame])
    _check_header(path)
    encoding, codec, lines = _scan_text(path)
    frames = _csv_frames(path, rows=rows, encoding=encoding, codec=codec,
                         lines=lines)
    return _not_empty(frames, name=path.name, kind=kind)


def _not_empty(frames: Iterator[pd.DataFrame], *, name: str, kind: str
               ) -> Iterator[pd.DataFrame]:
    """Pass the frames on; refuse a file whose first frame has no rows (only a header)."""
    for i, frame in enumerate(frames):
        if i == 0 and frame.empty:
            raise ImportFileError(Reason("file_no_rows", name=name, what="data rows", kind=kind,
                                         detail="（只有表头）", detail_en=" (only a header)"))
        yield frame


def _sniff(path: Path, head: bytes) -> tuple[str | None, str]:
    """Return (format or None, what the content looks like in words)."""
    if head.startswith(_UTF16_BOMS):  # Excel's "Unicode text": UTF-16 with tabs
        return "csv", "UTF-16 text"
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
    with path.open("rb") as fh:
        utf16 = fh.read(2).startswith(_UTF16_BOMS)
    if not utf16:
        encoding, codec, lines = _scan_text(path)
        frames = list(_csv_frames(path, rows=_WHOLE, encoding=encoding, codec=codec,
                                  lines=lines))
        for frame in frames:
            read_problems.extend(frame.attrs["read_problems"])
        whole = pd.concat(frames) if len(frames) > 1 else frames[0]
        return whole, encoding
    # Excel saves "Unicode text" as UTF-16 with a BOM, tab-separated: decoded whole (rare, and
    # never the million-row export).
    try:
        text = path.read_bytes().decode("utf-16").encode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path.name}: damaged UTF-16 text (bad bytes at position "
                              f"{exc.start}); save the file as UTF-8 CSV") from None
    frames = list(_csv_frames(io.BytesIO(text), rows=_WHOLE,
                              encoding="UTF-16 (BOM)", codec="utf-8", lines=0, name=path.name))
    read_problems.extend(frames[0].attrs["read_problems"])
    return frames[0], "UTF-16 (BOM)"


#: Rows per frame when a CSV is read whole.
_WHOLE = 1 << 62
#: Bytes per read while the encoding is checked.
_BLOCK = 1 << 20


def _scan_text(path: Path) -> tuple[str, str, int]:
    """Choose the encoding by decoding the whole file, block by block; count its lines.

    Returns (label, codec, lines). UTF-8 (with or without BOM) first, else GB18030 (which
    covers GBK): a GBK file often starts with plain ASCII headers, so the first kilobytes
    prove nothing.
    """
    def fits(codec: str) -> tuple[int | None, int]:
        decoder = codecs.getincrementaldecoder(codec)()
        done = lines = 0
        with path.open("rb") as fh:
            while block := fh.read(_BLOCK):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    return done + exc.start, lines
                done += len(block)
                lines += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return done, lines
        return None, lines

    bad_at, lines = fits("utf-8")
    if bad_at is None:
        with path.open("rb") as fh:
            bom = fh.read(3) == _BOM
        return ("UTF-8 (BOM)", "utf-8-sig", lines) if bom else ("UTF-8", "utf-8", lines)
    if fits("gb18030")[0] is None:
        return "GB18030", "gb18030", lines
    raise ImportFileError(f"{path.name}: the text is neither UTF-8 nor GB18030/GBK (bad byte "
                          f"at position {bad_at}); save the file as UTF-8 CSV")


def _csv_frames(source: Path | io.BytesIO, *, rows: int, encoding: str,
                codec: str, lines: int, name: str | None = None) -> Iterator[pd.DataFrame]:
    """Yield the CSV's rows as text frames of at most ``rows``, numbered as the file's lines.

    pandas skips a line with too many fields and warns "Skipping line N" (N counts the
    file's lines, across chunks); each becomes a rejected row, and the numbers of the rows
    around it stay those of the file.
    """
    name = name or (source.name if isinstance(source, Path) else "file")
    if isinstance(source, Path):
        with source.open("rb") as fh:
            head = fh.read(4096)
    else:
        head = source.getvalue()[:4096]
    first_line = head.split(b"\n", 1)[0]
    sep = max([b",", b"\t", b";", b"|"], key=first_line.count).decode()
    try:
        reader = pd.read_csv(source, dtype=str, sep=sep, encoding=codec, keep_default_na=False,
                             na_values=[""], on_bad_lines="warn", chunksize=min(rows, 1 << 30))
    except pd.errors.EmptyDataError:
        raise ImportFileError(f"{name}: the file is empty (no header)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ImportFileError(f"{name}: not readable as CSV: {exc}") from None
    next_row = FIRST_ROW
    with reader:
        while True:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    frame = next(reader)
                except StopIteration:
                    return
                except (pd.errors.ParserError, ValueError) as exc:
                    raise ImportFileError(f"{name}: not readable as CSV: {exc}") from None
            problems: list[Problem] = []
            skipped: list[int] = []
            for w in caught:
                for line, why in re.findall(r"Skipping line (\d+): ([^\n]*)", str(w.message)):
                    skipped.append(int(line))
                    problems.append(Problem(int(line), None, None,
                                            Reason("malformed_line", detail=why.strip())))
            numbers = np.arange(next_row, next_row + len(frame) + len(skipped))
            numbers = numbers[~np.isin(numbers, skipped)][: len(frame)]
            next_row += len(frame) + len(skipped)
            frame.index = pd.Index(numbers, name="row")
            frame.attrs.update(format="csv", encoding=encoding, layer=None,
                               read_problems=problems, lines=lines)
            yield frame


def _check_header(path: Path) -> None:
    """Refuse a CSV whose first line is not a plausible header, reading at most 1 MiB."""
    with path.open("rb") as fh:
        head = fh.read(MAX_HEADER_BYTES + 1)
    end = head.find(b"\n")
    if end < 0 and len(head) > MAX_HEADER_BYTES:
        raise ImportFileError(Reason("header_too_long", name=path.name, limit=MAX_HEADER_BYTES))
    line = head if end < 0 else head[:end]
    if line.startswith(_UTF16_BOMS):
        line = line.decode("utf-16", errors="replace").encode("utf-8")
    columns = 1 + max(line.count(sep) for sep in (b",", b"\t", b";", b"|"))
    if columns > MAX_COLUMNS:
        raise ImportFileError(Reason("too_many_columns", name=path.name, n=columns,
                                     limit=MAX_COLUMNS))


def _scan_excel(path: Path) -> list[tuple[str, str]]:
    """Stream the first sheet's XML once; return its formula cells with no saved value.

    Refuses a sheet past :data:`MAX_EXCEL_ROWS` rows before pandas reads it. The cells come
    as (reference, formula).

    openpyxl (under pandas) reads a cached value or nothing: a workbook written by a program
    that does not calculate (or saved with calculation off) would be stored empty, silently.
    """
    from xml.etree import ElementTree

    try:
        with zipfile.ZipFile(path) as zf:
            sheet = _first_sheet(zf)
            if sheet is None:
                return []  # pandas names what is missing
            rows, cells = 0, []
            with zf.open(sheet) as fh:
                for _, elem in ElementTree.iterparse(fh, events=("end",)):
                    tag = elem.tag
                    if tag == f"{_SHEET_NS}c":
                        formula = elem.find(f"{_SHEET_NS}f")
                        value = elem.find(f"{_SHEET_NS}v")
                        # No <v>, or an empty one that is not a formula's empty text.
                        if formula is not None and (value is None or (
                                not value.text and elem.get("t") != "str")):
                            cells.append((elem.get("r", "?"), f"={formula.text or ''}"))
                    elif tag == f"{_SHEET_NS}row":
                        rows += 1
                        if rows > MAX_EXCEL_ROWS + 1:  # + the header
                            raise ImportFileError(Reason("excel_too_many_rows", name=path.name,
                                                         limit=MAX_EXCEL_ROWS))
                        elem.clear()  # keeps memory flat on a long sheet
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        return []  # a damaged workbook: openpyxl's own message follows
    return cells


def _first_sheet(zf: zipfile.ZipFile) -> str | None:
    """Return the archive member of the first sheet (what ``sheet_name=0`` reads)."""
    from xml.etree import ElementTree

    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    first = book.find(f"{_SHEET_NS}sheets/{_SHEET_NS}sheet")
    if first is None:
        return None
    rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == first.get(f"{rel_ns}id"):
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _formula_problems(cells: list[tuple[str, str]], frame: pd.DataFrame) -> list[Problem]:
    """Warnings for formula cells read as empty, with the row and the column's header."""
    problems = []
    for ref, formula in cells[:_MAX_FORMULA_CELLS]:
        letters = re.match(r"[A-Z]+", ref)
        number = re.search(r"\d+", ref)
        col = 0
        for ch in letters.group() if letters else "":
            col = col * 26 + ord(ch) - 64
        field = str(frame.columns[col - 1]) if 0 < col <= len(frame.columns) else None
        row = int(number.group()) if number else None
        problems.append(Problem(None if row == 1 else row, field, formula[:60],
                                Reason("excel_formula_no_value", cell=ref,
                                       formula=formula[:40]), "warning"))
    if len(cells) > _MAX_FORMULA_CELLS:
        problems.append(Problem(None, None, None, more_rows(
            len(cells) - _MAX_FORMULA_CELLS,
            Reason("excel_formula_no_value", cell="…", formula="…")), "warning"))
    return problems


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
