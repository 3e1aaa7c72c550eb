"""What the actions make measurable: requests supervised (督办), their on-time rate, returns.

Definitions (for a window [since, until) and an area; states judged as of a moment ``t``,
by default ``until``, with the rules of :mod:`geo.store.counts`):

========================= ============ ==================================================
figure                    中文          definition
========================= ============ ==================================================
supervised                督办件数      requests a commander first urged in the window
                                       (``supervised_at``; a second urge is not counted)
supervised_open           督办在办      of those, not resolved at ``t``
supervised_due            督办应办结    of those, past their deadline or resolved at ``t``
supervised_on_time        督办按期办结  of those, resolved by their deadline
supervised_on_time_rate   督办按期率    supervised_on_time ÷ supervised_due, the 按期办结率
                                       of the glossary: a supervised request still open
                                       past its deadline counts against it. NaN when fewer
                                       than :data:`MIN_SAMPLE` are due (too few to compare
                                       as a percentage; the counts are kept)
returns                   回退次数      return events (回退) that happened in the window
========================= ============ ==================================================

Per unit, a grid's figures go to its community, township and county
(:class:`geo.hierarchy.UnitHierarchy`); figures are listed beside the governance index and
not scored in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from geo.hierarchy import UnitHierarchy
from geo.store import counts as store_counts
from geo.store.area import EVERYWHERE, AreaFilter

#: Fewer supervised requests due than this: the on-time rate is not given as a percentage.
MIN_SAMPLE = 5
#: The columns of :func:`supervision_per_unit`.
UNIT_COLUMNS = (*store_counts.SUPERVISED_COLUMNS, "supervised_on_time_rate", "returns")


def on_time_rate(on_time: int | float, due: int | float, *,
                 min_sample: int = MIN_SAMPLE) -> float:
    """Return ``on_time ÷ due``, or NaN when fewer than ``min_sample`` (or none) are due."""
    return float(on_time) / float(due) if due and due >= min_sample else float("nan")


@dataclass(frozen=True)
class SupervisionFigures:
    """Supervision and return figures of one area over one window (see the module docstring)."""

    supervised: int
    supervised_open: int
    supervised_due: int
    supervised_resolved: int
    supervised_on_time: int
    #: None when not counted (the wall shows no returns and skips their query).
    returns: int | None

    @property
    def on_time_rate(self) -> float:
        """Supervised on-time rate; NaN below :data:`MIN_SAMPLE` due."""
        return on_time_rate(self.supervised_on_time, self.supervised_due)

    @property
    def small_sample(self) -> bool:
        """True when too few supervised requests are due for a percentage."""
        return self.supervised_due < MIN_SAMPLE


def supervision_totals(engine: Engine, *, since: datetime | None, until: datetime,
                       as_of: datetime | None = None, area: AreaFilter = EVERYWHERE,
                       with_returns: bool = True) -> SupervisionFigures:
    """Count supervision and returns in [since, until) in one area, judged at ``as_of``.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    since : datetime or None
        Naive UTC start (inclusive); None: everything before ``until`` (returns too).
    until : datetime
        Naive UTC end (exclusive).
    as_of : datetime, optional
        The moment states are judged at; default ``until``.
    area : AreaFilter
        The grids counted and the caller's scope (:func:`geo.heat.area_filter`).
    with_returns : bool
        Also count returns (one more query, over the window's events); else ``returns``
        is None.

    Returns
    -------
    SupervisionFigures

    """
    counts = store_counts.supervised_totals(engine, since=since, until=until, as_of=as_of,
                                            area=area)
    returns = (store_counts.return_total(engine, since=since or datetime(1970, 1, 1),
                                         until=until, area=area) if with_returns else None)
    return SupervisionFigures(returns=returns, **counts)


def supervision_per_unit(engine: Engine, *, since: datetime | None, until: datetime,
                         by: str, hierarchy: UnitHierarchy, as_of: datetime | None = None,
                         area: AreaFilter = EVERYWHERE) -> pd.DataFrame:
    """Count supervision and returns in [since, until) per grid or admin unit.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    since, until, as_of, area
        As in :func:`supervision_totals`.
    by : {"grid", "community", "township", "county", "city"}
        What a row is.
    hierarchy : UnitHierarchy
        Grid → admin units (:func:`geo.hierarchy.unit_hierarchy`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code``: the :data:`UNIT_COLUMNS` (counts int64, the rate float; NaN
        below :data:`MIN_SAMPLE` due). Only units with a supervised request or a return,
        sorted by code.

    """
    _check_by(by, hierarchy)
    sup = store_counts.supervised_counts_per_grid(engine, since=since, until=until,
                                                  as_of=as_of, area=area)
    ret = store_counts.returns_per_grid(engine, since=since or datetime(1970, 1, 1),
                                        until=until, area=area)
    per_grid = (sup.set_index("grid_code")
                .join(ret.set_index("grid_code"), how="outer")
                .fillna(0).astype("int64"))
    per_grid.index.name = "code"
    return roll_up(per_grid, by=by, hierarchy=hierarchy)


def _check_by(by: str, hierarchy: UnitHierarchy) -> None:
    if by != "grid" and by not in hierarchy.grids.columns:
        raise ValueError(f"by must be grid or an admin level, not {by!r}")


def roll_up(per_grid: pd.DataFrame, *, by: str, hierarchy: UnitHierarchy) -> pd.DataFrame:
    """Sum per-grid figures (:func:`supervision_per_unit` by grid) to the units of ``by``.

    The counts are summed and the on-time rate recomputed from them, so one read per
    month serves every level.
    """
    _check_by(by, hierarchy)
    counts = [*store_counts.SUPERVISED_COLUMNS, "returns"]
    per_grid = per_grid.reindex(columns=counts, fill_value=0)
    if by == "grid":
        out = per_grid
    else:
        unit = per_grid.index.map(hierarchy.grids[by].to_dict())
        out = per_grid[unit.notna()].groupby(unit[unit.notna()]).sum()
    out = out.astype("int64")
    out.insert(len(store_counts.SUPERVISED_COLUMNS), "supervised_on_time_rate",
               np.array([on_time_rate(k, n) for k, n in zip(out["supervised_on_time"],
                                                            out["supervised_due"],
                                                            strict=True)], dtype=np.float64))
    out.index.name = "code"
    return out.sort_index()
