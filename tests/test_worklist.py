"""geo.worklist: the scope's open requests by deadline, history and photos behind the scope."""

from __future__ import annotations

import io
from datetime import datetime

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from PIL import Image
from tiny_city import admin_units

from geo import actions, worklist
from geo.access import AccessDenied, Scope
from geo.deadlines import DeadlinePolicy
from geo.photos import clean_photo
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates

NOW = datetime(2026, 12, 3, 4, 0)
MINE, OTHER = "430903003001001", "430903003002001"
HEAD = Scope("grid_head", (MINE,), "wang")
POLICY = DeadlinePolicy()


def _seed(engine) -> dict[str, int]:
    def row(ext, grid, status, reported, due, **kw):
        return dict(external_id=ext, grid_code=grid, outside_grid=False, lon=112.3, lat=28.5,
                    source="miniprogram", category="road", severity="routine",
                    route="government", status=status, reported_at=reported, due_at=due, **kw)

    frame = pd.DataFrame([
        row("late", MINE, "dispatched", datetime(2026, 11, 20), datetime(2026, 12, 1)),
        row("soon", MINE, "reported", datetime(2026, 12, 1), datetime(2026, 12, 3, 8)),
        row("fresh", MINE, "reported", datetime(2026, 12, 3), datetime(2026, 12, 10)),
        row("none", MINE, "reported", datetime(2026, 12, 2), None),
        row("toclose", MINE, "resolved", datetime(2026, 11, 25), datetime(2026, 12, 2),
            resolved_at=datetime(2026, 12, 2)),
        row("oldres", MINE, "resolved", datetime(2026, 9, 1), datetime(2026, 9, 5),
            resolved_at=datetime(2026, 9, 4)),
        row("closed", MINE, "resolved", datetime(2026, 11, 25), datetime(2026, 12, 2),
            resolved_at=datetime(2026, 12, 2), closed_at=datetime(2026, 12, 2, 1)),
        row("theirs", OTHER, "dispatched", datetime(2026, 12, 1), datetime(2026, 12, 2)),
    ])
    grids = gpd.GeoDataFrame({"code": [MINE, OTHER], "name": ["甲1", "乙1"],
                              "community_code": [MINE[:12], OTHER[:12]]},
                             geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
                             crs=4326)
    units = admin_units()
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, units)
        store_requests.write_grids(conn, grids)
        store_requests.insert_requests(conn, frame)
    states = store_updates.read_states(engine, external_ids=frame.external_id)
    return dict(zip(states.external_id, states.id.astype(int), strict=True))


def test_the_worklist_is_the_scopes_open_requests_by_deadline(engine):
    ids = _seed(engine)
    rows = worklist.worklist(engine, HEAD, now=NOW, policy=POLICY)
    names = {v: k for k, v in ids.items()}
    assert [names[int(i)] for i in rows["id"]] == ["late", "soon", "fresh", "none", "toclose"]
    levels = dict(zip([names[int(i)] for i in rows["id"]], rows["level"], strict=True))
    assert levels == {"late": 2, "soon": 1, "fresh": 0, "none": -1, "toclose": -1}
    assert rows.set_index("id").loc[ids["late"], "left_h"] == -52
    assert rows.set_index("id").loc[ids["soon"], "age_h"] == 52
    everyone = worklist.worklist(engine, Scope("admin"), now=NOW, policy=POLICY)
    assert ids["theirs"] in set(everyone["id"].astype(int))


def test_one_item_history_and_photos_refuse_another_grid(engine):
    ids = _seed(engine)
    assert worklist.work_item(engine, HEAD, ids["soon"], now=NOW, policy=POLICY) is not None
    assert worklist.work_item(engine, HEAD, ids["closed"], now=NOW, policy=POLICY) is None
    for read in (lambda: worklist.work_item(engine, HEAD, ids["theirs"], now=NOW,
                                            policy=POLICY),
                 lambda: worklist.history(engine, HEAD, ids["theirs"]),
                 lambda: worklist.photos(engine, HEAD, ids["theirs"])):
        with pytest.raises(AccessDenied) as err:
            read()
        assert err.value.reason == "outside"
    assert len(store_access.read_audit(engine, action="denied")) == 3


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_a_photo_is_served_only_inside_the_scope(engine):
    ids = _seed(engine)
    boss = Scope("admin", None, "admin")
    for key in ("late", "theirs"):
        state = store_updates.read_states(engine, ids=[ids[key]]).iloc[0]
        actions.act(engine, boss, request_id=ids[key], action="resolve",
                    seen_status=state.status, seen_updated_at=None, note="修好了",
                    photo=clean_photo(_png()), now=NOW)
    mine = worklist.photos(engine, HEAD, ids["late"])
    assert len(mine) == 1
    got = worklist.photo_for(engine, HEAD, int(mine["id"].iloc[0]))
    assert got is not None and got.content_type.startswith("image/")
    assert Image.open(io.BytesIO(got.data)).size == (40, 30)
    theirs = worklist.photos(engine, boss, ids["theirs"])
    with pytest.raises(AccessDenied):
        worklist.photo_for(engine, HEAD, int(theirs["id"].iloc[0]))
    assert worklist.photo_for(engine, HEAD, 999_999) is None
    events = worklist.history(engine, HEAD, ids["late"])
    assert events["kind"].tolist() == ["resolve"] and events["note"].iloc[0] == "修好了"


@pytest.mark.parametrize(("value", "expected"), [
    ("https://example.cn/a.jpg", "https://example.cn/a.jpg"),
    (" http://example.cn/b.png ", "http://example.cn/b.png"),
    ("javascript:alert(1)", None),
    ("data:image/png;base64,AAAA", None),
    ("https://", None),
    ("https://example.cn/a b.jpg", None),
    ("ftp://example.cn/a.jpg", None),
    (None, None),
    (float("nan"), None),
])
def test_only_plain_http_media_urls_are_shown(value, expected):
    assert worklist.safe_media_url(value) == expected


@pytest.mark.parametrize("scope", [Scope("wall", (MINE,), "wall:lobby"),
                                   Scope("planner", None, "zhao")])
def test_a_wall_token_and_a_planner_can_act_on_nothing(engine, scope):
    ids = _seed(engine)
    state = store_updates.read_states(engine, ids=[ids["soon"]]).iloc[0]
    assert actions.allowed_actions(scope, state.to_dict()) == []
    for action in actions.ACTIONS:
        with pytest.raises(AccessDenied) as err:
            actions.act(engine, scope, request_id=ids["soon"], action=action,
                        seen_status=state.status, seen_updated_at=None, note="x",
                        assignee="x", now=NOW)
        assert err.value.reason == "role"
    assert store_updates.read_events(engine, ids=[ids["soon"]]).empty
    assert len(store_access.read_audit(engine, action="denied")) == len(actions.ACTIONS)


def test_history_notes_mask_phone_and_id_unless_contacts_are_clear(engine):
    ids = _seed(engine)
    state = store_updates.read_states(engine, ids=[ids["late"]]).iloc[0]
    actions.act(engine, Scope("admin", None, "admin"), request_id=ids["late"], action="note",
                seen_status=state.status, seen_updated_at=None,
                note="已回电13912345678，身份证43090319900101123X", now=NOW)
    clear = worklist.history(engine, HEAD, ids["late"])["note"].iloc[-1]
    masked = worklist.history(engine, Scope("commander", None, "c"), ids["late"])
    assert clear == "已回电13912345678，身份证43090319900101123X"
    assert masked["note"].iloc[-1] == "已回电139****5678，身份证430***********123X"
    assert "grid_code" not in masked.columns
