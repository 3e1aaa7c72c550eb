"""One area filter value: which grids a read covers, and whose scope it runs under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement

from geo.access import Scope
from geo.store._sql import AnySelect
from geo.store.access import scoped


@dataclass(frozen=True)
class AreaFilter:
    """The area a read covers: one grid, an admin-code prefix or a list of grids, in a scope.

    Built by :func:`geo.heat.area_filter` from an area code; the default covers everything
    (requests outside every grid included). At most one of ``grid_code``, ``grid_prefix``
    and ``grid_codes`` is normally set; any that are set all apply.

    Parameters
    ----------
    grid_code : str, optional
        Only this grid.
    grid_prefix : str, optional
        Only grids whose code starts with this admin-code prefix (统计用区划代码).
    grid_codes : tuple of str, optional
        Only these grids (an admin unit whose grids do not share its code as a prefix).
    scope : geo.access.Scope, optional
        Only grids inside it (:func:`geo.store.access.scope_condition`); None: no restriction.

    """

    grid_code: str | None = None
    grid_prefix: str | None = None
    grid_codes: tuple[str, ...] | None = None
    scope: Scope | None = None

    def __post_init__(self) -> None:
        if self.grid_codes is not None and not isinstance(self.grid_codes, tuple):
            # A list would make the value unhashable (it keys Streamlit caches).
            object.__setattr__(self, "grid_codes", tuple(self.grid_codes))


#: Every request, outside every grid included, with no scope.
EVERYWHERE = AreaFilter()


def in_area(stmt: AnySelect, column: ColumnElement[Any], area: AreaFilter) -> AnySelect:
    """Restrict ``stmt`` to the rows whose grid code ``column`` lies in ``area``."""
    stmt = scoped(stmt, column, area.scope)
    if area.grid_code is not None:
        stmt = stmt.where(column == area.grid_code)
    if area.grid_codes is not None:
        stmt = stmt.where(column.in_(list(area.grid_codes)))
    if area.grid_prefix is not None:
        # Admin codes are prefixes of their grids' codes (统计用区划代码).
        stmt = stmt.where(column.startswith(area.grid_prefix, autoescape=True))
    return stmt



