"""The demo city's requests, their flow register, police stations and volunteer activities.

Calibrated to the figures Yiyang published (:data:`geo.demo_calibration.TARGETS`): 80,787
requests over 8 months with the city's daily rhythm and category mix, 926 disputes (some
planted in clusters), resolutions, ratings, stations and volunteer activities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import clock, deadlines, escalation, vocab
from geo.demo_calibration import (
    CATEGORY_MIX,
    HOURLY,
    METRIC,
    TARGETS,
    largest_remainder,
    people_names,
)

_TEMPLATES = {
    "dispute": ["邻里因{x}发生纠纷，请求调解", "与物业就{x}产生矛盾，多次协商未果",
                "家庭成员因{x}争执，需要网格员上门", "土地边界{x}纠纷，双方情绪激动"],
    "road": ["{x}路面坑洼，雨天积水严重", "{x}路灯不亮，夜间出行不安全", "{x}井盖缺失，存在隐患"],
    "sanitation": ["{x}垃圾堆积未清运", "{x}污水外溢有异味", "{x}公共厕所无人保洁"],
    "public_order": ["{x}夜间有可疑人员徘徊", "{x}电动车被盗", "{x}有人聚众喧哗"],
    "utilities": ["{x}停水超过一天", "{x}电压不稳经常跳闸", "{x}燃气管道有异味"],
    "property": ["{x}电梯故障困人", "{x}楼顶漏水", "{x}物业费收取不透明"],
    "greenery": ["{x}树木倒伏挡路", "{x}绿化带被毁种菜", "{x}树枝压线"],
    "noise": ["{x}夜间施工噪声扰民", "{x}广场舞音量过大", "{x}商铺音响扰民"],
    "welfare": ["{x}独居老人需要帮扶", "{x}困难家庭申请救助", "{x}残疾人出行不便"],
    "paperwork": ["{x}身份证丢失需补办", "{x}办理居住证咨询", "{x}社保卡办理咨询"],
    "safety": ["{x}电动车楼道充电", "{x}河边护栏损坏", "{x}危房无人管理"],
    "other": ["{x}建议增设健身器材", "{x}咨询疫苗接种", "{x}快递乱堆放"],
}
_PLACES = ["小区门口", "菜市场旁", "学校附近", "村口", "老街", "安置小区", "河堤", "桥头",
           "3栋", "7栋", "组上", "公交站旁"]
_DISPUTE_THINGS = ["宅基地", "停车位", "噪音", "漏水", "债务", "赡养老人", "装修", "排水"]


@dataclass
class _Cluster:
    name: str
    centre_grid: str
    grids: list[str]
    share: float
    recent_weeks: int | None  # None: spread over the whole period


def _plant_clusters(grids: gpd.GeoDataFrame, rng: np.random.Generator) -> list[_Cluster]:
    """Pick dispute clusters: a populous grid and its neighbours within 1.2 km."""
    metric = grids.to_crs(METRIC)
    cent = metric.geometry.centroid
    spec = [  # county, share of all disputes, concentrated in the last N weeks
        ("430903", 0.20, None, "赫山区城区纠纷集中区"),
        ("430902", 0.14, None, "资阳区老城纠纷集中区"),
        ("430981", 0.12, None, "沅江市城区纠纷集中区"),
        ("430923", 0.10, 6, "安化县东坪新近纠纷集中区"),
    ]
    out: list[_Cluster] = []
    for county, share, recent, name in spec:
        cand = grids[grids.code.str.startswith(county)]
        cand = cand.sort_values("population", ascending=False).head(40)
        centre = cand.code.iloc[int(rng.integers(0, len(cand)))]
        c = cent[grids.code == centre].iloc[0]
        near = grids.code[cent.distance(c) <= 1200].tolist()
        out.append(_Cluster(name, centre, sorted(near), share, recent))
    return out


def points_in_grids(geoms: np.ndarray, idx: np.ndarray, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Draw a uniform random point inside geoms[idx[i]] for each i (vectorised rejection)."""
    bounds = shapely.bounds(geoms)
    lon = np.empty(len(idx))
    lat = np.empty(len(idx))
    todo = np.arange(len(idx))
    while len(todo):
        b = bounds[idx[todo]]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(geoms[idx[todo]], x, y)
        lon[todo[ok]] = x[ok]
        lat[todo[ok]] = y[ok]
        todo = todo[~ok]
    return lon, lat


