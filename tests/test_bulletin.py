"""Governance index and monthly bulletin on literal data, checked by hand.

The DB tests use three communities on the four literal grids (both backends):

    C1 甲社区 = grid A (800 residents, 320 WeChat members) + grid B (200, 480)
    C2 乙社区 = grid C (500, 200)
    C3 丙村   = grid D (1,000, 0)

October 2026 (Asia/Shanghai): C1 resolves both its requests on time; C2 resolves one of two,
late; C3 has none. November: C1 leaves its one request overdue; C2 and C3 resolve theirs.
"""

import csv
import io
import math
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from tiny_city import C1, C2, C3, T1, A, B, C, D, admin_units

from geo import bulletin
from geo.deadlines import ConfigError
from geo.store import engine as store_engine
from geo.store import requests as store_requests

NOW = datetime(2026, 12, 5)


def t(month, day, hour=0):
    return datetime(2026, month, day, hour)


def req(ext, grid, reported, *, due, resolved=None, category="road", satisfaction=None):
    return dict(
        external_id=ext, grid_code=grid, outside_grid=False, lon=112.305, lat=28.565,
        source_crs="wgs84", source="miniprogram", category=category, severity="routine",
        route="government",
        status=("rated" if satisfaction else "resolved") if resolved else "in_progress",
        reported_at=reported, due_at=due, resolved_at=resolved, satisfaction=satisfaction,
        closed_at=resolved, description="测试")


def activity(ext, grid, day, volunteers, hours):
    return dict(external_id=ext, grid_code=grid, date=day, title="平安巡逻",
                volunteers=volunteers, hours=hours, points=volunteers * hours)


@pytest.fixture
def city(engine, four_grids):
    grids = four_grids.copy()
    grids["code"] = [A, B, C, D]
    grids["community_code"] = [C1, C1, C2, C3]
    grids["population"] = [800, 200, 500, 1000]
    grids["wechat_members"] = [320, 480, 200, 0]
    units = admin_units()
    requests = pd.DataFrame([
        req("o1", A, t(10, 5), due=t(10, 6), resolved=t(10, 5, 12), satisfaction="satisfied"),
        req("o2", B, t(10, 10), due=t(10, 11), resolved=t(10, 10, 20), category="dispute"),
        req("o3", C, t(10, 12), due=t(10, 13), resolved=t(10, 20),
            satisfaction="dissatisfied"),
        req("o4", C, t(10, 15), due=t(10, 16)),
        req("n1", A, t(11, 5), due=t(11, 6)),
        req("n2", C, t(11, 5), due=t(11, 6), resolved=t(11, 5, 10)),
        req("n3", D, t(11, 7), due=t(11, 8), resolved=t(11, 7, 12)),
    ])
    activities = pd.DataFrame([
        activity("v1", C, date(2026, 10, 3), 5, 2.0),
        activity("v2", C, date(2026, 10, 9), 3, 2.0),
        activity("v3", A, date(2026, 10, 1), 10, 1.0),
        activity("v4", A, date(2026, 10, 31), 2, 1.0),  # last local day of October
        activity("v5", D, date(2026, 11, 1), 4, 1.5),  # November
    ])
    with store_engine.transaction(engine) as conn:
        store_requests.write_admin_units(conn, units)
        store_requests.write_grids(conn, gpd.GeoDataFrame(grids, geometry="geometry"))
        store_requests.bulk_insert_requests(conn, requests)
        store_requests.insert_activities(conn, activities)
    return engine


# --------------------------------------------------------------------------- indicators


def test_month_window_is_the_asia_shanghai_month():
    period, since, until = bulletin.month_window("2026-10")
    assert str(period) == "2026-10"
    assert (since, until) == (datetime(2026, 9, 30, 16), datetime(2026, 10, 31, 16))
    assert bulletin.month_window(date(2026, 10, 17))[1:] == (since, until)


