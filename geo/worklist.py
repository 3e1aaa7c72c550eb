"""What a handler works on: their open requests by deadline, a request's history and photos.

Every function takes the caller's :class:`~geo.access.Scope` and reads only inside it: a
request id from a URL or a form that lies outside the scope is refused with
:class:`~geo.access.AccessDenied` (and audited), never shown. Actions themselves are
:func:`geo.actions.act`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from sqlalchemy.engine import Engine

from geo import clock
from geo.access import AccessDenied, Scope, mask_frame
from geo.deadlines import DeadlinePolicy, escalation_levels
from geo.store import access as store_access
from geo.store import photos as store_photos
from geo.store import updates as store_updates
from geo.store import work as store_work
from geo.store.area import AreaFilter

#: Resolved requests stay on the list for closing this long after their resolution.
CLOSABLE_FOR = timedelta(days=30)
#: The longest list read at once.
LIMIT = 500


@dataclass(frozen=True)
class PhotoData:
    """A stored photo's bytes and type, read for a session that may see its request."""

    data: bytes
    content_type: str
    request_id: int


def worklist(engine: Engine, scope: Scope, *, now: datetime, policy: DeadlinePolicy,
             area: AreaFilter | None = None, limit: int = LIMIT) -> pd.DataFrame:
    """Return the scope's open requests soonest deadline first, then those to close.

    Parameters
    ----------
    engine : Engine
        The database.
    scope : Scope
        Who asks; only requests inside it are read.
    now : datetime
        Naive UTC: what is open, the age and the level are judged at this moment.
    policy : DeadlinePolicy
        The escalation thresholds (due soon, long overdue).
    area : AreaFilter, optional
        A narrower area (its scope is replaced by ``scope``).
    limit : int
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        :data:`geo.store.work.WORK_COLUMNS`; the reporter's name and phone for roles that
        see contacts (masked as :func:`geo.access.mask_frame` says); ``level`` (0 in time
        … 3 long overdue; -1 with no deadline or resolved), ``age_h`` and ``left_h`` (hours
        to the deadline, negative when overdue).

    """
    where = AreaFilter(**{**_fields(area), "scope": scope})
    rows = store_work.work_items(engine, area=where, until=now, limit=limit,
                                 closable_since=now - CLOSABLE_FOR,
                                 contacts=scope.sees_contacts())
    return _with_levels(mask_frame(rows, scope), now=now, policy=policy)


def work_item(engine: Engine, scope: Scope, request_id: int, *, now: datetime,
              policy: DeadlinePolicy) -> pd.Series | None:
    """Return one request of :func:`worklist` (None when it is no longer on the list).

    Raises
    ------
    AccessDenied
        The request lies outside the scope (audited): a tampered URL or form.

    """
    check_request(engine, scope, request_id)
    rows = store_work.work_items(engine, area=AreaFilter(scope=scope), until=now,
                                 ids=[request_id], contacts=scope.sees_contacts())
    rows = _with_levels(mask_frame(rows, scope), now=now, policy=policy)
    return None if rows.empty else rows.iloc[0]


def check_request(engine: Engine, scope: Scope, request_id: int) -> str | None:
    """Return the request's grid code, or refuse (and audit) a request outside the scope.

    An unknown id returns None (nothing to show, nothing to refuse).
    """
    states = store_updates.read_states(engine, ids=[int(request_id)])
    if states.empty:
        return None
    grid = states["grid_code"].iloc[0]
    grid = None if pd.isna(grid) else str(grid)
    if not scope.covers_code(grid):
        _deny(engine, scope, grid, what="request", key=int(request_id))
    return grid


def history(engine: Engine, scope: Scope, request_id: int) -> pd.DataFrame:
    """Return the request's events, oldest first: at, kind, from_status, to_status, actor, note.

    Notes are masked (phone and ID numbers) unless the scope sees the request's contacts
    in clear (:func:`geo.access.mask_frame`).

    Raises
    ------
    AccessDenied
        The request lies outside the scope.

    """
    grid = check_request(engine, scope, request_id)
    events = store_updates.read_events(engine, ids=[int(request_id)])
    return mask_frame(events.assign(grid_code=grid), scope,
                      columns=("note",)).drop(columns="grid_code")


def photos(engine: Engine, scope: Scope, request_id: int) -> pd.DataFrame:
    """Return the request's photos (id, content_type, width, height, created_at; no bytes).

    Raises
    ------
    AccessDenied
        The request lies outside the scope.

    """
    check_request(engine, scope, request_id)
    return store_photos.photos_of(engine, [int(request_id)])


def photo_for(engine: Engine, scope: Scope, photo_id: int) -> PhotoData | None:
    """Return a stored photo for a session that may see its request (None: no such photo).

    Raises
    ------
    AccessDenied
        The photo's request lies outside the scope (audited).

    """
    row = store_photos.read_photo(engine, int(photo_id))
    if row is None:
        return None
    grid = row["grid_code"]
    if not scope.covers_code(grid):
        _deny(engine, scope, grid, what="photo", key=int(photo_id))
    return PhotoData(data=bytes(row["data"]), content_type=str(row["content_type"]),
                     request_id=int(row["request_id"]))


def safe_media_url(value: Any) -> str | None:
    """Return an Open311 ``media_url`` when it is a plain http(s) URL, else None.

    The URL came from outside: ``javascript:``, ``data:`` and malformed values are never
    shown as a link or an image.
    """
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > 1024 or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _with_levels(rows: pd.DataFrame, *, now: datetime, policy: DeadlinePolicy
                 ) -> pd.DataFrame:
    out = rows.copy()
    moment = pd.Timestamp(clock.to_naive_utc(now))
    reported = pd.to_datetime(out["reported_at"])
    due = pd.to_datetime(out["due_at"])
    out["age_h"] = (moment - reported).dt.total_seconds() / 3600
    out["left_h"] = (due - moment).dt.total_seconds() / 3600
    levels = pd.Series(-1, index=out.index, dtype="int64")
    judged = due.notna() & (out["status"] != "resolved")
    if judged.any():
        levels[judged] = escalation_levels(reported[judged], due[judged], now=now,
                                           policy=policy).astype("int64")
    out["level"] = levels
    return out


def _fields(area: AreaFilter | None) -> dict[str, Any]:
    if area is None:
        return {}
    return {"grid_code": area.grid_code, "grid_prefix": area.grid_prefix,
            "grid_codes": area.grid_codes}


def _deny(engine: Engine, scope: Scope, grid: str | None, *, what: str, key: int) -> None:
    why = f"{what} {key} lies outside {scope.actor}'s areas"
    store_access.log_audit(engine, actor=scope.actor, action="denied", area=grid,
                           detail={what: key, "why": why})
    raise AccessDenied(why, reason="outside")
