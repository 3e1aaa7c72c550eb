"""Updates by file: requests already stored, re-imported from a later export, move on.

A requests file may carry requests that are already stored (the same external id): a later
export of the handling platform, imported again. Such a row does not add a request; its
state (status, resolution and closing times, satisfaction, note) goes through
:func:`geo.updates.apply_updates`, the one path every change to a stored request takes, so
that the flow's rules hold (:mod:`geo.lifecycle`): a state never moves backwards, an older
file changes nothing, and each change is written as an event by ``import:FILE``.

The time of a row's change is its ``updated_at`` (更新时间) when the file has one, else the
latest of its resolution and closing times, else the time the request was reported. Rows of
a file are judged against the stored state read inside the import's transaction, so a dry
run gives the counts a real run would.

A requests file without what a new request needs (category, reported_at, a location) but with
``external_id`` and something to change is a file of updates only
(:func:`validate_updates`): an unknown external id in it is a refused row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from geo import clock, vocab
from geo import updates as geo_updates
from geo.importer.columns import Columns
from geo.importer.reasons import Reason
from geo.importer.report import Problem
from geo.importer.rows import MAX_PROBLEMS_PER_REASON, Rows, max_len, more_rows, object_values
from geo.store import schema as store_schema
from geo.store import updates as store_updates

#: Columns of a validated requests frame that are not request columns: the note written on
#: an update's event, when the row's state is from (NaT: not said), and whether the file
#: gave a status (a blank one keeps the stored status).
UPDATE_EXTRAS = ("note", "changed_at", "status_given")

#: Notes longer than this are cut (with a warning).
MAX_NOTE = 4000

#: Verdicts as the report counts them: stale rows are unchanged rows too.
VERDICTS = ("updated", "unchanged", "stale", "refused")

# Which of the file's columns a refusal by geo.lifecycle is about, by the start of its reason.
_REASON_FIELDS = (("dated before", "updated_at"), ("cannot move back", "status"),
                  ("a rating needs", "satisfaction"), ("a satisfaction value", "satisfaction"),
                  ("unknown request", "external_id"))


def changed_times(updated: pd.Series, *times: pd.Series) -> pd.Series:
    """Return each row's time of change: ``updated`` where given, else the latest of ``times``.

    NaT where a row gives none of them.
    """
    latest = pd.concat([t.reset_index(drop=True) for t in times], axis=1).max(axis=1)
    given = updated.reset_index(drop=True)
    return given.where(given.notna(), latest).astype("datetime64[us]")


def note_column(rows: Rows) -> pd.Series | None:
    """Return the file's note per row (cut to :data:`MAX_NOTE`); None without the column."""
    return rows.max_length("note", rows.text("note", strip=False), MAX_NOTE, cut=True)


def validate_updates(rows: Rows, cols: Columns) -> pd.DataFrame:
    """Check the rows of a file of updates only; return them indexed by row number.

    Parameters
    ----------
    rows : Rows
        Holds the renamed frame and receives the problems.
    cols : Columns
        From :func:`~geo.importer.columns.canonical`, with ``updates_only`` True.

    Returns
    -------
    pandas.DataFrame
        ``external_id``, ``status`` (None where not given), ``resolved_at``, ``closed_at``,
        ``satisfaction`` and the :data:`UPDATE_EXTRAS`; ``attrs["missing"]`` names what the
        file lacks to create a request.

    """
    table = store_schema.request
    external = rows.max_length("external_id", rows.text("external_id"),
                               max_len(table, "external_id"))
    present = rows.required("external_id", external)
    status = rows.vocab_column("status", vocab.STATUSES, what="status", default=None)
    satisfaction = rows.vocab_column("satisfaction", vocab.SATISFACTION, what="satisfaction",
                                     default=None)
    resolved = rows.times("resolved_at")
    closed = rows.times("closed_at")
    updated = rows.times("updated_at")
    note = note_column(rows)
    assert external is not None  # canonical() returns updates_only only with the column
    rows.duplicates("external_id", external, among=present & ~rows.rejected)
    keep = ~rows.rejected
    changed = changed_times(updated, resolved, closed)
    out = pd.DataFrame({
        "external_id": object_values(external)[keep],
        "status": status[keep],
        "resolved_at": resolved[keep].to_numpy(),
        "closed_at": closed[keep].to_numpy(),
        "satisfaction": satisfaction[keep],
        "note": (object_values(note)[keep] if note is not None
                 else np.full(int(keep.sum()), None, dtype=object)),
        "changed_at": changed[keep].to_numpy(),
        "status_given": pd.notna(status[keep]),
    }, index=pd.Index(rows.numbers[keep], name="row"))
    return out


