"""A live simulator for the demo city: a stream of Open311 reports, and requests moving on.

``gridmap simulate --rate R --duration S`` feeds the city as a mini-program, a hotline and
patrols would: reports arrive as a Poisson process whose rate follows the demo's daily rhythm
(Asia/Shanghai hour), with the demo's category mix, severities and routes, now and then an
urgent case, and now and then a burst of disputes in one place (a few within minutes, within
about 300 m). Every report is an Open311 GeoReport v2 field dict with ``device_id`` and
``client_request_id``, so a resend is recognised; part of them carry GCJ-02 (WeChat) or BD-09
coordinates, to exercise conversion at intake.

Meanwhile :func:`advance` moves open requests along the flow (reported → accepted →
dispatched → in_progress → resolved → rated), each step a memoryless hazard whose mean delay
follows the demo (minutes to accept, hours to dispatch and handle, days for routine cases).

The distributions are the demo's own (:mod:`geo.demo`), so live data looks like history.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import clock as geoclock
from geo import coords, demo, updates, vocab
from geo.grids import GridIndex
from geo.store import engine as store_engine
from geo.store import live as store_live
from geo.store import requests as store_requests
from geo.store import updates as store_updates

#: Disputes among ordinary reports: the demo's 926 of 80,787.
DISPUTE_SHARE = demo.TARGETS["disputes"] / demo.TARGETS["requests"]
#: A dispute burst starts after about this many ordinary reports (on average).
BURST_EVERY = 250
#: Reports in one burst (inclusive range) and their spread: metres and seconds.
BURST_SIZE = (3, 6)
BURST_RADIUS_M = 300.0
BURST_MAX_SECONDS = 300.0
#: Coordinate systems of incoming reports: WeChat mini-programs send GCJ-02.
COORD_SHARES = {"wgs84": 0.45, "gcj02": 0.50, "bd09": 0.05}
#: Reports that leave a name and phone.
CONTACT_SHARE = 0.3
#: Simulated phones sending reports.
DEVICES = 5000

#: Mean delay of each step, hours (the demo: accept 2–30 min, dispatch 10–180 min,
#: start 10–240 min after dispatch).
STEP_MEAN_HOURS = {"reported": 16 / 60, "accepted": 95 / 60, "dispatched": 125 / 60}
#: Mean time from in_progress to resolved, hours: 0.3 × the severity's deadline (disputes
#: settle in about 20 h).
RESOLVE_MEAN_HOURS = {s: d.total_seconds() / 3600 * 0.3 for s, (_n, d) in vocab.SEVERITIES.items()}
DISPUTE_RESOLVE_HOURS = 20.0
#: Residents rate within two days; a hazard of mean 28 h rates 82% of them by then.
RATE_WINDOW = timedelta(hours=48)
RATE_MEAN_HOURS = 28.0
#: Of the ratings, the demo's published 99.47% satisfied, 90:10 satisfied:basically.
DISSATISFIED_SHARE = 1 - demo.TARGETS["satisfaction"]
#: Who takes each step (the demo's actors).
ACTORS = {"accepted": "指挥中心", "dispatched": "指挥中心", "in_progress": "网格员",
          "resolved": "网格员", "rated": "居民"}
NEXT_STATUS = {"reported": "accepted", "accepted": "dispatched", "dispatched": "in_progress",
               "in_progress": "resolved", "resolved": "rated"}

ProgressFn = Callable[[float, str], None]


def _quiet(_fraction: float, _message: str) -> None:
    return None


# --------------------------------------------------------------------------- the city


@dataclass
class SimCity:
    """What the stream needs of a city: grids with weights, and an index to check points."""

    grids: gpd.GeoDataFrame
    weights: np.ndarray  # cumulative
    place: np.ndarray
    index: GridIndex = field(repr=False)

    @classmethod
    def from_grids(cls, grids: gpd.GeoDataFrame, *, community_names: Mapping[str, str] | None
                   = None) -> SimCity:
        """Build from grids (``code``, ``community_code``, ``population``, geometry).

        Weights are the demo's: population, half as much again in urban communities (社区),
        where mini-program use is higher, plus one so no grid is impossible.
        """
        grids = grids.reset_index(drop=True)
        names = dict(community_names or {})
        fallback = grids["name"] if "name" in grids else grids["code"]
        place = np.array([names.get(c) or f for c, f in
                          zip(grids.community_code, fallback, strict=True)], dtype=object)
        urban = np.array(["社区" in str(p) for p in place])
        pop = pd.to_numeric(grids.population, errors="coerce").fillna(0).to_numpy(float)
        w = pop * np.where(urban, 1.5, 1.0) + 1.0
        return cls(grids, np.cumsum(w / w.sum()), place, GridIndex(grids))

    def pick(self, rng: np.random.Generator) -> int:
        """Draw one grid's position, weighted (a search of the cumulative weights: fast)."""
        return min(int(np.searchsorted(self.weights, rng.random(), side="right")),
                   len(self.weights) - 1)

    @classmethod
    def from_database(cls, bind) -> SimCity:
        """Read the grids and community names of the city in ``bind``."""
        grids = store_requests.read_grids(bind)
        if grids.empty:
            raise ValueError("the database has no grids: run `gridmap init-demo` first")
        units = store_requests.read_admin_units(bind, level="community")
        return cls.from_grids(grids, community_names=dict(zip(units.code, units.name,
                                                              strict=True)))


