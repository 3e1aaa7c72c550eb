"""Local accounts, sign-ins with a stored throttle, browser sessions, demo accounts, wall tokens.

Passwords are hashed with argon2id (argon2-cffi's :class:`~argon2.PasswordHasher`), never
stored or logged in clear. Failed sign-ins are throttled in the database, per client
address and per account name: each failure doubles the wait before the next try of that
address or name is heard (from :data:`THROTTLE_FIRST` up to a cap), and tries made while
waiting are refused unheard, so they do not grow the wait. There is no hard lock an
outsider could renew forever: the most they can impose on an account is
:data:`ACCOUNT_WAIT_CAP` per try, and an admin can clear it (``gridmap users unlock``).
Every sign-in and failed sign-in goes to the audit log.

A signed-in browser holds a server-side session (table ``account_session``): the cookie
carries only a random id and its HMAC, the database only the id's SHA-256. Sign-out, a
password change, disabling the account and ``gridmap users end-sessions`` end sessions at
once; a running session re-checks its session row at least once a minute (ui/data.py).

The demo database gets one account per role with the documented passwords of
:data:`DEMO_ACCOUNTS`. :func:`demo_password_problems` finds accounts that still use one
(or another well-known default) on a database that is not the demo, and the app and the API
refuse to start on such a database until the passwords are changed.

Wall tokens (``gridmap wall-token create --area 430903 --expires 90d``) are random
strings shown once; only their SHA-256 is stored. A token grants the ``wall`` role for its
area until it expires or is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection, Engine, Row

from geo import clock
from geo.access import ROLES, AccessDenied, Scope, restricted
from geo.store import access as db
from geo.store.engine import get_setting, set_setting, transaction

#: The wait after a first failed sign-in; each further failure doubles it, up to a cap:
#: one minute per account name (the most an outsider can impose on a real user), five
#: minutes per client address (a guesser from one address gets 12 tries an hour).
THROTTLE_FIRST = timedelta(seconds=1)
ACCOUNT_WAIT_CAP = timedelta(minutes=1)
ADDRESS_WAIT_CAP = timedelta(minutes=5)
#: Failures older than this are forgotten: the next one waits THROTTLE_FIRST again.
THROTTLE_MEMORY = timedelta(hours=1)
MIN_PASSWORD = 10

#: The demo database's accounts: username -> (role, areas, password, display name).
#: Documented in README.md; refused on any database that is not the demo.
DEMO_ACCOUNTS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "commander": ("commander", (), "demo-commander", "演示指挥长"),
    "gridhead": ("grid_head", ("430902005001",), "demo-gridhead", "演示网格长"),
    "planner": ("planner", (), "demo-planner", "演示规划员"),
    "admin": ("admin", (), "demo-admin", "演示管理员"),
}
#: Passwords refused outside the demo besides the demo ones.
DEFAULT_PASSWORDS = ("admin", "password", "123456", "12345678", "gridmap", "changeme")

_hasher = PasswordHasher()
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_DURATION = re.compile(r"^(\d+)\s*([dhm])$")


class LoginError(Exception):
    """A refused login: ``reason`` is ``unknown``, ``bad_password``, ``throttled`` or ``disabled``.

    ``until`` is when the next try of this name (or address) will be heard.
    """

    def __init__(self, reason: str, *, until: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.until = until


@dataclass(frozen=True)
class Account:
    """A signed-in user: name, role and areas, and the :class:`Scope` of their reads."""

    username: str
    display_name: str
    role: str
    areas: tuple[str, ...]

    @property
    def scope(self) -> Scope:
        """What this account may read."""
        return restricted(self.areas, role=self.role, actor=self.username)


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def _verify(hashed: str | None, password: str) -> bool:
    if not hashed:
        return False
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str, *, username: str) -> None:
    """Raise ValueError when ``password`` is too short, a default or the user's name."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password too short: at least {MIN_PASSWORD} characters")
    low = password.lower()
    if low in DEFAULT_PASSWORDS or low == username.lower() or any(
            low == d[2] for d in DEMO_ACCOUNTS.values()):
        raise ValueError("password is a default, demo or the account name; choose another")


