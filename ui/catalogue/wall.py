"""Text of the command wall: key -> (中文, English)."""

STRINGS: dict[str, tuple[str, str]] = {
    "wall.title": ("指挥大屏", "Command wall"),
    "wall.as_of": ("更新于 {time}", "Updated {time}"),
    "wall.measure": ("热力指标", "Heat measure"),
    "wall.measure.count": ("诉求数", "Requests"),
    "wall.measure.per_1k": ("每千人诉求", "Per 1,000 residents"),
    "wall.map_label.count": ("{window}诉求", "Requests, {window}"),
    "wall.map_label.per_1k": ("{window}每千人诉求", "Requests per 1,000, {window}"),
    "wall.ticker": ("最新揪心事与新超期（未办结）", "New urgent and newly overdue (open)"),
    "wall.ticker.none": ("目前没有未办结的揪心事或新超期诉求。",
                         "No open urgent or newly overdue requests."),
    "wall.newly_overdue": ("新超期", "Newly overdue"),
    "wall.newly_note": ("仍未办结", "still open"),
    "wall.rates_note": ("近30天", "last 30 days"),
    "wall.backlog_note": ("全部积压", "whole backlog"),
    "wall.rotating": ("轮播：{name}", "Rotating: {name}"),
    "wall.deadline": ("时限 {time}", "due {time}"),
    # What the actions make measurable (geo.wall.supervision)
    "kpi.supervised_open": ("督办在办", "Supervised, open"),
    "kpi.supervised_on_time": ("督办按期率", "Supervised on time"),
    "wall.supervised_note": ("近30天督办 {n} 件", "{n} urged, last 30 days"),
    "wall.small_sample": ("近30天 · 不足{n}件不计比率", "last 30 days · under {n}, no rate"),
    "wall.claims": ("解忧联盟认领率 {rate}（近30天 {claimed}/{claimable} 张）",
                    "Alliance claim rate {rate} ({claimed} of {claimable} cards, 30 days)"),
}
