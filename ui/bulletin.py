"""The bulletin page's pieces: controls, KPI tiles, score map, top/bottom five, table.

Month and level, the KPI tiles, the score map, the top and bottom five, the ranking
table, the method note and the CSV download.

The figures come from :func:`geo.bulletin.monthly_bulletin`, cached per month and data
version. Every label comes from the catalogue (ui/catalogue/bulletin.py): geo.bulletin's
Chinese names serve its CLI text and CSV only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from geo import bulletin as geo_bulletin
from geo import maps as geo_maps
from geo import supervision
from geo.access import Scope
from ui import data, downloads, maps, widgets
from ui.text import count, lang, local, number, rate, t

#: Levels ranked, top down.
LEVELS = tuple(geo_bulletin.BULLETIN_LEVELS)
#: Score classes, worst to best: red to green.
SCORE_COLOURS = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")
#: Indicators shown as percentages (the others as numbers with one decimal).
PERCENT = {"resolution_rate", "on_time_rate", "satisfaction_rate", "dispute_resolution_rate",
           "wechat_coverage"}
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec")


# --------------------------------------------------------------------------- cached data


@st.cache_data(show_spinner=False, max_entries=4)
def _months(version: str, day: str) -> list[str]:
    return [str(m) for m in geo_bulletin.bulletin_months(data.engine(), now=data.now())]


def months() -> list[str]:
    """Months ("YYYY-MM") with at least one request, oldest first."""
    return _months(data.stamp(), f"{local(data.now()):%Y-%m-%d}")


def default_month() -> str | None:
    """The last complete month with data (else the latest one); None without requests."""
    found = months()
    chosen = geo_bulletin.default_month([pd.Period(m, freq="M") for m in found],
                                        now=data.now())
    return None if chosen is None else str(chosen)


def in_progress(month: str) -> bool:
    """True for the current Asia/Shanghai month."""
    return month == f"{local(data.now()):%Y-%m}"


@st.cache_data(show_spinner=False, max_entries=8)
def _bulletin(month: str, version: str, moment, who: Scope,
              min_sample: int) -> geo_bulletin.Bulletin:
    return geo_bulletin.monthly_bulletin(data.engine(), month=month, scope=who,
                                         now=moment if moment is not None else data.now(),
                                         min_sample=min_sample)


def bulletin(month: str) -> geo_bulletin.Bulletin:
    """The month's bulletin at all three levels (the current month: as of this minute).

    Only the units the session's scope holds, with their city-wide ranks and the count of
    units ranked (:attr:`geo.bulletin.Bulletin.ranked`). Raises
    :class:`geo.deadlines.ConfigError` when ``GRIDMAP_BULLETIN_MIN_SAMPLE`` is not usable.
    """
    # The setting is read on each run (a bad value is named on the page), not cached.
    return _bulletin(month, data.stamp(), data.minute() if in_progress(month) else None,
                     data.cache_scope(), geo_bulletin.min_sample_setting())


def csv_bytes(month: str, area: str | None) -> bytes:
    """The bulletin as CSV (:func:`geo.bulletin.bulletin_csv`), cut as the page is.

    The units of every level that hold grids of ``area`` inside the reader's scope: a grid
    head downloads their own units' rows, not the city's.
    """
    whole = bulletin(month)
    if data.whole(area):
        return geo_bulletin.bulletin_csv(whole)
    units = {level: _units(level, area) for level in whole.rankings}
    return geo_bulletin.bulletin_csv(geo_bulletin.restrict(whole, units))


def _units(level: str, area: str | None) -> set[str]:
    """The units of ``level`` that hold grids of ``area`` inside the session's scope."""
    grids = data.hierarchy().grids
    codes = data.area_codes(area)
    return set(grids.loc[grids.index.intersection(codes), level].dropna())


# --------------------------------------------------------------------------- text


def month_label(month: str) -> str:
    """2026年10月 / Oct 2026."""
    p = pd.Period(month, freq="M")
    return t("bulletin.month_label", year=p.year, month=p.month, name=_EN_MONTHS[p.month - 1])


def level_label(level: str) -> str:
    """The level's display name."""
    return t(f"level.{level}")


def indicator_label(name: object) -> str:
    """An indicator's display name (em dash for none)."""
    if not isinstance(name, str) or name not in geo_bulletin.INDICATORS:
        return t("msg.no_data_value")
    return t(f"bulletin.ind.{name}")


def indicator_text(name: str, value: object) -> str:
    """98.9% for rates, 3.4 for per-1,000 figures."""
    return rate(value) if name in PERCENT else number(value)