@dataclass
class FilePlan:
    """What a requests file does to the store: rows to insert, and the stored rows' verdicts.

    Attributes
    ----------
    new : pandas.DataFrame
        Rows whose external id is not stored, in request columns (``updated_at`` filled).
    verdicts : pandas.Series
        Per stored row (indexed by row number): one of :data:`VERDICTS`.
    problems : list of Problem
        A line per refused row (row, field, value, reason) and a warning per stale row.

    """

    new: pd.DataFrame
    verdicts: pd.Series
    problems: list[Problem] = field(default_factory=list)

    def count(self, *verdicts: str) -> int:
        """Rows with any of these verdicts."""
        return int(self.verdicts.isin(verdicts).sum())


def plan_file(conn: Connection, valid: pd.DataFrame, *, actor: str,
              dry_run: bool = False) -> FilePlan:
    """Apply the updates a validated requests file carries; return what is new and verdicts.

    Runs inside ``conn``'s transaction (the caller inserts :attr:`FilePlan.new` in the same
    one). With ``dry_run`` the updates are judged against the stored state, not written.

    Parameters
    ----------
    conn : Connection
        Inside the import's transaction (any connection for a dry run).
    valid : pandas.DataFrame
        From :func:`~geo.importer.validate.validate_requests`: indexed by row number, with
        the :data:`UPDATE_EXTRAS`; ``attrs["names"]`` maps store columns to the file's.
    actor : str
        Written on each event: ``import:FILE``.
    dry_run : bool
        Judge only.

    Returns
    -------
    FilePlan

    Raises
    ------
    geo.store.updates.ConcurrentUpdate
        A request changed between this import's read and its write.

    """
    names: dict[str, str] = valid.attrs.get("names", {})
    missing: tuple[str, ...] = tuple(valid.attrs.get("missing", ()))
    states = store_updates.read_states(conn, external_ids=valid["external_id"])
    found = pd.Index(states["external_id"].astype(str)).get_indexer(
        pd.Index(valid["external_id"].astype(str)))
    stored = found >= 0
    reported = pd.Series(pd.NaT, index=valid.index, dtype="datetime64[us]")
    if stored.any():  # when each stored request was reported
        times = pd.to_datetime(states["reported_at"]).to_numpy(dtype="datetime64[us]")
        reported[stored] = times[found[stored]]
    problems: list[Problem] = []
    verdicts = pd.Series(np.full(int(stored.sum()), None, dtype=object),
                         index=valid.index[stored], dtype=object)
    if missing:  # a file of updates only: an unknown request is a refused row
        unknown = valid.index[~stored]
        verdicts = pd.concat([verdicts, pd.Series("refused", index=unknown, dtype=object)])
        why = Reason("unknown_request", missing="; ".join(missing))
        problems += _listed(unknown, names.get("external_id", "external_id"),
                            valid.loc[unknown, "external_id"], why)
        new = valid.iloc[0:0]
    else:
        new = valid[~stored]
    todo = valid[stored]
    early = _before_reported(todo, reported[stored], names, problems)
    verdicts.loc[early] = "refused"
    todo = todo.drop(index=early)
    if len(todo):
        frame = _update_frame(todo, reported.loc[todo.index])
        judged = geo_updates.apply_updates(conn, frame, actor=actor, dry_run=dry_run)
        verdicts.loc[todo.index] = judged["verdict"].to_numpy()
        problems += _judged_problems(todo, judged, names)
    return FilePlan(new=_new_rows(new), verdicts=verdicts.sort_index(), problems=problems)


def _new_rows(new: pd.DataFrame) -> pd.DataFrame:
    """Return the new rows in request columns, their state dated by their time of change."""
    rows = new.drop(columns=[c for c in UPDATE_EXTRAS if c in new.columns])
    if "reported_at" in new.columns:
        changed = pd.to_datetime(new["changed_at"])
        rows["updated_at"] = changed.where(changed.notna(), new["reported_at"]).to_numpy()
    return rows


def _update_frame(todo: pd.DataFrame, reported: pd.Series) -> pd.DataFrame:
    """Build the updates :func:`geo.updates.apply_updates` takes, one per stored row."""
    at = pd.to_datetime(todo["changed_at"])
    status = todo["status"].where(todo["status_given"].astype(bool), None)
    return pd.DataFrame({
        "external_id": todo["external_id"].astype(str),
        "at": at.where(at.notna(), pd.to_datetime(reported)).astype("datetime64[us]"),
        "status": status.astype(object),
        "note": todo["note"],
        "satisfaction": todo["satisfaction"],
        "resolved_at": todo["resolved_at"],
        "closed_at": todo["closed_at"],
    }, index=todo.index)


