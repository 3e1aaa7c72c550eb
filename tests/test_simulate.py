"""The live simulator: its stream of Open311 reports, the request flow, and a short run."""

from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import coords, demo, simulate, vocab
from geo.store import engine as store_engine
from geo.store import live as store_live
from geo.store import requests as store_requests
from geo.store import updates as store_updates

START = datetime(2026, 11, 24, 2, 0)  # 10:00 in Asia/Shanghai: the morning peak


@pytest.fixture
def city(four_grids):
    return simulate.SimCity.from_grids(four_grids)


def _take(city, n, *, seed=1, rate=5.0, start=START, rhythm=True):
    gen = simulate.stream(city, rate=rate, start=start, rng=np.random.default_rng(seed),
                          rhythm=rhythm)
    return [next(gen) for _ in range(n)]


def _metres(lon1, lat1, lon2, lat2):
    dy = (lat2 - lat1) * 111_320.0
    dx = (lon2 - lon1) * 111_320.0 * np.cos(np.radians(lat1))
    return float(np.hypot(dx, dy))


def test_stream_is_deterministic_given_seed(city):
    a = _take(city, 300, seed=7)
    b = _take(city, 300, seed=7)
    c = _take(city, 300, seed=8)
    assert [r.fields for r in a] == [r.fields for r in b]
    assert [r.at for r in a] == [r.at for r in b]
    assert [r.fields for r in a] != [r.fields for r in c]


def test_reports_are_open311_fields_with_unique_client_ids(city):
    reports = _take(city, 500)
    ids = [(r.fields["device_id"], r.fields["client_request_id"]) for r in reports]
    assert len(set(ids)) == len(ids)
    for r in reports:
        f = r.fields
        assert f["service_code"] in vocab.CATEGORIES
        assert f["attribute[severity]"] in vocab.SEVERITIES
        assert f["attribute[route]"] in vocab.ROUTES
        assert f["coord_system"] in ("wgs84", "gcj02", "bd09")
        assert f["description"]
        float(f["lat"]), float(f["long"])
    assert [r.at for r in reports] == sorted(r.at for r in reports)
    # A rerun later does not replay the same ids (it would be deduplicated away).
    later = _take(city, 5, start=START + timedelta(hours=1))
    assert not {r.fields["client_request_id"] for r in later} & {i for _, i in ids}


def test_points_fall_in_their_grids_in_every_coord_system(city, four_grids):
    reports = _take(city, 1000)
    codes = city.index.assign([r.lon for r in reports], [r.lat for r in reports])
    assert list(codes) == [r.grid_code for r in reports]
    systems = Counter(r.fields["coord_system"] for r in reports)
    assert 0.44 <= systems["gcj02"] / len(reports) <= 0.56
    assert systems["bd09"] > 0 and systems["wgs84"] > 0
    for r in reports:
        x, y = coords.to_wgs84(float(r.fields["long"]), float(r.fields["lat"]),
                               crs=r.fields["coord_system"])
        assert _metres(r.lon, r.lat, float(x), float(y)) < 1.0
    # Weighted by population: grid 4 (900) gets more than grid 2 (650).
    per_grid = Counter(r.grid_code for r in reports)
    assert per_grid[four_grids.code[3]] > per_grid[four_grids.code[1]]


def test_category_mix_and_severities_follow_the_demo(city):
    reports = [r for r in _take(city, 6000, rhythm=False) if r.burst is None]
    n = len(reports)
    cats = Counter(r.fields["service_code"] for r in reports)
    mix = demo.CATEGORY_MIX
    total = sum(mix.values())
    for code, weight in mix.items():
        expected = weight / total * (1 - simulate.DISPUTE_SHARE)
        assert abs(cats[code] / n - expected) < 0.02, code
    assert cats["dispute"] / n < 0.03
    sev = Counter(r.fields["attribute[severity]"] for r in reports
                  if r.fields["service_code"] != "dispute")
    assert abs(sev["urgent"] / sum(sev.values()) - 0.04) < 0.015
    assert all(r.fields["attribute[route]"] == "charity" for r in reports
               if r.fields["service_code"] == "welfare")


def test_dispute_bursts_are_close_in_space_and_time(city):
    reports = _take(city, 3000, rhythm=False)
    bursts: dict[int, list] = {}
    for r in reports:
        if r.burst is not None:
            bursts.setdefault(r.burst, []).append(r)
    assert len(bursts) >= 4
    for members in list(bursts.values())[:-1]:  # the last may be cut off by the sample
        assert simulate.BURST_SIZE[0] <= len(members) <= simulate.BURST_SIZE[1]
        assert all(r.fields["service_code"] == "dispute" for r in members)
        first = members[0]
        for r in members:
            assert _metres(first.lon, first.lat, r.lon, r.lat) <= simulate.BURST_RADIUS_M
            assert r.at - first.at <= timedelta(seconds=simulate.BURST_MAX_SECONDS)