def rank_change_text(value: object) -> str:
    """↑2 / ↓1 / 持平 (em dash when unranked in either month)."""
    if value is None or pd.isna(value):
        return t("msg.no_data_value")
    n = int(value)
    if n > 0:
        return t("bulletin.change.up", n=n)
    if n < 0:
        return t("bulletin.change.down", n=-n)
    return t("bulletin.change.same")


def score_change_text(value: object) -> str:
    """+1.2 / −3.4 (em dash when missing)."""
    if value is None or pd.isna(value):
        return t("msg.no_data_value")
    return f"{float(value):+,.1f}".replace("-", "−")


def supervised_rate_text(on_time: object, due: object) -> str:
    """80.0% from MIN_SAMPLE due up; "(2/3)" below it, so a small sample is not ranked."""
    if due is None or pd.isna(due) or int(due) == 0:
        return t("msg.no_data_value")
    value = supervision.on_time_rate(int(on_time or 0), int(due))
    return rate(value) if not pd.isna(value) else f"({int(on_time or 0)}/{int(due)})"


# --------------------------------------------------------------------------- selection


def ranking(month: str, level: str, area: str | None) -> pd.DataFrame:
    """The level's ranking, cut to the units that hold grids of ``area`` (city-wide ranks)."""
    table = bulletin(month).rankings[level]
    if data.whole(area):
        return table
    return table[table["code"].isin(_units(level, area))]


def _parent_names(codes: pd.Series) -> pd.Series:
    names = data.units()["name"]
    names = names[~names.index.duplicated()]
    return codes.map(names).fillna(codes)


def rank_cells(frame: pd.DataFrame) -> list[str]:
    """The rank, or "样本不足 / small sample" for a unit below the minimum sample."""
    return [t("bulletin.small_sample") if small else count(rank)
            for rank, small in zip(frame["rank"], frame["small_sample"], strict=True)]


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """The ranking as the page shows it: formatted text, catalogue column names."""
    out = pd.DataFrame({
        t("bulletin.col.rank"): rank_cells(frame),
        t("bulletin.col.name"): frame["name"].fillna(frame["code"]),
        t("bulletin.col.parent"): _parent_names(frame["parent_code"]),
        t("bulletin.col.sample"): frame["sample"].map(count),
        t("bulletin.col.score"): frame["score"].map(number),
        t("bulletin.col.score_change"): frame["score_change"].map(score_change_text),
        t("bulletin.col.rank_change"): frame["rank_change"].map(rank_change_text),
        t("bulletin.col.rank_prev"): frame["rank_prev"].map(count),
    })
    for name in geo_bulletin.INDICATORS:
        out[indicator_label(name)] = frame[name].map(lambda v, n=name: indicator_text(n, v))
    out[t("bulletin.col.best")] = frame["best_indicator"].map(indicator_label)
    out[t("bulletin.col.worst")] = frame["worst_indicator"].map(indicator_label)
    for column in geo_bulletin.ESCALATIONS:
        out[t(f"bulletin.col.{column}")] = frame[column].map(count)
    # Supervision (督办) and returns: listed beside the index, not scored.
    out[t("bulletin.col.supervised")] = frame["supervised"].map(count)
    out[t("bulletin.col.supervised_on_time_rate")] = [
        supervised_rate_text(k, n) for k, n in zip(frame["supervised_on_time"],
                                                   frame["supervised_due"], strict=True)]
    out[t("bulletin.col.returns")] = frame["returns"].map(count)
    out[t("bulletin.col.code")] = frame["code"]
    return out.reset_index(drop=True)


def short_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Rank, name, score and change: the top/bottom five call-outs."""
    return pd.DataFrame({
        t("bulletin.col.rank"): rank_cells(frame),
        t("bulletin.col.name"): frame["name"].fillna(frame["code"]),
        t("bulletin.col.score"): frame["score"].map(number),
        t("bulletin.col.rank_change"): frame["rank_change"].map(rank_change_text),
        t("bulletin.col.worst"): frame["worst_indicator"].map(indicator_label),
    }).reset_index(drop=True)


def top_and_bottom(frame: pd.DataFrame, *, n: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` best and ``n`` worst ranked units as call-out tables (worst first)."""
    ranked = frame[frame["rank"].notna()]
    return short_table(ranked.head(n)), short_table(ranked.tail(n).iloc[::-1])


# --------------------------------------------------------------------------- drawing


