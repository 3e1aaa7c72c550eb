"""The request flow's rules: which state changes are allowed, and which update is stale.

Every change to a stored request passes here, whatever brought it: a later export of the
handling platform imported again, a status update posted to the Open311 API, an action in the
UI, the simulator. The rules (DESIGN §7: "a state never moves backwards by accident"):

- a request moves forward along 上报 → 受理 → 派遣 → 处置 → 办结 → 评价 and may skip steps
  (a platform export may go from reported straight to resolved);
- an update older than the stored state is stale and changes nothing (an older file
  re-imported after a newer one);
- an update that would move a request backwards (a rated request becoming "reported"), a
  change dated before the request was reported, or a rating on a request that is not resolved
  is refused, with a reason.

:func:`judge_updates` decides a whole batch at once with numpy, so that 100,000 updates in one
file cost one pass, not one Python call each.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from geo import vocab

#: Flow position of each status.
RANK: dict[str, int] = {status: i for i, status in enumerate(vocab.STATUSES)}

Verdict = Literal["updated", "unchanged", "stale", "refused"]

#: Columns an update may carry besides ``status`` and ``at``.
UPDATE_FIELDS = ("satisfaction", "resolved_at", "closed_at", "note")


def can_move(from_status: str, to_status: str) -> bool:
    """Return True when the flow allows ``from_status`` → ``to_status`` (or no move)."""
    return RANK[to_status] >= RANK[from_status]


def judge_updates(stored: pd.DataFrame, updates: pd.DataFrame) -> pd.DataFrame:
    """Decide, row by row, what each update does to its stored request.

    Parameters
    ----------
    stored : pandas.DataFrame
        The requests as stored, aligned row by row with ``updates``: ``status``,
        ``reported_at``, ``updated_at`` (NaT when never updated), ``satisfaction``,
        ``resolved_at``, ``closed_at``.
    updates : pandas.DataFrame
        ``status`` (a code of :data:`geo.vocab.STATUSES`), ``at`` (naive UTC: when the change
        happened) and optionally the :data:`UPDATE_FIELDS` (missing or None: unchanged).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``updates``: ``verdict`` (``updated``, ``unchanged``, ``stale`` or
        ``refused``) and ``reason`` (English text for refused and stale rows, else None).

    """
    n = len(updates)
    if len(stored) != n:
        raise ValueError(f"{len(stored)} stored rows for {n} updates")
    old = stored.reset_index(drop=True)
    new = updates.reset_index(drop=True)
    old_rank = old["status"].map(RANK).to_numpy()
    new_rank = new["status"].map(RANK).to_numpy()
    at = pd.to_datetime(new["at"])
    reported = pd.to_datetime(old["reported_at"])
    last = pd.to_datetime(old["updated_at"])
    satisfaction = _column(new, "satisfaction")
    rated_without = (new["status"].to_numpy() == "rated") & _missing(satisfaction) \
        & _missing(old["satisfaction"].to_numpy(dtype=object))

    verdict = np.full(n, "updated", dtype=object)
    reason = np.full(n, None, dtype=object)
    # A note is news only when it is newer than the stored state, so a re-run adds nothing.
    newer = (at > last).to_numpy() | last.isna().to_numpy()
    noted = ~_missing(_column(new, "note")) & newer
    changed = (new_rank != old_rank) | _differs(old, new) | noted
    verdict[~changed] = "unchanged"
    checks = (
        # Before the report is impossible, not history: every stored state is at or after
        # the report, so this would otherwise always read as stale.
        ((at < reported).to_numpy(), "refused", _before_reason(reported)),
        ((at < last).to_numpy() & changed, "stale", _stale_reason(last)),
        (new_rank < old_rank, "refused", _backwards_reason(old["status"], new["status"])),
        (rated_without, "refused", lambda _i: "a rating needs a satisfaction value"),
        (~_missing(satisfaction) & (new_rank < RANK["resolved"]), "refused",
         lambda _i: "a satisfaction value needs a resolved or rated request"),
    )
    # Stale first: an older file's lower status is history, not a backwards move.
    for mask, kind, why in checks:
        hit = np.flatnonzero(mask & (verdict != "stale") & (verdict != "refused"))
        verdict[hit] = kind
        reason[hit] = [why(i) for i in hit]
    return pd.DataFrame({"verdict": verdict, "reason": reason}, index=updates.index)


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), None, dtype=object)
    return frame[name].to_numpy(dtype=object)


def _missing(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(values), dtype=bool)


def _differs(old: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    """Mark where an update sets a field to a value other than the stored one."""
    out = np.zeros(len(new), dtype=bool)
    for name in ("satisfaction", "resolved_at", "closed_at"):
        given = _column(new, name)
        stored = _column(old, name)
        set_ = ~_missing(given)
        same = np.array([a == b for a, b in zip(given, stored, strict=True)], dtype=bool) \
            if set_.any() else np.ones(len(new), dtype=bool)
        out |= set_ & ~same
    return out


def _stale_reason(last: pd.Series):
    def why(i: int) -> str:
        return f"older than the stored state (updated {last.iloc[i]:%Y-%m-%d %H:%M} UTC)"
    return why


def _before_reason(reported: pd.Series):
    def why(i: int) -> str:
        return f"dated before the request was reported ({reported.iloc[i]:%Y-%m-%d %H:%M} UTC)"
    return why


def _backwards_reason(old: pd.Series, new: pd.Series):
    def why(i: int) -> str:
        a, b = old.iloc[i], new.iloc[i]
        return (f"cannot move back from {a} ({vocab.STATUSES[a]}) to {b} "
                f"({vocab.STATUSES[b]})")
    return why
