"""Tests for geo.importer: reading, validation, CRS conversion and transactional writes."""

import sqlite3
import warnings
import zipfile
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geo import coords, importer
from geo.grids import GridIndex
from geo.importer import ImportFileError, import_file, read_table
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import schema as store_schema

COMMUNITY = "430903003001"
CODES = [f"{COMMUNITY}{i:03d}" for i in range(1, 5)]
# Centres of the four grids: 001 NW, 002 NE, 003 SW, 004 SE (west→east, north→south).
CENTRES = {CODES[0]: (112.305, 28.565), CODES[1]: (112.315, 28.565),
           CODES[2]: (112.305, 28.555), CODES[3]: (112.315, 28.555)}
REQUEST_HEADER = "external_id,lon,lat,category,severity,reported_at,description"


def square(x0, y0, size=0.01):
    return shapely.Polygon([(x0, y0), (x0 + size, y0), (x0 + size, y0 + size),
                            (x0, y0 + size)])


def literal_grids():
    return gpd.GeoDataFrame(
        {"code": CODES, "name": [f"资阳网格{i}" for i in range(1, 5)],
         "community_code": COMMUNITY, "population": [800, 950, 700, 1200]},
        geometry=[square(112.30, 28.56), square(112.31, 28.56), square(112.30, 28.55),
                  square(112.31, 28.55)],
        crs=4326,
    )


@pytest.fixture
def grids(engine):
    g = literal_grids()
    # The column is MULTIPOLYGON: PostGIS refuses a plain Polygon (SQLite would not notice).
    g = g.set_geometry(g.geometry.apply(lambda p: shapely.MultiPolygon([p])))
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, g)
    return g


@pytest.fixture
def grid_index():
    return GridIndex(literal_grids())


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def requests_csv(tmp_path, rows, name="requests.csv", header=REQUEST_HEADER, encoding="utf-8"):
    return write(tmp_path / name, "\n".join([header, *rows]) + "\n", encoding)


def stored_requests(engine):
    request = store_schema.request
    return store_engine.read_frame(engine, request.select().order_by(request.c.id))


def problems_at(problems, row):
    return [p for p in problems if p.row == row]


def zip_shapefile(gdf, tmp_path, stem="layer", *, cpg=True, **kwargs):
    folder = tmp_path / f"shp_{stem}"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "column names cut to 10 characters": on purpose
        gdf.to_file(folder / f"{stem}.shp", engine="pyogrio", **kwargs)
    if not cpg:
        (folder / f"{stem}.cpg").unlink()
    out = tmp_path / f"{stem}.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    return out


# ---------------------------------------------------------------------------- reading


def test_csv_read_as_text_numbered_as_the_spreadsheet_shows(tmp_path):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x",
                                   "R2,112.315,28.555,road,routine,2024-05-02 09:00,y"])
    frame = read_table(path, kind="requests")
    assert list(frame.index) == [2, 3]  # the header is line 1
    assert frame.index.name == "row"
    assert frame.loc[3, "external_id"] == "R2"
    assert frame.loc[2, "lon"] == "112.305"  # text, not float: the validators parse it
    assert frame.attrs["format"] == "csv"
    assert frame.attrs["encoding"] == "UTF-8"


def test_gbk_csv_is_read_and_encoding_reported(tmp_path):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,矛盾纠纷,揪心事,2024-05-01 08:30,邻里吵架"],
                        encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the fixture really is not UTF-8
    frame = read_table(path, kind="requests")
    assert frame.attrs["encoding"] == "GB18030"
    assert frame.loc[2, "category"] == "矛盾纠纷"
    assert frame.loc[2, "description"] == "邻里吵架"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_with_tabs_is_read(tmp_path, codec):
    bom = "\ufeff".encode(codec)
    text = "编号\t经度\t纬度\t类别\t上报时间\r\nW1\t112.305\t28.565\t道路交通\t2024-05-01 08:30\r\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(bom + text.encode(codec))
    frame = read_table(path, kind="requests")
    assert frame.attrs["encoding"] == "UTF-16 (BOM)"
    assert list(frame.columns) == ["编号", "经度", "纬度", "类别", "上报时间"]
    assert frame.loc[2, "类别"] == "道路交通"


def test_header_line_without_end_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(importer.read, "MAX_HEADER_BYTES", 64)
    path = write(tmp_path / "bomb.csv", "a" + ",a" * 100)  # no line end in the first 64 bytes
    with pytest.raises(ImportFileError) as refused:
        read_table(path, kind="requests")
    assert refused.value.problem.code == "header_too_long"
    assert "bomb.csv" in str(refused.value) and "64 bytes" in str(refused.value)


def test_header_with_too_many_columns_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(importer.read, "MAX_COLUMNS", 3)
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x"])
    with pytest.raises(ImportFileError) as refused:
        read_table(path, kind="requests")
    assert refused.value.problem.params["n"] == 7
    assert "7 columns (at most 3)" in str(refused.value)


def _workbook(path, rows):
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_long_excel_sheet_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(importer.read, "MAX_EXCEL_ROWS", 2)
    header = REQUEST_HEADER.split(",")
    row = ["R1", 112.305, 28.565, "dispute", "urgent", "2024-05-01 08:30", "x"]
    ok = _workbook(tmp_path / "two.xlsx", [header, row, row])
    assert len(read_table(ok, kind="requests")) == 2
    long = _workbook(tmp_path / "three.xlsx", [header, row, row, row])
    with pytest.raises(ImportFileError) as refused:
        read_table(long, kind="requests")
    assert refused.value.problem.code == "excel_too_many_rows"
    assert "more than 2 rows" in str(refused.value) and "CSV" in str(refused.value)


def test_excel_formula_without_saved_value_is_a_warning(engine, grids, tmp_path):
    # openpyxl writes formulas without calculating them, as many report generators do.
    header = REQUEST_HEADER.split(",")
    path = _workbook(tmp_path / "formulas.xlsx", [
        header,
        ["F1", "=112+0.305", 28.565, "dispute", "urgent", "2024-05-01 08:30", "x"],
        ["F2", 112.305, 28.565, "dispute", "urgent", "2024-05-01 08:30", "y"],
    ])
    report = import_file(engine, path, kind="requests")
    [warning] = [p for p in report.problems if p.severity == "warning"]
    assert (warning.row, warning.field, warning.value) == (2, "lon", "=112+0.305")
    assert warning.code == "excel_formula_no_value" and "cell B2" in warning.reason
    # The empty cell then fails as empty; the other row is stored; nothing counted twice.
    assert (report.rows_read, report.rows_inserted) == (2, 1)


def test_utf8_bom_csv_header_is_clean(tmp_path):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x"],
                        encoding="utf-8-sig")
    frame = read_table(path, kind="requests")
    assert frame.attrs["encoding"] == "UTF-8 (BOM)"
    assert frame.columns[0] == "external_id"