# --------------------------------------------------------------------------- the stream


@dataclass
class Report:
    """One simulated report: when it is sent, its Open311 fields and its true place."""

    at: datetime
    fields: dict[str, str]
    lon: float
    lat: float
    grid_code: str
    burst: int | None = None


def hourly_rate(hour_local: int) -> float:
    """Return the daily rhythm: the demo's report share in an Asia/Shanghai hour, mean 1."""
    return float(demo.HOURLY[hour_local % 24] / demo.HOURLY.mean())


def _choice(rng: np.random.Generator, table: Mapping[str, float]) -> str:
    keys = list(table)
    p = np.array([table[k] for k in keys], dtype=float)
    return str(keys[rng.choice(len(keys), p=p / p.sum())])


def _offset_point(lon: float, lat: float, rng: np.random.Generator, radius_m: float
                  ) -> tuple[float, float]:
    # Uniform in a disc: sqrt of a uniform radius fraction.
    r = radius_m * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    dlat = r * math.sin(a) / 111_320.0
    dlon = r * math.cos(a) / (111_320.0 * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def stream(city: SimCity, *, rate: float, start: datetime, rng: np.random.Generator,
           rhythm: bool = True, tag: str | None = None) -> Iterator[Report]:
    """Yield simulated reports forever, in time order, from ``start`` (naive UTC).

    Parameters
    ----------
    city : SimCity
        Where reports come from.
    rate : float
        Mean reports per second over a day (with ``rhythm``), or constant (without).
    start : datetime
        Naive UTC time of the stream's start; report times follow it.
    rng : numpy.random.Generator
        All randomness; the stream is deterministic given its state, ``start`` and ``tag``.
    rhythm : bool
        Scale the rate by the demo's daily rhythm (Asia/Shanghai hour).
    tag : str, optional
        Prefix of every ``client_request_id``; default ``start`` as ``YYYYmmddHHMMSS``, so
        a rerun with the same seed does not replay the same ids and get deduplicated.

    Yields
    ------
    Report

    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    tag = tag or start.strftime("%Y%m%d%H%M%S")
    devices = [f"sim-{rng.integers(16 ** 8):08x}" for _ in range(DEVICES)]
    peak = float(demo.HOURLY.max() / demo.HOURLY.mean()) if rhythm else 1.0
    cats = dict(demo.CATEGORY_MIX)
    seq = 0
    bursts = 0
    t = 0.0  # seconds after start, of the ordinary stream
    pending: list[tuple[float, int, dict]] = []  # burst reports waiting for their time
    order = itertools.count()  # breaks ties in the heap, so dicts are never compared
    geoms = np.asarray(city.grids.geometry.values, dtype=object)

    def make(at_s: float, category: str, gi: int, lon: float, lat: float,
             severity: str | None = None, burst: int | None = None) -> Report:
        nonlocal seq
        seq += 1
        severity = severity or str(rng.choice(
            list(vocab.SEVERITIES), p=[0.35, 0.45, 0.20] if category == "dispute"
            else [0.75, 0.21, 0.04]))
        route = "charity" if category == "welfare" else str(
            rng.choice(list(vocab.ROUTES), p=[0.78, 0.14, 0.08]))
        system = _choice(rng, COORD_SHARES)
        if system == "gcj02":
            x, y = coords.wgs84_to_gcj02(lon, lat)
        elif system == "bd09":
            x, y = coords.wgs84_to_bd09(lon, lat)
        else:
            x, y = lon, lat
        desc = demo.descriptions(rng, np.array([category]), city.place[[gi]])[0]
        fields = {
            "service_code": category,
            "lat": f"{float(y):.7f}",
            "long": f"{float(x):.7f}",
            "coord_system": system,
            "description": desc,
            "device_id": devices[int(rng.integers(len(devices)))],
            "client_request_id": f"{tag}-{seq:07d}",
            "attribute[severity]": severity,
            "attribute[route]": route,
        }
        if rng.random() < CONTACT_SHARE:
            fields["first_name"] = demo.people_names(rng, 1)[0]
            fields["phone"] = f"1{int(rng.integers(3_000_000_000, 9_999_999_999))}"
        return Report(start + timedelta(seconds=at_s), fields, float(lon), float(lat),
                      str(city.grids.code.iloc[gi]), burst)

    while True:
        # Next ordinary arrival by thinning: candidates at the peak rate, kept in
        # proportion to the rhythm at their hour (a non-homogeneous Poisson process).
        while True:
            t += float(rng.exponential(1.0 / (rate * peak)))
            hour = (start + timedelta(seconds=t) + geoclock.LOCAL_UTC_OFFSET).hour
            if not rhythm or rng.random() < hourly_rate(hour) / peak:
                break
        while pending and pending[0][0] <= t:
            at_s, _n, kw = heapq.heappop(pending)
            yield make(at_s, **kw)
        if rng.random() < 1.0 / BURST_EVERY:
            # A dispute flares up: a few reports from around one spot within minutes. In a
            # fast stream they come within ~20 ordinary arrivals so a short run shows them.
            bursts += 1
            gi = city.pick(rng)
            lon0, lat0 = demo.points_in_grids(geoms, np.array([gi]), rng)
            spread = min(BURST_MAX_SECONDS, 20.0 / rate)
            k = int(rng.integers(BURST_SIZE[0], BURST_SIZE[1] + 1))
            for j in range(k):
                for _try in range(20):
                    # The first report is from the spot itself; the rest from around it.
                    lon, lat = (float(lon0[0]), float(lat0[0])) if j == 0 else _offset_point(
                        float(lon0[0]), float(lat0[0]), rng, BURST_RADIUS_M * 0.9)
                    code = city.index.assign([lon], [lat])[0]
                    if code is not None:
                        break
                else:
                    lon, lat, code = float(lon0[0]), float(lat0[0]), None
                g = gi if code is None else int(np.flatnonzero(city.grids.code == code)[0])
                at_s = t if j == 0 else t + float(rng.uniform(0, spread))
                heapq.heappush(pending, (at_s, next(order),
                                         dict(category="dispute", gi=g, lon=lon, lat=lat,
                                              burst=bursts)))
            at_s, _n, kw = heapq.heappop(pending)
            yield make(at_s, **kw)
            continue
        category = "dispute" if rng.random() < DISPUTE_SHARE else _choice(rng, cats)
        gi = city.pick(rng)
        lons, lats = demo.points_in_grids(geoms, np.array([gi]), rng)
        yield make(t, category, gi, float(lons[0]), float(lats[0]))


# --------------------------------------------------------------------------- the flow


def _step_mean_hours(status: str, category: str, severity: str) -> float:
    if status in STEP_MEAN_HOURS:
        return STEP_MEAN_HOURS[status]
    if status == "in_progress":
        if category == "dispute":
            return DISPUTE_RESOLVE_HOURS
        return RESOLVE_MEAN_HOURS.get(severity, RESOLVE_MEAN_HOURS["routine"])
    return RATE_MEAN_HOURS


def advance(engine, *, now: datetime, rng: np.random.Generator, elapsed: timedelta =
            timedelta(seconds=5), speedup: float = 1.0) -> int:
    """Move open requests along their flow as ``elapsed`` of city time would.

    Each open request takes its next step with probability ``1 - exp(-dt / mean)``, the mean
    delay of that step (see :data:`STEP_MEAN_HOURS`, :data:`RESOLVE_MEAN_HOURS`), so calling
    this every few seconds gives the demo's delays. Resolved requests are rated by residents
    within :data:`RATE_WINDOW`. The steps go through :func:`geo.updates.apply_updates`, the
    path a re-imported export or an Open311 update takes (same rules, same events), and
    all steps of one call commit in one transaction.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        The database.
    now : datetime
        Naive UTC; the time of the steps (resolved_at, closed_at, event ``at``).
    rng : numpy.random.Generator
        Which requests move, and the ratings.
    elapsed : timedelta
        City time since the previous call.
    speedup : float
        Multiply ``elapsed``: a demo can run the flow faster than life.

    Returns
    -------
    int
        Steps taken.

    """
    dt_h = elapsed.total_seconds() / 3600 * speedup
    if dt_h <= 0:
        return 0
    cand = store_live.flow_candidates(engine, resolved_since=now - RATE_WINDOW)
    if cand.empty:
        return 0
    means = np.array([_step_mean_hours(s, c, v) for s, c, v in
                      zip(cand.status, cand.category, cand.severity, strict=True)])
    moves = rng.random(len(cand)) < -np.expm1(-dt_h / means)
    # A step cannot precede the report (a request reported "in the future" waits).
    moves &= pd.to_datetime(cand.reported_at).to_numpy() <= np.datetime64(now)
    moved = cand[moves]
    if moved.empty:
        return 0
    to = moved["status"].map(NEXT_STATUS).reset_index(drop=True)
    dissatisfied = rng.random(len(moved)) < DISSATISFIED_SHARE
    basic = rng.random(len(moved)) < 0.1
    rating = pd.Series(np.where(dissatisfied, "dissatisfied",
                                np.where(basic, "basically_satisfied", "satisfied")))
    stamp = pd.Series(now, index=to.index)
    steps = pd.DataFrame({
        "id": moved["id"].astype(np.int64).to_numpy(), "status": to, "at": now,
        "satisfaction": rating.where(to == "rated"),
        "resolved_at": stamp.where(to == "resolved"),
        "closed_at": stamp.where(to.isin(["resolved", "rated"]))})
    # The same path a re-imported export or an Open311 update takes (geo.updates), one
    # batch per actor so that each event names who took the step.
    done = 0
    try:
        with store_engine.transaction(engine) as conn:
            for actor, batch in steps.groupby(to.map(ACTORS).to_numpy(), sort=False):
                result = updates.apply_updates(conn, batch, actor=str(actor), now=now)
                done += int((result["verdict"] == "updated").sum())
    except store_updates.ConcurrentUpdate:
        return 0  # someone else moved one of them meanwhile: the next tick tries again
    return done


# --------------------------------------------------------------------------- running


@dataclass
class SimulationReport:
    """What a run did."""

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    errors: int = 0
    advanced: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)


#: A writer takes one report's fields and returns "accepted" or "duplicate" (or raises).
Writer = Callable[[dict[str, str]], str]


def _db_writer(engine) -> Writer:
    from geo import intake  # written alongside the API; imported only when used

    def write(fields: dict[str, str]) -> str:
        done = intake.submit(engine, fields)
        return "accepted" if done.created else "duplicate"

    return write


def _api_writer(client, url: str, api_key: str | None) -> Writer:
    seen: set[str] = set()

    def write(fields: dict[str, str]) -> str:
        data = dict(fields)
        if api_key:
            data["api_key"] = api_key
        resp = client.post(url, data=data)
        if not 200 <= resp.status_code < 300:
            raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:200]}")
        sid = str(resp.json()[0].get("service_request_id"))
        # The API answers a replay with the original id: that is how a duplicate shows.
        if sid in seen:
            return "duplicate"
        seen.add(sid)
        return "accepted"

    return write


def run(engine_or_url, *, rate: float, duration: float, via: str = "db",
        api_url: str | None = None, api_key: str | None = None, seed: int | None = None,
        progress: ProgressFn | None = None, rhythm: bool = True, speedup: float = 1.0,
        advance_every: float = 2.0, writer: Writer | None = None,
        clock: Callable[[], datetime] | None = None) -> SimulationReport:
    """Feed the city live for ``duration`` seconds, then stop.

    Parameters
    ----------
    engine_or_url : Engine or str
        The city's database (read for grids; written with ``via="db"``; always used to
        advance the flow).
    rate : float
        Mean reports per second (see :func:`stream`).
    duration : float
        Seconds of wall time to run.
    via : {"db", "api"}
        Write through :func:`geo.intake.submit`, or POST to ``api_url`` as a client would.
    api_url : str, optional
        Base URL of ``gridmap api`` (``via="api"``), e.g. ``http://127.0.0.1:8311``.
    api_key : str, optional
        The key for ``via="api"``.
    seed : int, optional
        Seed of the stream and the flow.
    progress : callable, optional
        ``progress(fraction, message)``, called about once a second.
    rhythm : bool
        Follow the daily rhythm; off, the rate is constant.
    speedup : float
        Run the flow this many times faster than life (see :func:`advance`).
    advance_every : float
        Seconds between flow steps; 0 turns the flow off.
    writer : callable, optional
        Replace the writer (tests, or another intake path).
    clock : callable, optional
        Returns now as naive UTC; default the system clock.

    Returns
    -------
    SimulationReport

    """
    if via not in ("db", "api"):
        raise ValueError(f"via must be 'db' or 'api', not {via!r}")
    engine = (store_engine.make_engine(engine_or_url) if isinstance(engine_or_url, str)
              else engine_or_url)
    clock = clock or (lambda: geoclock.now(precision="s"))
    progress = progress or _quiet
    rng = np.random.default_rng(seed)
    city = SimCity.from_database(engine)
    client = None
    if writer is None and via == "api":
        import httpx

        if not api_url:
            raise ValueError("via='api' needs api_url")
        client = httpx.Client(timeout=30.0)
        writer = _api_writer(client, api_url.rstrip("/") + "/requests.json", api_key)
    elif writer is None:
        writer = _db_writer(engine)

    report = SimulationReport()
    reports = stream(city, rate=rate, start=clock(), rng=rng, rhythm=rhythm)
    t0 = time.monotonic()
    last_flow = last_shown = t0
    nxt = next(reports)
    first_at = nxt.at
    try:
        while True:
            now_s = time.monotonic() - t0
            if now_s >= duration:
                break
            # Nothing more due before the end: wait it out (and keep the flow going).
            due_s = min((nxt.at - first_at).total_seconds(), duration)
            if advance_every and time.monotonic() - last_flow >= advance_every:
                elapsed = time.monotonic() - last_flow
                last_flow = time.monotonic()
                _advance_step(engine, report, now=clock(), rng=rng, elapsed=elapsed,
                              speedup=speedup)
            if time.monotonic() - last_shown >= 1.0:
                last_shown = time.monotonic()
                progress(min(now_s / duration, 1.0), _progress_line(report))
            wait = due_s - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(min(wait, 0.25))
                continue
            if due_s >= duration:
                continue
            _send(writer, nxt.fields, report)
            nxt = next(reports)
    finally:
        if client is not None:
            client.close()
    report.seconds = time.monotonic() - t0
    progress(1.0, f"done: sent {report.sent:,} in {report.seconds:.1f} s")
    return report


def _advance_step(engine, report: SimulationReport, *, now: datetime, rng: np.random.Generator,
                  elapsed: float, speedup: float) -> None:
    try:
        report.advanced += advance(engine, now=now, rng=rng,
                                   elapsed=timedelta(seconds=elapsed), speedup=speedup)
    except Exception as exc:  # a flow hiccup must not end the stream
        report.messages.append(f"advance: {exc}")


def _progress_line(report: SimulationReport) -> str:
    return (f"sent {report.sent:,} accepted {report.accepted:,} "
            f"duplicates {report.duplicates:,} errors {report.errors:,} "
            f"advanced {report.advanced:,}")


def _send(writer: Writer, fields: dict[str, str], report: SimulationReport) -> None:
    report.sent += 1
    try:
        outcome = writer(fields)
        if outcome == "duplicate":
            report.duplicates += 1
        else:
            report.accepted += 1
    except Exception as exc:  # counted and shown; the stream goes on
        report.errors += 1
        if len(report.messages) < 50:
            report.messages.append(f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- command line


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``gridmap simulate`` on an argparse sub-parsers object."""
    p = subparsers.add_parser(
        "simulate", help="feed the demo city a live stream of requests and move them along")
    p.add_argument("--rate", type=float, required=True, help="mean requests per second")
    p.add_argument("--duration", type=float, required=True, help="seconds to run")
    p.add_argument("--via", choices=["db", "api"], default="db",
                   help="write through geo.intake (db) or POST to `gridmap api` (api)")
    p.add_argument("--api-url", default="http://127.0.0.1:8311")
    p.add_argument("--api-key", default=None, help="key from `gridmap api-key create`")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--flat", action="store_true",
                   help="constant rate instead of the daily rhythm (Asia/Shanghai hour)")
    p.add_argument("--speedup", type=float, default=1.0,
                   help="run the request flow this many times faster than life")
    p.set_defaults(func=_cmd_simulate)
    return p


def _cmd_simulate(args: argparse.Namespace) -> int:
    if args.via == "api" and not args.api_key:
        print("--via api needs --api-key (make one with `gridmap api-key create`)",
              file=sys.stderr)
        return 2
    start = time.perf_counter()

    def show(fraction: float, message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s {fraction:4.0%}] simulate: {message}",
              file=sys.stderr, flush=True)

    try:
        rep = run(args.database or store_engine.database_url(), rate=args.rate,
                  duration=args.duration, via=args.via, api_url=args.api_url,
                  api_key=args.api_key, seed=args.seed, progress=show,
                  rhythm=not args.flat, speedup=args.speedup)
    except (ValueError, ImportError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    print(f"sent {rep.sent:,}, accepted {rep.accepted:,}, duplicates {rep.duplicates:,}, "
          f"errors {rep.errors:,}, flow steps {rep.advanced:,} in {rep.seconds:.1f} s")
    for msg in rep.messages[:10]:
        print(f"  {msg}", file=sys.stderr)
    return 1 if rep.errors else 0
