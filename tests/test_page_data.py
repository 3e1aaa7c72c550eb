"""AppTests of the data page: loaded data and map, upload → dry run → import, bad files,
English, empty database."""

import pytest

from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import schema
from tests.pages import database, run_page, texts
from tests.tiny_city import admin_units

DATA = "pages/data.py"

STATIONS_CSV = (
    "编码,名称,类型,经度,纬度,民警数\n"
    "S1,赫山派出所,station,112.305,28.565,20\n"
    "S2,<b>测试</b>警务站,workstation,112.315,28.555,4\n"
    "S3,坏坐标警务室,room,abc,28.55,2\n"
    "S4,海外警务室,room,2.35,48.85,2\n"
).encode()


def _run(at, url):
    with database(url):
        at.run()
    return at


@pytest.fixture
def tiny_url(tmp_path, four_grids) -> str:
    """A database of four grids (one without residents) and their admin units."""
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    eng = store_engine.make_engine(url)
    grids = four_grids.copy()
    grids.loc[3, "population"] = None
    with store_engine.transaction(eng) as conn:
        store_requests.write_admin_units(conn, admin_units())
        store_requests.write_grids(conn, grids)
    eng.dispose()
    return url


def _counts(url) -> dict:
    eng = store_engine.make_engine(url)
    try:
        return store_engine.table_counts(eng)
    finally:
        eng.dispose()


def test_data_page_shows_what_is_loaded(demo_url):
    at = run_page(demo_url, DATA)
    assert not at.exception
    page = texts(at)
    assert "数据管理" in page and "请选择要导入的文件" in page
    loaded = next(df.value for df in at.dataframe if "数据表" in df.value.columns)
    counts = dict(zip(loaded["数据表"], loaded["行数"], strict=True))
    assert counts["网格"] == "6,017" and counts["诉求"] == "80,787"
    assert "缺少人口" in page and "已登记人口" in page
    users = next(df.value for df in at.dataframe if "账号" in df.value.columns)
    roles = dict(zip(users["账号"], users["角色"], strict=True))
    assert roles == {"admin": "管理员", "commander": "指挥长", "gridhead": "网格长",
                     "planner": "规划员"}  # the demo accounts, never a password hash
    assert not any("argon2" in str(v) for v in users.to_numpy().ravel())
    assert "尚未签发大屏令牌" in page


def test_dry_run_reports_problems_then_import_writes_valid_rows(tiny_url):
    at = run_page(tiny_url, DATA)
    assert not at.exception
    assert "缺少人口（1 个网格）" in texts(at)
    at.selectbox(key="data_kind").set_value("stations")
    _run(at, tiny_url)
    at.file_uploader(key="data_upload").upload("stations.csv", STATIONS_CSV, "text/csv")
    _run(at, tiny_url)
    assert not at.exception
    assert _counts(tiny_url)["station"] == 0  # a dry run writes nothing
    frames = [df.value for df in at.dataframe]
    preview = next(f for f in frames if "编码" in f.columns)
    assert list(preview["编码"]) == ["S1", "S2", "S3", "S4"]
    report = next(f for f in frames if "原因" in f.columns)
    assert {"4", "5"} <= set(report["行号"])  # the spreadsheet's rows: the header is 1
    assert set(report["级别"]) <= {"错误", "警告"}
    button = at.button(key="data_import")
    assert "2" in button.label
    button.click()
    _run(at, tiny_url)
    assert not at.exception
    assert "导入完成：新增 2 行" in texts(at)
    counts = _counts(tiny_url)
    assert counts["station"] == 2 and counts["audit_log"] == 1
    eng = store_engine.make_engine(tiny_url)
    line = store_access.read_audit(eng).iloc[0]
    eng.dispose()
    assert line["action"] == "import" and line["rows"] == 2 and "stations.csv" in line["detail"]
    # Residents' and imported text never reaches the page as markup.
    assert "<b>测试</b>" not in "".join(m.value for m in at.markdown)


def test_a_file_that_is_not_what_it_says_is_rejected(tiny_url):
    at = run_page(tiny_url, DATA)
    at.file_uploader(key="data_upload").upload("grids.csv", b"\x89PNG\r\n\x1a\n0000", "text/csv")
    _run(at, tiny_url)
    assert not at.exception
    page = texts(at)
    assert "整个文件被拒绝" in page and "PNG" in page
    assert _counts(tiny_url)["grid"] == 4


