"""Cached wrappers around geo/ for the pages: one engine per process, data cached by version.

Caches are keyed on :func:`stamp`, a cheap token that changes whenever grids, requests,
events or stations change, so a page reruns from cache until the data moves. Windowed
figures are also keyed on the minute, and every cache holds a bounded number of entries,
so that a wall screen running for days does not grow.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import NamedTuple

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo import accounts, clock, escalation, heat
from geo import maps as geo_maps
from geo import wall as geo_wall
from geo.access import AccessDenied, Scope
from geo.assets import assets_ready, install_assets, publish
from geo.deadlines import DeadlinePolicy, policy_and_calendar
from geo.hierarchy import check_area
from geo.maps import MapChoice, map_level, map_shapes, pack_grids, simplified
from geo.store.engine import database_url, is_empty, make_engine
from geo.store.live import data_stamp
from geo.store.requests import read_admin_units, read_grids
from geo.store.updates import open_for_escalation
from ui import ACCOUNT_KEY, WALL_TOKEN_KEY
from ui.text import t


def _polygon_limit() -> int:
    """``GRIDMAP_MAX_POLYGONS``: the most polygons one map sends (DESIGN §9: 10,000)."""
    raw = os.environ.get("GRIDMAP_MAX_POLYGONS", "").strip()
    if not raw:
        return geo_maps.MAX_POLYGONS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"GRIDMAP_MAX_POLYGONS={raw!r}: expected a whole number of "
                         "polygons, at least 1 (default 10000)")
    return int(raw)


#: The most polygons a map sends at once; a weak wall PC may want fewer.
MAX_POLYGONS = _polygon_limit()

#: Trailing windows of the heat map: key -> length.
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@st.cache_resource(show_spinner=False, max_entries=4)
def _engine(url: str):
    return make_engine(url)


def engine():
    """Return the process-wide engine for ``GRIDMAP_DATABASE_URL`` (schema upgraded)."""
    return _engine(database_url())


@st.cache_resource(show_spinner=False)
def ensure_assets() -> bool:
    """Copy Leaflet into static/ once per process if an install step has not done it."""
    if not assets_ready():
        install_assets()
    return True


def demo_requested() -> bool:
    """True when ``GRIDMAP_DEMO=1`` asks for the demo city on an empty database."""
    return os.environ.get("GRIDMAP_DEMO", "").strip() == "1"


def ensure_data() -> None:
    """Seed the Yiyang demo city into an empty database when asked to, showing progress.

    Only ``GRIDMAP_DEMO=1`` (set by ``scripts/start.sh --demo``, which builds the demo in the
    terminal before the server starts) does it: an empty production database stays empty,
    with no demo accounts, and the pages say how to import data.
    """
    if not demo_requested() or not is_empty(engine()):
        return
    from geo import demo  # only here: the demo's generators are not needed to serve pages

    with st.status(t("msg.seeding"), expanded=True) as status:
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        counts = demo.init_demo(engine(), progress=progress)
        status.update(label=t("msg.seeded", grids=f"{counts['grid']:,}",
                              requests=f"{counts['request']:,}"), state="complete")
    st.cache_data.clear()
    password_problems.clear()


@st.cache_data(ttl=5, show_spinner=False, max_entries=4)
def _stamp(url: str) -> str:
    return f"{url}|{data_stamp(engine())}"


def stamp() -> str:
    """The database URL and data version (:func:`geo.store.live.data_stamp`), re-read every 5 s.

    Every cache below is keyed on it, so two databases never share an entry.
    """
    return _stamp(database_url())


def refresh() -> None:
    """Forget the data version now (after an import), so the next read sees the new data."""
    _stamp.clear()


def now() -> datetime:
    """The current moment, naive UTC, to the second."""
    return clock.now(precision="s")


def minute() -> datetime:
    """The current minute, naive UTC: the cache key of live figures."""
    return clock.now(precision="min")


def grid_part(version: str) -> str:
    """The part of a data stamp that changes with the grids, units and stations."""
    url, _, counts = version.rpartition("|")
    # geo.store.live.data_stamp: grids, requests, events, activities, stations, written.
    grids, _requests, _events, _activities, stations, written = counts.split(":")
    return f"{url}|{grids}:{stations}:{written}"


# --------------------------------------------------------------------------- geometry


# --------------------------------------------------------------------------- who is asking

#: The signed-in browser's server-side session (the cookie value; see geo.accounts).
SESSION_KEY = "_session"


@st.cache_data(ttl=60, show_spinner=False, max_entries=64)
def _wall_scope(token: str, at: datetime, url: str) -> Scope:
    # Re-checked at most once a minute per screen, so a revoked token stops within one.
    return accounts.check_wall_token(engine(), token)


@st.cache_data(ttl=60, show_spinner=False, max_entries=256)
def _session_account(token: str, at: datetime, url: str) -> accounts.Account:
    # Re-checked at most once a minute per session (like wall tokens), so sign-out
    # elsewhere, a password change, disabling the account or an admin's end-sessions
    # stops a running session within a minute.
    return accounts.account_for_session(engine(), token)


def scope() -> Scope:
    """The signed-in account's (or the wall token's) :class:`~geo.access.Scope`.

    Every cached wrapper below passes it to geo/ and keys its cache on it, so two users
    with different areas never share an entry.

    Raises
    ------
    geo.access.AccessDenied
        Nobody is signed in, the account's session was ended or has expired, or the wall
        token was revoked or has expired.

    """
    account = st.session_state.get(ACCOUNT_KEY)
    if isinstance(account, accounts.Account):
        session = st.session_state.get(SESSION_KEY)
        if session:  # an account signed in through ui/auth.py always has one
            account = _session_account(session, minute(), database_url())
        return account.scope
    token = st.session_state.get(WALL_TOKEN_KEY)
    if token:
        return _wall_scope(token, minute(), database_url())
    raise AccessDenied("not signed in")


@st.cache_data(ttl=300, show_spinner=False, max_entries=4)
def password_problems(url: str) -> list[str]:
    """Accounts with a demo or default password on a non-demo database (see geo.accounts)."""
    return accounts.demo_password_problems(engine())


def _areas_key(s: Scope) -> tuple[str, ...] | None:
    return s.areas


def everywhere() -> bool:
    """True when the session may see every area (no filtering by scope needed)."""
    return scope().everywhere


def whole(area: str | None) -> bool:
    """True when ``area`` means everything there is: no area chosen and no scope limit."""
    return area is None and everywhere()


def cache_scope() -> Scope:
    """The session's scope without its actor: the cache key shared by equal scopes."""
    s = scope()
    return Scope(s.role, s.areas)


