from datetime import date, datetime, time

import numpy as np
import pytest

from geo import workdays


@pytest.fixture(scope="module")
def cal():
    return workdays.china_calendar()


def test_2026_spring_festival_and_make_up_saturdays(cal):
    # State Council 2026: off 02-15 (Sun) .. 02-23 (Mon); Saturdays 02-14 and 02-28 are worked.
    assert cal.is_workday(date(2026, 2, 14))
    assert not cal.is_workday(date(2026, 2, 16))
    assert not cal.is_workday(date(2026, 2, 23))
    assert cal.is_workday(date(2026, 2, 28))
    assert not cal.is_workday(date(2026, 2, 21))  # a plain Saturday inside the holiday


def test_friday_before_spring_festival_is_due_after_the_holiday(cal):
    friday = datetime(2026, 2, 13, 10, 0)
    # Day 1 is the make-up Saturday 02-14, then 02-24 and 02-25.
    assert cal.working_days_after(friday, 1) == datetime(2026, 2, 14, 17, 0)
    assert cal.working_days_after(friday, 3) == datetime(2026, 2, 25, 17, 0)


def test_national_day_2026(cal):
    # Off 10-01 .. 10-07; Sunday 09-20 and Saturday 10-10 are worked.
    assert cal.working_days_after(datetime(2026, 9, 18, 9, 0), 1) == datetime(2026, 9, 20, 17)
    assert cal.working_days_after(datetime(2026, 9, 30, 9, 0), 3) == datetime(2026, 10, 10, 17)
    assert not cal.is_workday(date(2026, 10, 7))


def test_vectorised_deadlines_match_the_scalar_ones(cal):
    starts = np.array(["2026-02-13T10:00", "2026-09-30T09:00", "2026-12-04T23:59"],
                      dtype="datetime64[s]")
    due = cal.working_days_after_many(starts, np.array([3, 3, 2]))
    assert [d.astype(datetime) for d in due] == [
        datetime(2026, 2, 25, 17), datetime(2026, 10, 10, 17), datetime(2026, 12, 8, 17)]


def test_working_hours_skip_nights_weekends_and_holidays(cal):
    # 1 h left on Friday 02-13, the other 3 on the make-up Saturday morning.
    assert cal.working_hours_after(datetime(2026, 2, 13, 16, 0), 4) == datetime(2026, 2, 14, 12)
    # Reported on Saturday 02-14 at 20:00: the clock starts on 02-24 at 09:00.
    assert cal.working_hours_after(datetime(2026, 2, 14, 20, 0), 2) == datetime(2026, 2, 24, 11)
    assert cal.hours_per_day == 8.0


def test_override_file_replaces_a_year(tmp_path):
    path = tmp_path / "holidays.toml"
    path.write_text('[2027]\noff = ["2027-02-08"]\nwork = [2027-02-14]\n', encoding="utf-8")
    cal = workdays.china_calendar(overrides=path)
    assert cal.is_workday(date(2027, 2, 14))  # a Sunday made a working day
    assert not cal.is_workday(date(2027, 2, 8))
    assert cal.is_workday(date(2027, 2, 9))  # the package's day off, replaced by the file
    assert not cal.is_workday(date(2026, 2, 16))  # other years keep the package's days


@pytest.mark.parametrize(("text", "message"), [
    ('[2027\noff = []\n', "line 1"),
    ('[2027]\noff = ["2027-02-30"]\n', "entry 1: '2027-02-30' is not a date"),
    ('[2027]\noff = ["2026-02-03"]\n', "2026-02-03 is not in 2027"),
    ('[twenty]\noff = []\n', "[twenty] is not a year"),
    ('[2027]\nholiday = []\n', "unknown keys ['holiday']"),
])
def test_bad_override_files_say_where(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(workdays.CalendarError, match="bad.toml") as info:
        workdays.china_calendar(overrides=path)
    assert message in str(info.value)


def test_working_hours_must_make_sense():
    with pytest.raises(ValueError, match="ends"):
        workdays.WorkCalendar(day_start=time(17), day_end=time(9))