def build_requests(grids: gpd.GeoDataFrame, admin: pd.DataFrame, *, seed: int, end: datetime,
                   n: int = TARGETS["requests"], disputes: int = TARGETS["disputes"],
                   handled: int = TARGETS["handled"]) -> tuple[pd.DataFrame, list[_Cluster]]:
    """Generate ``n`` requests over 8 months ending at ``end`` (naive UTC).

    The mix, timing and outcomes follow the published figures: ``disputes`` of them are
    disputes (a share planted in clusters), ``handled`` are resolved by ``end``, and 99.47%
    of ratings are satisfied.
    """
    rng = np.random.default_rng(seed + 1)
    start = end - timedelta(days=int(TARGETS["months"] * 30.4))
    days = (end - start).days
    geoms = np.asarray(grids.geometry.values, dtype=object)
    codes = grids.code.to_numpy()
    pop = grids.population.to_numpy(dtype=float)

    # Where: per-capita reporting is higher in town (mini-program adoption).
    urban = grids.community_code.map(admin.set_index("code").name).str.contains("社区").to_numpy()
    w = pop * np.where(urban, 1.5, 1.0) + 1.0
    gidx = rng.choice(len(grids), size=n, p=w / w.sum())
    category = rng.choice(list(CATEGORY_MIX), size=n,
                          p=np.array(list(CATEGORY_MIX.values())) / sum(CATEGORY_MIX.values()))

    # When: adoption grows over the months, fewer reports at weekends, a daily rhythm.
    # Draw local (UTC+8) day and hour, convert to UTC, and redraw anything past ``end``.
    reported = _report_times(rng, n, start=start, end=end)

    # Disputes: the first `disputes` rows become disputes; most are background, some planted.
    clusters = _plant_clusters(grids, rng)
    dispute_idx = rng.choice(n, size=disputes, replace=False)
    category[dispute_idx] = "dispute"
    pos = 0
    code_to_idx = {c: i for i, c in enumerate(codes)}
    for cl in clusters:
        k = int(round(cl.share * disputes))
        rows = dispute_idx[pos:pos + k]
        pos += k
        members = np.array([code_to_idx[c] for c in cl.grids])
        gidx[rows] = rng.choice(members, size=k)
        if cl.recent_weeks:
            recent_start = max(0, days - 7 * cl.recent_weeks)
            d = rng.integers(recent_start, days, size=k)
            reported[rows] = (pd.Timestamp(start.date()) + pd.to_timedelta(d, unit="D")
                                     + pd.to_timedelta(rng.choice(24, size=k,
                                                                  p=HOURLY / HOURLY.sum()),
                                                       unit="h")
                                     - pd.Timedelta(clock.LOCAL_UTC_OFFSET)).to_numpy()
    # Whole seconds: what a mini-program records, and what every backend stores exactly.
    # pandas-stubs types clip's bounds as numbers; a datetime Series takes a Timestamp.
    reported = pd.Series(reported).dt.floor("s").clip(  # type: ignore[call-overload]
        upper=pd.Timestamp(end) - pd.Timedelta(minutes=1))

    lon, lat = points_in_grids(geoms, gidx, rng)

    is_dispute = category == "dispute"
    severity = rng.choice(["routine", "pressing", "urgent"], size=n, p=[0.75, 0.21, 0.04])
    severity[is_dispute] = rng.choice(["routine", "pressing", "urgent"], size=is_dispute.sum(),
                                      p=[0.35, 0.45, 0.20])
    route = rng.choice(list(vocab.ROUTES), size=n, p=[0.78, 0.14, 0.08])
    route[category == "welfare"] = "charity"
    source = rng.choice(list(vocab.SOURCES), size=n, p=[0.70, 0.10, 0.12, 0.03, 0.03, 0.02])

    # Deadlines in working time, as intake and import set them (the site's policy and
    # calendar). How long handling takes is modelled on calendar time: log-normal around a
    # third of the severity's nominal span; disputes settle faster.
    due = deadlines.configured_due_times(reported, pd.Series(severity), pd.Series(category))
    deadline_h = np.array([vocab.SEVERITIES[s][1].total_seconds() / 3600 for s in severity])
    dur_h = deadline_h * 0.3 * rng.lognormal(0.0, 0.8, n)
    dur_h[is_dispute] = rng.lognormal(np.log(20), 0.6, is_dispute.sum())
    resolved = (reported + pd.to_timedelta(dur_h, unit="h")).dt.floor("s")
    end_ts = pd.Timestamp(end)
    done = (resolved < end_ts).to_numpy().copy()
    # Yiyang reported every dispute resolved: the latest are settled by the end, at the latest
    # as they are reported.
    late = is_dispute & ~done
    resolved.iloc[np.flatnonzero(late)] = np.maximum(
        reported.iloc[np.flatnonzero(late)].to_numpy(),
        np.datetime64(end_ts - pd.Timedelta(minutes=1), "ns"))
    done[late] = True
    # Calibrate to the published number handled: some older non-disputes are stuck open,
    # or, if too few are done, the most nearly done count as done.
    extra = int(done.sum()) - handled
    if extra > 0:
        cand = np.flatnonzero(done & ~is_dispute)
        age = (end_ts - reported.iloc[cand]).dt.total_seconds().to_numpy()
        p = 1.0 / (age / 86400 + 10.0)  # stuck cases skew recent
        stuck = rng.choice(cand, size=extra, replace=False, p=p / p.sum())
        done[stuck] = False
    elif extra < 0:
        cand = np.flatnonzero(~done)
        done[cand[np.argsort(resolved.iloc[cand].to_numpy())[: -extra]]] = True
        resolved.iloc[cand] = resolved.iloc[cand].clip(upper=end_ts - pd.Timedelta(minutes=1))
    resolved = resolved.where(done)

    # Ratings: most residents rate within two days; 99.47% of them are satisfied.
    rated_at = (resolved + pd.to_timedelta(rng.uniform(0.5, 48, n), unit="h")).dt.floor("s")
    rated = done & (rng.random(n) < 0.82) & (rated_at < end_ts).to_numpy()
    n_rated = int(rated.sum())
    n_bad = int(round(n_rated * (1 - TARGETS["satisfaction"])))
    sat = np.full(n, None, dtype=object)
    rated_idx = np.flatnonzero(rated)
    sat[rated_idx] = rng.choice(["satisfied", "basically_satisfied"], size=n_rated, p=[0.9, 0.1])
    sat[rng.choice(rated_idx, size=n_bad, replace=False)] = "dissatisfied"

    # The thresholds each request crossed while it was open (escalation events in the flow
    # register, written by build_events), so the demo starts as if the clock had been kept.
    policy = deadlines.policy_and_calendar()[0]
    level = escalation.levels(escalation.history(reported, due, resolved, until=end,
                                                 policy=policy), n)

    age_h = ((end_ts - reported).dt.total_seconds() / 3600).to_numpy()
    open_status = np.select([age_h < 0.5, age_h < 3, age_h < 24],
                            ["reported", "accepted", "dispatched"], "in_progress")
    status = np.where(rated, "rated", np.where(done, "resolved", open_status))

    names = dict(zip(admin.code, admin.name, strict=True))
    comm_name = grids.community_code.map(names).to_numpy()
    texts = descriptions(rng, category, comm_name[gidx])
    frame = pd.DataFrame({
        "external_id": [f"WXG{seed}-{i:07d}" for i in range(n)],
        "grid_code": codes[gidx],
        "outside_grid": False,
        "lon": lon, "lat": lat, "source_crs": "wgs84", "source": source,
        "category": category, "severity": severity, "route": route, "status": status,
        "reported_at": reported.to_numpy(), "due_at": due.to_numpy(),
        "resolved_at": resolved.to_numpy(),
        "closed_at": np.where(rated, rated_at, resolved),
        "satisfaction": sat,
        "escalation_level": level,
        "address": [f"{c}{p}" for c, p in zip(comm_name[gidx], rng.choice(_PLACES, n),
                                              strict=True)],
        "description": texts,
        "reporter_name": people_names(rng, n),
        "reporter_phone": [f"1{p}" for p in rng.integers(3_000_000_000, 9_999_999_999, n)],
    })
    frame["closed_at"] = pd.to_datetime(frame["closed_at"])
    frame = frame.sort_values("reported_at", kind="stable").reset_index(drop=True)
    return frame, clusters