def test_bytes_neither_utf8_nor_gbk_rejected(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(b"code,name\n\xff\xfe\x80\x80,\x80abc\n")
    with pytest.raises(ImportFileError) as err:
        read_table(path, kind="grids")
    reason = err.value.problem.reason
    assert "garbage.csv" in reason and "UTF-8" in reason and "GBK" in reason
    assert err.value.problem.row is None


def _empty_xlsx(path):
    pd.DataFrame(columns=["external_id", "lon", "lat"]).to_excel(path, index=False)


@pytest.mark.parametrize(("name", "make", "word"), [
    ("zero.csv", lambda p: p.write_bytes(b""), "0 bytes"),
    ("blank.csv", lambda p: p.write_bytes(b"  \n\n"), "empty"),
    ("header.csv", lambda p: p.write_text(REQUEST_HEADER + "\n"), "only a header"),
    ("none.geojson",
     lambda p: p.write_text('{"type": "FeatureCollection", "features": []}'), "no features"),
    ("header.xlsx", _empty_xlsx, "no data rows"),
])
def test_empty_file_rejected(tmp_path, name, make, word):
    path = tmp_path / name
    make(path)
    with pytest.raises(ImportFileError) as err:
        read_table(path, kind="requests")
    assert name in err.value.problem.reason
    assert word in err.value.problem.reason


def _zip_with_text(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")


def _plain_sqlite(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()


@pytest.mark.parametrize(("name", "make", "expected", "found"), [
    ("grids.geojson", lambda p: p.write_text("code,name\n1,a\n"), "GeoJSON", "not JSON"),
    ("grids.geojson", lambda p: p.write_text('{"rows": [1, 2]}'), "GeoJSON",
     "JSON that is not GeoJSON"),
    ("requests.xlsx", lambda p: p.write_text("code,name\n1,a\n"), "Excel", "text"),
    ("grids.gpkg", lambda p: p.write_text("code,name\n1,a\n"), "GeoPackage", "text"),
    ("grids.gpkg", _plain_sqlite, "GeoPackage", "not a GeoPackage"),
    ("grids.zip", _zip_with_text, "zipped Shapefile", "no .shp"),
    ("requests.csv", _zip_with_text, "CSV", "ZIP archive"),
    ("requests.csv", lambda p: p.write_bytes(b"%PDF-1.4\n..."), "CSV", "PDF"),
    ("requests.xlsx", lambda p: p.write_bytes(b"\x00\x01\x02binary"), "Excel", "binary"),
])
def test_file_not_what_its_name_says(tmp_path, name, make, expected, found):
    path = tmp_path / name
    make(path)
    with pytest.raises(ImportFileError) as err:
        read_table(path, kind="grids")
    reason = err.value.problem.reason
    assert reason.startswith(name)
    assert f"expected {expected}" in reason or expected in reason.split("but found")[0]
    assert found in reason.split("but found")[1]


def test_malformed_csv_line_rejected_and_rows_stay_aligned(tmp_path):
    path = requests_csv(tmp_path, [
        "R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x",
        "R2,112.315,28.555,road,routine,2024-05-02 09:00,y,surplus,fields",
        "R3,112.315,28.555,noise,routine,2024-05-02 09:00,z",
    ])
    frame = read_table(path, kind="requests")
    assert list(frame.index) == [2, 4]
    assert frame.loc[4, "external_id"] == "R3"
    [bad] = frame.attrs["read_problems"]
    assert bad.row == 3 and "malformed" in bad.reason


# ---------------------------------------------------------------------------- columns


def test_chinese_headers_accepted(tmp_path, grid_index):
    path = requests_csv(tmp_path,
                        ["W1,112.305,28.565,道路交通,烦心事,受理,热线,2024-05-01 08:30,路灯坏了"],
                        header="编号,经度,纬度,类别,紧急程度,状态,来源,上报时间,描述")
    valid, problems = importer.validate_requests(read_table(path, kind="requests"),
                                                 grid_index=grid_index)
    assert problems == []
    row = valid.loc[2]
    assert (row.external_id, row.category, row.severity, row.status, row.source) == (
        "W1", "road", "pressing", "accepted", "hotline")
    assert row.description == "路灯坏了"
    assert row.grid_code == CODES[0]


def test_missing_required_column_lists_missing_and_available(tmp_path, grid_index):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,2024-05-01 08:30"],
                        header="external_id,经度,纬度,reported_at")
    with pytest.raises(ImportFileError) as err:
        importer.validate_requests(read_table(path, kind="requests"), grid_index=grid_index)
    reason = err.value.problem.reason
    assert "missing required column: category" in reason
    assert "The file has: external_id, 经度, 纬度, reported_at" in reason


def test_unknown_extra_column_is_one_warning_and_ignored(tmp_path, grid_index):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x,1",
                                   "R2,112.315,28.555,road,routine,2024-05-02 09:00,y,2"],
                        header=REQUEST_HEADER + ",weather")
    valid, problems = importer.validate_requests(read_table(path, kind="requests"),
                                                 grid_index=grid_index)
    assert len(valid) == 2
    assert "weather" not in valid.columns
    [warning] = problems
    assert (warning.row, warning.field, warning.severity) == (None, "weather", "warning")
    assert "unknown column" in warning.reason


def test_grids_from_csv_need_a_wkt_column(tmp_path):
    path = write(tmp_path / "grids.csv", f"code,name\n{CODES[0]},网格一\n")
    with pytest.raises(ImportFileError) as err:
        importer.validate_grids(read_table(path, kind="grids"))
    assert "wkt" in err.value.problem.reason and "polygon" in err.value.problem.reason


# ---------------------------------------------------------------------------- request rows

GOOD = {"external_id": "G1", "lon": "112.305", "lat": "28.565", "category": "dispute",
        "severity": "urgent", "reported_at": "2024-05-01 08:30", "description": "ok"}


@pytest.mark.parametrize(("changes", "field", "word"), [
    ({"lon": "abc"}, "lon", "not a number"),
    ({"lat": ""}, "lat", "missing"),
    ({"lon": "2.35", "lat": "48.85"}, "lon/lat", "outside China"),
    ({"lon": "28.565", "lat": "112.305"}, "lon/lat", "swapped"),
    ({"category": "bogus"}, "category", "unknown category"),
    ({"category": ""}, "category", "missing"),
    ({"severity": "very"}, "severity", "unknown severity"),
    ({"status": "lost"}, "status", "unknown status"),
    ({"route": "by air"}, "route", "unknown route"),
    ({"source": "fax"}, "source", "unknown source"),
    ({"satisfaction": "meh"}, "satisfaction", "unknown satisfaction"),
    ({"reported_at": "yesterday"}, "reported_at", "not a date"),
    ({"reported_at": ""}, "reported_at", "missing"),
    ({"due_at": "soon"}, "due_at", "not a date"),
    ({"due_at": "2024-04-30 08:30"}, "due_at", "before reported_at"),
    ({"resolved_at": "2024-04-30 08:30"}, "resolved_at", "before reported_at"),
    ({"external_id": "X" * 65}, "external_id", "longer than 64"),
    ({"reporter_phone": "1" * 40}, "reporter_phone", "longer than 32"),
])
def test_bad_request_row_rejected_with_row_field_reason(changes, field, word, grid_index):
    bad = {**GOOD, "external_id": "G2", **changes}
    frame = pd.DataFrame([GOOD, bad], dtype="str").replace("", np.nan)
    frame.index = pd.RangeIndex(1, 3, name="row")
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert list(valid.index) == [1]
    assert problems_at(problems, 1) == []
    [problem] = [p for p in problems_at(problems, 2) if p.severity == "error"]
    assert problem.field == field
    assert word in problem.reason
    if changes.get(field.split("/")[0]):
        assert problem.value is not None and problem.value.startswith(changes[
            field.split("/")[0]][:20])


def test_duplicate_external_id_keeps_first(tmp_path, grid_index):
    path = requests_csv(tmp_path, [
        "A,112.305,28.565,dispute,urgent,2024-05-01 08:30,first",
        "B,112.315,28.565,road,routine,2024-05-01 09:30,other",
        "A,112.305,28.565,dispute,urgent,2024-05-01 08:30,resent",
    ])
    valid, problems = importer.validate_requests(read_table(path, kind="requests"),
                                                 grid_index=grid_index)
    assert list(valid.external_id) == ["A", "B"]
    assert valid.loc[2, "description"] == "first"
    [dup] = problems
    assert (dup.row, dup.field, dup.value) == (4, "external_id", "A")
    assert "duplicate of row 2" in dup.reason


def test_missing_external_id_derived_stably(tmp_path, grid_index):
    header = "lon,lat,category,reported_at,description"
    rows = ["112.305,28.565,dispute,2024-05-01 08:30,吵架",
            "112.305,28.565,dispute,2024-05-01 08:30,吵架",  # the same report twice
            "112.305,28.565,dispute,2024-05-01 08:30,另一件事"]
    path = requests_csv(tmp_path, rows, header=header)
    first, problems = importer.validate_requests(read_table(path, kind="requests"),
                                                 grid_index=grid_index)
    again, _ = importer.validate_requests(read_table(path, kind="requests"),
                                          grid_index=grid_index)
    assert list(first.external_id) == list(again.external_id)
    assert list(first.index) == [2, 4]
    assert first.external_id.str.startswith("imp-").all()
    assert first.external_id.nunique() == 2
    [dup] = problems
    assert dup.row == 3 and "duplicate of row 2" in dup.reason