def _check_areas(conn: Connection, role: str, areas: Iterable[str]) -> tuple[str, ...]:
    codes = tuple(sorted({str(a).strip() for a in areas if str(a).strip()}))
    if ROLES[role][0] == "own":
        if not codes:
            raise ValueError(f"role {role} needs --area (a grid or admin code)")
        known = db.known_area_codes(conn, codes)
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ValueError(f"unknown area code(s): {', '.join(unknown)}")
    return codes


def add_user(conn: Connection, *, username: str, role: str, password: str,
             areas: Iterable[str] = (), display_name: str | None = None,
             email: str | None = None, check_strength: bool = True) -> None:
    """Create an account.

    Parameters
    ----------
    conn : Connection
        An open transaction.
    username : str
        2–64 letters, digits, ``_ . @ -``.
    role : str
        One of :data:`geo.access.ROLES` except ``wall`` (walls use tokens).
    password : str
        Clear text; only the argon2id hash is stored.
    areas : iterable of str
        Admin or grid codes, required for grid heads.
    display_name, email : str, optional
        Shown name; e-mail that an OIDC identity maps to.
    check_strength : bool
        Refuse short and default passwords (off only for the demo accounts).

    Raises
    ------
    ValueError
        A bad name, role, password or area, or a name already taken.

    """
    if not _NAME.match(username or ""):
        raise ValueError(f"username {username!r}: 2-64 letters, digits or _ . @ -")
    if role not in ROLES or role == "wall":
        raise ValueError(f"role {role!r}: expected one of "
                         f"{', '.join(r for r in ROLES if r != 'wall')}")
    if check_strength:
        check_password_strength(password, username=username)
    codes = _check_areas(conn, role, areas)
    if db.find_account(conn, username=username) is not None:
        raise ValueError(f"account {username!r} already exists")
    db.insert_account(conn, username=username, display_name=display_name or username,
                      role=role, password_hash=hash_password(password), email=email or None,
                      areas=codes, now=clock.now(precision="s"))


def set_password(conn: Connection, *, username: str, password: str,
                 now: datetime | None = None) -> None:
    """Change a password, clear the account's sign-in throttle and end its sessions.

    Raises
    ------
    ValueError
        An unknown account or a weak password.

    """
    now = now or clock.now(precision="s")
    check_password_strength(password, username=username)
    done = db.update_account(conn, username=username, password_hash=hash_password(password),
                             failed_logins=0, locked_until=None, password_changed_at=now)
    if not done:
        raise ValueError(f"no account {username!r}")
    db.clear_throttle(conn, [_account_key(username)])
    end_account_sessions(conn, username=username, reason="password", now=now)


def set_disabled(conn: Connection, *, username: str, disabled: bool = True,
                 now: datetime | None = None) -> None:
    """Disable (ending its sessions) or enable an account; ValueError if unknown."""
    if not db.update_account(conn, username=username, disabled=disabled):
        raise ValueError(f"no account {username!r}")
    if disabled:
        end_account_sessions(conn, username=username, reason="disabled", now=now)


def unlock(conn: Connection, *, username: str, actor: str | None = None) -> bool:
    """Clear an account's sign-in throttle; return whether it had failures (ValueError if unknown).

    Clears only the account name's wait, not that of the addresses the failures came from.
    """
    if not db.update_account(conn, username=username, failed_logins=0, locked_until=None):
        raise ValueError(f"no account {username!r}")
    had = db.clear_throttle(conn, [_account_key(username)]) > 0
    db.log_audit(conn, actor=actor, action="unlock", detail={"account": username})
    return had


