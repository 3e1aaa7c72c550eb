import subprocess
import sys

import pytest

from geo import cli
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests


def test_python_m_geo_is_an_alias(tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    out = subprocess.run([sys.executable, "-m", "geo", "--database", url, "db", "upgrade"],
                         capture_output=True, text=True, check=True)
    assert "schema revision 0011" in out.stdout


def test_init_demo_refuses_to_overwrite(tmp_path, four_grids, capsys):
    url = f"sqlite:///{tmp_path}/c.db"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_grids(conn, four_grids)
    assert cli.main(["--database", url, "init-demo"]) == 1
    assert "--force" in capsys.readouterr().err
    assert len(store_requests.read_grids(eng)) == 4
    # What scripts/start.sh --demo runs on every start: a database with data is left alone.
    assert cli.main(["--database", url, "init-demo", "--if-empty"]) == 0
    assert "not built again" in capsys.readouterr().err
    assert len(store_requests.read_grids(eng)) == 4


def test_info_prints_counts(tmp_path, four_grids, capsys):
    url = f"sqlite:///{tmp_path}/c.db"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_grids(conn, four_grids)
    assert cli.main(["--database", url, "info"]) == 0
    out = capsys.readouterr().out
    assert "grid" in out and " 4" in out


def test_import_reports_bad_rows_and_exit_code(tmp_path, four_grids, capsys):
    url = f"sqlite:///{tmp_path}/c.db"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_grids(conn, four_grids)
    csv = tmp_path / "r.csv"
    csv.write_text("external_id,lon,lat,category,reported_at\n"
                   "a,112.305,28.565,road,2026-11-01 08:00\n"
                   "b,abc,28.565,road,2026-11-01 08:00\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    assert cli.main(["--database", url, "import", "requests", str(csv),
                     "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "row 3, field lon" in err  # the spreadsheet's line: the header is 1
    assert "row" in report.read_text(encoding="utf-8-sig").splitlines()[0]
    assert store_engine.table_counts(eng)["request"] == 1
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    assert cli.main(["--database", url, "import", "requests", str(empty)]) == 2
    assert "nothing written" in capsys.readouterr().out


# --------------------------------------------------------------------------- export


def _export_city(engine, four_grids):
    from datetime import datetime

    import pandas as pd

    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.bulk_insert_requests(conn, pd.DataFrame([dict(
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
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_grids(conn, four_grids)
    out = tmp_path / "grids.geojson"
    assert cli.main(["--database", url, "export", "grids", "-o", str(out)]) == 0
    csv = tmp_path / "r.csv"
    csv.write_text("external_id,lon,lat,category,reported_at\n"
                   "a,112.305,28.565,road,2026-11-01 08:00\n", encoding="utf-8")
    assert cli.main(["--database", url, "import", "requests", str(csv)]) == 0
    log = store_access.read_audit(eng)
    assert log.action.tolist() == ["import", "export"]
    assert log.rows.tolist() == [1, 4]
    assert '"personal": false' in log.detail.iloc[1]
    assert log.actor.str.startswith("cli:").all()


def test_init_demo_rejects_a_bad_end(tmp_path, capsys):
    assert cli.main(["--database", f"sqlite:///{tmp_path}/d.db", "init-demo",
                     "--end", "yesterday"]) == 2
    assert "--end" in capsys.readouterr().err


# --------------------------------------------------------------------------- users, wall tokens


SECRET = "correct-horse-7"


@pytest.fixture
def acl_db(tmp_path, four_grids):
    """A SQLite file with the four grids and their community; returns (url, engine)."""
    import pandas as pd

    url = f"sqlite:///{tmp_path}/acl.db"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_admin_units(conn, pd.DataFrame({
            "code": ["430903003001"], "name": ["测试社区"], "level": ["community"],
            "parent_code": [None]}))
        store_requests.write_grids(conn, four_grids)
    return url, eng


def _stdin(monkeypatch, text):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_users_add_reads_the_password_from_stdin_and_audits(acl_db, monkeypatch, capsys):
    from geo import accounts

    url, eng = acl_db
    _stdin(monkeypatch, SECRET + "\n")
    assert cli.main(["--database", url, "users", "add", "wang", "--role", "grid_head",
                     "--area", "430903003001", "--display-name", "王网格长",
                     "--email", "wang@example.cn", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert "'wang'" in out and "grid_head" in out and "430903003001" in out
    account = accounts.authenticate(eng, "wang", SECRET)
    assert account.scope.areas == ("430903003001",) and account.display_name == "王网格长"
    line = store_access.read_audit(eng).query("action == 'user_add'").iloc[0]
    assert line.actor.startswith("cli:") and SECRET not in line.detail


def test_users_add_prompts_twice_and_refuses_a_mismatch(acl_db, monkeypatch, capsys):
    import getpass

    from geo import accounts

    url, eng = acl_db
    answers = iter([SECRET, SECRET + "x"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert cli.main(["--database", url, "users", "add", "zhao", "--role", "commander"]) == 2
    assert "differ" in capsys.readouterr().err
    assert accounts.list_users(eng).empty
    answers = iter([SECRET, SECRET])
    assert cli.main(["--database", url, "users", "add", "zhao", "--role", "commander"]) == 0
    assert accounts.authenticate(eng, "zhao", SECRET).role == "commander"


@pytest.mark.parametrize("argv, stdin, message", [
    (["users", "add", "wang", "--role", "grid_head"], SECRET, "needs --area"),
    (["users", "add", "wang", "--role", "grid_head", "--area", "430903999001"], SECRET,
     "unknown area code"),
    (["users", "add", "wang", "--role", "planner"], "short", "too short"),
    (["users", "add", "wang", "--role", "planner"], "demo-admin", "demo"),
    (["users", "add", "bad name", "--role", "planner"], SECRET, "2-64"),
    (["users", "add", "wang", "--role", "planner"], "", "no password on stdin"),
    (["users", "passwd", "nobody"], SECRET, "no account 'nobody'"),
])
def test_users_errors_exit_2_without_a_traceback(acl_db, monkeypatch, capsys, argv, stdin,
                                                 message):
    url, _ = acl_db
    _stdin(monkeypatch, stdin + "\n")
    assert cli.main(["--database", url] + argv + ["--password-stdin"]) == 2
    err = capsys.readouterr().err
    assert f"gridmap users {argv[1]}: error:" in err and message in err
    assert "Traceback" not in err


def test_users_list_passwd_disable_enable(acl_db, monkeypatch, capsys):
    from geo import accounts

    url, eng = acl_db
    db = ["--database", url]
    _stdin(monkeypatch, SECRET + "\n")
    assert cli.main(db + ["users", "add", "plan", "--role", "planner", "--password-stdin"]) == 0
    assert cli.main(db + ["users", "disable", "plan"]) == 0
    assert cli.main(db + ["users", "list"]) == 0
    out = capsys.readouterr().out
    listed = [line for line in out.splitlines() if line.startswith("plan ")]
    assert len(listed) == 1 and "planner" in listed[0] and "disabled" in listed[0]
    assert "$argon2" not in out and "hash" not in out
    with pytest.raises(accounts.LoginError, match="disabled"):
        accounts.authenticate(eng, "plan", SECRET)
    assert cli.main(db + ["users", "enable", "plan"]) == 0
    _stdin(monkeypatch, "another-secret-9\n")
    assert cli.main(db + ["users", "passwd", "plan", "--password-stdin"]) == 0
    assert accounts.authenticate(eng, "plan", "another-secret-9").username == "plan"
    assert cli.main(db + ["users", "disable", "nobody"]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err
    actions = store_access.read_audit(eng).action.tolist()
    assert [a for a in reversed(actions) if a.startswith("user_")] == [
        "user_add", "user_disable", "user_enable", "user_passwd"]


def test_users_unlock_and_end_sessions(acl_db, monkeypatch, capsys):
    from datetime import timedelta

    from geo import accounts, clock
    from geo.access import AccessDenied

    url, eng = acl_db
    db = ["--database", url]
    _stdin(monkeypatch, SECRET + "\n")
    assert cli.main(db + ["users", "add", "plan", "--role", "planner", "--password-stdin"]) == 0
    now = clock.now(precision="s")
    token = accounts.issue_session(eng, accounts.authenticate(eng, "plan", SECRET, now=now),
                                   now=now)
    t = now
    for _ in range(6):  # a wait of 32 s on the name
        with pytest.raises(accounts.LoginError) as err:
            accounts.authenticate(eng, "plan", "wrong-password", now=t)
        t = err.value.until
    with pytest.raises(accounts.LoginError, match="throttled"):
        accounts.authenticate(eng, "plan", SECRET, now=t - timedelta(seconds=1))
    capsys.readouterr()
    assert cli.main(db + ["users", "unlock", "plan"]) == 0
    assert "account 'plan' unlocked" in capsys.readouterr().out
    assert accounts.authenticate(eng, "plan", SECRET, now=t - timedelta(seconds=1))
    assert cli.main(db + ["users", "end-sessions", "plan"]) == 0
    assert "1 session(s) of 'plan' ended" in capsys.readouterr().out
    with pytest.raises(AccessDenied, match="ended"):
        accounts.account_for_session(eng, token)
    assert cli.main(db + ["users", "end-sessions", "nobody"]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err
    actions = store_access.read_audit(eng).action.tolist()
    assert "user_unlock" in actions and "user_end_sessions" in actions


def test_users_refuses_a_password_on_the_command_line(acl_db, capsys):
    url, _ = acl_db
    with pytest.raises(SystemExit) as exc:
        cli.main(["--database", url, "users", "add", "x1", "--role", "planner",
                  "--password", SECRET])
    assert exc.value.code == 2


def test_wall_token_create_prints_a_working_token_once(acl_db, capsys, monkeypatch):
    from geo import accounts
    from geo.access import AccessDenied, Scope

    url, eng = acl_db
    db = ["--database", url]
    monkeypatch.setenv("GRIDMAP_PUBLIC_URL", "https://wall.example.cn/")
    assert cli.main(db + ["wall-token", "create", "--area", "430903003001", "--expires", "90d",
                          "--name", "lobby"]) == 0
    captured = capsys.readouterr()
    token, kiosk = captured.out.splitlines()
    assert kiosk == ("https://wall.example.cn/?kiosk=1&refresh=30&area=430903003001"
                     f"&token={token}")
    assert "only this once" in captured.err
    assert accounts.check_wall_token(eng, token) == Scope("wall", ("430903003001",),
                                                          "wall:lobby")
    assert cli.main(db + ["wall-token", "list"]) == 0
    out = capsys.readouterr().out
    assert "lobby" in out and "live" in out and token not in out
    assert cli.main(db + ["wall-token", "revoke", "lobby"]) == 0
    with pytest.raises(AccessDenied, match="revoked"):
        accounts.check_wall_token(eng, token)
    assert cli.main(db + ["wall-token", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert cli.main(db + ["wall-token", "revoke", "lobby"]) == 2
    assert "no live wall token" in capsys.readouterr().err
    log = store_access.read_audit(eng)
    assert log.action.tolist()[:2] == ["wall_token_revoke", "wall_token_create"]
    assert log.actor.str.startswith("cli:").all()


def test_wall_token_url_from_the_option_or_this_host(acl_db, capsys, monkeypatch):
    import socket

    url, _eng = acl_db
    monkeypatch.setenv("GRIDMAP_PUBLIC_URL", "http://ignored:1")
    assert cli.main(["--database", url, "wall-token", "create", "--area", "430903003001",
                     "--expires", "1d", "--url", "10.1.2.3:8600", "--name", "hall"]) == 0
    token, kiosk = capsys.readouterr().out.splitlines()
    assert kiosk == f"http://10.1.2.3:8600/?kiosk=1&refresh=30&area=430903003001&token={token}"
    monkeypatch.delenv("GRIDMAP_PUBLIC_URL")
    assert cli.main(["--database", url, "wall-token", "create", "--area", "430903003001",
                     "--expires", "1d", "--name", "lobby"]) == 0
    token, kiosk = capsys.readouterr().out.splitlines()
    assert kiosk == (f"http://{socket.gethostname()}:8501/?kiosk=1&refresh=30"
                     f"&area=430903003001&token={token}")


@pytest.mark.parametrize("argv, message", [
    (["--area", "430903999001", "--expires", "90d"], "unknown area code(s): 430903999001"),
    (["--area", "430903003001", "--expires", "soon"], "'soon'"),
    (["--area", "430903003001", "--expires", "0d"], "positive"),
])
def test_wall_token_create_errors_exit_2(acl_db, capsys, argv, message):
    from geo import accounts

    url, eng = acl_db
    assert cli.main(["--database", url, "wall-token", "create"] + argv) == 2
    captured = capsys.readouterr()
    assert "gridmap wall-token create: error:" in captured.err and message in captured.err
    assert captured.out == ""
    assert accounts.list_wall_tokens(eng).empty


def test_api_refuses_to_start_with_a_demo_password(acl_db, monkeypatch, capsys):
    import uvicorn

    from geo import accounts

    url, eng = acl_db
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append((a, kw)))
    assert cli.main(["--database", url, "api"]) == 0  # no accounts: nothing to refuse
    assert len(started) == 1
    with store_engine.transaction(eng) as conn:
        accounts.add_user(conn, username="admin", role="admin", password="demo-admin",
                          check_strength=False)
    for workers in ("1", "2"):
        assert cli.main(["--database", url, "api", "--workers", workers]) == 2
        err = capsys.readouterr().err
        assert "admin" in err and "gridmap users passwd" in err
    assert len(started) == 1
    assert cli.demo_password_refusal(eng) is not None
    with store_engine.transaction(eng) as conn:
        store_engine.set_setting(conn, "demo", "city")  # the demo's passwords are documented
    assert cli.demo_password_refusal(eng) is None
    assert cli.main(["--database", url, "api"]) == 0
    assert len(started) == 2


def test_bench_hands_its_options_to_python_m_bench(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--help"])
    assert exc.value.code == 0
    assert "python -m bench" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["info", "--no-such-option"])


def test_escalate_records_each_crossing_once_and_is_audited(tmp_path, capsys):
    import pandas as pd

    url = f"sqlite:///{tmp_path}/c.db"
    eng = store_engine.make_engine(url)
    row = dict(external_id="late", grid_code="430903003001001", outside_grid=False,
               lon=112.305, lat=28.565, source="hotline", category="road", severity="routine",
               route="government", status="in_progress",
               reported_at=pd.Timestamp("2026-11-02 01:00"),
               due_at=pd.Timestamp("2026-11-12 01:00"))
    with store_engine.transaction(eng) as conn:
        store_requests.insert_requests(conn, pd.DataFrame([row]))
    # 2026-11-20 10:00 Shanghai: past due soon and overdue, not yet long overdue.
    assert cli.main(["--database", url, "escalate", "--at", "2026-11-20T10:00"]) == 0
    assert "2 escalation event(s)" in capsys.readouterr().out
    assert cli.main(["--database", url, "escalate", "--at", "2026-11-20T10:00"]) == 0
    assert "0 escalation event(s)" in capsys.readouterr().out
    audit = store_access.read_audit(eng)
    assert (audit["action"] == "escalate").sum() == 2
    assert cli.main(["--database", url, "escalate", "--at", "soon"]) == 2
    assert "--at 'soon'" in capsys.readouterr().err


def test_a_bad_deadline_or_holiday_file_stops_commands_with_its_name(tmp_path, monkeypatch,
                                                                      capsys):
    url = f"sqlite:///{tmp_path}/c.db"
    bad = tmp_path / "holidays.toml"
    bad.write_text('[2027]\nwork = ["2027-02-14", "14 Feb"]\n', encoding="utf-8")
    monkeypatch.setenv("GRIDMAP_HOLIDAYS", str(bad))
    assert cli.main(["--database", url, "escalate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gridmap escalate: error: GRIDMAP_HOLIDAYS: ")
    assert "holidays.toml: [2027] work, entry 2: '14 Feb' is not a date" in err
    assert "Traceback" not in err
    monkeypatch.delenv("GRIDMAP_HOLIDAYS")
    policy = tmp_path / "deadlines.toml"
    policy.write_text('[severity]\nurgent = "1 day"\n', encoding="utf-8")
    monkeypatch.setenv("GRIDMAP_DEADLINES", str(policy))
    assert cli.main(["--database", url, "api"]) == 2
    assert "GRIDMAP_DEADLINES: " in capsys.readouterr().err


# --------------------------------------------------------------------------- alliance


def test_alliance_add_list_disable_with_contacts_masked(engine, four_grids, capsys):
    from geo.store import access as store_access

    db = _export_city(engine, four_grids)
    add = db + ["alliance", "add", "海城爱心超市", "--kind", "商户", "--area", "430903003001001",
                "--area", "430903003001002", "--contact-name", "张三",
                "--contact-phone", "13812341234"]
    assert cli.main(add) == 0
    assert "added" in capsys.readouterr().out
    assert cli.main(add) == 2  # the same name again
    assert "error (name)" in capsys.readouterr().err
    assert cli.main(db + ["alliance", "add", "x", "--kind", "bank", "--area",
                          "430903003001001"]) == 2
    assert "error (kind)" in capsys.readouterr().err
    assert cli.main(db + ["alliance", "list"]) == 0
    out = capsys.readouterr().out
    assert "张*" in out and "138****1234" in out and "13812341234" not in out
    assert "430903003001001, 430903003001002" in out and "active" in out
    assert cli.main(db + ["alliance", "list", "--personal"]) == 0
    captured = capsys.readouterr()
    assert "13812341234" in captured.out and "personal data" in captured.err
    assert cli.main(db + ["alliance", "disable", "海城爱心超市"]) == 0
    assert cli.main(db + ["alliance", "list"]) == 0
    assert "disabled" in capsys.readouterr().out
    assert cli.main(db + ["alliance", "disable", "无此成员"]) == 2
    actions = set(store_access.read_audit(engine).action)
    assert {"alliance.add", "alliance.list", "alliance.disable"} <= actions


def test_import_units_prints_reasons_in_chinese_and_writes_one_transaction(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/u.db"
    units = tmp_path / "units.csv"
    units.write_text("区划编码,区划名称,层级,上级编码\n"
                     "430900,益阳市,市,\n"
                     "430903,赫山区,区,430900\n"
                     "430903003,甲街道,街道,430903\n"
                     "430903003001,甲社区,社区,430903003\n"
                     "430903004001,孤村,村,430903004\n", encoding="utf-8")
    assert cli.main(["--database", url, "import", "auto", str(units), "--lang", "zh"]) == 0
    captured = capsys.readouterr()
    assert "detected units" in captured.err
    assert "错误：第 6 行，字段 上级编码，值 '430903004'：上级 430903004 不在文件中，也不在库中" \
        in captured.err
    assert "4 new, 0 updated, 0 unchanged, 1 refused" in captured.out
    eng = store_engine.make_engine(url)
    stored = store_requests.read_admin_unit_attributes(eng).set_index("code")
    assert stored.loc["430903003001", ["name", "level", "parent_code"]].tolist() == [
        "甲社区", "community", "430903003"]
    assert cli.main(["--database", url, "import", "units", str(units), "--dry-run"]) == 0
    assert "0 new, 0 updated, 4 unchanged, 1 refused" in capsys.readouterr().out


def test_import_template_written_for_each_format(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert cli.main(["import", "stations", str(out), "--template", "csv"]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf" + "编码,名称,类型".encode())
    assert cli.main(["import", "auto", str(out), "--template", "xlsx"]) == 2


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_a_grid_export_imports_again_without_unknown_columns(engine, four_grids, tmp_path,
                                                             capsys, fmt):
    from geo.importer import import_file

    db = _export_city(engine, four_grids)
    out = tmp_path / f"grids.{fmt}"
    assert cli.main(db + ["export", "grids", "-o", str(out)]) == 0
    report = import_file(engine, out, kind="grids", dry_run=True)
    assert report.ok(), report.summary()
    assert [p for p in report.problems if p.code == "column_unknown"] == []
    assert [p.reason for p in report.warnings if p.row is None] == [
        "no community admin units stored; community codes not checked"]
    assert (report.rows_new, report.rows_updated, report.rows_unchanged) == (0, 0, 4)
