"""geo.actions: role, scope and state checked below the UI; one event and audit line each."""

from __future__ import annotations

import io
from datetime import date, datetime

import pandas as pd
import pytest
from PIL import Image

from geo import actions
from geo.access import AccessDenied, Scope
from geo.photos import clean_photo
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import photos as store_photos
from geo.store import requests as store_requests
from geo.store import updates as store_updates
from geo.workdays import WorkCalendar

T0 = datetime(2026, 12, 1, 1, 0)
MINE, OTHER = "430903003001001", "430903003001002"
HEAD = Scope("grid_head", (MINE,), "wang")
BOSS = Scope("commander", None, "li")


def _seed(engine, *rows):
    frame = pd.DataFrame([dict(external_id=ext, grid_code=grid, outside_grid=False,
                               lon=112.305, lat=28.565, source="miniprogram",
                               category="road", severity="routine", route="government",
                               status=status, reported_at=T0,
                               due_at=datetime(2026, 12, 8, 9)) for ext, grid, status in rows])
    with store_engine.transaction(engine) as conn:
        store_requests.insert_requests(conn, frame)
    states = store_updates.read_states(engine, external_ids=frame.external_id)
    return dict(zip(states.external_id, states.id.astype(int), strict=True))


def _state(engine, rid):
    row = store_updates.read_states(engine, ids=[rid]).iloc[0]
    return row


def _act(engine, scope, rid, action, *, at, **kw):
    state = _state(engine, rid)
    seen = None if pd.isna(state.updated_at) else pd.Timestamp(state.updated_at).to_pydatetime()
    return actions.act(engine, scope, request_id=rid, action=action, seen_status=state.status,
                       seen_updated_at=seen, now=at, **kw)


def test_a_grid_head_takes_a_request_from_report_to_close(engine):
    ids = _seed(engine, ("A", MINE, "reported"))
    rid = ids["A"]
    steps = [("accept", {}), ("dispatch", {"assignee": "城管执法中队"}),
             ("note", {"note": "已到现场"}), ("resolve", {"note": "已修复路灯"}),
             ("close", {})]
    for k, (action, kw) in enumerate(steps):
        _act(engine, HEAD, rid, action, at=datetime(2026, 12, 1, 2 + k), **kw)
    state = _state(engine, rid)
    assert state.status == "resolved"
    assert pd.Timestamp(state.resolved_at) == pd.Timestamp(2026, 12, 1, 5)
    assert pd.Timestamp(state.closed_at) == pd.Timestamp(2026, 12, 1, 6)
    assert state.assignee == "城管执法中队"
    events = store_updates.read_events(engine, ids=[rid])
    assert events.kind.tolist() == ["accept", "dispatch", "note", "resolve", "close"]
    assert events.to_status.tolist() == ["accepted", "dispatched", "dispatched", "resolved",
                                         "resolved"]
    assert set(events.actor) == {"wang"}
    assert events.note.tolist()[1] == "→ 城管执法中队"
    audit = store_access.read_audit(engine)
    assert sorted(a for a in audit.action if a.startswith("request.")) == sorted(
        f"request.{a}" for a, _ in steps)


def test_a_grid_head_cannot_act_outside_their_grids(engine):
    ids = _seed(engine, ("B", OTHER, "reported"))
    with pytest.raises(AccessDenied) as err:
        _act(engine, HEAD, ids["B"], "accept", at=datetime(2026, 12, 1, 2))
    assert err.value.reason == "outside"
    assert _state(engine, ids["B"]).status == "reported"
    assert "denied" in set(store_access.read_audit(engine).action)
    assert store_updates.read_events(engine, ids=[ids["B"]]).empty


@pytest.mark.parametrize("role", ["planner", "wall", "commander"])
def test_roles_that_do_not_handle_requests_cannot_accept(engine, role):
    ids = _seed(engine, ("C", MINE, "reported"))
    scope = Scope(role, (MINE,) if role == "wall" else None, f"x-{role}")
    with pytest.raises(AccessDenied) as err:
        _act(engine, scope, ids["C"], "accept", at=datetime(2026, 12, 1, 2))
    assert err.value.reason == "role"


def test_a_commander_urges_and_the_handler_sees_the_note(engine):
    ids = _seed(engine, ("D", MINE, "dispatched"))
    _act(engine, BOSS, ids["D"], "urge", at=datetime(2026, 12, 2), note="今天必须办结")
    state = _state(engine, ids["D"])
    assert pd.Timestamp(state.supervised_at) == pd.Timestamp(2026, 12, 2)
    assert state.status == "dispatched"
    events = store_updates.read_events(engine, ids=[ids["D"]])
    assert (events.kind.tolist(), events.note.tolist()) == (["urge"], ["今天必须办结"])
    # A grid head may not urge.
    with pytest.raises(AccessDenied):
        _act(engine, HEAD, ids["D"], "urge", at=datetime(2026, 12, 2, 1), note="x")


