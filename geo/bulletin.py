"""Governance index (基层治理指数) and the monthly bulletin (城乡社群动态).

Each month, every county, township and community is scored on seven indicators, ranked
against its peers (the units of the same level) and compared with last month's rank.

Indicators (per unit, over the Asia/Shanghai calendar month)
-------------------------------------------------------------
========================== ===================== ================================================
indicator                  中文                   definition (better is higher unless marked)
========================== ===================== ================================================
resolution_rate            办结率                 resolved ÷ due (see :mod:`geo.heat`)
on_time_rate               按期办结率             resolved by the deadline ÷ due
satisfaction_rate          满意率                 satisfied ÷ rated
dispute_resolution_rate    矛盾纠纷化解率          disputes resolved ÷ disputes due
requests_per_1k            每千人诉求量            requests ÷ residents × 1,000; **lower is better**
wechat_coverage            微信群覆盖率            WeChat group members ÷ (residents × adult share),
                                                 capped at 100% (members may include people who
                                                 live elsewhere); from the current grid register
volunteer_hours_per_1k     每千人志愿服务时长       Σ volunteers × hours of the month's activities
                                                 ÷ residents × 1,000
========================== ===================== ================================================

The request figures are those of :func:`geo.heat.area_kpis` for the month's window, judged
as of the month's end (or now, for the month in progress). Residents are the sum of the
unit's grids' populations.

Small samples
-------------
A community with 2 requests due and both resolved has a resolution rate of 100%, but that
says little: ranked as exact, such rates put the smallest units first and last by chance
and move them at random from month to month. So the rates that rest on request counts are
scored **shrunk toward the parent unit's rate** (empirical Bayes, :mod:`geo.shrinkage`)::

    shrunk = (k + m · p) / (n + m)

with ``k`` of ``n`` the unit's own figures (resolved of due, satisfied of rated, disputes
resolved of disputes due), ``p`` the parent's pooled rate (a community's township, a
township's county, a county's city) and ``m`` the Beta prior's strength, estimated per
level and month by the method of moments across the peers (large when the peers' rates
spread no more than chance makes them). A unit with ``n = m`` keeps half its own rate.
Requests per 1,000 residents are shrunk the same way with a Gamma-Poisson prior (``k``
requests over ``n`` thousand residents). WeChat coverage (a register) and volunteer hours
are not shrunk. The table shows the observed rates; the score uses the shrunk ones on the
scale the observed rates span (below), so a difference the samples cannot support counts
for little. ``sample`` is the number of requests due (the ``n`` of the main rates); a
unit with fewer than :data:`MIN_SAMPLE` (``GRIDMAP_BULLETIN_MIN_SAMPLE``) is listed and
scored but marked 样本不足 (``small_sample``), has no rank and comes after every ranked
unit. On the demo this raises the month-to-month Spearman correlation of ranks from 0.08
to 0.31 for townships and from 0.30 to 0.56 for communities (bench/RESULTS.md).

Scaling and score
-----------------
Each indicator is min–max scaled to 0–100 across the peer units: 100 for the best value,
0 for the worst (reversed for ``requests_per_1k``); shrunk rates are scaled between the
lowest and highest observed rate. When every peer has the same value the
indicator does not separate anyone and all get 100, so it shifts every score equally and the
ranking comes from the other indicators. A missing value (NaN: no request was due, nobody
rated, no residents) is not scored: the unit's score is the weighted mean of its available
scaled indicators, the weights renormalised over those, so a missing figure neither helps
nor hurts. A unit with no available indicator has no score and no rank.

Supervision (督办) and returns
------------------------------
Beside the index, not scored: per unit, the requests a commander first urged in the month,
their on-time rate (按期办结 ÷ 应办结 among them, judged like the indicators; shown as a
count "(k/n)" rather than a percentage when fewer than :data:`geo.supervision.MIN_SAMPLE`
are due) and the returns (回退) in the month (:mod:`geo.supervision`).

Rank 1 is the highest score; equal scores share the better rank. Ranks are always among
every unit of the level: a reader whose scope is one community gets only their own units
(:func:`monthly_bulletin` with ``scope``), with their city-wide rank and the count of units
ranked (``Bulletin.ranked``), never the other units' figures. Rank change is last
month's rank minus this month's: +2 means up two places. The best and worst indicator of a
unit are its highest and lowest scaled values among the indicators with a weight and with
a spread among the peers.
"""

from __future__ import annotations

import csv
import io
import math
import os
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from geo import alliance, clock, heat, shrinkage, supervision
from geo.access import Scope
from geo.deadlines import ConfigError
from geo.store import counts as store_counts
from geo.store import requests as store_requests

