"""geo.supervision and its SQL (geo.store.counts): 督办, its on-time rate and 回退 by hand.

The story is tests/supervision_story.py, played through geo.actions.act on both backends.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from geo import bulletin, heat, supervision
from geo.store import counts as store_counts
from geo.store.area import AreaFilter
from tests.supervision_story import NOVEMBER, tell
from tests.tiny_city import C1, C2, C3, T1, T2, A, B, C, D


@pytest.fixture
def story(engine, four_grids):
    ids = tell(engine, four_grids)
    return engine, ids


def _window(month=NOVEMBER):
    _, since, until = bulletin.month_window(month)
    return since, until


def test_supervised_counts_per_grid_in_november(story):
    engine, _ = story
    since, until = _window()
    frame = store_counts.supervised_counts_per_grid(engine, since=since, until=until)
    assert frame.to_dict("records") == [
        # r1 on time, r2 late (its second urge not counted again)
        dict(grid_code=A, supervised=2, supervised_open=0, supervised_due=2,
             supervised_resolved=2, supervised_on_time=1),
        # r6: urged, open, not yet due
        dict(grid_code=B, supervised=1, supervised_open=1, supervised_due=0,
             supervised_resolved=0, supervised_on_time=0),
        # r3: open past its deadline
        dict(grid_code=C, supervised=1, supervised_open=1, supervised_due=1,
             supervised_resolved=0, supervised_on_time=0),
        # r7 on time; r5 was urged in October
        dict(grid_code=D, supervised=1, supervised_open=0, supervised_due=1,
             supervised_resolved=1, supervised_on_time=1),
    ]
    assert store_counts.returns_per_grid(engine, since=since, until=until).to_dict(
        "records") == [dict(grid_code=C, returns=2)]


def test_state_is_judged_as_of_the_moment_asked(story):
    engine, _ = story
    since, until = _window()
    # On Nov 11, r2 (due Nov 10) is overdue and open: due, not resolved, not on time.
    early = store_counts.supervised_totals(engine, since=since, until=until,
                                           as_of=datetime(2026, 11, 11))
    assert early == dict(supervised=5, supervised_open=3, supervised_due=4,
                         supervised_resolved=2, supervised_on_time=2)


def test_totals_and_the_small_sample(story):
    engine, _ = story
    since, until = _window()
    figures = supervision.supervision_totals(engine, since=since, until=until)
    assert figures == supervision.SupervisionFigures(
        supervised=5, supervised_open=2, supervised_due=4, supervised_resolved=3,
        supervised_on_time=2, returns=2)
    # 4 due is under MIN_SAMPLE: no percentage.
    assert figures.small_sample and math.isnan(figures.on_time_rate)
    october = supervision.supervision_totals(engine, since=datetime(2026, 9, 30, 16),
                                             until=datetime(2026, 10, 31, 16))
    assert (october.supervised, october.supervised_due, october.returns) == (1, 0, 0)
    # An area: only 甲社区's grids.
    mine = supervision.supervision_totals(engine, since=since, until=until,
                                          area=AreaFilter(grid_prefix=C1))
    assert (mine.supervised, mine.supervised_due, mine.supervised_on_time,
            mine.returns) == (3, 2, 1, 0)
    # Everything up to the end of November: the backlog of supervised requests still open.
    backlog = supervision.supervision_totals(engine, since=None, until=until)
    assert (backlog.supervised, backlog.supervised_open, backlog.returns) == (6, 3, 2)


def test_on_time_rate_needs_the_minimum_sample():
    assert supervision.MIN_SAMPLE == 5
    assert supervision.on_time_rate(4, 5) == pytest.approx(0.8)
    assert math.isnan(supervision.on_time_rate(2, 3))
    assert math.isnan(supervision.on_time_rate(0, 0))
    assert supervision.on_time_rate(2, 3, min_sample=1) == pytest.approx(2 / 3)


def test_per_unit_rolls_grids_up_to_communities_and_townships(story):
    engine, _ = story
    since, until = _window()
    hierarchy = heat.unit_hierarchy(engine)
    cols = ["supervised", "supervised_open", "supervised_due", "supervised_resolved",
            "supervised_on_time", "returns"]
    community = supervision.supervision_per_unit(engine, since=since, until=until,
                                                 by="community", hierarchy=hierarchy)
    assert list(community.columns) == list(supervision.UNIT_COLUMNS)
    assert community.index.tolist() == [C1, C2, C3]
    assert community[cols].values.tolist() == [[3, 1, 2, 2, 1, 0], [1, 1, 1, 0, 0, 2],
                                               [1, 0, 1, 1, 1, 0]]
    assert community["supervised_on_time_rate"].isna().all()  # every sample under 5
    township = supervision.supervision_per_unit(engine, since=since, until=until,
                                                by="township", hierarchy=hierarchy)
    assert township.index.tolist() == [T1, T2]
    assert township[cols].values.tolist() == [[4, 2, 3, 2, 1, 2], [1, 0, 1, 1, 1, 0]]
    grid = supervision.supervision_per_unit(engine, since=since, until=until, by="grid",
                                            hierarchy=hierarchy)
    assert grid.index.tolist() == [A, B, C, D]
    assert grid["supervised_on_time_rate"].dtype == np.float64
    with pytest.raises(ValueError, match="admin level"):
        supervision.supervision_per_unit(engine, since=since, until=until, by="street",
                                         hierarchy=hierarchy)


def test_a_scope_outside_the_units_sees_nothing_of_them(story):
    from geo.access import Scope

    engine, _ = story
    since, until = _window()
    hierarchy = heat.unit_hierarchy(engine)
    head = AreaFilter(scope=Scope("grid_head", (C3,), "zhao"))
    frame = supervision.supervision_per_unit(engine, since=since, until=until,
                                             by="community", hierarchy=hierarchy, area=head)
    assert frame.index.tolist() == [C3]
