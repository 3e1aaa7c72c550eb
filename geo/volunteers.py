"""Volunteer tasks (Yiyang's volunteer day, the 9th of each month) and the points rule.

A grid head publishes a task in one of their grids (title, date, places, hours).
Volunteers claim it: the grid head records a named volunteer's claim, or a signed-in
account (a grid head, an admin) claims a place for itself. On or after the day the grid
head records the hours each volunteer served; points follow :func:`points_for` (the rule
imports use: one point per volunteer-hour), the task is completed and one
volunteer_activity row is written, so the volunteer figures (grid detail, the governance
index's volunteer hours per 1,000 residents) count it like an imported activity.

Every write is checked here, below the UI: role (grid heads and admins; planners,
commanders, wall tokens and alliance accounts may not) and scope (the task's grid inside
the actor's areas), and written with one audit line. Refusals raise
:class:`geo.access.AccessDenied` or :class:`geo.actions.ActionRefused` with a short reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, overload

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from geo import clock
from geo.access import AccessDenied, Scope, mask_frame
from geo.actions import ActionRefused
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import volunteers as store_volunteers

#: Points per volunteer-hour served: the rule activity imports use (points = volunteers ×
#: hours when a file gives none) and Yiyang's published figures follow.
POINTS_PER_HOUR = 1.0
#: Roles that publish tasks, record claims and hours.
TASK_ROLES = frozenset({"grid_head", "admin"})
#: Longest volunteer day recorded for one person.
MAX_HOURS = 24.0
MAX_PLACES = 1000


@overload
def points_for(hours: float) -> float: ...
@overload
def points_for(hours: np.ndarray) -> np.ndarray: ...
def points_for(hours: Any) -> Any:
    """Return the points earned by ``hours`` volunteer-hours (:data:`POINTS_PER_HOUR` each)."""
    return hours * POINTS_PER_HOUR


def _task_in_scope(engine: Engine, scope: Scope, *, action: str, grid_code: str,
                   task_id: int | None = None) -> None:
    """Refuse (and audit) a role that may not, or a grid outside the scope."""
    why, reason = None, "role"
    if scope.role not in TASK_ROLES:
        why = f"a {scope.role} may not {action} volunteer tasks"
    elif not store_access.grid_in_scope(engine, grid_code, scope):
        why, reason = f"grid {grid_code} lies outside {scope.actor}'s areas", "outside"
    if why is None:
        return
    store_access.log_audit(engine, actor=scope.actor, action="denied", area=grid_code,
                           detail={"action": f"task.{action}", "task": task_id, "why": why})
    raise AccessDenied(why, reason=reason)


def _task(engine: Engine, task_id: int) -> Any:
    row = store_volunteers.find_task(engine, task_id)
    if row is None:
        raise ActionRefused(f"no volunteer task {task_id}", reason="unknown")
    return row


def publish_task(engine: Engine, scope: Scope, *, grid_code: str, title: str, day: date,
                 places: int, hours: float, now: datetime | None = None) -> int:
    """Publish a volunteer task in a grid; return its id.

    Parameters
    ----------
    engine : Engine
        The database.
    scope : Scope
        A grid head (the grid in their areas) or an admin.
    grid_code : str
        A stored grid.
    title : str
        What the volunteers do (1 to 128 characters).
    day : date
        The day (Asia/Shanghai), today or later.
    places : int
        How many volunteers it needs (1 to 1,000).
    hours : float
        Planned hours per volunteer, in (0, 24].
    now : datetime, optional
        Naive UTC.

    Raises
    ------
    AccessDenied
        Another role, or a grid outside the scope (audited).
    ActionRefused
        ``needs_title``, ``too_long``, ``places``, ``hours`` or ``past``; nothing written.

    """
    moment = clock.or_now(now)
    _task_in_scope(engine, scope, action="publish", grid_code=str(grid_code))
    text = (title or "").strip()
    if not text:
        raise ActionRefused("a task needs a title", reason="needs_title")
    if len(text) > 128:
        raise ActionRefused(f"the title has {len(text)} characters; at most 128",
                            reason="too_long")
    if not 1 <= int(places) <= MAX_PLACES or int(places) != places:
        raise ActionRefused(f"places must be a whole number from 1 to {MAX_PLACES}",
                            reason="places")
    if not 0 < float(hours) <= MAX_HOURS:
        raise ActionRefused(f"hours must be more than 0 and at most {MAX_HOURS:g}",
                            reason="hours")
    if day < clock.local_date(moment):
        raise ActionRefused(f"{day} has passed", reason="past")
    with store_engine.transaction(engine) as conn:
        task_id = store_volunteers.insert_task(
            conn, grid_code=str(grid_code), title=text, day=day, places=int(places),
            hours=float(hours), published_by=scope.actor, now=moment)
        store_access.log_audit(conn, actor=scope.actor, action="task.publish",
                               area=str(grid_code), rows=1,
                               detail={"task": task_id, "date": day.isoformat(),
                                       "places": int(places), "hours": float(hours)})
    return task_id


def claim_task(engine: Engine, scope: Scope, *, task_id: int, volunteer: str | None = None,
               now: datetime | None = None) -> int:
    """Claim a place on a task: for a named volunteer, or (no name) for the signed-in account.

    Returns the claim's id.

    Raises
    ------
    AccessDenied
        Another role, or a task outside the scope (audited).
    ActionRefused
        ``unknown``, ``status`` (completed), ``past`` (after the day), ``full``,
        ``claimed`` (this volunteer has a place), ``too_long``; nothing written.

    """
    moment = clock.or_now(now)
    task = _task(engine, task_id)
    _task_in_scope(engine, scope, action="claim", grid_code=task.grid_code, task_id=task_id)
    name = (volunteer or "").strip() or scope.actor
    account = scope.actor if not (volunteer or "").strip() else None
    if len(name) > 64:
        raise ActionRefused("the volunteer's name has more than 64 characters",
                            reason="too_long")
    if task.status != "open":
        raise ActionRefused(f"task {task_id} is {task.status}", reason="status")
    if clock.local_date(moment) > task.date:
        raise ActionRefused(f"task {task_id} was on {task.date}", reason="past")
    try:
        with store_engine.transaction(engine) as conn:
            if not store_volunteers.take_place(conn, task_id):
                raise ActionRefused(f"task {task_id} has no free place", reason="full")
            claim_id = store_volunteers.insert_claim(conn, task_id=task_id, volunteer=name,
                                                     account=account, claimed_by=scope.actor,
                                                     now=moment)
            store_access.log_audit(conn, actor=scope.actor, action="task.claim",
                                   area=task.grid_code, rows=1,
                                   detail={"task": int(task_id), "self": account is not None})
    except IntegrityError:
        raise ActionRefused(f"{name} has a place on task {task_id} already",
                            reason="claimed") from None
    return claim_id


def record_hours(engine: Engine, scope: Scope, *, task_id: int, hours: Mapping[str, float],
                 now: datetime | None = None) -> int | None:
    """Record the hours each volunteer served, award points and complete the task.

    Parameters
    ----------
    engine : Engine
        The database.
    scope : Scope
        A grid head (the task's grid in their areas) or an admin.
    task_id : int
        An open task whose day has come.
    hours : mapping of str to float
        Volunteer -> hours served, in [0, 24]; a claimed volunteer not named served 0
        (did not come).
    now : datetime, optional
        Naive UTC.

    Returns
    -------
    int or None
        The volunteer_activity written (None when nobody served).

    Raises
    ------
    AccessDenied
        Another role, or a task outside the scope (audited).
    ActionRefused
        ``unknown``, ``status`` (completed already), ``not_yet`` (before the day),
        ``unknown_volunteer`` (no claim by that name), ``hours`` (out of range).

    """
    moment = clock.or_now(now)
    task = _task(engine, task_id)
    _task_in_scope(engine, scope, action="record", grid_code=task.grid_code, task_id=task_id)
    if task.status != "open":
        raise ActionRefused(f"task {task_id} is {task.status}", reason="status")
    if clock.local_date(moment) < task.date:
        raise ActionRefused(f"task {task_id} is on {task.date}; record hours on or after it",
                            reason="not_yet")
    claims = store_volunteers.read_claims(engine, task_ids=[task_id])
    known = set(claims["volunteer"])
    unknown = sorted(set(hours) - known)
    if unknown:
        raise ActionRefused(f"no claim on task {task_id} by {', '.join(unknown)}",
                            reason="unknown_volunteer")
    served: dict[str, tuple[float, float]] = {}
    for name in claims["volunteer"]:
        value = float(hours.get(name, 0.0))
        if not 0 <= value <= MAX_HOURS or np.isnan(value):
            raise ActionRefused(f"{name}: hours must be from 0 to {MAX_HOURS:g}, not {value:g}",
                                reason="hours")
        served[name] = (value, float(points_for(value)))
    came = [h for h, _ in served.values() if h > 0]
    activity = None
    if came:
        total = float(sum(came))
        activity = {"external_id": f"task-{int(task_id)}", "grid_code": task.grid_code,
                    "date": task.date, "title": task.title, "volunteers": len(came),
                    "hours": total / len(came),
                    "points": float(sum(p for _, p in served.values()))}
    try:
        with store_engine.transaction(engine) as conn:
            activity_id = store_volunteers.complete_task(conn, task_id=task_id, served=served,
                                                         activity=activity, now=moment)
            store_access.log_audit(conn, actor=scope.actor, action="task.hours",
                                   area=task.grid_code, rows=len(served),
                                   detail={"task": int(task_id), "volunteers": len(came),
                                           "hours": sum(came), "activity": activity_id})
    except (ValueError, IntegrityError):
        raise ActionRefused(f"task {task_id} was completed meanwhile",
                            reason="status") from None
    return activity_id


def grid_tasks(engine: Engine, scope: Scope, *, grid_code: str) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    """Return a grid's tasks (newest first) and their claims, volunteers' names masked.

    A grid head sees the names in their own grids and an admin everywhere; everyone else
    sees them masked (张*). Nothing outside the scope is returned.
    """
    tasks = store_volunteers.read_tasks(engine, grid_code=grid_code, scope=scope)
    claims = store_volunteers.read_claims(engine, task_ids=tasks["id"].tolist()
                                          if len(tasks) else [])
    if scope.personal == "none":
        claims = claims.assign(volunteer=claims["volunteer"].map(lambda _v: "***"),
                               account=None)
    else:
        claims = mask_frame(claims, scope, columns=("volunteer", "account"))
    return tasks, claims
