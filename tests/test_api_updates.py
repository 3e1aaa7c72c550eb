"""geo.open311_updates through geo.api: notes[] history, handler updates, the updates feed."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import api, clock, intake, open311_updates
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates

SCHEMA = json.loads((Path(__file__).parent / "georeport_v2.schema.json").read_text("utf-8"))
#: The resident reports at 09:00 Beijing time; every update comes later that day.
T0 = datetime(2026, 12, 1, 1, 0)
LATER = datetime(2026, 12, 2, 1, 0)


def check(instance, name: str) -> None:
    """Validate a response body against one definition of the GeoReport v2 schema."""
    jsonschema.validate(instance, {"$ref": f"#/$defs/{name}", "$defs": SCHEMA["$defs"]})


def local(hour: int, minute: int = 0) -> str:
    """2026-12-01 at ``hour``:``minute`` Beijing time, as a handler sends it."""
    return f"2026-12-01T{hour:02d}:{minute:02d}:00+08:00"


@pytest.fixture
def city(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    intake.clear_grid_cache()
    return engine


@pytest.fixture
def keys(city):
    return {"reporter": intake.create_api_key(city, "wechat"),
            "handler": intake.create_api_key(city, "platform", role="handler")}


@pytest.fixture
def client(city):
    return TestClient(api.create_app(city), raise_server_exceptions=False)


@pytest.fixture
def rid(client, keys):
    """A request reported by the mini-program at T0 by 张三, 13900001111."""
    with clock.frozen(T0):
        r = client.post("/requests.json", data={
            "api_key": keys["reporter"], "service_code": "road", "lat": "28.565",
            "long": "112.305", "description": "路灯不亮", "last_name": "张",
            "first_name": "三", "phone": "13900001111"})
    assert r.status_code == 200, r.text
    return r.json()[0]["service_request_id"]


def post(client, key, rid, update_id, when, status=None, *, now=LATER, **kw):
    body = {"api_key": key, "service_request_id": rid, "update_id": update_id,
            "updated_datetime": when, "status": status, **kw}
    with clock.frozen(now):
        return client.post("/servicerequestupdates.json",
                           data={k: v for k, v in body.items() if v is not None})


def error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    check(body, "errors")
    assert body[0]["code"] == status
    return body[0]["description"]


def events(engine, rid) -> pd.DataFrame:
    return store_updates.read_events(engine, ids=[int(rid)])


def test_get_carries_notes_history_status_notes_and_updated_datetime(client, keys, rid):
    h = keys["handler"]
    r = post(client, h, rid, "u1", local(10), "accepted", description="已受理")
    assert r.status_code == 200
    assert post(client, h, rid, "u2", local(11), "DISPATCHED",
                description="已派维修班，联系人张三 13900001111").status_code == 200
    done = post(client, h, rid, "u3", local(15, 30), "resolved", description="灯已修好",
                media_url="https://img.example.cn/fixed.jpg")
    assert done.status_code == 200, done.text

    got = client.get(f"/requests/{rid}.json", params={"api_key": keys["reporter"]}).json()
    check(got, "service_requests")
    one = got[0]
    assert (one["status"], one["updated_datetime"]) == ("closed", "2026-12-01T15:30:00+08:00")
    assert one["status_notes"] == "灯已修好"
    assert [n["type"] for n in one["notes"]] == ["opened", "activity", "activity", "closed"]
    assert [n["datetime"] for n in one["notes"]] == [
        "2026-12-01T09:00:00+08:00", local(10), local(11), "2026-12-01T15:30:00+08:00"]
    assert [n["extended_attributes"]["status"] for n in one["notes"]] == [
        "reported", "accepted", "dispatched", "resolved"]
    assert one["notes"][3]["summary"] == "办结 (resolved)"
    assert one["notes"][3]["extended_attributes"]["media_url"] == \
        "https://img.example.cn/fixed.jpg"
    # The handler's note names the reporter: shown masked, like every phone number.
    assert one["notes"][2]["description"] == "已派维修班，联系人张* 139****1111"
    reader = {"api_key": keys["reporter"]}
    assert "13900001111" not in client.get("/requests.json", params=reader).text
    listed = client.get("/requests.json", params=reader).json()
    check(listed, "service_requests")
    assert listed[0]["notes"] == one["notes"]


def test_a_new_request_has_one_opened_note_and_no_status_notes(client, keys, rid):
    one = client.get(f"/requests/{rid}.json", params={"api_key": keys["reporter"]}).json()[0]
    assert one["status_notes"] is None
    assert [(n["type"], n["description"]) for n in one["notes"]] == [("opened", None)]
    assert one["updated_datetime"] == "2026-12-01T09:00:00+08:00"


def test_only_handler_keys_post_updates(client, keys, rid, city):
    said = error(post(client, keys["reporter"], rid, "u1", local(10), "accepted"), 403)
    assert "handler" in said
    error(post(client, None, rid, "u1", local(10), "accepted"), 403)
    error(post(client, "wrong", rid, "u1", local(10), "accepted"), 403)
    assert len(events(city, rid)) == 1  # the report only
    refused = store_access.read_audit(city, action="api_key_refused")
    assert refused["actor"].tolist() == ["api:wechat"]
    # A reporter key still creates and reads.
    assert client.get(f"/requests/{rid}.json",
                      params={"api_key": keys["reporter"]}).status_code == 200
    intake.revoke_api_key(city, "platform")
    error(post(client, keys["handler"], rid, "u1", local(10), "accepted"), 403)


def test_an_update_goes_through_the_one_update_path(client, keys, rid, city):
    r = post(client, keys["handler"], rid, "u1", local(10), "accepted", description="已受理")
    assert r.status_code == 200, r.text
    check(r.json(), "update_answer")
    answer = r.json()[0]
    assert answer["status"] == "investigating"
    assert answer["extended_attributes"] == {"status": "accepted", "verdict": "updated",
                                             "client_update_id": "u1"}
    ev = events(city, rid).iloc[-1]
    assert answer["update_id"] == str(ev["id"])
    assert (ev["actor"], ev["kind"], ev["update_id"], ev["note"]) == (
        "api:platform", "status", "u1", "已受理")
    assert pd.Timestamp(ev["recorded_at"]) == pd.Timestamp(LATER)
    state = store_updates.read_states(city, ids=[int(rid)]).iloc[0]
    assert state["status"] == "accepted"
    assert pd.Timestamp(state["updated_at"]) == pd.Timestamp(2026, 12, 1, 2)


def test_a_resend_is_answered_with_the_first_answer_and_writes_nothing(client, keys, rid, city):
    h = keys["handler"]
    first = post(client, h, rid, "u1", local(10), "accepted", description="已受理")
    again = post(client, h, rid, "u1", local(10), "accepted", description="已受理")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(events(city, rid)) == 2
    # Still the first answer after the request moved on (a retry that arrives late).
    assert post(client, h, rid, "u2", local(12), "resolved").status_code == 200
    late = post(client, h, rid, "u1", local(10), "accepted", description="已受理")
    assert late.json() == first.json()
    # The same update_id for another update is the sender's mistake, not a resend.
    said = error(post(client, h, rid, "u1", local(13), "rated", satisfaction="满意"), 400)
    assert "u1" in said and "already used" in said
    assert len(events(city, rid)) == 3


def test_concurrent_resends_write_one_event(city, rid):
    fields = {"service_request_id": rid, "update_id": "dup", "updated_datetime": local(10),
              "status": "accepted", "description": "已受理"}
    start = threading.Barrier(4)

    def send(_i):
        start.wait()
        return open311_updates.post_update(city, fields, key_name="platform", now=LATER)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))
    assert all(a == answers[0] for a in answers)
    assert answers[0]["extended_attributes"]["verdict"] == "updated"
    written = events(city, rid)
    assert len(written) == 2 and written["update_id"].iloc[1] == "dup"


_FIELDS = ["api_key", "service_request_id", "update_id", "updated_datetime", "status",
           "description", "media_url", "satisfaction", "junk"]
_VALUES = st.one_of(
    st.text(max_size=30), st.sampled_from(["1", "accepted", "FIXED", "OPEN", "rated", "满意",
                                           local(10), "2026-12-01", "nan", ""]),
    st.integers(), st.floats(allow_nan=True), st.none(), st.booleans(),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=8),
       use_key=st.booleans(), as_json=st.booleans())
def test_fuzz_update_never_500(client, keys, rid, fields, use_key, as_json):
    if use_key:
        fields["api_key"] = keys["handler"]
    with clock.frozen(LATER):
        if as_json:
            # json.dumps writes inf/nan as Infinity/NaN (not JSON): the server must refuse
            # such a body with a 400, not fail.
            r = client.post("/servicerequestupdates.json", content=json.dumps(fields),
                            headers={"Content-Type": "application/json"})
        else:
            form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
            r = client.post("/servicerequestupdates.json", data=form)
    assert r.status_code in (200, 400, 403, 404), r.text
    check(r.json(), "update_answer" if r.status_code == 200 else "errors")


def test_mysociety_statuses_map_onto_the_flow(client, keys, rid, city):
    h = keys["handler"]
    for uid, when, status in [("a", local(10), "INVESTIGATING"), ("b", local(11), "PLANNED"),
                              ("c", local(12), "IN_PROGRESS")]:
        assert post(client, h, rid, uid, when, status).status_code == 200
    opened = post(client, h, rid, "o", local(12, 30), "OPEN", description="材料已到")
    assert opened.json()[0]["extended_attributes"]["status"] == "in_progress"
    assert post(client, h, rid, "d", local(13), "FIXED").status_code == 200
    note = post(client, h, rid, "e", local(14), None, description="已回访")
    assert note.json()[0]["extended_attributes"]["status"] == "resolved"
    assert events(city, rid)[["to_status", "kind"]].values.tolist() == [
        ["reported", "status"], ["accepted", "status"], ["dispatched", "status"],
        ["in_progress", "status"], ["in_progress", "note"], ["resolved", "status"],
        ["resolved", "note"]]
    # The OPEN note, sent again once the request is resolved, is still a resend.
    again = post(client, h, rid, "o", local(12, 30), "OPEN", description="材料已到")
    assert again.json() == opened.json()


@pytest.mark.parametrize("setup, update, words", [
    ([("u0", local(12), "resolved")], ("u1", local(13), "accepted"), "cannot move back"),
    ([], ("u1", "2026-12-01T08:59:00+08:00", "accepted"), "before the request was reported"),
    ([], ("u1", local(12), "rated"), "needs a satisfaction"),
    ([], ("u1", local(12), "rated", {"satisfaction": "5星"}), "out of range"),
    ([], ("u1", local(12), "accepted", {"satisfaction": "satisfied"}), "satisfaction"),
    ([], ("u1", local(12), "DUPLICATE"), "no GridMap equivalent"),
    ([], ("u1", local(12), "REOPEN"), "never reopens"),
    ([("u0", local(12), "resolved")], ("u1", local(13), "OPEN"), "cannot move back"),
    ([], ("u1", "2026-12-03T10:00:00+08:00", "accepted"), "in the future"),
    ([], ("u1", "tomorrow", "accepted"), "updated_datetime"),
    ([], (None, local(12), "accepted"), "update_id is required"),
    ([], ("u1", None, "accepted"), "updated_datetime is required"),
    ([], ("u" * 65, local(12), "accepted"), "update_id"),
])
def test_refused_updates_are_400_and_write_nothing(client, keys, rid, city, setup, update,
                                                   words):
    h = keys["handler"]
    for uid, when, status in setup:
        assert post(client, h, rid, uid, when, status).status_code == 200
    before = events(city, rid)
    state = store_updates.read_states(city, ids=[int(rid)])
    uid, when, status, *extra = update
    said = error(post(client, h, rid, uid, when, status, **(extra[0] if extra else {})), 400)
    assert words in said
    assert events(city, rid).equals(before)
    assert store_updates.read_states(city, ids=[int(rid)]).equals(state)


def test_rated_with_satisfaction_is_stored(client, keys, rid, city):
    h = keys["handler"]
    assert post(client, h, rid, "u1", local(12), "resolved").status_code == 200
    r = post(client, h, rid, "u2", local(13), "评价", satisfaction="基本满意")
    assert r.status_code == 200, r.text
    state = store_updates.read_states(city, ids=[int(rid)]).iloc[0]
    assert (state["status"], state["satisfaction"]) == ("rated", "basically_satisfied")


@pytest.mark.parametrize("target", ["999999", "abc", ""])
def test_an_update_for_an_unknown_request_is_404(client, keys, rid, city, target):
    error(post(client, keys["handler"], target, "u1", local(10), "accepted"), 404)
    assert store_engine.table_counts(city)["request_event"] == 1


def test_older_or_empty_updates_are_200_with_no_update_id(client, keys, rid, city):
    h = keys["handler"]
    assert post(client, h, rid, "u1", local(12), "in_progress").status_code == 200
    stale = post(client, h, rid, "u0", local(11), "accepted", description="迟到的消息")
    assert stale.status_code == 200
    assert stale.json()[0]["update_id"] is None
    assert stale.json()[0]["extended_attributes"]["verdict"] == "stale"
    same = post(client, h, rid, "u2", local(13), "in_progress")
    assert same.json()[0]["extended_attributes"]["verdict"] == "unchanged"
    assert len(events(city, rid)) == 2


def test_json_body_and_key_in_query_string(client, keys, rid):
    with clock.frozen(LATER):
        r = client.post(f"/servicerequestupdates.json?api_key={keys['handler']}", json={
            "service_request_id": int(rid), "update_id": 7, "updated_datetime": local(10),
            "status": "accepted"})
    assert r.status_code == 200, r.text
    error(client.post("/servicerequestupdates.json", content=b"[1]",
                      headers={"content-type": "application/json"}), 400)


# --------------------------------------------------------------------------- the feed


def feed(client, key, **params):
    with clock.frozen(params.pop("now", LATER + timedelta(hours=1))):
        return client.get("/servicerequestupdates.json",
                          params={"api_key": key, **params})


def _three_updates(client, keys, rid):
    """Updates recorded at LATER, LATER + 10 min and LATER + 20 min."""
    h = keys["handler"]
    for i, (status, note) in enumerate([("accepted", "已受理"), ("dispatched", None),
                                        ("resolved", "已修复，已电话告知13900001111")]):
        r = post(client, h, rid, f"u{i}", local(10 + i), status, description=note,
                 now=LATER + timedelta(minutes=10 * i))
        assert r.status_code == 200, r.text


def test_feed_lists_updates_recorded_in_the_window(client, keys, rid):
    _three_updates(client, keys, rid)
    r = feed(client, keys["reporter"])  # the mini-program's key may read it
    assert r.status_code == 200, r.text
    check(r.json(), "service_request_updates")
    got = r.json()
    assert [u["status"] for u in got] == ["investigating", "action_scheduled", "fixed"]
    assert {u["service_request_id"] for u in got} == {rid}
    assert got[0]["updated_datetime"] == local(10)  # when it happened, not when recorded
    assert got[2]["description"] == "已修复，已电话告知139****1111"
    assert got[1]["description"] is None and got[1]["media_url"] is None
    assert got[2]["extended_attributes"]["recorded_datetime"] == \
        "2026-12-02T09:20:00.000000+08:00"
    # The window bounds the recording time: [start, end).
    window = feed(client, keys["handler"], start_date="2026-12-02T09:05:00+08:00",
                  end_date="2026-12-02T09:20:00+08:00").json()
    assert [u["extended_attributes"]["status"] for u in window] == ["dispatched"]
    assert feed(client, keys["handler"], start_date="2026-12-02T09:20:01+08:00").json() == []
    # The report itself is not an update.
    assert "reported" not in {u["extended_attributes"]["status"] for u in got}


def test_feed_pages_by_link_and_misses_nothing(client, keys, rid):
    _three_updates(client, keys, rid)
    seen, r, pages = [], feed(client, keys["reporter"], page_size=1), 1
    while True:
        seen += [u["update_id"] for u in r.json()]
        if "link" not in r.headers:
            break
        url = r.headers["link"].split(";")[0].strip("<>")
        assert "after_update_id=" in url and "api_key" not in url
        with clock.frozen(LATER + timedelta(hours=1)):
            r = client.get(f"{url}&api_key={keys['reporter']}")
        pages += 1
    every = [u["update_id"] for u in feed(client, keys["reporter"]).json()]
    assert seen == every and len(every) == 3
    assert pages == 3  # a full last page names no empty next one
    # A client that polls from its last update_id sees only what came after.
    after = feed(client, keys["reporter"], after_update_id=every[0]).json()
    assert [u["update_id"] for u in after] == every[1:]


def test_feed_leaves_out_the_last_seconds(client, keys, rid):
    _three_updates(client, keys, rid)
    last = LATER + timedelta(minutes=20)
    settle = open311_updates.FEED_SETTLE
    assert len(feed(client, keys["reporter"], now=last + settle).json()) == 2
    assert len(feed(client, keys["reporter"], now=last + settle + timedelta(seconds=1)).json()) \
        == 3


@pytest.mark.parametrize("params, status", [
    ({"api_key": None}, 401),  # reading needs a key (no public feed here)
    ({"api_key": "nope"}, 403),
    ({"start_date": "yesterday"}, 400),
    ({"start_date": "2026-12-02T10:00:00", "end_date": "2026-12-02T09:00:00"}, 400),
    ({"start_date": "2026-12-02T10:00:00", "after_update_id": "1"}, 400),
    ({"after_update_id": "99999"}, 400),
    ({"page_size": "0"}, 400),
    ({"page_size": "1001"}, 400),
])
def test_bad_feed_queries(client, keys, rid, params, status):
    params = {"api_key": keys["reporter"], **params}
    error(client.get("/servicerequestupdates.json",
                     params={k: v for k, v in params.items() if v is not None}), status)


def test_feed_keyset_survives_ids_out_of_time_order(city, keys, rid):
    # Two writers: the later-recorded event got the lower id. Paging by id alone would
    # skip it; the (recorded_at, id) key does not.
    base = pd.DataFrame([dict(request_id=int(rid), at=T0 + timedelta(hours=h), from_status=s0,
                              to_status=s1, actor="x", note=None)
                         for h, s0, s1 in [(1, "reported", "accepted"),
                                           (2, "accepted", "dispatched")]])
    with store_engine.transaction(city) as conn:
        store_requests.insert_events(conn, base)
    ids = events(city, rid)["id"].tolist()[1:]
    with store_engine.transaction(city) as conn:
        for event_id, at in zip(ids, [LATER + timedelta(seconds=2), LATER + timedelta(seconds=1)],
                                strict=True):
            conn.execute(store_updates.request_event.update()
                         .where(store_updates.request_event.c.id == event_id)
                         .values(recorded_at=at, kind="status"))
    first = store_updates.read_events_since(city, since=LATER, limit=1)
    assert first["id"].tolist() == [ids[1]]
    rest = store_updates.read_events_since(city, since=first["recorded_at"].iloc[0],
                                           after_id=int(first["id"].iloc[0]))
    assert rest["id"].tolist() == [ids[0]]


# --------------------------------------------------------------------------- documentation


def test_openapi_documents_the_update_endpoints(client):
    doc = client.get("/openapi.json").json()
    ops = doc["paths"]["/servicerequestupdates.json"]
    assert set(ops) == {"get", "post"}
    assert {"400", "403", "404"} <= set(ops["post"]["responses"])
    assert "application/x-www-form-urlencoded" in ops["post"]["requestBody"]["content"]
    props = doc["components"]["schemas"]["PostUpdate"]["properties"]
    assert {"api_key", "service_request_id", "update_id", "updated_datetime", "status",
            "description", "media_url", "satisfaction"} <= set(props)
    assert {"maxLength": 64, "type": "string"} in props["update_id"]["anyOf"]
    assert "FIXED" in props["status"]["enum"]
    params = {p["name"] for p in ops["get"]["parameters"]}
    assert {"api_key", "start_date", "end_date", "after_update_id", "page_size"} <= params
    assert {"401", "403"} <= set(ops["get"]["responses"])
    assert not any("422" in op["responses"] for p in doc["paths"].values() for op in p.values())


def test_cli_creates_and_lists_handler_keys(tmp_path, capsys):
    from geo import cli

    url = f"sqlite:///{tmp_path}/k.db"
    assert cli.main(["--database", url, "api-key", "create", "--name", "platform",
                     "--role", "handler"]) == 0
    key = capsys.readouterr().out.strip()
    assert cli.main(["--database", url, "api-key", "create", "--name", "wechat"]) == 0
    capsys.readouterr()
    eng = store_engine.make_engine(url)
    assert intake.check_api_key(eng, key, role="handler") == "platform"
    assert cli.main(["--database", url, "api-key", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["platform", "handler"],
                                                    ["wechat", "reporter"]]
    with pytest.raises(SystemExit):
        cli.main(["--database", url, "api-key", "create", "--name", "x", "--role", "admin"])
    eng.dispose()



def test_actions_by_people_show_in_the_history(client, keys, rid, city):
    """Actions taken in GridMap (geo.actions) are notes too; escalations are not."""
    from geo import actions
    from geo.access import Scope

    admin = Scope("admin", None, "ops")
    for k, (action, kw) in enumerate([("accept", {}), ("urge", {"note": "请今天办结"}),
                                      ("dispatch", {"assignee": "城管"})]):
        state = store_updates.read_states(city, ids=[int(rid)]).iloc[0]
        seen = None if pd.isna(state.updated_at) else pd.Timestamp(state.updated_at)
        actions.act(city, admin, request_id=int(rid), action=action, seen_status=state.status,
                    seen_updated_at=None if seen is None else seen.to_pydatetime(),
                    now=T0 + timedelta(hours=k + 1), **kw)
    with clock.frozen(LATER):
        got = client.get(f"/requests/{rid}.json", params={"api_key": keys["reporter"]}).json()
    summaries = [n["summary"] for n in got[0]["notes"]]
    assert summaries[1:] == ["受理 (accepted)", "督办 (supervised)", "派遣 (dispatched)"]
    assert got[0]["status_notes"] == "→ 城管"
    assert "ops" not in json.dumps(got, ensure_ascii=False)  # who acted is not shown
