"""geo.api: every GeoReport v2 endpoint and error path, schema checks, fuzzing, end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import pytest
import shapely
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import api, clock, coords, heat, intake, open311_readers, vocab
from geo.store import engine as store_engine
from geo.store import requests as store_requests

SCHEMA = json.loads((Path(__file__).parent / "georeport_v2.schema.json").read_text("utf-8"))
NW = "430903003001001"
FORM = "application/x-www-form-urlencoded"


def check(instance, name: str) -> None:
    """Validate a response body against one definition of the GeoReport v2 schema."""
    jsonschema.validate(instance, {"$ref": f"#/$defs/{name}", "$defs": SCHEMA["$defs"]})


@pytest.fixture
def city(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    intake.clear_grid_cache()
    return engine


@pytest.fixture
def key(city):
    return intake.create_api_key(city, "test-app")


@pytest.fixture
def client(city):
    return TestClient(api.create_app(city), raise_server_exceptions=False)


def _form(key, **kw):
    out = {"api_key": key, "service_code": "road", "lat": "28.565", "long": "112.305",
           "description": "路灯不亮"}
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    check(body, "errors")
    assert body[0]["code"] == status
    return body[0]["description"]


def test_services_list(client):
    r = client.get("/services.json")
    assert r.status_code == 200
    check(r.json(), "services")
    assert [s["service_code"] for s in r.json()] == list(vocab.CATEGORIES)
    assert {s["type"] for s in r.json()} == {"realtime"}


def test_service_definition_has_severity_and_route(client):
    r = client.get("/services/dispute.json")
    assert r.status_code == 200
    check(r.json(), "service_definition")
    attrs = {a["code"]: [v["key"] for v in a["values"]] for a in r.json()["attributes"]}
    assert attrs == {"severity": ["操心", "烦心", "揪心"], "route": ["政府", "市场", "爱心"]}
    assert "parking" in _error(client.get("/services/parking.json"), 404)


def test_post_form_then_get_it(client, key, city):
    r = client.post("/requests.json", data=_form(key, **{"attribute[severity]": "烦心",
                                                         "phone": "13800000000"}))
    assert r.status_code == 200, r.text
    check(r.json(), "post_response")
    rid = r.json()[0]["service_request_id"]
    assert NW in r.json()[0]["service_notice"]
    one = client.get(f"/requests/{rid}.json", params={"api_key": key})
    assert one.status_code == 200
    check(one.json(), "service_requests")
    got = one.json()[0]
    assert got["extended_attributes"]["severity"] == "pressing"
    assert got["requested_datetime"].endswith("+08:00")
    assert "13800000000" not in one.text
    assert store_engine.table_counts(city)["request_event"] == 1


def test_post_json_with_attribute_object(client, key):
    body = _form(key, attribute={"severity": "揪心", "route": "爱心"}, lat=28.565, long=112.305)
    r = client.post("/requests.json", json=body)
    assert r.status_code == 200, r.text
    rid = r.json()[0]["service_request_id"]
    ext = client.get(f"/requests/{rid}.json", params={"api_key": key}).json()[0][
        "extended_attributes"]
    assert (ext["severity"], ext["route"]) == ("urgent", "charity")


def test_post_multipart_form(client, key):
    r = client.post("/requests.json", data=_form(key), files={"media": ("a.txt", b"x")})
    assert r.status_code == 200, r.text


def test_gcj02_point_is_converted(client, key, city):
    lon, lat = coords.wgs84_to_gcj02(112.305, 28.565)
    r = client.post("/requests.json", data=_form(key, long=repr(lon), lat=repr(lat),
                                                 coord_system="gcj02"))
    got = client.get(f"/requests/{r.json()[0]['service_request_id']}.json",
                     params={"api_key": key}).json()[0]
    assert got["long"] == pytest.approx(112.305, abs=1e-6)
    assert got["lat"] == pytest.approx(28.565, abs=1e-6)
    assert got["extended_attributes"]["grid_code"] == NW


def test_point_outside_every_grid_is_accepted_for_triage(client, key):
    r = client.post("/requests.json", data=_form(key, lat="29.9", long="113.5"))
    assert r.status_code == 200
    assert "triage" in r.json()[0]["service_notice"]


@pytest.mark.parametrize("change, words", [
    ({"service_code": None}, "service_code"),
    ({"service_code": "parking"}, "service_code"),
    ({"lat": None}, "lat"),
    ({"lat": "abc"}, "lat"),
    ({"long": "200"}, "long"),
    ({"description": "长" * 4001}, "4000"),
    ({"coord_system": "mercator"}, "coord_system"),
    ({"attribute[severity]": "unknown"}, "severity"),
])
def test_bad_input_is_400_and_stores_nothing(client, key, city, change, words):
    assert words in _error(client.post("/requests.json", data=_form(key, **change)), 400)
    assert store_engine.table_counts(city)["request"] == 0


@pytest.mark.parametrize("api_key", [None, "", "wrong-key"])
def test_missing_or_wrong_api_key_is_403(client, key, city, api_key):
    form = _form(key)
    form.pop("api_key")
    if api_key is not None:
        form["api_key"] = api_key
    _error(client.post("/requests.json", data=form), 403)
    assert store_engine.table_counts(city)["request"] == 0


def test_revoked_api_key_is_403(client, key, city):
    assert client.post("/requests.json", data=_form(key)).status_code == 200
    intake.revoke_api_key(city, "test-app")
    _error(client.post("/requests.json", data=_form(key)), 403)


def test_replayed_post_returns_the_original(client, key, city):
    form = _form(key, device_id="phone-1", client_request_id="abc")
    first = client.post("/requests.json", data=form)
    again = client.post("/requests.json", data=form)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    ext = client.post("/requests.json", data=_form(key, external_id="hotline-9"))
    assert client.post("/requests.json", data=_form(key, external_id="hotline-9")).json() \
        == ext.json()
    assert store_engine.table_counts(city)["request"] == 2


def test_resends_are_per_key_and_a_changed_resend_is_409(client, key, city):
    other = intake.create_api_key(city, "second-app")
    ids = {"device_id": "", "client_request_id": "1"}
    first = client.post("/requests.json", data=_form(key, **ids)).json()
    theirs = client.post("/requests.json", data=_form(other, **ids, description="井盖缺失"))
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()[0]["service_request_id"] != first[0]["service_request_id"]
    assert store_engine.table_counts(city)["request"] == 2
    changed = client.post("/requests.json", data=_form(key, **ids, description="井盖缺失"))
    said = _error(changed, 409)
    assert "description" in said
    assert store_engine.table_counts(city)["request"] == 2
    doc = client.get("/openapi.json").json()
    assert "409" in doc["paths"]["/requests.json"]["post"]["responses"]


def test_non_utf8_body_is_400(client, key):
    raw = f"api_key={key}&service_code=road&lat=28.565&long=112.305&description=".encode()
    _error(client.post("/requests.json", content=raw + "路灯".encode("gbk"),
                       headers={"content-type": FORM}), 400)
    _error(client.post("/requests.json", content=raw + b"%B7%B5",
                       headers={"content-type": FORM}), 400)
    _error(client.post("/requests.json", content=b'{"api_key": "\xff"}',
                       headers={"content-type": "application/json"}), 400)
    _error(client.post("/requests.json", content=b"[1, 2]",
                       headers={"content-type": "application/json"}), 400)


@pytest.mark.parametrize("body", [
    b"[" * 20_000 + b"]" * 20_000,                          # nested 20,000 deep (40 KB)
    b'{"description": ' + b"[" * 15_000 + b"]" * 15_000 + b"}",
])
def test_deeply_nested_json_is_400(client, key, city, body):
    words = _error(client.post(f"/requests.json?api_key={key}", content=body,
                               headers={"content-type": "application/json"}), 400)
    assert "nested too deeply" in words
    assert store_engine.table_counts(city)["request"] == 0


def test_a_lone_surrogate_in_json_is_400(client, key, city):
    body = (b'{"service_code": "road", "lat": "28.565", "long": "112.305", '
            b'"description": "\\ud800 \ud800"}')
    _error(client.post(f"/requests.json?api_key={key}", content=body,
                       headers={"content-type": "application/json"}), 400)
    assert store_engine.table_counts(city)["request"] == 0


def test_an_oversized_body_is_refused_before_it_is_read(client, key):
    # Declared: answered from the header (the 200 MB are never read into memory).
    big = b"x" * (200 << 20)
    words = _error(client.post(f"/requests.json?api_key={key}", content=big,
                               headers={"content-type": "text/plain"}), 413)
    assert "larger than 65536 bytes" in words
    del big



def test_a_body_streamed_without_a_length_is_cut_off_at_the_limit(city, key):
    # Straight through ASGI: TestClient would gather the whole body before sending it.
    import anyio

    chunk, pulled, answer = b"x" * 8192, [], []

    async def receive():
        pulled.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": len(pulled) < 10_000}

    async def send(message):
        answer.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/requests.json",
             "raw_path": b"/requests.json", "root_path": "",
             "query_string": f"api_key={key}".encode(), "server": ("test", 80),
             "client": ("127.0.0.1", 1), "headers": [(b"content-type", b"text/plain"),
                                                     (b"transfer-encoding", b"chunked")]}
    anyio.run(api.create_app(city), scope, receive, send)
    assert answer[0]["status"] == 413
    body = json.loads(b"".join(m.get("body", b"") for m in answer[1:]))
    assert body[0]["code"] == 413
    assert sum(pulled) <= api.MAX_BODY + len(chunk)  # 9 chunks read of 10,000 offered
    assert store_engine.table_counts(city)["request"] == 0


def test_requests_search(client, key):
    ids = []
    for code in ("road", "noise", "road"):
        r = client.post("/requests.json", data=_form(key, service_code=code))
        ids.append(r.json()[0]["service_request_id"])
    r = client.get("/requests.json", params={"api_key": key})
    assert r.status_code == 200
    check(r.json(), "service_requests")
    assert [x["service_request_id"] for x in r.json()] == ids[::-1]
    r = client.get("/requests.json", params={"service_request_id": f"{ids[0]},{ids[1]}",
                                             "api_key": key})
    assert sorted(x["service_request_id"] for x in r.json()) == sorted(ids[:2])
    r = client.get("/requests.json", params={"service_code": "noise", "status": "open",
                                             "api_key": key})
    assert [x["service_request_id"] for x in r.json()] == [ids[1]]
    assert client.get("/requests.json", params={"status": "closed", "api_key": key}).json() == []
    r = client.get("/requests.json", params={"page": 2, "page_size": 2, "api_key": key})
    assert [x["service_request_id"] for x in r.json()] == [ids[0]]
    today = datetime.now(clock.SHANGHAI)
    r = client.get("/requests.json", params={
        "start_date": (today - timedelta(days=1)).isoformat(),
        "end_date": (today + timedelta(days=1)).isoformat(), "api_key": key})
    assert len(r.json()) == 3
    r = client.get("/requests.json", params={"start_date": "2020-01-01T00:00:00+08:00",
                                             "api_key": key})
    assert r.json() == []


@pytest.mark.parametrize("params, status", [
    ({"start_date": "2026-01-01", "end_date": "2026-06-01"}, 400),  # > 90 days
    ({"start_date": "2026-06-01", "end_date": "2026-01-01"}, 400),
    ({"start_date": "yesterday"}, 400),
    ({"status": "pending"}, 400),
    ({"page": "x"}, 400),  # FastAPI's own validation, turned into the spec's shape
    ({"page_size": "0"}, 400),
    ({"service_code": "parking"}, 400),
    # Found by fuzzing (issue 17 item 4): each was a 500 before.
    ({"page": "1e20"}, 400),
    ({"page": str(10**15), "page_size": "1000"}, 400),
    ({"start_date": "9999-12-31"}, 400),
    ({"end_date": "0001-01-01"}, 400),
    ({"start_date": "0001-01-01T00:00:00+14:00"}, 400),
    ({"end_date": "9999-12-31T23:59:59-14:00"}, 400),
])
def test_bad_search_is_400(client, key, params, status):
    _error(client.get("/requests.json", params={**params, "api_key": key}), status)


def test_unknown_request_is_404(client, key):
    _error(client.get("/requests/999999.json", params={"api_key": key}), 404)
    _error(client.get("/requests/abc.json", params={"api_key": key}), 404)
    _error(client.get("/nowhere.json"), 404)


def test_openapi_describes_endpoints_and_error_shape(client):
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]) == {"/services.json", "/services/{service_code}.json",
                                 "/requests.json", "/requests/{service_request_id}.json",
                                 "/servicerequestupdates.json"}
    post = doc["paths"]["/requests.json"]["post"]
    assert "application/x-www-form-urlencoded" in post["requestBody"]["content"]
    assert {"400", "403"} <= set(post["responses"])
    assert doc["components"]["schemas"]["Errors"]["type"] == "array"
    assert not any("422" in op["responses"] for p in doc["paths"].values() for op in p.values())


def test_openapi_limits_are_the_ones_enforced(client, key, city):
    props = client.get("/openapi.json").json()["components"]["schemas"]["PostRequest"][
        "properties"]
    for name, limit in intake.MAX_LENGTHS.items():
        assert {"maxLength": limit, "type": "string"} in props[name]["anyOf"], name
    assert props["coord_system"]["default"] == "wgs84"
    too_long = _form(key, first_name="明" * (intake.MAX_LENGTHS["first_name"] + 1))
    assert "first_name" in _error(client.post("/requests.json", data=too_long), 400)
    assert store_engine.table_counts(city)["request"] == 0


_FIELD_NAMES = ["api_key", "service_code", "lat", "long", "coord_system", "description",
                "address_string", "media_url", "first_name", "last_name", "phone", "email",
                "device_id", "account_id", "client_request_id", "external_id",
                "attribute[severity]", "attribute[route]", "attribute", "junk"]
_VALUES = st.one_of(
    st.text(max_size=50), st.sampled_from(["road", "28.565", "112.305", "gcj02", "bd09",
                                           "揪心", "爱心", "nan", "-inf", "1e400", ""]),
    st.floats(allow_nan=True), st.integers(), st.none(), st.booleans(),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(_FIELD_NAMES), _VALUES, max_size=10),
       use_key=st.booleans(), as_json=st.booleans(), raw=st.binary(max_size=40))
def test_fuzz_post_never_500(client, key, fields, use_key, as_json, raw):
    if use_key:
        fields["api_key"] = key
    if as_json:
        r = client.post("/requests.json", content=json.dumps(fields).encode() + raw[:3],
                        headers={"content-type": "application/json"})
    else:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        body = httpx.QueryParams(form).__str__().encode() + b"&" + raw
        r = client.post("/requests.json", content=body, headers={"content-type": FORM})
    assert r.status_code in (200, 400, 403, 409), r.text
    if r.status_code == 200:
        check(r.json(), "post_response")
    else:
        check(r.json(), "errors")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_end_to_end_uvicorn_post_then_wall_counts(tmp_path, four_grids):
    url = f"sqlite:///{tmp_path}/e2e.db"
    eng = store_engine.make_engine(url)
    with store_engine.transaction(eng) as conn:
        store_requests.write_grids(conn, four_grids)
    key = intake.create_api_key(eng, "e2e")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "geo", "--database", url, "api", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=dict(os.environ))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/services.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"the API did not start: {out}")
            time.sleep(0.2)
        before = heat.wall_kpis(eng, now=datetime.utcnow() + timedelta(seconds=1))
        points = [("28.565", "112.305"), ("28.555", "112.315"), ("29.9", "113.5")]
        acked = []
        for i, (lat, lon) in enumerate(points):
            r = httpx.post(f"{base}/requests.json", timeout=10, data={
                "api_key": key, "service_code": "dispute", "lat": lat, "long": lon,
                "device_id": "e2e", "client_request_id": str(i)})
            assert r.status_code == 200, r.text
            acked.append(r.json()[0]["service_request_id"])
        replay = httpx.post(f"{base}/requests.json", timeout=10, data={
            "api_key": key, "service_code": "dispute", "lat": "28.565", "long": "112.305",
            "device_id": "e2e", "client_request_id": "0"})
        assert replay.json()[0]["service_request_id"] == acked[0]
        assert httpx.get(f"{base}/requests.json", timeout=10).status_code == 401
        assert len(httpx.get(f"{base}/requests.json", params={"api_key": key},
                             timeout=10).json()) == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    kpis = heat.wall_kpis(eng, now=datetime.utcnow() + timedelta(seconds=1))
    assert kpis.today_requests - before.today_requests == 3
    assert kpis.open_disputes - before.open_disputes == 3
    assert store_engine.table_counts(eng)["request"] == 3
    per_grid = store_requests.read_requests(eng).groupby("grid_code", dropna=False).size()
    assert per_grid.get(NW) == 1
    eng.dispose()


def test_cli_api_key_create_list_revoke(tmp_path, capsys):
    from geo import cli

    url = f"sqlite:///{tmp_path}/k.db"
    assert cli.main(["--database", url, "api-key", "create", "--name", "wechat"]) == 0
    key = capsys.readouterr().out.strip()
    eng = store_engine.make_engine(url)
    assert intake.check_api_key(eng, key) == "wechat"
    assert cli.main(["--database", url, "api-key", "create", "--name", "wechat"]) == 2
    capsys.readouterr()
    assert cli.main(["--database", url, "api-key", "list"]) == 0
    listed = capsys.readouterr().out
    assert "wechat" in listed and "live" in listed and key not in listed
    assert cli.main(["--database", url, "api-key", "revoke", "wechat"]) == 0
    assert cli.main(["--database", url, "api-key", "revoke", "wechat"]) == 2
    capsys.readouterr()
    cli.main(["--database", url, "api-key", "list"])
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(intake.IntakeError):
        intake.check_api_key(eng, key)
    eng.dispose()


# --------------------------------------------------------------------------- who may read


RESIDENT = "我是王小明，电话13912345678，身份证43090319900101123X，5栋502楼上漏水"
READS = ["/requests.json", "/requests/{rid}.json", "/servicerequestupdates.json"]


def _resident(client, key, **kw):
    r = client.post("/requests.json", data=_form(
        key, description=RESIDENT, address_string="5栋502 座机0737-4221234",
        last_name="王", first_name="小明", phone="13912345678",
        media_url="https://img.example.cn/1.jpg", **kw))
    assert r.status_code == 200, r.text
    return r.json()[0]["service_request_id"]


@pytest.mark.parametrize("path", READS)
def test_reading_without_a_key_is_401_with_the_error_array(client, key, city, path):
    rid = _resident(client, key)
    r = client.get(path.format(rid=rid))
    assert "api_key" in _error(r, 401)
    assert r.headers["www-authenticate"].startswith("api_key")
    assert "13912345678" not in r.text and "漏水" not in r.text
    _error(client.get(path.format(rid=rid), params={"api_key": "wrong"}), 403)
    assert client.get(path.format(rid=rid), params={"api_key": key}).status_code == 200
    intake.revoke_api_key(city, "test-app")
    _error(client.get(path.format(rid=rid), params={"api_key": key}), 403)


def test_a_reporter_key_reads_text_masked_a_handler_key_in_clear(client, key, city):
    rid = _resident(client, key)
    handler = intake.create_api_key(city, "platform", role="handler")
    masked = client.get(f"/requests/{rid}.json", params={"api_key": key}).json()[0]
    check([masked], "service_requests")
    assert masked["description"] == ("我是王**，电话139****5678，身份证430***********123X，"
                                     "5栋502楼上漏水")
    assert masked["address"] == "5栋502 座机073*****1234"
    assert masked["extended_attributes"]["grid_code"] == NW  # still there for a key
    listed = client.get("/requests.json", params={"api_key": key}).text
    assert "13912345678" not in listed and "43090319900101123X" not in listed
    clear = client.get(f"/requests/{rid}.json", params={"api_key": handler}).json()[0]
    assert clear["description"] == RESIDENT
    assert (clear["lat"], clear["long"]) == (masked["lat"], masked["long"]) == (28.565, 112.305)


def test_public_feed_hides_text_of_private_categories_and_coarsens_points(city, key):
    writer = TestClient(api.create_app(city), raise_server_exceptions=False)
    dispute = _resident(writer, key, service_code="dispute")
    road = _resident(writer, key, service_code="road")
    astray = _resident(writer, key, service_code="dispute", lat="29.91234", long="113.51234")
    public = TestClient(api.create_app(city, public_feed=True), raise_server_exceptions=False)
    got = {r["service_request_id"]: r for r in public.get("/requests.json").json()}
    check(list(got.values()), "service_requests")
    assert set(got) == {dispute, road, astray}
    for rid in (dispute, astray):
        assert got[rid]["description"] is None and got[rid]["address"] is None
        assert got[rid]["media_url"] is None and got[rid]["status_notes"] is None
    assert got[road]["description"].startswith("我是王**，电话139****5678")
    # In a grid: the grid's own point, the same for every request in it; else ~100 m.
    grid = store_requests.read_grids(city, codes=[NW]).geometry.iloc[0]
    assert (got[road]["long"], got[road]["lat"]) == (got[dispute]["long"], got[dispute]["lat"])
    assert grid.contains(shapely.Point(got[road]["long"], got[road]["lat"]))
    assert (got[road]["long"], got[road]["lat"]) != (112.305, 28.565)
    assert (got[astray]["long"], got[astray]["lat"]) == (113.512, 29.912)
    one = public.get(f"/requests/{dispute}.json").json()[0]
    assert one["description"] is None and one["lat"] == got[dispute]["lat"]
    # A key still reads what a key reads, public feed or not.
    keyed = public.get(f"/requests/{dispute}.json", params={"api_key": key}).json()[0]
    assert keyed["description"] is not None and keyed["lat"] == 28.565
    _error(public.get("/requests.json", params={"api_key": "wrong"}), 403)


def test_public_updates_feed_carries_notes_of_public_categories_only(city, key):
    writer = TestClient(api.create_app(city), raise_server_exceptions=False)
    handler = intake.create_api_key(city, "platform", role="handler")
    rids = {code: _resident(writer, key, service_code=code) for code in ("dispute", "road")}
    for code, rid in rids.items():
        r = writer.post("/servicerequestupdates.json", data={
            "api_key": handler, "service_request_id": rid, "update_id": f"u-{code}",
            "updated_datetime": datetime.now(clock.SHANGHAI).isoformat(),
            "status": "accepted", "description": "已联系13912345678",
            "media_url": "https://img.example.cn/u.jpg"})
        assert r.status_code == 200, r.text
    public = TestClient(api.create_app(city, public_feed=True), raise_server_exceptions=False)
    later = datetime.utcnow() + timedelta(minutes=1)
    with clock.frozen(later):
        items = {u["service_request_id"]: u
                 for u in public.get("/servicerequestupdates.json").json()}
        keyed = {u["service_request_id"]: u for u in public.get(
            "/servicerequestupdates.json", params={"api_key": key}).json()}
    assert items[rids["road"]]["description"] == "已联系139****5678"
    assert items[rids["dispute"]]["description"] is None
    assert items[rids["dispute"]]["media_url"] is None
    assert keyed[rids["dispute"]]["description"] == "已联系139****5678"


@pytest.mark.parametrize(("value", "public"), [
    ("1", True), ("true", True), ("yes", True), ("", False), ("0", False), ("no", False)])
def test_the_public_feed_setting(city, monkeypatch, value, public):
    monkeypatch.setenv(open311_readers.PUBLIC_FEED_SETTING, value)
    assert open311_readers.public_feed_enabled() is public
    r = TestClient(api.create_app(city)).get("/requests.json")
    assert r.status_code == (200 if public else 401)


def test_openapi_documents_the_401_of_reads(client):
    doc = client.get("/openapi.json").json()
    for path, method in (("/requests.json", "get"), ("/requests/{service_request_id}.json",
                                                     "get"),
                         ("/servicerequestupdates.json", "get")):
        op = doc["paths"][path][method]
        assert {"401", "403"} <= set(op["responses"]), path
        assert "GRIDMAP_PUBLIC_FEED" in op["description"]
        assert "api_key" in {p["name"] for p in op["parameters"]}