def _report_times(rng: np.random.Generator, n: int, *, start: datetime, end: datetime,
                  ) -> np.ndarray:
    """``n`` report times (naive UTC) in [start, end) with growth, weekly and daily rhythm."""
    days = (end - start).days + 2
    first_local = pd.Timestamp(start.date())
    day_w = np.linspace(0.6, 1.4, days)
    day_w *= np.where((np.arange(days) + first_local.weekday()) % 7 >= 5, 0.75, 1.0)
    out: list[np.ndarray] = []
    have = 0
    lo, hi = np.datetime64(start, "ns"), np.datetime64(end, "ns")
    while have < n:
        m = int((n - have) * 1.2) + 16
        day = rng.choice(days, size=m, p=day_w / day_w.sum())
        hour = rng.choice(24, size=m, p=HOURLY / HOURLY.sum())
        t = (first_local + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour, unit="h")
             + pd.to_timedelta(rng.integers(0, 3600, m), unit="s")
             - pd.Timedelta(clock.LOCAL_UTC_OFFSET)).to_numpy()
        t = t[(t >= lo) & (t < hi)]
        out.append(t)
        have += len(t)
    return np.concatenate(out)[:n].copy()


def descriptions(rng: np.random.Generator, category: np.ndarray, place: np.ndarray) -> list[str]:
    """One resident's description per request, from its category's templates and place."""
    out = []
    spots = rng.choice(_PLACES, len(category))
    things = rng.choice(_DISPUTE_THINGS, len(category))
    picks = rng.integers(0, 4, len(category))
    for cat, pl, spot, thing, k in zip(category, place, spots, things, picks, strict=True):
        tpl = _TEMPLATES[cat][k % len(_TEMPLATES[cat])]
        out.append(tpl.format(x=thing if cat == "dispute" else f"{pl}{spot}"))
    return out


