"""Text of the bulletin page: key -> (中文, English)."""

STRINGS: dict[str, tuple[str, str]] = {
    "bulletin.title": ("月度通报", "Monthly bulletin"),
    "bulletin.heading": ("{area}基层治理指数 · {month}", "Governance index, {area} · {month}"),
    "bulletin.intro": ("每月按七项指标对区县、乡镇（街道）、社区（村）分级评分排名（城乡社群动态）"
                       "，"
                       "并与上月比较。",
                       "Each month counties, townships and communities are scored on seven "
                       "indicators, ranked against their peers and compared with last month."),
    "bulletin.month": ("月份", "Month"),
    "bulletin.month_label": ("{year}年{month}月", "{name} {year}"),
    "bulletin.level": ("层级", "Level"),
    "bulletin.no_months": ("数据库中还没有诉求，暂无月度通报。",
                           "There are no requests yet, so there is no bulletin."),
    "bulletin.no_units": ("所选区域在该层级没有参与排名的单位。",
                          "The chosen area has no ranked units at this level."),
    "bulletin.area_note": ("排名为全市同级单位中的名次；下表只列出{area}范围内的单位。",
                           "Ranks are among all peers in the city; the table lists the units "
                           "in {area} only."),
    "bulletin.in_progress": ("{month}尚未结束，数据截至目前，排名可能变化。",
                             "{month} is not over: figures are up to now and may change."),
    # KPI tiles
    "bulletin.kpi.units": ("参评单位", "Units ranked"),
    "bulletin.kpi.top": ("第一名", "First"),
    "bulletin.kpi.median": ("得分中位数", "Median score"),
    "bulletin.kpi.up": ("名次上升", "Moved up"),
    "bulletin.kpi.down": ("名次下降", "Moved down"),
    "bulletin.kpi.of_city": ("全市共 {n} 个", "{n} in the city"),
    "bulletin.kpi.vs_last": ("与上月相比", "against last month"),
    "bulletin.kpi.own": ("本单位排名", "Your unit's rank"),
    "bulletin.kpi.own_rank": ("第 {rank} 名 / {n}", "{rank} of {n}"),
    "bulletin.kpi.own_note": ("{unit} · 全市同级 {n} 个单位排名", "{unit} · {n} units ranked"),
    "bulletin.kpi.best_in_area": ("本区域最佳", "Best in the area"),
    "bulletin.kpi.best_note": ("第 {rank} 名 / {n} · {score} 分", "rank {rank} of {n} · {score}"),
    "bulletin.kpi.small_units": ("样本不足 {n} 个", "small sample: {n}"),
    "bulletin.small_sample": ("样本不足", "small sample"),
    "bulletin.col.sample": ("样本 n（应办结）", "n (requests due)"),
    "bulletin.method.shrink": (
        "比率按样本量向上级单位收缩后计分：(k + m·p) ÷ (n + m)，p 为上级比率，m 由同级数据估计"
        "（经验贝叶斯）；表中为原始比率。应办结不足 {n} 件的单位标“样本不足”，列出但不参与排名。",
        "Rates are scored shrunk toward the parent unit's: (k + m·p) ÷ (n + m), p the parent's "
        "rate, m estimated from the peers (empirical Bayes); the table shows the observed rates. "
        "Units with fewer than {n} requests due are marked “small sample”: listed, not ranked."),
    # Top and bottom
    "bulletin.top": ("前五名", "Top five"),
    "bulletin.bottom": ("后五名", "Bottom five"),
    "bulletin.ranking": ("{level}排名", "{level} ranking"),
    # Columns
    "bulletin.col.rank": ("排名", "Rank"),
    "bulletin.col.name": ("名称", "Name"),
    "bulletin.col.code": ("代码", "Code"),
    "bulletin.col.parent": ("上级", "Part of"),
    "bulletin.col.score": ("综合得分", "Score"),
    "bulletin.col.score_change": ("得分变化", "Score change"),
    "bulletin.col.rank_change": ("排名变化", "Rank change"),
    "bulletin.col.rank_prev": ("上月排名", "Last month"),
    "bulletin.col.population": ("常住人口", "Residents"),
    "bulletin.col.requests": ("诉求", "Requests"),
    "bulletin.col.best": ("最优指标", "Best indicator"),
    "bulletin.col.worst": ("最弱指标", "Weakest indicator"),
    "bulletin.col.escalations_overdue": ("超期督办", "Became overdue"),
    "bulletin.col.escalations_long_overdue": ("严重超期", "Became long overdue"),
    "bulletin.kpi.escalations": ("当月超期督办", "Became overdue this month"),
    "bulletin.kpi.long_overdue": ("严重超期 {n}", "long overdue: {n}"),
    "bulletin.col.supervised": ("督办件数", "Supervised"),
    "bulletin.col.supervised_on_time_rate": ("督办按期率", "Supervised on time"),
    "bulletin.col.returns": ("回退次数", "Returns"),
    "bulletin.kpi.supervised": ("当月督办", "Supervised this month"),
    "bulletin.kpi.supervised_note": ("按期 {rate} · 回退 {returns} 次",
                                     "on time {rate} · {returns} returns"),
    "bulletin.method.supervision": (
        "督办件数：当月首次被督办的诉求数；"
        "督办按期率 = 其中按期办结数 ÷ 应办结数（已到期或已办结），"
        "应办结不足 {n} 件时只列“（按期/应办结）”件数，不折算百分比；回退次数：当月回退的次数。"
        "三项与超期督办一样只列示，不计入得分。",
        "Supervised: requests first urged (督办) in the month; supervised on time = of them, "
        "resolved by the deadline ÷ due (past the deadline or resolved), shown as "
        "\"(on time/due)\" rather than a percentage when fewer than {n} are due; returns: "
        "requests sent back (回退) in the month. Like the escalations, listed, not scored."),
    "bulletin.change.up": ("↑{n}", "↑{n}"),
    "bulletin.change.down": ("↓{n}", "↓{n}"),
    "bulletin.change.same": ("持平", "same"),
    # Indicators (geo.bulletin.INDICATORS)
    "bulletin.ind.resolution_rate": ("办结率", "Resolution rate"),
    "bulletin.ind.on_time_rate": ("按期办结率", "On-time rate"),
    "bulletin.ind.satisfaction_rate": ("满意率", "Satisfaction"),
    "bulletin.ind.dispute_resolution_rate": ("矛盾纠纷化解率", "Disputes resolved"),
    "bulletin.ind.requests_per_1k": ("每千人诉求量", "Requests per 1,000"),
    "bulletin.ind.wechat_coverage": ("微信群覆盖率", "WeChat coverage"),
    "bulletin.ind.volunteer_hours_per_1k": ("每千人志愿服务时长", "Volunteer hours per 1,000"),
    "bulletin.ind.note.requests_per_1k": ("越低越好", "lower is better"),
    # Map
    "bulletin.map_label": ("{level}综合得分", "{level} score"),
    "bulletin.map_value": ("{unit}：{score} 分，第 {rank} 名", "{unit}: {score}, rank {rank}"),
    "bulletin.map_value.unranked": ("{unit}：无得分", "{unit}: no score"),
    "bulletin.map_value.small": ("{unit}：{score} 分，样本不足，不排名",
                                 "{unit}: {score}, small sample, not ranked"),
    "bulletin.legend": ("综合得分（五等分）", "Score (quintiles)"),
    # Method
    "bulletin.method": ("指标与权重", "Indicators and weights"),
    "bulletin.method.indicator": ("指标", "Indicator"),
    "bulletin.method.weight": ("权重", "Weight"),
    "bulletin.method.direction": ("方向", "Direction"),
    "bulletin.method.higher": ("越高越好", "higher is better"),
    "bulletin.method.lower": ("越低越好", "lower is better"),
    "bulletin.method.text": ("各指标在同级单位间按最小—最大值折算为 0–100 分，综合得分为加权平均；"
                             "缺少数据的指标不计分，"
                             "其权重按比例分给其余指标。排名变化 = 上月名次 − 本月名次（↑ 表示上升"
                             "）；得分变化为与上月"
                             "综合得分之差。“—”表示无数据。",
                             "Each indicator is scaled 0–100 between the best and the worst peer; "
                             "the score is the weighted mean. A missing indicator is left out and "
                             "its weight shared among the others. Rank change = last month's rank "
                             "− this month's (↑ means up); score change is the difference from "
                             "last month's score. “—” means no data."),
    "bulletin.download": ("下载通报表（CSV，三级全部）", "Download the bulletin (CSV, all three lev"
                                                         "els)"),
    "bulletin.download_note": ("CSV 为通报的中文格式，可直接用 Excel 打开。",
                               "The CSV is the bulletin's official Chinese table; Excel opens "
                               "it directly."),
}
