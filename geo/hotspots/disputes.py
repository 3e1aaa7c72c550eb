"""The dispute inputs of every view: dispute rows in a window, counts per grid."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd

__all__ = ["disputes_per_grid", "select_disputes"]


def select_disputes(disputes: pd.DataFrame, *, since: datetime | None,
                     until: datetime | None, category: str | None) -> pd.DataFrame:
    """Keep dispute rows reported in [since, until)."""
    keep = np.ones(len(disputes), dtype=bool)
    if category is not None and "category" in disputes.columns:
        keep &= (disputes["category"] == category).to_numpy()
    if since is not None or until is not None:
        if "reported_at" not in disputes.columns:
            raise ValueError("since/until need a 'reported_at' column")
        t = pd.to_datetime(disputes["reported_at"])
        if since is not None:
            keep &= (t >= pd.Timestamp(since)).to_numpy()
        if until is not None:
            keep &= (t < pd.Timestamp(until)).to_numpy()
    return disputes[keep]


def disputes_per_grid(disputes: pd.Series | pd.DataFrame, codes: Iterable[str], *,
                      since: datetime | None = None, until: datetime | None = None,
                      category: str | None = "dispute") -> pd.Series:
    """Count disputes per grid, 0 for grids with none.

    Parameters
    ----------
    disputes : pandas.Series or pandas.DataFrame
        One of: a Series of counts indexed by grid code; a per-grid count frame with
        ``grid_code`` and a ``disputes`` (or ``count``) column, as
        :func:`geo.store.request_counts_per_grid` returns; or request rows with
        ``grid_code`` (and ``category`` / ``reported_at`` for the filters below).
    codes : iterable of str
        The grid codes to report, in order.
    since, until : datetime, optional
        Only rows reported in [since, until) (request rows only).
    category : str or None
        Only rows of this category when the rows have a ``category`` column.

    Returns
    -------
    pandas.Series
        int64 counts indexed by grid code, named ``disputes``. Counts for codes not in
        ``codes`` (or with no grid) are dropped.

    """
    index = pd.Index(list(codes), dtype=object)
    if isinstance(disputes, pd.Series):
        counts = disputes
    elif "grid_code" not in disputes.columns:
        raise ValueError("disputes needs a 'grid_code' column or a Series by grid code")
    elif {"disputes", "count"} & set(disputes.columns):
        if since is not None or until is not None:
            raise ValueError("since/until apply to request rows, not to per-grid counts")
        col = "disputes" if "disputes" in disputes.columns else "count"
        counts = disputes.groupby("grid_code")[col].sum()
    else:
        rows = select_disputes(disputes, since=since, until=until, category=category)
        counts = rows["grid_code"].value_counts()
    counts = pd.to_numeric(counts, errors="raise").fillna(0)
    counts.index = counts.index.astype(str)
    out = counts.reindex(index, fill_value=0)
    if (out < 0).any():
        raise ValueError("dispute counts must not be negative")
    return out.astype(np.int64).rename("disputes")

