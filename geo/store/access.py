"""Who may read what, in SQL: scope conditions, API keys, accounts, wall tokens, audit log.

The policy (roles, password hashing, lockout, token rules) lives in :mod:`geo.access` and
:mod:`geo.accounts`; this module only reads and writes their rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Row, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from geo import clock
from geo.access import Scope
from geo.store._sql import AnySelect, Bind, connect, inserted_id, read_frame
from geo.store.schema import (
    account,
    account_scope,
    account_session,
    admin_unit,
    api_key,
    audit_log,
    grid,
    login_throttle,
    wall_token,
)

# --------------------------------------------------------------------------- scope


def scope_condition(column: ColumnElement[Any],
                    scope: Scope | None) -> ColumnElement[bool] | None:
    """Return the SQL test that ``column`` (a grid code) lies inside ``scope``, or None.

    A grid is inside when the scope names it, its community, or the community's township,
    county or city, following the stored admin hierarchy (``parent_code``) rather than the
    digits, so a township filed under another county is still found. Rows with no grid
    (outside every grid) are never inside a restricted scope.
    """
    if scope is None or scope.everywhere:
        return None
    areas = list(scope.areas or ())
    com = admin_unit.alias("scope_community")
    town = admin_unit.alias("scope_township")
    county = admin_unit.alias("scope_county")
    inside = (
        select(grid.c.code)
        .select_from(grid.outerjoin(com, com.c.code == grid.c.community_code)
                     .outerjoin(town, town.c.code == com.c.parent_code)
                     .outerjoin(county, county.c.code == town.c.parent_code))
        .where(or_(grid.c.code.in_(areas), grid.c.community_code.in_(areas),
                   town.c.code.in_(areas), county.c.code.in_(areas),
                   county.c.parent_code.in_(areas)))
    )
    return column.in_(inside)


def grid_in_scope(bind: Bind, code: str, scope: Scope | None) -> bool:
    """Return True when grid ``code`` is stored and inside ``scope`` (stored hierarchy).

    The same test every scoped read applies (:func:`scope_condition`), for a check made
    before reading one grid.
    """
    stmt = select(grid.c.code).where(grid.c.code == code)
    stmt = scoped(stmt, grid.c.code, scope)
    with connect(bind) as conn:
        return conn.execute(stmt.limit(1)).first() is not None


def scoped(stmt: AnySelect, column: ColumnElement[Any],
           scope: Scope | None) -> AnySelect:
    """Add :func:`scope_condition` to ``stmt`` when the scope restricts anything."""
    cond = scope_condition(column, scope)
    return stmt if cond is None else stmt.where(cond)


# --------------------------------------------------------------------------- audit log


def log_audit(bind: Bind, *, actor: str | None, action: str,
              area: str | None = None, rows: int | None = None,
              detail: dict[str, Any] | None = None) -> None:
    """Append one line to the audit log (logins, exports, imports; DESIGN §8).

    Parameters
    ----------
    bind : Engine or Connection
        An engine writes in its own transaction; a connection joins the caller's.
    actor : str or None
        Who did it (account name, or ``cli:<os user>``).
    action : str
        ``export``, ``import``, ``login``, ``login_failed``…
    area : str, optional
        The admin or grid code the action covered.
    rows : int, optional
        Rows exported or imported.
    detail : dict, optional
        Anything else worth keeping (layer, format, personal flag, file name), as JSON.

    """
    row = {"at": clock.now(), "actor": actor, "action": action, "area": area, "rows": rows,
           "detail": json.dumps(detail or {}, ensure_ascii=False, default=str)}
    if isinstance(bind, Connection):
        bind.execute(audit_log.insert(), row)
    else:
        with bind.begin() as conn:
            conn.execute(audit_log.insert(), row)


def read_audit(bind: Bind, *, limit: int = 200,
               action: str | None = None) -> pd.DataFrame:
    """Return the newest audit lines first (only ``action`` lines when given)."""
    stmt = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action is not None:
        stmt = stmt.where(audit_log.c.action == action)
    return read_frame(bind, stmt)


# --------------------------------------------------------------------------- Open311 API keys


def create_api_key(conn: Connection, *, name: str, key_hash: str, now: datetime,
                   role: str = "reporter") -> int:
    """Store a new API key's hash and role under ``name``; IntegrityError if the name is taken."""
    return inserted_id(conn.execute(api_key.insert().values(name=name, key_hash=key_hash,
                                                            created_at=now, role=role)))


def find_api_key(bind: Bind, key_hash: str) -> dict[str, Any] | None:
    """Return the API key row (id, name, role, revoked_at, last_used_at) for a hash, or None."""
    k = api_key.c
    stmt = select(k.id, k.name, k.role, k.revoked_at, k.last_used_at).where(
        k.key_hash == key_hash)
    with connect(bind) as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def touch_api_key(bind: Bind, key_id: int, now: datetime) -> None:
    """Record that a key was used at ``now``."""
    with connect(bind) as conn:
        conn.execute(api_key.update().where(api_key.c.id == key_id).values(last_used_at=now))
        if isinstance(bind, Engine):
            conn.commit()


