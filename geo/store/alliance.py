"""解忧联盟 SQL: members and the areas they serve, claims of requests, claim times.

The rules (who may add a member or record a claim, which requests are claimable) live in
:mod:`geo.alliance`; this module only reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Row, select, update
from sqlalchemy.engine import Connection

from geo.access import Scope
from geo.store._sql import Bind, connect, inserted_id, read_frame
from geo.store.access import scope_condition, scoped
from geo.store.area import EVERYWHERE, AreaFilter, in_area
from geo.store.schema import (
    admin_unit,
    alliance_area,
    alliance_member,
    grid,
    request,
    request_claim,
)

#: Member columns, in display order (the contact columns are personal data).
MEMBER_COLUMNS = ("id", "name", "kind", "contact_name", "contact_phone", "account",
                  "disabled", "created_at", "created_by")


def insert_member(conn: Connection, *, name: str, kind: str, contact_name: str | None,
                  contact_phone: str | None, account: str | None, areas: Iterable[str],
                  created_by: str, now: datetime) -> int:
    """Insert a member and its areas; return its id."""
    result = conn.execute(alliance_member.insert().values(
        name=name, kind=kind, contact_name=contact_name, contact_phone=contact_phone,
        account=account, disabled=False, created_at=now, created_by=created_by))
    member_id = inserted_id(result)
    conn.execute(alliance_area.insert(),
                 [{"member_id": member_id, "area_code": a} for a in sorted(set(areas))])
    return member_id


def member_exists(conn: Connection, *, name: str | None = None,
                  account: str | None = None) -> bool:
    """Return True when a member has this name (or this account)."""
    m = alliance_member.c
    cond = m.name == name if name is not None else m.account == account
    return conn.execute(select(m.id).where(cond).limit(1)).first() is not None


def find_member(bind: Bind, *, member_id: int | None = None, name: str | None = None,
                account: str | None = None) -> Row[Any] | None:
    """Return one member row by id, name or account, or None."""
    m = alliance_member.c
    if member_id is not None:
        cond = m.id == int(member_id)
    elif name is not None:
        cond = m.name == name
    elif account is not None:
        cond = m.account == account
    else:
        raise ValueError("give member_id, name or account")
    with connect(bind) as conn:
        return conn.execute(select(alliance_member).where(cond)).first()


def member_areas(bind: Bind, member_id: int) -> tuple[str, ...]:
    """Return the codes a member serves, sorted."""
    a = alliance_area.c
    with connect(bind) as conn:
        return tuple(sorted(conn.execute(select(a.area_code)
                                         .where(a.member_id == int(member_id))).scalars()))


def set_disabled(conn: Connection, *, member_id: int, disabled: bool) -> bool:
    """Disable (or enable) a member; return False when nothing changed."""
    m = alliance_member.c
    done = conn.execute(update(alliance_member)
                        .where(m.id == int(member_id), m.disabled != disabled)
                        .values(disabled=disabled))
    return done.rowcount > 0


def read_members(bind: Bind, *, include_disabled: bool = True) -> pd.DataFrame:
    """Return every member with its areas (``areas``: a tuple of codes), ordered by name."""
    stmt = select(*[alliance_member.c[c] for c in MEMBER_COLUMNS]).order_by(
        alliance_member.c.name)
    if not include_disabled:
        stmt = stmt.where(alliance_member.c.disabled.is_(False))
    with connect(bind) as conn:
        members = read_frame(conn, stmt)
        areas = read_frame(conn, select(alliance_area.c.member_id, alliance_area.c.area_code)
                           .order_by(alliance_area.c.area_code))
    by_member: dict[Any, tuple[str, ...]] = {}
    for member_id, code in areas.itertuples(index=False, name=None):
        by_member[member_id] = (*by_member.get(member_id, ()), str(code))
    members["areas"] = [by_member.get(i, ()) for i in members["id"]]
    return members


def grid_ancestors(bind: Bind, grid_code: str) -> set[str]:
    """Return the grid's code and the codes of its community, township, county and city.

    The same stored hierarchy (``parent_code``) that :func:`geo.store.access.scope_condition`
    follows; empty for an unknown grid.
    """
    com = admin_unit.alias("com")
    town = admin_unit.alias("town")
    county = admin_unit.alias("county")
    stmt = (select(grid.c.code, grid.c.community_code, town.c.code, county.c.code,
                   county.c.parent_code)
            .select_from(grid.outerjoin(com, com.c.code == grid.c.community_code)
                         .outerjoin(town, town.c.code == com.c.parent_code)
                         .outerjoin(county, county.c.code == town.c.parent_code))
            .where(grid.c.code == grid_code))
    with connect(bind) as conn:
        row = conn.execute(stmt).first()
    return {str(c) for c in row if c is not None} if row is not None else set()


def members_serving(bind: Bind, grid_code: str) -> set[int]:
    """Return the ids of the members whose areas hold the grid (one query each way)."""
    codes = grid_ancestors(bind, grid_code)
    if not codes:
        return set()
    a = alliance_area.c
    with connect(bind) as conn:
        return {int(i) for i in conn.execute(select(a.member_id).distinct()
                                             .where(a.area_code.in_(sorted(codes)))).scalars()}


def grid_served(bind: Bind, *, grid_code: str, areas: tuple[str, ...]) -> bool:
    """Return True when grid ``grid_code`` lies in ``areas`` (stored hierarchy, like scopes)."""
    stmt = select(grid.c.code).where(grid.c.code == grid_code)
    stmt = scoped(stmt, grid.c.code, Scope("alliance", areas, "member"))
    with connect(bind) as conn:
        return conn.execute(stmt.limit(1)).first() is not None


# --------------------------------------------------------------------------- claims

#: Card columns: what a member needs to judge a request, and no personal data.
CARD_COLUMNS = ("id", "external_id", "grid_code", "category", "severity", "route", "status",
                "reported_at", "due_at", "updated_at", "address", "description",
                "suspended_at")


def claimable_requests(bind: Bind, *, routes: Iterable[str], statuses: Iterable[str],
                       scope: Scope | None = None, areas: tuple[str, ...] | None = None,
                       grid_code: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Return unclaimed requests of ``routes`` in ``statuses``, oldest first.

    Restricted to ``scope`` (who is looking), to ``areas`` (a member's areas served) and to
    one grid when given; no personal column is read.
    """
    r = request.c
    stmt = (select(*[r[c] for c in CARD_COLUMNS])
            .outerjoin(request_claim, request_claim.c.request_id == r.id)
            .where(request_claim.c.id.is_(None), r.route.in_(list(routes)),
                   r.status.in_(list(statuses)))
            .order_by(r.reported_at, r.id).limit(limit))
    if grid_code is not None:
        stmt = stmt.where(r.grid_code == grid_code)
    stmt = scoped(stmt, r.grid_code, scope)
    if areas is not None:
        stmt = scoped(stmt, r.grid_code, Scope("alliance", areas, "member"))
    return read_frame(bind, stmt)


