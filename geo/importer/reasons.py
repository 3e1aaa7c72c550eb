"""Why a row or a file is refused, in 中文 and English: the reason codes of the import report.

Every :class:`~geo.importer.report.Problem` carries a ``code`` from :data:`REASONS` and the
``params`` that fill its text, besides its English ``reason`` (the CLI's and the log's).
The Data page renders the code in the UI language through its catalogue, which takes these
templates as ``data.reason.<code>``; the CLI renders them with :func:`render`.
A param that is itself a :class:`Reason` (the reason of rows summarised in one line) is
rendered in the same language.
"""

from __future__ import annotations

from typing import Any

#: Reason code -> (中文, English) template.
REASONS: dict[str, tuple[str, str]] = {
    # The whole file
    "file_empty": ("{name}：文件是空的", "{name}: the file is empty{detail_en}"),
    "file_mismatch": ("{name}：扩展名 {suffix} 表示{expected}，但内容是 {found}",
                      "{name}: expected {expected_en} (from the extension {suffix}) but found "
                      "{found}"),
    "file_unsupported": ("{name}：不支持的文件（内容是 {found}）；请使用 CSV、Excel .xlsx、"
                         "GeoJSON、GeoPackage 或压缩的 Shapefile",
                         "{name}: unsupported file: found {found}; expected CSV, Excel .xlsx, "
                         "GeoJSON, GeoPackage or a zipped Shapefile"),
    "unexpected": ("检查文件时出现意外错误（错误编号 {id}），详情已记入服务器日志；"
                   "请把编号告诉管理员",
                   "unexpected error while checking the file (error id {id}); the details are "
                   "in the server log: give the id to your administrator"),
    "header_too_long": ("{name}：第一行超过 {limit} 字节仍未结束，不像表头；请检查文件",
                        "{name}: the first line runs past {limit} bytes without ending: not a "
                        "table header; check the file"),
    "too_many_columns": ("{name}：表头有 {n} 列（最多 {limit} 列）；请检查分隔符或删除多余的列",
                         "{name}: the header has {n} columns (at most {limit}); check the "
                         "separator or remove the extra columns"),
    "excel_too_many_rows": ("{name}：Excel 工作表超过 {limit} 行；更大的文件请另存为 CSV 再导入",
                            "{name}: the Excel sheet has more than {limit} rows; save larger "
                            "files as CSV and import that"),
    "excel_formula_no_value": ("单元格 {cell} 是公式（{formula}），但文件中没有保存计算结果，"
                               "按空值处理；请在 Excel 中打开并保存，或粘贴为数值",
                               "cell {cell} holds a formula ({formula}) with no saved value, "
                               "read as empty; open and save the file in Excel, or paste the "
                               "values"),
    "file_no_rows": ("{name}：文件中没有数据行{detail}",
                     "{name}: no {what}: the file holds no {kind}{detail_en}"),
    "missing_columns": ("缺少必需的列：{missing}{updates}。文件中的列：{available}",
                        "missing required column{s}: {missing}{updates_en}. The file has: "
                        "{available}"),
    # Columns
    "column_unknown": ("未知列，已忽略", "unknown column, ignored"),
    "column_repeated": ("与列 {other} 是同一字段，已忽略", "same field as column {other}; ignored"),
    "column_computed": ("{what}；文件中的值不采用", "{what_en}; the file's values are ignored"),
    "column_export": ("GridMap 导出时计算的列，导入时忽略",
                      "computed by GridMap's export; ignored on import"),
    # Values
    "required": ("缺少必填值", "missing required value"),
    "not_number": ("不是数字", "not a number"),
    "not_integer": ("不是整数", "not a whole number"),
    "negative": ("不能为负数", "must not be negative"),
    "at_least": ("不能小于 {minimum}", "must be at least {minimum}"),
    "vocab": ("不是允许的取值；可选：{allowed}", "unknown {what}; allowed: {allowed}"),
    "not_time": ("不是日期时间（例如 2024-05-01 08:30）",
                 "not a date/time (expected e.g. 2024-05-01 08:30)"),
    "too_long": ("超过 {limit} 个字符", "longer than {limit} characters"),
    "cut": ("超过 {limit} 个字符，已截断", "longer than {limit} characters; cut to {limit}"),
    "duplicate": ("与第 {row} 行重复", "duplicate of row {row}"),
    "duplicate_derived": ("与第 {row} 行重复（时间、地点、类别和描述相同）",
                          "duplicate of row {row} (same time, place, category and description)"),
    "duplicate_activity": ("与第 {row} 行重复（网格、日期、名称、人数和时长相同）",
                           "duplicate of row {row} (same grid, date, title, volunteers and "
                           "hours)"),
    "before_reported": ("{field} 早于上报时间", "{field} is before reported_at"),
    "more_rows": ("另有 {n} 行同样问题未列出：{reason}", "{n} more rows not listed: {reason}"),
    "malformed_line": ("CSV 行格式错误（{detail}），已跳过",
                       "malformed CSV line ({detail}); row skipped"),
    # Points and polygons
    "expected_point": ("应为点，实为 {found}", "expected a point, found a {found}"),
    "expected_point_wkt": ("应为 POINT", "expected a POINT"),
    "expected_polygon": ("应为面，实为 {found}", "expected a polygon, found a {found}"),
    "bad_wkt": ("不是有效的 WKT", "not valid WKT"),
    "empty_geometry": ("几何为空", "empty geometry"),
    "outside_china": ("坐标不在中国境内", "coordinate outside China"),
    "outside_china_converted": ("由 {crs} 转换后坐标不在中国境内",
                                "coordinate outside China after conversion from {crs}"),
    "outside_china_swapped": ("坐标不在中国境内；经纬度是否填反？",
                              "coordinate outside China; lon and lat swapped?"),
    "coordinate_not_finite": ("坐标不是有限的数（NaN 或无穷大）",
                              "a coordinate is not a finite number (NaN or infinity)"),
    "polygon_many_vertices": ("面有 {n} 个顶点（超过 {limit} 个）：地图和导出会很慢，请先简化",
                              "the polygon has {n} vertices (more than {limit}): maps and "
                              "exports will be slow; simplify it first"),
    "polygon_outside_china": ("面不在中国境内", "polygon outside China"),
    "polygon_outside_china_converted": ("由 {crs} 转换后面不在中国境内",
                                        "polygon outside China after conversion from {crs}"),
    "polygon_repaired": ("无效的面已修复（{detail}）", "invalid polygon repaired ({detail})"),
    "polygon_unrepairable": ("无效的面无法修复（{detail}）",
                             "invalid polygon could not be repaired ({detail})"),
    # Grids
    "grid_code_form": ("网格编码应为 15 位数字：12 位社区编码 + 3 位序号",
                       "grid code must be 15 digits: 12-digit community code + 3-digit "
                       "sequence"),
    "grid_code_000": ("网格序号 000 不使用，网格从 001 编号",
                      "grid sequence 000 is not used; grids are numbered from 001"),
    "grid_code_community": ("网格编码不以其社区编码 {community} 开头",
                            "grid code does not start with its community code {community}"),
    "community_code_form": ("社区编码应为 12 位数字", "community code must be 12 digits"),
    "community_unknown": ("社区编码不是已知的社区（行政区划）；网格照常导入",
                          "community code is not a known community (admin unit); grid kept"),
    "no_communities": ("库中没有社区行政区划，未检查社区编码",
                       "no community admin units stored; community codes not checked"),
    "grid_outside_community": ("网格 {grid} 的大部分面积（{share}）不在社区 {community} 范围内",
                               "grid {grid} lies mostly outside its community {community} "
                               "(only {share} inside)"),
    "grid_overlap": ("网格 {grid} 与网格 {other} 重叠 {area}",
                     "grid {grid} overlaps grid {other} by {area}"),
    "grid_overlap_stored": ("网格 {grid} 与库中网格 {other} 重叠 {area}",
                            "grid {grid} overlaps the stored grid {other} by {area}"),
    # Requests and activities
    "outside_grid": ("点不在任何网格内；保留待分派",
                     "point is outside every grid; kept for triage"),
    "outside_grid_activity": ("点不在任何网格内；活动必须属于一个网格",
                              "point is outside every grid; an activity needs a grid"),
    "unknown_grid": ("未知网格：库中没有此网格编码", "unknown grid: no stored grid has this code"),
    "unknown_request": ("未知诉求：库中没有此编号，且文件缺少新建诉求所需的 {missing}",
                        "unknown request: no stored request has this external id, and the "
                        "file lacks {missing} to create one"),
    "before_request": ("早于诉求上报时间（{at}）", "before the request was reported ({at})"),
    "stale": ("比库中状态旧（库中更新于 {at}）；未应用",
              "older than the stored state (updated {at} UTC); not applied"),
    "status_backwards": ("状态不能从 {old} 倒退到 {new}", "cannot move back from {old} to {new}"),
    "rating_needs_value": ("评价状态需要满意度", "a rating needs a satisfaction value"),
    "value_needs_resolved": ("满意度只能给已办结或已评价的诉求",
                             "a satisfaction value needs a resolved or rated request"),
    "flow": ("办理流程不允许：{detail}", "{detail}"),
    # Admin units
    "unit_code_form": ("区划编码应为 6、9 或 12 位数字",
                       "admin unit code must be 6, 9 or 12 digits"),
    "unit_level_code": ("{level}的编码应为 {digits} 位数字",
                        "a {level_en}'s code must be {digits} digits"),
    "unit_parent_unknown": ("上级 {parent} 不在文件中，也不在库中",
                            "parent {parent} is neither in the file nor stored"),
    "unit_parent_level": ("上级 {parent} 的层级（{parent_level}）应高于 {level}",
                          "parent {parent} ({parent_level_en}) must be above a {level_en}"),
    "unit_parent_missing": ("缺少上级编码（只有市级可以没有上级）",
                            "missing parent code (only a city has none)"),
}

