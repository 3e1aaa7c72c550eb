"""One tiny literal city shared by the heat, bulletin and export tests.

Four grids A–D in three communities, two townships, one county::

    益阳市 430900
    └── 赫山区 430903
        ├── 甲街道 430903003 ── 甲社区 C1 (grids A, B), 乙社区 C2 (grid C)
        └── 乙镇 430903004 ──── 丙村 C3 (grid D)
"""

import pandas as pd

A, B, C, D = "430903003001001", "430903003001002", "430903003002001", "430903004001001"
C1, C2, C3 = "430903003001", "430903003002", "430903004001"
T1, T2 = "430903003", "430903004"
COUNTY, CITY = "430903", "430900"


def admin_units() -> pd.DataFrame:
    """The admin units above, parent links included (no geometry)."""
    return pd.DataFrame({
        "code": [CITY, COUNTY, T1, T2, C1, C2, C3],
        "name": ["益阳市", "赫山区", "甲街道", "乙镇", "甲社区", "乙社区", "丙村"],
        "level": ["city", "county", "township", "township", "community", "community",
                  "community"],
        "parent_code": [None, CITY, COUNTY, COUNTY, T1, T1, T2],
    })
