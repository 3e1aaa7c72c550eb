"""Roles, scopes and the masking of personal data (geo.access), on literal values."""

import math

import pandas as pd
import pytest

from geo.access import (
    PAGES,
    ROLES,
    AccessDenied,
    Scope,
    mask_email,
    mask_frame,
    mask_name,
    mask_phone,
    mask_text,
    restricted,
)

MINE, OTHER = "430903003001001", "430903004001001"


# --------------------------------------------------------------------------- Scope


def test_scope_refuses_unknown_roles_and_bad_codes():
    with pytest.raises(ValueError, match="unknown role"):
        Scope("mayor")
    with pytest.raises(ValueError, match="6, 9, 12 or 15 digits"):
        Scope("grid_head", ("43090",))
    with pytest.raises(ValueError, match="6, 9, 12 or 15 digits"):
        Scope("grid_head", ("43090300300a",))
    with pytest.raises(ValueError, match="at least one code"):
        Scope("grid_head", ())
    assert Scope("grid_head", ("430903", "430903003001001")).areas == (
        "430903", "430903003001001")


def test_scope_properties_follow_the_role_table():
    assert set(ROLES) == set(PAGES) == {"commander", "grid_head", "planner", "admin", "wall",
                                       "alliance"}
    everything = Scope.everything(actor="cli:root")
    assert everything.everywhere and everything.personal == "all" and everything.may_export
    assert everything.actor == "cli:root"
    assert not Scope("commander").may_export and Scope("commander").personal == "masked"
    assert Scope("commander").sees_contacts()  # masked, see mask_frame
    assert Scope("planner").may_export and not Scope("planner").sees_contacts()
    assert Scope("grid_head", ("430903003001",)).sees_contacts()
    wall = Scope("wall", ("430903",))
    assert wall.may_open("wall") and not wall.may_open("grid")
    assert Scope("planner").may_open("export") and not Scope("commander").may_open("export")
    assert Scope("admin").may_open("data") and not Scope("planner").may_open("data")


def test_covers_code_goes_by_prefix():
    head = Scope("grid_head", ("430903003001",), "wang")
    assert head.covers_code(MINE)
    assert head.covers_code("430903003001")
    assert not head.covers_code(OTHER)
    assert not head.covers_code("430903")  # the county is wider than the community
    assert not head.covers_code(None)
    assert Scope("commander").covers_code(None)
    assert Scope("commander").covers_code(OTHER)


def test_restricted_never_widens_an_area_bound_role():
    assert restricted(["430903"], role="commander", actor="c") == Scope("commander", None, "c")
    assert restricted(None, role="planner", actor="p").everywhere
    head = restricted([" 430903003001 ", "430903003001", "430903004001", ""],
                      role="grid_head", actor="wang")
    assert head == Scope("grid_head", ("430903003001", "430903004001"), "wang")
    with pytest.raises(AccessDenied, match="no areas"):
        restricted([], role="grid_head", actor="li")
    with pytest.raises(AccessDenied, match="no areas"):
        restricted(None, role="wall", actor="wall:x")


# --------------------------------------------------------------------------- masking


def test_mask_name_keeps_the_first_character():
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("王") == "王*"  # a single character still shows it was masked
    assert mask_name(" 李四 ") == "李*"


def test_mask_phone_keeps_three_and_four_digits():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("0737-1234567") == "073*****4567"
    assert mask_phone("110") == "***"


def test_mask_email_keeps_first_character_and_domain():
    assert mask_email("wang@example.cn") == "w***@example.cn"
    assert mask_email("not-an-email") == "n***********"


@pytest.mark.parametrize("text, masked", [
    ("已电话联系13812341234", "已电话联系138****1234"),
    ("座机0737-4221234，邮箱wang@example.cn", "座机073*****1234，邮箱w***@example.cn"),
    ("身份证43090319900101123X已核验", "身份证430***********123X已核验"),
    ("工单号 202612010001234567890 已派", "工单号 202612010001234567890 已派"),  # 21 digits
    ("路灯3盏已修复", "路灯3盏已修复"),
    ("回电 139 0000 1111", "回电 139******1111"),
])
def test_mask_text_masks_contacts_in_free_text(text, masked):
    assert mask_text(text) == masked


def test_mask_text_masks_the_given_reporter_verbatim():
    note = "已联系欧阳娜娜（电话 138-1234-1234），王五到场"
    got = mask_text(note, names=["欧阳娜娜", "王", None], contacts=["138-1234-1234"])
    assert got == "已联系欧***（电话 138******1234），王五到场"
    assert mask_text(None) is None


@pytest.mark.parametrize("fn", [mask_name, mask_phone, mask_email])
def test_masks_leave_missing_values_alone(fn):
    assert fn(None) is None
    nan = fn(float("nan"))
    assert isinstance(nan, float) and math.isnan(nan)
    assert fn("") == ""


def _contacts():
    # object columns, so that None stays None (pandas' str dtype would make it NaN)
    return pd.DataFrame(dtype=object, data={
        "grid_code": [MINE, OTHER, None],
        "reporter_name": ["张三", "欧阳娜娜", None],
        "reporter_phone": ["13812341234", "13912345678", float("nan")],
        "reporter_email": ["zhang@example.cn", None, "x@y.cn"],
        "description": ["路灯不亮", "噪音", "漏水"],
    })


def test_mask_frame_admin_sees_everything():
    frame = _contacts()
    out = mask_frame(frame, Scope.everything())
    pd.testing.assert_frame_equal(out, frame)


def test_mask_frame_grid_head_sees_only_their_own_grids_in_clear():
    frame = _contacts()
    out = mask_frame(frame, Scope("grid_head", ("430903003001",), "wang"))
    assert out["reporter_name"].tolist()[:2] == ["张三", "欧***"]
    assert out["reporter_phone"].tolist()[:2] == ["13812341234", "139****5678"]
    assert out["reporter_email"].tolist() == ["zhang@example.cn", None, "x***@y.cn"]
    assert out["reporter_name"].iloc[2] is None  # no grid: masked, but None stays None
    assert out["description"].tolist() == frame["description"].tolist()
    assert frame["reporter_name"].tolist()[:2] == ["张三", "欧阳娜娜"]  # input untouched


@pytest.mark.parametrize("role", ["commander", "planner"])
def test_mask_frame_masks_every_row_for_roles_without_contacts(role):
    out = mask_frame(_contacts(), Scope(role))
    assert out["reporter_name"].tolist()[:2] == ["张*", "欧***"]
    assert out["reporter_phone"].tolist()[:2] == ["138****1234", "139****5678"]
    assert out["reporter_email"].iloc[0] == "z***@example.cn"


def test_mask_frame_grid_head_without_grid_column_masks_everything():
    frame = _contacts().drop(columns="grid_code")
    out = mask_frame(frame, Scope("grid_head", ("430903003001",)))
    assert out["reporter_name"].tolist()[:2] == ["张*", "欧***"]


def test_mask_frame_masks_head_contacts_and_only_the_columns_asked():
    frame = pd.DataFrame({"code": [MINE], "head_name": ["赵六"], "head_phone": ["13800001111"],
                          "reporter_name": ["张三"]})
    out = mask_frame(frame, Scope("commander"), grid_column="code",
                     columns=["head_name", "head_phone"])
    assert out.iloc[0].tolist() == [MINE, "赵*", "138****1111", "张三"]
