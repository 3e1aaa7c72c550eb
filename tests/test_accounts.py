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


def _fail(db, n, now=T0, *, name="wang", client=None, step=timedelta(0)):
    """``n`` wrong passwords, ``step`` apart; return the last refusal."""
    for i in range(n):
        with pytest.raises(accounts.LoginError) as err:
            accounts.authenticate(db, name, "wrong-password", client=client, now=now + i * step)
    return err.value


def test_each_failure_doubles_the_wait_of_the_account_up_to_its_cap(db):
    t = T0
    waits = []
    for _ in range(9):
        refused = _fail(db, 1, t)
        assert refused.reason == "bad_password"
        waits.append(refused.until - t)
        # A try before the wait is over is refused unheard (even with the right password)
        # and does not grow the wait.
        with pytest.raises(accounts.LoginError) as early:
            accounts.authenticate(db, "wang", PASSWORD, now=refused.until - timedelta(seconds=1))
        assert early.value.reason == "throttled" and early.value.until == refused.until
        t = refused.until
    assert [w.total_seconds() for w in waits] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    # Once the wait is over the right password works at once, and clears the count.
    assert accounts.authenticate(db, "wang", PASSWORD, now=t).username == "wang"
    assert _fail(db, 1, t).until == t + accounts.THROTTLE_FIRST
    reasons = [json.loads(d)["reason"] for d in
               store_access.read_audit(db).query("action == 'login_failed'").detail]
    assert reasons.count("bad_password") == 10 and reasons.count("throttled") == 9


def test_an_outsider_cannot_lock_the_account_for_long(db):
    """Failures from many addresses slow the name by at most ACCOUNT_WAIT_CAP per try."""
    t = T0
    for i in range(50):  # a long attack, each try as soon as it is heard
        t = _fail(db, 1, t, client=f"203.0.113.{i}").until
    assert accounts.authenticate(db, "wang", PASSWORD, client="198.51.100.7",
                                 now=t).username == "wang"
    assert accounts.throttle_wait(10**6, cap=accounts.ACCOUNT_WAIT_CAP) == timedelta(minutes=1)


def test_an_address_is_slowed_whatever_names_it_tries(db):
    guesser, other = "203.0.113.9", "198.51.100.7"
    t = T0
    for i in range(12):
        refused = _fail(db, 1, t, name=f"guess{i}", client=guesser)
        t = refused.until
    # the address waits the capped five minutes now, for any name, right password or not
    assert _fail(db, 1, t - timedelta(seconds=1), name="plan",
                 client=guesser).reason == "throttled"
    with pytest.raises(accounts.LoginError, match="throttled"):
        accounts.authenticate(db, "plan", PASSWORD, client=guesser, now=t - timedelta(seconds=1))
    # another address is not slowed, and neither is the name "plan"
    assert accounts.authenticate(db, "plan", PASSWORD, client=other,
                                 now=t - timedelta(seconds=1)).username == "plan"
    with store_engine.transaction(db) as conn:
        rows = store_access.read_throttle(conn, [f"ip:{guesser}"])
    row = rows[f"ip:{guesser}"]
    assert row.failures == 12 and row.next_allowed_at - row.last_failure_at == timedelta(minutes=5)


def test_old_failures_are_forgotten(db):
    refused = _fail(db, 5, T0, step=timedelta(minutes=1))
    assert refused.until - (T0 + timedelta(minutes=4)) == timedelta(seconds=16)
    later = T0 + accounts.THROTTLE_MEMORY + timedelta(minutes=10)
    assert _fail(db, 1, later).until == later + accounts.THROTTLE_FIRST


def test_an_admin_unlocks_an_account(db):
    t = T0
    for _ in range(8):
        t = _fail(db, 1, t).until
    before = t - timedelta(seconds=1)
    users = accounts.list_users(db, now=before).set_index("username")
    assert accounts.account_state(users.loc["wang"], before) == "locked"
    assert accounts.account_state(users.loc["plan"], before) == "active"
    with store_engine.transaction(db) as conn:
        assert accounts.unlock(conn, username="wang", actor="cli:root") is True
        assert accounts.unlock(conn, username="wang") is False
        with pytest.raises(ValueError, match="no account"):
            accounts.unlock(conn, username="nobody")
    # at once, not at t
    assert accounts.authenticate(db, "wang", PASSWORD, now=t - timedelta(seconds=30))
    assert "unlock" in store_access.read_audit(db).action.tolist()


