"""Which admin units each grid belongs to, and which of them a scope reaches.

Per-grid counts roll up to community → township → county → city along
``grid.community_code`` and the ``admin_unit.parent_code`` chain. Where the chain is
missing (no admin units loaded), the 统计用区划代码 prefixes stand in: township = the first
9 digits of the community code, county = the first 6, city = the first 4 + "00".
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from sqlalchemy.engine import Engine

from geo.access import AccessDenied, Scope
from geo.store.requests import read_admin_unit_attributes, read_grid_attributes


class UnitHierarchy(NamedTuple):
    """Which admin units each grid belongs to.

    Attributes
    ----------
    grids : pandas.DataFrame
        Indexed by grid code: ``name``, ``population``, ``wechat_members`` and one column
        per admin level (community, township, county, city) holding that unit's code.
    units : pandas.DataFrame
        Indexed by unit code: ``name``, ``level`` and ``parent_code`` of every unit known
        from admin_unit or from the code prefixes.

    """

    grids: pd.DataFrame
    units: pd.DataFrame


def unit_hierarchy(engine: Engine) -> UnitHierarchy:
    """Map every grid to its community, township, county and city.

    Follows ``grid.community_code`` and the ``admin_unit.parent_code`` chain; a level the
    chain does not reach is filled from the code prefix (see the module docstring).
    """
    grids = read_grid_attributes(engine).set_index("code")
    admin = read_admin_unit_attributes(engine).set_index("code")
    parent = admin["parent_code"].dropna().to_dict()
    level_of = admin["level"].to_dict()

    chains: dict[str, dict[str, str]] = {}
    for comm in grids["community_code"].dropna().unique():
        chain = {"community": comm}
        code = comm
        for _ in range(8):  # a malformed parent loop must not hang the dashboard
            code = parent.get(code)
            if code is None:
                break
            chain.setdefault(level_of.get(code, ""), code)
        chain.setdefault("township", comm[:9])
        chain.setdefault("county", comm[:6])
        chain.setdefault("city", comm[:4] + "00")
        chains[comm] = chain
    hierarchy = grids[["name", "population", "wechat_members"]].copy()
    for level in ("community", "township", "county", "city"):
        hierarchy[level] = grids["community_code"].map(
            {c: ch[level] for c, ch in chains.items()})

    # Units named by the prefixes but absent from admin_unit still need a row.
    rows = []
    ups = (("community", "township"), ("township", "county"), ("county", "city"),
           ("city", None))
    for level, up in ups:
        pairs = hierarchy[[level] + ([up] if up else [])].drop_duplicates(level)
        for rec in pairs.itertuples(index=False):
            code = rec[0]
            if code not in admin.index:
                rows.append({"code": code, "name": None, "level": level,
                             "parent_code": rec[1] if up else None})
    units = admin[["name", "level", "parent_code"]]
    if rows:
        units = pd.concat([units, pd.DataFrame(rows).set_index("code")])
    return UnitHierarchy(hierarchy, units.sort_index())


def within(hierarchy: UnitHierarchy, scope: Scope | None) -> UnitHierarchy:
    """Keep the grids inside ``scope`` (and the units above or inside them).

    A grid is inside when the scope names its code or the code of its community,
    township, county or city, as :func:`geo.store.access.scope_condition` does in SQL.
    """
    if scope is None or scope.areas is None:  # everywhere
        return hierarchy
    grids = hierarchy.grids
    areas = set(scope.areas)
    keep = grids.index.isin(list(areas))
    for level in ("community", "township", "county", "city"):
        keep |= grids[level].isin(areas).to_numpy()
    inside = grids[keep]
    codes = set()
    for level in ("community", "township", "county", "city"):
        codes |= set(inside[level].dropna())
    units = hierarchy.units[hierarchy.units.index.isin(list(codes))]
    return UnitHierarchy(inside, units)


def check_area(hierarchy: UnitHierarchy, area: str | None, scope: Scope | None) -> None:
    """Raise :class:`~geo.access.AccessDenied` when ``area`` reaches outside ``scope``.

    An area is allowed when it is one of the scope's grids or units, or lies inside one
    of them; ``None`` (everything) is allowed because every read is scoped anyway.
    """
    if area is None or scope is None or scope.everywhere or scope.covers_code(area):
        return
    inner = within(hierarchy, scope)
    if area in inner.grids.index:
        return
    grids = hierarchy.grids
    for level in ("community", "township", "county", "city"):
        mine = grids.index[(grids[level] == area).to_numpy()]
        if len(mine) and mine.isin(inner.grids.index).all():
            return
    raise AccessDenied(f"{area} is outside this account's areas "
                       f"({', '.join(scope.areas or ())})")
