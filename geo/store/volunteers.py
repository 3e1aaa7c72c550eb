"""Volunteer task SQL: tasks, claims, hours served and the activity a completed task writes.

The rules (who may publish, claim and record hours; the points rule) live in
:mod:`geo.volunteers`; this module only reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from geo.access import Scope
from geo.store._sql import Bind, connect, inserted_id, read_frame
from geo.store.access import scoped
from geo.store.schema import task_claim, volunteer_activity, volunteer_task

TASK_COLUMNS = tuple(c.name for c in volunteer_task.columns)
CLAIM_COLUMNS = ("id", "task_id", "volunteer", "account", "claimed_at", "claimed_by",
                 "hours_served", "points")


def insert_task(conn: Connection, *, grid_code: str, title: str, day: date, places: int,
                hours: float, published_by: str, now: datetime) -> int:
    """Insert an open task; return its id."""
    result = conn.execute(volunteer_task.insert().values(
        grid_code=grid_code, title=title, date=day, places=int(places), hours=float(hours),
        claims=0, status="open", published_by=published_by[:64], published_at=now))
    return inserted_id(result)


def find_task(bind: Bind, task_id: int) -> Any:
    """Return one task row, or None."""
    with connect(bind) as conn:
        return conn.execute(select(volunteer_task)
                            .where(volunteer_task.c.id == int(task_id))).first()


def read_tasks(bind: Bind, *, grid_code: str | None = None, scope: Scope | None = None,
               since: date | None = None, until: date | None = None) -> pd.DataFrame:
    """Return tasks (of one grid, inside a scope, dated in [since, until)), newest first."""
    t = volunteer_task.c
    stmt = select(volunteer_task).order_by(t.date.desc(), t.id.desc())
    if grid_code is not None:
        stmt = stmt.where(t.grid_code == grid_code)
    if since is not None:
        stmt = stmt.where(t.date >= since)
    if until is not None:
        stmt = stmt.where(t.date < until)
    return read_frame(bind, scoped(stmt, t.grid_code, scope))


def take_place(conn: Connection, task_id: int) -> bool:
    """Count one more claim if the task is open and has a free place (atomic guard)."""
    t = volunteer_task.c
    done = conn.execute(update(volunteer_task)
                        .where(t.id == int(task_id), t.status == "open", t.claims < t.places)
                        .values(claims=t.claims + 1))
    return done.rowcount == 1


def insert_claim(conn: Connection, *, task_id: int, volunteer: str, account: str | None,
                 claimed_by: str, now: datetime) -> int:
    """Insert a claim (the unique key refuses the same volunteer twice); return its id."""
    result = conn.execute(task_claim.insert().values(
        task_id=int(task_id), volunteer=volunteer, account=account,
        claimed_at=now, claimed_by=claimed_by[:64]))
    return inserted_id(result)


def read_claims(bind: Bind, *, task_ids: Iterable[int]) -> pd.DataFrame:
    """Return the claims of these tasks, in claim order, with each task's grid."""
    c, t = task_claim.c, volunteer_task.c
    stmt = (select(*[c[n] for n in CLAIM_COLUMNS], t.grid_code)
            .join_from(task_claim, volunteer_task, t.id == c.task_id)
            .where(c.task_id.in_([int(i) for i in task_ids])).order_by(c.task_id, c.id))
    return read_frame(bind, stmt)


def complete_task(conn: Connection, *, task_id: int, served: Mapping[str, tuple[float, float]],
                  activity: dict[str, Any] | None, now: datetime) -> int | None:
    """Record hours and points per volunteer, write the activity, close the task.

    Parameters
    ----------
    conn : Connection
        Inside a transaction.
    task_id : int
        An open task.
    served : mapping
        Volunteer -> (hours served, points), for every claim of the task.
    activity : dict, optional
        The volunteer_activity row to write (None when nobody served).
    now : datetime
        Naive UTC.

    Returns
    -------
    int or None
        The activity's id.

    Raises
    ------
    ValueError
        The task was completed meanwhile (nothing written).

    """
    t, c = volunteer_task.c, task_claim.c
    activity_id = None
    if activity is not None:
        activity_id = inserted_id(conn.execute(volunteer_activity.insert().values(**activity)))
    done = conn.execute(update(volunteer_task).where(t.id == int(task_id), t.status == "open")
                        .values(status="completed", completed_at=now, activity_id=activity_id))
    if done.rowcount != 1:
        raise ValueError(f"task {task_id} was completed meanwhile")
    if served:
        conn.execute(update(task_claim)
                     .where(c.task_id == int(task_id), c.volunteer == bindparam("b_volunteer"))
                     .values(hours_served=bindparam("b_hours"), points=bindparam("b_points")),
                     [{"b_volunteer": v, "b_hours": h, "b_points": p}
                      for v, (h, p) in served.items()])
    return activity_id