def find_claim(bind: Bind, request_id: int) -> Any:
    """Return the claim of a request (with the member's name), or None."""
    c, m = request_claim.c, alliance_member.c
    stmt = (select(c.id, c.request_id, c.member_id, m.name.label("member"), c.claimed_at,
                   c.actor)
            .join_from(request_claim, alliance_member, c.member_id == m.id)
            .where(c.request_id == int(request_id)))
    with connect(bind) as conn:
        return conn.execute(stmt).first()


def insert_claim(conn: Connection, *, request_id: int, member_id: int, claimed_at: datetime,
                 actor: str) -> int:
    """Insert a claim (the unique request key refuses a second one); return its id."""
    result = conn.execute(request_claim.insert().values(
        request_id=int(request_id), member_id=int(member_id), claimed_at=claimed_at,
        actor=actor[:64]))
    return inserted_id(result)


def claim_times(bind: Bind, *, routes: Iterable[str], since: datetime | None,
                until: datetime | None, scope: Scope | None = None,
                grid_codes: Iterable[str] | None = None,
                area: AreaFilter = EVERYWHERE) -> pd.DataFrame:
    """Return claimable-route requests reported in [since, until) with their claim, if any.

    Only requests in ``scope``, ``grid_codes`` and ``area`` (each that is given).
    Columns ``id``, ``grid_code``, ``route``, ``reported_at``, ``claimed_at`` (NaT when
    unclaimed), ``member_id`` and ``member`` (the member's name).
    """
    r, c, m = request.c, request_claim.c, alliance_member.c
    stmt = (select(r.id, r.grid_code, r.route, r.reported_at, c.claimed_at, c.member_id,
                   m.name.label("member"))
            .select_from(request.outerjoin(request_claim, c.request_id == r.id)
                         .outerjoin(alliance_member, m.id == c.member_id))
            .where(r.route.in_(list(routes)), r.grid_code.is_not(None)))
    if since is not None:
        stmt = stmt.where(r.reported_at >= since)
    if until is not None:
        stmt = stmt.where(r.reported_at < until)
    if grid_codes is not None:
        stmt = stmt.where(r.grid_code.in_(list(grid_codes)))
    cond = scope_condition(r.grid_code, scope)
    if cond is not None:
        stmt = stmt.where(cond)
    frame = read_frame(bind, in_area(stmt, r.grid_code, area))
    for col in ("reported_at", "claimed_at"):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def request_route(bind: Bind, request_id: int) -> str | None:
    """Return a request's route (None when unknown or unset)."""
    with connect(bind) as conn:
        return conn.execute(select(request.c.route)
                            .where(request.c.id == int(request_id))).scalar()