def list_users(bind: Engine | Connection, *, now: datetime | None = None) -> pd.DataFrame:
    """Accounts with role, areas, state, live sessions and last login (never the hash).

    ``locked_until`` is when the account name's sign-in throttle ends (if it still waits
    at ``now``), ``sessions`` the number of live sessions.
    """
    frame = db.read_accounts(bind)
    scopes = db.read_account_scopes(bind)
    areas = scopes.groupby("account_id")["admin_code"].agg(lambda c: ",".join(sorted(c)))
    # A dict look-up, not map + fillna: with no scope rows map gives float64, and pandas
    # deprecates filling that with a string.
    frame["areas"] = [areas.get(i, "") for i in frame["id"]]
    # "Locked" now means: the name's sign-in throttle still makes it wait.
    now = now or clock.now(precision="s")
    waits = db.read_throttle_waits(bind, "account:", now)
    frame["locked_until"] = pd.Series([waits.get(u) for u in frame["username"]],
                                      index=frame.index, dtype="datetime64[ns]")
    live = db.live_session_counts(bind, now)
    frame["sessions"] = [live.get(u, 0) for u in frame["username"]]
    return frame.drop(columns="id")


def _account(conn: Connection, row: Row[Any]) -> Account:
    areas = db.account_areas(conn, row.id)
    return Account(row.username, row.display_name or row.username, row.role, areas)


def _account_key(username: str) -> str:
    return f"account:{username[:64]}"


def throttle_wait(failures: int, *, cap: timedelta) -> timedelta:
    """Return the wait after ``failures`` failures in a row: 1 s, 2 s, 4 s… up to ``cap``."""
    if failures <= 0:
        return timedelta(0)
    # min() on the exponent first: 2**failures of a long attack would overflow timedelta.
    return min(THROTTLE_FIRST * 2 ** min(failures - 1, 30), cap)


def authenticate(engine: Engine, username: str, password: str, *,
                 client: str | None = None, now: datetime | None = None) -> Account:
    """Check a password under the stored throttle, audit both ways.

    Parameters
    ----------
    engine : Engine
        The database.
    username, password : str
        What the user typed.
    client : str, optional
        The client's address (:func:`geo.client.client_address`); its failures are
        throttled as well as the account name's. None throttles by name only.
    now : datetime, optional
        Naive UTC (tests pass their own clock).

    Raises
    ------
    LoginError
        ``throttled`` (with ``until``) when the name or the address must still wait: the
        password is not even checked; ``unknown``, ``bad_password`` or ``disabled``
        otherwise, with ``until`` the time the next try will be heard. The message shown
        to the user should not tell ``unknown`` from ``bad_password``.

    """
    now = now or clock.now(precision="s")
    caps = {_account_key(username): ACCOUNT_WAIT_CAP}
    if client:
        caps[f"ip:{client[:100]}"] = ADDRESS_WAIT_CAP
    actor = username[:64]
    # The refusal is raised after the commit: raised inside, it would roll back the failure
    # count and the audit line with it, and the throttle would never grow.
    refusal: LoginError | None = None
    with transaction(engine) as conn:
        throttle = db.read_throttle(conn, caps)
        waits = [r.next_allowed_at for r in throttle.values() if r.next_allowed_at > now]
        if waits:
            db.log_audit(conn, actor=actor, action="login_failed",
                         detail={"reason": "throttled", "client": client})
            refusal = LoginError("throttled", until=max(waits))
        else:
            row = db.find_account(conn, username=username, for_update=True)
            if row is not None and row.disabled:
                # Refused without a password check, so not counted: the throttle slows
                # password guessing, and this answer reveals nothing about the password.
                db.log_audit(conn, actor=actor, action="login_failed",
                             detail={"reason": "disabled", "client": client})
                refusal = LoginError("disabled")
            elif row is None or not _verify(row.password_hash, password):
                reason = "unknown" if row is None else "bad_password"
                failures = _failures(throttle, caps, now)
                until = _count_failure(conn, caps, failures, now)
                db.log_audit(conn, actor=actor, action="login_failed",
                             detail={"reason": reason, "client": client,
                                     **{k.split(":")[0]: n for k, n in failures.items()}})
                refusal = LoginError(reason, until=until)
            else:
                if _hasher.check_needs_rehash(row.password_hash):
                    db.update_account(conn, account_id=row.id,
                                      password_hash=hash_password(password))
                db.update_account(conn, account_id=row.id, failed_logins=0, locked_until=None,
                                  last_login_at=now)
                db.clear_throttle(conn, caps)
                db.log_audit(conn, actor=actor, action="login", detail={"client": client})
                account = _account(conn, row)
    if refusal is not None:
        raise refusal
    return account


