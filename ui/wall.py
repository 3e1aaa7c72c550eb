"""The command wall's pieces: controls, KPI tiles, layered map and ticker.

The wall refreshes inside an ``st.fragment(run_every=…)``. Each refresh fixes one cut-off
(:func:`ui.data.wall_refresh`, :mod:`geo.wall`), stepping with the refresh interval, and
hands it to every figure, tiles, map and ticker, so they agree: a request committed before
the refresh is in all of them, and the header shows that cut-off as the figures' time.
Figures are cached on the data version and the cut-off, and each refresh sends only a new
grid style (a few tens of KB): the map itself stays mounted, so there is no flicker and
pan/zoom are kept. Streamlit fades the elements of a fragment while it reruns; on a wall
that refreshes every few seconds for days that is a constant pulse, so the wall's CSS
(:data:`NO_FADE_CSS`) keeps them at full opacity.
"""

from __future__ import annotations

import html
import time
from datetime import datetime

import pandas as pd
import streamlit as st

from geo import maps as geo_maps
from geo.access import AccessDenied
from geo.deadlines import LEVELS, ConfigError
from geo.supervision import MIN_SAMPLE
from geo.wall import LAYER_COLUMN, LAYERS, Refresh, WallSupervision
from ui import data, maps, state, widgets
from ui.text import count, literal, rate, short_when, t, time_left, vocab, when

MEASURES = ("count", "per_1k")
#: Session key: the cut-off of the ticker last drawn, per area ("new" is newer than it).
SEEN_KEY = "_wall_ticker_seen"

#: Streamlit 1.67 marks an element still waiting for its rerun with ``data-stale="true"``
#: on its ``stElementContainer`` and fades it (opacity .33 after .5 s). The wall's
#: elements are replaced within a refresh anyway: keep them at full opacity.
NO_FADE_CSS = """
<style>
[data-testid="stElementContainer"][data-stale="true"],
[data-testid="stVerticalBlock"][data-stale="true"], [data-stale="true"] {
  opacity: 1 !important; transition: none !important; }
</style>
"""


def still_allowed() -> bool:
    """Re-check the session on each refresh: a revoked or expired wall token stops here.

    The token is re-verified at most once a minute (ui.data), so a revoked screen goes dark
    within a minute instead of showing figures for days.
    """
    try:
        data.scope()
    except AccessDenied as exc:
        from ui.auth import token_refusal  # ui.auth imports the pages' helpers

        st.error(token_refusal(exc), icon=widgets.ICON_DENIED)
        return False
    return True


def no_fade() -> None:
    """Keep the wall's elements at full opacity while a refresh reruns (once per run)."""
    st.markdown(NO_FADE_CSS, unsafe_allow_html=True)


def wanted_layers(*, rotating: bool) -> tuple[str, ...]:
    """The map layers of ``?layer=`` (one, or several separated by commas, to rotate).

    Default: request heat, or all :data:`geo.wall.LAYERS` when the wall rotates. Unknown
    names are reported and left out.
    """
    raw = st.query_params.get("layer")
    if raw is None or not raw.strip():
        return LAYERS if rotating else ("heat",)
    names = [n.strip() for n in raw.split(",") if n.strip()]
    bad = [n for n in names if n not in LAYERS]
    if bad:
        st.warning(t("msg.bad_param", name="layer", value=literal(", ".join(bad)),
                     reason=" / ".join(LAYERS)))
    good = tuple(dict.fromkeys(n for n in names if n in LAYERS))
    return good or ("heat",)


