"""Accounts, logins with lockout, demo passwords and wall tokens, on both backends."""

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from geo import accounts
from geo.access import AccessDenied, Scope
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import schema

PASSWORD = "correct-horse-7"
COMMUNITY = "430903003001"
T0 = datetime(2026, 11, 2, 8, 0)


@pytest.fixture
def db(engine, four_grids):
    """Four grids in community 430903003001, its admin unit, one planner and one grid head."""
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, pd.DataFrame({
            "code": ["430903", COMMUNITY], "name": ["赫山区", "测试社区"],
            "level": ["county", "community"], "parent_code": [None, "430903003"]}))
        store_requests.write_grids(conn, four_grids)
        accounts.add_user(conn, username="plan", role="planner", password=PASSWORD)
        accounts.add_user(conn, username="wang", role="grid_head", password=PASSWORD,
                          areas=[COMMUNITY], display_name="王网格长", email="Wang@Example.cn")
    return engine


def _add(engine, **kw):
    args = dict(username="zhao", role="commander", password=PASSWORD) | kw
    with store_engine.transaction(engine) as conn:
        accounts.add_user(conn, **args)


# --------------------------------------------------------------------------- add_user


@pytest.mark.parametrize("kw, message", [
    ({"username": "a"}, "2-64"),
    ({"username": "bad name"}, "2-64"),
    ({"username": "x" * 65}, "2-64"),
    ({"role": "mayor"}, "role 'mayor'"),
    ({"role": "wall"}, "role 'wall'"),
    ({"password": "short"}, "too short"),
    ({"password": "demo-admin"}, "default, demo"),
    ({"password": "changeme"}, "too short"),
    ({"username": "longusername", "password": "LongUserName"}, "account name"),
    ({"role": "grid_head"}, "needs --area"),
    ({"role": "grid_head", "areas": ["430903999001"]}, "unknown area code"),
    ({"username": "plan"}, "already exists"),
])
def test_add_user_refuses_bad_input(db, kw, message):
    before = len(accounts.list_users(db))
    with pytest.raises(ValueError, match=message):
        _add(db, **kw)
    assert len(accounts.list_users(db)) == before


def test_add_user_stores_only_a_hash_and_lists_areas(db):
    _add(db, username="li", role="grid_head", areas=["430903003001002", COMMUNITY])
    with db.connect() as conn:
        hashes = conn.execute(select(schema.account.c.password_hash)).scalars().all()
    assert len(hashes) == 3
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)
    users = accounts.list_users(db).set_index("username")
    assert "password_hash" not in users.columns
    assert users.loc["li", "areas"] == f"{COMMUNITY},430903003001002"
    assert users.loc["plan", "areas"] == ""
    assert users.loc["wang", "display_name"] == "王网格长"


# --------------------------------------------------------------------------- authenticate


def test_authenticate_success_returns_the_scope_and_audits(db):
    account = accounts.authenticate(db, "wang", PASSWORD, now=T0)
    assert account.username == "wang" and account.role == "grid_head"
    assert account.scope == Scope("grid_head", (COMMUNITY,), "wang")
    assert accounts.authenticate(db, "plan", PASSWORD, now=T0).scope == Scope("planner",
                                                                               None, "plan")
    log = store_access.read_audit(db)
    assert log.action.tolist() == ["login", "login"]
    assert log.actor.tolist() == ["plan", "wang"]
    users = accounts.list_users(db).set_index("username")
    assert pd.Timestamp(users.loc["wang", "last_login_at"]) == pd.Timestamp(T0)


@pytest.mark.parametrize("name, password, reason", [
    ("wang", "wrong-password", "bad_password"),
    ("nobody", PASSWORD, "unknown"),
])
def test_authenticate_refusals_are_audited(db, name, password, reason):
    with pytest.raises(accounts.LoginError) as err:
        accounts.authenticate(db, name, password, now=T0)
    assert err.value.reason == reason
    line = store_access.read_audit(db).iloc[0]
    assert (line.action, line.actor) == ("login_failed", name)
    assert json.loads(line.detail)["reason"] == reason
    assert password not in line.detail


def test_disabled_account_is_refused_even_with_the_right_password(db):
    with store_engine.transaction(db) as conn:
        accounts.set_disabled(conn, username="wang")
    with pytest.raises(accounts.LoginError, match="disabled"):
        accounts.authenticate(db, "wang", PASSWORD, now=T0)
    with store_engine.transaction(db) as conn:
        accounts.set_disabled(conn, username="wang", disabled=False)
    assert accounts.authenticate(db, "wang", PASSWORD, now=T0).username == "wang"
    with pytest.raises(ValueError, match="no account"), store_engine.transaction(db) as conn:
        accounts.set_disabled(conn, username="nobody")


