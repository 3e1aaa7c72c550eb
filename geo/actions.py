"""Actions on a request by the people who handle it, and a commander's urge (督办).

Accept, dispatch, note, return (回退), suspend and resume (挂起), resolve, close; urge.

Every action is checked here, below the UI (a hidden button is not a check):

* role: grid heads and admins handle requests; commanders (and admins) may urge; planners
  and wall tokens may do nothing;
* scope: a grid head acts only on requests in their own grids, whatever URL or form
  value is sent;
* state: the action must fit the request's status (:data:`ACTIONS`), and the request must
  still be as the actor saw it (``seen_status`` and ``seen_updated_at``). An action on a
  request that changed meanwhile is refused, never applied to a newer state.

An allowed action is one request_event (who, when, from, to, note), written with the
request's change in one transaction together with its audit line. Refusals raise
:class:`ActionRefused` or :class:`geo.access.AccessDenied` (audited as ``denied``) with a
short ``reason`` code that the UI words in the user's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from geo import clock, vocab
from geo.access import AccessDenied, Scope
from geo.photos import Photo
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import photos as store_photos
from geo.store import updates as store_updates
from geo.workdays import WorkCalendar

#: Open statuses (a request not yet resolved).
OPEN = frozenset(s for s in vocab.STATUSES if s not in vocab.CLOSED_STATUSES)
#: A return (回退) sends a request one step back to whoever handed it on.
RETURN_TO = {"accepted": "reported", "dispatched": "accepted", "in_progress": "accepted"}
#: The longest note kept (characters).
MAX_NOTE = 1000


@dataclass(frozen=True)
class ActionRule:
    """Who may take an action, from which statuses, and what it needs."""

    roles: frozenset[str]
    from_statuses: frozenset[str]
    to_status: Callable[[str], str]
    needs_note: bool = False
    needs_assignee: bool = False


def _stay(status: str) -> str:
    return status


def _to(target: str) -> Callable[[str], str]:
    return lambda _status: target


_HANDLERS = frozenset({"grid_head", "admin"})

#: The actions, in the order the UI offers them.
ACTIONS: dict[str, ActionRule] = {
    "accept": ActionRule(_HANDLERS, frozenset({"reported"}), _to("accepted")),
    "dispatch": ActionRule(_HANDLERS, frozenset({"reported", "accepted", "dispatched"}),
                           _to("dispatched"), needs_assignee=True),
    "note": ActionRule(_HANDLERS, frozenset(vocab.STATUSES), _stay, needs_note=True),
    "return": ActionRule(_HANDLERS, frozenset(RETURN_TO), RETURN_TO.__getitem__,
                         needs_note=True),
    "suspend": ActionRule(_HANDLERS, OPEN, _stay, needs_note=True),
    "resume": ActionRule(_HANDLERS, OPEN, _stay),
    "resolve": ActionRule(_HANDLERS, frozenset({"accepted", "dispatched", "in_progress"}),
                          _to("resolved"), needs_note=True),
    "close": ActionRule(_HANDLERS, frozenset({"resolved"}), _stay),
    "urge": ActionRule(frozenset({"commander", "admin"}), OPEN, _stay, needs_note=True),
}


class ActionRefused(ValueError):
    """An action the request's state does not allow. ``reason`` is a short code.

    Codes: ``unknown`` (no such request), ``stale`` (changed meanwhile), ``status`` (not
    from this status), ``suspended`` / ``not_suspended``, ``needs_note``,
    ``needs_assignee``, ``too_long``, ``action`` (no such action).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ActionResult:
    """What an applied action did."""

    event_id: int
    from_status: str
    to_status: str
    at: datetime


def allowed_actions(scope: Scope, state: dict[str, Any]) -> list[str]:
    """Return the actions ``scope`` may take on a request in ``state`` (for the UI's buttons).

    The UI only offers these; :func:`act` checks again whatever is sent.
    """
    if not scope.covers_code(state.get("grid_code")):
        return []
    return [name for name, rule in ACTIONS.items()
            if scope.role in rule.roles and _state_problem(name, rule, state) is None]