def _before_reported(todo: pd.DataFrame, reported: pd.Series, names: dict[str, str],
                     problems: list[Problem]) -> pd.Index:
    """Refuse rows with a time before their stored request was reported; return their rows."""
    refused: pd.Index = pd.Index([], dtype=todo.index.dtype)
    for col in ("resolved_at", "closed_at", "changed_at"):
        when = pd.to_datetime(todo[col])
        hit = todo.index[(when < reported).to_numpy() & ~todo.index.isin(refused)]
        if len(hit) == 0:
            continue
        label = names.get("updated_at" if col == "changed_at" else col, col)
        firsts = reported.loc[hit]
        reasons = [Reason("before_request", at=_local(r)) for r in firsts]
        problems += _listed(hit, label, when.loc[hit].map(_local), reasons)
        refused = refused.append(hit)
    return refused


def _judged_problems(todo: pd.DataFrame, judged: pd.DataFrame,
                     names: dict[str, str]) -> list[Problem]:
    """List each refused row with the field it is about, and each stale row as a warning."""
    problems: list[Problem] = []
    for verdict, severity in (("refused", "error"), ("stale", "warning")):
        hit = judged[judged["verdict"] == verdict]
        if hit.empty:
            continue
        reasons = hit["reason"].astype(str)
        # A stale row is about its time when the file gives one, else about its state.
        stale = "updated_at" if "updated_at" in names else "status"
        columns = reasons.map(_field_of) if verdict == "refused" else pd.Series(
            stale, index=hit.index)
        for col, part in reasons.groupby(columns.to_numpy()):
            values = _values(todo.loc[part.index], str(col))
            why = [_flow_reason(r) for r in part]
            problems += _listed(part.index, names.get(str(col), str(col)), values, why,
                                severity=severity)
    return problems


# geo.lifecycle's English reasons, as reason codes with their params.
_FLOW = (
    (re.compile(r"older than the stored state \(updated (.+) UTC\)"), "stale", ("at",)),
    (re.compile(r"dated before the request was reported \((.+) UTC\)"), "before_request",
     ("at",)),
    (re.compile(r"cannot move back from (\S+).* to (\S+)"), "status_backwards",
     ("old", "new")),
    (re.compile(r"a rating needs"), "rating_needs_value", ()),
    (re.compile(r"a satisfaction value needs"), "value_needs_resolved", ()),
)


def _flow_reason(reason: str) -> Reason:
    """Return the reason code of a refusal (or staleness) by :mod:`geo.lifecycle`."""
    for pattern, code, names in _FLOW:
        match = pattern.match(reason)
        if match:
            params = dict(zip(names, match.groups(), strict=True))
            if code == "status_backwards":
                params = {k: f"{v} ({vocab.STATUSES.get(v, v)})" for k, v in params.items()}
            return Reason(code, **params)
    return Reason("flow", detail=reason)


def _field_of(reason: str) -> str:
    return next((col for start, col in _REASON_FIELDS if reason.startswith(start)), "status")


def _values(rows: pd.DataFrame, col: str) -> pd.Series:
    if col == "updated_at":
        return rows["changed_at"].map(_local)
    return rows[col].astype(object)


def _local(moment: Any) -> str | None:
    """Format a naive-UTC time as the file wrote it: Asia/Shanghai, to the minute."""
    if moment is None or pd.isna(moment):
        return None
    return f"{clock.to_local(pd.Timestamp(moment)):%Y-%m-%d %H:%M}"


def _listed(index: pd.Index, label: str, values: pd.Series | list, reasons: str | list, *,
            severity: str = "error") -> list[Problem]:
    """Make a problem per row, at most :data:`MAX_PROBLEMS_PER_REASON`, then a summary."""
    vals = list(values)
    whys = [reasons] * len(index) if isinstance(reasons, str) else list(reasons)
    shown = min(len(index), MAX_PROBLEMS_PER_REASON)
    out = [Problem(int(index[i]), label, None if pd.isna(vals[i]) else str(vals[i])[:60],
                   whys[i], severity) for i in range(shown)]
    if len(index) > shown:
        out.append(Problem(None, label, None, more_rows(len(index) - shown, whys[0]), severity))
    return out
