"""解忧联盟 (Beihai): members, their claims of market and charity cards, claim figures.

Members are units, NGOs and shops (:data:`geo.vocab.MEMBER_KINDS`) that serve some areas
(admin or grid codes) and visit weekly to claim the requests routed market (市场解决类) or
charity (爱心救助类) that they can help with. A member's contact is personal data, masked
like reporters' contacts (:func:`geo.access.mask_frame`).

Who may do what, checked here below the UI:

* manage members (add, disable, enable): admins only;
* record a member's claim: an admin anywhere, a grid head for requests in their grids;
  a member account (role ``alliance``) claims for its own member; planners, commanders and
  wall tokens may not claim;
* a claim is refused for a request outside the member's areas, not routed market or
  charity, not open for claiming, already claimed, or changed since it was shown.

A claim dispatches the request to the member (status ``dispatched``, ``assignee`` the
member's name) with one request_event of kind ``claim`` and one audit line, in one
transaction; the claimed card then follows the same flow as any request
(:func:`geo.actions.act`).

Claim figures (:func:`claim_rates`): among the market and charity requests reported in a
window, the claim rate is claimed ÷ claimable, and the median time to claim is the median
of (claimed − reported) over the claimed ones, in hours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from geo import clock, vocab
from geo.access import AccessDenied, Scope, mask_frame
from geo.actions import ActionRefused, ActionResult
from geo.hierarchy import UnitHierarchy
from geo.store import access as store_access
from geo.store import alliance as store_alliance
from geo.store import engine as store_engine
from geo.store import updates as store_updates
from geo.store.area import EVERYWHERE, AreaFilter

#: Statuses from which a card may be claimed: not yet dispatched to anyone.
CLAIMABLE_STATUSES = ("reported", "accepted")
#: Roles that may record a claim (a member account only for its own member).
CLAIM_ROLES = frozenset({"admin", "grid_head", "alliance"})

_PHONE = re.compile(r"^\+?[\d\- ]{5,20}$")
_AREA = re.compile(r"^\d{6}(\d{3}){0,3}$")


class MemberError(ValueError):
    """Bad input for a member: ``field`` names the field, the message says why."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- members


def _require_admin(engine: Engine, scope: Scope, action: str) -> None:
    if scope.role == "admin":
        return
    store_access.log_audit(engine, actor=scope.actor, action="denied",
                           detail={"action": action, "why": f"a {scope.role} may not"})
    raise AccessDenied(f"a {scope.role} may not {action} alliance members", reason="role")


def add_member(engine: Engine, scope: Scope, *, name: str, kind: str, areas: Iterable[str],
               contact_name: str | None = None, contact_phone: str | None = None,
               account: str | None = None, now: datetime | None = None) -> int:
    """Add a 解忧联盟 member (admins only); return its id.

    Parameters
    ----------
    engine : Engine
        The database.
    scope : Scope
        Who adds it; must be an admin.
    name : str
        The member's name, unique (at most 64 characters).
    kind : str
        A code or Chinese name of :data:`geo.vocab.MEMBER_KINDS`.
    areas : iterable of str
        Stored admin-unit or grid codes it serves (at least one).
    contact_name, contact_phone : str, optional
        The contact person (personal data).
    account : str, optional
        The username of the member's own account (role ``alliance``), if it has one.
    now : datetime, optional
        Naive UTC.

    Raises
    ------
    AccessDenied
        Not an admin.
    MemberError
        A bad or duplicate value; ``field`` names it. Nothing is written.

    """
    _require_admin(engine, scope, "add")
    text = (name or "").strip()
    if not text or len(text) > 64:
        raise MemberError("a member needs a name of 1 to 64 characters", field="name")
    code = vocab.lookup(vocab.MEMBER_KINDS, kind)
    if code is None:
        raise MemberError(f"kind {kind!r} is not one of {', '.join(vocab.MEMBER_KINDS)} "
                          f"({'/'.join(vocab.MEMBER_KINDS.values())})", field="kind")
    codes = sorted({str(a).strip() for a in areas if str(a).strip()})
    if not codes:
        raise MemberError("a member needs at least one area it serves", field="areas")
    bad = [a for a in codes if not _AREA.match(a)]
    if bad:
        raise MemberError(f"area codes must be 6, 9, 12 or 15 digits: {bad}", field="areas")
    person = (contact_name or "").strip() or None
    if person is not None and len(person) > 64:
        raise MemberError("the contact name has more than 64 characters", field="contact_name")
    phone = (contact_phone or "").strip() or None
    if phone is not None and not _PHONE.match(phone):
        raise MemberError(f"phone {phone!r} is not a phone number", field="contact_phone")
    login = (account or "").strip() or None
    moment = clock.or_now(now)
    with store_engine.transaction(engine) as conn:
        unknown = sorted(set(codes) - store_access.known_area_codes(conn, codes))
        if unknown:
            raise MemberError(f"unknown areas (no stored grid or admin unit): {unknown}",
                              field="areas")
        if store_alliance.member_exists(conn, name=text):
            raise MemberError(f"a member named {text!r} exists already", field="name")
        if login is not None:
            found = store_access.find_account(conn, username=login)
            if found is None or found.role != "alliance":
                raise MemberError(f"{login!r} is not an account with the role alliance",
                                  field="account")
            if store_alliance.member_exists(conn, account=login):
                raise MemberError(f"account {login!r} belongs to another member",
                                  field="account")
        member_id = store_alliance.insert_member(
            conn, name=text, kind=code, contact_name=person, contact_phone=phone,
            account=login, areas=codes, created_by=scope.actor[:64], now=moment)
        store_access.log_audit(conn, actor=scope.actor, action="alliance.add",
                               rows=1, detail={"member": member_id, "name": text,
                                               "kind": code, "areas": codes})
    return member_id