def test_set_password_unlocks_and_replaces_the_old_one(db):
    _fail(db, 5, step=timedelta(seconds=20))
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


# --------------------------------------------------------------------------- sessions


def _session(db, name="wang", now=T0):
    account = accounts.authenticate(db, name, PASSWORD, now=now)
    return accounts.issue_session(db, account, now=now)


def test_a_session_resumes_until_it_expires_and_stores_only_a_hash(db):
    token = _session(db)
    assert accounts.account_for_session(db, token, now=T0 + timedelta(hours=1)).username == "wang"
    with db.connect() as conn:
        stored = conn.execute(select(schema.account_session)).one()
    session_id = token.split(".")[0]
    assert session_id not in stored.token_hash and token not in stored.token_hash
    assert stored.last_seen_at == T0 + timedelta(hours=1)  # touched (at most once a minute)
    with pytest.raises(AccessDenied, match="expired"):
        accounts.account_for_session(db, token, now=T0 + accounts.SESSION_LIFETIME)


def test_forged_and_malformed_session_cookies_are_refused(db):
    token = _session(db)
    session_id, mac = token.split(".")
    forged_mac = ("0" if mac[0] != "0" else "1") + mac[1:]
    for bad, why in ((f"{session_id}.{forged_mac}", "does not verify"),
                     (f"{session_id[:-1]}x.{mac}", "does not verify"),
                     ("", "malformed"), (session_id, "malformed"), ("a.b.c" * 100, "malformed")):
        with pytest.raises(AccessDenied, match=why):
            accounts.account_for_session(db, bad, now=T0)


def test_sign_out_ends_the_session_and_only_that_one(db):
    first, second = _session(db), _session(db)
    assert accounts.end_session(db, first, now=T0) is True
    with pytest.raises(AccessDenied, match="ended"):
        accounts.account_for_session(db, first, now=T0)
    assert accounts.end_session(db, first, now=T0) is False  # already ended
    assert accounts.account_for_session(db, second, now=T0).username == "wang"


def test_a_password_change_ends_every_session_of_the_account(db):
    mine, other = _session(db), _session(db, "plan")
    with store_engine.transaction(db) as conn:
        accounts.set_password(conn, username="wang", password="another-secret-9", now=T0)
    with pytest.raises(AccessDenied, match="ended"):
        accounts.account_for_session(db, mine, now=T0)
    assert accounts.account_for_session(db, other, now=T0).username == "plan"


def test_disabling_an_account_ends_its_sessions_for_good(db):
    token = _session(db)
    with store_engine.transaction(db) as conn:
        accounts.set_disabled(conn, username="wang", now=T0)
        accounts.set_disabled(conn, username="wang", disabled=False, now=T0)
    with pytest.raises(AccessDenied, match="ended"):  # enabling does not revive it
        accounts.account_for_session(db, token, now=T0)
    with store_engine.transaction(db) as conn:
        accounts.set_disabled(conn, username="wang", now=T0)
    with pytest.raises(AccessDenied, match="disabled"):
        accounts.issue_session(db, accounts.Account("wang", "王", "grid_head", (COMMUNITY,)))


def test_an_admin_ends_all_sessions_of_an_account(db):
    tokens = [_session(db) for _ in range(3)]
    other = _session(db, "plan")
    assert accounts.list_users(db, now=T0).set_index("username").loc["wang", "sessions"] == 3
    with store_engine.transaction(db) as conn:
        assert accounts.end_account_sessions(conn, username="wang", actor="cli:root",
                                             now=T0) == 3
        assert accounts.end_account_sessions(conn, username="wang", now=T0) == 0
        with pytest.raises(ValueError, match="no account"):
            accounts.end_account_sessions(conn, username="nobody")
    for token in tokens:
        with pytest.raises(AccessDenied, match="ended"):
            accounts.account_for_session(db, token, now=T0)
    assert accounts.account_for_session(db, other, now=T0).username == "plan"
    line = store_access.read_audit(db, action="sessions_end").iloc[0]
    assert line.actor == "cli:root" and json.loads(line.detail)["sessions"] == 3


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
