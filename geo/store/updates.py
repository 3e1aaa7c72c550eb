"""Lifecycle SQL: the stored state of requests, applying judged updates, the updates feed.

Every change to a stored request after intake is written here, whatever brought it (a
re-imported export, an Open311 update, the simulator, an action in the UI); the rules that
decide which changes are allowed live in :mod:`geo.lifecycle` and :mod:`geo.updates`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.engine import Connection

from geo.store._sql import Bind, chunks, clean, connect, inserted_id, read_frame
from geo.store.schema import request, request_event

#: The columns of a request's state that an update reads and may change.
STATE_COLUMNS = ("id", "external_id", "grid_code", "category", "severity", "status",
                 "reported_at", "due_at", "updated_at", "resolved_at", "closed_at",
                 "satisfaction", "escalation_level", "assignee", "suspended_at",
                 "supervised_at")
#: Fields an update writes besides status and updated_at (None keeps the stored value).
_WRITABLE = ("resolved_at", "closed_at", "satisfaction", "due_at")
#: Fields an update may carry that are written on its event only (migration 0007).
EVENT_FIELDS = ("update_id", "media_url")
#: The columns :func:`read_events` returns.
_EVENT_COLUMNS = ("id", "request_id", "at", "recorded_at", "kind", "from_status", "to_status",
                  "actor", "note", "update_id", "media_url")


def read_states(bind: Bind, *, external_ids: Iterable[str] | None = None,
                ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Return the stored state of the requests with these external ids (or ids).

    Unknown keys are simply absent. Keys are looked up in chunks of 5,000 (SQLite's bind
    parameter limit), so a file of 100,000 updates costs a few dozen indexed reads.
    """
    cols = [request.c[n] for n in STATE_COLUMNS]
    values: list[Any]
    if external_ids is not None:
        key, values = request.c.external_id, [str(k) for k in external_ids]
    elif ids is not None:
        key, values = request.c.id, [int(i) for i in ids]
    else:
        raise ValueError("give external_ids or ids")
    frames = [read_frame(bind, select(*cols).where(key.in_(chunk)))
              for chunk in chunks(values, 5000)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({n: pd.Series(dtype=object) for n in STATE_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def write_updates(conn: Connection, changes: pd.DataFrame, *, actor: str,
                  recorded_at: datetime) -> int:
    """Apply judged updates and write one event each, inside ``conn``'s transaction.

    Each UPDATE is guarded by the state it was judged against (status and updated_at): a
    request changed meanwhile by someone else is left alone, and the caller learns it
    from the count.

    Parameters
    ----------
    conn : Connection
        Inside a transaction (see :func:`geo.store.engine.transaction`).
    changes : pandas.DataFrame
        ``id``, ``from_status``, ``from_updated_at`` (the judged state), ``status``,
        ``at`` (naive UTC), ``note``, ``kind`` and the writable fields ``resolved_at``,
        ``closed_at``, ``satisfaction``, ``due_at`` (None or NaT: keep the stored value);
        optionally :data:`EVENT_FIELDS` (the sender's ``update_id``, a ``media_url``),
        written on the event only.
    actor : str
        Who changed it, e.g. ``import:export-1204.csv`` or ``api:platform``.
    recorded_at : datetime
        Naive UTC: when GridMap writes the change (the updates feed pages by it).

    Returns
    -------
    int
        The number of requests updated.

    """
    if changes.empty:
        return 0
    r = request.c
    guard = and_(r.id == bindparam("b_id"), r.status == bindparam("b_from"),
                 or_(and_(r.updated_at.is_(None), bindparam("b_last_none")),
                     r.updated_at == bindparam("b_last")))
    stmt = request.update().where(guard).values(
        status=bindparam("b_status"), updated_at=bindparam("b_at"),
        **{c: _coalesce(c) for c in _WRITABLE})
    rows, events = [], []
    for ch in changes.to_dict("records"):
        last = clean(ch.get("from_updated_at"))
        row: dict[str, Any] = {"b_id": int(ch["id"]), "b_from": ch["from_status"],
                               "b_last": last, "b_last_none": last is None,
                               "b_status": ch["status"], "b_at": clean(ch["at"])}
        for c in _WRITABLE:
            row[f"b_{c}"] = clean(ch.get(c))
        rows.append(row)
        events.append({"request_id": int(ch["id"]), "at": clean(ch["at"]),
                       "from_status": ch["from_status"], "to_status": ch["status"],
                       "actor": actor[:64], "note": clean(ch.get("note")),
                       "kind": ch.get("kind") or "status", "recorded_at": recorded_at,
                       **{c: clean(ch.get(c)) for c in EVENT_FIELDS}})
    done = 0
    for part in chunks(rows, 5000):
        result = conn.execute(stmt, part)
        done += result.rowcount if result.rowcount >= 0 else len(part)
    if done != len(rows):
        # Someone moved a request between the judgement and this write: refuse the batch
        # rather than log events for changes that did not happen (the caller retries).
        raise ConcurrentUpdate(f"{len(rows) - done} of {len(rows)} requests changed meanwhile")
    for part in chunks(events, 5000):
        conn.execute(request_event.insert(), part)
    return done


def write_action(conn: Connection, *, request_id: int, expected_status: str,
                 expected_updated_at: datetime | None, values: dict[str, Any],
                 event: dict[str, Any]) -> int:
    """Apply one action to one request, guarded by the state the actor saw, and log it.

    Parameters
    ----------
    conn : Connection
        Inside a transaction.
    request_id : int
        The request.
    expected_status, expected_updated_at
        The state the action was decided on; if the request has moved since, nothing is
        written and :class:`ConcurrentUpdate` is raised.
    values : dict
        Columns to set (``status``, ``updated_at``, ``assignee``, ``suspended_at``, …;
        None clears a column).
    event : dict
        The request_event row (``at``, ``from_status``, ``to_status``, ``actor``, ``note``,
        ``kind``, ``recorded_at``); ``request_id`` is filled in.

    Returns
    -------
    int
        The new event's id.

    """
    r = request.c
    last = (r.updated_at.is_(None) if expected_updated_at is None
            else r.updated_at == expected_updated_at)
    done = conn.execute(request.update()
                        .where(r.id == request_id, r.status == expected_status, last)
                        .values(**values))
    if done.rowcount != 1:
        raise ConcurrentUpdate(f"request {request_id} changed meanwhile")
    result = conn.execute(request_event.insert().values(request_id=request_id, **event))
    return inserted_id(result)


class ConcurrentUpdate(RuntimeError):
    """A request changed between reading its state and writing an update to it."""


def _coalesce(column: str) -> Any:
    return func.coalesce(bindparam(f"b_{column}"), request.c[column])


def record_escalations(conn: Connection, crossings: pd.DataFrame, *,
                       recorded_at: datetime, level_names: Sequence[str]) -> int:
    """Raise requests' escalation level and write one event per level crossed, once.

    Parameters
    ----------
    conn : Connection
        Inside a transaction.
    crossings : pandas.DataFrame
        ``id``, ``status``, ``from_level`` (as read), ``level`` (the new, higher level) and
        ``at`` (naive UTC: when the threshold was crossed).
    recorded_at : datetime
        Naive UTC: now.
    level_names : sequence of str
        The name of each level, written as the event's note.

    Returns
    -------
    int
        Events written. A request whose level was raised meanwhile (another wall
        refresh) is skipped, so no crossing is recorded twice.

    """
    r = request.c
    stmt = (request.update()
            .where(r.id == bindparam("b_id"), r.escalation_level == bindparam("b_from"))
            .values(escalation_level=bindparam("b_level")))
    events = []
    for ch in crossings.to_dict("records"):
        result = conn.execute(stmt, {"b_id": int(ch["id"]), "b_from": int(ch["from_level"]),
                                     "b_level": int(ch["level"])})
        if result.rowcount != 1:
            continue
        for level in range(int(ch["from_level"]) + 1, int(ch["level"]) + 1):
            events.append({"request_id": int(ch["id"]), "at": clean(ch["at"]),
                           "from_status": ch["status"], "to_status": ch["status"],
                           "actor": "deadline", "note": level_names[level], "kind": "escalation",
                           "recorded_at": recorded_at})
    for part in chunks(events, 5000):
        conn.execute(request_event.insert(), part)
    return len(events)


def open_for_escalation(bind: Bind) -> pd.DataFrame:
    """Return open requests with a deadline: id, status, reported_at, due_at, escalation_level."""
    r = request.c
    stmt = (select(r.id, r.grid_code, r.status, r.reported_at, r.due_at, r.escalation_level)
            .where(r.resolved_at.is_(None), r.due_at.is_not(None),
                   r.status.not_in(("resolved", "rated"))))
    return read_frame(bind, stmt)


def read_events(bind: Bind, *, ids: Iterable[int], kinds: Iterable[str] | None = None
                ) -> pd.DataFrame:
    """Return the events of these requests in the order they were written."""
    e = request_event.c
    stmt = (select(*[e[n] for n in _EVENT_COLUMNS])
            .where(e.request_id.in_([int(i) for i in ids])).order_by(e.id))
    if kinds is not None:
        stmt = stmt.where(e.kind.in_(list(kinds)))
    return read_frame(bind, stmt)


def find_update(bind: Bind, *, request_id: int, actor: str, update_id: str
                ) -> dict[str, Any] | None:
    """Return the event a sender's update was written as, or None (see :data:`EVENT_FIELDS`)."""
    e = request_event.c
    stmt = (select(*[e[n] for n in _EVENT_COLUMNS])
            .where(e.request_id == request_id, e.actor == actor[:64], e.update_id == update_id))
    with connect(bind) as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def recorded_at(bind: Bind, event_id: int) -> datetime | None:
    """Return when GridMap wrote an event (the feed's cursor), None if unknown or unrecorded."""
    e = request_event.c
    with connect(bind) as conn:
        return conn.execute(select(e.recorded_at).where(e.id == event_id)).scalar()


def read_events_since(bind: Bind, *, since: datetime, until: datetime | None = None,
                      kinds: Iterable[str] = ("status", "note"), limit: int = 1000,
                      after_id: int = 0) -> pd.DataFrame:
    """Return events written in ``[since, until)`` with the request's external id, in order.

    The feed pages by when GridMap wrote an event (``recorded_at``), then by event id: the
    next page starts after the last event's (``recorded_at``, ``id``), given as ``since``
    and ``after_id``. Two writers' clocks and ids need not agree in order, so the key is the
    pair (an event recorded later with a lower id is still found), never the id alone.
    ``media_url`` is the event's own photo (the update's), not the resident's.
    """
    e, r = request_event.c, request.c
    # The range on recorded_at alone keeps the index usable; the OR only trims its first time.
    after = and_(e.recorded_at >= since, or_(e.recorded_at > since, e.id > after_id))
    stmt = (select(e.id, e.request_id, r.external_id, e.at, e.recorded_at, e.kind,
                   e.from_status, e.to_status, e.note, e.media_url, e.update_id)
            .join_from(request_event, request, e.request_id == r.id)
            # A request's creation is not an update of it.
            .where(after, e.kind.in_(list(kinds)), e.from_status.is_not(None))
            .order_by(e.recorded_at, e.id).limit(limit))
    if until is not None:
        stmt = stmt.where(e.recorded_at < until)
    with connect(bind) as conn:
        return read_frame(conn, stmt)