def set_member_disabled(engine: Engine, scope: Scope, *, name: str,
                        disabled: bool = True) -> bool:
    """Disable (or enable again) a member by name (admins only).

    A disabled member keeps its claims (history) but may claim nothing new and is not
    offered. Returns False when it was already so.

    Raises
    ------
    AccessDenied
        Not an admin.
    MemberError
        No member has this name.

    """
    _require_admin(engine, scope, "disable" if disabled else "enable")
    with store_engine.transaction(engine) as conn:
        row = store_alliance.find_member(conn, name=name.strip())
        if row is None:
            raise MemberError(f"no member named {name!r}", field="name")
        changed = store_alliance.set_disabled(conn, member_id=row.id, disabled=disabled)
        if changed:
            store_access.log_audit(conn, actor=scope.actor,
                                   action="alliance.disable" if disabled else "alliance.enable",
                                   rows=1, detail={"member": int(row.id), "name": row.name})
    return changed


def members(engine: Engine, scope: Scope, *, personal: bool = False,
            include_disabled: bool = True, grid_code: str | None = None) -> pd.DataFrame:
    """Return the members (``areas`` as a tuple of codes), contacts masked unless asked.

    Parameters
    ----------
    engine : Engine
        The database.
    scope : Scope
        Who looks. Admins, grid heads and commanders may list members; planners and wall
        tokens may not (the list holds personal data).
    personal : bool
        Contacts in clear; admins only (an audited request, like a personal export).
    include_disabled : bool
        Also list disabled members.
    grid_code : str, optional
        Only the members serving this grid.

    """
    if scope.role not in ("admin", "grid_head", "commander"):
        raise AccessDenied(f"a {scope.role} may not list alliance members", reason="role")
    if personal and scope.role != "admin":
        raise AccessDenied("only an admin may see members' contacts", reason="role")
    frame = store_alliance.read_members(engine, include_disabled=include_disabled)
    if grid_code is not None:
        serving = store_alliance.members_serving(engine, grid_code)
        frame = frame[frame["id"].isin(serving)].reset_index(drop=True)
    if personal:
        store_access.log_audit(engine, actor=scope.actor, action="alliance.list",
                               rows=len(frame), detail={"personal": True})
        return frame
    # No grid column: every contact masked, whoever looks.
    return mask_frame(frame, Scope("commander", None, scope.actor),
                      columns=("contact_name", "contact_phone"))


# --------------------------------------------------------------------------- claims


def _member_of(engine: Engine, scope: Scope, member: str | int | None) -> Any:
    """Return the member row a claim is for: the account's own, or the one named."""
    if scope.role == "alliance":
        row = store_alliance.find_member(engine, account=scope.actor)
        if row is None:
            raise AccessDenied(f"account {scope.actor!r} belongs to no alliance member",
                               reason="role")
        if member is not None and str(member) not in (str(row.id), row.name):
            raise AccessDenied("a member account claims only for its own member",
                               reason="role")
        return row
    if member is None:
        raise ActionRefused("a claim needs the member who claims", reason="needs_member")
    row = (store_alliance.find_member(engine, member_id=int(member))
           if isinstance(member, int) or str(member).isdigit()
           else store_alliance.find_member(engine, name=str(member).strip()))
    if row is None:
        raise ActionRefused(f"no alliance member {member!r}", reason="unknown_member")
    return row


def _deny(engine: Engine, scope: Scope, *, why: str, reason: str, request_id: int,
          area: str | None) -> AccessDenied:
    store_access.log_audit(engine, actor=scope.actor, action="denied", area=area,
                           detail={"action": "claim", "request": int(request_id), "why": why})
    return AccessDenied(why, reason=reason)