@st.cache_resource(show_spinner=False, max_entries=2)
def _hierarchy(version: str) -> heat.UnitHierarchy:
    return heat.unit_hierarchy(engine())


@st.cache_resource(show_spinner=False, max_entries=16)
def _scoped_hierarchy(version: str, areas: tuple[str, ...]) -> heat.UnitHierarchy:
    return heat.within(_hierarchy(version), Scope("wall", areas))


def full_hierarchy() -> heat.UnitHierarchy:
    """Every grid and unit, whoever asks: only to tell "outside your areas" from "unknown"."""
    return _hierarchy(grid_part(stamp()))


def hierarchy() -> heat.UnitHierarchy:
    """The grids and units inside the session's scope, with community…city of each grid."""
    areas = _areas_key(scope())
    if areas is None:
        return full_hierarchy()
    return _scoped_hierarchy(grid_part(stamp()), areas)


def may_read_area(code: str) -> bool:
    """True when the session may read area ``code`` as a whole (the check every read makes).

    A grid head's county is among the units they see (it names their grids), but reading
    the whole county is refused: this tells the pages before a read raises.
    """
    try:
        check_area(full_hierarchy(), code, scope())
    except AccessDenied:
        return False
    return True


def outside_scope(code: str) -> bool:
    """True for a real grid or unit code that the session may not see (a refusal, not 404)."""
    full = full_hierarchy()
    known = code in full.grids.index or code in full.units.index
    mine = hierarchy()
    return known and code not in mine.grids.index and code not in mine.units.index


def has_grids() -> bool:
    """True once any grid is loaded."""
    return not hierarchy().grids.empty


@st.cache_resource(show_spinner=False, max_entries=2)
def _map_grids(version: str) -> gpd.GeoDataFrame:
    grids = read_grids(engine())
    return simplified(grids[["code", "name", "community_code", "population", "geometry"]])


@st.cache_resource(show_spinner=False, max_entries=16)
def _scoped_map_grids(version: str, areas: tuple[str, ...]) -> gpd.GeoDataFrame:
    grids = _map_grids(version)
    inside = _scoped_hierarchy(version, areas).grids.index
    return grids[grids["code"].isin(inside)].reset_index(drop=True)


def map_grids() -> gpd.GeoDataFrame:
    """Grids in scope, simplified for the browser (shared edges kept, 5-decimal coordinates)."""
    areas = _areas_key(scope())
    version = grid_part(stamp())
    return _map_grids(version) if areas is None else _scoped_map_grids(version, areas)