#: Indicators: name -> (Chinese name, True when higher is better).
INDICATORS: dict[str, tuple[str, bool]] = {
    "resolution_rate": ("办结率", True),
    "on_time_rate": ("按期办结率", True),
    "satisfaction_rate": ("满意率", True),
    "dispute_resolution_rate": ("矛盾纠纷化解率", True),
    "requests_per_1k": ("每千人诉求量", False),
    "wechat_coverage": ("微信群覆盖率", True),
    "volunteer_hours_per_1k": ("每千人志愿服务时长", True),
}

#: Default weights (sum to 1): outcomes for residents first, then engagement.
DEFAULT_WEIGHTS: dict[str, float] = {
    "resolution_rate": 0.20,
    "on_time_rate": 0.15,
    "satisfaction_rate": 0.20,
    "dispute_resolution_rate": 0.15,
    "requests_per_1k": 0.10,
    "wechat_coverage": 0.10,
    "volunteer_hours_per_1k": 0.10,
}

#: Escalation counts a bulletin lists per unit (not scored): column -> level crossed
#: (geo.deadlines.LEVELS), each crossing whose moment lies in the month.
ESCALATIONS: dict[str, str] = {
    "escalations_overdue": "overdue",
    "escalations_long_overdue": "long_overdue",
}
#: Their Chinese column names in the text and CSV bulletin.
ESCALATION_NAMES = {"escalations_overdue": "超期督办", "escalations_long_overdue": "严重超期"}

#: Supervision figures a bulletin lists per unit (not scored): column -> Chinese name.
SUPERVISION_NAMES = {"supervised": "督办件数", "supervised_on_time_rate": "督办按期率",
                     "returns": "回退次数"}

#: The denominators of the shrunk rates (heat.RATES), listed per unit.
SAMPLE_COLUMNS = ("due", "rated", "disputes_due")

#: Fewest requests due in the month for a unit to be ranked (fewer: listed, marked
#: "样本不足", after every ranked unit); ``GRIDMAP_BULLETIN_MIN_SAMPLE`` overrides it.
MIN_SAMPLE = 5

#: Levels a bulletin ranks, from the top down, with their Chinese names.
BULLETIN_LEVELS: dict[str, str] = {
    "county": "区县",
    "township": "乡镇（街道）",
    "community": "村（社区）",
}

#: Indicators shown as percentages (the others as plain numbers).
_PERCENT = {"resolution_rate", "on_time_rate", "satisfaction_rate", "dispute_resolution_rate",
            "wechat_coverage"}

_WEIGHT_TOLERANCE = 1e-6


# --------------------------------------------------------------------------- validation


