"""Updates by file (geo.importer.updates): a later export of the handling platform imported
again moves stored requests on, on both backends; the wall and the per-grid counts follow."""

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest

from geo import heat
from geo.importer import import_file
from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import schema as store_schema
from geo.store import updates as store_updates

CODES = [f"430903003001{i:03d}" for i in range(1, 5)]
# Centres of conftest's four_grids: NW, NE, SW, SE.
CENTRES = [(112.305, 28.565), (112.315, 28.565), (112.305, 28.555), (112.315, 28.555)]
N = 1000
#: Local (Asia/Shanghai) time of the first report; request i is reported 5 minutes × i later.
FIRST = datetime(2026, 12, 1, 8, 0)
#: The wall's moment: 2026-12-10 20:00 in Shanghai.
NOW = datetime(2026, 12, 10, 12, 0)
FMT = "%Y-%m-%d %H:%M"


@pytest.fixture
def grids(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    return four_grids


def _reported(i: int) -> datetime:
    return FIRST + timedelta(minutes=5 * i)


def open_file(tmp_path, name="open.csv"):
    """1,000 open requests, request i in grid i % 4; every tenth a dispute; due in 7 days."""
    lines = ["编号,经度,纬度,类别,上报时间,办理期限,状态"]
    for i in range(N):
        lon, lat = CENTRES[i % 4]
        category = "矛盾纠纷" if i % 10 == 0 else "道路交通"
        lines.append(f"R{i:04d},{lon},{lat},{category},{_reported(i):{FMT}},"
                     f"{_reported(i) + timedelta(days=7):{FMT}},上报")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def later_file(tmp_path, name="later.csv"):
    """The platform's later export: requests 0–599 resolved, 600–999 rated (every fifth
    dissatisfied), with the time of each row's state in 更新时间 and a note in 备注."""
    lines = ["编号,经度,纬度,类别,上报时间,办理期限,状态,办结时间,评价时间,满意度,更新时间,备注"]
    for i in range(N):
        lon, lat = CENTRES[i % 4]
        category = "矛盾纠纷" if i % 10 == 0 else "道路交通"
        rep = _reported(i)
        head = (f"R{i:04d},{lon},{lat},{category},{rep:{FMT}},"
                f"{rep + timedelta(days=7):{FMT}}")
        if i < 600:
            done = rep + timedelta(days=2)
            lines.append(f"{head},办结,{done:{FMT}},,,{done:{FMT}},已修复")
        else:
            done, rated = rep + timedelta(days=1), rep + timedelta(days=1, hours=2)
            mood = "不满意" if i % 5 == 0 else "满意"
            lines.append(f"{head},评价,{done:{FMT}},{rated:{FMT}},{mood},{rated:{FMT}},")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _kpis(engine):
    k = heat.wall_kpis(engine, now=NOW)
    return (k.open, k.overdue, k.open_disputes, k.resolution_rate, k.on_time_rate,
            k.satisfaction_rate)


def _per_grid(engine):
    frame = store_counts.request_counts_per_grid(engine, since=None, until=NOW)
    return frame.set_index("grid_code")[["requests", "open", "overdue", "resolved", "on_time",
                                         "rated", "satisfied", "disputes_open"]]


def _snapshot(engine):
    r = store_schema.request
    frame = store_engine.read_frame(engine, r.select().order_by(r.c.id))
    return frame.drop(columns=["id"]).astype(str).to_numpy().tolist()


def test_a_later_file_moves_the_wall_and_the_grids_to_exactly_its_figures(engine, grids,
                                                                            tmp_path):
    first = import_file(engine, open_file(tmp_path), kind="requests")
    assert (first.rows_new, first.rows_updated, first.rows_rejected) == (N, 0, 0)
    # Due 7 days after the report: the 720 reported before 2026-12-03 20:00 are overdue.
    open_, overdue, disputes, resolution, on_time, satisfaction = _kpis(engine)
    assert (open_, overdue, disputes, resolution, on_time) == (1000, 720, 100, 0.0, 0.0)
    assert math.isnan(satisfaction)  # nothing rated: no rate, not 100 %
    grid = _per_grid(engine)
    assert grid.index.tolist() == CODES
    assert grid["open"].tolist() == [250] * 4 and grid["overdue"].tolist() == [180] * 4
    assert grid["disputes_open"].tolist() == [50, 0, 50, 0]

    later = later_file(tmp_path)
    preview = import_file(engine, later, kind="requests", dry_run=True)
    assert store_updates.read_events(engine, ids=range(1, 3 * N)).empty
    result = import_file(engine, later, kind="requests")
    counts = ("rows_new", "rows_updated", "rows_unchanged", "rows_stale", "rows_rejected")
    assert [getattr(result, c) for c in counts] == [0, 1000, 0, 0, 0], result.summary()
    assert [getattr(preview, c) for c in counts] == [0, 1000, 0, 0, 0]  # judged alike
    assert "1,000 rows read: 0 new, 1,000 updated, 0 unchanged, 0 refused" in result.summary()

    # Every request resolved within its 7 days; 400 rated, 80 of them dissatisfied.
    assert _kpis(engine) == (0, 0, 0, 1.0, 1.0, 0.8)
    grid = _per_grid(engine)
    assert grid["open"].tolist() == [0] * 4 and grid["overdue"].tolist() == [0] * 4
    assert grid["resolved"].tolist() == [250] * 4 and grid["on_time"].tolist() == [250] * 4
    assert grid["rated"].tolist() == [100] * 4 and grid["satisfied"].tolist() == [80] * 4

    # One event per request, by the import and its file, dated by the file's 更新时间.
    states = store_updates.read_states(engine, external_ids=["R0000", "R0999"]) \
        .set_index("external_id")
    events = store_updates.read_events(engine, ids=states["id"])
    assert events[["from_status", "to_status", "actor", "note"]].fillna("").values.tolist() == [
        ["reported", "resolved", "import:later.csv", "已修复"],
        ["reported", "rated", "import:later.csv", ""]]
    # 2026-12-03 08:00 and 2026-12-05 21:15 in Shanghai, stored as UTC.
    assert pd.to_datetime(events["at"]).tolist() == [pd.Timestamp(2026, 12, 3, 0, 0),
                                                     pd.Timestamp(2026, 12, 5, 13, 15)]
    assert states.loc["R0999", "satisfaction"] == "satisfied"
    assert store_engine.table_counts(engine)["request_event"] == N

    # A re-run, and the older file imported again after the newer one, change nothing.
    before = _snapshot(engine)
    again = import_file(engine, later, kind="requests")
    assert [getattr(again, c) for c in counts] == [0, 0, 1000, 0, 0]
    older = import_file(engine, open_file(tmp_path, "open-again.csv"), kind="requests")
    assert [getattr(older, c) for c in counts] == [0, 0, 1000, 1000, 0]
    assert "1,000 unchanged (1,000 stale)" in older.summary()
    stale = older.warnings[0]
    assert (stale.row, stale.field, stale.value, stale.severity) == (2, "状态", "reported",
                                                                     "warning")
    assert stale.reason == ("older than the stored state (updated 2026-12-03 00:00 UTC); "
                            "not applied")
    assert _snapshot(engine) == before
    assert store_engine.table_counts(engine)["request_event"] == N
    assert _kpis(engine) == (0, 0, 0, 1.0, 1.0, 0.8)


def _seed(engine, tmp_path):
    """R0 rated, R1–R5 reported on 2026-12-01 08:00 Shanghai time."""
    lines = ["external_id,lon,lat,category,reported_at,status,resolved_at,closed_at,"
             "satisfaction"]
    lines.append("R0,112.305,28.565,road,2026-12-01 08:00,rated,2026-12-02 08:00,"
                 "2026-12-02 09:00,satisfied")
    lines += [f"R{i},112.315,28.555,road,2026-12-01 08:00,,,," for i in range(1, 6)]
    path = tmp_path / "seed.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_file(engine, path, kind="requests")
    assert report.rows_new == 6, report.summary()


def test_bad_updates_are_refused_with_row_field_and_reason(engine, grids, tmp_path):
    _seed(engine, tmp_path)
    path = tmp_path / "updates.csv"
    # A file of updates only: external ids and what changed, nothing to create a request.
    path.write_text("\n".join([
        "编号,状态,办结时间,满意度,更新时间",
        "R0,上报,,,2026-12-03 08:00",              # 1: a rated request back to reported
        "R1,办结,2026-11-30 08:00,,",              # 2: resolved before it was reported
        "R2,评价,2026-12-02 08:00,非常满意,",        # 3: not a satisfaction of the vocabulary
        "R9,受理,,,2026-12-02 08:00",              # 4: no such request
        "R3,受理,,,2026-12-02 08:00",              # 5: fine
        "R4,受理,,,2026-11-30 10:00",              # 6: changed before it was reported
        "R5,评价,2026-12-02 08:00,,",              # 7: rated without a satisfaction
    ]) + "\n", encoding="utf-8")
    before = _snapshot(engine)
    preview = import_file(engine, path, kind="requests", dry_run=True)
    report = import_file(engine, path, kind="requests")
    for r in (preview, report):
        assert (r.rows_new, r.rows_updated, r.rows_unchanged, r.rows_rejected) == (0, 1, 0, 6)
    errors = {p.row - 1: (p.field, p.reason) for p in report.errors}  # line 1: the header
    assert sorted(errors) == [1, 2, 3, 4, 6, 7]
    assert errors[1][0] == "状态" and "cannot move back from rated" in errors[1][1]
    assert errors[2] == ("办结时间", "before the request was reported (2026-12-01 08:00)")
    assert errors[3][0] == "满意度" and errors[3][1].startswith("unknown satisfaction")
    assert errors[4][0] == "编号" and errors[4][1].startswith("unknown request")
    assert "category (类别)" in errors[4][1]  # what the file lacks to create one
    assert errors[6] == ("更新时间", "before the request was reported (2026-12-01 08:00)")
    assert errors[7] == ("满意度", "a rating needs a satisfaction value")
    assert report.to_frame().query("row == 3").value.tolist() == ["2026-11-30 08:00"]
    # The same reasons in Chinese, for the Data page.
    zh = {p.row - 1: p.text("zh") for p in report.errors}
    assert zh[1].startswith("状态不能从 rated (评价) 倒退到 reported (上报)")
    assert zh[2] == "早于诉求上报时间（2026-12-01 08:00）"
    assert zh[4].startswith("未知诉求") and zh[7] == "评价状态需要满意度"
    # Only R3 moved; nothing else was written.
    after = _snapshot(engine)
    assert [a for a, b in zip(after, before, strict=True) if a != b] == [after[3]]
    states = store_updates.read_states(engine, external_ids=["R3"])
    assert states.status.tolist() == ["accepted"]
    assert store_engine.table_counts(engine)["request_event"] == 1


def _mixed_file(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(
        ["external_id,lon,lat,category,reported_at,status,updated_at"]
        + [f"R{i},112.315,28.555,road,2026-12-01 08:00,accepted,2026-12-02 08:00"
           for i in range(1, 6)]
        + [f"N{i},112.305,28.565,road,2026-12-02 08:00,," for i in range(10)]) + "\n",
        encoding="utf-8")
    return path


@pytest.mark.parametrize("where", ["updates", "inserts"])
def test_a_failure_mid_write_leaves_nothing_half_written(engine, grids, tmp_path, monkeypatch,
                                                        where):
    _seed(engine, tmp_path)
    before = (_snapshot(engine), store_engine.table_counts(engine))
    if where == "updates":
        real_update = store_updates.write_updates

        def update_then_fail(conn, changes, **kwargs):
            real_update(conn, changes.iloc[:2], **kwargs)
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(store_updates, "write_updates", update_then_fail)
    else:
        real_insert = store_requests.bulk_insert_requests

        def insert_then_fail(conn, frame):
            real_insert(conn, frame.iloc[: len(frame) // 2])
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(store_requests, "bulk_insert_requests", insert_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_file(engine, _mixed_file(tmp_path), kind="requests")
    assert (_snapshot(engine), store_engine.table_counts(engine)) == before


def test_a_database_error_after_the_updates_is_reported_and_rolled_back(engine, grids,
                                                                         tmp_path, monkeypatch):
    _seed(engine, tmp_path)
    before = (_snapshot(engine), store_engine.table_counts(engine))
    real_insert = store_requests.bulk_insert_requests

    def insert_then_break(conn, frame):
        real_insert(conn, frame)
        conn.execute(store_schema.grid.insert().values(code="x", name=None))  # NOT NULL

    monkeypatch.setattr(store_requests, "bulk_insert_requests", insert_then_break)
    report = import_file(engine, _mixed_file(tmp_path), kind="requests")
    assert not report.ok() and "nothing was written" in report.file_error.reason
    assert (report.rows_new, report.rows_updated) == (0, 0)
    assert (_snapshot(engine), store_engine.table_counts(engine)) == before


def test_new_and_stored_rows_in_one_file(engine, grids, tmp_path):
    _seed(engine, tmp_path)
    path = _mixed_file(tmp_path)
    preview = import_file(engine, path, kind="requests", dry_run=True)
    report = import_file(engine, path, kind="requests")
    for r in (preview, report):
        assert (r.rows_new, r.rows_updated, r.rows_unchanged, r.rows_rejected) == (10, 5, 0, 0)
    assert (preview.rows_inserted, report.rows_inserted) == (0, 10)
    assert store_engine.table_counts(engine)["request"] == 16
    # A new row's state is dated by its own times: here its report.
    new = store_updates.read_states(engine, external_ids=["N0"]).iloc[0]
    assert pd.Timestamp(new.updated_at) == pd.Timestamp(2026, 12, 2, 0, 0)
    again = import_file(engine, path, kind="requests")
    assert (again.rows_new, again.rows_updated, again.rows_unchanged) == (0, 0, 15)


def test_a_blank_status_keeps_the_stored_one_and_a_note_alone_is_an_update(engine, grids,
                                                                           tmp_path):
    _seed(engine, tmp_path)
    path = tmp_path / "notes.csv"
    path.write_text("编号,状态,最后更新时间,处理意见\n"
                    "R0,,2026-12-04 08:00,居民来电致谢\n"
                    "R1,,2026-12-04 08:00,\n", encoding="utf-8")
    report = import_file(engine, path, kind="requests")
    assert (report.rows_updated, report.rows_unchanged, report.rows_rejected) == (1, 1, 0)
    states = store_updates.read_states(engine, external_ids=["R0", "R1"]).set_index(
        "external_id")
    assert states.status.tolist() == ["rated", "reported"]
    events = store_updates.read_events(engine, ids=states["id"])
    assert events[["kind", "note"]].values.tolist() == [["note", "居民来电致谢"]]


def test_without_updated_at_a_change_is_dated_by_the_rows_own_times(engine, grids, tmp_path):
    _seed(engine, tmp_path)
    path = tmp_path / "export.csv"
    path.write_text("external_id,lon,lat,category,reported_at,status,resolved_at\n"
                    "R1,112.315,28.555,road,2026-12-01 08:00,resolved,2026-12-03 18:30\n"
                    "R2,112.315,28.555,road,2026-12-01 08:00,accepted,\n", encoding="utf-8")
    assert import_file(engine, path, kind="requests").rows_updated == 2
    states = store_updates.read_states(engine, external_ids=["R1", "R2"]).set_index(
        "external_id")
    events = store_updates.read_events(engine, ids=states["id"]).set_index("request_id")
    # Resolved at its 办结时间; accepted with no time of its own: when it was reported.
    assert pd.Timestamp(events.at[states.at["R1", "id"], "at"]) == pd.Timestamp(2026, 12, 3,
                                                                               10, 30)
    assert pd.Timestamp(events.at[states.at["R2", "id"], "at"]) == pd.Timestamp(2026, 12, 1)
    assert pd.Timestamp(states.at["R1", "resolved_at"]) == pd.Timestamp(2026, 12, 3, 10, 30)


def test_a_request_changed_meanwhile_is_a_clear_file_error(engine, grids, tmp_path,
                                                           monkeypatch):
    _seed(engine, tmp_path)
    before = _snapshot(engine)

    def moved(conn, changes, **kwargs):
        raise store_updates.ConcurrentUpdate("1 of 5 requests changed meanwhile")

    monkeypatch.setattr(store_updates, "write_updates", moved)
    report = import_file(engine, _mixed_file(tmp_path), kind="requests")
    assert not report.ok()
    assert "changed while this file was imported" in report.file_error.reason
    assert "import the file again" in report.summary()
    assert _snapshot(engine) == before


def test_cli_prints_the_four_counts_and_a_dry_run_writes_nothing(tmp_path, four_grids,
                                                                 capsys):
    from geo import cli

    url = f"sqlite:///{tmp_path}/cli.db"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_grids(conn, four_grids)
    assert cli.main(["--database", url, "import", "requests", str(open_file(tmp_path))]) == 0
    capsys.readouterr()
    later = later_file(tmp_path)
    assert cli.main(["--database", url, "import", "requests", str(later), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "0 new, 1,000 updated, 0 unchanged, 0 refused" in out
    assert "a real import would write 1,000" in out
    assert store_engine.table_counts(eng)["request_event"] == 0
    assert cli.main(["--database", url, "import", "requests", str(later)]) == 0
    assert "0 new, 1,000 updated" in capsys.readouterr().out
    assert store_engine.table_counts(eng)["request_event"] == N
    from geo.store import access as store_access

    line = store_access.read_audit(eng).iloc[0]
    assert line["rows"] == N and '"updated": 1000' in line["detail"]
    eng.dispose()
