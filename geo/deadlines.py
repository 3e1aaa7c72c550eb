"""Deadlines per severity and category in working time, and escalation levels (督办).

A deadline rule is an amount and a unit:

- ``wd``: working days, due at the end of the N-th working day after the day of the report;
- ``wh``: working hours, counted only in working hours on working days;
- ``h``: calendar hours, for urgent cases that cannot wait for Monday.

The defaults follow DESIGN §2 (urgent 24 h, pressing 3 days, routine 7 days, the last two in
working days). A TOML file changes them::

    [severity]
    urgent = "24h"
    pressing = "3wd"
    routine = "7wd"

    [category.safety]        # a category's own rule wins over its severity's
    pressing = "8wh"

    [escalation]
    due_soon = 0.8           # share of the allowed time after which a request is "due soon"
    long_overdue = 2.0       # multiple of the allowed time after which it is "long overdue"

    [working_hours]          # the hours "wh" deadlines count, Asia/Shanghai time
    start = "09:00"
    end = "17:00"

Times in and out are naive UTC; the working calendar is applied in Asia/Shanghai time.

The site's policy and calendar are found through two settings, like the database URL:
``GRIDMAP_DEADLINES`` names the deadline file and ``GRIDMAP_HOLIDAYS`` the holiday override
file (:func:`geo.workdays.read_overrides`); without them the defaults above and the
``holidays`` package's calendar apply. :func:`policy_and_calendar` reads them once per
file version (path and modification time), so an edited file takes effect at the next
read without a restart, and every writer of a deadline (intake, import, demo) and every
reader of a level (wall, grid detail, ``gridmap escalate``) uses the same pair.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo import clock, vocab
from geo.workdays import CalendarError, WorkCalendar, china_calendar, read_toml

#: Escalation levels, in order.
LEVELS = ("in_time", "due_soon", "overdue", "long_overdue")
#: The settings naming the deadline policy file and the holiday override file.
DEADLINES_ENV, HOLIDAYS_ENV = "GRIDMAP_DEADLINES", "GRIDMAP_HOLIDAYS"

_RULE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(wd|wh|h)\s*$")


class DeadlineConfigError(ValueError):
    """A deadline file that cannot be used (the message names the file and the key)."""


@dataclass(frozen=True)
class Rule:
    """An allowed time: ``amount`` of ``unit`` (``wd``, ``wh`` or ``h``)."""

    amount: float
    unit: str

    @classmethod
    def parse(cls, text: str) -> Rule:
        """Read ``"3wd"``, ``"8wh"`` or ``"24h"``."""
        match = _RULE.match(str(text))
        if not match or float(match[1]) <= 0:
            raise ValueError(f"{text!r} is not a deadline: write a positive number followed by "
                             "wd (working days), wh (working hours) or h (hours), e.g. '3wd'")
        amount = float(match[1])
        if match[2] == "wd" and amount != int(amount):
            raise ValueError(f"{text!r}: working days must be a whole number")
        return cls(amount, match[2])

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


def _default_rules() -> dict[str, Rule]:
    return {"urgent": Rule(24, "h"), "pressing": Rule(3, "wd"), "routine": Rule(7, "wd")}


@dataclass(frozen=True)
class DeadlinePolicy:
    """Deadline rules per severity, overrides per category, and escalation thresholds."""

    severity: Mapping[str, Rule] = field(default_factory=_default_rules)
    category: Mapping[str, Mapping[str, Rule]] = field(default_factory=dict)
    due_soon: float = 0.8
    long_overdue: float = 2.0
    day_start: time = time(9)
    day_end: time = time(17)

    def rule(self, severity: str, category: str | None = None) -> Rule:
        """Return the rule for a severity, the category's own rule first."""
        own = self.category.get(category or "", {})
        return own.get(severity) or self.severity[severity]