def test_unit_indicators_by_hand(city):
    got = bulletin.unit_indicators(city, month="2026-10", level="community", now=NOW)
    want = pd.DataFrame({
        "resolution_rate": [1.0, 0.5, np.nan],
        "on_time_rate": [1.0, 0.0, np.nan],
        "satisfaction_rate": [1.0, 0.0, np.nan],
        "dispute_resolution_rate": [1.0, np.nan, np.nan],
        "requests_per_1k": [2.0, 4.0, 0.0],
        "wechat_coverage": [800 / (1000 * 0.8), 200 / (500 * 0.8), 0.0],
        "volunteer_hours_per_1k": [12.0, 32.0, 0.0],
    }, index=pd.Index([C1, C2, C3], name="code"))
    pd.testing.assert_frame_equal(got[list(bulletin.INDICATORS)], want)
    assert got["name"].tolist() == ["甲社区", "乙社区", "丙村"]


def test_adult_share_and_township_rollup(city):
    got = bulletin.unit_indicators(city, month="2026-10", level="township", adult_share=1.0,
                                   now=NOW)
    assert got.loc[T1, "wechat_coverage"] == pytest.approx(1000 / 1500)
    assert got.loc[T1, "volunteer_hours_per_1k"] == pytest.approx(28 / 1500 * 1000)
    assert got.loc[T1, "resolution_rate"] == 0.75  # 3 of 4 due
    with pytest.raises(ValueError, match="adult_share"):
        bulletin.unit_indicators(city, month="2026-10", level="township", adult_share=0)
    with pytest.raises(ValueError, match="levels"):
        bulletin.unit_indicators(city, month="2026-10", level="grid")


def test_wechat_coverage_is_capped_at_full(city):
    # Members who live elsewhere must not push coverage above 100%.
    grids = store_requests.read_grids(city, codes=[C])
    grids["wechat_members"] = 10_000
    with store_engine.transaction(city) as conn:
        store_requests.write_grids(conn, grids)
    got = bulletin.unit_indicators(city, month="2026-10", level="community", now=NOW)
    assert got.loc[C2, "wechat_coverage"] == 1.0
    assert got.loc[C1, "wechat_coverage"] == 1.0  # exactly full: 800 of 1,000 × 0.8


# --------------------------------------------------------------------------- scoring

PEERS = pd.DataFrame({
    "resolution_rate": [1.0, 0.5, 0.75],
    "on_time_rate": [0.8, 0.8, 0.8],  # no spread: everybody 100
    "satisfaction_rate": [np.nan, 0.9, 1.0],  # X: no rating
    "dispute_resolution_rate": [1.0, 1.0, 0.0],
    "requests_per_1k": [2.0, 4.0, 3.0],  # lower is better
    "wechat_coverage": [0.5, 1.0, 0.75],
    "volunteer_hours_per_1k": [0.0, 10.0, 5.0],
}, index=["X", "Y", "Z"])


def test_scaling_by_hand():
    scaled = bulletin.scale_indicators(PEERS)
    want = pd.DataFrame({
        "resolution_rate": [100.0, 0.0, 50.0],
        "on_time_rate": [100.0, 100.0, 100.0],
        "satisfaction_rate": [np.nan, 0.0, 100.0],
        "dispute_resolution_rate": [100.0, 100.0, 0.0],
        "requests_per_1k": [100.0, 0.0, 50.0],
        "wechat_coverage": [0.0, 100.0, 50.0],
        "volunteer_hours_per_1k": [0.0, 100.0, 50.0],
    }, index=["X", "Y", "Z"])
    pd.testing.assert_frame_equal(scaled, want)


def test_scores_ranks_best_and_worst_by_hand():
    out = bulletin.governance_scores(PEERS)
    # X: (.2·100 + .15·100 + .15·100 + .1·100 + .1·0 + .1·0) / .8 (no rating: .2 left out)
    # Y: (.15·100 + .15·100 + .1·100 + .1·100) / 1;  Z: (10 + 15 + 20 + 0 + 5 + 5 + 5) / 1
    assert out.index.tolist() == ["X", "Z", "Y"]
    np.testing.assert_allclose(out.score.to_numpy(), [75.0, 60.0, 50.0])
    assert out["rank"].tolist() == [1, 2, 3]
    # on_time_rate separates no one, so it is never a unit's best or worst.
    assert out.best_indicator.tolist() == ["resolution_rate", "satisfaction_rate",
                                           "dispute_resolution_rate"]
    assert out.worst_indicator.tolist() == ["wechat_coverage", "dispute_resolution_rate",
                                            "resolution_rate"]
    assert out.loc["Z", "requests_per_1k_score"] == 50.0


