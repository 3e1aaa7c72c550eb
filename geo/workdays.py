"""Working time on China's official calendar: holidays, 调休 make-up days, deadlines.

Deadlines for requests count working days (工作日) or working hours, not calendar time. China's
official calendar moves weekend days around a holiday: the State Council's notice makes some
Saturdays and Sundays working days (调休) so that a holiday runs for a week. The days come
from the maintained ``holidays`` package (``holidays.China``, which carries the notices'
make-up days as ``weekend_workdays``). When a new notice comes out before the package has it,
a TOML file overrides whole years::

    [2027]
    off = ["2027-02-06", "2027-02-07"]      # days off that would be working days
    work = ["2027-02-14"]                   # weekend days that are working days

Times here are naive Asia/Shanghai wall-clock times: a working day is a local day. Callers
convert with :mod:`geo.clock`. Vectorised deadlines look days up in a sorted array of
working-day ordinals (``numpy.searchsorted``), because ``numpy.busday_offset`` cannot make a
weekend day a working day.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import holidays
import numpy as np
import numpy.typing as npt

#: Years the calendar covers; a deadline past the last year is an error, not a guess.
FIRST_YEAR, LAST_YEAR = 2000, 2035


class CalendarError(ValueError):
    """A holiday override file that cannot be used (the message names the file and place)."""


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and hours.

    Parameters
    ----------
    days_off : frozenset of date
        Official days off that fall on a Monday to Friday.
    make_up_days : frozenset of date
        Saturdays and Sundays that are working days (调休).
    day_start, day_end : datetime.time
        The working hours of a working day, for deadlines in working hours.

    """

    days_off: frozenset[date] = frozenset()
    make_up_days: frozenset[date] = frozenset()
    day_start: time = time(9)
    day_end: time = time(17)
    _ordinals: npt.NDArray[np.int64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.day_end <= self.day_start:
            raise ValueError(f"the working day ends ({self.day_end}) before it starts "
                             f"({self.day_start})")
        first, last = date(FIRST_YEAR, 1, 1).toordinal(), date(LAST_YEAR, 12, 31).toordinal()
        ordinals = np.arange(first, last + 1, dtype=np.int64)
        weekday = (ordinals - 1) % 7  # date.fromordinal(1) is a Monday
        work = weekday < 5
        off = np.array(sorted(d.toordinal() for d in self.days_off), dtype=np.int64)
        extra = np.array(sorted(d.toordinal() for d in self.make_up_days), dtype=np.int64)
        work[np.isin(ordinals, off)] = False
        work[np.isin(ordinals, extra)] = True
        object.__setattr__(self, "_ordinals", ordinals[work])

    @property
    def hours_per_day(self) -> float:
        """Working hours in one working day."""
        start = datetime.combine(date.min, self.day_start)
        return (datetime.combine(date.min, self.day_end) - start).total_seconds() / 3600

    def is_workday(self, day: date) -> bool:
        """Return True when ``day`` is a working day."""
        ordinal = day.toordinal()
        i = int(np.searchsorted(self._ordinals, ordinal))
        return i < len(self._ordinals) and int(self._ordinals[i]) == ordinal

    def working_days_after(self, start: datetime, days: int) -> datetime:
        """Return the end of the ``days``-th working day after the day of ``start``.

        The day a request is reported does not count (时限自受理次日起算): reported on a
        Friday with 1 working day, it is due at the end of the next working day.
        """
        return self.working_days_after_many(np.array([start], dtype="datetime64[s]"),
                                            days)[0].astype(datetime)

    def working_days_after_many(self, starts: npt.NDArray[np.datetime64],
                                days: int | npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
        """Vectorised :meth:`working_days_after` over local wall-clock times."""
        day = starts.astype("datetime64[D]").astype(np.int64) + _EPOCH_ORDINAL
        i = np.searchsorted(self._ordinals, day, side="right") + np.asarray(days) - 1
        self._check_range(i)
        due_day = (self._ordinals[i] - _EPOCH_ORDINAL).astype("datetime64[D]")
        return due_day.astype("datetime64[s]") + _seconds(self.day_end)

    def working_hours_after(self, start: datetime, hours: float) -> datetime:
        """Return the moment ``hours`` of working time after ``start``.

        Time outside working hours and on days off does not count, so a request reported at
        night starts its clock at the next working morning.
        """
        remaining = timedelta(hours=hours)
        if remaining <= timedelta(0):
            return start
        day = start.date()
        moment = max(start, datetime.combine(day, self.day_start))
        while True:
            if not self.is_workday(day) or moment >= datetime.combine(day, self.day_end):
                day = self._next_workday(day)
                moment = datetime.combine(day, self.day_start)
                continue
            left_today = datetime.combine(day, self.day_end) - moment
            if remaining <= left_today:
                return moment + remaining
            remaining -= left_today
            day = self._next_workday(day)
            moment = datetime.combine(day, self.day_start)

    def _next_workday(self, day: date) -> date:
        i = int(np.searchsorted(self._ordinals, day.toordinal(), side="right"))
        self._check_range(np.array([i]))
        return date.fromordinal(int(self._ordinals[i]))

    def _check_range(self, index: npt.NDArray[np.int64]) -> None:
        if len(index) and int(np.max(index)) >= len(self._ordinals):
            raise ValueError(f"a deadline falls after {LAST_YEAR}, past the working calendar")


#: date.toordinal() of 1970-01-01, to turn numpy day numbers into ordinals and back.
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _seconds(moment: time) -> np.timedelta64:
    return np.timedelta64(moment.hour * 3600 + moment.minute * 60 + moment.second, "s")


def china_calendar(*, overrides: str | Path | None = None, day_start: time = time(9),
                   day_end: time = time(17)) -> WorkCalendar:
    """Return China's official working calendar, with optional overrides per year.

    Parameters
    ----------
    overrides : path, optional
        A TOML file with a table per year (``off``, ``work`` lists of ISO dates) that
        replaces the package's days for that year.
    day_start, day_end : datetime.time
        Working hours.

    Raises
    ------
    CalendarError
        The override file cannot be read or parsed, or a date in it is invalid.

    """
    years = range(FIRST_YEAR, LAST_YEAR + 1)
    official = holidays.China(years=years)
    off = {d for d in official if d.weekday() < 5}
    work = {d for d in getattr(official, "weekend_workdays", ()) if d.year >= FIRST_YEAR}
    if overrides is not None:
        for year, (year_off, year_work) in read_overrides(overrides).items():
            off = {d for d in off if d.year != year} | year_off
            work = {d for d in work if d.year != year} | year_work
    return WorkCalendar(days_off=frozenset(off), make_up_days=frozenset(work),
                        day_start=day_start, day_end=day_end)


def read_overrides(path: str | Path) -> dict[int, tuple[set[date], set[date]]]:
    """Read a holiday override file: ``{year: (days off, make-up working days)}``.

    Raises
    ------
    CalendarError
        With the file name and the place (TOML line and column, or the year and entry).

    """
    path = Path(path)
    data = read_toml(path, error=CalendarError, what="holiday file")
    return {_year(path, key): _year_days(path, key, value) for key, value in data.items()}


def read_toml(path: Path, *, error: type[ValueError], what: str) -> dict[str, Any]:
    """Read a TOML settings file, raising ``error`` with the file name and what is wrong.

    Shared by the holiday and deadline files, so both word an unreadable or malformed
    file alike (TOML's own message gives the line and column).
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not a valid TOML {what}: {exc}") from exc


def _year(path: Path, key: str) -> int:
    if not key.isdigit() or not FIRST_YEAR <= int(key) <= LAST_YEAR:
        raise CalendarError(f"{path}: [{key}] is not a year between {FIRST_YEAR} and "
                            f"{LAST_YEAR}")
    return int(key)


def _year_days(path: Path, key: str, value: object) -> tuple[set[date], set[date]]:
    if not isinstance(value, Mapping):
        raise CalendarError(f"{path}: [{key}] must be a table with 'off' and 'work' lists")
    unknown = set(value) - {"off", "work"}
    if unknown:
        raise CalendarError(f"{path}: [{key}] has unknown keys {sorted(unknown)}; "
                            "expected 'off' and 'work'")
    return (_dates(path, key, "off", value.get("off", [])),
            _dates(path, key, "work", value.get("work", [])))


def _dates(path: Path, year: str, name: str, values: object) -> set[date]:
    if not isinstance(values, Iterable) or isinstance(values, str | bytes):
        raise CalendarError(f"{path}: [{year}] {name} must be a list of dates")
    out = set()
    for n, value in enumerate(values, start=1):
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise CalendarError(f"{path}: [{year}] {name}, entry {n}: {value!r} is not a "
                                "date (YYYY-MM-DD)") from None
        if str(day.year) != year:
            raise CalendarError(f"{path}: [{year}] {name}, entry {n}: {day} is not in {year}")
        out.add(day)
    return out