def test_times_shanghai_local_and_offsets_to_naive_utc(grid_index):
    frame = pd.DataFrame({
        "lon": "112.305", "lat": "28.565", "category": "road",
        "severity": ["urgent", "routine", "pressing", "urgent"],
        "reported_at": ["2024-05-01 08:30", "2024-05-01T08:30:00+00:00",
                        "2024年5月1日 8时30分", "2024-05-01T10:30:00+10:00"],
        "due_at": [None, "2024-05-02 20:00", None, None],
        "description": ["a", "b", "c", "d"],  # else rows 1, 3, 4 are one report resent
    })
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert problems == []
    assert list(valid.reported_at) == [pd.Timestamp("2024-05-01 00:30"),
                                       pd.Timestamp("2024-05-01 08:30"),
                                       pd.Timestamp("2024-05-01 00:30"),
                                       pd.Timestamp("2024-05-01 00:30")]
    assert valid.reported_at.dt.tz is None
    # Default deadlines by severity in working time (geo.deadlines); a given due_at is
    # Shanghai time too. Urgent: 24 calendar hours. Pressing: 3 working days after the
    # day of the report; 2024-05-01..05 is the Labour Day holiday, so 05-06, 05-07 and
    # 05-08, due at 17:00 Shanghai (09:00 UTC).
    assert list(valid.due_at) == [pd.Timestamp("2024-05-02 00:30"),
                                  pd.Timestamp("2024-05-02 12:00"),
                                  pd.Timestamp("2024-05-08 09:00"),
                                  pd.Timestamp("2024-05-02 00:30")]


def test_defaults_for_severity_status_source(grid_index):
    frame = pd.DataFrame({"lon": ["112.305"], "lat": ["28.565"], "category": ["road"],
                          "reported_at": ["2024-05-01 08:30"]})
    valid, _ = importer.validate_requests(frame, grid_index=grid_index)
    row = valid.iloc[0]
    assert (row.severity, row.status, row.source) == ("routine", "reported", "miniprogram")
    # Routine: 7 working days after 2024-05-01 (Labour Day, off until 05-05): 05-06..05-10,
    # Saturday 05-11 (a 调休 make-up working day) and Monday 05-13, 17:00 Shanghai.
    assert row.due_at == pd.Timestamp("2024-05-13 09:00")
    frame["source"] = [None]  # the column is there but blank: unknown, not miniprogram
    valid, _ = importer.validate_requests(frame, grid_index=grid_index)
    assert pd.isna(valid.source.iloc[0])


def test_description_nul_stripped_and_long_text_cut(grid_index):
    frame = pd.DataFrame({"lon": "112.305", "lat": "28.565", "category": "road",
                          "reported_at": "2024-05-01 08:30",
                          "description": ["<b>路\x00灯</b>", "长" * 5000],
                          "address": ["a\x00b", "c"]})
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert len(valid) == 2
    assert valid.description[1] == "<b>路灯</b>"  # stored as is, minus the NUL
    assert valid.address[1] == "ab"
    assert len(valid.description[2]) == importer.MAX_DESCRIPTION
    [warning] = problems
    assert (warning.row, warning.field, warning.severity) == (2, "description", "warning")
    assert "4,000" in warning.reason


def test_outside_grid_point_kept_with_warning(grid_index):
    frame = pd.DataFrame({"external_id": ["in", "out"], "lon": ["112.305", "112.9"],
                          "lat": ["28.565", "28.9"], "category": "road",
                          "reported_at": "2024-05-01 08:30"})
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert list(valid.external_id) == ["in", "out"]
    assert list(valid.outside_grid) == [False, True]
    assert pd.isna(valid.grid_code[2])
    [warning] = problems
    assert (warning.row, warning.field, warning.severity) == (2, "lon/lat", "warning")
    assert "outside every grid" in warning.reason


def test_many_identical_problems_are_summarised(grid_index):
    n = importer.MAX_PROBLEMS_PER_REASON + 5
    frame = pd.DataFrame({"lon": ["x"] * n, "lat": "28.5", "category": "road",
                          "reported_at": "2024-05-01"})
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert valid.empty
    assert len(problems) == importer.MAX_PROBLEMS_PER_REASON + 1
    assert problems[-1].row is None and "5 more rows" in problems[-1].reason


def test_point_geometry_problems(grid_index):
    frame = gpd.GeoDataFrame(
        {"external_id": ["P1", "P2", "P3"], "category": "road", "reported_at": "2024-05-01"},
        geometry=[shapely.Point(CENTRES[CODES[0]]), None, square(112.30, 28.55)], crs=4326)
    frame.index = pd.RangeIndex(1, 4, name="row")
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert list(valid.external_id) == ["P1"]
    by_row = {p.row: p for p in problems}
    assert by_row[2].field == "geometry" and "empty geometry" in by_row[2].reason
    assert by_row[3].field == "geometry" and "expected a point" in by_row[3].reason


def test_infinite_point_is_not_called_outside_china(grid_index):
    frame = gpd.GeoDataFrame(
        {"external_id": ["P1", "P2"], "category": "road", "reported_at": "2024-05-01"},
        geometry=[shapely.Point(CENTRES[CODES[0]]), shapely.Point(np.inf, 28.5)], crs=4326)
    frame.index = pd.RangeIndex(1, 3, name="row")
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert list(valid.external_id) == ["P1"]
    [problem] = problems
    assert (problem.row, problem.field, problem.code) == (2, "geometry",
                                                          "coordinate_not_finite")


def test_file_grid_code_column_ignored_for_requests(grid_index):
    frame = pd.DataFrame({"lon": ["112.305"], "lat": ["28.565"], "category": ["road"],
                          "reported_at": ["2024-05-01"], "网格编码": [CODES[3]]})
    valid, problems = importer.validate_requests(frame, grid_index=grid_index)
    assert valid.grid_code.iloc[0] == CODES[0]  # from the point, not the file
    [warning] = problems
    assert warning.field == "网格编码" and "assigned from the point" in warning.reason


# ---------------------------------------------------------------------------- grid rows

BOW_TIE = "POLYGON ((112.30 28.55, 112.31 28.56, 112.31 28.55, 112.30 28.56, 112.30 28.55))"


def grid_frame(rows):
    frame = pd.DataFrame(rows, columns=["code", "name", "wkt", "population"], dtype="str")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame


GOOD_GRID = [CODES[0], "网格一", square(112.30, 28.56).wkt, "800"]


@pytest.mark.parametrize(("changes", "field", "word"), [
    ({0: "12345"}, "code", "15 digits"),
    ({0: f"{COMMUNITY}000"}, "code", "000"),
    ({0: None}, "code", "missing"),
    ({1: None}, "name", "missing"),
    ({2: "POINT (112.305 28.565)"}, "wkt", "polygon"),
    ({2: "POLYGON ((112.3"}, "wkt", "WKT"),
    ({2: "POLYGON EMPTY"}, "wkt", "empty geometry"),
    ({2: None}, "wkt", "missing"),
    ({2: "POLYGON ((112.30 28.55, 112.31 28.55, 112.32 28.55, 112.30 28.55))"}, "wkt",
     "could not be repaired"),
    ({2: square(2.3, 48.8).wkt}, "wkt", "outside China"),
    ({2: "POLYGON ((112.30 28.55, 112.31 28.55, NaN 28.56, 112.30 28.55))"}, "wkt",
     "not a finite number"),
    ({2: "POLYGON ((112.30 28.55, 112.31 28.55, inf 28.56, 112.30 28.55))"}, "wkt",
     "not a finite number"),
    ({3: "many"}, "population", "whole number"),
    ({3: "12.5"}, "population", "whole number"),
    ({3: "-5"}, "population", "negative"),
])
def test_bad_grid_row_rejected(changes, field, word):
    bad = [CODES[1], "网格二", square(112.31, 28.56).wkt, "950"]
    for i, v in changes.items():
        bad[i] = v
    valid, problems = importer.validate_grids(grid_frame([GOOD_GRID, bad]))
    assert list(valid.code) == [CODES[0]]
    [problem] = [p for p in problems if p.row == 2]
    assert (problem.field, problem.severity) == (field, "error")
    assert word in problem.reason


