"""geo.intake: validation, grid assignment, idempotency and reading back, on both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pandas as pd
import pytest
import shapely

from geo import coords, intake
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests

NOW = datetime(2026, 11, 24, 2, 0, 0)  # naive UTC: 10:00 in Yiyang
NW = "430903003001001"


@pytest.fixture
def city(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    intake.clear_grid_cache()
    return engine


def _fields(**kw):
    out = {"service_code": "road", "lat": "28.565", "long": "112.305", "description": "路灯不亮"}
    out.update(kw)
    return out


def test_submit_assigns_grid_deadline_and_event(city):
    done = intake.submit(city, _fields(**{"attribute[severity]": "揪心"}), key_name="app",
                         now=NOW)
    assert done.created and NW in done.notice
    row = store_requests.find_request(city, id=done.id)
    assert row["grid_code"] == NW and not row["outside_grid"]
    assert row["severity"] == "urgent" and row["due_at"] == NOW + timedelta(hours=24)
    assert row["status"] == "reported" and row["source_crs"] == "wgs84"
    counts = store_engine.table_counts(city)
    assert counts["request"] == 1 and counts["request_event"] == 1


def test_point_outside_every_grid_is_kept_for_triage(city):
    done = intake.submit(city, _fields(lat="29.5", long="113.0"), now=NOW)
    assert done.created and "triage" in done.notice
    row = store_requests.find_request(city, id=done.id)
    assert row["grid_code"] is None and row["outside_grid"]


def test_address_naming_a_grid_places_the_request_in_it(city):
    done = intake.submit(city, _fields(lat=None, long=None,
                                       address_string="测试社区第4网格 5栋楼下"), now=NOW)
    row = store_requests.find_request(city, id=done.id)
    assert row["grid_code"] == "430903003001004" and not row["outside_grid"]
    assert row["source_crs"] == "address" and row["address"] == "测试社区第4网格 5栋楼下"
    assert 112.31 < row["lon"] < 112.32 and 28.55 < row["lat"] < 28.56  # inside SE


def test_address_naming_only_a_community_is_placed_approximately_for_triage(city):
    with store_engine.transaction(city) as conn:
        store_requests.write_admin_units(conn, pd.DataFrame({
            "code": ["430903003001"], "name": ["测试社区"], "level": ["community"],
            "parent_code": ["430903003"], "population": [3070],
            "geom": [shapely.MultiPolygon([shapely.box(112.30, 28.55, 112.32, 28.57)])]}))
    intake.clear_grid_cache()
    done = intake.submit(city, _fields(lat=None, long=None, address_string="测试社区篮球场"),
                         now=NOW)
    assert "triage" in done.notice and "测试社区" in done.notice
    row = store_requests.find_request(city, id=done.id)
    assert row["grid_code"] is None and row["outside_grid"]
    assert 112.30 <= row["lon"] <= 112.32 and 28.55 <= row["lat"] <= 28.57


def test_address_naming_nothing_known_is_refused(city):
    with pytest.raises(intake.IntakeError) as err:
        intake.submit(city, _fields(lat=None, long=None, address_string="火星基地"), now=NOW)
    assert err.value.code == 400 and err.value.field == "address_string"
    assert store_engine.table_counts(city)["request"] == 0


def test_gcj02_point_is_converted_once_and_recorded(city):
    lon, lat = coords.wgs84_to_gcj02(112.305, 28.565)
    done = intake.submit(city, _fields(long=str(lon), lat=str(lat), coord_system="gcj02"),
                         now=NOW)
    row = store_requests.find_request(city, id=done.id)
    assert row["source_crs"] == "gcj02"
    assert row["lon"] == pytest.approx(112.305, abs=1e-6)
    assert row["lat"] == pytest.approx(28.565, abs=1e-6)
    assert row["grid_code"] == NW


@pytest.mark.parametrize("fields, field", [
    ({"service_code": None}, "service_code"),
    ({"service_code": "parking"}, "service_code"),
    ({"lat": None}, "lat"),
    ({"long": "east"}, "long"),
    ({"lat": "95"}, "lat"),
    ({"lat": "nan"}, "lat"),
    ({"lat": "48.8", "long": "2.35"}, "lat"),  # Paris: not in China
    ({"description": "长" * 4001}, "description"),
    ({"coord_system": "epsg:3857"}, "coord_system"),
    ({"attribute[severity]": "很急"}, "attribute[severity]"),
    ({"attribute[route]": "自己"}, "attribute[route]"),
    ({"phone": "1" * 40}, "phone"),
])
def test_bad_input_is_refused_with_its_field(city, fields, field):
    with pytest.raises(intake.IntakeError) as err:
        intake.submit(city, _fields(**fields), now=NOW)
    assert err.value.code == 400 and err.value.field == field
    assert store_engine.table_counts(city)["request"] == 0


def test_description_of_4000_characters_is_stored_as_given(city):
    text = "<b>路灯</b>\n" + "灯" * 3990
    assert len(text) == 4000
    done = intake.submit(city, _fields(description=text), now=NOW)
    assert store_requests.find_request(city, id=done.id)["description"] == text


def test_same_device_and_client_id_returns_the_original(city):
    first = intake.submit(city, _fields(device_id="dev1", client_request_id="42"), now=NOW)
    again = intake.submit(city, _fields(device_id="dev1", client_request_id="42"), now=NOW)
    other = intake.submit(city, _fields(device_id="dev2", client_request_id="42"), now=NOW)
    assert first.created and not again.created and other.created
    assert again.id == first.id and other.id != first.id
    assert store_engine.table_counts(city)["request"] == 2
    assert store_engine.table_counts(city)["request_event"] == 2


def test_same_external_id_returns_the_original(city):
    first = intake.submit(city, _fields(external_id="wx-1"), now=NOW)
    again = intake.submit(city, _fields(external_id="wx-1"), now=NOW + timedelta(minutes=1))
    assert (again.id, again.created) == (first.id, False)
    assert first.external_id == "wx-1"  # the client's own id, as file imports match it


@pytest.mark.parametrize(("change", "field"), [
    ({"description": "changed"}, "description"),
    ({"service_code": "noise"}, "service_code"),
    ({"lat": "28.566"}, "lat"),
    ({"long": "112.306"}, "long"),
    ({"phone": "13900000000"}, "phone"),
    ({"attribute[severity]": "揪心"}, "attribute[severity]"),
    ({"coord_system": "gcj02"}, "coord_system"),
])
def test_a_resend_whose_content_differs_is_refused_naming_the_field(city, change, field):
    first = intake.submit(city, _fields(external_id="wx-1"), key_name="app", now=NOW)
    with pytest.raises(intake.IntakeError) as err:
        intake.submit(city, _fields(external_id="wx-1", **change), key_name="app", now=NOW)
    assert (err.value.code, err.value.field) == (409, field)
    assert "wx-1" in err.value.description
    # The same with device_id + client_request_id.
    intake.submit(city, _fields(device_id="d", client_request_id="1"), key_name="app", now=NOW)
    with pytest.raises(intake.IntakeError) as err:
        intake.submit(city, _fields(device_id="d", client_request_id="1", **change),
                      key_name="app", now=NOW)
    assert (err.value.code, err.value.field) == (409, field)
    row = store_requests.find_request(city, id=first.id)
    assert row["description"] == "路灯不亮" and row["category"] == "road"
    assert store_engine.table_counts(city)["request"] == 2


@pytest.mark.parametrize("ids", [
    {"external_id": "wx-1"},
    {"device_id": "phone-7", "client_request_id": "42"},
    {"client_request_id": "42"},  # no device_id at all
    {"device_id": "", "client_request_id": "42"},
])
def test_resends_are_recognised_per_key_never_across_keys(city, ids):
    a = intake.submit(city, _fields(**ids), key_name="wechat", now=NOW)
    b = intake.submit(city, _fields(**ids, description="另一个客户端的诉求"), key_name="hotline",
                      now=NOW)
    assert a.created and b.created and a.id != b.id
    assert a.external_id != b.external_id
    assert intake.submit(city, _fields(**ids), key_name="wechat", now=NOW).id == a.id
    again = intake.submit(city, _fields(**ids, description="另一个客户端的诉求"),
                          key_name="hotline", now=NOW)
    assert (again.id, again.created) == (b.id, False)
    stored = store_requests.read_requests(city, columns=["id", "description"])
    assert sorted(stored["description"]) == sorted(["路灯不亮", "另一个客户端的诉求"])
    assert store_engine.table_counts(city)["request_event"] == 2


def test_an_external_id_held_by_a_file_import_is_not_a_resend(city):
    with store_engine.transaction(city) as conn:
        store_requests.insert_requests(conn, pd.DataFrame([dict(
            external_id="W-1", grid_code=NW, outside_grid=False, lon=112.305, lat=28.565,
            source="hotline", category="road", severity="routine", status="reported",
            reported_at=NOW, description="文件导入")]))
    done = intake.submit(city, _fields(external_id="W-1"), key_name="app", now=NOW)
    assert done.created and done.external_id.startswith("ext-")
    assert intake.submit(city, _fields(external_id="W-1"), key_name="app", now=NOW).id == done.id


def test_concurrent_duplicate_posts_store_one_request_per_key(city):
    def post(i):
        key = ("wechat", "hotline")[i % 2]
        ids = ({"device_id": "dev9", "client_request_id": "7"} if i % 4 < 2
               else {"external_id": "shared-7"})
        return key, intake.submit(city, _fields(**ids, description=key), key_name=key)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(32)))
    by_key: dict[tuple, set] = {}
    for i, (key, done) in enumerate(results):
        by_key.setdefault((key, i % 4 < 2), set()).add(done.id)
    # Two keys × two kinds of id: four requests, each answered with one id every time.
    assert all(len(ids) == 1 for ids in by_key.values())
    assert len(set().union(*by_key.values())) == 4
    assert sum(done.created for _, done in results) == 4
    assert store_engine.table_counts(city)["request"] == 4
    assert store_engine.table_counts(city)["request_event"] == 4


def test_personal_fields_are_stored_but_never_returned(city):
    done = intake.submit(city, _fields(first_name="小明", last_name="王", phone="13800000000",
                                       email="w@example.cn"), now=NOW)
    stored = store_requests.read_requests(city, columns=["reporter_name", "reporter_phone",
                                                         "reporter_email"])
    assert stored.iloc[0].tolist() == ["王 小明", "13800000000", "w@example.cn"]
    shown = intake.get(city, done.id)
    text = repr(shown) + repr(intake.query(city))
    for secret in ("小明", "13800000000", "w@example.cn"):
        assert secret not in text
    assert "reporter_email" not in store_requests.read_requests(city).columns


def test_get_and_query_in_spec_shape(city):
    a = intake.submit(city, _fields(), now=NOW)
    b = intake.submit(city, _fields(service_code="noise"), now=NOW + timedelta(hours=1))
    got = intake.get(city, a.id)
    assert got["service_request_id"] == str(a.id) and got["status"] == "open"
    assert got["requested_datetime"] == "2026-11-24T10:00:00+08:00"
    # Routine: 7 working days after Tuesday 11-24 (11-25..27, 11-30, 12-01..03), due at
    # the end of the working day (geo.deadlines).
    assert got["expected_datetime"] == "2026-12-03T17:00:00+08:00"
    assert got["extended_attributes"]["status"] == "reported"
    assert got["extended_attributes"]["grid_code"] == NW
    assert [r["service_request_id"] for r in intake.query(city)] == [str(b.id), str(a.id)]
    assert [r["service_code"] for r in intake.query(city, service_code="noise")] == ["noise"]
    assert intake.query(city, status="closed") == []
    assert len(intake.query(city, ids=[a.id, "junk"])) == 1
    assert len(intake.query(city, page=2, page_size=1)) == 1
    assert intake.query(city, start=NOW + timedelta(minutes=30))[0]["service_code"] == "noise"
    with pytest.raises(intake.IntakeError) as err:
        intake.get(city, 10**9)
    assert err.value.code == 404


def test_api_keys_store_only_a_hash(city):
    key = intake.create_api_key(city, "wechat", now=NOW)
    assert intake.check_api_key(city, key, now=NOW) == "wechat"
    listed = store_access.list_api_keys(city)
    assert listed.name.tolist() == ["wechat"] and "key_hash" not in listed.columns
    with pytest.raises(ValueError):
        intake.create_api_key(city, "wechat")
    with pytest.raises(intake.IntakeError) as err:
        intake.check_api_key(city, key + "x")
    assert err.value.code == 403
    assert intake.revoke_api_key(city, "wechat", now=NOW)
    with pytest.raises(intake.IntakeError):
        intake.check_api_key(city, key)