def test_an_unknown_epsg_code_is_a_clear_message(tiny_url):
    at = run_page(tiny_url, DATA)
    at.selectbox(key="data_kind").set_value("stations")
    at.selectbox(key="data_crs").set_value("epsg")
    _run(at, tiny_url)
    at.text_input(key="data_epsg").input("999999")
    at.file_uploader(key="data_upload").upload("stations.csv", STATIONS_CSV, "text/csv")
    _run(at, tiny_url)
    assert not at.exception
    assert "999999" in texts(at) and "整个文件被拒绝" in texts(at)


def _styles(at) -> str:
    return "\n".join(el.proto.body for el in at.get("html"))


def test_data_page_in_english(tiny_url):
    at = run_page(tiny_url, DATA, lang="en")
    assert not at.exception
    page = texts(at)
    assert "Data loaded" in page and "Residents missing: 1 grids" in page
    assert "数据管理" not in page
    assert 'content:"Up to 200 MB per file • CSV, TXT, XLSX' in _styles(at)


def test_the_uploader_speaks_the_pages_language(tiny_url):
    # Streamlit's own "Upload" and "200MB per file" are replaced, for this uploader only.
    styles = _styles(run_page(tiny_url, DATA))
    assert 'aria-label="选择文件"]' in styles
    assert 'content:"上传文件"' in styles
    assert 'content:"每个文件不超过 200 MB · CSV, TXT, XLSX, GEOJSON, JSON, GPKG, ZIP"' in styles


def test_data_page_on_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store_engine.make_engine(url).dispose()
    at = run_page(url, DATA)
    assert not at.exception
    page = texts(at)
    assert "数据库中还没有网格" in page
    # The upload still works on an empty database: it is how grids arrive.
    assert len(at.file_uploader) == 1


def test_crs_value_and_safe_name():
    from ui.datapage import crs_value, safe_name

    assert crs_value("auto") is None
    assert crs_value("gcj02") == "gcj02"
    assert crs_value("epsg", " epsg:4547 ") == "EPSG:4547"
    assert crs_value("epsg", "") is None
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\a\\grids.csv") == "grids.csv"


def test_every_stored_table_has_a_name_in_both_languages():
    from ui.catalogue import load

    catalogue = load()
    missing = [t.name for t in schema.metadata.sorted_tables
               if f"data.table.{t.name}" not in catalogue]
    assert missing == []


UPDATES_CSV = ("编号,状态,办结时间,更新时间\n"
               "R1,办结,2026-12-02 08:00,2026-12-02 08:00\n"
               "R2,上报,,2026-12-01 08:00\n"
               "R9,受理,,2026-12-02 08:00\n").encode()


def test_an_updates_file_shows_the_four_counts_and_writes_only_what_changed(tiny_url, tmp_path):
    from geo.importer import import_file

    seed = tmp_path / "seed.csv"
    seed.write_text("external_id,lon,lat,category,reported_at\n"
                    "R1,112.305,28.565,road,2026-12-01 08:00\n"
                    "R2,112.315,28.555,road,2026-12-01 08:00\n", encoding="utf-8")
    eng = store_engine.make_engine(tiny_url)
    assert import_file(eng, seed, kind="requests").rows_new == 2
    eng.dispose()
    at = run_page(tiny_url, DATA)
    at.selectbox(key="data_kind").set_value("requests")
    _run(at, tiny_url)
    at.file_uploader(key="data_upload").upload("updates.csv", UPDATES_CSV, "text/csv")
    _run(at, tiny_url)
    assert not at.exception
    page = texts(at)
    # Read 3: new 0, would update 1 (R1), unchanged 1 (R2), refused 1 (R9: unknown).
    for tile in ("读取行数", "将新增", "将更新", "未变", "拒绝"):
        assert tile in page
    report = next(df.value for df in at.dataframe if "原因" in df.value.columns)
    refused = report[report["级别"] == "错误"]
    assert refused[["行号", "字段"]].values.tolist() == [["4", "编号"]]
    assert refused["原因"].iloc[0].startswith("未知诉求：库中没有此编号")
    button = at.button(key="data_import")
    assert button.label == "正式导入：写入 1 行（新增 0，更新 1）"
    button.click()
    _run(at, tiny_url)
    assert not at.exception
    assert "导入完成：新增 0 行，更新 1 行，未变 1 行，拒绝 1 行" in texts(at)
    assert _counts(tiny_url)["request_event"] == 1
    # The same file again: nothing would change, so there is no button that writes nothing.
    at.file_uploader(key="data_upload").upload("updates-again.csv", UPDATES_CSV, "text/csv")
    _run(at, tiny_url)
    assert not at.exception
    assert "无需导入：2 行与库中相同或比库中旧" in texts(at)
    assert not [b for b in at.button if b.key == "data_import"]


