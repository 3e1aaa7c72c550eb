"""geo.updates: judged updates written once, with events, on both backends."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from geo import updates
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates

T0 = datetime(2026, 12, 1, 1, 0)


def _seed(engine, n=3):
    rows = pd.DataFrame([dict(external_id=f"R{i}", grid_code="430903003001001",
                              outside_grid=False, lon=112.305, lat=28.565, source="import",
                              category="road", severity="routine", route="government",
                              status="reported", reported_at=T0,
                              due_at=datetime(2026, 12, 8, 9)) for i in range(n)])
    with store_engine.transaction(engine) as conn:
        store_requests.insert_requests(conn, rows)


def _apply(engine, rows, *, actor="import:a.csv"):
    frame = pd.DataFrame(rows)
    with store_engine.transaction(engine) as conn:
        return updates.apply_updates(conn, frame, actor=actor, now=datetime(2026, 12, 5))


def test_updates_move_forward_and_write_one_event_each(engine):
    _seed(engine)
    out = _apply(engine, [
        dict(external_id="R0", status="resolved", at=datetime(2026, 12, 2, 3), note="已修复"),
        dict(external_id="R1", status="accepted", at=datetime(2026, 12, 1, 2)),
        dict(external_id="R9", status="accepted", at=datetime(2026, 12, 1, 2)),
    ])
    assert out["verdict"].tolist() == ["updated", "updated", "refused"]
    assert out["reason"].tolist()[2] == "unknown request"
    states = store_updates.read_states(engine, external_ids=["R0", "R1", "R2"]) \
        .set_index("external_id")
    assert states.loc["R0", "status"] == "resolved"
    assert pd.Timestamp(states.loc["R0", "resolved_at"]) == pd.Timestamp(2026, 12, 2, 3)
    assert pd.Timestamp(states.loc["R0", "updated_at"]) == pd.Timestamp(2026, 12, 2, 3)
    assert states.loc["R2", "status"] == "reported"
    events = store_updates.read_events(engine, ids=states["id"])
    assert sorted(zip(events.from_status, events.to_status, events.note.fillna(""),
                      strict=True)) == [("reported", "accepted", ""),
                                        ("reported", "resolved", "已修复")]
    assert set(events.actor) == {"import:a.csv"}
    assert set(pd.to_datetime(events.recorded_at)) == {pd.Timestamp(2026, 12, 5)}


def test_rerun_and_older_state_change_nothing(engine):
    _seed(engine, 1)
    first = [dict(external_id="R0", status="rated", at=datetime(2026, 12, 3),
                  satisfaction="satisfied")]
    assert _apply(engine, first)["verdict"].tolist() == ["updated"]
    assert _apply(engine, first)["verdict"].tolist() == ["unchanged"]
    older = _apply(engine, [dict(external_id="R0", status="accepted", at=datetime(2026, 12, 2))])
    assert older["verdict"].tolist() == ["stale"]
    backwards = _apply(engine, [dict(external_id="R0", status="reported",
                                     at=datetime(2026, 12, 4))])
    assert backwards["verdict"].tolist() == ["refused"]
    assert "cannot move back from rated" in backwards["reason"][0]
    state = store_updates.read_states(engine, external_ids=["R0"]).iloc[0]
    assert (state.status, state.satisfaction) == ("rated", "satisfied")
    assert len(store_updates.read_events(engine, ids=[state.id])) == 1


def test_several_steps_of_one_request_apply_in_time_order(engine):
    _seed(engine, 1)
    out = _apply(engine, [
        dict(external_id="R0", status="resolved", at=datetime(2026, 12, 2, 5)),
        dict(external_id="R0", status="accepted", at=datetime(2026, 12, 1, 3)),
        dict(external_id="R0", status="dispatched", at=datetime(2026, 12, 1, 4)),
    ])
    assert out["verdict"].tolist() == ["updated"] * 3
    state = store_updates.read_states(engine, external_ids=["R0"]).iloc[0]
    assert state.status == "resolved"
    events = store_updates.read_events(engine, ids=[state.id])
    assert events.to_status.tolist() == ["accepted", "dispatched", "resolved"]


def test_a_note_keeps_the_status(engine):
    _seed(engine, 1)
    out = _apply(engine, [dict(external_id="R0", status=None, note="已联系居民",
                               at=datetime(2026, 12, 1, 6))], actor="api:platform")
    assert out["verdict"].tolist() == ["updated"]
    state = store_updates.read_states(engine, external_ids=["R0"]).iloc[0]
    events = store_updates.read_events(engine, ids=[state.id])
    assert (state.status, events.kind.tolist(), events.note.tolist()) == (
        "reported", ["note"], ["已联系居民"])


def test_a_request_changed_meanwhile_refuses_the_write(engine):
    _seed(engine, 1)
    state = store_updates.read_states(engine, external_ids=["R0"])
    change = pd.DataFrame([dict(id=int(state.id[0]), from_status="accepted",
                                from_updated_at=None, status="dispatched",
                                at=datetime(2026, 12, 1, 5), note=None, kind="status")])
    with pytest.raises(store_updates.ConcurrentUpdate), \
            store_engine.transaction(engine) as conn:
        store_updates.write_updates(conn, change, actor="x", recorded_at=T0)
    assert store_updates.read_events(engine, ids=state.id).empty


def test_updates_feed_pages_by_recorded_time(engine):
    _seed(engine, 2)
    _apply(engine, [dict(external_id="R0", status="accepted", at=datetime(2026, 12, 1, 2))])
    feed = store_updates.read_events_since(engine, since=datetime(2026, 12, 4))
    assert feed.external_id.tolist() == ["R0"]
    assert store_updates.read_events_since(engine, since=datetime(2026, 12, 6)).empty
