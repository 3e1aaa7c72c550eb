"""Apply status updates to stored requests: the one path every change after intake takes.

A re-imported export of the handling platform, a status update posted to the Open311 API and
the simulator all hand a batch of updates to :func:`apply_updates`. It looks the requests up,
judges each update with :func:`geo.lifecycle.judge_updates` (no backwards moves, no stale
overwrites), fills in what a move implies (a request moved to resolved is resolved at the
update's time), and writes the changes and one event per change through
:mod:`geo.store.updates`, in the caller's transaction.

A batch may carry several updates of one request (an export with one row per step): they
are applied in time order, each judged against the state the one before left.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from geo import clock, lifecycle, vocab
from geo.store import updates as store_updates

#: The columns :func:`apply_updates` returns, one row per update.
RESULT_COLUMNS = ("request_id", "external_id", "from_status", "status", "verdict", "reason")


def apply_updates(conn: Connection, updates: pd.DataFrame, *, actor: str,
                  now: datetime | None = None) -> pd.DataFrame:
    """Judge and apply a batch of updates inside ``conn``'s transaction.

    Parameters
    ----------
    conn : Connection
        Inside a transaction (see :func:`geo.store.engine.transaction`); on an error nothing
        of the batch is kept.
    updates : pandas.DataFrame
        ``external_id`` (or ``id``), ``at`` (naive UTC: when the change happened), and
        optionally ``status`` (missing or None: unchanged, a note only), ``note``,
        ``satisfaction``, ``resolved_at``, ``closed_at``, ``due_at``, and the event-only
        fields ``update_id`` (the sender's id for it) and ``media_url``
        (:data:`geo.store.updates.EVENT_FIELDS`).
    actor : str
        Who sends the batch, written on each event: ``import:FILE``, ``api:KEY NAME``, …
    now : datetime, optional
        Naive UTC time the events are recorded at (default :func:`geo.clock.now`).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``updates``: :data:`RESULT_COLUMNS`. ``verdict`` is ``updated``,
        ``unchanged``, ``stale`` or ``refused`` (``reason`` in English says why).

    Raises
    ------
    geo.store.updates.ConcurrentUpdate
        A request changed between this batch's read and its write (retry the batch).

    """
    recorded = clock.or_now(now)
    out = pd.DataFrame(index=updates.index, columns=list(RESULT_COLUMNS), dtype=object)
    if updates.empty:
        return out
    by_id = "external_id" not in updates.columns
    key = "id" if by_id else "external_id"
    keys = updates[key].astype(np.int64 if by_id else str)
    states = (store_updates.read_states(conn, ids=keys.unique()) if by_id
              else store_updates.read_states(conn, external_ids=keys.unique()))
    # States by request id; the batch's keys mapped to ids.
    ids = keys.map(pd.Series(states["id"].to_numpy(), index=states[key].to_numpy()))
    states = states.set_index("id", drop=False)
    out[key] = keys
    known = ids.notna()
    out.loc[~known, ["verdict", "reason"]] = ["refused", "unknown request"]
    # Several updates of one request: apply them in time order, one round each.
    todo = updates[known].assign(_key=ids[known].astype(np.int64),
                                 _at=pd.to_datetime(updates.loc[known, "at"]))
    todo = todo.sort_values("_at", kind="stable")
    todo["_round"] = todo.groupby("_key").cumcount()
    changes = []
    for _, batch in todo.groupby("_round", sort=True):
        stored = states.loc[batch["_key"]].reset_index(drop=True)
        new = _complete(batch.reset_index(drop=True), stored)
        judged = lifecycle.judge_updates(stored, new)
        for col in ("request_id", "external_id", "from_status"):
            src = {"request_id": "id", "from_status": "status"}.get(col, col)
            out.loc[batch.index, col] = stored[src].to_numpy()
        out.loc[batch.index, "status"] = new["status"].to_numpy()
        out.loc[batch.index, "verdict"] = judged["verdict"].to_numpy()
        out.loc[batch.index, "reason"] = judged["reason"].to_numpy()
        moved = (judged["verdict"] == "updated").to_numpy()
        if moved.any():
            change = _change_rows(stored[moved], new[moved])
            changes.append(change)
            _advance(states, change)
    if changes:
        # One write per request: its final state, guarded by the state first read; one event
        # per step.
        all_changes = pd.concat(changes, ignore_index=True)
        _write(conn, all_changes, actor=actor, recorded_at=recorded)
    return out


def _complete(batch: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """Fill what an update leaves out: its status (a note keeps it), implied times."""
    new = pd.DataFrame({"at": pd.to_datetime(batch["_at"]).astype("datetime64[us]")})
    given = batch["status"] if "status" in batch else pd.Series(None, index=batch.index)
    new["status"] = given.where(given.notna(), stored["status"]).to_numpy()
    for col in ("note", "satisfaction", "resolved_at", "closed_at", "due_at",
                *store_updates.EVENT_FIELDS):
        new[col] = batch[col].to_numpy() if col in batch else None
    new = new.replace({np.nan: None})
    # Moving to resolved (or rated) without a resolution time: resolved at the update's time.
    done = new["status"].isin(vocab.CLOSED_STATUSES).to_numpy()
    no_time = pd.isna(new["resolved_at"]).to_numpy() & pd.isna(stored["resolved_at"]).to_numpy()
    new.loc[done & no_time, "resolved_at"] = new.loc[done & no_time, "at"]
    return new


def _change_rows(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    same = (new["status"].to_numpy() == stored["status"].to_numpy())
    return pd.DataFrame({
        "id": stored["id"].to_numpy(), "from_status": stored["status"].to_numpy(),
        "from_updated_at": stored["updated_at"].to_numpy(),
        "status": new["status"].to_numpy(), "at": new["at"].to_numpy(),
        "note": new["note"].to_numpy(),
        "kind": np.where(same, "note", "status"),
        **{c: new[c].to_numpy() for c in ("resolved_at", "closed_at", "satisfaction", "due_at",
                                          *store_updates.EVENT_FIELDS)},
    })


def _advance(states: pd.DataFrame, change: pd.DataFrame) -> None:
    """Move the in-memory states (indexed by id) on, so the next round is judged on them."""
    ids = change["id"].to_numpy()
    states.loc[ids, "status"] = change["status"].to_numpy()
    states.loc[ids, "updated_at"] = change["at"].to_numpy()
    for col in ("resolved_at", "closed_at", "satisfaction", "due_at"):
        given = change[col].notna().to_numpy()
        if given.any():
            states.loc[ids[given], col] = change[col].to_numpy()[given]


def _write(conn: Connection, changes: pd.DataFrame, *, actor: str,
           recorded_at: datetime) -> None:
    """Write each request's steps: the first guarded by the state as read, then the next."""
    changes = changes.assign(_step=changes.groupby("id").cumcount())
    for _, step in changes.groupby("_step", sort=True):
        store_updates.write_updates(conn, step.drop(columns="_step"), actor=actor,
                                    recorded_at=recorded_at)
