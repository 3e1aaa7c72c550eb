"""The domain vocabulary: request categories, severities, routes, statuses, sources, station kinds.

Codes are stable English identifiers stored in the database. Each carries its Chinese name so
that imports can accept either form (real exports from mini-programs and hotline systems use
the Chinese words). Display text for the UI lives in the ui text catalogue, not here.
"""

from __future__ import annotations

from datetime import timedelta

#: Request categories (Open311 "services"): code -> Chinese name.
CATEGORIES: dict[str, str] = {
    "dispute": "矛盾纠纷",
    "road": "道路交通",
    "sanitation": "环境卫生",
    "public_order": "治安防范",
    "utilities": "水电气暖",
    "property": "房屋物业",
    "greenery": "园林绿化",
    "noise": "噪声扰民",
    "welfare": "民生救助",
    "paperwork": "证照办理",
    "safety": "安全隐患",
    "other": "其他",
}

#: Categories whose residents' text is about public space (a broken street light, litter, a
#: fallen tree): a public Open311 feed (GRIDMAP_PUBLIC_FEED) carries their description. The
#: others (disputes, police matters, welfare, a resident's home) never go out in public.
PUBLIC_CATEGORIES: frozenset[str] = frozenset({"road", "sanitation", "greenery"})

#: Beihai's three severity tiers: code -> (Chinese name, nominal span in calendar time).
#: The span is only the demo's and simulator's model of how long handling takes; a
#: request's deadline is set in working time by geo.deadlines (the site's policy).
SEVERITIES: dict[str, tuple[str, timedelta]] = {
    "routine": ("操心事", timedelta(days=7)),
    "pressing": ("烦心事", timedelta(days=3)),
    "urgent": ("揪心事", timedelta(hours=24)),
}

#: Who should solve a request.
ROUTES: dict[str, str] = {
    "government": "政府解决类",
    "market": "市场解决类",
    "charity": "爱心救助类",
}

#: Routes whose requests 解忧联盟 members may claim (Beihai's market and charity cards).
CLAIMABLE_ROUTES = ("market", "charity")

#: Kinds of 解忧联盟 member: code -> Chinese name.
MEMBER_KINDS: dict[str, str] = {
    "unit": "单位",
    "ngo": "社会组织",
    "shop": "商户",
}

#: The request flow, in order. Every transition is kept as a request_event row.
STATUSES: dict[str, str] = {
    "reported": "上报",
    "accepted": "受理",
    "dispatched": "派遣",
    "in_progress": "处置",
    "resolved": "办结",
    "rated": "评价",
}
#: Statuses after which a request no longer counts as open.
CLOSED_STATUSES = frozenset({"resolved", "rated"})

#: Where a request came from.
SOURCES: dict[str, str] = {
    "miniprogram": "小程序",
    "hotline": "热线",
    "patrol": "网格巡查",
    "police": "公安推送",
    "volunteer": "志愿者",
    "walk_in": "来访",
}

#: The resident's rating. The first two count as satisfied for the satisfaction rate.
SATISFACTION: dict[str, str] = {
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
}
SATISFIED = frozenset({"satisfied", "basically_satisfied"})

#: Station kinds: code -> (Chinese name, default coverage radius in metres).
STATION_KINDS: dict[str, tuple[str, float]] = {
    "station": ("派出所", 3000.0),
    "workstation": ("警务站", 1000.0),
    "room": ("警务室", 500.0),
}

#: Admin levels from the top down.
ADMIN_LEVELS = ("city", "county", "township", "community")


def _names(table: dict) -> dict[str, str]:
    return {code: (v[0] if isinstance(v, tuple) else v) for code, v in table.items()}


def lookup(table: dict, value: object) -> str | None:
    """Return the code for a value given either as a code or as its Chinese name.

    Parameters
    ----------
    table : dict
        One of the vocabularies in this module.
    value : object
        The raw cell from an import file; surrounding white space is ignored and codes are
        matched case-insensitively.

    Returns
    -------
    str or None
        The code, or None when the value is neither a known code nor a known name.

    """
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in table:
        return text.lower()
    for code, name in _names(table).items():
        if text == name:
            return code
    return None
