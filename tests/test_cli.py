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
