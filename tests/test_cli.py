import subprocess
import sys

import pytest

from geo import cli, store


def test_python_m_geo_is_an_alias(tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    out = subprocess.run([sys.executable, "-m", "geo", "--database", url, "db", "upgrade"],
                         capture_output=True, text=True, check=True)
    assert "schema revision 0003" in out.stdout


def test_init_demo_refuses_to_overwrite(tmp_path, four_grids, capsys):
    url = f"sqlite:///{tmp_path}/c.db"
    eng = store.make_engine(url)
    with store.transaction(eng) as conn:
        store.write_grids(conn, four_grids)
    assert cli.main(["--database", url, "init-demo"]) == 1
    assert "--force" in capsys.readouterr().err
    assert len(store.read_grids(eng)) == 4


def test_info_prints_counts(tmp_path, four_grids, capsys):
    url = f"sqlite:///{tmp_path}/c.db"
    eng = store.make_engine(url)
    with store.transaction(eng) as conn:
        store.write_grids(conn, four_grids)
    assert cli.main(["--database", url, "info"]) == 0
    out = capsys.readouterr().out
    assert "grid" in out and " 4" in out


def test_import_reports_bad_rows_and_exit_code(tmp_path, four_grids, capsys):
    url = f"sqlite:///{tmp_path}/c.db"
    eng = store.make_engine(url)
    with store.transaction(eng) as conn:
        store.write_grids(conn, four_grids)
    csv = tmp_path / "r.csv"
    csv.write_text("external_id,lon,lat,category,reported_at\n"
                   "a,112.305,28.565,road,2026-11-01 08:00\n"
                   "b,abc,28.565,road,2026-11-01 08:00\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    assert cli.main(["--database", url, "import", "requests", str(csv),
                     "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "row 2, field lon" in err
    assert "row" in report.read_text(encoding="utf-8-sig").splitlines()[0]
    assert store.table_counts(eng)["request"] == 1
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    assert cli.main(["--database", url, "import", "requests", str(empty)]) == 2
    assert "nothing written" in capsys.readouterr().out


# --------------------------------------------------------------------------- export


def _export_city(engine, four_grids):
    from datetime import datetime

    import pandas as pd

    with store.transaction(engine) as conn:
        store.write_grids(conn, four_grids)
        store.bulk_insert_requests(conn, pd.DataFrame([dict(
            external_id="e1", grid_code="430903003001001", outside_grid=False, lon=112.305,
            lat=28.565, category="dispute", severity="routine", status="reported",
            reported_at=datetime(2026, 11, 2), description="<b>漏水</b>",
            reporter_name="王五", reporter_phone="13912345678")]))
    return ["--database", engine.url.render_as_string(hide_password=False)]


def test_export_writes_geojson_with_progress(engine, four_grids, tmp_path, capsys):
    import json

    db = _export_city(engine, four_grids)
    out = tmp_path / "grids.geojson"
    assert cli.main(db + ["export", "grids", "--since", "2026-11-01", "--until",
                          "2026-11-30", "--area", "430903003001", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "export: " in captured.err and "100%" in captured.err
    assert "4 rows" in captured.out and str(out) in captured.out
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 4
    assert doc["features"][0]["properties"]["requests"] == 1


def test_export_csv_and_gpkg_from_the_extension(engine, four_grids, tmp_path, capsys):
    import pyogrio

    db = _export_city(engine, four_grids)
    csv = tmp_path / "r.csv"
    assert cli.main(db + ["export", "requests", "-o", str(csv)]) == 0
    text = csv.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf") and "漏水".encode() in text
    assert b"13912345678" not in text
    gpkg = tmp_path / "p.gpkg"
    assert cli.main(db + ["export", "stations", "-o", str(gpkg)]) == 0
    assert cli.main(db + ["export", "requests", "--personal", "-o", str(gpkg)]) == 0
    assert "personal data" in capsys.readouterr().err
    assert set(dict(pyogrio.list_layers(gpkg))) == {"stations", "requests"}
    back = pyogrio.read_dataframe(gpkg, layer="requests")
    assert back["reporter_phone"].tolist() == ["13912345678"]


def test_export_bulletin_month(engine, four_grids, tmp_path):
    import pandas as pd

    db = _export_city(engine, four_grids)
    out = tmp_path / "b.csv"
    assert cli.main(db + ["export", "bulletin", "--month", "2026-11", "--level", "community",
                          "-o", str(out)]) == 0
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert frame["month"].tolist() == ["2026-11"] and frame["level"].tolist() == ["community"]


def test_export_errors_exit_2_with_a_clear_message(engine, four_grids, tmp_path, capsys):
    db = _export_city(engine, four_grids)
    out = str(tmp_path / "x.geojson")
    cases = [
        (["export", "grids", "--area", "999999", "-o", out], "999999"),
        (["export", "grids", "--since", "2026-13-01", "-o", out], "2026-13-01"),
        (["export", "grids", "--until", "yesterday", "-o", out], "--until"),
        (["export", "grids", "--since", "2026-11-30", "--until", "2026-11-01", "-o", out],
         "before its first day"),
        (["export", "grids", "--format", "shp", "-o", out], "'shp'"),
        (["export", "grids", "-o", str(tmp_path / "x.txt")], "--format"),
        (["export", "bulletin", "--month", "2026-1", "-o", out], "2026-1"),
        (["export", "grids", "--level", "county", "-o", out], "--level"),
        (["export", "grids", "-o", str(tmp_path / "no" / "such" / "dir.geojson")],
         "cannot write"),
        (["export", "grids", "--format", "csv", "-o", str(tmp_path)], "cannot write"),
    ]
    for argv, expected in cases:
        assert cli.main(db + argv) == 2, argv
        err = capsys.readouterr().err
        assert "gridmap export: error:" in err and expected in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_exports_and_imports_are_audited(tmp_path, four_grids):
    url = f"sqlite:///{tmp_path}/audit.db"
    eng = store.make_engine(url)
    with store.transaction(eng) as conn:
        store.write_grids(conn, four_grids)
    out = tmp_path / "grids.geojson"
    assert cli.main(["--database", url, "export", "grids", "-o", str(out)]) == 0
    csv = tmp_path / "r.csv"
    csv.write_text("external_id,lon,lat,category,reported_at\n"
                   "a,112.305,28.565,road,2026-11-01 08:00\n", encoding="utf-8")
    assert cli.main(["--database", url, "import", "requests", str(csv)]) == 0
    log = store.read_audit(eng)
    assert log.action.tolist() == ["import", "export"]
    assert log.rows.tolist() == [1, 4]
    assert '"personal": false' in log.detail.iloc[1]
    assert log.actor.str.startswith("cli:").all()


def test_init_demo_rejects_a_bad_end(tmp_path, capsys):
    assert cli.main(["--database", f"sqlite:///{tmp_path}/d.db", "init-demo",
                     "--end", "yesterday"]) == 2
    assert "--end" in capsys.readouterr().err


def test_bench_hands_its_options_to_python_m_bench(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--help"])
    assert exc.value.code == 0
    assert "python -m bench" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["info", "--no-such-option"])
