"""geo.alliance: members, claims of market and charity cards, claim figures; both backends."""

from __future__ import annotations

import io
import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from geo import actions, alliance, bulletin, export
from geo.access import AccessDenied, Scope
from geo.actions import ActionRefused
from geo.hierarchy import unit_hierarchy
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates

T0 = datetime(2026, 12, 1, 1, 0)
G1, G2, G3 = (f"430903003001{i:03d}" for i in (1, 2, 3))
ADMIN = Scope("admin", None, "root")
HEAD = Scope("grid_head", (G1,), "wang")


@pytest.fixture
def city(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    return engine


def _seed(engine, *rows):
    frame = pd.DataFrame([dict(external_id=ext, grid_code=grid, outside_grid=False,
                               lon=112.305, lat=28.565, source="miniprogram",
                               category="welfare", severity="routine", route=route,
                               status="reported", reported_at=T0,
                               due_at=datetime(2026, 12, 8, 9), description="<b>帮扶</b>")
                          for ext, grid, route in rows])
    with store_engine.transaction(engine) as conn:
        store_requests.insert_requests(conn, frame)
    states = store_updates.read_states(engine, external_ids=frame.external_id)
    return dict(zip(states.external_id, states.id.astype(int), strict=True))


def _seen(engine, rid):
    state = store_updates.read_states(engine, ids=[rid]).iloc[0]
    seen = None if pd.isna(state.updated_at) else pd.Timestamp(state.updated_at).to_pydatetime()
    return {"seen_status": state.status, "seen_updated_at": seen}


def _member(engine, name="海城爱心超市", areas=(G1,), **kw):
    return alliance.add_member(engine, ADMIN, name=name, kind=kw.pop("kind", "shop"),
                               areas=areas, contact_name="张三",
                               contact_phone="13812341234", now=T0, **kw)


def test_an_alliance_claim_end_to_end(city):
    member_id = _member(city)
    ids = _seed(city, ("M", G1, "market"), ("C", G1, "charity"), ("G", G1, "government"),
                ("X", G2, "market"))
    # The member's area shows the market and charity cards of its grid, not the others.
    cards = alliance.claimable_cards(city, ADMIN, member="海城爱心超市")
    assert sorted(cards.external_id) == ["C", "M"]
    assert "reporter_name" not in cards.columns
    # The grid head records the claim on the member's behalf, 5 hours after the report.
    result = alliance.claim(city, HEAD, request_id=ids["M"], member=member_id,
                            now=datetime(2026, 12, 1, 6), **_seen(city, ids["M"]))
    assert (result.from_status, result.to_status) == ("reported", "dispatched")
    state = store_updates.read_states(city, ids=[ids["M"]]).iloc[0]
    assert state.status == "dispatched" and state.assignee == "海城爱心超市"
    assert sorted(alliance.claimable_cards(city, ADMIN, member=member_id).external_id) == ["C"]
    # The claimed card follows the same flow as any request.
    actions.act(city, HEAD, request_id=ids["M"], action="resolve", note="已送达米面油",
                now=datetime(2026, 12, 2, 3), **_seen(city, ids["M"]))
    events = store_updates.read_events(city, ids=[ids["M"]])
    assert events.kind.tolist() == ["claim", "resolve"]
    assert events.note.iloc[0] == "认领 → 海城爱心超市"
    assert events.actor.iloc[0] == "wang"
    audit = store_access.read_audit(city, action="request.claim")
    assert len(audit) == 1 and audit.area.iloc[0] == G1
    # Figures: 1 of the 3 market/charity requests claimed, after 5 hours.
    per_grid = alliance.claim_rates(city, since=T0, until=datetime(2026, 12, 31))
    assert per_grid.loc[G1, "claimable"] == 2 and per_grid.loc[G1, "claimed"] == 1
    assert per_grid.loc[G1, "claim_rate"] == pytest.approx(0.5)
    assert per_grid.loc[G1, "median_hours"] == pytest.approx(5.0)
    assert per_grid.loc[G2, "claim_rate"] == 0 and np.isnan(per_grid.loc[G2, "median_hours"])
    by_community = alliance.claim_rates(city, since=T0, until=datetime(2026, 12, 31),
                                        by="community", hierarchy=unit_hierarchy(city))
    assert by_community.loc["430903003001"].tolist()[:3] == [3, 1, pytest.approx(1 / 3)]
    by_member = alliance.claim_rates(city, since=T0, until=None, by="member")
    assert by_member.loc["海城爱心超市", "claimed"] == 1
    totals = alliance.claim_totals(city, since=T0, until=None, scope=HEAD)
    assert (totals.claimable, totals.claimed, totals.median_hours) == (2, 1, 5.0)


def test_a_member_account_claims_for_itself_only_in_its_areas(city):
    from geo import accounts
    with store_engine.transaction(city) as conn:
        accounts.add_user(conn, username="shop1", role="alliance", password="x" * 12,
                          areas=[G1, G2], check_strength=False)
    _member(city, areas=(G1,), account="shop1")
    ids = _seed(city, ("M", G1, "market"), ("N", G2, "market"))
    shop = Scope("alliance", (G1, G2), "shop1")
    assert alliance.claimable_cards(city, shop).external_id.tolist() == ["M"]
    with pytest.raises(ActionRefused) as err:
        alliance.claim(city, shop, request_id=ids["N"], **_seen(city, ids["N"]))
    assert err.value.reason == "area"
    alliance.claim(city, shop, request_id=ids["M"], now=datetime(2026, 12, 1, 2),
                   **_seen(city, ids["M"]))
    assert store_updates.read_events(city, ids=[ids["M"]]).actor.tolist() == ["shop1"]
    # A member account may not act on the claimed card like a handler.
    with pytest.raises(AccessDenied):
        actions.act(city, shop, request_id=ids["M"], action="resolve", note="done",
                    **_seen(city, ids["M"]))


def test_claims_are_refused_outside_the_area_twice_and_for_other_roles(city):
    _member(city, areas=(G1,))
    _member(city, name="北海社工站", kind="社会组织", areas=(G1, G2))
    ids = _seed(city, ("M", G1, "market"), ("O", G2, "charity"), ("G", G1, "government"))
    with pytest.raises(ActionRefused) as err:  # outside the member's areas
        alliance.claim(city, ADMIN, request_id=ids["O"], member="海城爱心超市",
                       **_seen(city, ids["O"]))
    assert err.value.reason == "area"
    with pytest.raises(AccessDenied) as denied:  # outside the grid head's grids
        alliance.claim(city, HEAD, request_id=ids["O"], member="北海社工站",
                       **_seen(city, ids["O"]))
    assert denied.value.reason == "outside"
    with pytest.raises(ActionRefused) as err:
        alliance.claim(city, ADMIN, request_id=ids["G"], member="海城爱心超市",
                       **_seen(city, ids["G"]))
    assert err.value.reason == "route"
    for role in ("planner", "wall", "commander"):
        with pytest.raises(AccessDenied) as denied:
            alliance.claim(city, Scope(role, None if role != "wall" else (G1,), role),
                           request_id=ids["M"], member="海城爱心超市", **_seen(city, ids["M"]))
        assert denied.value.reason == "role"
    # Two sessions saw the same card; the second claim is refused, not applied.
    seen = _seen(city, ids["M"])
    alliance.claim(city, ADMIN, request_id=ids["M"], member="海城爱心超市", **seen)
    with pytest.raises(ActionRefused) as err:
        alliance.claim(city, HEAD, request_id=ids["M"], member="北海社工站", **seen)
    assert err.value.reason == "claimed"
    assert store_updates.read_states(city, ids=[ids["M"]]).assignee.iloc[0] == "海城爱心超市"
    denials = store_access.read_audit(city, action="denied")
    assert len(denials) == 4
    # A disabled member claims nothing more.
    assert alliance.set_member_disabled(city, ADMIN, name="北海社工站")
    with pytest.raises(ActionRefused) as err:
        alliance.claim(city, ADMIN, request_id=ids["O"], member="北海社工站",
                       **_seen(city, ids["O"]))
    assert err.value.reason == "disabled"


def test_a_stale_card_is_refused(city):
    _member(city)
    ids = _seed(city, ("M", G1, "market"))
    seen = _seen(city, ids["M"])
    actions.act(city, HEAD, request_id=ids["M"], action="accept", now=datetime(2026, 12, 1, 2),
                **seen)
    with pytest.raises(ActionRefused) as err:
        alliance.claim(city, HEAD, request_id=ids["M"], member="海城爱心超市", **seen)
    assert err.value.reason == "stale"
    alliance.claim(city, HEAD, request_id=ids["M"], member="海城爱心超市",
                   **_seen(city, ids["M"]))  # accepted cards may still be claimed


def test_members_are_managed_by_admins_with_contacts_masked(city):
    _member(city, areas=(G1, G2))
    with pytest.raises(AccessDenied):
        alliance.add_member(city, HEAD, name="x", kind="shop", areas=(G1,))
    with pytest.raises(alliance.MemberError) as bad:
        _member(city)
    assert bad.value.field == "name"
    with pytest.raises(alliance.MemberError) as bad:
        _member(city, name="新商户", areas=("430903999999999",))
    assert bad.value.field == "areas"
    with pytest.raises(alliance.MemberError) as bad:
        _member(city, name="新商户", kind="bank")
    assert bad.value.field == "kind"
    listed = alliance.members(city, HEAD)
    assert listed[["name", "kind", "contact_name", "contact_phone"]].values.tolist() == [
        ["海城爱心超市", "shop", "张*", "138****1234"]]
    assert listed.areas.iloc[0] == (G1, G2)
    assert alliance.members(city, ADMIN, personal=True).contact_phone.iloc[0] == "13812341234"
    with pytest.raises(AccessDenied):
        alliance.members(city, HEAD, personal=True)
    with pytest.raises(AccessDenied):
        alliance.members(city, Scope("planner", None, "p"))
    assert alliance.members(city, ADMIN, grid_code=G3).empty
    assert {"alliance.add", "alliance.list"} <= set(store_access.read_audit(city).action)


def test_claim_figures_reach_the_bulletin_and_the_export(city):
    from geo.store import requests as store_req
    from tests.tiny_city import admin_units

    with store_engine.transaction(city) as conn:
        store_req.write_admin_units(conn, admin_units())
    _member(city, areas=("430903003001",))  # a community: all four grids
    assert alliance.members(city, ADMIN, grid_code=G3).name.tolist() == ["海城爱心超市"]
    ids = _seed(city, ("M", G1, "market"), ("C", G2, "charity"), ("G", G1, "government"))
    alliance.claim(city, ADMIN, request_id=ids["M"], member="海城爱心超市",
                   now=datetime(2026, 12, 1, 3), **_seen(city, ids["M"]))
    table = bulletin.claim_table(city, month="2026-12", level="community")
    assert table[["code", "name", "claimable", "claimed"]].values.tolist() == [
        ["430903003001", "甲社区", 2, 1]]
    assert table.claim_rate.iloc[0] == 0.5 and table.median_hours.iloc[0] == 2.0
    month = bulletin.monthly_bulletin(city, month="2026-12", now=datetime(2026, 12, 15))
    assert month.claims["township"].claimed.tolist() == [1]
    buf = io.BytesIO()
    export.export_layer(city, layer="claims", fmt="geojson", path_or_buffer=buf,
                        since=datetime(2026, 11, 30), until=datetime(2026, 12, 15))
    props = {f["properties"]["code"]: f["properties"]
             for f in json.loads(buf.getvalue())["features"]}
    assert len(props) == 4
    assert (props[G1]["claimable"], props[G1]["claimed"], props[G1]["claim_rate"],
            props[G1]["median_hours_to_claim"]) == (1, 1, 1.0, 2.0)
    assert props[G2]["claim_rate"] == 0.0 and props[G2]["median_hours_to_claim"] is None
    assert props[G3]["claimable"] == 0 and props[G3]["claim_rate"] is None


def test_cards_mask_phone_and_id_numbers_for_members_and_commanders(city):
    from geo import accounts
    with store_engine.transaction(city) as conn:
        accounts.add_user(conn, username="shop1", role="alliance", password="x" * 12,
                          areas=[G1], check_strength=False)
    _member(city, areas=(G1,), account="shop1")
    _seed(city, ("M", G1, "market"))
    said = "独居老人求助，电话13912345678，身份证43090319900101123X"
    with store_engine.transaction(city) as conn:
        conn.execute(store_requests.request.update().values(description=said))
    masked = "独居老人求助，电话139****5678，身份证430***********123X"
    for who, text in ((Scope("alliance", (G1,), "shop1"), masked),
                      (Scope("commander", None, "c"), masked), (HEAD, said), (ADMIN, said)):
        assert alliance.claimable_cards(city, who).description.tolist() == [text], who.role
