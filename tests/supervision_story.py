"""A tiny literal story of urges (督办), returns (回退) and claims, told through geo.actions.

On the tiny city (tests/tiny_city.py: grids A, B in 甲社区 C1, C in 乙社区 C2, D in 丙村 C3;
C1 and C2 in 甲街道 T1, C3 in 乙镇 T2). Times naive UTC; November 2026 in Asia/Shanghai is
[Oct 31 16:00, Nov 30 16:00). Unless said otherwise a request is reported Nov 2, due Nov 10.

====  ====  ===================================================================
req   grid  what happens
====  ====  ===================================================================
r1    A     urged Nov 3; resolved Nov 5 (on time)
r2    A     urged Nov 4 and again Nov 6 (one supervised request); resolved Nov 12 (late)
r3    C     urged Nov 5; still open (overdue from Nov 10)
r4    C     accepted, returned Nov 6; accepted, dispatched, returned Nov 7 (2 returns)
r5    D     reported Oct 28; urged Oct 30 (October); still open
r6    B     due Dec 20; urged Nov 8; still open, not yet due
r7    D     urged Nov 6; resolved Nov 9 (on time)
m1    A     market card reported Nov 15, claimed Nov 16 by 海城爱心超市
m2    B     market card reported Nov 15, unclaimed
====  ====  ===================================================================

November per community: C1 supervised 3 (r1 r2 r6), open 1, due 2, resolved 2, on time 1;
C2 supervised 1 (r3), open 1, due 1, on time 0, returns 2; C3 supervised 1 (r7), due 1,
on time 1. At a cut-off of Nov 20 with a 30-day window: urged in the window r1 r2 r3 r5 r6
r7 (6), due r1 r2 r3 r5 r7 (5), on time r1 r7 (2): 40%; supervised open r3 r5 r6 (3);
claim rate 1 of 2.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from geo import actions, alliance
from geo.access import Scope
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates
from tests.tiny_city import C1, C2, C3, A, B, C, D, admin_units

BOSS = Scope("commander", None, "li")
ROOT = Scope.everything(actor="root")
NOVEMBER = "2026-11"
CUTOFF = datetime(2026, 11, 20)


def nov(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 11, day, hour)


def _request(ext: str, grid: str, *, reported: datetime, due: datetime,
             route: str = "government") -> dict:
    return dict(external_id=ext, grid_code=grid, outside_grid=False, lon=112.305,
                lat=28.565, source="miniprogram", category="road", severity="routine",
                route=route, status="reported", reported_at=reported, due_at=due,
                description="路灯不亮")


def act(engine, scope: Scope, rid: int, action: str, *, at: datetime, **kw):
    """Take an action as the actor saw the request just before."""
    state = store_updates.read_states(engine, ids=[rid]).iloc[0]
    seen = (None if pd.isna(state.updated_at)
            else pd.Timestamp(state.updated_at).to_pydatetime())
    return actions.act(engine, scope, request_id=rid, action=action,
                       seen_status=state.status, seen_updated_at=seen, now=at, **kw)


def tell(engine, four_grids, *, shift: timedelta = timedelta(0)) -> dict[str, int]:
    """Store the city and play the story; return request ids by external id.

    ``shift`` moves every moment of the story (a page test that runs on the real clock
    tells it so that :data:`CUTOFF` falls now).
    """
    def _dt(*args: int) -> datetime:
        return datetime(*args) + shift

    def _nov(day: int, hour: int = 2) -> datetime:
        return nov(day, hour) + shift

    grids = four_grids.copy()
    grids["code"] = [A, B, C, D]
    grids["community_code"] = [C1, C1, C2, C3]
    due = _nov(10)
    rows = [_request("r1", A, reported=_nov(2), due=due),
            _request("r2", A, reported=_nov(2), due=due),
            _request("r3", C, reported=_nov(2), due=due),
            _request("r4", C, reported=_nov(2), due=due),
            _request("r5", D, reported=_dt(2026, 10, 28, 2), due=due),
            _request("r6", B, reported=_nov(2), due=_dt(2026, 12, 20)),
            _request("r7", D, reported=_nov(2), due=due),
            _request("m1", A, reported=_nov(15), due=_dt(2026, 12, 20), route="market"),
            _request("m2", B, reported=_nov(15), due=_dt(2026, 12, 20), route="market")]
    frame = pd.DataFrame(rows)
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, admin_units())
        store_requests.write_grids(conn, grids)
        store_requests.insert_requests(conn, frame)
    states = store_updates.read_states(engine, external_ids=frame.external_id)
    ids = dict(zip(states.external_id, states.id.astype(int), strict=True))

    act(engine, BOSS, ids["r5"], "urge", at=_dt(2026, 10, 30, 2), note="抓紧办理")
    act(engine, BOSS, ids["r1"], "urge", at=_nov(3), note="抓紧办理")
    act(engine, BOSS, ids["r2"], "urge", at=_nov(4), note="抓紧办理")
    act(engine, BOSS, ids["r3"], "urge", at=_nov(5), note="抓紧办理")
    act(engine, BOSS, ids["r2"], "urge", at=_nov(6), note="再次督办")
    act(engine, BOSS, ids["r7"], "urge", at=_nov(6), note="抓紧办理")
    act(engine, BOSS, ids["r6"], "urge", at=_nov(8), note="提前督办")
    for rid, resolved in ((ids["r1"], _nov(5)), (ids["r2"], _nov(12)), (ids["r7"], _nov(9))):
        act(engine, ROOT, rid, "accept", at=resolved - timedelta(hours=1))
        act(engine, ROOT, rid, "resolve", at=resolved, note="已修复")
    r4 = ids["r4"]
    act(engine, ROOT, r4, "accept", at=_nov(6, 1))
    act(engine, ROOT, r4, "return", at=_nov(6), note="不属本网格")
    act(engine, ROOT, r4, "accept", at=_nov(7, 0))
    act(engine, ROOT, r4, "dispatch", at=_nov(7, 1), assignee="城管执法中队")
    act(engine, ROOT, r4, "return", at=_nov(7), note="派错单位")

    alliance.add_member(engine, ROOT, name="海城爱心超市", kind="shop", areas=[C1],
                        now=_nov(14))
    state = store_updates.read_states(engine, ids=[ids["m1"]]).iloc[0]
    alliance.claim(engine, ROOT, request_id=ids["m1"], seen_status=state.status,
                   seen_updated_at=(None if pd.isna(state.updated_at)
                                    else pd.Timestamp(state.updated_at).to_pydatetime()),
                   member="海城爱心超市", now=_nov(16))
    return ids
