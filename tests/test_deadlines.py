import os
from datetime import datetime

import pandas as pd
import pytest

from geo import deadlines, workdays


@pytest.fixture(scope="module")
def cal():
    return workdays.china_calendar()


def test_due_times_in_working_days_hours_and_calendar_hours(cal):
    # Friday 2026-02-13 10:00 in Shanghai (02:00 UTC), the last working day but one before
    # the Spring Festival (Saturday 02-14 is a make-up working day).
    reported = pd.Series([datetime(2026, 2, 13, 2, 0)] * 3)
    policy = deadlines.DeadlinePolicy(
        category={"safety": {"pressing": deadlines.Rule.parse("4wh")}})
    due = deadlines.due_times(reported, pd.Series(["pressing", "urgent", "pressing"]),
                              pd.Series(["road", "road", "safety"]), policy=policy,
                              calendar=cal)
    assert due.tolist() == [
        pd.Timestamp("2026-02-25 09:00"),  # 3 working days: 02-14, 02-24, 02-25 at 17:00 local
        pd.Timestamp("2026-02-14 02:00"),  # 24 calendar hours
        pd.Timestamp("2026-02-13 06:00"),  # 4 working hours: 10:00 → 14:00 local
    ]


def test_escalation_levels():
    reported = pd.Series([datetime(2026, 12, 1)] * 4)
    due = pd.Series([datetime(2026, 12, 11)] * 4)
    policy = deadlines.DeadlinePolicy()
    levels = [deadlines.escalation_levels(reported, due, now=now, policy=policy).iloc[0]
              for now in (datetime(2026, 12, 5), datetime(2026, 12, 9),
                          datetime(2026, 12, 12), datetime(2026, 12, 21, 1))]
    assert levels == [0, 1, 2, 3]


def test_policy_file(tmp_path):
    path = tmp_path / "deadlines.toml"
    path.write_text('[severity]\nroutine = "5wd"\n[category.dispute]\nurgent = "12h"\n'
                    '[escalation]\ndue_soon = 0.75\n', encoding="utf-8")
    policy = deadlines.read_policy(path)
    assert str(policy.rule("routine")) == "5wd"
    assert str(policy.rule("pressing")) == "3wd"
    assert str(policy.rule("urgent", "dispute")) == "12h"
    assert str(policy.rule("urgent", "road")) == "24h"
    assert policy.due_soon == 0.75


@pytest.mark.parametrize(("text", "message"), [
    ('[severity]\nroutine = "fast"\n', "severity.routine: 'fast' is not a deadline"),
    ('[severity]\nroutine = "1.5wd"\n', "whole number"),
    ('[severity]\nsevere = "1h"\n', "severity.severe is not a severity"),
    ('[category.parking]\nurgent = "1h"\n', "[category.parking] is not a category"),
    ('[escalation]\ndue_soon = 1.5\n', "due_soon must be between 0 and 1"),
    ('[severity\n', "not a valid TOML deadline file"),
])
def test_bad_policy_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(deadlines.DeadlineConfigError) as info:
        deadlines.read_policy(path)
    assert "bad.toml" in str(info.value) and message in str(info.value)


def test_policy_file_working_hours_and_unknown_keys(tmp_path):
    path = tmp_path / "deadlines.toml"
    path.write_text('[working_hours]\nstart = "08:30"\nend = 17:30:00\n', encoding="utf-8")
    policy = deadlines.read_policy(path)
    assert (policy.day_start.isoformat(), policy.day_end.isoformat()) == ("08:30:00",
                                                                          "17:30:00")
    for text, message in [('[escalation]\ndue_son = 0.7\n', "escalation.due_son is not a "
                                                            "setting"),
                          ('[working_hours]\nstart = "9 am"\n', "working_hours.start"),
                          ('[working_hours]\nstart = "18:00"\n', "must be after"),
                          ('category = "x"\n', "category must be tables")]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(deadlines.DeadlineConfigError, match=message):
            deadlines.read_policy(path)


def test_crossing_times_are_the_levels_thresholds():
    reported = pd.Series([datetime(2026, 12, 1)])
    due = pd.Series([datetime(2026, 12, 11)])
    times = deadlines.crossing_times(reported, due, policy=deadlines.DeadlinePolicy())
    assert times.iloc[0].tolist() == [pd.Timestamp(2026, 12, 9), pd.Timestamp(2026, 12, 11),
                                      pd.Timestamp(2026, 12, 21)]
    policy = deadlines.DeadlinePolicy()
    for level, moment in times.iloc[0].items():
        # Just after each threshold the clock gives that level.
        after = moment + pd.Timedelta(seconds=1)
        assert deadlines.escalation_levels(reported, due, now=after.to_pydatetime(),
                                           policy=policy).iloc[0] == level


def test_site_policy_and_calendar_from_the_settings(tmp_path, monkeypatch):
    # Friday 2026-02-13 10:00 Shanghai, pressing: 3 working days (02-14 is 调休).
    friday = datetime(2026, 2, 13, 2, 0)
    assert deadlines.due_time(friday, "pressing", "road") == datetime(2026, 2, 25, 9)
    policy_file = tmp_path / "deadlines.toml"
    policy_file.write_text('[severity]\npressing = "1wd"\n', encoding="utf-8")
    monkeypatch.setenv("GRIDMAP_DEADLINES", str(policy_file))
    assert deadlines.due_time(friday, "pressing", "road") == datetime(2026, 2, 14, 9)
    # An edited file takes effect without a restart (read again when its mtime changes).
    policy_file.write_text('[severity]\npressing = "2wd"\n', encoding="utf-8")
    os.utime(policy_file, ns=(1, 1))
    assert deadlines.due_time(friday, "pressing", "road") == datetime(2026, 2, 24, 9)
    # The State Council moves a day: an override makes Saturday 02-14 a day off instead.
    holidays_file = tmp_path / "holidays.toml"
    holidays_file.write_text('[2026]\noff = ["2026-02-16", "2026-02-17", "2026-02-18", '
                             '"2026-02-19", "2026-02-20", "2026-02-23"]\n'
                             'work = ["2026-02-28"]\n', encoding="utf-8")
    monkeypatch.setenv("GRIDMAP_HOLIDAYS", str(holidays_file))
    assert deadlines.due_time(friday, "pressing", "road") == datetime(2026, 2, 25, 9)


@pytest.mark.parametrize(("setting", "text", "names"), [
    ("GRIDMAP_DEADLINES", '[severity]\nroutine = "soon"\n', ["severity.routine", "'soon'"]),
    ("GRIDMAP_HOLIDAYS", '[2027]\noff = ["2027-02-30"]\n', ["[2027] off, entry 1",
                                                            "'2027-02-30'"]),
    ("GRIDMAP_HOLIDAYS", '[2027\n', ["not a valid TOML holiday file", "line 1"]),
])
def test_a_site_file_that_does_not_parse_names_setting_file_and_key(tmp_path, monkeypatch,
                                                                     setting, text, names):
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv(setting, str(path))
    with pytest.raises(deadlines.ConfigError) as info:
        deadlines.policy_and_calendar()
    message = str(info.value)
    assert message.startswith(f"{setting}: {path}")
    for name in names:
        assert name in message
    # A missing file is named too.
    monkeypatch.setenv(setting, str(tmp_path / "gone.toml"))
    with pytest.raises(deadlines.ConfigError, match="gone.toml: cannot read"):
        deadlines.policy_and_calendar()