def _failures(throttle: dict[str, Row[Any]], keys: Iterable[str],
              now: datetime) -> dict[str, int]:
    """Each key's failure count including the one being recorded."""
    out = {}
    for key in keys:
        prior = throttle.get(key)
        if prior is None or now - prior.last_failure_at > THROTTLE_MEMORY:
            out[key] = 1
        else:
            out[key] = int(prior.failures) + 1
    return out


def _count_failure(conn: Connection, caps: dict[str, timedelta],
                   failures: dict[str, int], now: datetime) -> datetime:
    """Store each key's new failure count; return when the next try will be heard."""
    until = now
    for key, failures_of_key in failures.items():
        next_allowed = now + throttle_wait(failures_of_key, cap=caps[key])
        db.write_throttle(conn, key=key, failures=failures_of_key, now=now,
                          next_allowed=next_allowed)
        until = max(until, next_allowed)
    return until


def account_for_email(engine: Engine, email: str) -> Account:
    """Return the enabled account an OIDC e-mail maps to (AccessDenied if none)."""
    with transaction(engine) as conn:
        row = db.find_account(conn, email=(email or "").strip().lower())
        if row is None or row.disabled:
            # Raised after the commit, so the audit line is kept (see authenticate).
            db.log_audit(conn, actor=(email or "?")[:64], action="login_failed",
                            detail={"reason": "oidc_unmapped" if row is None else "disabled"})
        else:
            db.update_account(conn, account_id=row.id, last_login_at=clock.now(precision="s"))
            db.log_audit(conn, actor=row.username, action="login", detail={"via": "oidc"})
            return _account(conn, row)
    raise AccessDenied(f"no enabled account for {email}")


# --------------------------------------------------------------------------- browser sessions

#: How long a signed-in browser stays signed in (a grid head's working day and then some).
SESSION_LIFETIME = timedelta(hours=12)


def _session_secret(engine: Engine) -> bytes:
    """Return the database's random key for session tokens, made on first use."""
    value = get_setting(engine, "session_secret")
    if value is None:
        with transaction(engine) as conn:
            # Two processes may race here; the upsert keeps one value, and re-reading it
            # makes both use the same one.
            set_setting(conn, "session_secret", secrets.token_hex(32))
        value = get_setting(engine, "session_secret")
    assert value is not None, "the session secret was just stored"
    return bytes.fromhex(value)


def _session_mac(secret: bytes, session_id: str) -> str:
    return hmac.new(secret, session_id.encode(), hashlib.sha256).hexdigest()


def _session_id(engine: Engine, token: str) -> str:
    """Return the session id of a cookie value whose HMAC verifies (AccessDenied otherwise)."""
    session_id, _, mac = (token or "").partition(".")
    if not session_id or not mac or len(token) > 200:
        raise AccessDenied("malformed session token")
    if not hmac.compare_digest(_session_mac(_session_secret(engine), session_id), mac):
        raise AccessDenied("session token does not verify")
    return session_id


def issue_session(engine: Engine, account: Account, *, now: datetime | None = None) -> str:
    """Start a server-side session for ``account``; return the cookie value.

    The value is a random id and its HMAC under the database's session secret; the
    database keeps only the id's SHA-256, with the account and the expiry
    (:data:`SESSION_LIFETIME`).

    Raises
    ------
    AccessDenied
        The account is unknown or disabled.

    """
    now = now or clock.now(precision="s")
    session_id = secrets.token_urlsafe(32)
    with transaction(engine) as conn:
        row = db.find_account(conn, username=account.username)
        if row is None or row.disabled:
            raise AccessDenied("no session for an unknown or disabled account")
        db.insert_session(conn, token_hash=_token_hash(session_id), account_id=row.id,
                          now=now, expires_at=now + SESSION_LIFETIME)
    return f"{session_id}.{_session_mac(_session_secret(engine), session_id)}"