def read_policy(path: str | Path) -> DeadlinePolicy:
    """Read a deadline TOML file (see the module docstring).

    Raises
    ------
    DeadlineConfigError
        With the file name and the key that is wrong.

    """
    path = Path(path)
    data = read_toml(path, error=DeadlineConfigError, what="deadline file")
    unknown = set(data) - {"severity", "category", "escalation", "working_hours"}
    if unknown:
        raise DeadlineConfigError(f"{path}: unknown sections {sorted(unknown)}; expected "
                                  "[severity], [category.NAME], [escalation], [working_hours]")
    severity = {**_default_rules(), **_rules(path, "severity", data.get("severity", {}))}
    category = {}
    categories = data.get("category", {})
    if not isinstance(categories, Mapping):
        raise DeadlineConfigError(f"{path}: category must be tables like [category.dispute]")
    for name, rules in categories.items():
        if name not in vocab.CATEGORIES:
            raise DeadlineConfigError(f"{path}: [category.{name}] is not a category; expected "
                                      f"one of {', '.join(vocab.CATEGORIES)}")
        category[name] = _rules(path, f"category.{name}", rules)
    esc = _table(path, "escalation", data.get("escalation", {}), {"due_soon", "long_overdue"})
    due_soon, long_overdue = esc.get("due_soon", 0.8), esc.get("long_overdue", 2.0)
    if not (isinstance(due_soon, int | float) and 0 < due_soon < 1):
        raise DeadlineConfigError(f"{path}: escalation.due_soon must be between 0 and 1")
    if not (isinstance(long_overdue, int | float) and long_overdue > 1):
        raise DeadlineConfigError(f"{path}: escalation.long_overdue must be more than 1")
    hours = _table(path, "working_hours", data.get("working_hours", {}), {"start", "end"})
    start = _clock_time(path, "start", hours.get("start", "09:00"))
    end = _clock_time(path, "end", hours.get("end", "17:00"))
    if end <= start:
        raise DeadlineConfigError(f"{path}: working_hours.end ({end:%H:%M}) must be after "
                                  f"working_hours.start ({start:%H:%M})")
    return DeadlinePolicy(severity=severity, category=category, due_soon=float(due_soon),
                          long_overdue=float(long_overdue), day_start=start, day_end=end)


def _table(path: Path, section: str, table: object, keys: set[str]) -> Mapping[str, object]:
    if not isinstance(table, Mapping):
        raise DeadlineConfigError(f"{path}: [{section}] must be a table")
    unknown = set(table) - keys
    if unknown:
        raise DeadlineConfigError(f"{path}: {section}.{sorted(unknown)[0]} is not a setting; "
                                  f"expected {', '.join(sorted(keys))}")
    return table


def _clock_time(path: Path, key: str, value: object) -> time:
    if isinstance(value, time):  # TOML's own local time, e.g. start = 09:00:00
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise DeadlineConfigError(f"{path}: working_hours.{key}: {value!r} is not a time of "
                                  "day like \"09:00\"") from None


def _rules(path: Path, section: str, table: object) -> dict[str, Rule]:
    if not isinstance(table, Mapping):
        raise DeadlineConfigError(f"{path}: [{section}] must be a table")
    out = {}
    for severity, text in table.items():
        if severity not in vocab.SEVERITIES:
            raise DeadlineConfigError(f"{path}: {section}.{severity} is not a severity; "
                                      f"expected one of {', '.join(vocab.SEVERITIES)}")
        try:
            out[severity] = Rule.parse(text)
        except ValueError as exc:
            raise DeadlineConfigError(f"{path}: {section}.{severity}: {exc}") from None
    return out


def due_times(reported_at: pd.Series, severity: pd.Series, category: pd.Series, *,
              policy: DeadlinePolicy, calendar: WorkCalendar) -> pd.Series:
    """Return each request's deadline (naive UTC) from its report time, severity, category.

    One vectorised pass per distinct rule (a handful), so the city's open backlog costs
    milliseconds. Working hours are counted one request at a time: they are rare.
    """
    reported = pd.to_datetime(reported_at)
    local = (reported + clock.LOCAL_UTC_OFFSET).to_numpy(dtype="datetime64[s]")
    keys = pd.DataFrame({"severity": severity.to_numpy(), "category": category.to_numpy()})
    due = np.full(len(reported), np.datetime64("NaT"), dtype="datetime64[s]")
    groups = keys.groupby(["severity", "category"], sort=False, dropna=False).indices
    for key, rows in groups.items():
        sev, cat = cast(tuple[str, str | None], key)
        due[rows] = _due_local(local[rows], policy.rule(sev, cat), calendar)
    out = pd.Series(due, index=reported.index, dtype="datetime64[s]") - clock.LOCAL_UTC_OFFSET
    return out.astype("datetime64[us]")


