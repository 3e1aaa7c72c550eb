import subprocess
import sys

from geo import cli, store


def test_python_m_geo_is_an_alias(tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    out = subprocess.run([sys.executable, "-m", "geo", "--database", url, "db", "upgrade"],
                         capture_output=True, text=True, check=True)
    assert "schema revision 0001" in out.stdout


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
