"""Tests for what the import hands back and guesses: templates, refused rows, the problem
report, the detected kind, and the reasons in 中文 and English."""

import io

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo import importer
from geo.importer import (
    KINDS,
    REASONS,
    detect_kind,
    import_file,
    read_table,
    refused_rows,
    template_file,
)
from geo.importer.columns import template_columns
from tests.tiny_city import admin_units

STATIONS = ("编码,名称,类型,经度,纬度\n"
            "S1,赫山派出所,派出所,112.305,28.565\n"
            "S2,=HYPERLINK(\"http://x\"),警务站,abc,28.555\n"
            "S3,+海外,警务室,2.35,48.85\n")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_template_is_detected_and_validates_cleanly(kind, fmt, tmp_path):
    body = template_file(kind, fmt)
    if fmt == "csv":
        assert body.startswith(b"\xef\xbb\xbf")
    path = tmp_path / f"template.{fmt}"
    path.write_bytes(body)
    frame = read_table(path, kind=kind)
    assert list(frame.index) == [2]  # the example row is the sheet's second line
    assert detect_kind(frame) == kind
    validate = {"grids": lambda f: importer.validate_grids(f),
                "requests": lambda f: importer.validate_requests(f),
                "stations": lambda f: importer.validate_stations(f),
                "activities": lambda f: importer.validate_activities(
                    f, known_grids={"430903003001001"}),
                "units": lambda f: importer.validate_units(f, stored=admin_units())}[kind]
    valid, problems = validate(frame)
    assert len(valid) == 1
    assert [p for p in problems if p.severity == "error" or p.row is None] == []


def test_the_excel_template_lists_every_accepted_name(tmp_path):
    sheets = pd.read_excel(io.BytesIO(template_file("grids", "xlsx")), sheet_name=None,
                           dtype=str)
    guide = sheets["列说明"].set_index("英文列名")
    assert guide.loc["population", "列名"] == "人口"
    assert "常住人口" in guide.loc["population", "也接受"]
    assert guide.loc["code", "必填"] == "是"
    assert [c.title for c in template_columns("grids")] == list(sheets["grids"].columns)


def test_refused_rows_come_back_as_written_with_reasons_and_defused(engine, tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text(STATIONS, encoding="utf-8")
    report = import_file(engine, path, kind="stations", dry_run=True)
    assert report.rows_rejected == 2
    body, ext = refused_rows(path, report, lang="zh")
    assert ext == "csv" and body.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(body), dtype=str, encoding="utf-8-sig")
    assert list(back.columns) == ["编码", "名称", "类型", "经度", "纬度", "导入问题"]
    assert list(back["编码"]) == ["S2", "S3"]
    assert back["名称"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+海外"]  # no formula runs
    assert back["导入问题"].tolist() == ["经度: 不是数字", "经度/纬度: 坐标不在中国境内"]
    # Fixed and imported again, the reason column is ignored without a word.
    fixed = tmp_path / "fixed.csv"
    back.assign(经度=["112.31", "112.32"], 纬度="28.56").to_csv(fixed, index=False)
    again = import_file(engine, fixed, kind="stations", dry_run=True)
    assert (again.rows_new, again.rows_rejected, again.problems) == (2, 0, [])


def test_refused_rows_of_a_workbook_are_a_workbook_in_english(engine, tmp_path):
    frame = pd.read_csv(io.StringIO(STATIONS), dtype=str)
    path = tmp_path / "stations.xlsx"
    frame.to_excel(path, index=False)
    report = import_file(engine, path, kind="stations", dry_run=True)
    assert sorted({p.row for p in report.errors}) == [3, 4]  # the sheet's rows
    body, ext = refused_rows(path, report, lang="en")
    back = pd.read_excel(io.BytesIO(body), dtype=str)
    assert ext == "xlsx"
    assert back["import problem"].tolist()[0].startswith("经度: not a number; ")


def test_the_problem_report_is_defused_and_translated(engine, tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text(STATIONS, encoding="utf-8")
    report = import_file(engine, path, kind="stations", dry_run=True)
    report.problems.append(importer.Problem(5, "=cmd", "@SUM(A1)", "-bad"))
    frame = pd.read_csv(io.BytesIO(importer.problems_file(report, lang="zh")), dtype=str,
                        encoding="utf-8-sig")
    assert frame["reason"].tolist()[:2] == ["不是数字", "坐标不在中国境内"]
    assert frame.iloc[-1][["field", "value", "reason"]].tolist() == ["'=cmd", "'@SUM(A1)",
                                                                     "'-bad"]


@pytest.mark.parametrize(("header", "kind"), [
    ("编号,经度,纬度,类别,上报时间", "requests"),
    ("编码,名称,类型,经度,纬度", "stations"),
    ("网格编码,日期,活动名称,志愿者人数,时长", "activities"),
    ("区划编码,区划名称,层级,上级编码", "units"),
    ("code,name,wkt", "grids"),
    ("foo,bar", "requests"),  # nothing recognised: the default
])
def test_the_kind_is_detected_from_the_columns(header, kind):
    frame = pd.DataFrame(columns=header.split(","))
    assert detect_kind(frame) == kind


def test_polygons_with_levels_are_units_and_without_are_grids():
    shape = [shapely.box(112.30, 28.55, 112.31, 28.56)]
    units = gpd.GeoDataFrame({"code": ["430903"], "name": ["赫山区"], "level": ["county"]},
                             geometry=shape, crs=4326)
    grids = gpd.GeoDataFrame({"code": ["430903003001001"], "name": ["一网格"]},
                             geometry=shape, crs=4326)
    points = gpd.GeoDataFrame({"code": ["S1"], "name": ["所"], "kind": ["station"]},
                              geometry=[shapely.Point(112.3, 28.5)], crs=4326)
    assert (detect_kind(units), detect_kind(grids), detect_kind(points)) == (
        "units", "grids", "stations")


def test_every_reason_has_both_languages_and_renders_with_its_params():
    import string

    for code, (zh, en) in REASONS.items():
        names = {f for text in (zh, en) for _, f, _, _ in string.Formatter().parse(text) if f}
        params = {n: "x" for n in names}
        assert importer.Reason(code, **params)  # English: no placeholder left unfilled
        assert importer.Problem(1, None, None, importer.Reason(code, **params)).text("zh")
        assert zh and en and (zh != en or code == "flow"), code
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.replace("{", "")) or \
            code == "flow", code  # the English text is English


def test_a_rejected_file_says_why_in_both_languages(engine, tmp_path):
    path = tmp_path / "stations.csv"
    path.write_text("编码,名称\nS1,所\n", encoding="utf-8")
    report = import_file(engine, path, kind="stations")
    problem = report.file_error
    assert problem.code == "missing_columns"
    assert problem.text("zh").startswith("缺少必需的列：kind (类型)")
    assert "missing required columns: kind (类型)" in problem.reason
    png = tmp_path / "grids.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n0000")
    report = import_file(engine, png, kind="grids")
    assert report.file_error.text("zh") == ("grids.csv：扩展名 .csv 表示 CSV 文本，但内容是 "
                                            "a PNG image")
