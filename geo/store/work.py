"""The requests someone works on: open ones and resolved ones still to close, with place."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import and_, case, or_, select

from geo.store._sql import Bind, read_frame
from geo.store.area import AreaFilter, in_area
from geo.store.counts import request_conditions
from geo.store.schema import request

#: Columns of a work item: the state an action checks, and what the card shows.
WORK_COLUMNS = ("id", "external_id", "grid_code", "category", "severity", "route", "status",
                "source", "reported_at", "due_at", "updated_at", "resolved_at", "closed_at",
                "assignee", "suspended_at", "supervised_at", "escalation_level", "address",
                "description", "media_url")


def work_items(bind: Bind, *, area: AreaFilter, until: datetime, limit: int = 500,
               closable_since: datetime | None = None, contacts: bool = False,
               ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Return open requests and resolved ones not yet closed, in ``area``, by deadline.

    Open means not resolved by ``until``. Rows come soonest deadline first (no deadline
    last), then the resolved ones awaiting closure (resolved since ``closable_since``, when
    given: old resolutions nobody closed are not today's work); ``ids`` restricts to these requests
    (still inside ``area``, so a tampered id outside the scope finds nothing). With
    ``contacts``, also ``reporter_name`` and ``reporter_phone`` (personal: the caller masks
    them with :func:`geo.access.mask_frame`).
    """
    r = request.c
    awaiting_close = and_(r.status == "resolved", r.closed_at.is_(None))
    if closable_since is not None:
        awaiting_close = and_(awaiting_close, r.resolved_at >= closable_since)
    cols = [r[c] for c in WORK_COLUMNS]
    if contacts:
        cols += [r.reporter_name, r.reporter_phone]
    stmt = select(*cols).where(
        r.reported_at < until, or_(request_conditions(until)["open"], awaiting_close))
    if ids is not None:
        stmt = stmt.where(r.id.in_([int(i) for i in ids]))
    stmt = in_area(stmt, r.grid_code, area)
    last = case((awaiting_close, 1), else_=0)
    no_deadline = case((r.due_at.is_(None), 1), else_=0)
    stmt = stmt.order_by(last, no_deadline, r.due_at, r.reported_at, r.id).limit(limit)
    return read_frame(bind, stmt)
