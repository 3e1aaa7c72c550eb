"""What can be exported and what an export returns; the layer data passed to the writers.

The catalogue of formats (:data:`FORMATS`) and layers (:data:`LAYERS`), the fields kept for
admins (:data:`PERSONAL_FIELDS`), an export's result and area, and the two things the layer
builders (:mod:`geo.export.layers`) hand to the writers (:mod:`geo.export.writers`): a
:class:`LayerData` and a :class:`Reporter`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "CHUNK_ROWS",
    "FIELD_ALIASES",
    "FORMATS",
    "LAYERS",
    "PERSONAL_FIELDS",
    "Area",
    "ExportResult",
    "FormatInfo",
    "LayerData",
    "LayerInfo",
    "Progress",
    "Reporter",
    "check_format",
    "field_alias",
    "export_layers",
    "split",
]


Progress = Callable[[float, str], None]

#: Rows read and written per chunk: bounds memory and paces progress reports.
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class FormatInfo:
    """One output format.

    Attributes
    ----------
    key : str
        ``geojson``, ``gpkg`` or ``csv``.
    name : str
        What users call it.
    extension : str
        File name extension, with the dot.
    media_type : str
        MIME type, e.g. for a download button.

    """

    key: str
    name: str
    extension: str
    media_type: str


FORMATS: dict[str, FormatInfo] = {
    "geojson": FormatInfo("geojson", "GeoJSON", ".geojson", "application/geo+json"),
    "gpkg": FormatInfo("gpkg", "GeoPackage", ".gpkg", "application/geopackage+sqlite3"),
    "csv": FormatInfo("csv", "CSV", ".csv", "text/csv"),
}


@dataclass(frozen=True)
class LayerInfo:
    """One exportable layer.

    Attributes
    ----------
    key : str
        Identifier, also the GeoPackage layer name.
    name_zh, name_en : str
        Display names.
    geometry : {"polygon", "point"}
        Geometry of its features.
    formats : tuple of str
        Keys of :data:`FORMATS` it can be written in.
    window : {"reported", "month", None}
        What ``since``/``until`` select: requests by report time, a bulletin month, or
        nothing.
    personal_fields : tuple of str
        Fields written only with ``personal=True``.

    """

    key: str
    name_zh: str
    name_en: str
    geometry: str
    formats: tuple[str, ...]
    window: str | None
    personal_fields: tuple[str, ...] = ()


_ALL = tuple(FORMATS)

#: Fields exported only on an admin's explicit request (DESIGN §8).
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "grids": ("head_name", "head_phone"),
    "requests": ("reporter_name", "reporter_phone"),
}

LAYERS: dict[str, LayerInfo] = {info.key: info for info in (
    LayerInfo("grids", "网格", "Grids", "polygon", _ALL, "reported", PERSONAL_FIELDS["grids"]),
    LayerInfo("requests", "诉求", "Requests", "point", _ALL, "reported",
              PERSONAL_FIELDS["requests"]),
    LayerInfo("stations", "警务站点", "Police stations", "point", _ALL, None),
    LayerInfo("coverage", "警务覆盖（按网格）", "Police coverage per grid", "polygon", _ALL,
              "reported"),
    LayerInfo("coverage_areas", "警务覆盖范围", "Station coverage areas", "polygon", _ALL, None),
    LayerInfo("hotspots", "矛盾纠纷热点", "Dispute hotspots", "polygon", _ALL, "reported"),
    LayerInfo("scan_clusters", "矛盾纠纷聚集区（扫描统计）", "Dispute clusters (scan statistic)",
              "polygon", _ALL, "reported"),
    LayerInfo("claims", "解忧联盟认领（按网格）", "Alliance claims per grid", "polygon", _ALL,
              "reported"),
    LayerInfo("bulletin", "月度通报", "Monthly bulletin", "polygon", _ALL, "month"),
)}


#: Chinese names of the exported fields: GeoPackage column aliases (gpkg_data_columns),
#: which QGIS shows in the attribute table and forms. The field names stay ASCII for tools.
FIELD_ALIASES: dict[str, str] = {
    "code": "编码", "name": "名称", "community_code": "社区编码", "community_name": "社区",
    "township_code": "乡镇街道编码", "township_name": "乡镇街道", "county_code": "区县编码",
    "county_name": "区县", "population": "人口", "households": "户数", "area_km2": "面积(平方公里)",
    "wechat_groups": "微信群数", "wechat_members": "微信群成员数", "volunteers": "志愿者数",
    "head_name": "网格长", "head_phone": "网格长电话",
    "requests": "诉求数", "requests_per_1k": "每千人诉求数", "open": "未办结", "overdue": "超期",
    "due": "应办结", "resolved": "已办结", "on_time": "按期办结", "rated": "已评价",
    "satisfied": "满意", "resolution_rate": "办结率", "on_time_rate": "按期办结率",
    "satisfaction_rate": "满意率", "disputes": "矛盾纠纷数", "disputes_open": "未化解矛盾纠纷",
    "dispute_resolution_rate": "矛盾纠纷化解率",
    "id": "序号", "external_id": "外部编号", "grid_code": "网格编码", "outside_grid": "网格外",
    "lon": "经度", "lat": "纬度", "source_crs": "原坐标系", "source": "来源",
    "source_name": "来源名称", "category": "类别", "category_name": "类别名称",
    "severity": "紧急程度", "severity_name": "紧急程度名称", "route": "解决途径",
    "route_name": "解决途径名称", "status": "状态", "status_name": "状态名称",
    "reported_at": "上报时间", "due_at": "办结期限", "resolved_at": "办结时间",
    "closed_at": "关闭时间", "satisfaction": "评价", "satisfaction_name": "评价名称",
    "address": "地址", "description": "内容", "escalation": "督办级别",
    "escalation_name": "督办级别名称", "reporter_name": "上报人", "reporter_phone": "上报人电话",
    "kind": "类型", "kind_name": "类型名称", "officers": "警力",
    "radius_override_m": "指定半径(米)",
    "coverage_radius_m": "覆盖半径(米)", "covered_km2": "覆盖面积(平方公里)",
    "covered_share": "覆盖比例", "covered_population": "覆盖人口",
    "uncovered_population": "未覆盖人口", "uncovered": "未覆盖",
    "nearest_station_code": "最近警务点编码", "nearest_station_name": "最近警务点",
    "nearest_station_kind": "最近警务点类型", "nearest_station_m": "最近警务点距离(米)",
    "covered_requests": "覆盖范围内诉求", "uncovered_requests": "覆盖范围外诉求",
    "gi_z": "Gi*统计量z值", "gi_p": "Gi*显著性p值", "gi_bin": "热冷点等级",
    "gi_class": "热冷点分类",
    "gi_class_name": "热冷点分类名称", "neighbours": "邻接网格数", "island": "孤立网格",
    "excluded": "未参与分析", "claimable": "可认领诉求", "claimed": "已认领",
    "claim_rate": "认领率", "median_hours_to_claim": "认领用时中位数(小时)",
    "month": "月份", "level": "层级", "level_name": "层级名称", "rank": "排名",
    "parent_code": "上级编码", "score": "综合得分", "rank_prev": "上月排名",
    "rank_change": "排名变化", "best_indicator": "最优指标", "best_indicator_name": "最优指标名称",
    "worst_indicator": "最弱指标", "worst_indicator_name": "最弱指标名称",
    "wechat_coverage": "微信群覆盖率", "volunteer_hours_per_1k": "每千人志愿服务时长",
    "escalations_overdue": "超期督办", "escalations_long_overdue": "严重超期",
    "geometry_repaired": "几何已修复",
}


def field_alias(name: str) -> str | None:
    """Return the Chinese name of an exported field, or None where there is none.

    An indicator's score (``resolution_rate_score``) is named after its indicator.
    """
    if name in FIELD_ALIASES:
        return FIELD_ALIASES[name]
    if name.endswith("_score") and name.removesuffix("_score") in FIELD_ALIASES:
        return f"{FIELD_ALIASES[name.removesuffix('_score')]}得分"
    return None


def export_layers() -> list[LayerInfo]:
    """Return the exportable layers in display order (see the module docstring)."""
    return list(LAYERS.values())


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_layer` wrote.

    Attributes
    ----------
    rows : int
        Features (or CSV rows) written.
    path : str or None
        The file written; None for a file-like object.
    format, layer : str
        Keys of :data:`FORMATS` and :data:`LAYERS`.
    seconds : float
        Wall time of the whole export.
    area : str or None
        The area code, None for everything.
    since, until : datetime or None
        The window used (naive UTC); for the bulletin, its month's bounds.
    columns : tuple of str
        The attribute fields, in order (without the geometry).
    definition : str or None
        For hot spots, the definition used (:meth:`geo.hotspots.HotspotDefinition.describe`).
    repaired : int
        Invalid stored geometries written repaired (flagged ``geometry_repaired``).

    """

    rows: int
    path: str | None
    format: str
    layer: str
    seconds: float
    area: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    columns: tuple[str, ...] = field(default=())
    definition: str | None = None
    repaired: int = 0


