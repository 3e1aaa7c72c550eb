"""Canonical column names: which store column each of a file's columns feeds.

A file may name a column in English (the store's name, any case, spaces or hyphens for
underscores), by a Chinese alias, or cut to ten characters by a Shapefile's DBF; a unit in
brackets is dropped ("人口（人）"). :func:`canonical` renames by table look-up, warns about
columns it ignores, and rejects the file when a required column is missing.
:func:`detect_kind` guesses what a file holds from the same tables, and :func:`template`
builds the downloadable template of each kind from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.importer.reasons import Reason
from geo.importer.report import KINDS, ImportFileError, Problem

_POINT = {
    "lon": ("lng", "long", "longitude", "x", "经度"),
    "lat": ("latitude", "y", "纬度"),
    "wkt": ("geometry", "geom", "the_geom", "shape", "几何", "空间信息"),
}
_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "grids": {
        "code": ("网格编码", "网格代码", "网格编号", "grid_code"),
        "name": ("网格名称", "网格名", "名称"),
        "community_code": ("社区编码", "社区代码", "村社区编码", "所属社区编码"),
        "population": ("人口", "人口数", "常住人口"),
        "households": ("户数", "住户数"),
        "head_name": ("网格长", "网格长姓名", "网格员"),
        "head_phone": ("网格长电话", "网格长手机", "联系电话", "电话"),
        "wechat_groups": ("微信群数", "微信群"),
        "wechat_members": ("微信群人数", "群成员数", "微信群成员数"),
        "volunteers": ("志愿者数", "志愿者人数"),
        "wkt": _POINT["wkt"] + ("边界", "范围"),
        "area_km2": ("面积",),
        "source_crs": ("坐标系",),
    },
    "requests": {
        "external_id": ("编号", "诉求编号", "工单编号", "工单号"),
        "category": ("类别", "诉求类别", "问题类别", "事项类别", "service_code"),
        "severity": ("紧急程度", "等级", "分级"),
        "route": ("解决途径", "办理途径"),
        "status": ("状态", "办理状态"),
        "source": ("来源", "渠道", "上报渠道"),
        "reported_at": ("上报时间", "requested_datetime"),
        "due_at": ("办理期限", "期限", "截止时间"),
        "resolved_at": ("办结时间", "办理完成时间"),
        "closed_at": ("关闭时间", "评价时间"),
        "satisfaction": ("满意度", "评价结果"),
        # A later export's time of the state it carries (Open311's updated_datetime).
        "updated_at": ("更新时间", "最后更新时间", "最近更新时间", "状态更新时间", "修改时间",
                       "updated_datetime"),
        # Written on the update's event, not on the request.
        "note": ("备注", "处理意见", "办理意见", "处理情况", "办理情况", "办理结果",
                 "status_notes"),
        "address": ("地址", "详细地址"),
        "description": ("描述", "诉求内容", "内容", "问题描述"),
        "reporter_name": ("上报人", "姓名", "联系人"),
        "reporter_phone": ("联系电话", "电话", "手机", "手机号"),
        **_POINT,
        "grid_code": ("网格编码", "网格代码"),
        "outside_grid": (),
        "source_crs": ("坐标系",),
    },
    "stations": {
        "code": ("编码", "编号", "站点编码", "站点编号"),
        "name": ("名称", "站点名称"),
        "kind": ("类型", "站点类型", "类别"),
        "officers": ("警力", "民警数", "民警人数", "警员数"),
        "radius_m": ("覆盖半径", "半径"),
        "address": ("地址", "详细地址"),
        **_POINT,
        "source_crs": ("坐标系",),
    },
    "activities": {
        "external_id": ("编号", "活动编号"),
        "grid_code": ("网格编码", "网格代码"),
        "date": ("日期", "活动日期"),
        "title": ("活动名称", "标题", "主题", "名称"),
        "volunteers": ("志愿者人数", "参与人数", "人数"),
        "hours": ("时长", "小时", "服务时长"),
        "points": ("积分",),
        **_POINT,
    },
    "units": {
        "code": ("区划编码", "区划代码", "行政区划代码", "统计用区划代码", "编码", "代码"),
        "name": ("区划名称", "名称", "单位名称"),
        "level": ("层级", "级别", "区划层级"),
        "parent_code": ("上级编码", "上级代码", "上级区划编码", "父级编码"),
        "population": ("人口", "常住人口", "人口数"),
        "wkt": _POINT["wkt"] + ("边界", "范围", "轮廓"),
    },
}
_REQUIRED = {
    "grids": ("code", "name"),
    "requests": ("category", "reported_at"),
    "stations": ("code", "name", "kind"),
    "activities": ("date", "title", "volunteers", "hours"),
    "units": ("code", "name", "level"),
}

#: Columns that GridMap's own grid export computes (names of the units above a grid and
#: its figures): a re-imported export carries them, and they are ignored without a word.
EXPORT_COMPUTED = {
    "grids": frozenset({
        "area_km2", "community_name", "township_code", "township_name", "county_code",
        "county_name",
        "requests", "requests_per_1k", "open", "overdue", "due", "resolved", "on_time",
        "rated", "satisfied", "resolution_rate", "on_time_rate", "satisfaction_rate",
        "disputes", "disputes_open", "dispute_resolution_rate",
        # Set when the export repaired an invalid stored outline; the outline is re-checked.
        "geometry_repaired",
    }),
}

#: The column of reasons added to the refused rows handed back (中文, English); a file fixed
#: and imported again may still carry it, and it is ignored without a word.
REASON_COLUMN = ("导入问题", "import problem")

#: One example row per kind for the templates: column -> value, in template order.
EXAMPLES: dict[str, dict[str, str]] = {
    "grids": {
        "code": "430903003001001", "name": "甲社区第一网格", "community_code": "430903003001",
        "population": "1200", "households": "420", "head_name": "张三",
        "head_phone": "13800000000", "wechat_groups": "2", "wechat_members": "380",
        "volunteers": "12",
        "wkt": "POLYGON ((112.35 28.55, 112.36 28.55, 112.36 28.56, 112.35 28.56, "
               "112.35 28.55))",
    },
    "requests": {
        "external_id": "GD-2024-0001", "category": "矛盾纠纷", "severity": "操心事",
        "route": "政府解决类", "status": "上报", "source": "热线",
        "reported_at": "2024-05-01 08:30", "due_at": "", "resolved_at": "", "closed_at": "",
        "satisfaction": "", "updated_at": "", "note": "", "address": "甲社区 3 栋",
        "description": "楼道堆放杂物", "reporter_name": "李四",
        "reporter_phone": "13900000000", "lon": "112.355", "lat": "28.555",
    },
    "stations": {
        "code": "PS001", "name": "甲街道派出所", "kind": "派出所", "officers": "25",
        "radius_m": "3000", "address": "甲街道 1 号", "lon": "112.355", "lat": "28.555",
    },
    "activities": {
        "external_id": "HD-0001", "grid_code": "430903003001001", "date": "2024-05-04",
        "title": "清扫楼道", "volunteers": "8", "hours": "2", "points": "",
    },
    "units": {
        "code": "430903003001", "name": "甲社区", "level": "社区",
        "parent_code": "430903003", "population": "3600", "wkt": "",
    },
}
#: The columns a file of updates to stored requests may carry besides ``external_id``: a
#: requests file with ``external_id`` and one of these, but without what a new request
#: needs (category, reported_at, a location), is a file of updates only.
UPDATE_COLUMNS = ("status", "updated_at", "resolved_at", "closed_at", "satisfaction", "note")

# Store columns that the importer computes itself; a value in the file is ignored.
_COMPUTED = {
    "area_km2": ("由几何计算", "computed from the geometry"),
    "source_crs": ("按导入时的坐标系记录", "recorded from the coordinate system of the import"),
    "grid_code": ("按点位分配", "assigned from the point"),
    "outside_grid": ("按点位分配", "assigned from the point"),
}
# An activity's grid_code is data; a request's grid comes from its point.
_IGNORED = {kind: {c: why for c, why in _COMPUTED.items()
                   if (kind, c) != ("activities", "grid_code")}
            for kind in _FIELDS}


def _key(name: object) -> str:
    text = str(name).replace("\ufeff", "").strip()
    text = re.sub(r"\s*[（(][^()（）]*[)）]\s*$", "", text)  # "人口（人）" -> "人口"
    return re.sub(r"[\s\-]+", "_", text.lower())


_REASON_KEYS = frozenset(_key(n) for n in REASON_COLUMN)


def _hint(kind: str, canonical: str) -> str:
    chinese = [a for a in _FIELDS[kind].get(canonical, ()) if not a.isascii()]
    return f"{canonical} ({chinese[0]})" if chinese else canonical


def _lookup(fields: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map the key (see :func:`_key`) of every name and alias to its store column."""
    lookup: dict[str, str] = {}
    for canon, aliases in fields.items():
        for alias in (canon, *aliases):
            lookup.setdefault(_key(alias), canon)
    for canon in fields:  # Shapefile (DBF) field names are cut to 10 characters
        if len(canon) > 10:
            lookup.setdefault(canon[:10], canon)
    return lookup