def list_api_keys(bind: Bind) -> pd.DataFrame:
    """Return every API key's name, role and times (never the hash), by name."""
    k = api_key.c
    return read_frame(bind, select(k.name, k.role, k.created_at, k.revoked_at, k.last_used_at)
                      .order_by(k.name))


def revoke_api_key(conn: Connection, name: str, *, now: datetime) -> bool:
    """Revoke the key called ``name``; False when there is no such live key."""
    result = conn.execute(api_key.update()
                          .where(api_key.c.name == name, api_key.c.revoked_at.is_(None))
                          .values(revoked_at=now))
    return result.rowcount > 0


# --------------------------------------------------------------------------- accounts


def known_area_codes(conn: Connection, codes: Iterable[str]) -> set[str]:
    """Return which of ``codes`` are stored as an admin unit or a grid."""
    wanted = list(codes)
    known = set(conn.execute(select(admin_unit.c.code)
                             .where(admin_unit.c.code.in_(wanted))).scalars())
    known |= set(conn.execute(select(grid.c.code).where(grid.c.code.in_(wanted))).scalars())
    return known


def find_account(conn: Connection, *, username: str | None = None, email: str | None = None,
                 for_update: bool = False) -> Row[Any] | None:
    """Return the account row with this name (or this e-mail, case-insensitive), or None.

    ``for_update`` locks the row until the transaction ends (a login counts failures).
    """
    a = account.c
    if username is not None:
        stmt = select(account).where(a.username == username)
    elif email is not None:
        stmt = select(account).where(func.lower(a.email) == email)
    else:
        raise ValueError("give username or email")
    if for_update:
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def account_areas(conn: Connection, account_id: int) -> tuple[str, ...]:
    """Return the admin or grid codes of an account's scope, sorted."""
    s = account_scope.c
    return tuple(sorted(conn.execute(select(s.admin_code)
                                     .where(s.account_id == account_id)).scalars()))


def insert_account(conn: Connection, *, username: str, display_name: str, role: str,
                   password_hash: str, email: str | None, areas: Iterable[str],
                   now: datetime) -> int:
    """Store a new account and its scope rows; return its id."""
    new_id = inserted_id(conn.execute(insert(account).values(
        username=username, display_name=display_name, role=role,
        password_hash=password_hash, disabled=False, created_at=now, email=email,
        failed_logins=0, password_changed_at=now)))
    rows = [{"account_id": new_id, "admin_code": c} for c in areas]
    if rows:
        conn.execute(insert(account_scope), rows)
    return new_id


def update_account(conn: Connection, *, username: str | None = None,
                   account_id: int | None = None, **values: Any) -> bool:
    """Set columns of one account, found by name or id; False when there is none.

    The values are column names of ``account`` (``password_hash``, ``failed_logins``,
    ``locked_until``, ``last_login_at``, ``password_changed_at``, ``disabled``).
    """
    a = account.c
    cond = a.username == username if username is not None else a.id == account_id
    return conn.execute(update(account).where(cond).values(**values)).rowcount > 0


def delete_accounts(conn: Connection, usernames: Iterable[str]) -> int:
    """Delete these accounts and their scope rows; return how many accounts there were."""
    a = account.c
    ids = conn.execute(select(a.id).where(a.username.in_(list(usernames)))).scalars().all()
    if ids:
        conn.execute(delete(account_scope).where(account_scope.c.account_id.in_(ids)))
        conn.execute(delete(account_session).where(account_session.c.account_id.in_(ids)))
        conn.execute(delete(account).where(a.id.in_(ids)))
    return len(ids)


def read_accounts(bind: Bind) -> pd.DataFrame:
    """Accounts (id, name, display name, role, e-mail, state, last login), by name; no hash."""
    a = account.c
    return read_frame(bind, select(a.id, a.username, a.display_name, a.role, a.email,
                                   a.disabled, a.locked_until, a.last_login_at)
                      .order_by(a.username))


def read_account_scopes(bind: Bind) -> pd.DataFrame:
    """Every account's scope rows: ``account_id`` and ``admin_code``."""
    s = account_scope.c
    return read_frame(bind, select(s.account_id, s.admin_code))


def read_password_hashes(bind: Bind) -> pd.DataFrame:
    """``username`` and ``password_hash`` of every enabled account (for the default check)."""
    a = account.c
    return read_frame(bind, select(a.username, a.password_hash).where(a.disabled.is_(False)))


# --------------------------------------------------------------------------- wall tokens


def wall_token_exists(conn: Connection, name: str) -> bool:
    """Return True when a wall token (live or not) is called ``name``."""
    w = wall_token.c
    return conn.execute(select(w.id).where(w.name == name)).first() is not None


def insert_wall_token(conn: Connection, *, name: str, token_hash: str, area: str,
                      created_at: datetime, expires_at: datetime,
                      created_by: str | None) -> None:
    """Store a new wall token's hash."""
    conn.execute(insert(wall_token).values(
        name=name, token_hash=token_hash, area=area, created_at=created_at,
        expires_at=expires_at, created_by=created_by))