#: Admin levels as the reasons name them: level -> (中文, English).
LEVEL_WORDS = {"city": ("市", "city"), "county": ("县（区）", "county"),
               "township": ("乡镇（街道）", "township"), "community": ("社区（村）", "community")}


class Reason(str):
    """A reason's English text that also carries its ``code`` and ``params``.

    Being a ``str``, it goes wherever the English reason always went (messages, sorting,
    counting); :class:`~geo.importer.report.Problem` keeps its code and params apart.
    """

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, /, **params: Any) -> Reason:
        """Build the reason ``code`` filled with ``params`` (English text)."""
        obj = super().__new__(cls, _fill(REASONS[code][1], params, 1))
        obj.code = code
        obj.params = params
        return obj


def _fill(template: str, params: dict[str, Any], lang: int) -> str:
    values = {}
    for key, value in params.items():
        if isinstance(value, Reason):
            value = _fill(REASONS[value.code][lang], value.params, lang)
        elif isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:,}"
        values[key] = value
    return template.format(**values)


def render(code: str | None, params: dict[str, Any], *, lang: str = "en",
           fallback: str = "") -> str:
    """Return the reason ``code`` in ``lang`` ("zh" or "en"); ``fallback`` for no code."""
    if code is None or code not in REASONS:
        return fallback
    return _fill(REASONS[code][0 if lang == "zh" else 1], params, 0 if lang == "zh" else 1)
