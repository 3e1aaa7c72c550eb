"""geo.volunteers: a volunteer task from publishing to points, checked by role and scope."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from geo import bulletin, volunteers
from geo.access import AccessDenied, Scope
from geo.actions import ActionRefused
from geo.detail import volunteer_totals
from geo.store import access as store_access
from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import live as store_live
from geo.store import requests as store_requests

G1, G2 = "430903003001001", "430903003001002"
HEAD = Scope("grid_head", (G1,), "wang")
ADMIN = Scope("admin", None, "root")
# 2026-12-08 10:00 in Shanghai, the day before the volunteer day.
EVE = datetime(2026, 12, 8, 2)
DAY = date(2026, 12, 9)
AFTER = datetime(2026, 12, 9, 12)  # 20:00 local on the day


@pytest.fixture
def city(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    return engine


def _publish(engine, scope=HEAD, grid=G1, **kw):
    options = dict(title="清理河道垃圾", day=DAY, places=3, hours=2.0, now=EVE) | kw
    return volunteers.publish_task(engine, scope, grid_code=grid, **options)


def test_a_volunteer_task_from_publishing_to_points(city):
    task = _publish(city)
    volunteers.claim_task(city, HEAD, task_id=task, volunteer="李四", now=EVE)
    volunteers.claim_task(city, HEAD, task_id=task, volunteer="赵六", now=EVE)
    volunteers.claim_task(city, HEAD, task_id=task, now=EVE)  # the grid head's own place
    with pytest.raises(ActionRefused) as err:
        volunteers.claim_task(city, ADMIN, task_id=task, volunteer="钱七", now=EVE)
    assert err.value.reason == "full"
    with pytest.raises(ActionRefused) as err:
        volunteers.record_hours(city, HEAD, task_id=task, hours={"李四": 2}, now=EVE)
    assert err.value.reason == "not_yet"
    activity_id = volunteers.record_hours(city, HEAD, task_id=task,
                                          hours={"李四": 2.5, "wang": 1.5}, now=AFTER)
    assert activity_id is not None
    tasks, claims = volunteers.grid_tasks(city, HEAD, grid_code=G1)
    assert tasks[["status", "claims"]].values.tolist() == [["completed", 3]]
    by_name = claims.set_index("volunteer")
    assert by_name.loc["李四", "points"] == 2.5 and by_name.loc["赵六", "hours_served"] == 0
    assert by_name.loc["wang", "account"] == "wang"
    # The activity counts in the volunteer figures: grid detail and the index's hours.
    acts = store_live.read_volunteer_activities(city, grid_code=G1, since=date(2026, 12, 1))
    assert volunteer_totals(acts) == {"activities": 1, "volunteer_hours": 4.0, "points": 4.0}
    per_grid = store_counts.volunteer_hours_per_grid(city, since=date(2026, 12, 1),
                                                     until=date(2027, 1, 1))
    assert per_grid.set_index("grid_code").loc[G1, "volunteer_hours"] == pytest.approx(4.0)
    indicators = bulletin.unit_indicators(city, month="2026-12", level="community",
                                          now=AFTER)
    # 4 person-hours among 800 + 650 + 720 + 900 residents.
    assert indicators["volunteer_hours_per_1k"].iloc[0] == pytest.approx(4.0 / 3070 * 1000)
    with pytest.raises(ActionRefused) as err:
        volunteers.record_hours(city, HEAD, task_id=task, hours={"李四": 3}, now=AFTER)
    assert err.value.reason == "status"
    audit = store_access.read_audit(city)
    assert sorted(a for a in audit.action if a.startswith("task.")) == [
        "task.claim", "task.claim", "task.claim", "task.hours", "task.publish"]


def test_task_writes_are_checked_by_role_and_scope(city):
    with pytest.raises(AccessDenied) as denied:
        _publish(city, grid=G2)
    assert denied.value.reason == "outside"
    for role in ("planner", "commander", "wall", "alliance"):
        scope = Scope(role, (G1,) if role in ("wall", "alliance") else None, role)
        with pytest.raises(AccessDenied) as denied:
            _publish(city, scope=scope)
        assert denied.value.reason == "role"
    task = _publish(city, scope=ADMIN, grid=G2)
    with pytest.raises(AccessDenied):
        volunteers.claim_task(city, HEAD, task_id=task, volunteer="李四", now=EVE)
    with pytest.raises(AccessDenied):
        volunteers.record_hours(city, HEAD, task_id=task, hours={}, now=AFTER)
    assert len(store_access.read_audit(city, action="denied")) == 7


def test_bad_tasks_claims_and_hours_are_refused_with_reasons(city):
    for kw, reason in ((dict(title=" "), "needs_title"), (dict(places=0), "places"),
                       (dict(hours=30), "hours"), (dict(day=date(2026, 12, 1)), "past")):
        with pytest.raises(ActionRefused) as err:
            _publish(city, **kw)
        assert err.value.reason == reason
    task = _publish(city)
    volunteers.claim_task(city, HEAD, task_id=task, volunteer="李四", now=EVE)
    with pytest.raises(ActionRefused) as err:
        volunteers.claim_task(city, HEAD, task_id=task, volunteer="李四", now=EVE)
    assert err.value.reason == "claimed"
    with pytest.raises(ActionRefused) as err:
        volunteers.claim_task(city, HEAD, task_id=task, volunteer="迟到",
                              now=datetime(2026, 12, 10, 2))
    assert err.value.reason == "past"
    with pytest.raises(ActionRefused) as err:
        volunteers.record_hours(city, HEAD, task_id=task, hours={"王五": 2}, now=AFTER)
    assert err.value.reason == "unknown_volunteer"
    with pytest.raises(ActionRefused) as err:
        volunteers.record_hours(city, HEAD, task_id=task, hours={"李四": 25}, now=AFTER)
    assert err.value.reason == "hours"
    # Nobody came: the task completes without an activity.
    assert volunteers.record_hours(city, HEAD, task_id=task, hours={}, now=AFTER) is None
    assert store_live.read_volunteer_activities(city, grid_code=G1, since=date(2026, 12, 1)).empty


def test_volunteer_names_are_masked_for_those_outside_the_grid(city):
    task = _publish(city)
    volunteers.claim_task(city, HEAD, task_id=task, volunteer="李四", now=EVE)
    _, mine = volunteers.grid_tasks(city, HEAD, grid_code=G1)
    _, boss = volunteers.grid_tasks(city, Scope("commander", None, "li"), grid_code=G1)
    _, planner = volunteers.grid_tasks(city, Scope("planner", None, "p"), grid_code=G1)
    assert (mine.volunteer.tolist(), boss.volunteer.tolist(),
            planner.volunteer.tolist()) == (["李四"], ["李*"], ["***"])
    other = Scope("grid_head", (G2,), "zhao")
    tasks, claims = volunteers.grid_tasks(city, other, grid_code=G1)
    assert tasks.empty and claims.empty


def test_points_follow_the_import_rule():
    assert volunteers.points_for(2.5) == 2.5
    assert pd.Series([1.0, 2.0]).pipe(volunteers.points_for).tolist() == [1.0, 2.0]
