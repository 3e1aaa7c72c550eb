"""Tests for importing admin units (geo.importer.validate.validate_units and import_file)."""

import shapely

from geo.importer import import_file, read_table, validate_units
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from tests.tiny_city import admin_units

UNITS = ("区划编码,区划名称,层级,上级编码,几何\n"
         "430900,益阳市,市,,\n"                                              # 2
         "430903,赫山区,区,430900,\n"                                         # 3
         "430903003,甲街道,街道,430903,\n"                                    # 4
         '430903003001,甲社区,社区,430903003,"POLYGON ((112.30 28.55, 112.32 28.55, '
         '112.32 28.57, 112.30 28.57, 112.30 28.55))"\n'                        # 5
         "430903003001,重复,社区,430903003,\n"                                # 6: duplicate
         "430903009001,孤村,村,430903009,\n"                                  # 7: unknown parent
         "430903003002,倒挂,社区,430903003001,\n"                             # 8: parent level
         "430903003003,乱码,居住区,430903003,\n"                              # 9: unknown level
         "4309030030,短码,社区,430903003,\n"                                  # 10: code form
         '430903003004,坏边界,社区,430903003,"POLYGON ((1 2, 3"\n'             # 11: bad WKT
         "430903010,孤街道,街道,430903010001,\n")                             # 12: parent below


def test_every_rule_refuses_its_row_with_a_code_and_both_languages(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(UNITS, encoding="utf-8")
    units, problems = validate_units(read_table(path, kind="units"))
    assert list(units["code"]) == ["430900", "430903", "430903003", "430903003001"]
    assert units.geometry.iloc[3].geom_type == "MultiPolygon"
    errors = {p.row: p for p in problems if p.severity == "error"}
    assert {r: p.code for r, p in errors.items()} == {
        6: "duplicate", 7: "unit_parent_unknown", 8: "unit_parent_level", 9: "vocab",
        10: "unit_code_form", 11: "bad_wkt", 12: "unit_parent_unknown"}
    assert errors[6].text("zh") == "与第 5 行重复"
    assert errors[8].text("zh") == "上级 430903003001 的层级（社区（村））应高于 社区（村）"
    assert errors[8].text("en") == "parent 430903003001 (community) must be above a community"
    assert errors[7].field == "上级编码" and errors[7].value == "430903009"


def test_a_stored_parent_is_enough_and_levels_must_descend():
    import pandas as pd

    frame = pd.DataFrame({"code": ["430903003009", "430903011", "430903012"],
                          "name": ["新社区", "新街道", "错码街道"],
                          "level": ["community", "township", "township"],
                          "parent_code": ["430903003", "430903003001", "430903"]})
    frame.loc[2, "code"] = "430903012001"  # a township's code is 9 digits
    units, problems = validate_units(frame, stored=admin_units())
    assert list(units["code"]) == ["430903003009"]  # its parent is stored, not in the file
    assert [(p.row, p.code) for p in problems] == [(3, "unit_level_code"),
                                                   (2, "unit_parent_level")]
    assert problems[0].text("zh") == "乡镇（街道）的编码应为 9 位数字"


def test_import_writes_units_in_one_transaction_and_counts_a_reimport(engine, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(UNITS, encoding="utf-8")
    first = import_file(engine, path, kind="units")
    assert first.ok(), first.summary()
    assert (first.rows_new, first.rows_updated, first.rows_unchanged, first.rows_rejected) == (
        4, 0, 0, 7)
    stored = store_requests.read_admin_units(engine).set_index("code")
    assert stored.loc["430903003001", "name"] == "甲社区"
    assert stored.loc["430903", "parent_code"] == "430900"
    outline = stored.loc["430903003001", "geometry"]
    assert shapely.equals_exact(outline.normalize(), shapely.MultiPolygon(
        [shapely.box(112.30, 28.55, 112.32, 28.57)]).normalize(), tolerance=1e-9)
    again = import_file(engine, path, kind="units", dry_run=True)
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 4)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("code,name,level,parent_code\n430903,赫山区（新）,county,430900\n",
                       encoding="utf-8")
    third = import_file(engine, renamed, kind="units")
    assert (third.rows_new, third.rows_updated, third.rows_unchanged) == (0, 1, 0)
    stored = store_requests.read_admin_units(engine).set_index("code")
    assert stored.loc["430903", "name"] == "赫山区（新）"
    # A file without outlines keeps the stored ones.
    assert stored.loc["430903003001", "geometry"] is not None
    assert store_engine.table_counts(engine)["admin_unit"] == 4


def test_a_reimport_that_only_updates_rows_moves_the_data_stamp(engine, tmp_path):
    # Pages on every server key their caches on the stamp: a rename counts no new row.
    from geo.store.live import data_stamp

    path = tmp_path / "units.csv"
    path.write_text(UNITS, encoding="utf-8")
    import_file(engine, path, kind="units")
    before = data_stamp(engine)
    import_file(engine, path, kind="units")  # nothing changed, nothing written
    assert data_stamp(engine) == before
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("code,name,level,parent_code\n430903,赫山区（新）,county,430900\n",
                       encoding="utf-8")
    assert import_file(engine, renamed, kind="units").rows_updated == 1
    assert data_stamp(engine) != before