def _due_local(local: npt.NDArray[np.datetime64], rule: Rule,
               calendar: WorkCalendar) -> npt.NDArray[np.datetime64]:
    if rule.unit == "h":
        return local + np.timedelta64(int(rule.amount * 3600), "s")
    if rule.unit == "wd":
        return calendar.working_days_after_many(local, int(rule.amount))
    starts = local.astype(datetime)
    return np.array([calendar.working_hours_after(s, rule.amount) for s in starts],
                    dtype="datetime64[s]")


def escalation_levels(reported_at: pd.Series, due_at: pd.Series, *, now: datetime,
                      policy: DeadlinePolicy) -> pd.Series:
    """Return each open request's level: 0 in time, 1 due soon, 2 overdue, 3 long overdue.

    The thresholds are shares of the allowed span (report → deadline): due soon after
    ``policy.due_soon`` of it, long overdue after ``policy.long_overdue`` times it.
    """
    reported, due = pd.to_datetime(reported_at), pd.to_datetime(due_at)
    span = due - reported
    moment = pd.Timestamp(clock.to_naive_utc(now))
    level = np.zeros(len(due), dtype=np.int8)
    level[(moment >= reported + span * policy.due_soon).to_numpy()] = 1
    level[(moment > due).to_numpy()] = 2
    level[(moment > reported + span * policy.long_overdue).to_numpy()] = 3
    return pd.Series(level, index=due.index, name="level")


def crossing_times(reported_at: pd.Series, due_at: pd.Series, *,
                   policy: DeadlinePolicy) -> pd.DataFrame:
    """Return when each request crosses each escalation threshold (naive UTC).

    Columns ``1``, ``2`` and ``3`` hold the moments after which :func:`escalation_levels`
    gives at least that level: due soon, overdue (the deadline itself) and long overdue.
    """
    reported, due = pd.to_datetime(reported_at), pd.to_datetime(due_at)
    span = due - reported
    return pd.DataFrame({1: reported + span * policy.due_soon, 2: due,
                         3: reported + span * policy.long_overdue}, index=due.index)


# --------------------------------------------------------------------------- the site's config


class ConfigError(ValueError):
    """The site's deadline or holiday file cannot be used (the message names file and key)."""


def policy_and_calendar() -> tuple[DeadlinePolicy, WorkCalendar]:
    """Return the site's deadline policy and working calendar (see the module docstring).

    Raises
    ------
    ConfigError
        ``GRIDMAP_DEADLINES`` or ``GRIDMAP_HOLIDAYS`` names a file that is missing or does
        not parse; the message names the setting, the file and the key.

    """
    return _configured(_file_version(DEADLINES_ENV), _file_version(HOLIDAYS_ENV))


def _file_version(setting: str) -> tuple[str, int] | None:
    path = os.environ.get(setting, "").strip()
    if not path:
        return None
    try:
        return path, Path(path).stat().st_mtime_ns
    except OSError:
        return path, -1  # read_* then says what is wrong with it


@lru_cache(maxsize=4)
def _configured(deadlines: tuple[str, int] | None,
                holidays: tuple[str, int] | None) -> tuple[DeadlinePolicy, WorkCalendar]:
    # Errors are not cached (lru_cache keeps only results): a fixed file is read again.
    try:
        policy = read_policy(deadlines[0]) if deadlines else DeadlinePolicy()
    except DeadlineConfigError as exc:
        raise ConfigError(f"{DEADLINES_ENV}: {exc}") from None
    try:
        calendar = china_calendar(overrides=holidays[0] if holidays else None,
                                  day_start=policy.day_start, day_end=policy.day_end)
    except CalendarError as exc:
        raise ConfigError(f"{HOLIDAYS_ENV}: {exc}") from None
    return policy, calendar


def configured_due_times(reported_at: pd.Series, severity: pd.Series,
                         category: pd.Series) -> pd.Series:
    """:func:`due_times` with the site's policy and calendar (:func:`policy_and_calendar`)."""
    policy, calendar = policy_and_calendar()
    return due_times(reported_at, severity, category, policy=policy, calendar=calendar)


def due_time(reported_at: datetime, severity: str, category: str | None) -> datetime:
    """One request's deadline (naive UTC) with the site's policy and calendar."""
    due = configured_due_times(pd.Series([reported_at]), pd.Series([severity]),
                               pd.Series([category], dtype=object))
    return pd.Timestamp(due.iloc[0]).to_pydatetime()