def validate_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Check indicator weights and return them complete (unnamed indicators weigh 0).

    Parameters
    ----------
    weights : mapping of str to float, or None
        Indicator name -> weight; None for :data:`DEFAULT_WEIGHTS`.

    Returns
    -------
    dict
        A weight for every name in :data:`INDICATORS`.

    Raises
    ------
    ValueError
        An unknown indicator, a negative or non-finite weight, or weights that do not sum
        to 1.

    """
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    unknown = sorted(set(weights) - set(INDICATORS))
    if unknown:
        raise ValueError(f"unknown indicator(s) {unknown}; known: {list(INDICATORS)}")
    bad = {k: v for k, v in weights.items() if not math.isfinite(float(v)) or float(v) < 0}
    if bad:
        raise ValueError(f"weights must be finite and non-negative, got {bad}")
    total = float(sum(float(v) for v in weights.values()))
    if abs(total - 1.0) > _WEIGHT_TOLERANCE:
        raise ValueError(f"weights must sum to 1, but they sum to {total:.6g}: {dict(weights)}")
    return {name: float(weights.get(name, 0.0)) for name in INDICATORS}


def month_window(month: str | date | pd.Period) -> tuple[pd.Period, datetime, datetime]:
    """Return the month and its naive UTC bounds [since, until) in Asia/Shanghai time.

    Parameters
    ----------
    month : str, date or pandas.Period
        "2026-10", any date or datetime in the month, or a monthly Period.

    """
    period = month if isinstance(month, pd.Period) else pd.Period(month, freq="M")
    period = period.asfreq("M")
    since, until = clock.local_month_bounds(period)
    return period, since, until


def min_sample_setting() -> int:
    """Return the minimum sample: ``GRIDMAP_BULLETIN_MIN_SAMPLE``, else :data:`MIN_SAMPLE`.

    Raises
    ------
    geo.deadlines.ConfigError
        The setting is not a whole number ≥ 0 (the message names it; the pages show it
        as a configuration error, not a traceback).

    """
    text = os.environ.get("GRIDMAP_BULLETIN_MIN_SAMPLE", "").strip()
    if not text:
        return MIN_SAMPLE
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"GRIDMAP_BULLETIN_MIN_SAMPLE: {text!r} is not a whole number ≥ 0")
    return value


def shrunk_rates(successes: pd.Series, trials: pd.Series, *, parents: pd.Series,
                 strength: float | None = None, poisson: bool = False) -> pd.Series:
    """Shrink each unit's rate toward its parent's pooled rate (:mod:`geo.shrinkage`).

    Parameters
    ----------
    successes, trials : pandas.Series
        ``k`` and ``n`` per unit of one level (same index).
    parents : pandas.Series
        Each unit's parent code; the parent's rate is Σk ÷ Σn over its units. Units with
        no parent (or a parent with no sample) are shrunk toward the level's pooled rate.
    strength : float, optional
        The prior's strength ``m`` in requests; default estimated across the units
        (:func:`geo.shrinkage.prior_strength`); 0 keeps the raw rates.
    poisson : bool
        ``successes`` are counts over an exposure ``trials`` (requests per thousand
        residents), not k of n: ``m`` from :func:`geo.shrinkage.poisson_strength`.

    Returns
    -------
    pandas.Series
        ``(k + m·p) / (n + m)`` with ``m`` estimated across the units
        (:func:`geo.shrinkage.prior_strength`); NaN where ``n`` is 0.

    """
    k = pd.to_numeric(successes, errors="coerce").fillna(0).astype(float)
    n = pd.to_numeric(trials, errors="coerce").fillna(0).astype(float)
    total = float(n.sum())
    pooled = float(k.sum()) / total if total > 0 else math.nan
    key = parents.astype(object).where(parents.notna(), "")
    sums = pd.DataFrame({"k": k, "n": n, "parent": key}).groupby("parent")[["k", "n"]].sum()
    parent_rate = (sums["k"] / sums["n"].where(sums["n"] > 0)).reindex(key).to_numpy()
    prior = np.where(np.isfinite(parent_rate) & (key != "").to_numpy(), parent_rate, pooled)
    estimate = shrinkage.poisson_strength if poisson else shrinkage.prior_strength
    m = estimate(k, n) if strength is None else float(strength)
    return pd.Series(shrinkage.shrink(k, n, prior, strength=m), index=k.index)


# --------------------------------------------------------------------------- indicators


def unit_indicators(
    engine: Engine, *, month: str | date | pd.Period, level: str, adult_share: float = 0.8,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Compute the raw indicators of every unit of ``level`` for one month.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    month : str, date or pandas.Period
        The Asia/Shanghai calendar month, e.g. "2026-10".
    level : {"county", "township", "community"}
        The peer units.
    adult_share : float
        Share of residents who are adults, the denominator of WeChat coverage; in (0, 1].
    now : datetime, optional
        The current moment (naive UTC), for a month still in progress; default the clock.

    Returns
    -------
    pandas.DataFrame
        Indexed by unit code: ``name``, ``parent_code``, ``population``, ``requests`` and
        one column per :data:`INDICATORS` (NaN where undefined; see the module docstring).

    """
    _check_levels([level])
    hierarchy = heat.unit_hierarchy(engine)
    return _indicators_by_level(engine, month=month, levels=[level], hierarchy=hierarchy,
                                adult_share=adult_share, now=now)[level]


def _check_levels(levels: Sequence[str]) -> None:
    bad = [lv for lv in levels if lv not in BULLETIN_LEVELS]
    if bad:
        raise ValueError(f"levels must be among {list(BULLETIN_LEVELS)}, not {bad}")


def _indicators_by_level(
    engine: Engine, *, month: str | date | pd.Period, levels: Sequence[str],
    hierarchy: heat.UnitHierarchy, adult_share: float, now: datetime | None,
    strength: float | None = None,
) -> dict[str, pd.DataFrame]:
    """Compute indicators for several levels from one count and one volunteer query."""
    if not 0 < adult_share <= 1:
        raise ValueError(f"adult_share must be in (0, 1], not {adult_share}")
    period, since, until = month_window(month)
    counts = heat.grid_counts(engine, since=since, until=until, hierarchy=hierarchy, now=now)
    per_grid = store_counts.volunteer_hours_per_grid(engine, since=period.start_time.date(),
                                                     until=(period + 1).start_time.date())
    hours = per_grid.set_index("grid_code")["volunteer_hours"]
    crossed = (store_counts.escalations_per_grid(engine, since=since, until=until)
               .pivot_table(index="grid_code", columns="level", values="escalations",
                            aggfunc="sum", fill_value=0)
               .reindex(columns=list(ESCALATIONS.values()), fill_value=0))
    grids = hierarchy.grids
    members = pd.to_numeric(grids["wechat_members"], errors="coerce")
    out = {}
    for level in levels:
        kpis = heat.kpi_table(counts, level=level, hierarchy=hierarchy).set_index("code")
        unit_of = grids[level]
        population = kpis["population"].astype(float)
        residents = population.where(population > 0)
        unit_members = members.groupby(unit_of).sum(min_count=1).reindex(kpis.index)
        unit_hours = (hours.groupby(unit_of.reindex(hours.index)).sum()
                      .reindex(kpis.index, fill_value=0.0).astype(float))
        table = kpis[["name", "parent_code", "population", "requests"]].copy()
        for name in ("resolution_rate", "on_time_rate", "satisfaction_rate",
                     "dispute_resolution_rate", "requests_per_1k"):
            table[name] = kpis[name].astype(float)
        # The samples the rates rest on, and the rates shrunk toward the parent's.
        for column in SAMPLE_COLUMNS:
            table[column] = kpis[column].fillna(0).astype("int64")
        table["sample"] = table["due"]
        for name, (numerator, denominator) in heat.RATES.items():
            table[f"{name}_shrunk"] = shrunk_rates(kpis[numerator], kpis[denominator],
                                                   parents=kpis["parent_code"],
                                                   strength=strength)
        # Requests per 1,000 residents: a count over thousands of residents.
        table["requests_per_1k_shrunk"] = shrunk_rates(
            kpis["requests"], population / 1000.0, parents=kpis["parent_code"],
            strength=strength, poisson=True)
        table["wechat_coverage"] = (unit_members / (residents * adult_share)).clip(upper=1.0)
        table["volunteer_hours_per_1k"] = unit_hours / residents * 1000.0
        # Escalations (督办) in the month: counted, not scored.
        unit_crossed = crossed.groupby(unit_of.reindex(crossed.index)).sum()
        for column, name in ESCALATIONS.items():
            table[column] = (unit_crossed[name].reindex(kpis.index, fill_value=0)
                             .astype("int64") if len(unit_crossed) else 0)
        out[level] = table
    return out


