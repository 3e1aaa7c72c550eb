"""Working-day deadlines and escalation levels of the open backlog, as a wall refresh pays.

Deadlines are computed once, when a request is written (intake, import, demo), and stored
in ``due_at``; a wall refresh only judges levels. So the rows are:

* per refresh while the data is unchanged: the open backlog is cached on the data version
  (``ui.data._backlog``), and :func:`geo.escalation.pending` judges every level at the
  cut-off and finds the crossings not yet recorded;
* after a data change: the backlog read again through the ``resolved_at`` index
  (:func:`geo.store.updates.open_for_escalation`), then judged;
* the refresh point itself (data version and newest change, read fresh on every refresh);
* deadlines computed from scratch for the whole backlog, had they not been stored
  (:func:`geo.deadlines.due_times`, vectorised).

Each next to the naive way in the same run: a Python loop per request (levels; deadlines
with :meth:`~geo.workdays.WorkCalendar.working_days_after` one at a time), or every
request read into pandas and filtered there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select

from bench.context import Ctx
from bench.report import Row
from bench.timing import median_time, median_wall_cpu
from geo import deadlines, escalation
from geo import wall as geo_wall
from geo.store import engine as store_engine
from geo.store import updates as store_updates
from geo.store.schema import request

TARGET = "≤ 50 ms"


def _moment(ctx: Ctx) -> datetime:
    # A day after the dataset's last report.
    last = store_engine.read_frame(ctx.engine, "SELECT max(reported_at) AS m FROM request")["m"][0]
    return pd.Timestamp(last).ceil("min").to_pydatetime() + timedelta(days=1)


def _naive_levels(backlog: pd.DataFrame, now: datetime,
                  policy: deadlines.DeadlinePolicy) -> list[tuple[int, int]]:
    out = []
    for rid, reported, due, stored in zip(backlog["id"], pd.to_datetime(backlog["reported_at"]),
                                          pd.to_datetime(backlog["due_at"]),
                                          backlog["escalation_level"], strict=True):
        span = due - reported
        level = 0
        if now >= reported + span * policy.due_soon:
            level = 1
        if now > due:
            level = 2
        if now > reported + span * policy.long_overdue:
            level = 3
        if level > stored:
            out.append((int(rid), level))
    return out


def _naive_read(ctx: Ctx) -> pd.DataFrame:
    everything = store_engine.read_frame(ctx.engine, "SELECT * FROM request")
    open_ = everything["resolved_at"].isna() & everything["due_at"].notna() \
        & ~everything["status"].isin(["resolved", "rated"])
    return everything.loc[open_, ["id", "grid_code", "status", "reported_at", "due_at",
                                  "escalation_level"]]


def _naive_due(frame: pd.DataFrame, policy: deadlines.DeadlinePolicy, calendar) -> list:
    out = []
    for reported, severity, category in zip(pd.to_datetime(frame["reported_at"]),
                                            frame["severity"], frame["category"], strict=True):
        rule = policy.rule(severity, category)
        local = reported.to_pydatetime() + timedelta(hours=8)
        if rule.unit == "h":
            due = local + timedelta(hours=rule.amount)
        elif rule.unit == "wd":
            due = calendar.working_days_after(local, int(rule.amount))
        else:
            due = calendar.working_hours_after(local, rule.amount)
        out.append(due - timedelta(hours=8))
    return out


def deadlines_rows(ctx: Ctx) -> list[Row]:
    """The four rows of the module docstring."""
    policy, calendar = deadlines.policy_and_calendar()
    eng = ctx.engine
    now = _moment(ctx)
    # Levels as if none had been recorded yet: every crossing in the backlog's history is
    # found and expanded (the worst case; a live refresh usually finds none), and the
    # figure does not depend on what earlier runs of the wall recorded in the dataset.
    backlog = store_updates.open_for_escalation(eng).assign(escalation_level=0)
    n = len(backlog)
    rows = []

    t_warm, c_warm, steps = median_wall_cpu(
        lambda: escalation.pending(backlog, now=now, policy=policy), ctx.runs)
    t_loop, naive = median_time(lambda: _naive_levels(backlog, now, policy), ctx.runs)
    top = steps.groupby("id")["level"].max() if len(steps) else pd.Series(dtype=int)
    assert {int(i): int(lv) for i, lv in top.items()} == dict(naive)
    note = (f"{n:,} open requests, none recorded yet: {len(steps):,} crossings found; "
            f"CPU {c_warm * 1000:,.1f} ms")
    rows.append(Row("deadlines", "escalation levels of the open backlog per wall refresh, "
                    "backlog cached on the data version (escalation.pending)", ctx.label,
                    ctx.backend, t_warm, "s", t_loop, "Python loop per request",
                    target=TARGET, limit=0.05, note=note))

    def cold() -> pd.DataFrame:
        fresh = store_updates.open_for_escalation(eng).assign(escalation_level=0)
        return escalation.pending(fresh, now=now, policy=policy)

    naive_runs = 1 if ctx.scale == "province" else ctx.runs
    t_cold, c_cold, _ = median_wall_cpu(cold, ctx.runs)
    t_naive_read, _ = median_time(lambda: escalation.pending(
        _naive_read(ctx).assign(escalation_level=0), now=now, policy=policy), naive_runs)
    rows.append(Row("deadlines", "the same after a data change: open backlog re-read "
                    "(open_for_escalation, resolved_at index) + levels", ctx.label,
                    ctx.backend, t_cold, "s", t_naive_read,
                    "read_sql every request + pandas filter", target=TARGET, limit=0.05,
                    note=f"{n:,} open requests" + (f"; CPU {c_cold * 1000:,.0f} ms"
                                                   if ctx.backend == "sqlite" else "")))

    t_point, _ = median_time(lambda: geo_wall.refresh_point(eng), ctx.runs)
    rows.append(Row("deadlines", "the refresh's cut-off: data version + newest change, read "
                    "fresh on every refresh (wall.refresh_point)", ctx.label, ctx.backend,
                    t_point, "s", target=TARGET, limit=0.05))

    r = request.c
    frame = store_engine.read_frame(eng, select(r.reported_at, r.severity, r.category)
                                    .where(r.id.in_(backlog["id"].astype(int).tolist()[:30000])))
    t_due, c_due, due = median_wall_cpu(
        lambda: deadlines.due_times(frame["reported_at"], frame["severity"], frame["category"],
                                    policy=policy, calendar=calendar), ctx.runs)
    loop_n = min(len(frame), 2000)
    t_due_loop, naive_due = median_time(lambda: _naive_due(frame.head(loop_n), policy,
                                                           calendar), 1)
    assert np.array_equal(due.head(loop_n).to_numpy(dtype="datetime64[s]"),
                          np.array(naive_due, dtype="datetime64[s]"))
    scale_up = len(frame) / loop_n if loop_n else 1.0
    rows.append(Row("deadlines", "working-day deadlines of the open backlog, had they not been "
                    "stored (deadlines.due_times, vectorised)", ctx.label, ctx.backend, t_due,
                    "s", t_due_loop * scale_up,
                    f"calendar loop per request ({loop_n:,} rows, extrapolated)",
                    target=TARGET, limit=0.05,
                    note=f"{len(frame):,} requests; CPU {c_due * 1000:,.1f} ms; not paid on "
                         "a refresh: due_at is stored when a request is written"))
    return rows