def test_equal_peers_all_get_full_marks_and_share_the_rank():
    same = pd.concat([PEERS.iloc[[1]]] * 2)
    same.index = ["P", "Q"]
    out = bulletin.governance_scores(same)
    assert out.score.tolist() == [100.0, 100.0]
    assert out["rank"].tolist() == [1, 1]
    assert out.best_indicator.isna().all() and out.worst_indicator.isna().all()


def test_unit_with_no_data_has_no_score_and_is_ranked_last():
    peers = PEERS.copy()
    peers.loc["N"] = np.nan
    out = bulletin.governance_scores(peers)
    assert out.index[-1] == "N"
    assert math.isnan(out.loc["N", "score"]) and pd.isna(out.loc["N", "rank"])
    assert out.loc["N", "best_indicator"] is None


@pytest.mark.parametrize("weights, message", [
    ({"resolution_rate": 0.5, "on_time_rate": 0.4}, "sum to 1"),
    ({"resolution_rate": 1.2, "on_time_rate": -0.2}, "non-negative"),
    ({"resolution_rate": 0.5, "happiness": 0.5}, "unknown indicator"),
    ({"resolution_rate": float("nan"), "on_time_rate": 1.0}, "finite"),
])
def test_bad_weights_are_refused_clearly(weights, message):
    with pytest.raises(ValueError, match=message):
        bulletin.governance_scores(PEERS, weights=weights)


def test_partial_weights_give_the_rest_zero():
    w = bulletin.validate_weights({"resolution_rate": 0.25, "wechat_coverage": 0.75})
    assert w["resolution_rate"] == 0.25 and w["satisfaction_rate"] == 0.0
    assert sum(w.values()) == 1.0
    assert sum(bulletin.DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)


# --------------------------------------------------------------------------- index over months

TWO = {"resolution_rate": 0.5, "wechat_coverage": 0.5}
#: The raw rates, every unit ranked: the by-hand figures below are of raw rates.
RAW = {"min_sample": 0, "strength": 0}


def test_governance_index_and_rank_change_by_hand(city):
    # October: C1 100, C2 (0 + 50) / 2 = 25, C3 0 (only WeChat coverage counts).
    oct_ = bulletin.governance_index(city, month="2026-10", level="community", weights=TWO,
                                     now=NOW, **RAW)
    assert oct_.code.tolist() == [C1, C2, C3]
    np.testing.assert_allclose(oct_.score, [100.0, 25.0, 0.0])
    # November: resolution C1 0, C2 100, C3 100 -> C2 75, C1 50, C3 50 (tie shares rank 2).
    nov = bulletin.governance_index(city, month="2026-11", level="community", weights=TWO,
                                    now=NOW, **RAW)
    assert nov.code.tolist() == [C2, C1, C3]
    np.testing.assert_allclose(nov.score, [75.0, 50.0, 50.0])
    assert nov["rank"].tolist() == [1, 2, 2]
    assert nov.rank_prev.tolist() == [2, 1, 3]
    assert nov.rank_change.tolist() == [1, -1, 1]
    assert nov.best_indicator.tolist() == ["resolution_rate", "wechat_coverage",
                                           "resolution_rate"]
    assert nov.worst_indicator.tolist() == ["wechat_coverage", "resolution_rate",
                                            "wechat_coverage"]


def test_months_without_requests_still_rank(city):
    sep = bulletin.governance_index(city, month="2026-10", level="county", now=NOW, **RAW)
    assert sep["rank"].tolist() == [1]
    # September had no request, but WeChat coverage still ranks the one county.
    assert sep.rank_prev.tolist() == [1] and sep.rank_change.tolist() == [0]
    aug = bulletin.governance_index(city, month="2026-08", level="township", now=NOW)
    assert aug.requests.tolist() == [0, 0]
    assert aug.resolution_rate.isna().all()  # an empty month: rates undefined, no error


# --------------------------------------------------------------------------- rendering