def scale_indicators(indicators: pd.DataFrame, *,
                     span: pd.DataFrame | None = None) -> pd.DataFrame:
    """Min–max scale each indicator to 0–100 across the rows (the peer units).

    Parameters
    ----------
    indicators : pandas.DataFrame
        One column per name in :data:`INDICATORS`, one row per unit.
    span : pandas.DataFrame, optional
        The values whose minimum and maximum set the scale (default ``indicators``): the
        observed rates, when ``indicators`` holds the shrunk ones, so that a shrunk rate
        is scored on the scale of what the peers really showed and a difference the
        samples cannot support counts for little.

    Returns
    -------
    pandas.DataFrame
        Same index and columns: 100 is the best peer, 0 the worst (lower raw values are
        better for ``requests_per_1k``); all 100 when every available value is equal; NaN
        stays NaN.

    """
    span = indicators if span is None else span
    scaled = pd.DataFrame(index=indicators.index)
    for name, (_, higher_is_better) in INDICATORS.items():
        x = indicators[name].astype(float)
        bounds = span[name].astype(float)
        lo, hi = min(x.min(), bounds.min()), max(x.max(), bounds.max())
        if x.notna().any() and not _same(lo, hi):
            s = (x - lo) / (hi - lo) * 100.0
            scaled[name] = s if higher_is_better else 100.0 - s
        else:
            scaled[name] = x.where(x.isna(), 100.0)
    return scaled


def _same(a: float, b: float) -> bool:
    # Rates computed along different paths can differ in the last bit.
    return bool(np.isclose(a, b, rtol=1e-12, atol=1e-12))


def governance_scores(indicators: pd.DataFrame, *,
                      weights: Mapping[str, float] | None = None,
                      min_sample: int = MIN_SAMPLE) -> pd.DataFrame:
    """Score, rank and describe peer units from their indicators.

    Parameters
    ----------
    indicators : pandas.DataFrame
        One row per unit (any index), one column per name in :data:`INDICATORS`; other
        columns are kept. Where a ``<rate>_shrunk`` column is present (see
        :func:`shrunk_rates`) it is scored in place of the raw rate. Where a ``sample``
        column is present, units with fewer than ``min_sample`` are not ranked.
    weights : mapping, optional
        Indicator weights summing to 1 (see :func:`validate_weights`); default
        :data:`DEFAULT_WEIGHTS`.
    min_sample : int
        Fewest requests due (``sample``) for a rank; smaller units get a score, no rank,
        and ``small_sample`` True, and are listed after every ranked unit.

    Returns
    -------
    pandas.DataFrame
        ``indicators`` plus ``score`` (0–100), ``rank`` (Int64; NA without a score or
        with a small sample), ``small_sample``, ``best_indicator``, ``worst_indicator``
        and ``<indicator>_score`` columns; ranked units first by rank, then small samples
        by score, then units without a score; index kept.

    """
    w = validate_weights(weights)
    scored = indicators[list(INDICATORS)].copy()
    for name in INDICATORS:
        if f"{name}_shrunk" in indicators.columns:
            scored[name] = indicators[f"{name}_shrunk"].astype(float)
    scaled = scale_indicators(scored, span=indicators[list(INDICATORS)])
    weight = pd.Series(w)
    have = scaled.notna()
    used = have.mul(weight, axis=1).sum(axis=1)
    total = scaled.fillna(0.0).mul(weight, axis=1).sum(axis=1)
    score = (total / used.where(used > 0)).astype(float)

    out = indicators.copy()
    out["score"] = score
    if "sample" in indicators.columns:
        small = pd.to_numeric(indicators["sample"], errors="coerce").fillna(0) < min_sample
    else:
        small = pd.Series(False, index=indicators.index)
    out["small_sample"] = small.astype(bool)
    out["rank"] = score.where(~small).rank(ascending=False, method="min").astype("Int64")
    # Best/worst only among indicators that count and that tell the peers apart.
    telling = [n for n in INDICATORS if w[n] > 0 and _spread(scored[n])]
    out["best_indicator"] = _pick(scaled[telling], best=True)
    out["worst_indicator"] = _pick(scaled[telling], best=False)
    for name in INDICATORS:
        out[f"{name}_score"] = scaled[name]
    # Ranked by rank, then small samples by score, then no score at all.
    group = np.where(out["rank"].notna(), 0, np.where(score.notna(), 1, 2))
    key = np.where(group == 0, out["rank"].astype("float").fillna(0).to_numpy(),
                   -score.fillna(0).to_numpy())
    return out.iloc[np.lexsort((key, group))]


