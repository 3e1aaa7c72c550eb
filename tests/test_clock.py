from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from geo import clock


def test_local_day_bounds_cross_utc_midnight():
    # 2026-02-16 17:30 UTC is 2026-02-17 01:30 in Shanghai.
    start, end = clock.local_day_bounds(datetime(2026, 2, 16, 17, 30))
    assert start == datetime(2026, 2, 16, 16, 0)
    assert end == datetime(2026, 2, 17, 16, 0)
    assert clock.local_date(datetime(2026, 2, 16, 17, 30)) == date(2026, 2, 17)


def test_aware_input_is_converted():
    aware = datetime(2026, 10, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert clock.to_naive_utc(aware) == datetime(2026, 10, 1, 0, 0)
    assert clock.local_day_start(date(2026, 10, 1)) == datetime(2026, 9, 30, 16, 0)


def test_month_bounds_and_month():
    since, until = clock.local_month_bounds(pd.Period("2026-10", freq="M"))
    assert (since, until) == (datetime(2026, 9, 30, 16), datetime(2026, 10, 31, 16))
    assert str(clock.local_month(datetime(2026, 10, 31, 16, 0))) == "2026-11"


def test_iso_local_text_and_missing():
    assert clock.iso_local(datetime(2026, 11, 24, 2, 30, 5, 999)) == "2026-11-24T10:30:05+08:00"
    assert clock.iso_local(None) is None
    out = clock.iso_local_series(pd.Series([datetime(2026, 1, 1, 16), None]))
    assert out.iloc[0] == "2026-01-02T00:00:00+08:00"
    assert out.iloc[1] is None


def test_frozen_clock_and_precision():
    with clock.frozen(datetime(2026, 12, 4, 10, 11, 12, 500)):
        assert clock.now() == datetime(2026, 12, 4, 10, 11, 12, 500)
        assert clock.now(precision="s") == datetime(2026, 12, 4, 10, 11, 12)
        assert clock.now(precision="min") == datetime(2026, 12, 4, 10, 11)
        assert clock.or_now(None) == datetime(2026, 12, 4, 10, 11, 12, 500)
    assert clock.now() > datetime(2026, 12, 4, 10, 12)
    with pytest.raises(ValueError, match="precision"):
        clock.now(precision="h")


def test_aware_local():
    ts = clock.aware_local(datetime(2026, 1, 1, 0, 0))
    assert ts is not None and ts.hour == 8 and ts.utcoffset() == timedelta(hours=8)
    assert clock.aware_local(None) is None
    assert clock.aware_local(float("nan")) is None
