"""The command wall's refresh: one cut-off time for every figure, and the ticker's entries.

A wall refresh shows tiles, a map and a ticker. They agree with each other only if they
describe the same moment, so each refresh takes one cut-off (:func:`refresh_point`) and
hands it to every figure: a request counts where it was reported before the cut-off, its
state is judged at the cut-off.

The cut-off is the current step of the wall's refresh interval (a whole minute by
default; ``refresh=5`` makes it the current 5 s), moved up to the newest change the
database holds when that is later (a report, or an event written: an update, an
escalation), but never past the present. So:

* a request committed before a refresh is in every figure of that refresh (its report
  time, or its update's write time, is at most the cut-off);
* while nothing changes, every refresh within one step has the same cut-off, and the
  figures, cached on the data version and the cut-off, are computed once a step and
  shared by every wall in the process;
* the clock alone (a deadline passing) moves the figures once a step, so no figure is
  older than the refresh interval, and the wall shows the cut-off as the figures' time.

The map has :data:`LAYERS`: request heat over a trailing window, and the open backlog,
the overdue part of it (past the stored deadline, :mod:`geo.deadlines`) and open disputes
at the cut-off (:func:`geo.heat.grid_backlog`).

A time from a client whose clock runs ahead of the wall's waits until the wall's clock
reaches it, in every figure alike.

Besides the KPI tiles (:func:`geo.heat.wall_kpis`), :func:`supervision` gives what the
actions make measurable at the same cut-off: the supervised (督办) backlog, the on-time
rate of the requests urged in the trailing window (:mod:`geo.supervision`) and the
解忧联盟 claim rate (:func:`geo.alliance.claim_totals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from geo import clock
from geo.access import Scope, mask_frame
from geo.alliance import ClaimFigures, claim_totals
from geo.deadlines import DeadlinePolicy, escalation_levels
from geo.store._sql import connect
from geo.store.area import EVERYWHERE, AreaFilter
from geo.store.counts import supervised_totals
from geo.store.live import data_stamp, latest_change, latest_requests, newly_overdue_requests
from geo.supervision import SupervisionFigures, supervision_totals

#: How recent a deadline must be for a request to count as "newly overdue".
NEWLY_OVERDUE = timedelta(hours=24)
#: The trailing window of the supervision and claim rates (as the KPI tiles' rates).
RATES_WINDOW = timedelta(days=30)
#: The ticker's entry kinds.
TICKER_KINDS = ("urgent", "newly_overdue")
#: Read for masking only, never part of a ticker entry.
_CONTACTS = ("reporter_name", "reporter_phone")
#: The map's layers (``?layer=``), in the order they rotate.
LAYERS = ("heat", "backlog", "overdue", "disputes")
#: The per-grid column each layer maps: heat from :func:`geo.heat.request_heat`, the
#: others from :func:`geo.heat.grid_backlog`.
LAYER_COLUMN = {"heat": "requests", "backlog": "open", "overdue": "overdue",
                "disputes": "disputes_open"}
#: The default step of the cut-off (the refresh interval when none is given).
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Refresh:
    """What one wall refresh shows: the data version and the cut-off (naive UTC)."""

    stamp: str
    cutoff: datetime


def cutoff(*, now: datetime, latest: datetime | None, step: timedelta = MINUTE) -> datetime:
    """Return a refresh's cut-off: ``now`` floored to ``step``, or ``latest`` if later.

    Both naive UTC; never past now. ``step`` is the wall's refresh interval (whole
    seconds, at least one), counted from midnight so that walls with the same interval
    share cut-offs. ``latest`` is moved on to the next whole second (a report at 10:00:33.4
    or at 10:00:33 counts before a cut-off of 10:00:34) and the cap is rounded up, so the
    cut-off keeps to whole seconds and a change from the current second is included.
    """
    seconds = max(1, int(step.total_seconds()))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    into = int((now - midnight).total_seconds())
    floor = midnight + timedelta(seconds=into - into % seconds)
    if latest is None:
        return floor
    # Windows end before the cut-off ([since, cut-off)): a change on a whole second needs
    # the next second as its cut-off, or it would wait for the next refresh.
    after = latest.replace(microsecond=0) + timedelta(seconds=1)
    return max(floor, min(after, _ceil_second(now)))


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def refresh_point(engine: Engine, *, now: datetime | None = None,
                  step: timedelta = MINUTE) -> Refresh:
    """Read the data version and the newest change, and fix this refresh's cut-off.

    ``step``: the wall's refresh interval (:func:`cutoff`).

    Seven indexed aggregates on one connection (about a millisecond on SQLite at city
    scale): cheap enough to read fresh on every refresh, so nothing committed before it
    is missed.
    """
    moment = clock.or_now(now)
    with connect(engine) as conn:
        stamp = data_stamp(conn)
        latest = latest_change(conn)
    return Refresh(stamp=stamp, cutoff=cutoff(now=moment, latest=latest, step=step))


def ticker(engine: Engine, *, cutoff: datetime, policy: DeadlinePolicy, limit: int = 8,
           area: AreaFilter = EVERYWHERE) -> pd.DataFrame:
    """Return the ticker's entries at ``cutoff``: new urgent requests and newly overdue ones.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    cutoff : datetime
        The refresh's cut-off (naive UTC): requests reported before it, open at it.
    policy : DeadlinePolicy
        The escalation thresholds.
    limit : int
        At most this many entries.
    area : AreaFilter
        The grids read and the caller's scope.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`geo.store.live.latest_requests` plus ``kind`` ("urgent": a
        newly reported urgent request; "newly_overdue": its deadline passed in the last
        :data:`NEWLY_OVERDUE`), ``moment`` (when that happened: the report or the
        deadline, naive UTC), ``level`` (0–3 at the cut-off) and ``left`` (deadline minus
        cut-off; negative once overdue). Newest moment first; a request that is both is
        one entry, of the later kind. Residents' text is masked for the area's scope
        (:func:`geo.access.mask_frame`: phone and ID numbers, the reporter's own name) unless
        the scope sees contacts in clear; a wall token never does.

    """
    # The reporter's name and phone are read only to mask them where the text repeats them.
    urgent = latest_requests(engine, until=cutoff, limit=limit, severities=["urgent"],
                             open_only=True, area=area, contacts=True)
    late = newly_overdue_requests(engine, since=cutoff - NEWLY_OVERDUE, until=cutoff,
                                  limit=limit, area=area, contacts=True)
    who = area.scope if area.scope is not None else Scope.everything()
    urgent, late = (mask_frame(f, who).drop(columns=list(_CONTACTS)) for f in (urgent, late))
    urgent = urgent.assign(kind="urgent", moment=pd.to_datetime(urgent["reported_at"]))
    late = late.assign(kind="newly_overdue", moment=pd.to_datetime(late["due_at"]))
    frames = [f for f in (urgent, late) if not f.empty]
    if not frames:
        return urgent.assign(level=pd.Series(dtype=np.int8),
                             left=pd.Series(dtype="timedelta64[us]"))
    rows = pd.concat(frames, ignore_index=True)
    rows = (rows.sort_values(["moment", "id"], ascending=False, kind="stable")
            .drop_duplicates("id").head(limit).reset_index(drop=True))
    rows["level"] = escalation_levels(rows["reported_at"], rows["due_at"], now=cutoff,
                                      policy=policy).to_numpy()
    rows["left"] = pd.to_datetime(rows["due_at"]) - pd.Timestamp(cutoff)
    return rows


@dataclass(frozen=True)
class WallSupervision:
    """Supervision (督办) and claim figures of one area at one cut-off.

    Attributes
    ----------
    supervised_open : int
        Requests urged before the cut-off and not resolved at it, however long ago.
    recent : geo.supervision.SupervisionFigures
        The requests first urged in the trailing ``window``, judged at the cut-off (its
        ``on_time_rate`` is NaN below :data:`geo.supervision.MIN_SAMPLE` due; returns are
        not counted: the wall shows none).
    claims : geo.alliance.ClaimFigures
        Market and charity requests reported in the trailing ``window``, and their claims.
    window : timedelta
        The trailing window.

    """

    supervised_open: int
    recent: SupervisionFigures
    claims: ClaimFigures
    window: timedelta


def supervision(engine: Engine, *, cutoff: datetime, area: AreaFilter = EVERYWHERE,
                window: timedelta = RATES_WINDOW) -> WallSupervision:
    """Return the wall's supervision and claim figures at the refresh's ``cutoff``.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    cutoff : datetime
        The refresh's cut-off (naive UTC): everything before it, states judged at it.
    area : AreaFilter
        The grids read and the caller's scope.
    window : timedelta
        The trailing window of the rates.

    """
    backlog = supervised_totals(engine, since=None, until=cutoff, area=area)
    recent = supervision_totals(engine, since=cutoff - window, until=cutoff, area=area,
                                with_returns=False)
    claims = claim_totals(engine, since=cutoff - window, until=cutoff, scope=area.scope,
                          area=area)
    return WallSupervision(supervised_open=backlog["supervised_open"], recent=recent,
                           claims=claims, window=window)
