"""Text of the coverage page: key -> (中文, English)."""

STRINGS: dict[str, tuple[str, str]] = {
    "cov.title": ("警务覆盖", "Police coverage"),
    "cov.model": ("按直线半径计算覆盖范围：派出所 {station}、警务站 {workstation}、警务室 {room}"
                  "（单站另有设置的以其为准）；居民按网格内均匀分布估算。",
                  "Coverage is a straight-line radius: police station {station}, workstation "
                  "{workstation}, community police room {room} (unless a station sets its "
                  "own); residents are taken as spread evenly over their grid."),
    # Controls
    "cov.figure": ("地图指标", "Map figure"),
    "cov.figure.share": ("覆盖比例", "Share covered"),
    "cov.figure.uncovered": ("未覆盖人口", "Residents not covered"),
    "cov.figure.distance": ("最近警务点距离", "Distance to nearest station"),
    "cov.show_areas": ("显示覆盖范围", "Show coverage areas"),
    "cov.sites_n": ("建议新增警务站（处）", "Suggest new workstations"),
    "cov.sites_help": ("按贪心最大覆盖法，在网格中选出新增覆盖最多的"
                       "警务站站址（覆盖半径 {radius}）。",
                       "Greedy maximal covering: the grid sites where a new workstation "
                       "(radius {radius}) would cover the most that is not covered yet."),
    "cov.weight": ("新站点优先覆盖", "New sites should reach"),
    "cov.weight.population": ("未覆盖人口", "Residents not covered"),
    "cov.weight.requests": ("未覆盖诉求（近一年）", "Requests not covered (last year)"),
    "cov.weight.unit.population": ("人", "residents"),
    "cov.weight.unit.requests": ("件", "requests"),
    # KPI tiles
    "cov.officers": ("民警 {n} 人", "{n} officers"),
    "cov.kpi.covered_share": ("人口覆盖率", "Residents covered"),
    "cov.kpi.covered_note": ("{covered} / {total} 人", "{covered} of {total}"),
    "cov.kpi.uncovered": ("未覆盖网格", "Uncovered grids"),
    "cov.kpi.uncovered_note": ("共 {n} 个网格；覆盖不足一半即计入",
                               "of {n}; less than half covered"),
    "cov.kpi.median_distance": ("最近警务点距离中位数", "Median distance to a station"),
    "cov.kpi.median_note": ("网格到最近警务点的直线距离", "grid to nearest station, straight line"),
    # Map
    "cov.people": ("{n} 人", "{n} residents"),
    "cov.tip.officers": ("民警 {n} 人", "{n} officers"),
    "cov.tip.radius": ("覆盖半径 {r}", "Coverage radius {r}"),
    "cov.tip.site": ("建议新站点 第{rank}处\n{name} {code}\n新增覆盖 {gain} {unit}",
                     "Suggested site #{rank}\n{name} {code}\nAdds {gain} {unit}"),
    "cov.legend.stations": ("警务点", "Stations"),
    "cov.legend.site": ("建议新站点", "Suggested site"),
    "cov.no_stations": ("尚未导入派出所、警务站或警务室，所有网格均显示为未覆盖。",
                        "No police stations are loaded, so every grid shows as uncovered."),
    "cov.no_stations.import": ("在“数据管理”页导入警务站点", "Import stations on the Data page"),
    "cov.nearest": ("{name}（{kind}）", "{name} ({kind})"),
    # Uncovered grids
    "cov.uncovered.title": ("未覆盖网格（按未覆盖人口排序）",
                            "Uncovered grids (most residents not covered first)"),
    "cov.uncovered.none": ("所选区域内所有网格均已覆盖。", "Every grid in the area is covered."),
    "cov.uncovered.note": ("共 {n} 个未覆盖网格。", "{n} uncovered grids."),
    "cov.uncovered.note_cut": ("共 {n} 个未覆盖网格，显示前 {shown} 个。",
                               "{n} uncovered grids; the first {shown} are shown."),
    "cov.uncovered.export": ("在“数据导出”页导出完整名单（警务覆盖图层）",
                             "Export the full list on the Export page (police coverage layer)"),
    "cov.col.uncovered_pop": ("未覆盖人口", "Not covered"),
    "cov.col.share": ("覆盖比例", "Share covered"),
    "cov.col.distance": ("最近警务点距离", "Nearest station"),
    "cov.col.nearest": ("最近警务点", "Nearest station name"),
    # Suggested sites
    "cov.sites.title": ("建议新增警务站站址", "Suggested workstation sites"),
    "cov.sites.zero": ("在上方填写要建议的站点数量。", "Enter how many sites to suggest above."),
    "cov.sites.none": ("所选区域已无可新增覆盖的对象，无需新增站点。",
                       "Nothing in the area is left uncovered: no new site would add coverage."),
    "cov.sites.fewer": ("只找到 {n} 处能增加覆盖的站址。",
                        "Only {n} sites add any coverage."),
    "cov.sites.effect.population": ("新增 {n} 处后，人口覆盖率由 {before} 提高到 {after}。",
                                    "With these {n} sites, residents covered rise from "
                                    "{before} to {after}."),
    "cov.sites.effect.requests": ("新增 {n} 处后，近一年诉求覆盖率由 {before} 提高到 {after}。",
                                  "With these {n} sites, last year's requests covered rise "
                                  "from {before} to {after}."),
    "cov.col.rank": ("序号", "Rank"),
    "cov.col.gain": ("新增覆盖（{unit}）", "Adds ({unit})"),
    "cov.col.cumulative": ("累计新增（{unit}）", "Cumulative ({unit})"),
    "cov.col.grids_reached": ("覆盖网格数", "Grids reached"),
}