def build_events(requests: pd.DataFrame, ids: np.ndarray, *, seed: int, end: datetime
                 ) -> pd.DataFrame:
    """Build the flow register (流转登记): one row per status change up to ``end``."""
    rng = np.random.default_rng(seed + 2)
    n = len(requests)
    reported = requests.reported_at.to_numpy()
    resolved = requests.resolved_at.to_numpy()
    closed = requests.closed_at.to_numpy()
    end64 = np.datetime64(end)
    # Whole seconds, like the report times.
    accepted = reported + (rng.uniform(2, 30, n) * 60).astype("timedelta64[s]")
    dispatched = accepted + (rng.uniform(10, 180, n) * 60).astype("timedelta64[s]")
    progress_at = dispatched + (rng.uniform(10, 240, n) * 60).astype("timedelta64[s]")
    # A resolved request cannot have been in progress after it was resolved.
    has_res = ~pd.isna(resolved)
    for arr in (accepted, dispatched, progress_at):
        arr[has_res] = np.minimum(arr[has_res], resolved[has_res])
    rated = requests.status.to_numpy() == "rated"
    stages = [
        (None, "reported", reported, np.ones(n, bool), "居民"),
        ("reported", "accepted", accepted, accepted <= end64, "指挥中心"),
        ("accepted", "dispatched", dispatched, dispatched <= end64, "指挥中心"),
        ("dispatched", "in_progress", progress_at, progress_at <= end64, "网格员"),
        ("in_progress", "resolved", resolved, has_res, "网格员"),
        ("resolved", "rated", closed, rated, "居民"),
    ]
    parts = []
    for frm, to, at, mask, actor in stages:
        parts.append(pd.DataFrame({"request_id": ids[mask], "at": at[mask], "from_status": frm,
                                   "to_status": to, "actor": actor, "kind": "status"}))
    # Escalations (督办): each threshold crossed while open, in the status it had then.
    crossed = escalation.history(requests.reported_at, requests.due_at, requests.resolved_at,
                                 until=end, policy=deadlines.policy_and_calendar()[0])
    rows = crossed["row"].to_numpy()
    when = crossed["at"].to_numpy()
    status = np.select([when >= progress_at[rows], when >= dispatched[rows],
                        when >= accepted[rows]], ["in_progress", "dispatched", "accepted"],
                       "reported")
    parts.append(pd.DataFrame({"request_id": ids[rows], "at": when, "from_status": status,
                               "to_status": status, "actor": "deadline",
                               "note": np.array(deadlines.LEVELS)[crossed["level"]],
                               "kind": "escalation"}))
    events = pd.concat(parts, ignore_index=True)
    # Written live, each event would have been recorded when it happened.
    events["recorded_at"] = events["at"]
    return events.sort_values(["request_id", "at"], kind="stable")