def _spread(x: pd.Series) -> bool:
    x = x.astype(float)
    return bool(x.notna().any()) and not _same(x.min(), x.max())


def _pick(scaled: pd.DataFrame, *, best: bool) -> pd.Series:
    """Name the highest (or lowest) scaled indicator per row; the first one on a tie."""
    if scaled.shape[1] == 0:
        return pd.Series(None, index=scaled.index, dtype=object)
    values = scaled.to_numpy(dtype=float)
    filled = np.where(np.isnan(values), -np.inf if best else np.inf, values)
    idx = filled.argmax(axis=1) if best else filled.argmin(axis=1)
    names = np.array(scaled.columns, dtype=object)[idx]
    return pd.Series(np.where(np.isnan(values).all(axis=1), None, names),
                     index=scaled.index, dtype=object)


def governance_index(
    engine: Engine, *, month: str | date | pd.Period, level: str,
    weights: Mapping[str, float] | None = None, adult_share: float = 0.8,
    now: datetime | None = None, min_sample: int | None = None,
    strength: float | None = None,
) -> pd.DataFrame:
    """Rank the units of one level on the governance index for a month.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    month : str, date or pandas.Period
        The Asia/Shanghai calendar month, e.g. "2026-10".
    level : {"county", "township", "community"}
        The peer units.
    weights : mapping, optional
        Indicator weights summing to 1; default :data:`DEFAULT_WEIGHTS`.
    adult_share : float
        Share of residents who are adults (WeChat coverage denominator).
    now : datetime, optional
        The current moment (naive UTC); default the clock.
    min_sample : int, optional
        Fewest requests due for a rank; default :func:`min_sample_setting`.
    strength : float, optional
        Strength of the shrinkage prior (:func:`shrunk_rates`); default estimated,
        0 ranks the raw rates.

    Returns
    -------
    pandas.DataFrame
        Sorted by rank (small samples, then unscored units last): ``rank``, ``code``,
        ``name``, ``parent_code``, ``population``, ``requests``, ``sample`` (requests due,
        the n the main rates rest on), ``small_sample`` (below ``min_sample``: listed, not
        ranked), ``score``, ``rank_prev`` (last month), ``rank_change`` (``rank_prev
        - rank``; NA when unranked in either month), ``score_prev`` (last month's score),
        ``score_change`` (``score - score_prev``; NaN when either is missing; scores are
        relative to each month's peers, so a change says how the unit moved within the
        field), ``best_indicator``, ``worst_indicator``, the raw indicators, their
        ``_score`` columns, the shrunk rates (``<rate>_shrunk``, what is scored) and their
        samples (``due``, ``rated``, ``disputes_due``), the escalation counts and, listed
        but not scored, the month's supervision figures (:data:`geo.supervision.UNIT_COLUMNS`).

    """
    return _rankings(engine, month=month, levels=[level], weights=weights,
                     adult_share=adult_share, now=now, min_sample=min_sample,
                     strength=strength)[level]