def test_duplicate_grid_code_keeps_first():
    second = [CODES[0], "重复", square(112.31, 28.56).wkt, "1"]
    valid, problems = importer.validate_grids(grid_frame([GOOD_GRID, second]))
    assert list(valid.name) == ["网格一"]
    [dup] = problems
    assert (dup.row, dup.field, dup.value) == (2, "code", CODES[0])
    assert "duplicate of row 1" in dup.reason


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "EPSG:3857"])
def test_non_finite_vertex_is_named_before_any_conversion(crs):
    # GEOS raised on NaN in the GCJ-02 shift: a traceback instead of a row problem.
    nan = "POLYGON ((112.30 28.55, 112.31 28.55, NaN 28.56, 112.30 28.55))"
    frame = grid_frame([[CODES[0], "网格一", nan, "1"]])
    valid, problems = importer.validate_grids(frame, crs=crs)
    assert valid.empty
    [problem] = problems
    assert (problem.row, problem.field, problem.code) == (1, "wkt", "coordinate_not_finite")


def test_polygon_with_too_many_vertices_is_kept_with_a_warning(monkeypatch):
    monkeypatch.setattr(importer.geometry, "MAX_VERTICES", 4)  # a square has 5
    valid, problems = importer.validate_grids(grid_frame([GOOD_GRID]))
    assert list(valid.code) == [CODES[0]]
    [warning] = problems
    assert (warning.row, warning.severity, warning.code) == (1, "warning",
                                                             "polygon_many_vertices")
    assert warning.params == {"n": 5, "limit": 4}
    assert "5 vertices (more than 4)" in warning.reason


def test_grid_community_code_checked_against_code():
    frame = grid_frame([GOOD_GRID])
    frame["community_code"] = "430903003002"
    valid, problems = importer.validate_grids(frame)
    assert valid.empty
    assert "community code" in problems[0].reason


def test_bow_tie_polygon_repaired_with_warning():
    valid, problems = importer.validate_grids(grid_frame([[CODES[0], "领结", BOW_TIE, "5"]]))
    assert list(valid.code) == [CODES[0]]
    geom = valid.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    [warning] = problems
    assert (warning.row, warning.field, warning.severity) == (1, "wkt", "warning")
    assert "repaired" in warning.reason and "Self-intersection" in warning.reason


def test_grid_defaults_and_area():
    valid, problems = importer.validate_grids(grid_frame([GOOD_GRID]))
    assert problems == []
    row = valid.iloc[0]
    assert row.community_code == COMMUNITY
    assert row.population == 800
    assert "households" not in valid.columns  # absent from the file: an upsert keeps it
    assert row.source_crs == "wgs84"
    # 0.01° × 0.01° at 28.5°N: about 1.113 km × 0.978 km.
    assert row.area_km2 == pytest.approx(1.113 * 0.978, rel=0.01)


# ---------------------------------------------------------------------------- stations, activities


def station_frame(rows):
    return pd.DataFrame(rows, columns=["code", "name", "kind", "lon", "lat", "officers",
                                       "radius_m"], dtype="str")


GOOD_STATION = ["PCS1", "资阳派出所", "派出所", "112.305", "28.565", "40", None]


@pytest.mark.parametrize(("changes", "field", "word"), [
    ({2: "fire station"}, "kind", "unknown station kind"),
    ({0: "PCS1"}, "code", "duplicate of row 1"),
    ({5: "two"}, "officers", "whole number"),
    ({6: "-1"}, "radius_m", "at least"),
    ({3: None}, "lon", "missing"),
])
def test_bad_station_row_rejected(changes, field, word):
    bad = ["JWS2", "警务站二", "workstation", "112.315", "28.555", "3", "800"]
    for i, v in changes.items():
        bad[i] = v
    valid, problems = importer.validate_stations(station_frame([GOOD_STATION, bad]))
    assert list(valid.code) == ["PCS1"]
    assert valid.kind.iloc[0] == "station"  # Chinese kind name accepted
    [problem] = [p for p in problems if p.row == 2]
    assert problem.field == field and word in problem.reason


def test_activities_validated():
    frame = pd.DataFrame({
        "网格编码": [CODES[0], "430903003001999", CODES[1], CODES[2]],
        "日期": ["2024-05-04", "2024-05-04", "someday", "2024-05-05"],
        "活动名称": ["平安巡逻", "反诈宣传", "义诊", "防溺水宣传"],
        "人数": ["6", "3", "2", "many"],
        "时长": ["2.5", "1", "1", "2"],
    }, dtype="str")
    valid, problems = importer.validate_activities(frame, known_grids=set(CODES))
    assert list(valid.grid_code) == [CODES[0]]
    assert valid.points.iloc[0] == 15.0  # volunteers × hours
    assert valid.date.iloc[0] == datetime(2024, 5, 4).date()
    assert valid.external_id.iloc[0].startswith("imp-")
    by_row = {p.row: p for p in problems}
    assert by_row[2].field == "网格编码" and "unknown grid" in by_row[2].reason
    assert by_row[3].field == "日期" and "not a date" in by_row[3].reason
    assert by_row[4].field == "人数" and "whole number" in by_row[4].reason


def test_activities_grid_found_from_point(grid_index):
    frame = pd.DataFrame({"经度": ["112.315", "113.5"], "纬度": ["28.555", "28.9"],
                          "date": "2024-05-04", "title": "巡逻", "volunteers": "2",
                          "hours": "1.5"})
    valid, problems = importer.validate_activities(frame, known_grids=set(CODES),
                                                   grid_index=grid_index)
    assert list(valid.grid_code) == [CODES[3]]
    [problem] = problems
    assert problem.row == 2 and "outside every grid" in problem.reason


def test_gbk_shapefile_without_cpg_decoded(tmp_path):
    g = literal_grids()
    path = zip_shapefile(g, tmp_path, "gbk", cpg=False, encoding="GB18030")
    frame = read_table(path, kind="grids")
    assert frame.attrs["encoding"] == "GB18030"
    assert list(frame["name"]) == list(g["name"])


def test_unknown_crs_rejects_file(tmp_path):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x"])
    with pytest.raises(ImportFileError, match="Unknown CRS"):
        importer.validate_requests(read_table(path, kind="requests"), crs="EPSG:999999")




# ------------------------------------------------------------------------- imports, both backends


def test_import_gbk_csv_requests(engine, grids, tmp_path):
    path = requests_csv(tmp_path, [
        "W1,112.305,28.565,矛盾纠纷,揪心事,2024-05-01 08:30,楼上漏水",
        "W2,112.315,28.555,噪声扰民,操心事,2024-05-01 22:10,广场舞",
    ], encoding="gbk")
    report = import_file(engine, path, kind="requests")
    assert report.ok(), report.summary()
    assert report.encoding == "GB18030"
    assert (report.rows_read, report.rows_valid, report.rows_inserted) == (2, 2, 2)
    stored = stored_requests(engine)
    assert list(stored.category) == ["dispute", "noise"]
    assert list(stored.description) == ["楼上漏水", "广场舞"]
    assert list(stored.grid_code) == [CODES[0], CODES[3]]