def _own_tiles(unit: pd.Series, *, ranked_total: int) -> list[tuple]:
    """One unit: its rank among all its peers, its score and the n its rates rest on.

    Ranks are city-wide: an area or a scope cuts the table, never the field, so a unit
    ranked 52nd of 98 reads "第 52 名 / 98", not "first of one".
    """
    name = str(unit["name"]) if pd.notna(unit["name"]) else str(unit["code"])
    if bool(unit["small_sample"]):
        value = t("bulletin.small_sample")
    elif pd.notna(unit["rank"]):
        value = t("bulletin.kpi.own_rank", rank=count(unit["rank"]), n=count(ranked_total))
    else:
        value = t("msg.no_data_value")
    before = (f"{t('bulletin.col.rank_prev')} {count(unit['rank_prev'])} · "
              f"{rank_change_text(unit['rank_change'])}" if pd.notna(unit["rank_prev"])
              else None)
    return [
        (t("bulletin.kpi.own"), value, t("bulletin.kpi.own_note", unit=name,
                                         n=count(ranked_total))),
        (t("bulletin.col.score"), number(unit["score"]), before),
        (t("bulletin.col.sample"), count(unit["sample"]),
         t("bulletin.small_sample") if bool(unit["small_sample"]) else None),
    ]


def _field_tiles(frame: pd.DataFrame, *, ranked_total: int) -> list[tuple]:
    """Several units: how many are ranked, the best of them with its city-wide rank, moves."""
    ranked = frame[frame["rank"].notna()]
    change = ranked["rank_change"].dropna()
    small = int(frame["small_sample"].sum())
    units = (t("bulletin.kpi.units"), count(len(ranked)),
             t("bulletin.kpi.of_city", n=count(ranked_total))
             + (" · " + t("bulletin.kpi.small_units", n=count(small)) if small else ""))
    first = ranked.iloc[0] if len(ranked) else None
    if first is None:
        best = (t("bulletin.kpi.top"), "—", None)
    elif int(first["rank"]) == 1:
        best = (t("bulletin.kpi.top"), str(first["name"]), number(first["score"]))
    else:
        best = (t("bulletin.kpi.best_in_area"), str(first["name"]),
                t("bulletin.kpi.best_note", rank=count(first["rank"]), n=count(ranked_total),
                  score=number(first["score"])))
    return [units, best,
            (t("bulletin.kpi.median"), number(ranked["score"].median()), None),
            (t("bulletin.kpi.up"), count(int((change > 0).sum())), t("bulletin.kpi.vs_last")),
            (t("bulletin.kpi.down"), count(int((change < 0).sum())), t("bulletin.kpi.vs_last"))]


def kpis(frame: pd.DataFrame, *, ranked_total: int) -> None:
    """Place tiles (the unit's own rank when one unit is shown), escalations, supervision.

    ``ranked_total`` is the count of units of the level ranked city-wide.
    """
    place = (_own_tiles(frame.iloc[0], ranked_total=ranked_total) if len(frame) == 1
             else _field_tiles(frame, ranked_total=ranked_total))
    widgets.kpi_tiles([
        *place,
        (t("bulletin.kpi.escalations"), count(int(frame["escalations_overdue"].sum())),
         t("bulletin.kpi.long_overdue",
           n=count(int(frame["escalations_long_overdue"].sum())))),
        (t("bulletin.kpi.supervised"), count(int(frame["supervised"].sum())),
         t("bulletin.kpi.supervised_note",
           rate=supervised_rate_text(int(frame["supervised_on_time"].sum()),
                                     int(frame["supervised_due"].sum())),
           returns=count(int(frame["returns"].sum())))),
    ])


def score_classes(scores: pd.Series) -> tuple[list[float], list[str]]:
    """Quintile limits of the units' scores and a colour per class, worst to best."""
    v = scores.astype(float).dropna().to_numpy()
    if v.size == 0:
        return [], []
    limits = sorted(set(np.round(np.quantile(v, [0.2, 0.4, 0.6, 0.8]), 1).tolist()))
    limits = [x for x in limits if x < v.max()] or []
    k = len(limits) + 1
    picks = np.round(np.linspace(0, len(SCORE_COLOURS) - 1, k)).astype(int) if k > 1 else [4]
    return limits, [SCORE_COLOURS[i] for i in picks]