@st.cache_resource(show_spinner=False, max_entries=2)
def analysis_grids_at(version: str) -> gpd.GeoDataFrame:
    """:func:`analysis_grids` for a given :func:`grid_part` version (cached)."""
    grids = read_grids(engine())
    return grids[["code", "name", "community_code", "population", "geometry"]]


def analysis_grids() -> gpd.GeoDataFrame:
    """Grids at full precision for analysis (not simplified), ordered by code. Read-only."""
    return analysis_grids_at(grid_part(stamp()))


class MapView(NamedTuple):
    """The polygons a page's map holds: grids, or admin units at province scale.

    Attributes
    ----------
    level : str
        "grid", or the admin level of the polygons (:data:`geo.maps.MAP_LEVELS`).
    area : str or None
        The area the polygons cover (None: everything in scope).
    file_id, url : str
        The packed file's content id and where the browser fetches it.
    codes : pandas.Index
        Polygon codes in file order.

    """

    level: str
    area: str | None
    file_id: str
    url: str
    codes: pd.Index


@st.cache_resource(show_spinner=False, max_entries=2)
def _unit_shapes(version: str) -> gpd.GeoDataFrame:
    units = read_admin_units(engine())
    units = units[units["level"].isin(["community", "township", "county"])]
    parts = [units[units.geometry.isna()]]
    # Each level is a coverage of its own (levels overlap one another): simplify apart.
    for _level, same in units[units.geometry.notna()].groupby("level"):
        parts.append(simplified(same, tolerance_m=30))
    return pd.concat(parts)[["code", "name", "geometry"]]


#: Map files remembered per process. The folder keeps twice as many, so a file a cached
#: view still names is never pruned (with more scopes than the folder kept, a grid head's
#: map pointed at a deleted file).
_MAP_FILES = 32


@st.cache_resource(show_spinner=False, max_entries=_MAP_FILES)
def _map_file(version: str, areas: tuple[str, ...] | None, choice: MapChoice) -> MapView:
    grids = _map_grids(version) if areas is None else _scoped_map_grids(version, areas)
    membership = (_hierarchy(version) if areas is None
                  else _scoped_hierarchy(version, areas)).grids
    if choice == ("grid", None):
        shapes = grids
    else:
        shapes = map_shapes(choice, grids=grids, units=_unit_shapes(version),
                            membership=membership)
    body, file_id = pack_grids(shapes)
    url = publish(body, name=f"grids-{file_id}.json", keep=2 * _MAP_FILES)
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return MapView(choice.level, choice.area, file_id, f"/{base}{url}" if base else url,
                   pd.Index(shapes["code"]))


def map_view(area: str | None = None) -> MapView:
    """What the map of ``area`` (an admin unit, a grid, or None) sends to the browser.

    A city sends every grid in scope whatever the area, so the map never reloads when the
    area changes. A province (more than :data:`MAX_POLYGONS` grids) sends admin
    units until an area small enough for its grids is chosen (:func:`geo.maps.map_level`).
    """
    version = grid_part(stamp())
    areas = _areas_key(scope())
    return _map_file(version, areas, _map_choice(version, areas, area, MAX_POLYGONS))


@st.cache_resource(show_spinner=False, max_entries=64)
def _map_choice(version: str, areas: tuple[str, ...] | None, area: str | None,
                limit: int) -> MapChoice:
    membership = (_hierarchy(version) if areas is None
                  else _scoped_hierarchy(version, areas)).grids
    return map_level(membership, area=area, limit=limit)


@st.cache_data(show_spinner=False, max_entries=16)
def _unit_heat(window: str, level: str, until: datetime, version: str,
               who: Scope) -> pd.DataFrame:
    return heat.add_rates(heat.rollup(_grid_heat(window, until, version, who),
                                      _hierarchy(grid_part(version)).grids, level=level))


def unit_heat(window: str, level: str, *, at: geo_wall.Refresh | None = None) -> pd.DataFrame:
    """:func:`grid_heat` summed to the admin units of ``level`` (grids in scope), with rates."""
    until, version = _moment(at)
    return _unit_heat(window, level, until, version, cache_scope())


@st.cache_resource(show_spinner=False, max_entries=2)
def _outlines(version: str) -> gpd.GeoDataFrame:
    units = read_admin_units(engine(), level="county")
    units = units[units.geometry.notna()]
    if units.empty:
        return units
    return simplified(units[["code", "name", "geometry"]], tolerance_m=50)


