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
    ('[severity\n', "not valid TOML"),
])
def test_bad_policy_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(deadlines.DeadlineConfigError) as info:
        deadlines.read_policy(path)
    assert "bad.toml" in str(info.value) and message in str(info.value)