def test_number_formats():
    assert bulletin.format_count(12345) == "12,345"
    assert bulletin.format_rate(0.989) == "98.9%"
    assert bulletin.format_rate(1.0) == "100.0%"
    assert bulletin.format_number(1234.56) == "1,234.6"
    assert [bulletin.format_rank_change(v) for v in (2, -1, 0, pd.NA)] == [
        "↑2", "↓1", "持平", "—"]
    assert bulletin.format_rate(float("nan")) == "—" and bulletin.format_count(None) == "—"


def test_bulletin_text(city):
    b = bulletin.monthly_bulletin(city, month="2026-11", weights=TWO, now=NOW, **RAW)
    text = bulletin.bulletin_text(b)
    assert text.startswith("益阳市基层治理指数月度通报（城乡社群动态）\n2026年11月\n")
    for heading in ("一、区县排名（共 1 个）", "二、乡镇（街道）排名（共 2 个）",
                    "三、村（社区）排名（共 3 个）"):
        assert heading in text
    lines = text.splitlines()
    first = lines[lines.index("三、村（社区）排名（共 3 个）") + 2].split()
    assert first[:4] == ["1", "乙社区", "75.0", "↑1"]
    assert first[4] == "1"  # requests due: the n the rates rest on
    assert first[5] == "100.0%" and first[10] == "50.0%"  # resolution, WeChat coverage
    assert "权重：办结率 50%，微信群覆盖率 50%" in text
    short = bulletin.bulletin_text(b, top=1)
    assert "三、村（社区）排名（共 3 个，列出前 1 个）" in short and "丙村" not in short


def test_bulletin_csv_is_utf8_with_bom(city):
    b = bulletin.monthly_bulletin(city, month="2026-11", weights=TWO, now=NOW, **RAW)
    data = bulletin.bulletin_csv(b)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:8] == ["层级", "代码", "上级代码", "排名", "名称", "综合得分", "排名变化",
                           "应办结数"]
    assert len(rows) == 1 + 1 + 2 + 3
    c2 = next(r for r in rows if r[1] == C2)
    assert c2[:7] == ["村（社区）", C2, T1, "1", "乙社区", "75.0", "↑1"]
    assert c2[rows[0].index("办结率")] == "100.0%"
    assert c2[rows[0].index("每千人诉求量")] == "2.0"  # 1 request ÷ 500 residents
    assert c2[rows[0].index("最弱指标")] == "微信群覆盖率"


