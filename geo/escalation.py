"""Escalation (督办): each crossing of a deadline threshold, recorded once as an event.

An open request's level follows from the clock (:func:`geo.deadlines.escalation_levels`):
0 in time, 1 due soon, 2 overdue, 3 long overdue. The request row keeps the highest level
recorded (``escalation_level``), so :func:`record` writes an ``escalation`` event only for
the thresholds crossed since the last run, each dated when it was crossed (not when it was
noticed), and a crossing is never written twice, whoever runs it: the wall on each refresh,
``gridmap escalate`` from a cron, or both at once on two machines (the write is guarded by
the level it read).

A level is not lowered when a deadline is moved later: the event stays as the record that
the request was once overdue.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from geo import clock
from geo.deadlines import LEVELS, DeadlinePolicy, crossing_times, escalation_levels
from geo.deadlines import policy_and_calendar as _site
from geo.store import engine as store_engine
from geo.store import updates as store_updates

#: The columns :func:`pending` returns, one row per threshold crossed.
STEP_COLUMNS = ("id", "status", "from_level", "level", "at")


def pending(backlog: pd.DataFrame, *, now: datetime, policy: DeadlinePolicy) -> pd.DataFrame:
    """Return the crossings not yet recorded: one row per request and level crossed.

    Parameters
    ----------
    backlog : pandas.DataFrame
        Open requests: ``id``, ``status``, ``reported_at``, ``due_at`` and
        ``escalation_level`` (the level recorded so far), as
        :func:`geo.store.updates.open_for_escalation` reads them.
    now : datetime
        Naive UTC: the moment the levels are judged at.
    policy : DeadlinePolicy
        The thresholds.

    Returns
    -------
    pandas.DataFrame
        :data:`STEP_COLUMNS`, ordered by request and level; ``at`` (naive UTC) is when the
        level's threshold was crossed. Rows of one request follow each other level by level,
        so that each is guarded by the level the one before it wrote.

    """
    if backlog.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STEP_COLUMNS})
    level = escalation_levels(backlog["reported_at"], backlog["due_at"], now=now,
                              policy=policy).to_numpy(dtype=np.int64)
    stored = backlog["escalation_level"].fillna(0).to_numpy(dtype=np.int64)
    behind = np.flatnonzero(level > stored)
    if not len(behind):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STEP_COLUMNS})
    # One row per level crossed since the last record: repeat each request that many times.
    n = level[behind] - stored[behind]
    rows = np.repeat(behind, n)
    first = np.repeat(np.cumsum(n) - n, n)
    to_level = stored[rows] + 1 + (np.arange(len(rows)) - first)
    times = crossing_times(backlog["reported_at"].iloc[rows], backlog["due_at"].iloc[rows],
                           policy=policy).to_numpy()
    at = times[np.arange(len(rows)), to_level - 1]
    return pd.DataFrame({
        "id": backlog["id"].to_numpy()[rows], "status": backlog["status"].to_numpy()[rows],
        "from_level": to_level - 1, "level": to_level,
        "at": pd.to_datetime(at).floor("s"),
    })


def record(engine: Engine, *, now: datetime | None = None,
           policy: DeadlinePolicy | None = None,
           backlog: pd.DataFrame | None = None) -> int:
    """Record every threshold the open backlog has crossed since the last run.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read and write (one short transaction, only when something crossed).
    now : datetime, optional
        Naive UTC moment the levels are judged at; default :func:`geo.clock.now`.
    policy : DeadlinePolicy, optional
        Default: the site's (:func:`geo.deadlines.policy_and_calendar`).
    backlog : pandas.DataFrame, optional
        The open backlog as :func:`geo.store.updates.open_for_escalation` returns it, when
        the caller holds a copy read at the current data version (the wall caches it);
        read here otherwise. A stale copy costs nothing wrong: a row whose level was
        raised meanwhile is skipped by the write's guard.

    Returns
    -------
    int
        Escalation events written.

    """
    moment = clock.or_now(now)
    policy = policy or _site()[0]
    if backlog is None:
        backlog = store_updates.open_for_escalation(engine)
    steps = pending(backlog, now=moment, policy=policy)
    if steps.empty:
        return 0
    with store_engine.transaction(engine) as conn:
        return store_updates.record_escalations(conn, steps, recorded_at=clock.now(),
                                                level_names=LEVELS)


def history(reported_at: pd.Series, due_at: pd.Series, resolved_at: pd.Series, *,
            until: datetime, policy: DeadlinePolicy) -> pd.DataFrame:
    """Return the crossings a request's past holds: those before it was resolved and ``until``.

    For data written in bulk with its history (the demo city), where nobody was watching
    the clock as it happened.

    Returns
    -------
    pandas.DataFrame
        ``row`` (position in the inputs), ``level`` (1–3) and ``at`` (naive UTC), ordered
        by row and level. The highest level per row is the request's ``escalation_level``.

    """
    times = crossing_times(reported_at, due_at, policy=policy)
    limit = pd.Timestamp(until)
    resolved = pd.to_datetime(resolved_at)
    end = resolved.where(resolved.notna() & (resolved < limit), limit)
    parts = []
    for level in (1, 2, 3):
        at = times[level]
        # The same comparisons as escalation_levels: level 1 from its threshold on, the
        # others only after it.
        hit = (at <= end) if level == 1 else (at < end)
        hit &= at.notna()
        rows = np.flatnonzero(hit.to_numpy())
        parts.append(pd.DataFrame({"row": rows, "level": level,
                                   "at": at.iloc[rows].dt.floor("s").to_numpy()}))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["row", "level"], kind="stable").reset_index(drop=True)


def levels(history_rows: pd.DataFrame, n: int) -> np.ndarray:
    """Return the highest level per input row (0 without a crossing) from :func:`history`."""
    out = np.zeros(n, dtype=np.int16)
    if len(history_rows):
        np.maximum.at(out, history_rows["row"].to_numpy(), history_rows["level"].to_numpy())
    return out