def claimable_cards(engine: Engine, scope: Scope, *, member: str | int | None = None,
                    grid_code: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Return the market and charity cards open for claiming, oldest first.

    Only cards inside ``scope``; with a member (or for a member account, always) only
    those in the areas it serves. No personal data; ``description`` and ``address`` are
    the resident's text (untrusted: escape it when shown), with phone and ID numbers masked
    unless the scope sees contacts in clear (:func:`geo.access.mask_frame`).
    """
    if scope.role not in CLAIM_ROLES | {"commander"}:
        raise AccessDenied(f"a {scope.role} may not see alliance cards", reason="role")
    areas = None
    if scope.role == "alliance" or member is not None:
        row = _member_of(engine, scope, member)
        areas = store_alliance.member_areas(engine, row.id)
    cards = store_alliance.claimable_requests(
        engine, routes=vocab.CLAIMABLE_ROUTES, statuses=CLAIMABLE_STATUSES, scope=scope,
        areas=areas, grid_code=grid_code, limit=limit)
    # Phone and ID numbers in the resident's text, masked for whoever sees contacts masked.
    return mask_frame(cards, scope)


def claim(engine: Engine, scope: Scope, *, request_id: int, seen_status: str,
          seen_updated_at: datetime | None, member: str | int | None = None,
          note: str | None = None, now: datetime | None = None) -> ActionResult:
    """Record a member's claim (认领) of a market or charity request.

    Parameters
    ----------
    engine : Engine
        The database.
    scope : Scope
        Who records it: an admin, a grid head in scope, or a member account (for itself).
    request_id : int
        The request.
    seen_status, seen_updated_at
        The request's status and ``updated_at`` as the actor saw them.
    member : str or int, optional
        The member's name or id (a member account claims for itself).
    note : str, optional
        Kept on the event after the member's name.
    now : datetime, optional
        Naive UTC.

    Returns
    -------
    ActionResult
        The request is now ``dispatched`` to the member.

    Raises
    ------
    AccessDenied
        A role that may not claim, or a request outside the actor's scope (audited).
    ActionRefused
        ``unknown``, ``unknown_member``, ``needs_member``, ``disabled`` (member disabled),
        ``area`` (outside the member's areas), ``route`` (not market/charity), ``status``
        (not claimable from its status), ``suspended``, ``claimed`` (already claimed) or
        ``stale`` (changed since shown).

    """
    moment = clock.or_now(now)
    states = store_updates.read_states(engine, ids=[int(request_id)])
    if states.empty:
        raise ActionRefused(f"no request {request_id}", reason="unknown")
    state = {str(k): _plain(v) for k, v in states.iloc[0].to_dict().items()}
    area = state.get("grid_code")
    if scope.role not in CLAIM_ROLES:
        raise _deny(engine, scope, why=f"a {scope.role} may not claim requests", reason="role",
                    request_id=request_id, area=area)
    if area is None or not store_access.grid_in_scope(engine, str(area), scope):
        raise _deny(engine, scope, why=f"request {request_id} lies outside {scope.actor}'s areas",
                    reason="outside", request_id=request_id, area=area)
    row = _member_of(engine, scope, member)
    if row.disabled:
        raise ActionRefused(f"member {row.name} is disabled", reason="disabled")
    if not store_alliance.grid_served(engine, grid_code=str(area),
                                      areas=store_alliance.member_areas(engine, row.id)):
        raise ActionRefused(f"request {request_id} lies outside the areas {row.name} serves",
                            reason="area")
    if store_alliance.request_route(engine, int(request_id)) not in vocab.CLAIMABLE_ROUTES:
        raise ActionRefused("only market and charity requests are claimed", reason="route")
    found = store_alliance.find_claim(engine, int(request_id))
    if found is not None:
        raise ActionRefused(f"request {request_id} was claimed by {found.member} already",
                            reason="claimed")
    if state["status"] != seen_status or state["updated_at"] != _plain(seen_updated_at):
        raise ActionRefused(f"request {request_id} changed since it was shown "
                            f"(now {state['status']})", reason="stale")
    if state["status"] not in CLAIMABLE_STATUSES:
        raise ActionRefused(f"a {state['status']} request cannot be claimed", reason="status")
    if state.get("suspended_at") is not None:
        raise ActionRefused("the request is suspended; resume it first", reason="suspended")
    text = (note or "").strip()
    values = {"status": "dispatched", "updated_at": moment, "assignee": str(row.name)[:64]}
    event = {"at": moment, "from_status": state["status"], "to_status": "dispatched",
             "actor": scope.actor[:64],
             "note": f"认领 → {row.name}" + (f": {text}" if text else ""),
             "kind": "claim", "recorded_at": moment}
    try:
        with store_engine.transaction(engine) as conn:
            event_id = store_updates.write_action(
                conn, request_id=int(request_id), expected_status=state["status"],
                expected_updated_at=state["updated_at"], values=values, event=event)
            store_alliance.insert_claim(conn, request_id=int(request_id), member_id=row.id,
                                        claimed_at=moment, actor=scope.actor)
            store_access.log_audit(conn, actor=scope.actor, action="request.claim",
                                   area=area, rows=1,
                                   detail={"request": int(request_id), "member": int(row.id),
                                           "from": state["status"]})
    except store_updates.ConcurrentUpdate:
        raise ActionRefused(f"request {request_id} changed meanwhile", reason="stale") from None
    except IntegrityError:
        # Another session's claim of the same request committed first.
        raise ActionRefused(f"request {request_id} was claimed meanwhile",
                            reason="claimed") from None
    return ActionResult(event_id=event_id, from_status=state["status"],
                        to_status="dispatched", at=moment)


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class ClaimFigures:
    """Claim rate and time to claim over a window (one row of :func:`claim_rates`)."""

    claimable: int
    claimed: int
    claim_rate: float
    median_hours: float


def claim_rates(engine: Engine, *, since: datetime | None, until: datetime | None,
                by: str = "grid", scope: Scope | None = None,
                hierarchy: UnitHierarchy | None = None,
                grid_codes: Iterable[str] | None = None) -> pd.DataFrame:
    """Claim rate and median time to claim per grid, admin unit or member.

    Parameters
    ----------
    engine : Engine
        The database.
    since, until : datetime or None
        Requests reported in [since, until) (naive UTC); None leaves that end open.
    by : {"grid", "community", "township", "county", "city", "member"}
        What a row is. Admin levels need ``hierarchy``. By member, ``claimable`` is not
        defined (a request is claimable by several members) and only claims are counted.
    scope : Scope, optional
        Only requests inside it.
    hierarchy : UnitHierarchy, optional
        Grid → admin units (:func:`geo.hierarchy.unit_hierarchy`), for admin levels.
    grid_codes : iterable of str, optional
        Only these grids.

    Returns
    -------
    pandas.DataFrame
        Indexed by code (or member name): ``claimable`` (market and charity requests
        reported), ``claimed``, ``claim_rate`` (NaN with nothing claimable) and
        ``median_hours`` (NaN with no claim), sorted by index.

    """
    frame = store_alliance.claim_times(engine, routes=vocab.CLAIMABLE_ROUTES, since=since,
                                       until=until, scope=scope, grid_codes=grid_codes)
    frame["hours"] = (frame["claimed_at"] - frame["reported_at"]).dt.total_seconds() / 3600.0
    if by == "grid":
        key = frame["grid_code"]
    elif by == "member":
        frame = frame[frame["member"].notna()]
        key = frame["member"]
    else:
        if hierarchy is None:
            raise ValueError(f"claim rates by {by} need the unit hierarchy")
        if by not in hierarchy.grids.columns:
            raise ValueError(f"by must be grid, member or an admin level, not {by!r}")
        key = frame["grid_code"].map(hierarchy.grids[by])
    grouped = frame.assign(_key=key.to_numpy()).dropna(subset=["_key"]).groupby("_key")
    out = pd.DataFrame({
        "claimable": grouped.size(),
        "claimed": grouped["claimed_at"].count(),
        "median_hours": grouped["hours"].median(),
    })
    out.index.name = "member" if by == "member" else "code"
    out = out.astype({"claimable": "int64", "claimed": "int64", "median_hours": "float64"})
    rate = out["claimed"] / out["claimable"].where(out["claimable"] > 0)
    out.insert(2, "claim_rate", np.nan if by == "member" else rate.astype(float))
    if by == "member":
        out["claimable"] = pd.NA
    return out.sort_index()


def claim_totals(engine: Engine, *, since: datetime | None, until: datetime | None,
                 scope: Scope | None = None, grid_codes: Iterable[str] | None = None,
                 area: AreaFilter = EVERYWHERE) -> ClaimFigures:
    """Return the claim rate and median time to claim over the scope (or these grids).

    ``area`` (:func:`geo.heat.area_filter`) narrows further, for the wall's area.
    """
    frame = store_alliance.claim_times(engine, routes=vocab.CLAIMABLE_ROUTES, since=since,
                                       until=until, scope=scope, grid_codes=grid_codes,
                                       area=area)
    hours = (frame["claimed_at"] - frame["reported_at"]).dt.total_seconds() / 3600.0
    claimed = int(frame["claimed_at"].notna().sum())
    return ClaimFigures(claimable=len(frame), claimed=claimed,
                        claim_rate=claimed / len(frame) if len(frame) else float("nan"),
                        median_hours=float(hours.median()) if claimed else float("nan"))