def test_rate_follows_the_daily_rhythm(city):
    def per_second(start):
        reports = _take(city, 400, start=start, rate=2.0)
        return 400 / (reports[-1].at - start).total_seconds()

    peak = per_second(datetime(2026, 11, 24, 2, 0))  # 10:00 local
    night = per_second(datetime(2026, 11, 23, 19, 0))  # 03:00 local
    assert peak > 2.0 * 1.4
    assert night < 2.0 * 0.2
    flat = _take(city, 2000, rate=2.0, rhythm=False)
    assert 1.8 < 2000 / (flat[-1].at - START).total_seconds() < 2.3


# --------------------------------------------------------------------------- advance


NOW = datetime(2026, 11, 24, 8, 0)


def _req(ext, grid, status, *, reported=NOW - timedelta(hours=5), resolved=None, sat=None):
    return dict(external_id=ext, grid_code=grid, outside_grid=False, lon=112.305, lat=28.565,
                source_crs="wgs84", source="miniprogram", category="road", severity="urgent",
                route="government", status=status, reported_at=reported,
                due_at=reported + timedelta(hours=24), resolved_at=resolved,
                closed_at=resolved, satisfaction=sat, description="测试")


def _seed_flow(engine, four_grids):
    g = four_grids.code[0]
    rows = [_req("f-rep", g, "reported"), _req("f-acc", g, "accepted"),
            _req("f-dis", g, "dispatched"), _req("f-inp", g, "in_progress"),
            _req("f-res", g, "resolved", resolved=NOW - timedelta(hours=1)),
            _req("f-old", g, "resolved", resolved=NOW - timedelta(days=5)),
            _req("f-rat", g, "rated", resolved=NOW - timedelta(hours=2), sat="satisfied"),
            _req("f-new", g, "reported", reported=NOW + timedelta(hours=1))]
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
        store_requests.insert_requests(conn, pd.DataFrame(rows))
        return dict(zip([r["external_id"] for r in rows],
                        store_requests.request_ids(conn, [r["external_id"] for r in rows]),
                        strict=True))


def _statuses(engine):
    frame = store_requests.read_requests(engine)
    return dict(zip(frame.external_id, frame.status, strict=True)), frame


def test_advance_moves_each_open_request_one_step_with_one_event(engine, four_grids):
    ids = _seed_flow(engine, four_grids)
    rng = np.random.default_rng(0)
    # Years of city time: every eligible request surely takes its step, and only one.
    n = simulate.advance(engine, now=NOW, rng=rng, elapsed=timedelta(days=3650))
    status, frame = _statuses(engine)
    assert n == 5
    assert status == {"f-rep": "accepted", "f-acc": "dispatched", "f-dis": "in_progress",
                      "f-inp": "resolved", "f-res": "rated", "f-old": "resolved",
                      "f-rat": "rated", "f-new": "reported"}
    row = frame.set_index("external_id")
    assert pd.Timestamp(row.loc["f-inp", "resolved_at"]) == pd.Timestamp(NOW)
    assert pd.Timestamp(row.loc["f-inp", "closed_at"]) == pd.Timestamp(NOW)
    assert row.loc["f-res", "satisfaction"] in vocab.SATISFACTION
    assert pd.Timestamp(row.loc["f-res", "closed_at"]) == pd.Timestamp(NOW)
    events = store_live.request_events_for(engine, ids.values())
    assert len(events) == 5
    by_id = {v: k for k, v in ids.items()}
    moved = {by_id[int(e.request_id)]: (e.from_status, e.to_status, e.actor)
             for e in events.itertuples()}
    assert moved == {"f-rep": ("reported", "accepted", "指挥中心"),
                     "f-acc": ("accepted", "dispatched", "指挥中心"),
                     "f-dis": ("dispatched", "in_progress", "网格员"),
                     "f-inp": ("in_progress", "resolved", "网格员"),
                     "f-res": ("resolved", "rated", "居民")}
    assert all(pd.Timestamp(t) == pd.Timestamp(NOW) for t in events["at"])
    # Written by the update path (geo.updates), as an import or an Open311 update would be.
    written = store_updates.read_events(engine, ids=ids.values())
    assert set(written.kind) == {"status"}
    assert all(pd.Timestamp(t) == pd.Timestamp(NOW) for t in written["recorded_at"])
    assert pd.Timestamp(row.loc["f-rep", "updated_at"]) == pd.Timestamp(NOW)


