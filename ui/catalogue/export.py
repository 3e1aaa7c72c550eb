"""Text of the export page: key -> (中文, English)."""

STRINGS: dict[str, tuple[str, str]] = {
    "export.title": ("数据导出", "Export"),
    "export.intro": ("选择图层、区域、时间和格式，生成可在 QGIS 或 Excel 中打开的文件。导出内容不含"
                     "个人信息"
                     "（反映人姓名和电话、网格长姓名和电话），每次导出都记入审计日志。",
                     "Choose a layer, an area, a time window and a format to make a file for "
                     "QGIS or Excel. Exports carry no personal data (reporters' and grid heads' "
                     "names and phones), and every export is recorded in the audit log."),
    "export.layer": ("图层", "Layer"),
    "export.layer.grids": ("网格（含时段指标）", "Grids (with the window's figures)"),
    "export.layer.requests": ("诉求点位", "Requests (points)"),
    "export.layer.stations": ("警务站点", "Police stations"),
    "export.layer.coverage": ("警务覆盖（按网格）", "Police coverage per grid"),
    "export.layer.coverage_areas": ("警务覆盖范围", "Station coverage areas"),
    "export.layer.hotspots": ("矛盾纠纷热点", "Dispute hotspots"),
    "export.layer.scan_clusters": ("矛盾纠纷聚集区（扫描统计）",
                                   "Dispute clusters (scan statistic)"),
    "export.layer.bulletin": ("月度通报（治理指数）", "Monthly bulletin (governance index)"),
    "export.layer_help.grids": ("每个网格一行：编码、名称、所属社区/乡镇/区县、人口和所选时段的诉求"
                                "指标。",
                                "One row per grid: codes, names, community, township and "
                                "county, residents and the window's request figures."),
    "export.layer_help.requests": ("所选时段内上报的每条诉求一个点（不含反映人信息）。",
                                   "One point per request reported in the window (no "
                                   "reporter details)."),
    "export.layer_help.stations": ("每个派出所、警务站、警务室一个点，含覆盖半径。",
                                   "One point per police station, workstation or room, with "
                                   "its coverage radius."),
    "export.layer_help.coverage": ("每个网格一行：覆盖比例、覆盖人口、最近站点和时段内被覆盖的诉求"
                                   "。",
                                   "One row per grid: covered share and residents, nearest "
                                   "station, the window's covered requests."),
    "export.layer_help.coverage_areas": ("每个站点一个覆盖圆。", "One coverage disc per station."),
    "export.layer_help.hotspots": ("每个网格一行：时段内矛盾纠纷的 Gi* 统计量、p 值和热点类别。",
                                   "One row per grid: Gi* z, p and hotspot class of the "
                                   "window's disputes."),
    "export.hotspots.definition": (
        "与热点页同一定义：Queen 邻接加 {distance} 米距离带，默认近 {days} 天，FDR 校正；"
        "文件中每个网格记录所用邻接（weights）和时段。",
        "The hotspots page's definition: Queen neighbours plus a {distance} m band, the last "
        "{days} days by default, FDR-corrected; each grid in the file records the weights "
        "and window used."),
    "export.layer_help.scan_clusters": (
        "每个聚集区一个面（成员网格的合并）：中心网格、网格数、纠纷数、按人口的期望数、相对风险和"
        "蒙特卡罗 p 值；found 为真表示 p ≤ 0.05。与热点页同一时段。",
        "One polygon per cluster (its grids merged): centre grid, grids, disputes, the number "
        "the residents predict, relative risk and Monte Carlo p; found is true at p ≤ 0.05. "
        "The hotspots page's window."),
    "export.layer_help.bulletin": ("区县、乡镇、社区三级的月度治理指数、排名和各项指标。",
                                   "The month's governance index, rank and indicators of "
                                   "counties, townships and communities."),
    "export.area": ("区域", "Area"),
    "export.area.all": ("全市", "Whole city"),
    "export.area_note": ("默认为左侧栏所选区域。", "Defaults to the area chosen in the sidebar."),
    "export.window": ("时间范围（含首尾两天，北京时间）", "Days (both included, Beijing time)"),
    "export.window.none": ("该图层与时间无关。", "This layer does not depend on time."),
    "export.window.incomplete": ("请选择起止两个日期。", "Choose both the first and the last day."),
    "export.month": ("通报月份", "Bulletin month"),
    "export.month.none": ("数据库中还没有诉求，无法生成月度通报。",
                          "There are no requests yet, so there is no bulletin to export."),
    "export.level": ("层级", "Level"),
    "export.level.all": ("全部三级", "All three levels"),
    "export.format": ("格式", "Format"),
    "export.format.geojson": ("GeoJSON（WGS84，RFC 7946）", "GeoJSON (WGS84, RFC 7946)"),
    "export.format.gpkg": ("GeoPackage（QGIS）", "GeoPackage (QGIS)"),
    "export.format.csv": ("CSV（Excel，UTF-8 带 BOM）", "CSV (Excel, UTF-8 with BOM)"),
    "export.run": ("生成导出文件", "Make the export file"),
    "export.progress": ("正在导出… {pct}", "Exporting… {pct}"),
    "export.done": ("导出完成：{rows} 行。", "Export ready: {rows} rows."),
    "export.repaired": ("{n} 个要素的存储几何无效（如边界自相交），已修复后导出，"
                        "并在 geometry_repaired 字段中标为 true。",
                        "{n} features had an invalid stored geometry (a self-intersecting "
                        "outline, say); they were repaired for the file and marked true in "
                        "the geometry_repaired field."),
    "export.failed": ("导出失败，未生成文件：{reason}", "The export failed; no file was made: {reas"
                                                        "on}"),
    "export.download": ("下载 {name}", "Download {name}"),
    "export.summary.item": ("项目", "Item"),
    "export.summary.value": ("内容", "Value"),
    "export.summary.layer": ("图层", "Layer"),
    "export.summary.rows": ("行数", "Rows"),
    "export.summary.size": ("文件大小", "File size"),
    "export.summary.format": ("格式", "Format"),
    "export.summary.area": ("区域", "Area"),
    "export.summary.window": ("时段", "Window"),
    "export.summary.seconds": ("用时 {s} 秒", "{s} s"),
    "export.summary.no_personal": ("不含个人信息", "no personal data"),
    "export.summary.audit": ("已记入审计日志。", "Recorded in the audit log."),
    "export.summary.empty": ("所选区域和时段内没有数据，文件只有表头。",
                             "Nothing in the chosen area and window: the file holds only its "
                             "header."),
    "export.window.all": ("全部", "all time"),
    "export.window.range": ("{first} 至 {last}", "{first} to {last}"),
    "export.map.label": ("导出范围", "Export area"),
    "export.map.inside": ("在导出范围内", "in the export"),
    "export.legend.inside": ("导出范围内的网格（{n} 个）", "Grids in the export ({n})"),
    "export.legend.outside": ("范围外", "Outside the area"),
    "export.size.kb": ("{n} KB", "{n} KB"),
    "export.size.mb": ("{n} MB", "{n} MB"),
    "export.qgis_hint": ("在 QGIS 中：图层 → 添加图层 → 添加矢量图层，选择下载的文件。CSV 中的面图"
                         "层带 wkt 列，"
                         "用“添加分隔文本图层”读取。",
                         "In QGIS: Layer → Add Layer → Add Vector Layer and pick the file. A "
                         "polygon layer's CSV has a wkt column: read it with Add Delimited Text "
                         "Layer."),
    "export.personal": ("包含个人信息（上报人姓名、电话，网格长联系方式）",
                        "Include personal data (reporters' names and phones, grid heads)"),
    "export.personal_help": ("仅管理员可选；导出会记入审计日志。",
                             "Admins only; the export is written to the audit log."),
    "export.summary.personal": ("含个人信息", "Includes personal data"),
}