def _fail(db, n, now=T0):
    for _ in range(n):
        with pytest.raises(accounts.LoginError):
            accounts.authenticate(db, "wang", "wrong-password", now=now)


def test_lockout_after_five_failures_and_unlock_after_the_lockout(db):
    _fail(db, accounts.MAX_FAILURES - 1)
    # four failures: the right password still works, and resets the count
    assert accounts.authenticate(db, "wang", PASSWORD, now=T0).username == "wang"
    _fail(db, accounts.MAX_FAILURES - 1)
    with pytest.raises(accounts.LoginError) as err:
        accounts.authenticate(db, "wang", "wrong-password", now=T0)
    assert err.value.reason == "locked" and err.value.until == T0 + accounts.LOCKOUT
    # locked: even the right password is refused until the lockout ends
    just_before = T0 + accounts.LOCKOUT - timedelta(seconds=1)
    with pytest.raises(accounts.LoginError, match="locked"):
        accounts.authenticate(db, "wang", PASSWORD, now=just_before)
    assert accounts.authenticate(db, "wang", PASSWORD,
                                 now=T0 + accounts.LOCKOUT).username == "wang"
    reasons = [json.loads(d)["reason"] for d in
               store_access.read_audit(db).query("action == 'login_failed'").detail]
    assert reasons.count("bad_password") == 2 * accounts.MAX_FAILURES - 1
    assert reasons.count("locked") == 1


def test_set_password_unlocks_and_replaces_the_old_one(db):
    _fail(db, accounts.MAX_FAILURES)
    with store_engine.transaction(db) as conn:
        accounts.set_password(conn, username="wang", password="another-secret-9")
    assert accounts.authenticate(db, "wang", "another-secret-9", now=T0).username == "wang"
    with pytest.raises(accounts.LoginError, match="bad_password"):
        accounts.authenticate(db, "wang", PASSWORD, now=T0)
    with pytest.raises(ValueError, match="too short"), store_engine.transaction(db) as conn:
        accounts.set_password(conn, username="wang", password="short")
    with pytest.raises(ValueError, match="no account"), store_engine.transaction(db) as conn:
        accounts.set_password(conn, username="nobody", password="another-secret-9")


def test_account_for_email_maps_case_insensitively(db):
    assert accounts.account_for_email(db, " wang@example.CN ").username == "wang"
    with pytest.raises(AccessDenied):
        accounts.account_for_email(db, "someone@else.cn")
    assert store_access.read_audit(db).action.tolist() == ["login_failed", "login"]


# --------------------------------------------------------------------------- demo passwords


def _with_demo_accounts(engine):
    with store_engine.transaction(engine) as conn:
        accounts.add_demo_accounts(conn)


def test_demo_passwords_are_fine_on_the_demo_only(db):
    with store_engine.transaction(db) as conn:
        store_requests.write_admin_units(conn, pd.DataFrame({
            "code": ["430902005001"], "name": ["演示社区"], "level": ["community"],
            "parent_code": [None]}))
    _with_demo_accounts(db)
    assert sorted(accounts.demo_password_problems(db)) == [
        "admin", "commander", "gridhead", "planner"]
    with store_engine.transaction(db) as conn:
        store_engine.set_setting(conn, "demo", "city")
    assert accounts.is_demo(db)
    assert accounts.demo_password_problems(db) == []


def test_a_demo_password_on_a_real_database_is_named_until_changed(db):
    assert accounts.demo_password_problems(db) == []
    with store_engine.transaction(db) as conn:
        accounts.add_user(conn, username="admin", role="admin", password="demo-admin",
                          check_strength=False)
        accounts.add_user(conn, username="ops", role="commander", password="ops",
                          check_strength=False)
    assert sorted(accounts.demo_password_problems(db)) == ["admin", "ops"]
    with store_engine.transaction(db) as conn:
        accounts.set_password(conn, username="admin", password="a-real-secret-1")
        accounts.set_disabled(conn, username="ops")
    assert accounts.demo_password_problems(db) == []


# --------------------------------------------------------------------------- wall tokens


