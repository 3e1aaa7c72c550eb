from datetime import datetime

import pandas as pd

from geo import lifecycle

T0 = datetime(2026, 12, 1, 2, 0)


def _stored(*rows):
    return pd.DataFrame(rows, columns=["status", "reported_at", "updated_at", "satisfaction",
                                       "resolved_at", "closed_at"])


def _judge(stored, updates):
    cols = ["status", "at", "satisfaction", "resolved_at", "note"]
    return lifecycle.judge_updates(stored, pd.DataFrame(updates, columns=cols))


def test_forward_moves_and_skips_are_updates():
    stored = _stored(("reported", T0, None, None, None, None),
                     ("accepted", T0, datetime(2026, 12, 1, 3), None, None, None))
    out = _judge(stored, [("resolved", datetime(2026, 12, 2), None, datetime(2026, 12, 2), None),
                          ("dispatched", datetime(2026, 12, 1, 4), None, None, "派至城管")])
    assert out["verdict"].tolist() == ["updated", "updated"]
    assert out["reason"].isna().all()


def test_rerun_of_the_same_update_is_unchanged():
    at = datetime(2026, 12, 2)
    stored = _stored(("resolved", T0, at, None, at, None))
    out = _judge(stored, [("resolved", at, None, at, "已办结")])
    assert out["verdict"].tolist() == ["unchanged"]


def test_an_older_file_is_stale_not_a_backwards_move():
    stored = _stored(("rated", T0, datetime(2026, 12, 3), "satisfied", datetime(2026, 12, 2), None))
    out = _judge(stored, [("accepted", datetime(2026, 12, 1, 5), None, None, None)])
    assert out["verdict"].tolist() == ["stale"]
    assert "older than the stored state (updated 2026-12-03 00:00 UTC)" in out["reason"][0]


def test_a_time_before_the_report_is_refused_not_stale():
    # Intake stores updated_at = reported_at, so such an update is also "older than the
    # stored state"; it is impossible, not history.
    stored = _stored(("reported", T0, T0, None, None, None),
                     ("accepted", T0, datetime(2026, 12, 1, 3), None, None, None))
    before = datetime(2026, 12, 1, 1, 59)
    out = _judge(stored, [("accepted", before, None, None, None),
                          ("dispatched", before, None, None, None)])
    assert out["verdict"].tolist() == ["refused", "refused"]
    assert all("before the request was reported" in r for r in out["reason"])


def test_refusals_name_the_reason():
    stored = _stored(("rated", T0, datetime(2026, 12, 3), "satisfied", datetime(2026, 12, 2), None),
                     ("reported", T0, None, None, None, None),
                     ("resolved", T0, datetime(2026, 12, 2), None, datetime(2026, 12, 2), None),
                     ("accepted", T0, None, None, None, None))
    out = _judge(stored, [
        ("reported", datetime(2026, 12, 4), None, None, None),
        ("accepted", datetime(2026, 11, 30), None, None, None),
        ("rated", datetime(2026, 12, 4), None, None, None),
        ("accepted", datetime(2026, 12, 4), "satisfied", None, None),
    ])
    assert out["verdict"].tolist() == ["refused"] * 4
    assert out["reason"].tolist() == [
        "cannot move back from rated (评价) to reported (上报)",
        "dated before the request was reported (2026-12-01 02:00 UTC)",
        "a rating needs a satisfaction value",
        "a satisfaction value needs a resolved or rated request",
    ]


def test_can_move():
    assert lifecycle.can_move("reported", "resolved")
    assert lifecycle.can_move("resolved", "resolved")
    assert not lifecycle.can_move("rated", "reported")