def score_map(frame_all: pd.DataFrame, *, level: str, area: str | None) -> None:
    """Every grid coloured by its unit's score (five classes), with the legend.

    At province scale, zoomed out, the map holds admin units: each is coloured by the score
    of the ranked unit it lies in, when that is the same level or coarser.
    """
    grids = data.hierarchy().grids
    view = data.map_view(area)
    unit_of = grids[level]
    if view.level != "grid":
        if level == view.level:
            unit_of = pd.Series(view.codes.to_numpy(), index=view.codes)
        elif geo_maps.MAP_LEVELS.index(level) > geo_maps.MAP_LEVELS.index(view.level):
            pairs = grids[[view.level, level]].dropna().drop_duplicates(view.level)
            unit_of = pd.Series(pairs[level].to_numpy(), index=pairs[view.level].to_numpy())
        else:
            view = None  # finer ranks than the map's units: grid_map shows how to zoom in
    scores = frame_all.set_index("code")["score"].astype(float)
    ranks = frame_all.set_index("code")["rank"]
    names = frame_all.set_index("code")["name"]
    limits, colours = score_classes(scores)
    grid_scores = unit_of.map(scores)
    cls = pd.Series(geo_maps.classify(grid_scores, limits), index=unit_of.index)
    unit_text = {}
    for code in unit_of.dropna().unique():
        unit = str(names.get(code, code))
        if code in scores.index and pd.notna(scores[code]) and pd.isna(ranks[code]):
            unit_text[code] = t("bulletin.map_value.small", unit=unit,
                                score=number(scores[code]))
        elif code in scores.index and pd.notna(scores[code]):
            unit_text[code] = t("bulletin.map_value", unit=unit, score=number(scores[code]),
                                rank=count(ranks[code]))
        else:
            unit_text[code] = t("bulletin.map_value.unranked", unit=unit)
    values = unit_of.map(unit_text).fillna(t("msg.no_data_value")).astype(str)
    label = t("bulletin.map_label", level=level_label(level))
    maps.grid_map(key="bulletin_map", classes=cls, colours=colours or [SCORE_COLOURS[-1]],
                  values=values, label=label, area=area, height=600, view=view,
                  stamp=f"{data.stamp()}|{level}|{area}")
    items = []
    lower = None
    for i, colour in enumerate(colours):
        if i < len(limits):
            text = f"≤ {number(limits[i])}" if lower is None else \
                f"{number(lower)} – {number(limits[i])}"
            lower = limits[i]
        else:
            text = f"> {number(lower)}" if lower is not None else t("bulletin.legend")
        items.append((colour, text))
    if (cls < 0).any():
        items.append((geo_maps.NO_DATA, t("legend.no_data")))
    widgets.legend(items, title=t("bulletin.legend"))
    st.caption(t("msg.map_click_hint"))


def method(weights: dict[str, float]) -> None:
    """The indicators, their weights and direction, and how the score is made."""
    with st.expander(t("bulletin.method")):
        rows = [(indicator_label(n), rate(weights.get(n, 0.0), digits=0),
                 t("bulletin.method.higher") if higher else t("bulletin.method.lower"))
                for n, (_zh, higher) in geo_bulletin.INDICATORS.items()]
        st.dataframe(pd.DataFrame(rows, columns=[t("bulletin.method.indicator"),
                                                 t("bulletin.method.weight"),
                                                 t("bulletin.method.direction")]),
                     hide_index=True, width="stretch")
        st.caption(t("bulletin.method.text"))
        st.caption(t("bulletin.method.supervision", n=supervision.MIN_SAMPLE))


def download(month: str, area: str | None) -> None:
    """The CSV of the bulletin (all three levels), for the units the page shows."""
    downloads.button(t("bulletin.download"), body=csv_bytes(month, area),
                     file_name=f"gridmap_bulletin_{month.replace('-', '')}.csv",
                     mime="text/csv", icon=":material/file_download:", key="bulletin_download")
    if lang() != "zh":
        st.caption(t("bulletin.download_note"))


def claims(month: str, level: str, area: str | None) -> None:
    """解忧联盟: the month's claim rate and median time to claim per unit of the level."""
    table = bulletin(month).claims.get(level)
    st.markdown(f"**{t('alliance.bulletin')}**")
    st.caption(t("alliance.bulletin.intro"))
    if table is not None and not data.whole(area):
        table = table[table["code"].isin(_units(level, area))]
    if table is None or table.empty:
        st.caption(t("alliance.bulletin.none"))
        return
    st.dataframe(pd.DataFrame({
        t("alliance.col.unit"): table["name"].fillna(table["code"]),
        t("alliance.col.claimable"): table["claimable"].map(count),
        t("alliance.col.claimed"): table["claimed"].map(count),
        t("alliance.col.claim_rate"): table["claim_rate"].map(rate),
        t("alliance.col.median_hours"): table["median_hours"].map(number),
        t("bulletin.col.code"): table["code"],
    }), hide_index=True, width="stretch")