def county_outlines() -> gpd.GeoDataFrame:
    """County-level outlines, the base layer of every map."""
    return _outlines(grid_part(stamp()))


def city_bounds() -> tuple[float, float, float, float]:
    """The extent of every grid (or the outlines when there are no grids)."""
    grids = map_grids()
    frame = grids if not grids.empty else county_outlines()
    if frame.empty:
        return (111.9, 28.0, 113.0, 29.4)  # Yiyang: a sensible view of nothing
    return tuple(float(v) for v in frame.total_bounds)


def area_bounds(area: str | None) -> tuple[float, float, float, float]:
    """The extent of an area's grids (the whole city for None)."""
    if area is None:
        return city_bounds()
    codes = area_codes(area)
    grids = map_grids()
    inside = grids[grids["code"].isin(codes)]
    return tuple(float(v) for v in inside.total_bounds) if len(inside) else city_bounds()


# --------------------------------------------------------------------------- areas


def units() -> pd.DataFrame:
    """Admin units: index code; name, level, parent_code."""
    return hierarchy().units


def area_codes(area: str | None) -> pd.Index:
    """The grid codes in an area (a grid, an admin unit, or None for all)."""
    grids = hierarchy().grids
    if area is None:
        return grids.index
    if area in grids.index:
        return pd.Index([area])
    level = units().at[area, "level"] if area in units().index else None
    if level in grids.columns:
        return grids.index[(grids[level] == area).to_numpy()]
    return pd.Index([])


def area_name(area: str | None) -> str:
    """Display name of an area code (the city's name for None)."""
    if area is None:
        city = units()[units()["level"] == "city"]
        return str(city["name"].iloc[0]) if len(city) and city["name"].iloc[0] else t("app.city")
    if area in units().index and pd.notna(units().at[area, "name"]):
        return str(units().at[area, "name"])
    grids = hierarchy().grids
    if area in grids.index:
        return str(grids.at[area, "name"])
    return area


def is_area(code: str) -> bool:
    """True for an admin unit code (any level)."""
    return code in units().index


def is_grid(code: str) -> bool:
    """True for a stored grid code."""
    return code in hierarchy().grids.index


def search_grids(query: str, *, limit: int = 20) -> pd.DataFrame:
    """Grids whose code starts with, or whose name contains, ``query``: code, name."""
    q = query.strip()
    grids = hierarchy().grids
    if not q:
        return pd.DataFrame(columns=["code", "name"])
    hit = grids.index.str.startswith(q) | grids["name"].fillna("").str.contains(q, regex=False)
    found = grids[hit].head(limit)
    return pd.DataFrame({"code": found.index, "name": found["name"].to_numpy()})


# --------------------------------------------------------------------------- live figures


def _moment(at: geo_wall.Refresh | None) -> tuple[datetime, str]:
    """The cut-off and data version of a figure: a wall refresh's, or the current minute's."""
    return (at.cutoff, at.stamp) if at is not None else (minute(), stamp())


@st.cache_data(show_spinner=False, max_entries=16)
def _grid_heat(window: str, until: datetime, version: str, who: Scope) -> pd.DataFrame:
    h = _hierarchy(grid_part(version))
    since = until - WINDOWS[window]
    counts = heat.request_heat(engine(), since=since, until=until, hierarchy=h, scope=who)
    return heat.add_rates(counts)


def grid_heat(window: str, *, at: geo_wall.Refresh | None = None) -> pd.DataFrame:
    """Requests and requests per 1,000 residents per grid in scope, over a trailing window.

    Up to a wall refresh's cut-off when ``at`` is given, else up to the current minute.
    """
    until, version = _moment(at)
    return _grid_heat(window, until, version, cache_scope())


# --------------------------------------------------------------------------- the wall's refresh


def deadline_policy() -> DeadlinePolicy:
    """The site's deadline policy (``GRIDMAP_DEADLINES``).

    Raises :class:`geo.deadlines.ConfigError` when it, or the holiday file, does not parse.
    """
    return policy_and_calendar()[0]


@st.cache_resource(show_spinner=False, max_entries=2)
def _backlog(version: str) -> pd.DataFrame:
    # The open backlog's deadlines and recorded levels: re-read only when the data changes.
    # A resource, not data: shared without a copy per refresh; only ever read.
    return open_for_escalation(engine())