def test_outside_grid_request_stored_and_flagged(engine, grids, tmp_path):
    path = requests_csv(tmp_path, ["IN,112.305,28.565,road,routine,2024-05-01 08:30,a",
                                   "OUT,112.5,28.7,road,routine,2024-05-01 08:30,b"])
    report = import_file(engine, path, kind="requests")
    assert report.rows_inserted == 2
    [warning] = report.warnings
    assert warning.row == 3 and "outside every grid" in warning.reason
    stored = stored_requests(engine).set_index("external_id")
    assert not stored.loc["IN", "outside_grid"] and stored.loc["IN", "grid_code"] == CODES[0]
    assert stored.loc["OUT", "outside_grid"] and pd.isna(stored.loc["OUT", "grid_code"])


def test_gcj02_input_converted_to_wgs84(engine, grids, tmp_path):
    wgs = CENTRES[CODES[1]]
    gcj = coords.wgs84_to_gcj02(*wgs)
    path = requests_csv(tmp_path, [f"G,{gcj[0]!r},{gcj[1]!r},road,routine,2024-05-01,x"])
    report = import_file(engine, path, kind="requests", crs="GCJ-02")
    assert report.crs == "gcj02"
    row = stored_requests(engine).iloc[0]
    expected = coords.gcj02_to_wgs84(*gcj)
    assert (row.lon, row.lat) == pytest.approx(expected, abs=1e-9)
    assert (row.lon, row.lat) == pytest.approx(wgs, abs=1e-6)
    assert abs(gcj[0] - wgs[0]) > 1e-3  # the offset is real, so the test can fail
    assert row.source_crs == "gcj02" and row.grid_code == CODES[1]


def test_utm_input_converted(engine, grids, tmp_path):
    wgs = CENTRES[CODES[2]]
    x, y = Transformer.from_crs(4326, 32649, always_xy=True).transform(*wgs)
    path = requests_csv(tmp_path, [f"U,{x:.3f},{y:.3f},road,routine,2024-05-01,x"],
                        header="external_id,x,y,category,severity,reported_at,description")
    report = import_file(engine, path, kind="requests", crs="EPSG:32649")
    assert report.ok() and report.rows_inserted == 1, report.summary()
    row = stored_requests(engine).iloc[0]
    assert (row.lon, row.lat) == pytest.approx(wgs, abs=1e-7)
    assert row.source_crs == "EPSG:32649" and row.grid_code == CODES[2]


def test_declared_crs_used_unless_crs_given(engine, grids, tmp_path):
    points = gpd.GeoDataFrame(
        {"external_id": ["P1", "P2"], "category": ["road", "noise"],
         "reported_at": ["2024-05-01 08:00", "2024-05-01 09:00"]},
        geometry=[shapely.Point(CENTRES[CODES[0]]), shapely.Point(CENTRES[CODES[3]])],
        crs=4326).to_crs(32649)
    path = tmp_path / "utm.gpkg"
    points.to_file(path, engine="pyogrio")
    forced = import_file(engine, path, kind="requests", crs="wgs84", dry_run=True)
    assert forced.rows_valid == 0  # metres read as degrees: outside China
    assert "outside China" in forced.errors[0].reason and forced.errors[0].field == "geometry"
    report = import_file(engine, path, kind="requests")
    assert report.crs == "EPSG:32649" and report.rows_inserted == 2
    stored = stored_requests(engine)
    assert list(stored.grid_code) == [CODES[0], CODES[3]]
    assert stored.lon.iloc[0] == pytest.approx(CENTRES[CODES[0]][0], abs=1e-7)


def test_utm_grids_converted_vertex_by_vertex(engine, tmp_path):
    g = literal_grids().to_crs(32649)
    g["wkt"] = g.geometry.to_wkt()
    path = tmp_path / "grids.csv"
    pd.DataFrame(g.drop(columns="geometry")).to_csv(path, index=False)
    report = import_file(engine, path, kind="grids", crs="EPSG:32649")
    assert report.rows_inserted == 4, report.summary()
    stored = store_requests.read_grids(engine)
    for geom, expected in zip(stored.geometry, literal_grids().geometry, strict=True):
        assert geom.symmetric_difference(expected).area < 1e-12
    assert set(stored.source_crs) == {"EPSG:32649"}


def test_reimport_adds_no_duplicates(engine, grids, tmp_path):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x",
                                   "R2,112.315,28.555,road,routine,2024-05-02 09:00,y"])
    first = import_file(engine, path, kind="requests")
    counts = store_engine.table_counts(engine)
    second = import_file(engine, path, kind="requests")
    assert (first.rows_inserted, first.rows_unchanged) == (2, 0)
    assert (second.rows_new, second.rows_updated, second.rows_unchanged) == (0, 0, 2)
    assert "2 rows read: 0 new, 0 updated, 2 unchanged, 0 refused" in second.summary()
    assert store_engine.table_counts(engine) == counts


def test_reimport_without_external_ids_is_idempotent(engine, grids, tmp_path):
    path = requests_csv(tmp_path, ["112.305,28.565,dispute,2024-05-01 08:30,吵架"],
                        header="lon,lat,category,reported_at,description")
    assert import_file(engine, path, kind="requests").rows_inserted == 1
    again = import_file(engine, path, kind="requests")
    assert (again.rows_inserted, again.rows_unchanged) == (0, 1)
    assert store_engine.table_counts(engine)["request"] == 1


def test_grids_reimport_updates_in_place(engine, tmp_path):
    g = literal_grids()
    g["name"] = ["甲", "乙", "丙", "丁"]
    path = tmp_path / "grids.geojson"
    g.to_file(path, engine="pyogrio")
    first = import_file(engine, path, kind="grids")
    assert (first.rows_inserted, first.rows_updated) == (4, 0)
    second = import_file(engine, path, kind="grids")  # the same file: nothing to write
    assert (second.rows_inserted, second.rows_updated, second.rows_unchanged) == (0, 0, 4)
    assert second.rows_to_write == 0
    g["name"] = ["甲", "乙", "丙", "戊"]
    g.to_file(path, engine="pyogrio")
    third = import_file(engine, path, kind="grids", dry_run=True)
    assert (third.rows_new, third.rows_updated, third.rows_unchanged) == (0, 1, 3)
    fourth = import_file(engine, path, kind="grids")
    assert (fourth.rows_inserted, fourth.rows_updated, fourth.rows_unchanged) == (0, 1, 3)
    assert store_engine.table_counts(engine)["grid"] == 4
    assert list(store_requests.read_grids(engine).name) == ["甲", "乙", "丙", "戊"]


def test_boundary_reimport_keeps_attributes_the_file_lacks(engine, tmp_path):
    with_population = _grids_csv(tmp_path, literal_grids())
    assert import_file(engine, with_population, kind="grids").rows_inserted == 4
    g = literal_grids()[["code", "name", "geometry"]]
    g["geometry"] = g.geometry.translate(0.0005, 0)  # redrawn boundaries
    path = tmp_path / "boundaries.geojson"
    g.to_file(path, engine="pyogrio")
    report = import_file(engine, path, kind="grids")
    assert report.rows_updated == 4
    assert list(store_requests.read_grids(engine).population) == [800, 950, 700, 1200]


def test_dry_run_writes_nothing(engine, grids, tmp_path):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x",
                                   "R2,112.315,28.555,bogus,routine,2024-05-02 09:00,y"])
    before = store_engine.table_counts(engine)
    report = import_file(engine, path, kind="requests", dry_run=True)
    assert store_engine.table_counts(engine) == before
    assert (report.rows_valid, report.rows_inserted, report.rows_rejected) == (1, 0, 1)
    assert report.rows_new == 1  # what a real run would insert
    assert "dry run" in report.summary()
    import_file(engine, path, kind="requests")
    again = import_file(engine, path, kind="requests", dry_run=True)
    assert (again.rows_new, again.rows_unchanged) == (0, 1)  # what is already stored