class Area(NamedTuple):
    """An export area resolved against the stored grids and admin units.

    Attributes
    ----------
    code : str or None
        The code given; None for everything.
    level : str
        ``"all"``, ``"grid"`` or the admin level of the unit.
    name : str or None
        The grid's or unit's name.
    grids : pandas.Index or None
        Codes of the grids in the area; None when nothing is left out (no area, or the
        only city), so requests outside every grid still count.

    """

    code: str | None
    level: str
    name: str | None
    grids: pd.Index | None


def check_format(info: LayerInfo, fmt: str) -> str:
    """Return the key of ``fmt`` (``json`` and ``geopackage`` accepted) for layer ``info``.

    Raises
    ------
    ValueError
        The layer cannot be written in this format.

    """
    key = str(fmt).strip().lower().lstrip(".")
    key = {"json": "geojson", "geopackage": "gpkg"}.get(key, key)
    if key not in info.formats:
        raise ValueError(f"layer {info.key!r} cannot be exported as {fmt!r}; "
                         f"choose {', '.join(info.formats)}")
    return key


# --------------------------------------------------------------------------- layer data


@dataclass
class LayerData:
    """A layer ready to write: its schema and its rows, chunk by chunk.

    ``schema`` lists (field, kind) with kind one of str, int, float, bool, datetime
    (naive UTC). ``chunks`` yields (attributes, geometries) with geometries in EPSG:4326
    (an object array, None where missing). ``total`` is the expected row count, for
    progress. ``geometry_type`` is the GeoPackage layer's; ``csv_geometry`` says whether
    the CSV gets a ``wkt`` column (not for points, which have lon/lat, nor the bulletin).
    """

    key: str
    schema: list[tuple[str, str]]
    chunks: Iterable[tuple[pd.DataFrame, np.ndarray]]
    total: int
    geometry_type: str
    csv_geometry: bool = True
    #: Invalid stored geometries repaired while writing (see geo.export.writers.prepare).
    repaired: int = 0


def split(frame: pd.DataFrame, geoms: np.ndarray, rows: int
          ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield ``frame`` and its geometries ``rows`` at a time."""
    for begin in range(0, len(frame), rows):
        yield frame.iloc[begin:begin + rows], geoms[begin:begin + rows]


# --------------------------------------------------------------------------- progress


class Reporter:
    """Forward progress to the caller's callback, fraction clamped to [0, 1]."""

    #: Share of the bar for reading and computing before the first row is written.
    COMPUTE = 0.05

    def __init__(self, callback: Progress | None, info: LayerInfo) -> None:
        self.callback = callback
        self.label = info.name_zh

    def __call__(self, fraction: float, message: str) -> None:
        """Report ``fraction`` done with ``message``, prefixed by the layer's name."""
        if self.callback is not None:
            self.callback(min(max(float(fraction), 0.0), 1.0), f"{self.label}：{message}")

    def written(self, rows: int, total: int) -> None:
        """Report ``rows`` of about ``total`` written (the bar's share after computing)."""
        share = rows / total if total else 1.0
        self(self.COMPUTE + (1 - self.COMPUTE) * min(share, 1.0),
             f"已写入 {rows:,}/{max(total, rows):,} 行")
