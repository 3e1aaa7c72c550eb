"""Time in one place: now, the Asia/Shanghai offset, local days and months, ISO text.

Every stored time is naive UTC. Residents, grid heads and reports read Asia/Shanghai time,
which is UTC+8 all year (no daylight saving since 1991), so a fixed offset is exact and
cheaper than a zone database look-up in vectorised code.

Tests pin the clock with :func:`frozen` (or by passing ``now=`` where a function takes it)
instead of patching module-private helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd

#: Asia/Shanghai's offset from UTC.
LOCAL_UTC_OFFSET = timedelta(hours=8)
#: Asia/Shanghai as a fixed-offset tzinfo (named, so ``strftime("%Z")`` reads well).
SHANGHAI = timezone(LOCAL_UTC_OFFSET, "Asia/Shanghai")
#: The IANA name, for pandas' ``tz_localize`` when a wall-clock time must be interpreted.
SHANGHAI_NAME = "Asia/Shanghai"


def _system_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_source: Callable[[], datetime] = _system_now


def now(*, precision: str | None = None) -> datetime:
    """Return the current moment as a naive UTC datetime.

    Parameters
    ----------
    precision : {"s", "min"} or None
        Floor to the second or the minute (the cache key of live figures); None keeps
        microseconds.

    """
    moment = _source()
    if precision == "s":
        return moment.replace(microsecond=0)
    if precision == "min":
        return moment.replace(second=0, microsecond=0)
    if precision is not None:
        raise ValueError(f"precision must be 's', 'min' or None, not {precision!r}")
    return moment


@contextmanager
def frozen(moment: datetime) -> Iterator[datetime]:
    """Make :func:`now` return ``moment`` (naive UTC) inside the ``with`` block."""
    global _source
    fixed = to_naive_utc(moment)
    previous, _source = _source, (lambda: fixed)
    try:
        yield fixed
    finally:
        _source = previous


def to_naive_utc(moment: datetime | pd.Timestamp) -> datetime:
    """Return ``moment`` as a naive UTC datetime (aware values are converted, naive kept)."""
    ts = pd.Timestamp(moment)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def or_now(moment: datetime | pd.Timestamp | None) -> datetime:
    """Return ``moment`` as naive UTC, or :func:`now` when it is None."""
    return now() if moment is None else to_naive_utc(moment)


def to_local(moment: datetime | pd.Timestamp) -> datetime:
    """Return a naive-UTC (or aware) moment as naive Asia/Shanghai wall-clock time."""
    return to_naive_utc(moment) + LOCAL_UTC_OFFSET


def from_local(moment: datetime | pd.Timestamp) -> datetime:
    """Return a naive Asia/Shanghai wall-clock time as naive UTC."""
    return pd.Timestamp(moment).to_pydatetime() - LOCAL_UTC_OFFSET


def local_date(moment: datetime | pd.Timestamp) -> date:
    """Return the Asia/Shanghai calendar day of a naive-UTC (or aware) moment."""
    return to_local(moment).date()


def local_day_start(day: date) -> datetime:
    """Return the naive UTC instant at which Asia/Shanghai calendar day ``day`` starts."""
    return datetime(day.year, day.month, day.day) - LOCAL_UTC_OFFSET


def local_day_bounds(moment: datetime | pd.Timestamp) -> tuple[datetime, datetime]:
    """Return the naive UTC bounds [start, end) of the Asia/Shanghai day holding ``moment``."""
    start = local_day_start(local_date(moment))
    return start, start + timedelta(days=1)


def local_month_bounds(period: pd.Period) -> tuple[datetime, datetime]:
    """Return the naive UTC bounds [since, until) of an Asia/Shanghai calendar month."""
    since = (period.start_time - LOCAL_UTC_OFFSET).to_pydatetime()
    until = ((period + 1).start_time - LOCAL_UTC_OFFSET).to_pydatetime()
    return since, until


def local_month(moment: datetime | pd.Timestamp) -> pd.Period:
    """Return the Asia/Shanghai calendar month holding a naive-UTC (or aware) moment."""
    return pd.Period(pd.Timestamp(to_local(moment)), freq="M")


def local_series(values: pd.Series) -> pd.Series:
    """Shift a column of naive-UTC times to naive Asia/Shanghai wall-clock times."""
    return pd.to_datetime(values) + LOCAL_UTC_OFFSET


def iso_local(moment: datetime | pd.Timestamp | None) -> str | None:
    """Format a naive-UTC time as ISO 8601 in Asia/Shanghai, e.g. ``…T10:30:00+08:00``."""
    if moment is None or pd.isna(moment):
        return None
    utc = to_naive_utc(moment).replace(tzinfo=UTC, microsecond=0)
    return utc.astimezone(SHANGHAI).isoformat()


def iso_local_series(values: pd.Series) -> pd.Series:
    """Format a column of naive-UTC times as Asia/Shanghai ISO 8601 text (NaT stays missing)."""
    shifted = local_series(values)
    text = shifted.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return text.astype(object).where(shifted.notna(), None)


def aware_local(moment: object) -> pd.Timestamp | None:
    """Return a naive-UTC (or aware) time as an aware Asia/Shanghai timestamp (None if missing)."""
    if moment is None:
        return None
    try:
        if pd.isna(moment):  # type: ignore[call-overload]  # any scalar: None, NaN, NaT
            return None
    except (TypeError, ValueError):
        pass
    ts = pd.Timestamp(moment)  # type: ignore[arg-type]  # a datetime-like scalar
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert(SHANGHAI)