def account_for_session(engine: Engine, token: str, *, now: datetime | None = None) -> Account:
    """Return the account a session cookie resumes.

    Raises
    ------
    AccessDenied
        Forged or malformed, unknown, ended (sign-out, password change, disabled, ended by
        an admin), expired, or the account is disabled.

    """
    now = now or clock.now(precision="s")
    session_id = _session_id(engine, token)
    with transaction(engine) as conn:
        row = db.find_session(conn, _token_hash(session_id))
        if row is None:
            raise AccessDenied("unknown session")
        if row.ended_at is not None:
            raise AccessDenied("session ended")
        if row.expires_at <= now:
            raise AccessDenied("session expired")
        owner = db.find_account(conn, username=row.username)
        if owner is None or owner.disabled:
            raise AccessDenied("session of an unknown or disabled account")
        # At most one write a minute per session, not one per rerun.
        if now - row.last_seen_at > timedelta(minutes=1):
            db.touch_session(conn, row.id, now)
        return _account(conn, owner)


def end_session(engine: Engine, token: str, *, reason: str = "sign_out",
                now: datetime | None = None) -> bool:
    """End the session of a cookie value (sign-out); False if it was not live or is forged."""
    try:
        session_id = _session_id(engine, token)
    except AccessDenied:
        return False
    with transaction(engine) as conn:
        return db.end_sessions(conn, token_hash=_token_hash(session_id), reason=reason,
                               now=now or clock.now(precision="s")) > 0


def end_account_sessions(conn: Connection, *, username: str, reason: str = "admin",
                         actor: str | None = None, now: datetime | None = None) -> int:
    """End every live session of an account; return how many (ValueError if unknown)."""
    row = db.find_account(conn, username=username)
    if row is None:
        raise ValueError(f"no account {username!r}")
    ended = db.end_sessions(conn, account_id=row.id, reason=reason,
                            now=now or clock.now(precision="s"))
    if ended:
        db.log_audit(conn, actor=actor, action="sessions_end",
                     detail={"account": username, "reason": reason, "sessions": ended})
    return ended


# --------------------------------------------------------------------------- demo


def is_demo(bind: Engine | Connection) -> bool:
    """Return True when the database is the demo, with none of the site's own data.

    The demo is what ``gridmap init-demo`` built, as long as no grids or requests of the
    site's own were imported since.

    A file import of grids or requests (:mod:`geo.importer`) records the ``real_data``
    setting; from then on the demo's documented passwords are refused like any default.
    """
    return get_setting(bind, "demo") is not None and get_setting(bind, "real_data") is None


def add_demo_accounts(conn: Connection) -> int:
    """Create (or reset) the documented demo accounts; return how many."""
    db.delete_accounts(conn, DEMO_ACCOUNTS)
    for name, (role, areas, password, display) in DEMO_ACCOUNTS.items():
        add_user(conn, username=name, role=role, password=password, areas=areas,
                 display_name=display, check_strength=False)
    return len(DEMO_ACCOUNTS)


def demo_password_problems(bind: Engine | Connection) -> list[str]:
    """Accounts that use a demo or default password on a database that is not the demo.

    Returns an empty list on the demo database (its passwords are documented on purpose).
    Each entry names the account; the check costs one argon2 verification per account and
    known password, so the app runs it once per process.
    """
    if is_demo(bind):
        return []
    rows = db.read_password_hashes(bind)
    known = {d[2] for d in DEMO_ACCOUNTS.values()} | set(DEFAULT_PASSWORDS)
    bad = []
    for username, hashed in rows.itertuples(index=False):
        demo_pw = DEMO_ACCOUNTS.get(username, (None, None, None))[2]
        candidates = known | {username} | ({demo_pw} if demo_pw else set())
        if any(_verify(hashed, pw) for pw in candidates):
            bad.append(username)
    return bad