def _rankings(
    engine: Engine, *, month: str | date | pd.Period, levels: Sequence[str],
    weights: Mapping[str, float] | None, adult_share: float, now: datetime | None,
    hierarchy: heat.UnitHierarchy | None = None, min_sample: int | None = None,
    strength: float | None = None,
) -> dict[str, pd.DataFrame]:
    _check_levels(levels)
    least = min_sample_setting() if min_sample is None else int(min_sample)
    w = validate_weights(weights)
    period, since, until = month_window(month)
    hierarchy = hierarchy if hierarchy is not None else heat.unit_hierarchy(engine)
    as_of = min(until, clock.or_now(now))
    this, last = (_indicators_by_level(engine, month=p, levels=levels, hierarchy=hierarchy,
                                       adult_share=adult_share, now=now, strength=strength)
                  for p in (period, period - 1))
    per_grid = supervision.supervision_per_unit(engine, since=since, until=until, by="grid",
                                                hierarchy=hierarchy, as_of=as_of)
    out = {}
    for level in levels:
        table = governance_scores(this[level], weights=w, min_sample=least)
        before = governance_scores(last[level], weights=w, min_sample=least)
        table["rank_prev"] = before["rank"].reindex(table.index)
        table["rank_change"] = table["rank_prev"] - table["rank"]
        table["score_prev"] = before["score"].reindex(table.index).astype(float)
        table["score_change"] = table["score"] - table["score_prev"]
        # Supervision and returns in the month: listed beside the index, not scored.
        sup = supervision.roll_up(per_grid, by=level, hierarchy=hierarchy)
        sup = sup.reindex(table.index)
        for column in supervision.UNIT_COLUMNS:
            if column == "supervised_on_time_rate":
                table[column] = sup[column].astype(float)
            else:
                table[column] = sup[column].fillna(0).astype("int64")
        table.index.name = "code"
        lead = ["rank", "code", "name", "parent_code", "population", "requests", "sample",
                "small_sample", "score", "rank_prev", "rank_change", "score_prev",
                "score_change", "best_indicator", "worst_indicator"]
        table = table.reset_index()
        out[level] = table[lead + [c for c in table.columns if c not in lead]]
    return out


def bulletin_months(engine: Engine, *, now: datetime | None = None) -> list[pd.Period]:
    """Return the Asia/Shanghai months that hold at least one request, oldest first.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    now : datetime, optional
        The current moment (naive UTC); months after it are left out. Default the clock.

    Returns
    -------
    list of pandas.Period
        Monthly periods; empty when there is no request.

    """
    until = clock.or_now(now)
    days = store_counts.request_counts_per_local_period(engine, since=datetime(1970, 1, 1),
                                                        until=until, freq="D")
    if days.empty:
        return []
    months = pd.PeriodIndex(days["period"], freq="M").unique().sort_values()
    return list(months)


def default_month(months: Sequence[pd.Period], *, now: datetime | None = None
                  ) -> pd.Period | None:
    """Return the month a bulletin shows by default: the last complete month with data.

    Parameters
    ----------
    months : sequence of pandas.Period
        The months with data (:func:`bulletin_months`).
    now : datetime, optional
        The current moment (naive UTC); default the clock.

    Returns
    -------
    pandas.Period or None
        The latest month that ended (Asia/Shanghai) before ``now``; the latest month when
        none has ended yet; None without months.

    """
    if not months:
        return None
    current = clock.local_month(clock.or_now(now))
    complete = [m for m in months if m < current]
    return max(complete) if complete else max(months)


# --------------------------------------------------------------------------- bulletin


@dataclass
class Bulletin:
    """One month's governance rankings, level by level.

    Attributes
    ----------
    month : pandas.Period
        The Asia/Shanghai calendar month.
    area_name : str
        The city's name, for the heading.
    rankings : dict of str to pandas.DataFrame
        Level -> :func:`governance_index` table, from the top level down.
    weights : dict of str to float
        The indicator weights used.
    adult_share : float
        The adult share used for WeChat coverage.
    claims : dict of str to pandas.DataFrame
        Level -> 解忧联盟 claim figures of the month's market and charity requests per
        unit (:func:`claim_table`); reported beside the index, not scored in it.
    ranked : dict of str to int
        Level -> units ranked city-wide (the "/ 98" of "第 52 名 / 98"), also when
        ``rankings`` holds only the units of a scope.
    min_sample : int
        The fewest requests due for a rank.

    """

    month: pd.Period
    area_name: str
    rankings: dict[str, pd.DataFrame]
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    adult_share: float = 0.8
    claims: dict[str, pd.DataFrame] = field(default_factory=dict)
    ranked: dict[str, int] = field(default_factory=dict)
    min_sample: int = MIN_SAMPLE


def claim_table(engine: Engine, *, month: str | date | pd.Period, level: str,
                hierarchy: heat.UnitHierarchy | None = None) -> pd.DataFrame:
    """Return the month's claim rate and median time to claim per unit of ``level``.

    Over the market and charity requests reported in the month (Asia/Shanghai), per
    :func:`geo.alliance.claim_rates`: ``code``, ``name``, ``claimable``, ``claimed``,
    ``claim_rate`` and ``median_hours``, best claim rate first; units with no such
    request have no row.
    """
    _check_levels([level])
    hierarchy = hierarchy if hierarchy is not None else heat.unit_hierarchy(engine)
    _, since, until = month_window(month)
    table = alliance.claim_rates(engine, since=since, until=until, by=level,
                                 hierarchy=hierarchy).reset_index()
    names = hierarchy.units["name"]
    names = names[~names.index.duplicated()]
    table.insert(1, "name", table["code"].map(names))
    return table.sort_values(["claim_rate", "code"], ascending=[False, True],
                             na_position="last").reset_index(drop=True)