def test_failure_mid_write_leaves_nothing(engine, grids, tmp_path, monkeypatch):
    import_file(engine, requests_csv(tmp_path, [
        "OLD,112.305,28.565,road,routine,2024-04-01,x"], name="old.csv"), kind="requests")
    before = store_engine.table_counts(engine)
    real = store_requests.bulk_insert_requests

    def half_then_fail(conn, frame):
        real(conn, frame.iloc[: len(frame) // 2])
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_requests, "bulk_insert_requests", half_then_fail)
    path = requests_csv(tmp_path, [f"N{i},112.315,28.555,road,routine,2024-05-01,y"
                                   for i in range(10)])
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_file(engine, path, kind="requests")
    assert store_engine.table_counts(engine) == before


def test_database_error_reported_and_rolled_back(engine, grids, tmp_path, monkeypatch):
    before = store_engine.table_counts(engine)
    real = store_requests.bulk_insert_requests

    def insert_then_break(conn, frame):
        real(conn, frame)
        conn.execute(store_schema.grid.insert().values(code="x", name=None))  # NOT NULL violated

    monkeypatch.setattr(store_requests, "bulk_insert_requests", insert_then_break)
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x"])
    report = import_file(engine, path, kind="requests")
    assert not report.ok()
    assert "database error" in report.file_error.reason
    assert report.rows_inserted == 0
    assert store_engine.table_counts(engine) == before


def test_file_error_writes_nothing(engine, grids, tmp_path):
    before = store_engine.table_counts(engine)
    path = requests_csv(tmp_path, ["R1,112.305,28.565"], header="external_id,lon,lat")
    report = import_file(engine, path, kind="requests")
    assert not report.ok()
    assert report.file_error.row is None and "missing required columns" in report.summary()
    assert store_engine.table_counts(engine) == before


def _request_points():
    return gpd.GeoDataFrame(
        {"external_id": ["F1", "F2"], "category": ["矛盾纠纷", "road"],
         "severity": ["urgent", "烦心事"], "reported_at": ["2024-05-01 08:30", "2024-05-02 10:00"],
         "description": ["楼道堆物", "井盖缺失"]},
        geometry=[shapely.Point(CENTRES[CODES[0]]), shapely.Point(CENTRES[CODES[3]])],
        crs=4326)


def _as_geojson(tmp_path):
    path = tmp_path / "requests.geojson"
    _request_points().to_file(path, engine="pyogrio")
    return path


def _as_gpkg(tmp_path):
    path = tmp_path / "requests.gpkg"
    pts = _request_points()
    pts["reported_at"] = pd.to_datetime(pts["reported_at"])  # a real GeoPackage DateTime
    pts.to_file(path, engine="pyogrio", layer="requests")
    return path


def _as_shapefile_zip(tmp_path):
    return zip_shapefile(_request_points(), tmp_path, "requests")  # reported_a: 10 chars


def _as_csv(tmp_path):
    pts = _request_points()
    frame = pd.DataFrame(pts.drop(columns="geometry"))
    frame["经度"], frame["纬度"] = pts.geometry.x, pts.geometry.y
    path = tmp_path / "requests.csv"
    frame.to_csv(path, index=False)
    return path


def _as_xlsx(tmp_path):
    pts = _request_points()
    frame = pd.DataFrame(pts.drop(columns="geometry"))
    frame["reported_at"] = pd.to_datetime(frame["reported_at"])  # Excel date cells
    frame["lng"], frame["latitude"] = pts.geometry.x, pts.geometry.y
    path = tmp_path / "requests.xlsx"
    frame.to_excel(path, index=False)
    return path


@pytest.mark.parametrize("make", [_as_geojson, _as_gpkg, _as_shapefile_zip, _as_csv, _as_xlsx],
                         ids=["geojson", "gpkg", "shapefile-zip", "csv", "xlsx"])
def test_requests_import_from_every_format(engine, grids, tmp_path, make):
    report = import_file(engine, make(tmp_path), kind="requests")
    assert report.ok(), report.summary()
    assert report.problems == [], report.to_frame()
    assert report.rows_inserted == 2
    stored = stored_requests(engine)
    assert list(stored.external_id) == ["F1", "F2"]
    assert list(stored.grid_code) == [CODES[0], CODES[3]]
    assert list(stored.category) == ["dispute", "road"]
    assert list(stored.severity) == ["urgent", "pressing"]
    assert list(stored.description) == ["楼道堆物", "井盖缺失"]
    assert stored.reported_at.iloc[0] == datetime(2024, 5, 1, 0, 30)  # 08:30 Shanghai
    assert stored.lon.iloc[1] == pytest.approx(CENTRES[CODES[3]][0])


def _grids_geojson(tmp_path, g):
    path = tmp_path / "grids.geojson"
    g.to_file(path, engine="pyogrio")
    return path


def _grids_gpkg(tmp_path, g):
    path = tmp_path / "grids.gpkg"
    g.to_file(path, engine="pyogrio", layer="grids")
    g.iloc[:1].to_file(path, engine="pyogrio", layer="zz_other")
    return path


def _grids_shapefile_zip(tmp_path, g):
    return zip_shapefile(g.rename(columns={"community_code": "community_"}), tmp_path, "grids")


def _grids_csv(tmp_path, g):
    frame = pd.DataFrame(g.drop(columns="geometry"))
    frame["几何"] = g.geometry.to_wkt()
    frame = frame.rename(columns={"code": "网格编码", "name": "网格名称", "population": "人口"})
    path = tmp_path / "grids.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("make", [_grids_geojson, _grids_gpkg, _grids_shapefile_zip,
                                  _grids_csv], ids=["geojson", "gpkg", "shapefile-zip", "csv"])
def test_grids_import_from_every_format(engine, tmp_path, make):
    g = literal_grids()
    report = import_file(engine, make(tmp_path, g), kind="grids")
    assert report.ok(), report.summary()
    assert report.rows_inserted == 4
    assert not report.errors, report.to_frame()
    stored = store_requests.read_grids(engine)
    assert list(stored.code) == CODES
    assert list(stored.population) == [800, 950, 700, 1200]
    assert list(stored.community_code) == [COMMUNITY] * 4
    assert stored.geometry.iloc[0].equals(shapely.MultiPolygon([g.geometry.iloc[0]]))
    assert stored.area_km2.iloc[0] == pytest.approx(1.09, abs=0.01)


def test_gpkg_with_several_layers_reads_the_first_with_a_warning(engine, tmp_path):
    report = import_file(engine, _grids_gpkg(tmp_path, literal_grids()), kind="grids")
    assert report.rows_inserted == 4
    assert any("read the first, 'grids'" in p.reason for p in report.warnings)


def test_bow_tie_grid_imported_with_warning(engine, tmp_path):
    path = write(tmp_path / "grids.csv", f'code,name,wkt\n{CODES[0]},领结,"{BOW_TIE}"\n')
    report = import_file(engine, path, kind="grids")
    assert report.rows_inserted == 1
    assert any("repaired" in p.reason and p.row == 2 for p in report.warnings)
    assert store_requests.read_grids(engine).geometry.iloc[0].is_valid


def test_unknown_community_is_a_warning(engine, tmp_path):
    units = pd.DataFrame({"code": [COMMUNITY], "name": ["资阳社区"], "level": ["community"],
                          "parent_code": [COMMUNITY[:9]], "population": [None], "geom": [None]})
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, units)
    other = f"430903003002{1:03d}"
    wkt = [square(112.30, 28.56).wkt, square(112.31, 28.56).wkt]
    path = write(tmp_path / "grids.csv",
                 f'code,name,wkt\n{CODES[0]},甲,"{wkt[0]}"\n{other},乙,"{wkt[1]}"\n')
    report = import_file(engine, path, kind="grids")
    assert report.rows_inserted == 2
    [warning] = [p for p in report.warnings if p.row is not None]
    assert (warning.row, warning.field, warning.value) == (3, "community_code", other[:12])
    assert "not a known community" in warning.reason


