"""Text of the hotspots page: key -> (中文, English)."""

STRINGS: dict[str, tuple[str, str]] = {
    "hot.title": ("矛盾纠纷热点", "Dispute hotspots"),
    "hot.method": ("聚集区：Kulldorff 泊松扫描统计，按居住人口计算预期纠纷数，圆形范围最多含全市 "
                   "{share} 的人口，{reps} 次模拟校正。冷热点：Getis-Ord Gi*，以相邻网格及中心相距 "
                   "{distance} 米以内的网格为邻域，经错误发现率（FDR）校正后分 90%、95%、99% "
                   "置信度。两者均按全市统一计算。",
                   "Clusters: Kulldorff's Poisson scan, disputes expected from residents, "
                   "circles of up to {share} of the city's residents, corrected by {reps} "
                   "simulations. Hot and cold spots: Getis-Ord Gi*, each grid with the grids "
                   "it touches and those within {distance} m, False Discovery Rate corrected, "
                   "at 90, 95 and 99% confidence. Both are computed over the whole city."),
    # Controls
    "hot.window": ("分析时段", "Window"),
    "hot.window.90d": ("近90天", "Last 90 days"),
    "hot.window.180d": ("近180天", "Last 180 days"),
    "hot.window.365d": ("近一年", "Last 12 months"),
    "hot.mode": ("地图内容", "Map shows"),
    "hot.mode.scan": ("纠纷聚集区", "Dispute clusters"),
    "hot.mode.gi": ("冷热点", "Hot and cold spots"),
    "hot.mode.trend": ("趋势分类", "Trends"),
    "hot.density": ("叠加纠纷密度", "Overlay dispute density"),
    # KPI tiles
    "hot.kpi.disputes": ("矛盾纠纷", "Disputes"),
    "hot.kpi.scan": ("纠纷聚集区", "Dispute clusters"),
    "hot.kpi.scan_note": ("共 {grids} 个网格，p ≤ 0.05", "{grids} grids, p ≤ 0.05"),
    "hot.kpi.hot": ("热点网格", "Hot-spot grids"),
    "hot.kpi.hot_note": ("其中 99% 置信 {n} 个", "{n} at 99% confidence"),
    "hot.kpi.cold": ("冷点网格", "Cold-spot grids"),
    "hot.kpi.cold_note": ("纠纷明显偏少的区域", "markedly fewer disputes"),
    "hot.kpi.rising": ("新增或加剧热点", "New or rising hot spots"),
    "hot.kpi.rising_note": ("近{weeks}周：新增、连续、加剧", "last {weeks} weeks: new, "
                            "consecutive, intensifying"),
    "hot.kpi.steady": ("持续或反复热点", "Lasting or recurring"),
    "hot.kpi.steady_note": ("近{weeks}周：持续、零星、振荡", "last {weeks} weeks: persistent, "
                            "sporadic, oscillating"),
    # Messages
    "hot.none.city": ("{window}全市没有矛盾纠纷记录，无法识别热点。",
                      "No disputes were recorded in the city in the window ({window}); there "
                      "are no hot spots to find."),
    "hot.none.area": ("{window}所选区域没有矛盾纠纷记录。",
                      "No disputes were recorded in the chosen area in the window ({window})."),
    # Classes
    "hot.class.cold99": ("冷点 99%", "Cold spot 99%"),
    "hot.class.cold95": ("冷点 95%", "Cold spot 95%"),
    "hot.class.cold90": ("冷点 90%", "Cold spot 90%"),
    "hot.class.none": ("不显著", "Not significant"),
    "hot.class.hot90": ("热点 90%", "Hot spot 90%"),
    "hot.class.hot95": ("热点 95%", "Hot spot 95%"),
    "hot.class.hot99": ("热点 99%", "Hot spot 99%"),
    "hot.legend.excluded": ("未参与分析", "Not analysed"),
    "hot.confidence.1": ("90%", "90%"),
    "hot.confidence.2": ("95%", "95%"),
    "hot.confidence.3": ("99%", "99%"),
    "hot.trend.new": ("新增热点", "New"),
    "hot.trend.consecutive": ("连续热点", "Consecutive"),
    "hot.trend.intensifying": ("加剧热点", "Intensifying"),
    "hot.trend.persistent": ("持续热点", "Persistent"),
    "hot.trend.diminishing": ("减弱热点", "Diminishing"),
    "hot.trend.sporadic": ("零星热点", "Sporadic"),
    "hot.trend.oscillating": ("振荡热点", "Oscillating"),
    "hot.trend.historical": ("历史热点", "Historical"),
    "hot.trend.cold": ("冷点（各类）", "Cold spot (any trend)"),
    "hot.trend.cold_of": ("冷点：{pattern}", "Cold spot: {pattern}"),
    "hot.trend.none": ("无明显模式", "No pattern"),
    # Map
    "hot.map_label.scan": ("纠纷聚集区（{window}，按相对风险）",
                           "Dispute clusters ({window}, by relative risk)"),
    "hot.scan.class.none": ("不在聚集区", "Not in a cluster"),
    "hot.scan.class.rr1": ("相对风险 < 2", "Relative risk < 2"),
    "hot.scan.class.rr2": ("相对风险 2–3", "Relative risk 2–3"),
    "hot.scan.class.rr3": ("相对风险 ≥ 3", "Relative risk ≥ 3"),
    "hot.tip.scan": ("聚集区 第{rank}处 · 相对风险 {rr} · 本网格 {n} 起",
                     "Cluster #{rank} · relative risk {rr} · {n} disputes in this grid"),
    "hot.tip.scan_none": ("不在聚集区 · {n} 起", "Not in a cluster · {n} disputes"),
    "hot.tip.scan_cluster": ("纠纷聚集区 第{rank}处\n中心 {name} {code}，共 {grids} 个网格\n"
                             "{window} {n} 起，按人口预期 {expected} 起\n相对风险 {rr} · p = {p}",
                             "Dispute cluster #{rank}\ncentre {name} {code}, {grids} grids\n"
                             "{n} disputes, {window}; {expected} expected from residents\n"
                             "relative risk {rr} · p = {p}"),
    "hot.map_label.gi": ("冷热点（{window}）", "Hot and cold spots ({window})"),
    "hot.map_label.trend": ("近{weeks}周趋势", "Trend over {weeks} weeks"),
    "hot.tip.gi": ("{cls} · {n} 起 · z = {z}", "{cls} · {n} disputes · z = {z}"),
    "hot.tip.trend": ("{cls} · 近{weeks}周 {n} 起", "{cls} · {n} disputes in {weeks} weeks"),
    "hot.tip.cluster": ("热点片区 第{rank}处\n{name} {code} 等 {grids} 个网格\n{window} {n} 起",
                        "Hot-spot cluster #{rank}\n{name} {code} and around: {grids} grids"
                        "\n{n} disputes, {window}"),
    "hot.legend.marks": ("标记", "Markers"),
    "hot.legend.cluster": ("热点片区（大小表示纠纷数）", "Hot-spot cluster (size: disputes)"),
    "hot.density.legend": ("纠纷密度（起/平方公里）", "Dispute density (per km²)"),
    "hot.density.none": ("所选时段没有带坐标的矛盾纠纷，无法生成密度图。",
                         "No dispute with coordinates in the window: no density surface."),
    # Table
    "hot.table.title": ("热点网格", "Hot-spot grids"),
    "hot.table.none": ("所选区域和时段内没有达到显著水平的热点网格。",
                       "No grid in the area is a significant hot spot in this window."),
    "hot.table.note": ("共 {n} 个热点网格，显示 {shown} 个；按置信度和 z 值排序。",
                       "{n} hot-spot grids, {shown} shown; strongest first."),
    "hot.scan.title": ("扫描统计聚集区", "Scan-statistic clusters"),
    "hot.scan.computing": ("正在计算扫描统计（{reps} 次模拟）…",
                           "Running the scan statistic ({reps} simulations)…"),
    "hot.scan.none": ("扫描统计在所选区域和时段内没有找到 p ≤ 0.05 的聚集区。",
                      "The scan statistic found no cluster at p ≤ 0.05 in the area and window."),
    "hot.scan.meaning": (
        "“95% 热点”：该网格和邻居的纠纷数在随机分布下很少出现（已做多重比较校正）。扫描统计聚集区："
        "在所有圆形网格组合中，纠纷数比居住人口预期多得最离谱的一片，用 {reps} 次模拟一次性校正。"
        "两者都只说明“多得不寻常”，不说明原因；件数很少时，一两起纠纷就能改变结果。",
        "“Hot at 95 %”: a grid and its neighbours hold more disputes than chance would often "
        "give (corrected for testing every grid). A scan cluster: of all circles of grids, "
        "the one with the most unusual excess over what its residents predict, corrected once "
        "by {reps} simulations. Both say “unusually many”, not why; with few disputes, one or "
        "two can change the result."),
    "hot.scan.col.centre": ("中心网格", "Centre grid"),
    "hot.scan.col.grids": ("网格数", "Grids"),
    "hot.scan.col.expected": ("按人口预期", "Expected from residents"),
    "hot.scan.col.rr": ("相对风险", "Relative risk"),
    "hot.scan.col.p": ("p 值", "p-value"),
    "hot.legend.scan_scan": ("聚集区中心（大小表示纠纷数）与边界",
                             "Cluster centre (size: disputes) and outline"),
    "hot.legend.scan_gi": ("纠纷聚集区边界（扫描统计，p ≤ 0.05）",
                           "Dispute cluster outline (scan statistic, p ≤ 0.05)"),
    "hot.col.disputes": ("纠纷数", "Disputes"),
    "hot.col.z": ("z 值", "z-score"),
    "hot.col.confidence": ("置信度", "Confidence"),
    "hot.col.trend": ("近{weeks}周趋势", "Trend, {weeks} weeks"),
}
