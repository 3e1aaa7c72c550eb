"""Text of the detail page: key -> (中文, English)."""

STRINGS: dict[str, tuple[str, str]] = {
    # Header and prompt
    "detail.title": ("网格详情", "Grid detail"),
    "detail.code": ("网格编码 {code}", "Grid code {code}"),
    "detail.as_of": ("数据截至 {time}", "Data as of {time}"),
    "detail.prompt": ("点击地图上的网格，或在左侧“查找网格”中输入网格编码或名称，"
                      "查看该网格的详情。",
                      "Click a grid on the map, or enter a grid code or name in “Find a grid” "
                      "in the sidebar, to see that grid in detail."),
    "detail.prompt.map_label": ("近30天诉求", "Requests, last 30 days"),
    "detail.did_you_mean": ("您是否要找：", "Did you mean:"),
    # KPI tiles
    "detail.kpi.requests": ("近30天诉求", "Requests, 30 days"),
    "detail.kpi.per_1k": ("每千人 {value}", "{value} per 1,000 residents"),
    "detail.kpi.disputes": ("近30天矛盾纠纷", "Disputes, 30 days"),
    "detail.kpi.vs_prev": ("较前30天 {change}", "{change} on the 30 days before"),
    "detail.kpi.backlog_before": ("30天前 {value}", "{value} 30 days ago"),
    "detail.kpi.disputes_open": ("未化解 {n}", "{n} open"),
    "detail.kpi.note": ("诉求数、办结率、按期办结率、满意率按近30天上报的诉求计算，与前30天比较；"
                        "未办结、已超期为当前积压，与30天前比较。",
                        "Requests and the rates cover requests reported in the last 30 days, "
                        "against the 30 days before; open and overdue are today's backlog, "
                        "against the backlog 30 days ago."),
    # Map
    "detail.map.colour_by": ("诉求点颜色", "Colour points by"),
    "detail.map.colour_by.state": ("办理状态", "Status"),
    "detail.map.colour_by.severity": ("紧急程度", "Severity"),
    "detail.map.grid_label": ("近30天诉求", "Requests, last 30 days"),
    "detail.map.grid_legend": ("本网格及相邻网格：近30天诉求", "This grid and its neighbours: "
                               "requests, last 30 days"),
    "detail.map.points_legend": ("诉求点", "Request points"),
    "detail.map.stations_legend": ("附近警务站点", "Nearest police posts"),
    "detail.map.points_note": ("地图上的点：近{weeks}周上报的诉求和全部未办结诉求，共 {n} 条。",
                               "Points: requests reported in the last {weeks} weeks and every "
                               "open request, {n} in all."),
    "detail.map.points_capped": ("地图上的点：近{weeks}周上报的诉求和全部未办结诉求中"
                                 "最新的 {n} 条。",
                                 "Points: the newest {n} of the requests reported in the last "
                                 "{weeks} weeks and the open ones."),
    "detail.map.no_points": ("近{weeks}周没有诉求，也没有未办结诉求。",
                             "No requests in the last {weeks} weeks and none open."),
    "detail.map.spot": ("此处 {n} 条诉求", "{n} requests here"),
    "detail.map.more": ("……另有 {n} 条", "… and {n} more"),
    "detail.map.click_hint": ("点击相邻网格可切换到该网格；浏览器“后退”返回上一个网格。",
                              "Click a neighbouring grid to open it; the browser's Back button "
                              "returns."),
    "detail.state.closed": ("已办结", "Closed"),
    "detail.state.open": ("未办结", "Open"),
    "detail.state.overdue": ("已超期", "Overdue"),
    # Profile
    "detail.profile": ("网格概况", "About this grid"),
    "detail.head": ("网格长", "Grid head"),
    "detail.head.none": ("未登记", "Not recorded"),
    "detail.population": ("常住人口", "Residents"),
    "detail.households": ("户数", "Households"),
    "detail.area": ("面积", "Area"),
    "detail.area.value": ("{km2} 平方公里", "{km2} km²"),
    "detail.people": ("{n} 人", "{n}"),
    "detail.households.value": ("{n} 户", "{n}"),
    "detail.wechat": ("微信群", "WeChat groups"),
    "detail.wechat.value": ("{groups} 个群，{members} 人", "{groups} (members: {members})"),
    "detail.wechat_coverage": ("微信群覆盖率", "WeChat coverage"),
    "detail.wechat_coverage.help": ("群成员 ÷ 常住人口", "members ÷ residents"),
    "detail.volunteers": ("志愿者", "Volunteers"),
    "detail.volunteers.value": ("登记 {n} 人", "{n} registered"),
    "detail.volunteer_activity": ("近{days}天志愿活动", "Volunteering, last {days} days"),
    "detail.volunteer_activity.value": ("{n} 次，{hours} 人时，{points} 积分",
                                        "activities: {n}; person-hours: {hours}; "
                                        "points: {points}"),
    "detail.volunteer_list": ("近{days}天志愿活动明细", "Volunteer activities, last {days} days"),
    "detail.volunteer_none": ("近{days}天没有志愿活动记录。",
                              "No volunteer activity in the last {days} days."),
    "detail.col.date": ("日期", "Date"),
    "detail.col.reporter": ("上报人", "Reporter"),
    "detail.col.activity": ("活动", "Activity"),
    "detail.col.volunteers": ("人数", "Volunteers"),
    "detail.col.hours": ("时长（小时）", "Hours"),
    "detail.col.points": ("积分", "Points"),
    "detail.neighbours": ("相邻网格（{n}）", "Neighbouring grids ({n})"),
    # Stations
    "detail.stations": ("附近警务站点", "Nearest police posts"),
    "detail.stations.none": ("还没有登记警务站点。", "No police posts are recorded yet."),
    "detail.stations.covered": ("本网格 {share} 的面积在警务站点覆盖范围内。",
                                "{share} of this grid lies within a police post's coverage."),
    "detail.stations.uncovered": ("本网格仅 {share} 的面积在警务站点覆盖范围内，属于覆盖盲区。",
                                  "Only {share} of this grid lies within a police post's "
                                  "coverage: it is a coverage gap."),
    "detail.stations.reaches": ("覆盖本网格 {share}", "covers {share} of the grid"),
    "detail.stations.outside": ("未覆盖（半径 {radius}）", "does not reach (radius {radius})"),
    "detail.stations.note": ("距离为直线距离，从网格内代表点量起。",
                             "Straight-line distance from a point inside the grid."),
    # Open requests
    "detail.open": ("未办结诉求（{n}）", "Open requests ({n})"),
    "detail.open.none": ("本网格目前没有未办结诉求。", "This grid has no open requests."),
    "detail.col.reported": ("上报时间", "Reported"),
    "detail.col.age": ("已过", "Age"),
    "detail.col.due": ("办理时限", "Deadline"),
    "detail.col.level": ("督办级别", "Escalation"),
    "detail.col.deadline": ("时限状态", "Time left"),
    # Breakdowns and trend
    "detail.breakdowns": ("诉求构成（近{weeks}周）", "Requests by kind (last {weeks} weeks)"),
    "detail.by.category": ("按类别", "By category"),
    "detail.by.severity": ("按紧急程度", "By severity"),
    "detail.by.route": ("按解决渠道", "By route"),
    "detail.unset": ("未填写", "Not given"),
    "detail.trend": ("近{weeks}周诉求趋势", "Requests per week, last {weeks} weeks"),
    "detail.trend.week": ("周（起始日）", "Week starting"),
    "detail.trend.other": ("其他诉求", "Other requests"),
    "detail.count": ("件数", "Requests"),
}
