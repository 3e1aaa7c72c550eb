"""Text, numbers and times as the user reads them: 中文 first, English on the switch.

Every label comes from the catalogue (:mod:`ui.catalogue`) through :func:`t`. Numbers are
grouped (12,345) and rates shown as percentages with one decimal (98.9%) in both languages,
as Chinese official statistics print them; a missing figure is an em dash, never "nan".
Times are shown in Asia/Shanghai whatever the server's zone.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache

import pandas as pd
import streamlit as st

from geo import clock
from ui.catalogue import load

#: Languages in switch order; the first is the default.
LANGS = ("zh", "en")
LANG_NAMES = {"zh": "中文", "en": "English"}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, tuple[str, str]]:
    """The merged text table (loaded once per process)."""
    return load()


def lang() -> str:
    """The session's language code ("zh" unless the user switched)."""
    value = st.session_state.get("lang", LANGS[0])
    return value if value in LANGS else LANGS[0]


def t(key: str, /, **values: object) -> str:
    """Return the catalogue text for ``key`` in the session's language, filled with values.

    A missing key raises KeyError: tests catch it, rather than a user seeing a raw key.
    """
    pair = catalogue()[key]
    text = pair[LANGS.index(lang())]
    return text.format(**values) if values else text


def vocab(kind: str, code: object) -> str:
    """Display name of a vocabulary code (``vocab("category", "dispute")`` → 矛盾纠纷)."""
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return t("msg.no_data_value")
    key = f"{kind}.{code}"
    return t(key) if key in catalogue() else str(code)


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def count(value: object) -> str:
    """12,345 (an em dash when missing)."""
    if _missing(value):
        return t("msg.no_data_value")
    return f"{int(round(float(value))):,}"


def number(value: object, *, digits: int = 1) -> str:
    """1,234.5 (an em dash when missing)."""
    if _missing(value):
        return t("msg.no_data_value")
    return f"{float(value):,.{digits}f}"


def rate(value: object, *, digits: int = 1) -> str:
    """A fraction as a percentage: 0.989 → 98.9% (an em dash when missing)."""
    if _missing(value):
        return t("msg.no_data_value")
    return f"{float(value) * 100:.{digits}f}%"


def points(value: object, *, digits: int = 1) -> str:
    """A change in fraction points as signed percentage points: +1.2 pp / +1.2个百分点."""
    if _missing(value):
        return t("msg.no_data_value")
    pp = float(value) * 100
    return f"{pp:+.{digits}f}" + ("个百分点" if lang() == "zh" else " pp")


def distance(metres: object) -> str:
    """850 米 / 1.2 公里 (850 m / 1.2 km)."""
    if _missing(metres):
        return t("msg.no_data_value")
    m = float(metres)
    if m < 1000:
        return f"{m:,.0f} {t('unit.m')}"
    return f"{m / 1000:,.1f} {t('unit.km')}"


def local(moment: object) -> pd.Timestamp | None:
    """A stored naive-UTC (or aware) time as an aware Asia/Shanghai timestamp."""
    return clock.aware_local(moment)


def when(moment: object, *, seconds: bool = False) -> str:
    """2026-11-24 15:30 in Asia/Shanghai (an em dash when missing)."""
    ts = local(moment)
    if ts is None:
        return t("msg.no_data_value")
    return ts.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def short_when(moment: object) -> str:
    """11-24 15:30 in Asia/Shanghai."""
    ts = local(moment)
    return t("msg.no_data_value") if ts is None else ts.strftime("%m-%d %H:%M")


def age(moment: object, *, now: datetime) -> str:
    """How long ago, in the largest whole unit: 5 分钟前 / 3 小时前 / 2 天前."""
    ts = local(moment)
    if ts is None:
        return t("msg.no_data_value")
    current = pd.Timestamp(now)
    current = current.tz_localize("UTC") if current.tzinfo is None else current
    delta = current - ts
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return t("time.ago.minutes", n=minutes)
    if minutes < 48 * 60:
        return t("time.ago.hours", n=minutes // 60)
    return t("time.ago.days", n=minutes // (24 * 60))


def duration(hours: object) -> str:
    """A length of time in its largest whole unit: 3 天 / 5 小时 / 40 分钟 (sign ignored)."""
    if _missing(hours):
        return t("msg.no_data_value")
    h = abs(float(hours))  # a number: checked above
    if h >= 48:
        return t("time.days", n=int(h // 24))
    if h >= 1:
        return t("time.hours", n=int(h))
    return t("time.minutes", n=int(h * 60))


def time_left(hours: object) -> str:
    """Time to a deadline: 剩 5 小时, or 超期 2 天 once it has passed (无时限 without one)."""
    if _missing(hours):
        return t("time.no_deadline")
    key = "time.left" if float(hours) >= 0 else "time.late"
    return t(key, time=duration(hours))


#: Characters Markdown gives a meaning to.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def literal(text: object, *, limit: int = 60) -> str:
    """Text from outside (the URL, a search box) made safe to show inside Markdown.

    Streamlit renders messages as Markdown: ``?area=[x](http://…)`` would otherwise show
    a link. Long values are cut to ``limit`` characters.
    """
    value = str(text)
    value = value if len(value) <= limit else value[: limit - 1] + "…"
    return _MARKDOWN.sub(r"\\\1", value)
