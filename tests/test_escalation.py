"""geo.escalation: each threshold crossing recorded once, dated when crossed, both backends."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from geo import deadlines, escalation, updates
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates

POLICY = deadlines.DeadlinePolicy()  # due soon at 80 %, long overdue at 2× the span
T0 = datetime(2026, 12, 1, 1, 0)
DUE = datetime(2026, 12, 11, 1, 0)  # a 10-day span: due soon 12-09 01:00, long 12-21 01:00


def _seed(engine, rows):
    frame = pd.DataFrame([dict(external_id=ext, grid_code="430903003001001",
                               outside_grid=False, lon=112.305, lat=28.565, source="import",
                               category="road", severity="routine", route="government",
                               status="in_progress", reported_at=T0, due_at=due)
                          for ext, due in rows])
    with store_engine.transaction(engine) as conn:
        store_requests.insert_requests(conn, frame)


def _escalations(engine):
    states = store_updates.read_states(engine, external_ids=["E1", "E2", "E3"])
    events = store_updates.read_events(engine, ids=states["id"], kinds=["escalation"])
    ext = dict(zip(states["id"], states["external_id"], strict=True))
    return [(ext[i], note, pd.Timestamp(at)) for i, note, at in
            zip(events["request_id"], events["note"], events["at"], strict=True)]


def test_pending_steps_one_row_per_level_crossed_with_its_moment():
    backlog = pd.DataFrame({
        "id": [1, 2, 3], "status": ["accepted"] * 3, "reported_at": [T0] * 3,
        "due_at": [DUE, DUE, None], "escalation_level": [0, 2, 0]})
    steps = escalation.pending(backlog, now=datetime(2026, 12, 22), policy=POLICY)
    assert steps[["id", "from_level", "level"]].values.tolist() == [
        [1, 0, 1], [1, 1, 2], [1, 2, 3], [2, 2, 3]]
    assert steps["at"].tolist() == [pd.Timestamp(2026, 12, 9, 1), pd.Timestamp(DUE),
                                    pd.Timestamp(2026, 12, 21, 1), pd.Timestamp(2026, 12, 21, 1)]
    # Nothing due yet, or no deadline at all: nothing to record.
    assert escalation.pending(backlog, now=datetime(2026, 12, 2), policy=POLICY).empty


def test_record_writes_each_crossing_once_dated_when_crossed(engine):
    _seed(engine, [("E1", DUE), ("E2", datetime(2026, 12, 30, 1))])
    # 12-12: E1 is overdue (due soon and overdue crossed), E2 is in time.
    assert escalation.record(engine, now=datetime(2026, 12, 12), policy=POLICY) == 2
    assert escalation.record(engine, now=datetime(2026, 12, 12), policy=POLICY) == 0
    assert _escalations(engine) == [("E1", "due_soon", pd.Timestamp(2026, 12, 9, 1)),
                                    ("E1", "overdue", pd.Timestamp(DUE))]
    # Later: E1 long overdue; E2 due soon (80 % of 29 days: 12-24 05:48).
    assert escalation.record(engine, now=datetime(2026, 12, 25), policy=POLICY) == 2
    got = _escalations(engine)
    assert got[2:] == [("E1", "long_overdue", pd.Timestamp(2026, 12, 21, 1)),
                       ("E2", "due_soon", pd.Timestamp(2026, 12, 24, 5, 48))]
    levels = store_updates.read_states(engine, external_ids=["E1", "E2"]) \
        .set_index("external_id")["escalation_level"]
    assert levels.to_dict() == {"E1": 3, "E2": 1}


def test_a_stale_backlog_cannot_record_a_crossing_twice(engine):
    # Two walls read the backlog at the same version; both try to record.
    _seed(engine, [("E1", DUE)])
    backlog = store_updates.open_for_escalation(engine)
    now = datetime(2026, 12, 12)
    assert escalation.record(engine, now=now, policy=POLICY, backlog=backlog) == 2
    assert escalation.record(engine, now=now, policy=POLICY, backlog=backlog) == 0
    assert len(_escalations(engine)) == 2


def test_resolved_requests_are_not_escalated(engine):
    _seed(engine, [("E1", DUE), ("E3", DUE)])
    with store_engine.transaction(engine) as conn:
        updates.apply_updates(conn, pd.DataFrame([dict(external_id="E3", status="resolved",
                                                       at=datetime(2026, 12, 5))]),
                              actor="test", now=datetime(2026, 12, 5))
    assert escalation.record(engine, now=datetime(2026, 12, 30), policy=POLICY) == 3
    assert {ext for ext, _, _ in _escalations(engine)} == {"E1"}


def test_events_carry_the_deadline_actor_and_kind(engine):
    _seed(engine, [("E1", DUE)])
    escalation.record(engine, now=datetime(2026, 12, 9, 2), policy=POLICY)
    state = store_updates.read_states(engine, external_ids=["E1"]).iloc[0]
    events = store_updates.read_events(engine, ids=[state.id])
    assert events[["kind", "actor", "from_status", "to_status", "note"]].values.tolist() == [
        ["escalation", "deadline", "in_progress", "in_progress", "due_soon"]]


def test_history_keeps_only_crossings_while_open():
    reported = pd.Series([T0, T0, T0])
    due = pd.Series([DUE, DUE, DUE])
    resolved = pd.Series([datetime(2026, 12, 10), pd.NaT, datetime(2026, 12, 5)])
    past = escalation.history(reported, due, resolved, until=datetime(2026, 12, 15),
                              policy=POLICY)
    assert past[["row", "level"]].values.tolist() == [[0, 1], [1, 1], [1, 2]]
    assert escalation.levels(past, 3).tolist() == [1, 2, 0]
    # The same answer as the live clock gives for the one still open.
    live = deadlines.escalation_levels(reported, due, now=datetime(2026, 12, 15),
                                       policy=POLICY)
    assert live.iloc[1] == 2


def test_demo_escalations_match_their_requests_levels():
    from geo import demo

    requests = demo.build_city(seed=3, end=datetime(2026, 11, 24, 6)).requests
    ids = pd.RangeIndex(len(requests)).to_numpy()
    events = demo.build_events(requests, ids, seed=3, end=datetime(2026, 11, 24, 6))
    crossed = events[events["kind"] == "escalation"]
    top = crossed.groupby("request_id")["note"].agg(
        lambda notes: max(deadlines.LEVELS.index(n) for n in notes))
    level = requests["escalation_level"].to_numpy()
    assert (level[top.index.to_numpy()] == top.to_numpy()).all()
    assert int((level > 0).sum()) == len(top)
    # Stuck-open requests escalate; every escalation is at or before the demo's end.
    assert (pd.to_datetime(crossed["at"]) <= pd.Timestamp(2026, 11, 24, 6)).all()
    assert set(crossed["note"]) == {"due_soon", "overdue", "long_overdue"}