def test_stations_import_and_upsert(engine, tmp_path):
    path = write(tmp_path / "stations.csv",
                 "编码,名称,类型,经度,纬度,民警数\n"
                 "PCS1,资阳派出所,派出所,112.305,28.565,40\n"
                 "JWS1,步行街警务站,workstation,112.315,28.555,\n")
    first = import_file(engine, path, kind="stations")
    assert (first.rows_inserted, first.rows_updated) == (2, 0), first.summary()
    second = import_file(engine, path, kind="stations")
    assert (second.rows_inserted, second.rows_updated, second.rows_unchanged) == (0, 0, 2)
    moved = path.read_text().replace("40\n", "41\n")
    third = import_file(engine, write(tmp_path / "stations.csv", moved), kind="stations")
    assert (third.rows_inserted, third.rows_updated, third.rows_unchanged) == (0, 1, 1)
    stations = store_requests.read_stations(engine).set_index("code")
    assert len(stations) == 2
    assert stations.loc["PCS1", "kind"] == "station" and stations.loc["PCS1", "officers"] == 41
    assert pd.isna(stations.loc["JWS1", "officers"])


def test_activities_import(engine, grids, tmp_path):
    path = write(tmp_path / "activities.csv",
                 "grid_code,date,title,volunteers,hours,points\n"
                 f"{CODES[0]},2024-05-04,平安巡逻,6,2.5,\n"
                 f"{CODES[1]},2024-05-05,反诈宣传,4,2,10\n"
                 "430903003009001,2024-05-05,走错网格,4,2,\n")
    report = import_file(engine, path, kind="activities")
    assert (report.rows_inserted, report.rows_rejected) == (2, 1), report.summary()
    assert report.errors[0].row == 4 and "unknown grid" in report.errors[0].reason
    activity = store_schema.volunteer_activity
    stored = store_engine.read_frame(engine, activity.select().order_by(activity.c.grid_code))
    assert list(stored.points) == [15.0, 10.0]
    again = import_file(engine, path, kind="activities")
    assert (again.rows_inserted, again.rows_unchanged) == (0, 2)


def test_progress_reported_up_to_one(engine, grids, tmp_path):
    calls = []
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x"])
    import_file(engine, path, kind="requests", progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)


def test_report_frame_and_summary(engine, grids, tmp_path):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x",
                                   "R2,abc,28.555,road,routine,2024-05-02 09:00,y"])
    report = import_file(engine, path, kind="requests")
    frame = report.to_frame()
    assert list(frame.columns) == ["row", "field", "value", "reason", "severity"]
    assert frame.iloc[0].to_dict() == {"row": 3, "field": "lon", "value": "abc",
                                       "reason": "not a number", "severity": "error"}
    text = report.summary()
    assert text.startswith("requests.csv: 2 rows read: 1 new, 0 updated, 0 unchanged, "
                           "1 refused; 0 warnings.")
    assert "CSV, UTF-8" in text


# ---------------------------------------------------------------------------- bulk


def test_many_rows_take_the_bulk_path_on_both_backends(engine, tmp_path):
    # Speed is measured in bench/foundation.py; here the bulk path must be exact.
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, literal_grids())
    n = 30_000
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "external_id": [f"B{i}" for i in range(n)],
        "lon": np.round(112.30 + rng.random(n) * 0.02, 6),
        "lat": np.round(28.55 + rng.random(n) * 0.02, 6),
        "category": rng.choice(["dispute", "道路交通", "noise"], n),
        "severity": rng.choice(["routine", "揪心事"], n),
        "reported_at": (pd.Timestamp("2024-05-01") + pd.to_timedelta(
            rng.integers(0, 10**7, n), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
        "description": rng.choice(["路灯坏了", "垃圾没人清理", "邻居噪音"], n),
    })
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    report = import_file(engine, path, kind="requests")
    assert report.rows_inserted == n
    stored = store_engine.read_frame(
        engine, "select grid_code, count(*) as n from request group by grid_code")
    want = pd.Series(GridIndex(literal_grids()).assign(frame.lon, frame.lat)).value_counts()
    got = stored.set_index("grid_code").n
    assert got.sort_index().tolist() == want.sort_index().tolist()


def _grid_snapshot(engine):
    g = store_requests.read_grids(engine, personal=True)
    return [(r.code, r.name, r.population, r.geometry.wkb_hex) for r in g.itertuples()]


def test_failed_grid_replace_leaves_every_grid_as_it_was(engine, grids, tmp_path, monkeypatch):
    # Grids are replaced by code, so equal row counts would not show a half-done replace.
    before = _grid_snapshot(engine)
    changed = grids.assign(name=[f"改名{i}" for i in range(4)], population=[1, 2, 3, 4])
    path = tmp_path / "grids.geojson"
    changed.to_file(path, engine="pyogrio")
    real = store_requests.write_grids

    def half_then_fail(conn, frame):
        real(conn, frame.iloc[:2])
        raise RuntimeError("power cut")

    monkeypatch.setattr(store_requests, "write_grids", half_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        import_file(engine, path, kind="grids")
    assert _grid_snapshot(engine) == before


# --------------------------------------------------------------------------- column names


def test_column_names_aliases_dbf_cuts_and_ignored_columns():
    from geo.importer.columns import canonical

    frame = pd.DataFrame({"\ufeff诉求编号": ["A1"], "Category": ["road"],
                          "上报时间（北京时间）": ["2024-05-01 08:30"], "reported-at": ["x"],
                          "grid_code": ["G"], "附注": ["?"], "lon": ["112.3"], "纬度": ["28.5"],
                          "reporter_n": ["张三"]},
                         index=pd.RangeIndex(1, 2, name="row"))
    problems = []
    cols = canonical(frame, "requests", problems)
    assert list(cols.frame.columns) == ["external_id", "category", "reported_at", "lon",
                                        "lat", "reporter_name"]
    assert cols.names["grid_code"] == "grid_code" and not cols.has("grid_code")
    assert [(p.field, p.reason) for p in problems] == [
        ("reported-at", "same field as column '上报时间（北京时间）'; ignored"),
        ("grid_code", "assigned from the point; the file's values are ignored"),
        ("附注", "unknown column, ignored"),
    ]
    assert all(p.row is None and p.severity == "warning" for p in problems)


def test_column_names_activity_grid_code_is_data_and_missing_columns_named():
    from geo.importer.columns import canonical

    frame = pd.DataFrame({"网格编码": ["G"], "日期": ["2024-05-01"], "名称": ["t"],
                          "人数": ["3"], "时长": ["2"]})
    cols = canonical(frame, "activities", [])
    assert cols.frame["grid_code"].tolist() == ["G"]
    with pytest.raises(ImportFileError) as err:
        canonical(frame.drop(columns=["网格编码", "时长"]), "activities", [])
    assert str(err.value) == (
        "missing required columns: hours (时长); grid_code (网格编码) (or a point to find "
        "the grid). The file has: 日期, 名称, 人数")
    with pytest.raises(ImportFileError) as err:
        canonical(pd.DataFrame({"code": ["c"], "name": ["n"]}), "grids", [])
    assert "a polygon geometry" in str(err.value)
    with pytest.raises(ImportFileError) as err:
        canonical(pd.DataFrame({"code": ["c"], "name": ["n"], "kind": ["k"], "x": ["1"]}),
                  "stations", [])
    assert str(err.value).startswith("missing required column: lat (纬度).")


# ------------------------------------------------------------------ grids against communities


def _grid_file(tmp_path, rows):
    lines = ["code,name,wkt"] + [f'{code},{name},"{shape.wkt}"' for code, name, shape in rows]
    return write(tmp_path / "grids.csv", "\n".join(lines) + "\n")


def test_a_grid_outside_its_community_is_warned_about_naming_both(engine, tmp_path):
    outline = shapely.MultiPolygon([shapely.box(112.30, 28.55, 112.32, 28.57)])
    units = pd.DataFrame({"code": [COMMUNITY], "name": ["资阳社区"], "level": ["community"],
                          "parent_code": [COMMUNITY[:9]], "population": [None],
                          "geom": [outline]})
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, units)
    path = _grid_file(tmp_path, [(CODES[0], "里", square(112.30, 28.56)),
                                 (CODES[1], "外", square(112.40, 28.56))])
    report = import_file(engine, path, kind="grids")
    assert report.rows_inserted == 2  # a warning: the grid is kept
    [warning] = [p for p in report.warnings if p.row is not None]
    assert (warning.row, warning.code) == (3, "grid_outside_community")
    assert warning.text("zh") == f"网格 {CODES[1]} 的大部分面积（0%）不在社区 {COMMUNITY} 范围内"
    assert CODES[1] in warning.reason and COMMUNITY in warning.reason