def monthly_bulletin(
    engine: Engine, *, month: str | date | pd.Period,
    levels: Sequence[str] = tuple(BULLETIN_LEVELS), weights: Mapping[str, float] | None = None,
    adult_share: float = 0.8, now: datetime | None = None, min_sample: int | None = None,
    strength: float | None = None, scope: Scope | None = None,
) -> Bulletin:
    """Build the monthly bulletin: the governance index ranking at each level.

    Ranks are always among all units of a level; a scope only cuts what is returned.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    month : str, date or pandas.Period
        The Asia/Shanghai calendar month, e.g. "2026-10".
    levels : sequence of str
        Levels to rank, from :data:`BULLETIN_LEVELS`.
    weights : mapping, optional
        Indicator weights summing to 1; default :data:`DEFAULT_WEIGHTS`.
    adult_share : float
        Share of residents who are adults (WeChat coverage denominator).
    now : datetime, optional
        The current moment (naive UTC); default the clock.
    min_sample : int, optional
        Fewest requests due for a rank; default :func:`min_sample_setting`.
    strength : float, optional
        Strength of the shrinkage prior; default estimated, 0 ranks the raw rates.
    scope : geo.access.Scope, optional
        Who reads: only the units holding grids inside the scope are returned (with their
        city-wide rank), with the count of units ranked; None or an unlimited scope: all.

    """
    w = validate_weights(weights)
    least = min_sample_setting() if min_sample is None else int(min_sample)
    period, _, _ = month_window(month)
    hierarchy = heat.unit_hierarchy(engine)
    rankings = _rankings(engine, month=period, levels=levels, weights=w,
                         adult_share=adult_share, now=now, hierarchy=hierarchy,
                         min_sample=least, strength=strength)
    ranked = {level: int(table["rank"].notna().sum()) for level, table in rankings.items()}
    units = store_requests.read_admin_unit_attributes(engine)
    city = units[units["level"] == "city"]["name"]
    claims = {level: claim_table(engine, month=period, level=level, hierarchy=hierarchy)
              for level in levels}
    if scope is not None and not scope.everywhere:
        inside = heat.within(hierarchy, scope).grids
        for level in levels:
            mine = set(inside[level].dropna())
            rankings[level] = rankings[level][rankings[level]["code"].isin(mine)]
            claims[level] = claims[level][claims[level]["code"].isin(mine)]
    return Bulletin(month=period, area_name=str(city.iloc[0]) if len(city) else "",
                    rankings=rankings, weights=w, adult_share=adult_share, claims=claims,
                    ranked=ranked, min_sample=least)


# --------------------------------------------------------------------------- rendering


def format_count(value: float | int | None) -> str:
    """Format a count with thousands separators: 12345 -> "12,345"; missing -> "—"."""
    if value is None or pd.isna(value):
        return "—"
    return f"{int(round(float(value))):,}"


def format_rate(value: float | None, *, digits: int = 1) -> str:
    """Format a fraction as a percentage: 0.989 -> "98.9%"; missing -> "—"."""
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value) * 100:,.{digits}f}%"


def format_number(value: float | None, *, digits: int = 1) -> str:
    """Format a number with separators and fixed decimals: 1234.5 -> "1,234.5"."""
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def format_rank_change(value: float | int | None) -> str:
    """Format a rank change: +2 -> "↑2", -1 -> "↓1", 0 -> "持平", missing -> "—"."""
    if value is None or pd.isna(value):
        return "—"
    value = int(value)
    return f"↑{value}" if value > 0 else f"↓{-value}" if value < 0 else "持平"


def format_supervised_rate(on_time: float | int | None, due: float | int | None) -> str:
    """Format the supervised on-time rate: "80.0%"; "(2/3)" below the minimum sample.

    A percentage only from :data:`geo.supervision.MIN_SAMPLE` due requests up: fewer are
    shown as the plain count, so that nobody ranks 1 of 1 above 4 of 5. "—" with none due.
    """
    if due is None or pd.isna(due) or int(due) == 0:
        return "—"
    rate = supervision.on_time_rate(int(on_time or 0), int(due))
    return format_rate(rate) if not math.isnan(rate) else f"({int(on_time or 0)}/{int(due)})"


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _indicator_text(name: str, value: float) -> str:
    return format_rate(value) if name in _PERCENT else format_number(value)


def _indicator_name(name: object) -> str:
    return INDICATORS[name][0] if isinstance(name, str) and name in INDICATORS else "—"


#: What the rank cell says for a unit below the minimum sample.
SMALL_SAMPLE = "样本不足"

_COLUMNS = ["排名", "名称", "综合得分", "排名变化", "应办结数"] + [
    v[0] for v in INDICATORS.values()] + [
    "最优指标", "最弱指标"] + list(ESCALATION_NAMES.values()) + list(SUPERVISION_NAMES.values())