# --------------------------------------------------------------------------- stations, volunteers


def build_stations(grids: gpd.GeoDataFrame, admin: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Police stations (派出所), workstations (警务站) and community police rooms (警务室)."""
    rng = np.random.default_rng(seed + 3)
    names = admin.set_index("code").name
    g = grids.assign(township=grids.community_code.str[:9], county=grids.community_code.str[:6])
    rows: list[dict] = []
    # 派出所: the most populous townships, at their most populous grid.
    town_pop = g.groupby("township").population.sum().sort_values(ascending=False)
    for i, town in enumerate(town_pop.index[: TARGETS["stations"]]):
        best = g[g.township == town].sort_values("population").iloc[-1]
        p = best.geom.representative_point()
        stem = names[town].removesuffix("街道").removesuffix("镇").removesuffix("乡")
        rows.append(dict(code=f"PCS{town}", name=f"{names[town[:6]]}公安局{stem}派出所",
                         kind="station", lon=p.x, lat=p.y, officers=int(rng.integers(18, 60)),
                         address=f"{names[town]}{names[best.community_code]}", tag=i))
    # 警务站: the densest urban grids, at least 800 m apart.
    dens = (g.population / g.area_km2.clip(lower=0.01)).sort_values(ascending=False)
    metric_cent = g.to_crs(METRIC).geometry.centroid
    chosen: list[int] = []
    for idx in dens.index:
        c = metric_cent[idx]
        if all(c.distance(metric_cent[j]) > 800 for j in chosen):
            chosen.append(idx)
        if len(chosen) == TARGETS["workstations"]:
            break
    for k, idx in enumerate(chosen, start=1):
        row = g.loc[idx]
        p = row.geom.representative_point()
        rows.append(dict(code=f"JWZ{row.community_code}{k:02d}",
                         name=f"{names[row.community_code]}警务站", kind="workstation",
                         lon=p.x, lat=p.y, officers=int(rng.integers(3, 9)),
                         address=f"{names[row.community_code[:9]]}{names[row.community_code]}"))
    # 警务室: a sample of residential communities.
    comm = admin[(admin.level == "community") & admin.name.str.contains("社区")]
    for code in rng.choice(comm.code.to_numpy(), size=min(TARGETS["rooms"], len(comm)),
                           replace=False):
        best = g[g.community_code == code].sort_values("population").iloc[-1]
        p = best.geom.representative_point()
        rows.append(dict(code=f"JWS{code}", name=f"{names[code]}警务室", kind="room",
                         lon=p.x, lat=p.y, officers=int(rng.integers(1, 3)),
                         address=f"{names[code[:9]]}{names[code]}"))
    out = pd.DataFrame(rows).drop(columns="tag")
    out["source_crs"] = "generated"
    return out


_ACTIVITIES = ["平安巡逻", "反诈宣传进社区", "环境卫生整治", "邻里矛盾调解", "关爱空巢老人",
               "防溺水宣传", "文明交通劝导", "消防安全检查", "垃圾分类宣传", "义诊进村"]


def build_activities(grids: gpd.GeoDataFrame, *, seed: int, end: datetime) -> pd.DataFrame:
    """Volunteer activities: 4,876 of them, points = volunteer-hours, 61,567 in all."""
    rng = np.random.default_rng(seed + 4)
    n = TARGETS["activities"]
    w = grids.volunteers.to_numpy(dtype=float) + 1
    gi = rng.choice(len(grids), size=n, p=w / w.sum())
    vols = rng.integers(2, 16, n)
    hours = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 4.0], size=n)
    raw = vols * hours
    points = largest_remainder(raw, TARGETS["points"])
    start = end - timedelta(days=int(TARGETS["months"] * 30.4))
    days = rng.integers(0, (end - start).days + 1, n)
    return pd.DataFrame({
        "external_id": [f"VA{seed}-{i:05d}" for i in range(n)],
        "grid_code": grids.code.to_numpy()[gi],
        "date": [(start + timedelta(days=int(d))).date() for d in days],
        "title": rng.choice(_ACTIVITIES, n),
        "volunteers": vols,
        "hours": hours,
        "points": points.astype(float),
    })