def test_overlapping_grids_are_warned_about_and_neighbours_are_not():
    frame = pd.DataFrame({
        "code": CODES[:4], "name": ["甲", "乙", "丙", "市"],
        "wkt": [square(112.30, 28.56).wkt, square(112.31, 28.56).wkt,  # neighbours
                square(112.305, 28.56).wkt,                              # half over both
                square(112.29, 28.55, size=0.04).wkt]})                  # a city outline
    valid, problems = importer.validate_grids(frame)
    assert len(valid) == 4  # warnings only
    pairs = sorted((p.params["grid"], p.params["other"]) for p in problems
                   if p.code == "grid_overlap")
    assert pairs == sorted([(CODES[2], CODES[0]), (CODES[2], CODES[1]), (CODES[3], CODES[0]),
                            (CODES[3], CODES[1]), (CODES[3], CODES[2])])
    first = next(p for p in problems if p.code == "grid_overlap")
    assert first.params["area"].endswith(" km²") and float(first.params["area"][:-4]) > 0.1


def test_a_city_outline_over_stored_grids_is_warned_about(engine, grids, tmp_path):
    city = shapely.box(112.29, 28.54, 112.33, 28.58)
    path = _grid_file(tmp_path, [("430903003009001", "全市", city),
                                 (CODES[0], "甲（重画）", square(112.30, 28.56))])
    report = import_file(engine, path, kind="grids", dry_run=True)
    stored = sorted(p.params["other"] for p in report.warnings if p.code == "grid_overlap_stored")
    assert stored == CODES[1:]  # CODES[0] is replaced by the file: compared within it
    inside = [p for p in report.warnings if p.code == "grid_overlap"]
    assert [(p.row, p.params["grid"], p.params["other"]) for p in inside] == [
        (3, CODES[0], "430903003009001")]
    assert report.rows_to_write == 2  # warnings: the rows are still written


def test_real_requests_end_the_demo_dry_runs_and_stations_do_not(engine, grids,
                                                                    tmp_path):
    from geo import accounts

    with store_engine.transaction(engine) as conn:
        store_engine.set_setting(conn, "demo", "city")
    assert accounts.is_demo(engine)
    path = requests_csv(tmp_path, ["R1,112.305,28.565,road,routine,2024-05-01 08:30,a"])
    assert import_file(engine, path, kind="requests", dry_run=True).ok()
    stations = write(tmp_path / "stations.csv",
                     "编码,名称,类型,经度,纬度\nPCS1,资阳派出所,派出所,112.305,28.565\n")
    assert import_file(engine, stations, kind="stations").rows_inserted == 1
    refused = requests_csv(tmp_path, ["R2,112.305,28.565,road,routine,not a date,a"],
                           name="refused.csv")
    assert import_file(engine, refused, kind="requests").rows_inserted == 0
    assert accounts.is_demo(engine)  # nothing of the site's own was written yet
    assert import_file(engine, path, kind="requests").rows_inserted == 1
    assert not accounts.is_demo(engine)
    assert store_engine.get_setting(engine, "real_data") is not None


# ---------------------------------------------------------------------------- streaming
# A requests CSV is read, checked and written a chunk at a time (issue 17: 1 M rows held
# 1.5 GB at once). With chunks of two rows, each test below crosses chunk boundaries.


@pytest.fixture
def two_row_chunks(monkeypatch):
    monkeypatch.setattr(importer.load, "READ_CHUNK", 2)


def test_chunks_keep_the_files_line_numbers_across_malformed_lines(tmp_path):
    path = requests_csv(tmp_path, [
        "R1,112.305,28.565,dispute,urgent,2024-05-01 08:30,x",
        "R2,112.315,28.555,road,routine,2024-05-02 09:00,y,surplus,fields",
        "R3,112.315,28.555,noise,routine,2024-05-02 09:00,z",
        "R4,112.315,28.555,noise,routine,2024-05-02 09:00,z",
        "R5,112.315,28.555,noise,routine,2024-05-02 09:00,z,surplus",
    ])
    frames = list(importer.read.read_chunks(path, kind="requests", rows=2))
    assert [list(f.index) for f in frames] == [[2, 4], [5]]
    assert [f.loc[5, "external_id"] for f in frames[1:]] == ["R4"]
    assert [[p.row for p in f.attrs["read_problems"]] for f in frames] == [[3], [6]]
    assert frames[0].attrs["lines"] == 6  # the header and five rows, for progress


def test_a_repeat_in_a_later_chunk_is_refused_naming_the_first_row(engine, grids, tmp_path,
                                                                   two_row_chunks):
    path = requests_csv(tmp_path, ["R1,112.305,28.565,road,routine,2024-05-01 08:30,a",
                                   "R2,112.315,28.555,road,routine,2024-05-01 08:30,b",
                                   "R1,112.315,28.555,noise,routine,2024-05-02 08:30,c"])
    report = import_file(engine, path, kind="requests")
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (3, 2, 1)
    [dup] = report.errors
    assert (dup.row, dup.field, dup.value) == (4, "external_id", "R1")
    assert dup.reason == "duplicate of row 2"
    assert list(stored_requests(engine).description) == ["a", "b"]


def test_chunked_counts_file_lines_once_and_caps_listings_over_chunks(
        engine, grids, tmp_path, two_row_chunks, monkeypatch):
    monkeypatch.setattr(importer.load, "MAX_PROBLEMS_PER_REASON", 2)
    header = REQUEST_HEADER + ",wechat"  # an unknown column: one warning, not one per chunk
    path = requests_csv(tmp_path, [f"O{i},112.9,28.9,road,routine,2024-05-01,x,w"
                                   for i in range(5)], header=header)
    report = import_file(engine, path, kind="requests")
    assert (report.rows_read, report.rows_inserted) == (5, 5)
    lines = [p for p in report.warnings if p.field == "wechat"]
    assert len(lines) == 1
    outside = [p for p in report.warnings if p.code == "outside_grid"]
    assert [p.row for p in outside] == [2, 3]
    [more] = [p for p in report.warnings if p.code == "more_rows"]
    assert more.params["n"] == 3 and "outside every grid" in more.reason


def test_a_failure_in_a_later_chunk_leaves_nothing(engine, grids, tmp_path, two_row_chunks,
                                                   monkeypatch):
    before = store_engine.table_counts(engine)
    real = store_requests.bulk_insert_requests
    calls = []

    def fail_on_the_third_chunk(conn, frame):
        calls.append(len(frame))
        if len(calls) == 3:
            raise sqlite3.OperationalError("database or disk is full")
        return real(conn, frame)

    monkeypatch.setattr(store_requests, "bulk_insert_requests", fail_on_the_third_chunk)
    path = requests_csv(tmp_path, [f"N{i},112.315,28.555,road,routine,2024-05-01,y"
                                   for i in range(6)])
    report = import_file(engine, path, kind="requests")
    assert calls == [2, 2, 2]  # two chunks written in the transaction before the failure
    assert not report.ok() and "nothing was written" in report.file_error.reason
    assert (report.rows_inserted, report.rows_new) == (0, 0)
    assert store_engine.table_counts(engine) == before


def test_a_line_pandas_cannot_parse_in_a_later_chunk_leaves_nothing(engine, grids, tmp_path,
                                                                    two_row_chunks):
    before = store_engine.table_counts(engine)
    rows = [f"N{i},112.315,28.555,road,routine,2024-05-01,y" for i in range(4)]
    path = requests_csv(tmp_path, [*rows, 'N9,112.3,28.5,road,routine,2024-05-01,"open'])
    report = import_file(engine, path, kind="requests")
    assert not report.ok() and "not readable as CSV" in report.file_error.reason
    assert store_engine.table_counts(engine) == before