def act(engine: Engine, scope: Scope, *, request_id: int, action: str, seen_status: str,
        seen_updated_at: datetime | None, note: str | None = None,
        assignee: str | None = None, photo: Photo | None = None,
        calendar: WorkCalendar | None = None, now: datetime | None = None) -> ActionResult:
    """Take one action on one request, after checking role, scope and state.

    Parameters
    ----------
    engine : Engine
        The database.
    scope : Scope
        Who acts (role, areas, actor name for the event and the audit log).
    request_id : int
        The request.
    action : str
        One of :data:`ACTIONS`.
    seen_status, seen_updated_at
        The request's status and ``updated_at`` as the actor saw them.
    note : str, optional
        The note, reason or resolution text (required by some actions).
    assignee : str, optional
        Department or alliance member, for ``dispatch``.
    photo : Photo, optional
        A cleaned photo (:func:`geo.photos.clean_photo`), for ``resolve``.
    calendar : WorkCalendar, optional
        Moves the deadline on ``resume`` by the working days the request was suspended
        (default: calendar time).
    now : datetime, optional
        Naive UTC (default :func:`geo.clock.now`).

    Returns
    -------
    ActionResult

    Raises
    ------
    AccessDenied
        The role may not take this action, or the request lies outside the scope.
    ActionRefused
        The request's state does not allow it, or it changed since the actor saw it.

    """
    moment = clock.or_now(now)
    rule = ACTIONS.get(action)
    if rule is None:
        raise ActionRefused(f"no action {action!r}", reason="action")
    states = store_updates.read_states(engine, ids=[int(request_id)])
    if states.empty:
        raise ActionRefused(f"no request {request_id}", reason="unknown")
    state = {str(k): _plain(v) for k, v in states.iloc[0].to_dict().items()}
    _check_access(engine, scope, rule, action=action, state=state)
    if state["status"] != seen_status or state["updated_at"] != _plain(seen_updated_at):
        raise ActionRefused(f"request {request_id} changed since it was shown "
                            f"(now {state['status']})", reason="stale")
    problem = _state_problem(action, rule, state)
    if problem is not None:
        raise ActionRefused(problem[1], reason=problem[0])
    text = (note or "").strip() or None
    if rule.needs_note and not text:
        raise ActionRefused(f"{action} needs a note", reason="needs_note")
    if text is not None and len(text) > MAX_NOTE:
        raise ActionRefused(f"the note has {len(text)} characters; at most {MAX_NOTE}",
                            reason="too_long")
    who = (assignee or "").strip() or None
    if rule.needs_assignee and not who:
        raise ActionRefused("dispatch needs a department or alliance member",
                            reason="needs_assignee")
    to_status = rule.to_status(state["status"])
    values = _values(action, state, to_status=to_status, moment=moment, assignee=who,
                     calendar=calendar)
    event = {"at": moment, "from_status": state["status"], "to_status": to_status,
             "actor": scope.actor[:64], "note": _event_note(action, text, who),
             "kind": action, "recorded_at": moment}
    with store_engine.transaction(engine) as conn:
        try:
            event_id = store_updates.write_action(
                conn, request_id=int(request_id), expected_status=state["status"],
                expected_updated_at=state["updated_at"], values=values, event=event)
        except store_updates.ConcurrentUpdate:
            raise ActionRefused(f"request {request_id} changed meanwhile",
                                reason="stale") from None
        if photo is not None and action == "resolve":
            store_photos.insert_photo(conn, request_id=int(request_id), data=photo.data,
                                      content_type=photo.content_type, sha256=photo.sha256,
                                      width=photo.width, height=photo.height,
                                      actor=scope.actor, at=moment)
        store_access.log_audit(conn, actor=scope.actor, action=f"request.{action}",
                               area=state["grid_code"], rows=1,
                               detail={"request": int(request_id), "from": state["status"],
                                       "to": to_status, "photo": photo is not None})
    return ActionResult(event_id=event_id, from_status=state["status"], to_status=to_status,
                        at=moment)