def _rows(table: pd.DataFrame) -> list[list[str]]:
    rows = []
    for rec in table.to_dict("records"):
        rank = SMALL_SAMPLE if rec.get("small_sample") else format_count(rec["rank"])
        rows.append([rank, _text(rec["name"]) or _text(rec["code"]),
                     format_number(rec["score"]), format_rank_change(rec["rank_change"]),
                     format_count(rec.get("sample"))]
                    + [_indicator_text(n, rec[n]) for n in INDICATORS]
                    + [_indicator_name(rec["best_indicator"]),
                       _indicator_name(rec["worst_indicator"])]
                    + [format_count(rec.get(c)) for c in ESCALATIONS]
                    + [format_count(rec.get("supervised", 0)),
                       format_supervised_rate(rec.get("supervised_on_time"),
                                              rec.get("supervised_due")),
                       format_count(rec.get("returns", 0))])
    return rows


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(r, widths, strict=True))
            .rstrip() for r in rows]


_ORDINALS = "一二三四五六七八九十"


def bulletin_text(bulletin: Bulletin, *, top: int | None = None) -> str:
    """Render the bulletin as plain text with Chinese headings, columns aligned.

    Parameters
    ----------
    bulletin : Bulletin
        From :func:`monthly_bulletin`.
    top : int, optional
        Show only the first ``top`` units of each level (all by default).

    """
    p = bulletin.month
    lines = [f"{bulletin.area_name}基层治理指数月度通报（城乡社群动态）",
             f"{p.year}年{p.month}月", ""]
    for i, (level, table) in enumerate(bulletin.rankings.items()):
        shown = table if top is None else table.head(top)
        more = f"，列出前 {format_count(len(shown))} 个" if len(shown) < len(table) else ""
        lines.append(f"{_ORDINALS[i]}、{BULLETIN_LEVELS[level]}排名（共 "
                     f"{format_count(len(table))} 个{more}）")
        lines.extend(_align([_COLUMNS] + _rows(shown)))
        lines.append("")
    weights = "，".join(f"{INDICATORS[n][0]} {format_rate(w, digits=0)}"
                       for n, w in bulletin.weights.items() if w > 0)
    lines += [
        "说明：",
        "1. 各指标在同级单位间按最小—最大值折算为 0–100 分（每千人诉求量越低得分越高），"
        "综合得分为加权平均；缺少数据的指标不计分，其权重按比例分给其余指标。"
        "办结率、按期办结率、满意率、矛盾纠纷化解率按样本量向上级单位的比率收缩后计分"
        "（经验贝叶斯：(k + m·p) ÷ (n + m)，p 为上级比率，m 由同级数据估计），表中列原始比率；"
        f"当月应办结不足 {format_count(bulletin.min_sample)} 件的单位标“{SMALL_SAMPLE}”，"
        "列在排名单位之后，不参与排名。",
        f"2. 权重：{weights}。微信群覆盖率 = 群成员数 ÷（常住人口 × "
        f"{format_rate(bulletin.adult_share, digits=0)}），最高计 100%。",
        "3. 办结率 = 办结数 ÷ 应办结数（已到期或已办结）；满意率 = 满意及基本满意 ÷ 已评价。",
        "4. “—”表示无数据（如当月无应办结诉求、无评价、上月未排名）。",
        "5. 超期督办、严重超期：当月按工作日时限越过“超期”“严重超期”门槛的诉求次数"
        "（督办记录），只列示，不计入得分。",
        "6. 督办件数：当月首次被指挥长督办的诉求数；督办按期率 = 其中按期办结数 ÷ 应办结数，"
        f"应办结不足 {supervision.MIN_SAMPLE} 件时只列“（按期/应办结）”件数，不折算百分比；"
        "回退次数：当月回退（退回上一环节）的次数。三项只列示，不计入得分。",
    ]
    return "\n".join(lines) + "\n"


def restrict(bulletin: Bulletin, units: Mapping[str, Collection[str]]) -> Bulletin:
    """Return the bulletin cut to the units given per level (ranks stay city-wide).

    A page hands it the units that hold the grids its reader may see (the scope), so that a
    download carries no more than the page shows; a level not in ``units`` is left out.
    """
    def cut(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        return {level: table[table["code"].isin(list(units[level]))]
                for level, table in tables.items() if level in units}

    return replace(bulletin, rankings=cut(bulletin.rankings), claims=cut(bulletin.claims))


def bulletin_csv(bulletin: Bulletin) -> bytes:
    """Render the bulletin as one CSV table (UTF-8 with BOM, so Excel reads the Chinese).

    Columns: 层级, 代码, 上级代码 and the text rendering's columns, values formatted as in
    :func:`bulletin_text` (12,345; 98.9%).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["层级", "代码", "上级代码"] + _COLUMNS)
    for level, table in bulletin.rankings.items():
        for rec, cells in zip(table.to_dict("records"), _rows(table), strict=True):
            writer.writerow([BULLETIN_LEVELS[level], _text(rec["code"]), _text(rec["parent_code"])]
                            + cells)
    return buf.getvalue().encode("utf-8-sig")