def test_advance_only_moves_forward(engine, four_grids):
    ids = _seed_flow(engine, four_grids)
    order = list(vocab.STATUSES)
    before, _ = _statuses(engine)
    for step in range(6):
        simulate.advance(engine, now=NOW + timedelta(minutes=step), rng=np.random.default_rng(step),
                         elapsed=timedelta(hours=3))
        after, _ = _statuses(engine)
        for k in after:
            assert order.index(after[k]) - order.index(before[k]) in (0, 1), k
        before = after
    events = store_live.request_events_for(engine, ids.values())
    for e in events.itertuples():
        assert order.index(e.to_status) == order.index(e.from_status) + 1
    # One event per transition: the events replay each request to where it is now.
    last = events.groupby("request_id").to_status.last()
    by_id = {v: k for k, v in ids.items()}
    for rid, to in last.items():
        assert before[by_id[int(rid)]] == to


def test_advance_with_no_time_moves_nothing(engine, four_grids):
    ids = _seed_flow(engine, four_grids)
    assert simulate.advance(engine, now=NOW, rng=np.random.default_rng(0),
                            elapsed=timedelta(0)) == 0
    assert store_live.request_events_for(engine, ids.values()).empty


def test_advance_rate_matches_mean_delays():
    # One step of 16 min mean over 1 min: about 6% move; the hazard is what advance uses.
    p = -np.expm1(-(1 / 60) / simulate.STEP_MEAN_HOURS["reported"])
    assert 0.05 < p < 0.07
    # 82% of resolved requests are rated within the two days residents have.
    rated = -np.expm1(-simulate.RATE_WINDOW.total_seconds() / 3600 / simulate.RATE_MEAN_HOURS)
    assert abs(rated - 0.82) < 0.01


# --------------------------------------------------------------------------- run


def test_run_with_injected_writer_stops_by_itself(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    got: list[dict] = []

    def writer(fields):
        got.append(fields)
        return "duplicate" if len(got) % 10 == 0 else "accepted"

    shown: list[float] = []
    rep = simulate.run(engine, rate=40.0, duration=1.5, seed=3, rhythm=False, writer=writer,
                       progress=lambda f, _m: shown.append(f))
    assert 1.4 <= rep.seconds < 3.0
    assert rep.sent == len(got) == rep.accepted + rep.duplicates
    assert 20 <= rep.sent <= 120
    assert rep.errors == 0
    assert shown and shown[-1] == 1.0


def test_run_counts_writer_errors_and_goes_on(engine, four_grids):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)

    def writer(_fields):
        raise RuntimeError("HTTP 503: busy")

    rep = simulate.run(engine, rate=30.0, duration=0.6, seed=1, rhythm=False, writer=writer)
    assert rep.sent == rep.errors > 0
    assert "HTTP 503" in rep.messages[0]


def test_run_via_db_writes_every_accepted_report(engine, four_grids):
    intake = pytest.importorskip("geo.intake")
    intake.clear_grid_cache()
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    before = store_engine.table_counts(engine)["request"]
    rep = simulate.run(engine, rate=25.0, duration=2.0, via="db", seed=5, rhythm=False,
                       speedup=2000.0, advance_every=0.5)
    after = store_engine.table_counts(engine)["request"]
    assert rep.errors == 0, rep.messages
    assert rep.sent == rep.accepted > 10
    assert after - before == rep.sent
    frame = store_requests.read_requests(engine)
    assert frame.grid_code.notna().mean() > 0.95
    assert set(frame.source_crs) >= {"wgs84", "gcj02"}
    # With the flow 2000× faster, some new reports were accepted within the run.
    assert rep.advanced > 0
    assert (frame.status != "reported").any()


def test_grid_pick_is_weighted_by_population(city):
    rng = np.random.default_rng(0)
    picks = Counter(city.pick(rng) for _ in range(20000))
    w = np.diff(np.concatenate([[0.0], city.weights]))
    for i, share in enumerate(w):
        assert abs(picks[i] / 20000 - share) < 0.015
    assert shapely.contains_xy(city.grids.geometry.iloc[0], 112.305, 28.565)


def test_cli_parser_registers_simulate():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--database")
    sub = parser.add_subparsers(dest="command")
    simulate.add_parser(sub)
    args = parser.parse_args(["simulate", "--rate", "2", "--duration", "3", "--via", "api",
                              "--api-key", "k", "--seed", "4"])
    assert (args.rate, args.duration, args.via, args.api_key, args.seed) == (2.0, 3.0, "api",
                                                                              "k", 4)
    assert args.func is simulate._cmd_simulate