def test_the_import_counts_in_english(tiny_url, monkeypatch):
    import ui.text

    # English in the test too: AppTest matches a select box's options by their text.
    monkeypatch.setattr(ui.text, "lang", lambda: "en")
    at = run_page(tiny_url, DATA)
    at.selectbox(key="data_kind").set_value("stations")
    _run(at, tiny_url)
    at.file_uploader(key="data_upload").upload("stations.csv", STATIONS_CSV, "text/csv")
    _run(at, tiny_url)
    assert not at.exception
    page = texts(at)
    for tile in ("Would be new", "Would be updated", "Unchanged", "Refused"):
        assert tile in page
    assert at.button(key="data_import").label == "Import: write 2 rows (2 new, 0 updated)"


def test_the_kind_is_detected_and_reasons_are_in_the_ui_language(tiny_url):
    at = run_page(tiny_url, DATA)
    at.file_uploader(key="data_upload").upload("stations.csv", STATIONS_CSV, "text/csv")
    _run(at, tiny_url)  # the kind left at its default: detected from the columns
    assert not at.exception
    assert at.selectbox(key="data_kind").value == "auto"
    assert "按文件的列和几何识别为：警务站点" in texts(at)
    report = next(df.value for df in at.dataframe if "原因" in df.value.columns)
    reasons = dict(zip(report["行号"], report["原因"], strict=True))
    assert reasons["4"] == "不是数字"
    assert reasons["5"].startswith("坐标不在中国境内")
    refused = at.get("download_button")
    labels = [b.proto.label for b in refused]
    assert "下载被拒绝的 2 行（附原因）" in labels
    assert at.button(key="data_import").label == "正式导入：写入 2 行（新增 2，更新 0）"


def test_reasons_in_english(tiny_url, monkeypatch):
    import ui.text

    monkeypatch.setattr(ui.text, "lang", lambda: "en")
    at = run_page(tiny_url, DATA)
    at.file_uploader(key="data_upload").upload("stations.csv", STATIONS_CSV, "text/csv")
    _run(at, tiny_url)
    assert not at.exception
    assert "Detected from the file's columns and geometry: Police stations" in texts(at)
    report = next(df.value for df in at.dataframe if "Reason" in df.value.columns)
    assert dict(zip(report["Row"], report["Reason"], strict=True))["4"] == "not a number"


def test_a_grid_reimport_counts_only_what_changes(tiny_url, four_grids, tmp_path):
    # The stored grid 004 has no residents; the file gives 900: one grid to update.
    path = tmp_path / "grids.geojson"
    four_grids.to_file(path, engine="pyogrio")
    at = run_page(tiny_url, DATA)
    at.file_uploader(key="data_upload").upload("grids.geojson", path.read_bytes(),
                                               "application/geo+json")
    _run(at, tiny_url)
    assert not at.exception
    assert "按文件的列和几何识别为：网格边界" in texts(at)
    button = at.button(key="data_import")
    assert button.label == "正式导入：写入 1 行（新增 0，更新 1）"
    button.click()
    _run(at, tiny_url)
    assert "导入完成：新增 0 行，更新 1 行，未变 3 行，拒绝 0 行" in texts(at)
    # The same file again: nothing to write, so a message and no button.
    at.file_uploader(key="data_upload").upload("grids-again.geojson", path.read_bytes(),
                                               "application/geo+json")
    _run(at, tiny_url)
    assert not at.exception
    assert "无需导入：4 行与库中相同或比库中旧，不会写入任何数据。" in texts(at)
    assert not [b for b in at.button if b.key == "data_import"]


def test_an_unexpected_error_in_the_check_shows_an_id_not_the_exception(tiny_url, monkeypatch,
                                                                        caplog):
    from geo import importer

    def broken(*args, **kwargs):
        raise RuntimeError("/srv/gridmap/secret/path: GEOS said no")

    monkeypatch.setattr(importer, "import_file", broken)
    at = run_page(tiny_url, DATA)
    at.file_uploader(key="data_upload").upload("stations.csv", STATIONS_CSV, "text/csv")
    with caplog.at_level("ERROR", logger="gridmap.app"):
        _run(at, tiny_url)
    assert not at.exception
    page = texts(at)
    assert "secret" not in page and "RuntimeError" not in page
    assert "检查文件时出现意外错误（错误编号" in page
    # The details are in the server log, under the id the page shows.
    [record] = [r for r in caplog.records if "error " in r.getMessage()]
    error_id = record.getMessage().split()[1]
    assert f"错误编号 {error_id}" in page
    assert "GEOS said no" in str(record.exc_info[1])