def _token(engine, **kw):
    args = dict(area=COMMUNITY, expires=timedelta(days=90), name="lobby", created_by="cli:t",
                now=T0) | kw
    with store_engine.transaction(engine) as conn:
        return accounts.create_wall_token(conn, **args)


def test_wall_token_grants_the_wall_scope_of_its_area(db):
    name, token = _token(db)
    assert name == "lobby" and token.startswith("gmw_") and len(token) > 30
    scope = accounts.check_wall_token(db, token, now=T0 + timedelta(days=1))
    assert scope == Scope("wall", (COMMUNITY,), "wall:lobby")
    listed = accounts.list_wall_tokens(db)
    assert listed.name.tolist() == ["lobby"] and "token_hash" not in listed.columns
    assert pd.Timestamp(listed.last_used_at.iloc[0]) == pd.Timestamp(T0 + timedelta(days=1))
    line = store_access.read_audit(db).iloc[0]
    assert (line.action, line.actor, line.area) == ("wall_token_create", "cli:t", COMMUNITY)


def test_wall_token_is_stored_only_as_a_hash(db):
    _, token = _token(db)
    with db.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(schema.wall_token))]
        audit = [tuple(r) for r in conn.execute(select(schema.audit_log))]
    assert rows and not any(token in str(v) for row in rows + audit for v in row)


def test_expired_revoked_and_unknown_tokens_are_refused(db):
    _, token = _token(db, expires=timedelta(hours=1))
    assert accounts.check_wall_token(db, token, now=T0 + timedelta(minutes=59)).role == "wall"
    with pytest.raises(AccessDenied, match="expired"):
        accounts.check_wall_token(db, token, now=T0 + timedelta(hours=1))
    _, other = _token(db, name="hall")
    with store_engine.transaction(db) as conn:
        assert accounts.revoke_wall_token(conn, "hall", actor="cli:t", now=T0)
        assert not accounts.revoke_wall_token(conn, "hall", actor="cli:t", now=T0)
        assert not accounts.revoke_wall_token(conn, "nope", actor="cli:t", now=T0)
    with pytest.raises(AccessDenied, match="revoked"):
        accounts.check_wall_token(db, other, now=T0)
    for bad in ("gmw_" + "x" * 32, "", "y" * 500):
        with pytest.raises(AccessDenied):
            accounts.check_wall_token(db, bad, now=T0)
    assert store_access.read_audit(db).action.tolist().count("wall_token_revoke") == 1


@pytest.mark.parametrize("kw, message", [
    ({"area": "430903999001"}, "unknown area"),
    ({"expires": timedelta(0)}, "future"),
    ({"name": "a b"}, "token name"),
])
def test_create_wall_token_refuses_bad_input(db, kw, message):
    with pytest.raises(ValueError, match=message):
        _token(db, **kw)
    assert accounts.list_wall_tokens(db).empty


def test_create_wall_token_refuses_a_taken_name(db):
    _token(db)
    with pytest.raises(ValueError, match="already exists"):
        _token(db)


def test_parse_duration():
    assert accounts.parse_duration("90d") == timedelta(days=90)
    assert accounts.parse_duration(" 12H ") == timedelta(hours=12)
    assert accounts.parse_duration("30m") == timedelta(minutes=30)
    for bad in ("0d", "-1d", "90", "d", "1w", "1.5d", "", None):
        with pytest.raises(ValueError, match="positive number"):
            accounts.parse_duration(bad)


def test_account_and_token_states_are_judged_at_the_time_given():
    from types import SimpleNamespace as Row

    now = datetime(2026, 11, 24, 12)
    active = Row(disabled=False, locked_until=None)
    locked = Row(disabled=False, locked_until=datetime(2026, 11, 24, 12, 10))
    lock_over = Row(disabled=False, locked_until=datetime(2026, 11, 24, 11, 59))
    disabled = Row(disabled=True, locked_until=datetime(2026, 11, 24, 12, 10))
    assert [accounts.account_state(r, now) for r in (active, locked, lock_over, disabled)] == [
        "active", "locked", "active", "disabled"]
    live = Row(revoked_at=None, expires_at=datetime(2026, 11, 25))
    expired = Row(revoked_at=pd.NaT, expires_at=now)  # expiry is exclusive
    revoked = Row(revoked_at=datetime(2026, 11, 1), expires_at=datetime(2026, 12, 1))
    assert [accounts.token_state(r, now) for r in (live, expired, revoked)] == [
        "live", "expired", "revoked"]