# --------------------------------------------------------------------------- wall tokens


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h`` or ``30m`` as a timedelta (ValueError otherwise)."""
    m = _DURATION.match((text or "").strip().lower())
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"expiry {text!r}: a positive number with d, h or m, e.g. 90d")
    n, unit = int(m.group(1)), m.group(2)
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


def create_wall_token(conn: Connection, *, area: str, expires: timedelta,
                      name: str | None = None, created_by: str | None = None,
                      now: datetime | None = None) -> tuple[str, str]:
    """Issue a wall token for one area; return ``(name, token)`` (the token is shown once).

    Raises
    ------
    ValueError
        An unknown area, a taken name or a non-positive expiry.

    """
    now = now or clock.now(precision="s")
    (area,) = _check_areas(conn, "wall", [area])
    if expires <= timedelta(0):
        raise ValueError("expiry must be in the future")
    name = name or f"wall-{area}-{now:%Y%m%d%H%M%S}"
    if not _NAME.match(name):
        raise ValueError(f"token name {name!r}: 2-64 letters, digits or _ . @ -")
    if db.wall_token_exists(conn, name):
        raise ValueError(f"wall token {name!r} already exists")
    token = "gmw_" + secrets.token_urlsafe(24)
    db.insert_wall_token(conn, name=name, token_hash=_token_hash(token), area=area,
                         created_at=now, expires_at=now + expires, created_by=created_by)
    db.log_audit(conn, actor=created_by, action="wall_token_create", area=area,
                    detail={"name": name, "expires_at": now + expires})
    return name, token


def check_wall_token(engine: Engine, token: str, *, now: datetime | None = None) -> Scope:
    """Return the ``wall`` scope a token grants; AccessDenied if unknown, expired, revoked."""
    now = now or clock.now(precision="s")
    if not token or len(token) > 200:
        raise AccessDenied("no wall token", reason="unknown")
    with transaction(engine) as conn:
        row = db.find_wall_token(conn, _token_hash(token))
        if row is None:
            raise AccessDenied("unknown wall token", reason="unknown")
        if row.revoked_at is not None:
            raise AccessDenied(f"wall token {row.name} was revoked", reason="revoked")
        if row.expires_at <= now:
            raise AccessDenied(f"wall token {row.name} expired at {row.expires_at:%Y-%m-%d %H:%M}"
                               " UTC", reason="expired")
        # At most one write a minute per screen, not one per refresh.
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            db.touch_wall_token(conn, row.id, now)
    return Scope("wall", (row.area,), f"wall:{row.name}")


def revoke_wall_token(conn: Connection, name: str, *, actor: str | None = None,
                      now: datetime | None = None) -> bool:
    """Revoke a token by name; False when there is no such live token."""
    done = db.revoke_wall_token(conn, name, now=now or clock.now(precision="s"))
    if done:
        db.log_audit(conn, actor=actor, action="wall_token_revoke", detail={"name": name})
    return bool(done)


def list_wall_tokens(bind: Engine | Connection) -> pd.DataFrame:
    """Tokens with area, expiry, revocation and last use (never the token)."""
    return db.read_wall_tokens(bind)


def account_state(row: Any, now: datetime) -> str:
    """"disabled", "locked" (while its sign-in throttle lasts) or "active", for a user row.

    ``now`` is naive UTC, as the stored times are.
    """
    if row.disabled:
        return "disabled"
    locked = row.locked_until
    if locked is not None and pd.notna(locked) and pd.Timestamp(locked) > pd.Timestamp(now):
        return "locked"
    return "active"


def token_state(row: Any, now: datetime) -> str:
    """"revoked", "expired" or "live", for a :func:`list_wall_tokens` row (``now``: naive UTC)."""
    if row.revoked_at is not None and pd.notna(row.revoked_at):
        return "revoked"
    return "expired" if pd.Timestamp(row.expires_at) <= pd.Timestamp(now) else "live"