def wall_refresh(*, every: int = 60) -> geo_wall.Refresh:
    """One wall refresh's data version and cut-off, read fresh (not the 5 s cached stamp).

    ``every``: the wall's refresh interval in seconds. The cut-off steps with it
    (:func:`geo.wall.cutoff`), and every wall figure is cached on the cut-off, so a figure
    is never older than one refresh interval (not a fixed minute).

    Escalations (督办) the clock has reached by the cut-off are recorded first, from the
    backlog cached on the data version: a few milliseconds when nothing crossed. When
    something did, the events written are a change, so the version is read again.
    """
    step = timedelta(seconds=max(1, int(every)))
    point = geo_wall.refresh_point(engine(), step=step)
    if escalation.record(engine(), now=point.cutoff, policy=deadline_policy(),
                         backlog=_backlog(point.stamp)):
        point = geo_wall.refresh_point(engine(), step=step)
    return point


@st.cache_data(show_spinner=False, max_entries=16)
def _grid_backlog(until: datetime, version: str, who: Scope) -> pd.DataFrame:
    return heat.grid_backlog(engine(), as_of=until, hierarchy=_hierarchy(grid_part(version)),
                             scope=who)


def grid_layer(layer: str, window: str, *, at: geo_wall.Refresh | None = None) -> pd.DataFrame:
    """The per-grid figures of a wall layer (:data:`geo.wall.LAYERS`) at the cut-off.

    Heat: :func:`grid_heat` over ``window``; the other layers: the open backlog per grid
    (:func:`geo.heat.grid_backlog`), one query shared by the three of them.
    """
    if layer == "heat":
        return grid_heat(window, at=at)
    until, version = _moment(at)
    return _grid_backlog(until, version, cache_scope())


def unit_layer(layer: str, window: str, level: str, *,
               at: geo_wall.Refresh | None = None) -> pd.DataFrame:
    """:func:`grid_layer` summed to the admin units of ``level`` (grids in scope)."""
    if layer == "heat":
        return unit_heat(window, level, at=at)
    return heat.rollup(grid_layer(layer, window, at=at), hierarchy().grids, level=level)


@st.cache_resource(show_spinner=False, max_entries=2)
def _label_points(version: str) -> pd.DataFrame:
    units = read_admin_units(engine())
    units = units[units["level"].isin(["county", "township"]) & units.geometry.notna()]
    points = geo_maps.label_points(units)
    return points.assign(level=units.set_index("code")["level"].reindex(points["code"])
                         .to_numpy())


def label_points(level: str) -> pd.DataFrame:
    """Where the names of the counties (or townships) go on a map: code, name, lon, lat."""
    points = _label_points(grid_part(stamp()))
    return points[points["level"] == level].set_index("code")[["name", "lon", "lat"]]


@st.cache_data(show_spinner=False, max_entries=16)
def _wall_kpis(area: str | None, at: datetime, version: str, who: Scope) -> heat.WallKpis:
    return heat.wall_kpis(engine(), now=at, area=area, scope=who,
                          newly_window=geo_wall.NEWLY_OVERDUE)


def wall_kpis(area: str | None, *, at: geo_wall.Refresh) -> heat.WallKpis:
    """The wall's KPI tiles for an area (inside the scope), as of the refresh's cut-off."""
    return _wall_kpis(area, at.cutoff, at.stamp, cache_scope())


@st.cache_data(show_spinner=False, max_entries=16)
def _wall_supervision(area: str | None, at: datetime, version: str,
                      who: Scope) -> geo_wall.WallSupervision:
    return geo_wall.supervision(engine(), cutoff=at,
                                area=heat.area_filter(engine(), area, scope=who))


def wall_supervision(area: str | None, *, at: geo_wall.Refresh) -> geo_wall.WallSupervision:
    """Supervised (督办) backlog, supervised on-time and claim rates at the cut-off."""
    return _wall_supervision(area, at.cutoff, at.stamp, cache_scope())


@st.cache_data(show_spinner=False, max_entries=16)
def _ticker(area: str | None, at: datetime, version: str, limit: int,
            who: Scope) -> pd.DataFrame:
    return geo_wall.ticker(engine(), cutoff=at, policy=deadline_policy(), limit=limit,
                           area=heat.area_filter(engine(), area, scope=who))


def ticker(area: str | None, *, at: geo_wall.Refresh, limit: int = 8) -> pd.DataFrame:
    """New urgent and newly overdue requests in an area (inside the scope) at the cut-off."""
    return _ticker(area, at.cutoff, at.stamp, limit, cache_scope())


def city_population() -> int:
    """Residents in all grids."""
    return int(pd.to_numeric(hierarchy().grids["population"], errors="coerce").sum())