def test_two_sessions_acting_on_the_same_request(engine):
    ids = _seed(engine, ("E", MINE, "reported"))
    seen = _state(engine, ids["E"])
    # Session 1 accepts; session 2 still shows the old state and tries to resolve.
    _act(engine, HEAD, ids["E"], "accept", at=datetime(2026, 12, 1, 2))
    with pytest.raises(actions.ActionRefused) as err:
        actions.act(engine, HEAD, request_id=ids["E"], action="return", note="不属本网格",
                    seen_status=seen.status, seen_updated_at=None,
                    now=datetime(2026, 12, 1, 3))
    assert err.value.reason == "stale"
    assert len(store_updates.read_events(engine, ids=[ids["E"]])) == 1


def test_state_rules_and_required_notes(engine):
    ids = _seed(engine, ("F", MINE, "reported"), ("G", MINE, "dispatched"))
    with pytest.raises(actions.ActionRefused) as err:
        _act(engine, HEAD, ids["F"], "close", at=datetime(2026, 12, 1, 2))
    assert err.value.reason == "status"
    with pytest.raises(actions.ActionRefused) as err:
        _act(engine, HEAD, ids["G"], "return", at=datetime(2026, 12, 1, 2), note="  ")
    assert err.value.reason == "needs_note"
    with pytest.raises(actions.ActionRefused) as err:
        _act(engine, HEAD, ids["F"], "dispatch", at=datetime(2026, 12, 1, 2))
    assert err.value.reason == "needs_assignee"
    _act(engine, HEAD, ids["G"], "return", at=datetime(2026, 12, 1, 2), note="派错部门")
    assert _state(engine, ids["G"]).status == "accepted"


def test_suspension_stops_the_deadline_clock(engine):
    ids = _seed(engine, ("H", MINE, "accepted"))
    # Suspended Friday 2026-12-04 10:00 local, resumed Tuesday 12-08 10:00 local: Mon and
    # Tue began during the suspension, so the deadline moves two working days on.
    _act(engine, HEAD, ids["H"], "suspend", at=datetime(2026, 12, 4, 2), note="等待业主回家")
    with pytest.raises(actions.ActionRefused) as err:
        _act(engine, HEAD, ids["H"], "resolve", at=datetime(2026, 12, 5), note="x")
    assert err.value.reason == "suspended"
    _act(engine, HEAD, ids["H"], "resume", at=datetime(2026, 12, 8, 2), calendar=WorkCalendar())
    state = _state(engine, ids["H"])
    # Due 12-08 17:00 local (09:00 UTC) → 12-10 17:00 local.
    assert pd.Timestamp(state.due_at) == pd.Timestamp(2026, 12, 10, 9)
    assert pd.isna(state.suspended_at)


def test_resumed_due_skips_days_off():
    cal = WorkCalendar(days_off=frozenset({date(2026, 10, 1), date(2026, 10, 2)}))
    due = datetime(2026, 9, 30, 9)  # 17:00 local
    moved = actions.resumed_due(due, since=datetime(2026, 9, 29, 2),
                                until=datetime(2026, 9, 30, 2), calendar=cal)
    # One working day began during it (09-30): the deadline moves one working day, past
    # the National Day days off and the weekend, to Monday 10-05.
    assert moved == datetime(2026, 10, 5, 9)


def test_a_resolution_photo_is_stored_clean(engine):
    ids = _seed(engine, ("P", MINE, "dispatched"))
    out = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 120, 0)).save(out, format="PNG")
    photo = clean_photo(out.getvalue())
    _act(engine, HEAD, ids["P"], "resolve", at=datetime(2026, 12, 2), note="已清理",
         photo=photo)
    listed = store_photos.photos_of(engine, [ids["P"]])
    assert listed[["width", "height"]].values.tolist() == [[20, 10]]
    stored = store_photos.read_photo(engine, int(listed.id[0]))
    assert stored["grid_code"] == MINE and stored["data"] == photo.data


def test_allowed_actions_follow_role_scope_and_state():
    state = {"id": 1, "grid_code": MINE, "status": "reported", "suspended_at": None,
             "closed_at": None}
    assert actions.allowed_actions(HEAD, state) == ["accept", "dispatch", "note", "suspend"]
    assert actions.allowed_actions(BOSS, state) == ["urge"]
    assert actions.allowed_actions(Scope("planner", None, "p"), state) == []
    assert actions.allowed_actions(HEAD, {**state, "grid_code": OTHER}) == []