_LOOKUP = {kind: _lookup(fields) for kind, fields in _FIELDS.items()}


def _polygon_missing(columns: set[str], has_geometry: bool) -> list[str]:
    if has_geometry or "wkt" in columns:
        return []
    return ["a polygon geometry: a GeoJSON/GeoPackage/Shapefile geometry, or a wkt column "
            "(几何) in CSV/Excel"]


def _point_missing(kind: str) -> Callable[[set[str], bool], list[str]]:
    def missing(columns: set[str], has_geometry: bool) -> list[str]:
        if has_geometry or "wkt" in columns:
            return []
        return [_hint(kind, c) for c in ("lon", "lat") if c not in columns]

    return missing


def _grid_missing(columns: set[str], has_geometry: bool) -> list[str]:
    if "grid_code" in columns or has_geometry or {"lon", "lat"} <= columns:
        return []
    return [_hint("activities", "grid_code") + " (or a point to find the grid)"]


# Per kind, what must locate a row besides the required columns: (columns, has geometry)
# → the hints for what is missing.
_LOCATION: dict[str, Callable[[set[str], bool], list[str]]] = {
    "grids": _polygon_missing,
    "requests": _point_missing("requests"),
    "stations": _point_missing("stations"),
    "activities": _grid_missing,
    "units": lambda _columns, _has_geometry: [],  # the outline is optional
}