def test_a_restricted_bulletin_keeps_only_the_units_given_with_city_wide_ranks(city):
    b = bulletin.monthly_bulletin(city, month="2026-11", weights=TWO, now=NOW)
    cut = bulletin.restrict(b, {"township": {T1}, "community": {C2}})
    assert set(cut.rankings) == {"township", "community"}  # the county level is left out
    assert cut.rankings["community"]["code"].tolist() == [C2]
    assert cut.rankings["community"]["rank"].tolist() == \
        b.rankings["community"].set_index("code").loc[[C2], "rank"].tolist()
    rows = list(csv.reader(io.StringIO(bulletin.bulletin_csv(cut).decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:]] == [T1, C2]


def test_escalations_are_counted_per_unit_in_the_month_they_were_crossed(city):
    from geo import escalation

    before = bulletin.governance_index(city, month="2026-10", level="community", now=NOW)
    # The open ones: o4 (grid C of C2, due 10-16) and n1 (grid A of C1, due 11-06), each a
    # one-day span, so due soon, overdue and long overdue all fall in their own month.
    assert escalation.record(city, now=NOW) == 6
    october = bulletin.unit_indicators(city, month="2026-10", level="community", now=NOW)
    november = bulletin.unit_indicators(city, month="2026-11", level="community", now=NOW)
    cols = list(bulletin.ESCALATIONS)
    assert october[cols].values.tolist() == [[0, 0], [1, 1], [0, 0]]
    assert november[cols].values.tolist() == [[1, 1], [0, 0], [0, 0]]
    assert bulletin.unit_indicators(city, month="2026-10", level="township",
                                    now=NOW)[cols].sum().tolist() == [1, 1]
    # Listed, not scored: the scores are the same as before they were recorded.
    after = bulletin.governance_index(city, month="2026-10", level="community", now=NOW)
    assert after["score"].tolist() == before["score"].tolist()
    assert after["escalations_overdue"].tolist() != before["escalations_overdue"].tolist()
    text = bulletin.bulletin_text(bulletin.monthly_bulletin(city, month="2026-10", now=NOW))
    assert "超期督办" in text and "不计入得分" in text


def test_supervision_and_returns_are_listed_beside_the_index_not_scored(engine, four_grids):
    from tests.supervision_story import NOVEMBER, tell

    tell(engine, four_grids)
    now = datetime(2026, 12, 5)
    result = bulletin.monthly_bulletin(engine, month=NOVEMBER, now=now)
    table = result.rankings["community"].set_index("code")
    cols = ["supervised", "supervised_due", "supervised_on_time", "returns"]
    assert table.loc[[C1, C2, C3], cols].values.tolist() == [[3, 2, 1, 0], [1, 1, 0, 2],
                                                              [1, 1, 1, 0]]
    assert table["supervised_on_time_rate"].isna().all()  # samples under five
    township = result.rankings["township"].set_index("code")
    assert township.loc[T1, cols].tolist() == [4, 3, 1, 2]
    # Not scored: the same scores as from the indicators alone.
    alone = bulletin.governance_scores(
        bulletin.unit_indicators(engine, month=NOVEMBER, level="community", now=now))
    assert table["score"].sort_index().tolist() == alone["score"].sort_index().tolist()
    text = bulletin.bulletin_text(result)
    header = next(line for line in text.splitlines() if line.startswith("排名"))
    assert "督办件数" in header and "督办按期率" in header and "回退次数" in header
    c1 = next(line for line in text.splitlines() if "甲社区" in line)
    assert c1.split()[-3:] == ["3", "(1/2)", "0"]
    c2 = next(line for line in text.splitlines() if "乙社区" in line)
    assert c2.split()[-3:] == ["1", "(0/1)", "2"]
    assert "不折算百分比" in text
    rows = list(csv.reader(io.StringIO(bulletin.bulletin_csv(result).decode("utf-8-sig"))))
    c3 = next(r for r in rows if r[1] == C3)
    assert c3[rows[0].index("督办按期率")] == "(1/1)"


def test_supervised_rate_format():
    assert bulletin.format_supervised_rate(4, 5) == "80.0%"
    assert bulletin.format_supervised_rate(2, 3) == "(2/3)"
    assert bulletin.format_supervised_rate(0, 0) == "—"


# --------------------------------------------------------------------------- fair ranks


def test_shrunk_rates_move_toward_the_parents_rate():
    # m = 3.3279 (tests/test_shrinkage.py); parent P: 10 of 20 = 0.5, Q: 20 of 30 = 2/3.
    k = pd.Series([2, 8, 5, 15, 0], index=list("abcde"))
    n = pd.Series([10, 10, 10, 20, 0], index=list("abcde"))
    parents = pd.Series(["P", "P", "Q", "Q", "Q"], index=list("abcde"))
    out = bulletin.shrunk_rates(k, n, parents=parents)
    np.testing.assert_allclose(out.iloc[:4], [0.274908, 0.725092, 0.541615, 0.738112],
                               rtol=1e-5)
    assert math.isnan(out["e"])  # no sample: undefined, as the raw rate
    raw = bulletin.shrunk_rates(k, n, parents=parents, strength=0)
    np.testing.assert_allclose(raw.iloc[:4], [0.2, 0.8, 0.5, 0.75])


def _peers(rng, true_large, n_large, n_small, small_rate):
    """One month of peers: large units with their own true rates, small ones all alike."""
    n = np.r_[np.full(len(true_large), n_large), np.full(n_small, 3)]
    p = np.r_[true_large, np.full(n_small, small_rate)]
    k = rng.binomial(n, p)
    frame = pd.DataFrame({name: np.nan for name in bulletin.INDICATORS},
                         index=[f"u{i}" for i in range(len(n))])
    frame["resolution_rate"] = k / n
    frame["due"] = frame["sample"] = n
    return frame, pd.Series(k, index=frame.index), pd.Series(n, index=frame.index)


def test_shrinking_steadies_the_ranks_of_small_units():
    """Small units' ranks swing with chance; shrunk toward the parent they swing far less."""
    rng = np.random.default_rng(7)
    true_large = np.linspace(0.70, 0.95, 20)
    only = {"resolution_rate": 1.0}
    ranks: dict[str, list] = {"raw": [], "shrunk": []}
    for _ in range(40):
        frame, k, n = _peers(rng, true_large, 200, 10, 0.85)
        parents = pd.Series("P", index=frame.index)
        frame["resolution_rate_shrunk"] = bulletin.shrunk_rates(k, n, parents=parents)
        shrunk = bulletin.governance_scores(frame, weights=only, min_sample=0)
        raw = bulletin.governance_scores(frame.drop(columns="resolution_rate_shrunk"),
                                         weights=only, min_sample=0)
        ranks["raw"].append(raw["rank"].reindex(frame.index).astype(float).to_numpy())
        ranks["shrunk"].append(shrunk["rank"].reindex(frame.index).astype(float).to_numpy())
    small = slice(20, 30)
    spread = {name: np.std(np.array(r)[:, small], axis=0).mean() for name, r in ranks.items()}
    assert spread["shrunk"] < 0.5 * spread["raw"]
    # Month to month, the whole ranking agrees with itself better.
    assert _month_to_month(ranks["shrunk"]) > _month_to_month(ranks["raw"]) + 0.1


def _month_to_month(ranks: list) -> float:
    r = np.array(ranks)
    return float(np.median([stats.spearmanr(a, b).statistic
                            for a, b in zip(r[:-1], r[1:], strict=True)]))


def test_small_samples_are_listed_after_the_ranked_units():
    frame = pd.DataFrame({name: np.nan for name in bulletin.INDICATORS}, index=["a", "b", "c"])
    frame["resolution_rate"] = [1.0, 0.5, 0.9]
    frame["sample"] = [2, 40, 30]
    out = bulletin.governance_scores(frame, weights={"resolution_rate": 1.0}, min_sample=5)
    assert out.index.tolist() == ["c", "b", "a"]  # a scores best but rests on 2 requests
    assert out["rank"].tolist()[:2] == [1, 2] and pd.isna(out["rank"].iloc[2])
    assert out["small_sample"].tolist() == [False, False, True]
    text = bulletin._rows(out.assign(code=out.index, name=out.index, rank_change=pd.NA,
                                     best_indicator=None, worst_indicator=None))
    assert text[2][0] == bulletin.SMALL_SAMPLE and text[2][4] == "2"


def test_min_sample_setting(monkeypatch):
    monkeypatch.delenv("GRIDMAP_BULLETIN_MIN_SAMPLE", raising=False)
    assert bulletin.min_sample_setting() == bulletin.MIN_SAMPLE
    monkeypatch.setenv("GRIDMAP_BULLETIN_MIN_SAMPLE", "12")
    assert bulletin.min_sample_setting() == 12
    monkeypatch.setenv("GRIDMAP_BULLETIN_MIN_SAMPLE", "many")
    with pytest.raises(ConfigError, match="GRIDMAP_BULLETIN_MIN_SAMPLE: 'many'"):
        bulletin.min_sample_setting()


def test_a_scoped_reader_gets_their_units_with_city_wide_ranks(city):
    from geo.access import Scope

    everyone = bulletin.monthly_bulletin(city, month="2026-11", weights=TWO, now=NOW, **RAW)
    mine = bulletin.monthly_bulletin(city, month="2026-11", weights=TWO, now=NOW,
                                     scope=Scope("grid_head", (C3,)), **RAW)
    assert mine.rankings["community"]["code"].tolist() == [C3]
    # C3 ties C1 for second of three (see the by-hand test above), not "first of one".
    assert mine.rankings["community"]["rank"].tolist() == [2]
    assert mine.ranked == everyone.ranked == {"county": 1, "township": 2, "community": 3}
    assert mine.rankings["township"]["code"].tolist() == [C3[:9]]
    assert C1 not in bulletin.bulletin_csv(mine).decode("utf-8-sig")
