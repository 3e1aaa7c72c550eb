"""What the demo city is calibrated to, and the helpers every demo generator shares.

Yiyang's published figures, its density peaks, county populations and daily rhythm; people's
names, and integer shares that add up exactly to a published total.

The generators are :mod:`geo.demo_geography` (outlines, townships, communities, grids) and
:mod:`geo.demo_requests` (requests, flow register, stations, volunteer activities);
:mod:`geo.demo` assembles and writes a city.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import numpy as np
import numpy.typing as npt

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
METRIC = "EPSG:32649"
CITY_CODE = "430900"

class Targets(TypedDict):
    """The published figures, each with its type (counts are whole numbers)."""

    grids: int
    population: int
    requests: int
    handled: int
    disputes: int
    satisfaction: float
    wechat_members: int
    volunteers: int
    activities: int
    points: int
    stations: int
    workstations: int
    rooms: int
    months: int


#: Published figures for Yiyang (see data/SOURCES.md) that the demo is calibrated to.
TARGETS: Targets = {
    "grids": 6017,
    "population": 3_850_000,
    "requests": 80_787,
    "handled": 76_931,
    "disputes": 926,
    "satisfaction": 0.9947,
    "wechat_members": 1_285_854,
    "volunteers": 28_932,
    "activities": 4_876,
    "points": 61_567,
    "stations": 40,
    "workstations": 63,
    "rooms": 80,
    "months": 8,
}

#: Density peaks (lon, lat, weight, sigma in km): the city core and the county seats.
URBAN_CENTRES = [
    (112.355, 28.565, 80.0, 4.5),  # 益阳中心城区 (赫山区/资阳区)
    (112.330, 28.600, 40.0, 3.0),  # 资阳区 城区
    (112.400, 28.545, 30.0, 3.0),  # 赫山区 东部新区
    (112.380, 29.370, 25.0, 2.5),  # 南县 南洲镇
    (112.150, 28.525, 25.0, 2.5),  # 桃江县 桃花江镇
    (111.215, 28.385, 20.0, 2.5),  # 安化县 东坪镇
    (112.355, 28.840, 25.0, 2.5),  # 沅江市 琼湖街道
    (112.640, 29.160, 10.0, 2.0),  # 大通湖区 河坝镇
]

#: Resident population per county-level unit (rounded, near the 2020 census; sums to 3.85 M).
COUNTY_POPULATION = {
    "430902": 380_000, "430903": 680_000, "430921": 550_000, "430922": 690_000,
    "430923": 770_000, "430971": 80_000, "430972": 150_000, "430981": 550_000,
}

#: Host-carved districts: code -> (host county codes, centre lon/lat, target area km²).
GUEST_DISTRICTS = {
    "430971": (("430921", "430981"), (112.62, 29.16), 750.0),  # 大通湖区
    "430972": (("430903",), (112.47, 28.50), 220.0),  # 高新区
}

# Share of requests reported in each hour of the day (Asia/Shanghai): a morning and an
# afternoon peak, a smaller evening one, little at night.
HOURLY = np.array([0.4, 0.2, 0.15, 0.1, 0.15, 0.4, 1.2, 2.8, 5.0, 7.0, 7.4, 6.6,
                   4.8, 4.6, 6.0, 6.8, 6.5, 5.6, 4.6, 4.9, 4.6, 3.4, 1.9, 0.9])

#: Relative frequency of each category among non-dispute requests.
CATEGORY_MIX = {
    "road": 14, "sanitation": 18, "public_order": 6, "utilities": 12, "property": 11,
    "greenery": 6, "noise": 7, "welfare": 9, "paperwork": 8, "safety": 5, "other": 4,
}

#: ``progress(fraction, message)``, called while a city is built and written.
ProgressFn = Callable[[float, str], None]


def quiet(_fraction: float, _message: str) -> None:
    """Report no progress (the default :data:`ProgressFn`)."""
    return None


_SURNAMES = list(
    "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
)
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建文辉玲红海波宇鹏浩慧琳晨欣")


def people_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random Chinese names (a common surname, one or two given characters)."""
    sur = rng.choice(_SURNAMES, n)
    g1 = rng.choice(_GIVEN, n)
    g2 = rng.choice(_GIVEN + [""] * 20, n)
    return [a + b + c for a, b, c in zip(sur, g1, g2, strict=True)]



def largest_remainder(weights: npt.ArrayLike, total: int, *, minimum: int = 0) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to exactly ``total``."""
    w = np.asarray(weights, dtype=float)
    base = np.full(len(w), minimum, dtype=np.int64)
    rest = total - base.sum()
    share = w / w.sum() * rest
    floor = np.floor(share).astype(np.int64)
    left = int(rest - floor.sum())
    order = np.argsort(-(share - floor), kind="stable")
    floor[order[:left]] += 1
    return base + floor