@dataclass
class Columns:
    """A frame renamed to store columns, plus what the file called them.

    ``missing`` names what a new row would need but the file lacks; it is empty except in a
    file of updates only (``updates_only``), whose rows must all be stored requests.
    """

    frame: pd.DataFrame
    names: dict[str, str]
    geometry: np.ndarray | None  # shapely objects from a vector file
    missing: tuple[str, ...] = ()

    @property
    def updates_only(self) -> bool:
        """True for a requests file that can only update stored requests."""
        return bool(self.missing)

    def has(self, col: str) -> bool:
        """Return True when the file has a column for store column ``col``."""
        return col in self.frame.columns


def _geometry(frame: pd.DataFrame) -> tuple[Hashable | None, np.ndarray | None]:
    """Return the geometry column's name and its shapely objects (None when all missing)."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.active_geometry_name is None:
        return None, None
    geometry = np.asarray(frame.geometry.values, dtype=object)
    if np.all(shapely.is_missing(geometry)):  # e.g. a CSV read by GDAL: use the columns
        return frame.active_geometry_name, None
    return frame.active_geometry_name, geometry


def canonical(frame: pd.DataFrame, kind: str, problems: list[Problem]) -> Columns:
    """Rename columns to store names; warn about unknown ones; check required ones.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`geo.importer.read.read_table`.
    kind : str
        One of :data:`~geo.importer.report.KINDS`.
    problems : list of Problem
        Receives a warning for each column ignored (unknown, repeated or computed).

    Returns
    -------
    Columns
        The text columns under store names (the file's index kept, ``attrs`` cleared).

    Raises
    ------
    ImportFileError
        A required column (or what locates a row) is missing; for requests, unless the
        file is one of updates only (see :data:`UPDATE_COLUMNS`).

    """
    lookup, ignored = _LOOKUP[kind], _IGNORED[kind]
    exported = EXPORT_COMPUTED.get(kind, frozenset())
    geom_name, geometry = _geometry(frame)
    data: dict[str, pd.Series] = {}
    names: dict[str, str] = {}
    for col in frame.columns:
        if col == geom_name:
            continue
        if _key(col) in exported or _key(col) in _REASON_KEYS:
            continue
        canon = lookup.get(_key(col))
        if canon is None:
            problems.append(Problem(None, str(col), None, Reason("column_unknown"),
                                    "warning"))
        elif canon in names:
            problems.append(Problem(None, str(col), None,
                                    Reason("column_repeated", other=repr(names[canon])),
                                    "warning"))
        else:
            names[canon] = str(col)
            if canon in ignored:
                zh, en = ignored[canon]
                problems.append(Problem(None, str(col), None,
                                        Reason("column_computed", what=zh, what_en=en),
                                        "warning"))
            else:
                s = frame[col]
                data[canon] = s if pd.api.types.is_string_dtype(s) else s.astype("str")
    out = pd.DataFrame(data, index=frame.index)
    out.attrs = {}
    present = set(out.columns)
    missing = [_hint(kind, c) for c in _REQUIRED[kind] if c not in present]
    missing += _LOCATION[kind](present, geometry is not None)
    if missing and kind == "requests" and "external_id" in present \
            and present & set(UPDATE_COLUMNS):
        return Columns(out, names, geometry, tuple(missing))
    if missing:
        available = ", ".join(str(c) for c in frame.columns if c != geom_name)
        updates = ("" if kind != "requests" else
                   " (a file of updates to stored requests needs only external_id (编号) and "
                   "what changed: status (状态), updated_at (更新时间), resolved_at, closed_at, "
                   "satisfaction or note)")
        zh_updates = ("" if kind != "requests" else
                      "（更新库中已有诉求的文件只需 编号 和变化的列：状态、更新时间、办结时间、"
                      "关闭时间、满意度或备注）")
        raise ImportFileError(Reason(
            "missing_columns", s="s" if len(missing) > 1 else "", missing="; ".join(missing),
            updates=zh_updates, updates_en=updates, available=available or "no columns"))
    return Columns(out, names, geometry)


def detect_kind(frame: pd.DataFrame) -> str:
    """Guess which kind of data a file holds from its columns and geometry.

    Each kind scores by whether its geometry fits (polygons: grids or admin units; points:
    the others), whether its required columns and location are all there, and how many of
    its columns the file has. Without a clear winner the answer is ``"requests"``, the
    file an admin imports most often.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        From :func:`geo.importer.read.read_table`.

    Returns
    -------
    str
        One of :data:`~geo.importer.report.KINDS`.

    """
    geom_name, geometry = _geometry(frame)
    keys = {_key(c) for c in frame.columns if c != geom_name}
    shapes: set[int] = set()
    if geometry is not None:
        present = ~shapely.is_missing(geometry)
        shapes = {int(t) for t in shapely.get_type_id(geometry[present])}
    elif "wkt" in {_LOOKUP["grids"].get(k) for k in keys}:
        wkt_col = next(c for c in frame.columns if _LOOKUP["grids"].get(_key(c)) == "wkt")
        sample = frame[wkt_col].dropna().astype(str).head(20).tolist()
        parsed = shapely.from_wkt(sample, on_invalid="ignore")
        shapes = {int(t) for t in shapely.get_type_id(parsed) if t >= 0}
    polygons = bool(shapes) and shapes <= {3, 6}
    points = bool(shapes) and shapes <= {0, 4}
    order = ("requests", *[k for k in KINDS if k != "requests"])
    best, best_score = "requests", (False, False, 0, 0)
    for kind in order:
        found = {_LOOKUP[kind][k] for k in keys if k in _LOOKUP[kind]}
        named = found - {"wkt", "lon", "lat", "source_crs"}
        has_geometry = geometry is not None
        complete = (all(c in found for c in _REQUIRED[kind])
                    and not _LOCATION[kind](found, has_geometry))
        fits = (kind in ("grids", "units")) == polygons if (polygons or points) else True
        score = (fits, complete, len(named & set(_REQUIRED[kind])), len(named))
        if score > best_score:
            best, best_score = kind, score
    return best if best_score[1] else "requests"


@dataclass(frozen=True)
class TemplateColumn:
    """One column of a kind's template: what to call it and what else is accepted."""

    name: str  # the canonical (store) name
    title: str  # the Chinese heading the template uses
    aliases: tuple[str, ...]  # every other name accepted
    required: bool
    example: str


def template_columns(kind: str) -> list[TemplateColumn]:
    """Return the columns of ``kind``'s template, from the tables above.

    Computed columns are left out; points are given as lon/lat (a ``wkt`` column is
    accepted too), grid and unit outlines as WKT.
    """
    example = EXAMPLES[kind]
    out = []
    for canon in example:
        aliases = _FIELDS[kind][canon]
        chinese = [a for a in aliases if not a.isascii()]
        title = chinese[0] if chinese else canon
        out.append(TemplateColumn(
            name=canon, title=title,
            aliases=tuple(a for a in (canon, *aliases) if a != title),
            required=canon in _REQUIRED[kind] or (kind == "grids" and canon == "wkt")
            or (kind in ("requests", "stations") and canon in ("lon", "lat")),
            example=example[canon]))
    return out


def template(kind: str) -> pd.DataFrame:
    """Return ``kind``'s template: the Chinese headings and one example row."""
    columns = template_columns(kind)
    return pd.DataFrame([[c.example for c in columns]], columns=[c.title for c in columns])