def controls(*, kiosk: bool, layers: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    """The heat window, measure and layers: from the URL in kiosk mode, widgets otherwise."""
    wanted = st.query_params.get("window", "7d")
    if wanted not in data.WINDOWS:
        st.warning(t("msg.bad_param", name="window", value=literal(wanted),
                     reason="24h / 7d / 30d"))
        wanted = "7d"
    if kiosk:
        return wanted, "count", layers
    first, left, right = st.columns([3, 2, 2])
    with first:
        layer = st.segmented_control(t("wall.layer"), list(LAYERS), default=layers[0],
                                     format_func=lambda x: t(f"wall.layer.{x}"),
                                     key="wall_layer") or layers[0]
    measure = "count"
    window = wanted
    if layer == "heat":
        with left:
            window = st.segmented_control(t("window.label"), list(data.WINDOWS),
                                          default=wanted,
                                          format_func=lambda w: t(f"window.{w}"),
                                          key="wall_window") or wanted
        with right:
            measure = st.segmented_control(t("wall.measure"), MEASURES, default="count",
                                           format_func=lambda m: t(f"wall.measure.{m}"),
                                           key="wall_measure") or "count"
    return window, measure, (layer,)


def run_every(params: state.Params) -> int:
    """Seconds between refreshes: the shorter of refresh and rotation."""
    return min(params.refresh, params.rotate) if params.rotate else params.refresh


def current_view(params: state.Params, layers: tuple[str, ...]) -> tuple[str | None, str]:
    """The area and layer on screen now.

    With ``rotate`` (kiosk), each turn shows the next layer; without ``?area=`` the wall
    also moves on to the next area of :func:`rotation` once every layer has been shown
    there. Every area it turns to is inside the session's scope.
    """
    if not (params.kiosk and params.rotate):
        return state.area(), layers[0]
    turn = int(time.time() // params.rotate)
    layer = layers[turn % len(layers)]
    if st.query_params.get("area"):
        return state.area(), layer
    codes = rotation()
    if not codes:
        return state.area(), layer
    return codes[(turn // len(layers)) % len(codes)], layer


def rotation() -> list[str]:
    """The areas a rotating wall cycles through, all inside the session's scope.

    The counties it may read, when there are several; otherwise its own area and the
    units one level below (a county's wall shows the county, then each township).
    """
    units = data.units()
    counties = [c for c in units.index[units["level"] == "county"] if data.may_read_area(c)]
    if len(counties) > 1:
        return counties
    home = state.area()
    if home is None:
        return counties
    below = [c for c in units.index[units["parent_code"] == home] if data.may_read_area(c)]
    return [home, *below]


def refresh(*, every: int = 60) -> Refresh | None:
    """Fix the refresh's cut-off and data version (:func:`ui.data.wall_refresh`).

    ``every``: the refresh interval in seconds, the step of the cut-off. None, with the
    reason shown, when the site's deadline or holiday file cannot be read.
    """
    try:
        return data.wall_refresh(every=every)
    except ConfigError as exc:
        st.error(t("msg.config_error", reason=literal(str(exc), limit=300)),
                 icon=widgets.ICON_DENIED)
        return None


def header(area: str | None, *, kiosk: bool, at: Refresh, layer: str = "heat") -> None:
    """Title with the area's name, the layer, and the time of the figures (Asia/Shanghai).

    The time is the refresh's cut-off, the moment every figure below describes (at most
    one refresh interval ago), not the clock.
    """
    name = data.area_name(area)
    stamp = when(at.cutoff, seconds=kiosk)
    if kiosk:
        st.markdown(f"<h2 class='gm-wall-title'>{html.escape(t('app.title'))} · "
                    f"{html.escape(name)} · {html.escape(t(f'wall.layer.{layer}'))} "
                    f"<span class='gm-as-of'>{html.escape(t('wall.as_of', time=stamp))}"
                    f"</span></h2>", unsafe_allow_html=True)
    else:
        st.subheader(f"{t('wall.title')} · {name}")
        st.caption(t("wall.as_of", time=stamp))


def kpis(area: str | None, *, at: Refresh) -> None:
    """The eight KPI tiles, as of the refresh's cut-off."""
    k = data.wall_kpis(area, at=at)
    recent = t("wall.rates_note")
    backlog = t("wall.backlog_note")
    widgets.kpi_tiles([
        (t("kpi.today"), count(k.today_requests), None),
        (t("kpi.open"), count(k.open), backlog),
        (t("kpi.overdue"), count(k.overdue), backlog),
        (t("kpi.newly_overdue"), count(k.newly_overdue), t("wall.newly_note")),
        (t("kpi.resolution_rate"), rate(k.resolution_rate), recent),
        (t("kpi.on_time_rate"), rate(k.on_time_rate), recent),
        (t("kpi.satisfaction_rate"), rate(k.satisfaction_rate), recent),
        (t("kpi.open_disputes"), count(k.open_disputes), backlog),
    ], alert=[False, False, k.overdue > 0, k.newly_overdue > 0, False, False, False,
              k.open_disputes > 0])


def action_figures(area: str | None, *, at: Refresh) -> WallSupervision:
    """Read the supervision and claim figures at the cut-off (before anything is drawn).

    Read with the tiles' figures, not between the map and the ticker, so that the pieces
    of one refresh still reach the screen together.
    """
    return data.wall_supervision(area, at=at)


def supervision(s: WallSupervision) -> None:
    """督办 beside the map, above the ticker: two tiles, and the claim rate in a line.

    Eleven tiles do not fit one row at the wall's type size (a second row pushes the
    map's legend off a 1080 px screen), so the action figures sit in the side column, two
    tiles wide; the 解忧联盟 claim rate, a figure for the sites that run an alliance, is
    one line under them when there were cards to claim.
    """
    widgets.kpi_tiles([(t("kpi.supervised_open"), count(s.supervised_open),
                        t("wall.backlog_note")),
                       supervised_tile(s)],
                      alert=[s.supervised_open > 0, False])
    if s.claims.claimable:
        st.caption(t("wall.claims", rate=rate(s.claims.claim_rate),
                     claimed=count(s.claims.claimed), claimable=count(s.claims.claimable)))


def supervised_tile(s: WallSupervision) -> tuple[str, str, str]:
    """督办按期率: a percentage from MIN_SAMPLE due requests up, else "on time/due"."""
    r = s.recent
    if r.supervised_due and r.small_sample:
        return (t("kpi.supervised_on_time"), f"{r.supervised_on_time}/{r.supervised_due}",
                t("wall.small_sample", n=MIN_SAMPLE))
    return (t("kpi.supervised_on_time"), rate(r.on_time_rate),
            t("wall.supervised_note", n=count(r.supervised)))


def layer_map(area: str | None, *, layer: str, window: str, measure: str, kiosk: bool,
              at: Refresh) -> None:
    """The choropleth of one layer per grid at the cut-off, with unit names, totals, legend.

    Classes: zero alone and muted, then quantiles of the non-zero grids
    (:func:`geo.maps.class_breaks`), so that the places with the most stand out.
    """
    column = LAYER_COLUMN[layer]
    if layer == "heat" and measure == "per_1k":
        column = "requests_per_1k"
    view, values = maps.heat_figures(area, window=window, column=column, at=at, layer=layer)

    def per_1k(v: float) -> str:
        return f"{v:,.1f}"

    fmt = per_1k if column == "requests_per_1k" else count
    unit = t("unit.per_1k") if column == "requests_per_1k" else t("unit.requests")
    colours = geo_maps.WALL_COLOURS["dark" if kiosk else "light"]
    classes, items = maps.heat_classes(values, colours=colours,
                                       fmt=per_1k if column == "requests_per_1k" else None,
                                       unit=unit)
    if layer == "heat":
        label = t(f"wall.map_label.{measure}", window=t(f"window.{window}"))
    else:
        label = t(f"wall.map_label.{layer}")
    if view.level != "grid":
        label += t("map.by_level", level=t(f"level.{view.level}"))
    if layer == "heat" and float(data.grid_heat(window, at=at)["requests"].sum()) == 0:
        st.info(t("msg.no_requests"))

    # The stamp (recorded on the page when the style is applied) names the data version
    # and the cut-off, so a test can tell which refresh the map shows.
    maps.grid_map(key="wall_map", classes=classes, colours=colours,
                  values=maps.codes_text(values, fmt), label=label, area=area,
                  height=640, clickable=not kiosk, dark=kiosk, view=view, fill=kiosk,
                  labels=unit_labels(area, layer=layer, window=window, at=at),
                  stamp=f"{at.stamp}|{at.cutoff:%Y%m%dT%H%M%S}|{area}|{layer}|{window}|"
                        f"{measure}")
    empty = layer != "heat" and not bool((values.fillna(0) > 0).any())
    # An empty layer says so in its legend (a line above the map would push it off a wall).
    widgets.legend(items, title=t("wall.layer_empty", layer=label) if empty else label)
    if not kiosk:
        st.caption(t("msg.map_click_hint" if view.level == "grid" else "map.units_click_hint"))


def unit_labels(area: str | None, *, layer: str, window: str,
                at: Refresh) -> pd.DataFrame | None:
    """The names and totals written on the map: the counties, or one county's townships.

    The total is the layer's count (requests in the window, open, overdue or open
    disputes) summed over the unit's grids in scope. None inside a township or smaller.
    """
    units = data.units()
    level = "county"
    if area is not None and area in units.index and units.at[area, "level"] != "city":
        if units.at[area, "level"] != "county":
            return None
        level = "township"
    points = data.label_points(level)
    # Only the units in scope (a wall token bound to a county sees its own name only).
    points = points[points.index.isin(units.index)]
    if level == "township":
        points = points[units["parent_code"].reindex(points.index).to_numpy() == area]
    if points.empty:
        return None
    totals = data.unit_layer(layer, window, level, at=at)[LAYER_COLUMN[layer]]
    totals = totals.reindex(points.index).fillna(0)
    points = points.assign(name=[short_name(n, within=data.area_name(area))
                                 for n in points["name"]],
                           figure=[f"{count(v)} {t('unit.requests')}".strip() for v in totals],
                           total=totals.to_numpy())
    # Largest first: where two would overlap, the browser moves the later one.
    return points.sort_values("total", ascending=False, kind="stable").reset_index(drop=True)


def short_name(name: str, *, within: str) -> str:
    """A unit's name without the name of its city in front, for the map.

    "湖南益阳高新技术产业园区" in 益阳市 is written "高新技术产业园区", "益阳市大通湖管理区"
    "大通湖管理区": the map is of that city already, and long names cover their neighbours.
    The city's name counts when it starts within the first four characters (after a
    province's name).
    """
    out = str(name)
    short = within.removesuffix("市")
    at = out.find(short) if len(short) >= 2 else -1
    if 0 <= at <= 4:
        rest = out[at + len(short):].removeprefix("市")
        if len(rest) >= 2:
            return rest
    return out


def _badges(r, *, since: datetime | None) -> str:
    """The text badges of a ticker entry (words, not only a colour).

    新到 when it was reported at or after the previous refresh's cut-off (windows are
    [since, cut-off), so a request reported exactly at the old cut-off is new now); 临期
    when due soon; "超期 5 小时" (how late) once past its deadline.
    """
    out = []
    if since is not None and pd.Timestamp(r.reported_at) >= pd.Timestamp(since):
        out.append(f'<span class="gm-badge gm-new">{html.escape(t("wall.new"))}</span>')
    level = int(r.level)
    if level >= 2 and pd.notna(r.due_at):
        late = time_left(r.left.total_seconds() / 3600)
        out.append(f'<span class="gm-badge gm-lv-{level}">{html.escape(late)}</span>')
    elif level == 1:
        out.append(f'<span class="gm-badge gm-lv-1">'
                   f'{html.escape(t(f"escalation.{LEVELS[1]}"))}</span>')
    return "".join(out)


def ticker_rows(area: str | None, *, kiosk: bool, at: Refresh) -> pd.DataFrame:
    """Read the ticker's entries at the cut-off (before anything is drawn, like the tiles)."""
    return data.ticker(area, at=at, limit=5 if kiosk else 10)


def ticker(rows: pd.DataFrame, *, area: str | None, at: Refresh) -> None:
    """New urgent and newly overdue requests, newest first; residents' text escaped.

    Three short lines an entry: when and the badges; the grid and what the resident
    wrote (one line, cut); category, status and the deadline (with the time left while
    in time). The list carries the refresh's cut-off (``data-cutoff``) and the previous one
    (``data-since``), so that what is marked new can be checked against both; the
    previous cut-off moves on only once this list is drawn.
    """
    st.markdown(f'<div class="gm-ticker-title">{html.escape(t("wall.ticker"))}</div>',
                unsafe_allow_html=True)
    seen: dict = st.session_state.setdefault(SEEN_KEY, {})
    since = seen.get(area)
    if since is not None and since > at.cutoff:
        since = None  # the clock or the data went back (a restored database): nothing is new
    if rows.empty:
        st.caption(t("wall.ticker.none"))
        seen[area] = at.cutoff
        return
    names = data.hierarchy().grids["name"]
    items = []
    for r in rows.itertuples(index=False):
        where = names.get(r.grid_code, r.grid_code) if isinstance(r.grid_code, str) else "—"
        text = str(r.description or "")
        if len(text) > 60:
            text = text[:59] + "…"
        facts = [vocab("category", r.category), vocab("status", r.status)]
        if pd.notna(r.due_at):
            deadline = t("wall.deadline", time=short_when(r.due_at))
            # Once late, how late is the badge; in time, the time left follows the deadline.
            facts.append(deadline if int(r.level) >= 2 else
                         f"{deadline} · {time_left(r.left.total_seconds() / 3600)}")
        items.append(
            f'<li class="gm-lv-{int(r.level)}" data-id="{int(r.id)}">'
            f'<span class="gm-when">{html.escape(short_when(r.moment))}</span>'
            f'{_badges(r, since=since)}'
            f'<span class="gm-text"><span class="gm-where">{html.escape(str(where))}</span>'
            f'{html.escape(text)}</span>'
            f'<span class="gm-due">{html.escape(" · ".join(facts))}</span></li>')
    stamp = f"{at.cutoff:%Y-%m-%dT%H:%M:%S}"
    previous = "" if since is None else f"{since:%Y-%m-%dT%H:%M:%S}"
    st.markdown(f'<ul class="gm-ticker" data-cutoff="{stamp}" data-since="{previous}">'
                f'{"".join(items)}</ul>', unsafe_allow_html=True)
    seen[area] = at.cutoff  # only now: the entries above were shown as new once