def find_wall_token(conn: Connection, token_hash: str) -> Row[Any] | None:
    """Return the wall token row for a hash, or None."""
    return conn.execute(select(wall_token)
                        .where(wall_token.c.token_hash == token_hash)).first()


def touch_wall_token(conn: Connection, token_id: int, now: datetime) -> None:
    """Record that a wall token was used at ``now``."""
    conn.execute(update(wall_token).where(wall_token.c.id == token_id)
                 .values(last_used_at=now))


def revoke_wall_token(conn: Connection, name: str, *, now: datetime) -> bool:
    """Revoke the live token called ``name``; False when there is no such live token."""
    w = wall_token.c
    done = conn.execute(update(wall_token).where(w.name == name, w.revoked_at.is_(None))
                        .values(revoked_at=now)).rowcount
    return bool(done)


def read_wall_tokens(bind: Bind) -> pd.DataFrame:
    """Tokens with area, expiry, revocation and last use (never the hash), by name."""
    w = wall_token.c
    return read_frame(bind, select(w.name, w.area, w.created_at, w.expires_at, w.revoked_at,
                                   w.last_used_at, w.created_by).order_by(w.name))


# --------------------------------------------------------------------------- browser sessions


def insert_session(conn: Connection, *, token_hash: str, account_id: int, now: datetime,
                   expires_at: datetime) -> None:
    """Store a new browser session's id hash for an account."""
    conn.execute(insert(account_session).values(
        token_hash=token_hash, account_id=account_id, created_at=now, last_seen_at=now,
        expires_at=expires_at))


def find_session(conn: Connection, token_hash: str) -> Row[Any] | None:
    """Return the session row for an id hash, with its account's ``username``, or None."""
    s = account_session.c
    stmt = (select(s.id, s.account_id, s.expires_at, s.ended_at, s.last_seen_at,
                   account.c.username)
            .join_from(account_session, account, account.c.id == s.account_id)
            .where(s.token_hash == token_hash))
    return conn.execute(stmt).first()  # type: ignore[return-value]


def touch_session(conn: Connection, session_id: int, now: datetime) -> None:
    """Record that a session was used at ``now``."""
    conn.execute(update(account_session).where(account_session.c.id == session_id)
                 .values(last_seen_at=now))


def end_sessions(conn: Connection, *, now: datetime, reason: str,
                 token_hash: str | None = None, account_id: int | None = None) -> int:
    """End the live session with this id hash, or every live session of an account.

    Returns how many sessions were live and are now ended.
    """
    s = account_session.c
    if token_hash is not None:
        cond = s.token_hash == token_hash
    elif account_id is not None:
        cond = s.account_id == account_id
    else:
        raise ValueError("give token_hash or account_id")
    result = conn.execute(update(account_session)
                          .where(cond, s.ended_at.is_(None), s.expires_at > now)
                          .values(ended_at=now, ended_reason=reason[:32]))
    return int(result.rowcount)


def live_session_counts(bind: Bind, now: datetime) -> dict[str, int]:
    """Live (not ended, not expired) sessions per account name."""
    s = account_session.c
    stmt = (select(account.c.username, func.count())
            .join_from(account_session, account, account.c.id == s.account_id)
            .where(s.ended_at.is_(None), s.expires_at > now)
            .group_by(account.c.username))
    with connect(bind) as conn:
        return {name: int(n) for name, n in conn.execute(stmt)}


# --------------------------------------------------------------------------- sign-in throttle


def read_throttle(conn: Connection, keys: Iterable[str]) -> dict[str, Row[Any]]:
    """Return the throttle rows (failures, last failure, next allowed) of ``keys``."""
    t = login_throttle.c
    rows = conn.execute(select(login_throttle).where(t.key.in_(list(keys)))).all()
    return {row.key: row for row in rows}


def write_throttle(conn: Connection, *, key: str, failures: int, now: datetime,
                   next_allowed: datetime) -> None:
    """Set a key's failure count and the time its next try is heard (insert or update)."""
    t = login_throttle.c
    values = {"failures": failures, "last_failure_at": now, "next_allowed_at": next_allowed}
    done = conn.execute(update(login_throttle).where(t.key == key).values(**values)).rowcount
    if not done:
        conn.execute(insert(login_throttle).values(key=key, **values))


def clear_throttle(conn: Connection, keys: Iterable[str]) -> int:
    """Forget the failures of ``keys``; return how many keys had any."""
    t = login_throttle.c
    return int(conn.execute(delete(login_throttle).where(t.key.in_(list(keys)))).rowcount)


def read_throttle_waits(bind: Bind, prefix: str, now: datetime) -> dict[str, datetime]:
    """Keys starting with ``prefix`` (prefix removed) that must still wait, with until when."""
    t = login_throttle.c
    stmt = select(t.key, t.next_allowed_at).where(t.key.startswith(prefix, autoescape=True),
                                                  t.next_allowed_at > now)
    with connect(bind) as conn:
        return {k[len(prefix):]: at for k, at in conn.execute(stmt)}
