"""geo.wall: one cut-off per refresh, so tiles, map and ticker agree; the ticker's entries."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest

from geo import deadlines, heat, updates
from geo import wall as geo_wall
from geo.access import Scope
from geo.store import counts as store_counts
from geo.store import engine as store_engine
from geo.store import requests as store_requests

POLICY = deadlines.DeadlinePolicy()
GRID, OTHER = "430903003001001", "430903003001002"
MINUTE = datetime(2026, 12, 2, 2, 0)  # 10:00 in Shanghai


@pytest.mark.parametrize(("now", "latest", "expected"), [
    # Nothing newer than the minute: the minute (cached for the whole minute).
    (MINUTE + timedelta(seconds=40), None, MINUTE),
    (MINUTE + timedelta(seconds=40), MINUTE - timedelta(hours=3), MINUTE),
    # A change within the minute moves the cut-off up to it, rounded up to the second.
    (MINUTE + timedelta(seconds=40), MINUTE + timedelta(seconds=30, microseconds=400),
     MINUTE + timedelta(seconds=31)),
    # A change on a whole second: the next second, so that [since, cut-off) holds it.
    (MINUTE + timedelta(seconds=40), MINUTE + timedelta(seconds=30),
     MINUTE + timedelta(seconds=31)),
    # Never past the present (a client clock running ahead waits for the wall's).
    (MINUTE + timedelta(seconds=40), MINUTE + timedelta(seconds=55),
     MINUTE + timedelta(seconds=40)),
    (MINUTE + timedelta(seconds=40, microseconds=1), MINUTE + timedelta(hours=5),
     MINUTE + timedelta(seconds=41)),
])
def test_cutoff_is_the_minute_or_the_latest_change_never_the_future(now, latest, expected):
    assert geo_wall.cutoff(now=now, latest=latest) == expected


def _request(ext, *, reported, due, severity="urgent", grid=GRID, status="reported"):
    return dict(external_id=ext, grid_code=grid, outside_grid=False, lon=112.305, lat=28.565,
                source="hotline", category="safety", severity=severity, route="government",
                status=status, reported_at=reported, due_at=due, description=f"{ext} 燃气泄漏")


def _insert(engine, *rows):
    with store_engine.transaction(engine) as conn:
        store_requests.insert_requests(conn, pd.DataFrame(list(rows)))


def _figures(engine, at: geo_wall.Refresh) -> dict:
    """Every figure a wall refresh shows, computed at its one cut-off (as ui.wall does)."""
    kpis = heat.wall_kpis(engine, now=at.cutoff)
    heat_map = store_counts.requests_per_grid(engine, since=at.cutoff - timedelta(days=7),
                                              until=at.cutoff)
    ticker = geo_wall.ticker(engine, cutoff=at.cutoff, policy=POLICY)
    return {"today": kpis.today_requests, "open": kpis.open, "grid": int(heat_map.get(GRID, 0)),
            "ticker": set(ticker["external_id"])}


def test_a_request_committed_before_a_refresh_is_in_every_figure_of_it(engine):
    _insert(engine, _request("old", reported=MINUTE - timedelta(days=3),
                             due=MINUTE - timedelta(days=2), grid=OTHER, severity="routine"))
    # Reported (and committed) 30.4 s into the minute; the wall refreshes at 40 s.
    new = MINUTE + timedelta(seconds=30, microseconds=400_000)
    _insert(engine, _request("new", reported=new, due=new + timedelta(hours=24)))
    at = geo_wall.refresh_point(engine, now=MINUTE + timedelta(seconds=40))
    assert at.cutoff == MINUTE + timedelta(seconds=31)
    assert _figures(engine, at) == {"today": 1, "open": 2, "grid": 1, "ticker": {"new"}}
    # What the wall did before: tiles and map at the minute miss it, the ticker did not.
    before = _figures(engine, geo_wall.Refresh(at.stamp, MINUTE))
    assert (before["today"], before["open"], before["grid"]) == (0, 1, 0)

    # Resolved 20 s later (the Open311 update path); the next refresh reflects it at once.
    with store_engine.transaction(engine) as conn:
        done = updates.apply_updates(conn, pd.DataFrame([dict(
            external_id="new", status="resolved", at=MINUTE + timedelta(seconds=50))]),
            actor="api:handler", now=MINUTE + timedelta(seconds=52))
    assert done["verdict"].tolist() == ["updated"]
    later = geo_wall.refresh_point(engine, now=MINUTE + timedelta(seconds=58))
    # The update was recorded on the whole second :52: the cut-off is the second after it.
    assert later.stamp != at.stamp and later.cutoff == MINUTE + timedelta(seconds=53)
    # Still reported today and in the grid's heat; no longer open, off the ticker.
    assert _figures(engine, later) == {"today": 1, "open": 1, "grid": 1, "ticker": set()}


def test_ticker_lists_new_urgent_and_newly_overdue_with_levels(engine):
    cut = MINUTE
    _insert(engine,
            _request("urgent-new", reported=cut - timedelta(hours=2),
                     due=cut + timedelta(hours=22)),
            # Routine, its deadline passed 3 h ago: newly overdue.
            _request("late", reported=cut - timedelta(days=9), due=cut - timedelta(hours=3),
                     severity="routine", status="in_progress"),
            # Overdue for two days: not "newly", and not urgent: not on the ticker.
            _request("stale", reported=cut - timedelta(days=12), due=cut - timedelta(days=2),
                     severity="routine", status="in_progress"),
            # Urgent and overdue since 1 h: one entry, as newly overdue (the later moment).
            _request("urgent-late", reported=cut - timedelta(hours=25),
                     due=cut - timedelta(hours=1)))
    rows = geo_wall.ticker(engine, cutoff=cut, policy=POLICY).set_index("external_id")
    assert list(rows.index) == ["urgent-late", "urgent-new", "late"]
    assert rows["kind"].to_dict() == {"urgent-late": "newly_overdue", "urgent-new": "urgent",
                                      "late": "newly_overdue"}
    assert rows["level"].to_dict() == {"urgent-late": 2, "urgent-new": 0, "late": 2}
    assert rows.loc["urgent-new", "left"] == pd.Timedelta(hours=22)
    assert rows.loc["late", "left"] == pd.Timedelta(hours=-3)
    # The tile counts the same two as newly overdue, of three overdue.
    kpis = heat.wall_kpis(engine, now=cut)
    assert (kpis.overdue, kpis.newly_overdue) == (3, 2)


def test_empty_ticker(engine):
    rows = geo_wall.ticker(engine, cutoff=MINUTE, policy=POLICY)
    assert rows.empty and {"kind", "level", "left"} <= set(rows.columns)


def test_supervision_and_claims_at_one_cutoff(engine, four_grids):
    from geo.store.area import AreaFilter
    from tests.supervision_story import CUTOFF, tell
    from tests.tiny_city import C1

    tell(engine, four_grids)
    figures = geo_wall.supervision(engine, cutoff=CUTOFF)
    # Open at the cut-off: r3, r5 (urged in October) and r6.
    assert figures.supervised_open == 3
    # Urged in the 30 days before: r1 r2 r3 r5 r6 r7; due r1 r2 r3 r5 r7; on time r1 r7.
    recent = figures.recent
    assert (recent.supervised, recent.supervised_due, recent.supervised_on_time) == (6, 5, 2)
    assert not recent.small_sample and recent.on_time_rate == pytest.approx(0.4)
    assert recent.returns is None  # not shown on the wall, not counted
    assert (figures.claims.claimable, figures.claims.claimed) == (2, 1)
    assert figures.claims.claim_rate == pytest.approx(0.5)
    # One community: r6 open; r1 r2 r6 urged; m1 claimed of m1 m2.
    mine = geo_wall.supervision(engine, cutoff=CUTOFF, area=AreaFilter(grid_prefix=C1))
    assert mine.supervised_open == 1
    assert (mine.recent.supervised, mine.recent.supervised_due) == (3, 2)
    assert mine.recent.small_sample and math.isnan(mine.recent.on_time_rate)
    assert (mine.claims.claimable, mine.claims.claimed) == (2, 1)
    # Before the first urge of November and the cards: only r5 (urged Oct 30), open.
    before = geo_wall.supervision(engine, cutoff=datetime(2026, 11, 1))
    assert (before.supervised_open, before.recent.supervised, before.claims.claimable) == (
        1, 1, 0)


RESIDENT = "我是王小明13912345678，身份证43090319900101123X，住3栋502，邻居打我"


@pytest.mark.parametrize(("scope", "clear"), [
    (Scope("wall", ("430903003001",), "wall:hall"), False),
    (Scope("commander", None, "c"), False),
    (Scope("planner", None, "p"), False),
    (Scope("grid_head", (GRID,), "g"), True),  # the request is in their grid
    (Scope("grid_head", (OTHER,), "g"), None),  # not theirs: not even read
    (Scope("admin", None, "a"), True),
])
def test_ticker_masks_residents_phone_id_and_name_for_masked_readers(engine, four_grids,
                                                                     scope, clear):
    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)
    row = _request("pii", reported=MINUTE - timedelta(minutes=5), due=MINUTE + timedelta(days=1))
    _insert(engine, {**row, "description": RESIDENT, "reporter_name": "王 小明",
                     "reporter_phone": "13912345678"})
    area = heat.area_filter(engine, None, scope=scope)
    got = geo_wall.ticker(engine, cutoff=MINUTE, policy=POLICY, area=area)
    assert "reporter_name" not in got.columns and "reporter_phone" not in got.columns
    if clear is None:
        assert got.empty
        return
    text = got["description"].iloc[0]
    if clear:
        assert text == RESIDENT
    else:
        assert text == "我是王**139****5678，身份证430***********123X，住3栋502，邻居打我"


@pytest.mark.parametrize(("now", "step", "expected"), [
    # The cut-off steps with the refresh interval, counted from midnight (UTC).
    (MINUTE + timedelta(seconds=7.5), timedelta(seconds=5), MINUTE + timedelta(seconds=5)),
    (MINUTE + timedelta(seconds=4), timedelta(seconds=5), MINUTE),
    (MINUTE + timedelta(seconds=59), timedelta(seconds=2), MINUTE + timedelta(seconds=58)),
    (MINUTE + timedelta(minutes=1, seconds=20), timedelta(seconds=30),
     MINUTE + timedelta(minutes=1)),
    # The default (and refresh=60) is the minute, as before.
    (MINUTE + timedelta(seconds=40), timedelta(seconds=60), MINUTE),
])
def test_cutoff_steps_with_the_refresh_interval(now, step, expected):
    assert geo_wall.cutoff(now=now, latest=None, step=step) == expected
    # A change within the step still moves the cut-off up to it.
    latest = expected + timedelta(seconds=0.5)
    if latest < now:
        assert geo_wall.cutoff(now=now, latest=latest, step=step) == expected + timedelta(
            seconds=1)


def test_layer_counts_per_grid_at_the_cutoff(engine, four_grids):
    from geo.access import Scope

    with store_engine.transaction(engine) as conn:
        store_requests.write_grids(conn, four_grids)  # GRID and OTHER are its first two
    cut = MINUTE
    dispute = dict(category="dispute", severity="pressing")
    _insert(engine,
            # GRID: open in time, open overdue, an open dispute (in time), one resolved.
            _request("open", reported=cut - timedelta(days=1), due=cut + timedelta(days=1)),
            _request("late", reported=cut - timedelta(days=5), due=cut - timedelta(hours=1)),
            {**_request("fight", reported=cut - timedelta(hours=3),
                        due=cut + timedelta(days=2)), **dispute},
            {**_request("done", reported=cut - timedelta(days=2), due=cut - timedelta(days=1)),
             "status": "resolved", "resolved_at": cut - timedelta(days=1, hours=2)},
            # OTHER: an overdue dispute; and one reported after the cut-off (not counted).
            {**_request("old-fight", reported=cut - timedelta(days=9),
                        due=cut - timedelta(days=2), grid=OTHER), **dispute},
            _request("after", reported=cut + timedelta(seconds=1),
                     due=cut + timedelta(days=1), grid=OTHER),
            # Resolved after the cut-off: still open at it.
            {**_request("later", reported=cut - timedelta(days=3), due=cut - timedelta(days=1),
                        grid=OTHER), "status": "resolved",
             "resolved_at": cut + timedelta(hours=1)})
    got = store_counts.backlog_per_grid(engine, as_of=cut).set_index("grid_code")
    assert got.to_dict("index") == {
        GRID: {"open": 3, "overdue": 1, "disputes_open": 1},
        OTHER: {"open": 2, "overdue": 2, "disputes_open": 1},
    }
    # Each layer maps one of these columns; the heat layer counts reports in the window.
    assert geo_wall.LAYER_COLUMN == {"heat": "requests", "backlog": "open",
                                     "overdue": "overdue", "disputes": "disputes_open"}
    # Scoped like every read: a scope of one grid sees that grid's row only, one of
    # another community nothing.
    mine = store_counts.backlog_per_grid(engine, as_of=cut, scope=Scope("grid_head", (OTHER,)))
    assert mine["grid_code"].tolist() == [OTHER]
    elsewhere = store_counts.backlog_per_grid(engine, as_of=cut,
                                              scope=Scope("grid_head", ("430902005001",)))
    assert elsewhere.empty
    # Before anything was reported: no row.
    assert store_counts.backlog_per_grid(engine, as_of=cut - timedelta(days=30)).empty