def _check_access(engine: Engine, scope: Scope, rule: ActionRule, *, action: str,
                  state: dict[str, Any]) -> None:
    """Refuse (and audit) an action outside the role or the scope."""
    why = None
    if scope.role not in rule.roles:
        why = f"a {scope.role} may not {action} requests"
    elif not scope.covers_code(state.get("grid_code")):
        why = f"request {state['id']} lies outside {scope.actor}'s areas"
    if why is None:
        return
    store_access.log_audit(engine, actor=scope.actor, action="denied",
                           area=state.get("grid_code"),
                           detail={"action": action, "request": int(state["id"]), "why": why})
    raise AccessDenied(why, reason="outside" if "outside" in why else "role")


def _state_problem(action: str, rule: ActionRule,
                   state: dict[str, Any]) -> tuple[str, str] | None:
    status = state["status"]
    if status not in rule.from_statuses:
        return "status", f"cannot {action} a request that is {status} ({vocab.STATUSES[status]})"
    suspended = state.get("suspended_at") is not None
    if action == "resume" and not suspended:
        return "not_suspended", "the request is not suspended"
    if action == "suspend" and suspended:
        return "suspended", "the request is already suspended"
    if suspended and action not in ("resume", "note", "urge"):
        return "suspended", "the request is suspended; resume it first"
    if action == "close" and state.get("closed_at") is not None:
        return "status", "the request is already closed"
    return None


def _values(action: str, state: dict[str, Any], *, to_status: str, moment: datetime,
            assignee: str | None, calendar: WorkCalendar | None) -> dict[str, Any]:
    """Return the request's columns that ``action`` sets."""
    values: dict[str, Any] = {"status": to_status, "updated_at": moment}
    if action == "dispatch":
        values["assignee"] = assignee[:64] if assignee else None
    elif action == "return":
        values["assignee"] = None
    elif action == "suspend":
        values["suspended_at"] = moment
    elif action == "resume":
        values["suspended_at"] = None
        if state.get("due_at") is not None:
            values["due_at"] = resumed_due(state["due_at"], since=state["suspended_at"],
                                           until=moment, calendar=calendar)
    elif action == "resolve":
        values["resolved_at"] = moment
    elif action == "close":
        values["closed_at"] = moment
    elif action == "urge" and state.get("supervised_at") is None:
        values["supervised_at"] = moment
    return values


def resumed_due(due: datetime, *, since: datetime, until: datetime,
                calendar: WorkCalendar | None = None) -> datetime:
    """Return a deadline moved on by the time a request was suspended (挂起停表).

    With a working calendar, the deadline moves by the working days that began during the
    suspension (local days from the day after ``since`` through the day of ``until``); a
    suspension within one day moves it by its length. Without one, by calendar time.
    """
    if calendar is None:
        return due + (until - since)
    first, last = clock.local_date(since), clock.local_date(until)
    days = sum(calendar.is_workday(first + timedelta(days=k))
               for k in range(1, (last - first).days + 1))
    if days == 0:
        return due + (until - since)
    local_due = clock.to_local(due)
    moved: date = local_due.date()
    while days:
        moved += timedelta(days=1)
        days -= calendar.is_workday(moved)
    return clock.from_local(datetime.combine(moved, local_due.time()))


def _event_note(action: str, note: str | None, assignee: str | None) -> str | None:
    if action == "dispatch" and assignee:
        return f"→ {assignee}" + (f": {note}" if note else "")
    return note


def _plain(value: Any) -> Any:
    """Turn pandas' NaT/NaN and Timestamps into None and datetimes, for comparisons."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
