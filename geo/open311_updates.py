"""A request's progress through Open311: its history, handlers' updates, the updates feed.

Three GeoReport v2 extensions, each as it is used in the wild rather than invented here:

* **Update history** (wiki.open311.org/GeoReport_v2/Extensions, as Chicago, Boston and San
  Francisco serve it): every request read through the API carries ``notes``, one entry per
  step of its flow (``datetime``, ``type`` ``opened`` / ``activity`` / ``closed``,
  ``summary``, ``description``, and GridMap's own fields in the note's
  ``extended_attributes``), and ``status_notes`` is the latest note. :func:`attach_history`.
* **POST Service Request Update** (mySociety's servicerequestupdates extension: what
  FixMyStreet's Open311 client sends and what its ``open311/v2/servicerequestupdates``
  receiver takes from a council's back office): a handling platform posts ``api_key``,
  ``service_request_id``, ``update_id`` (its own id for the update), ``updated_datetime``,
  ``status``, ``description`` and ``media_url``. :func:`post_update` judges it with
  :func:`geo.updates.apply_updates`, the one path every change takes, so the same rules
  hold as for a re-imported export. The ``update_id`` makes a resend safe: it is stored
  on the event, and the same update sent again is answered with the first answer and
  writes nothing.
* **GET Service Request Updates** (the same extension): :func:`feed` lists updates written
  in a time window, so that a mini-program backend can show residents their request's
  progress by polling.

Statuses: GridMap's six (``reported`` … ``rated``, or their Chinese names) are accepted,
and so is mySociety's extended Open311 set where it has a GridMap equivalent
(:data:`STATUS_ALIASES`); GridMap answers in that set (:data:`OPEN311_STATUS`), lower case as
the extension's GET does, with GridMap's own status in ``extended_attributes``.

Personal data: reporters' names, phones and e-mails are never output; a handler's note
may mention them, so every note is shown through :func:`geo.access.mask_text` with the
request's own reporter contacts masked too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from geo import clock, intake, updates, vocab
from geo.access import mask_text, name_forms
from geo.importer import MAX_DESCRIPTION
from geo.store import engine as store_engine
from geo.store import requests as store_requests
from geo.store import updates as store_updates

#: GridMap status → mySociety's extended Open311 status (lower case, as its GET answers).
OPEN311_STATUS = {"reported": "open", "accepted": "investigating",
                  "dispatched": "action_scheduled", "in_progress": "in_progress",
                  "resolved": "fixed", "rated": "fixed"}
#: mySociety's extended statuses a handler may post, → GridMap status. ``open`` keeps the
#: status (a note on an open request); the rest of that set has no GridMap equivalent.
STATUS_ALIASES: dict[str, str | None] = {
    "open": None, "investigating": "accepted", "action_scheduled": "dispatched",
    "planned": "dispatched", "in_progress": "in_progress", "fixed": "resolved",
    "closed": "resolved"}
#: The event kinds shown as a request's history and in the feed (escalations are internal).
PUBLIC_KINDS = ("status", "note", "accept", "dispatch", "return", "suspend", "resume",
                "resolve", "close", "urge", "claim")

#: How each action (geo.actions, geo.alliance) reads in a request's history.
_ACTION_SUMMARY = {
    "accept": "受理 (accepted)", "dispatch": "派遣 (dispatched)", "return": "回退 (returned)",
    "suspend": "挂起 (suspended)", "resume": "恢复办理 (resumed)", "resolve": "办结 (resolved)",
    "close": "结案 (closed)", "urge": "督办 (supervised)", "claim": "联盟认领 (claimed)",
}
#: How far in the future an updated_datetime may be (clock skew between the two systems).
MAX_SKEW = timedelta(minutes=5)
#: The feed leaves out the last few seconds, so that a write recorded a moment before
#: another but committed after it is not skipped by a client that polls in between.
FEED_SETTLE = timedelta(seconds=5)
#: The largest page of the feed (GeoReport v2's default query limit).
MAX_FEED_PAGE = 1000
#: The years a date-time in the API may fall in (requests, updates, search bounds).
TIME_RANGE = (1900, 2200)
#: How many times a POST is retried when the request changed between read and write.
_RETRIES = 3


# --------------------------------------------------------------------------- field types


def local_time(value: object, info: ValidationInfo) -> datetime | None:
    """Read an ISO 8601 time; one without an offset is Asia/Shanghai, as residents read it."""
    text = value if isinstance(value, str) else None
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise intake.IntakeError(400, f"{info.field_name} is not an ISO 8601 date-time: "
                                      f"{text[:40]!r}", info.field_name) from None
    moment = moment.replace(tzinfo=clock.SHANGHAI) if moment.tzinfo is None else moment
    # Far ends of the calendar (0001-01-01+14:00, 9999-12-31) overflow once converted to
    # UTC or moved by a 90-day span: refuse them here, as the client's error.
    if not TIME_RANGE[0] <= moment.year <= TIME_RANGE[1]:
        raise intake.IntakeError(400, f"{info.field_name} must fall in the years "
                                      f"{TIME_RANGE[0]}–{TIME_RANGE[1]}: {text[:40]!r}",
                                 info.field_name)
    return moment


#: An ISO 8601 date-time field (aware; a time without an offset is Asia/Shanghai).
LocalTime = Annotated[datetime | None, BeforeValidator(local_time)]


def _status(text: str | None) -> str | None:
    if text is None:
        return None
    code = vocab.lookup(vocab.STATUSES, text)
    if code is not None:
        return code
    key = text.strip().lower()
    if key in STATUS_ALIASES:
        return key if key == "open" else STATUS_ALIASES[key]
    if key == "reopen":
        raise intake.IntakeError(400, "GridMap never reopens a request: a state does not "
                                      "move back; report it again instead", "status")
    raise intake.IntakeError(400, f"status {text[:40]!r} has no GridMap equivalent; send one "
                             f"of {', '.join(vocab.STATUSES)} (or {', '.join(STATUS_ALIASES)})",
                             "status")


def _satisfaction(text: str | None) -> str | None:
    if text is None:
        return None
    code = vocab.lookup(vocab.SATISFACTION, text)
    if code is None:
        names = ", ".join(f"{c} ({n})" for c, n in vocab.SATISFACTION.items())
        raise intake.IntakeError(400, f"satisfaction {text[:40]!r} is out of range; send one "
                                      f"of {names}", "satisfaction")
    return code


# --------------------------------------------------------------------------- the models


class ServiceRequestUpdate(intake.RequestRef):
    """A status update posted by a handling platform (mySociety's servicerequestupdates).

    ``service_request_id`` is GridMap's id (as POST /requests.json answered it); an unknown
    one is a 404. Unknown fields (the handler's own ``first_name``, ``email`` … which
    FixMyStreet sends) are ignored and never stored.
    """

    model_config = ConfigDict(json_schema_extra=lambda schema: schema["properties"][
        "service_request_id"].update(description="GridMap's id of the request, as POST "
                                                 "/requests.json answered it (required)."))

    update_id: intake.Text = Field(
        max_length=64, description="The sender's own id for this update (required): the "
                                   "same update_id sent again is a resend, answered with "
                                   "the first answer.")
    updated_datetime: LocalTime = Field(
        description="When the change happened (ISO 8601; without an offset, Asia/Shanghai). "
                    "Not before the request was reported, nor in the future.")
    status: Annotated[intake.Text, AfterValidator(_status)] = Field(
        None, json_schema_extra={"enum": [*vocab.STATUSES, *vocab.STATUSES.values(),
                                          *(a.upper() for a in STATUS_ALIASES)]},
        description="The status after the update: GridMap's (reported, accepted, "
                    "dispatched, in_progress, resolved, rated, or the Chinese names) or "
                    "mySociety's extended Open311 status (OPEN keeps an open request's "
                    "status, INVESTIGATING, ACTION_SCHEDULED, PLANNED, IN_PROGRESS, FIXED, "
                    "CLOSED). Absent: a note only.")
    description: intake.Text = Field(None, max_length=MAX_DESCRIPTION,
                                     description="The note shown to the resident.")
    media_url: intake.Text = Field(None, max_length=1024,
                                   description="A photo of the update (the repair done).")
    satisfaction: Annotated[intake.Text, AfterValidator(_satisfaction)] = Field(
        None, json_schema_extra={"enum": [*vocab.SATISFACTION, *vocab.SATISFACTION.values()]},
        description="Extension: the resident's rating, with status rated.")

    @model_validator(mode="after")
    def _whole(self) -> ServiceRequestUpdate:
        if self.update_id is None:
            raise intake.IntakeError(400, "update_id is required", "update_id")
        if self.updated_datetime is None:
            raise intake.IntakeError(400, "updated_datetime is required", "updated_datetime")
        return self


class UpdatesQuery(BaseModel):
    """The query of ``GET /servicerequestupdates.json`` (besides the ``api_key``).

    The window bounds when GridMap *recorded* an update, not when it happened, so that an
    export imported today with last week's changes still reaches a client polling today.
    """

    start_date: LocalTime = Field(
        None, description="Updates recorded at or after this time (ISO 8601); default one "
                          "day before end_date.")
    end_date: LocalTime = Field(
        None, description="Updates recorded before this time; default (and at most) a few "
                          "seconds ago.")
    after_update_id: int | None = Field(
        None, ge=1, description="Extension: continue after this update_id (the last one "
                                "received): the next page, or the next poll. Instead of "
                                "start_date.")
    page_size: int = Field(MAX_FEED_PAGE, ge=1, le=MAX_FEED_PAGE,
                           description="Extension: updates per page (the Link header "
                                       "names the next page when there is one).")

    @model_validator(mode="after")
    def _span(self) -> UpdatesQuery:
        if self.start_date is not None and self.after_update_id is not None:
            raise intake.IntakeError(400, "give start_date or after_update_id, not both",
                                     "after_update_id")
        if (self.start_date is not None and self.end_date is not None
                and self.end_date < self.start_date):
            raise intake.IntakeError(400, "end_date is before start_date", "end_date")
        return self


# --------------------------------------------------------------------------- history


def _masker(engine: Engine | Connection, ids: Sequence[int]):
    """Return note → masked note for each request (its own reporter's contacts masked too)."""
    frame = store_requests.reporter_contacts(engine, ids)
    contacts: dict[int, tuple[list[object], list[Any]]] = {}
    for rid, name, phone, email in zip(frame["id"], frame["reporter_name"],
                                       frame["reporter_phone"], frame["reporter_email"],
                                       strict=True):
        # Stored "family given" with a space; a note writes Chinese names without one.
        contacts[int(rid)] = (name_forms(name), [phone, email])

    def mask(request_id: int, note: Any) -> str | None:
        if note is None or pd.isna(note) or not str(note).strip():
            return None
        names, given = contacts.get(request_id, ([], []))
        return str(mask_text(str(note), names=names, contacts=given))
    return mask


def _summary(kind: str, status: str) -> str:
    if kind == "note":
        return "备注 (note)"
    if kind in _ACTION_SUMMARY:
        return _ACTION_SUMMARY[kind]
    return f"{vocab.STATUSES.get(status, status)} ({status})"


def _note_type(from_status: Any, to_status: str) -> str:
    if from_status is None or pd.isna(from_status):
        return "opened"
    if to_status in vocab.CLOSED_STATUSES and from_status not in vocab.CLOSED_STATUSES:
        return "closed"
    return "activity"


def attach_history(engine: Engine, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill ``notes`` and ``status_notes`` of requests in the GeoReport v2 shape, in place.

    Parameters
    ----------
    engine : Engine
        Where to read.
    requests : list of dict
        As :func:`geo.intake.get` and :func:`geo.intake.query` return them.

    Returns
    -------
    list of dict
        The same requests. ``notes`` lists each status change and note in the order it
        happened: ``datetime``, ``type`` (``opened``, ``activity`` or ``closed``),
        ``summary``, ``description`` (the note, personal data masked, or null) and
        ``extended_attributes`` (``update_id``, GridMap ``status``, ``media_url``).
        ``status_notes`` is the latest note, or null.

    """
    ids = [int(r["service_request_id"]) for r in requests]
    if not ids:
        return requests
    events = store_updates.read_events(engine, ids=ids, kinds=PUBLIC_KINDS)
    events = events.sort_values(["request_id", "at", "id"], kind="stable")
    events["when"] = clock.iso_local_series(events["at"])
    mask = _masker(engine, ids)
    by_request: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for ev in events.to_dict("records"):
        rid = int(ev["request_id"])
        by_request[rid].append({
            "datetime": ev["when"],
            "type": _note_type(ev["from_status"], ev["to_status"]),
            "summary": _summary(ev["kind"], ev["to_status"]),
            "description": mask(rid, ev["note"]),
            "extended_attributes": {"update_id": str(ev["id"]), "status": ev["to_status"],
                                    "media_url": _text_or_none(ev["media_url"])},
        })
    for item, rid in zip(requests, ids, strict=True):
        notes = by_request[rid]
        item["notes"] = notes
        item["status_notes"] = next((n["description"] for n in reversed(notes)
                                     if n["description"] is not None), None)
    return requests


def _text_or_none(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


# --------------------------------------------------------------------------- posting


def _answer(event: Mapping[str, Any]) -> dict[str, Any]:
    """Return the answer to a POST that wrote ``event``.

    Built from the stored event alone, so that a resend gets exactly the first answer.
    """
    return {
        "update_id": str(event["id"]),
        "service_request_id": str(event["request_id"]),
        "status": OPEN311_STATUS[event["to_status"]],
        "updated_datetime": clock.iso_local(event["at"]),
        "extended_attributes": {"status": event["to_status"], "verdict": "updated",
                                "client_update_id": event["update_id"]},
    }


def _same(event: Mapping[str, Any], at: datetime, status: str | None,
          note: str | None) -> bool:
    """Return True when a stored event is the update given (a resend), not another one."""
    return (pd.Timestamp(event["at"]) == pd.Timestamp(at)
            and (status is None or event["to_status"] == status)
            and (event["note"] or None) == (note or None))


def post_update(engine: Engine, fields: Mapping[str, object], *, key_name: str,
                now: datetime | None = None) -> dict[str, Any]:
    """Judge and apply one handler's status update; return the answer's one item.

    Parameters
    ----------
    engine : Engine
        Where to write.
    fields : mapping
        The fields of :class:`ServiceRequestUpdate` (the key already checked and removed).
    key_name : str
        The handler key's name; the events' actor is ``api:<key_name>``.
    now : datetime, optional
        Naive UTC reception time (default :func:`geo.clock.now`).

    Returns
    -------
    dict
        ``update_id`` (GridMap's id of the update, or null when nothing was written),
        ``service_request_id``, ``status`` (mySociety's extended status after it),
        ``updated_datetime`` and ``extended_attributes`` (GridMap ``status``, ``verdict``:
        ``updated``, or ``unchanged`` / ``stale`` with a ``reason``: nothing to write).

    Raises
    ------
    geo.intake.IntakeError
        400 for bad input or a refused transition (with the rule's reason), 404 for an
        unknown request, 409 when the request kept changing meanwhile. Nothing is written.

    """
    update = intake.parse(ServiceRequestUpdate, fields)
    moment = clock.or_now(now)
    assert update.updated_datetime is not None and update.update_id is not None  # _whole
    at = clock.to_naive_utc(update.updated_datetime)
    if at > moment + MAX_SKEW:
        raise intake.IntakeError(400, f"updated_datetime {clock.iso_local(at)} is in the "
                                      "future", "updated_datetime")
    rid, actor = update.service_request_id, f"api:{key_name}"
    for _attempt in range(_RETRIES):
        try:
            with store_engine.transaction(engine) as conn:
                return _apply(conn, update, rid=rid, at=at, actor=actor, moment=moment)
        except IntegrityError:
            # A concurrent resend of the same update_id won: answer as its resend.
            continue
        except store_updates.ConcurrentUpdate:
            continue
    raise intake.IntakeError(409, f"service request {rid} kept changing while this update "
                                  "was applied; send it again", "service_request_id")


def _apply(conn: Connection, update: ServiceRequestUpdate, *, rid: int, at: datetime,
           actor: str, moment: datetime) -> dict[str, Any]:
    """Apply one update inside ``conn``'s transaction (see :func:`post_update`)."""
    assert update.update_id is not None
    states = store_updates.read_states(conn, ids=[rid])
    if states.empty:
        raise intake.IntakeError(404, f"no service request {rid}", "service_request_id")
    stored = states.iloc[0]
    # mySociety's OPEN: a note on an open request (status kept).
    status = None if update.status == "open" else update.status
    sent = store_updates.find_update(conn, request_id=rid, actor=actor,
                                     update_id=update.update_id)
    if sent is not None:
        # Judged before the state as it is now: a late retry gets the first answer.
        if not _same(sent, at, status, update.description):
            raise intake.IntakeError(400, f"update_id {update.update_id!r} was already used "
                                          f"for another update of service request {rid}",
                                     "update_id")
        return _answer(sent)
    if update.status == "open" and stored["status"] in vocab.CLOSED_STATUSES:
        raise intake.IntakeError(400, f"cannot move back from {stored['status']} to open: "
                                      "GridMap never reopens a request", "status")
    frame = pd.DataFrame([{
        "id": rid, "at": at, "status": status, "note": update.description,
        "satisfaction": update.satisfaction, "update_id": update.update_id,
        "media_url": update.media_url}])
    verdict = updates.apply_updates(conn, frame, actor=actor, now=moment).iloc[0]
    if verdict["verdict"] == "refused":
        raise intake.IntakeError(400, f"service request {rid}: {verdict['reason']}",
                                 "status")
    if verdict["verdict"] == "updated":
        written = store_updates.find_update(conn, request_id=rid, actor=actor,
                                            update_id=update.update_id)
        assert written is not None
        return _answer(written)
    now_status = str(stored["status"])
    reason = verdict["reason"] or "the request is already in this state"
    return {"update_id": None, "service_request_id": str(rid),
            "status": OPEN311_STATUS[now_status],
            "updated_datetime": clock.iso_local(at),
            "extended_attributes": {"status": now_status, "verdict": verdict["verdict"],
                                    "reason": reason}}


# --------------------------------------------------------------------------- the feed


@dataclass(frozen=True)
class FeedPage:
    """One page of the updates feed: its items, and the cursor of the next page if any."""

    items: list[dict[str, Any]]
    next_after: int | None


def feed(engine: Engine, query: UpdatesQuery, *, now: datetime | None = None) -> FeedPage:
    """Return updates recorded in the query's window, oldest first (FixMyStreet's shape).

    Each item has ``update_id``, ``service_request_id``, ``status`` (mySociety's extended
    status after the update), ``updated_datetime`` (when it happened), ``description`` (the
    note, personal data masked) and ``media_url``, with GridMap's ``status``, ``type`` and
    ``recorded_datetime`` in ``extended_attributes``. When more updates follow the page,
    ``next_after`` is the ``after_update_id`` of the next page.

    Raises
    ------
    geo.intake.IntakeError
        400 when ``after_update_id`` names no update.

    """
    moment = clock.or_now(now)
    until = moment - FEED_SETTLE
    if query.end_date is not None:
        until = min(until, clock.to_naive_utc(query.end_date))
    after_id = 0
    if query.after_update_id is not None:
        since = _recorded_at(engine, query.after_update_id)
        after_id = query.after_update_id
    elif query.start_date is not None:
        since = clock.to_naive_utc(query.start_date)
    else:
        since = until - timedelta(days=1)
    # One more than a page: a next page is named only when there is something on it.
    rows = store_updates.read_events_since(engine, since=since, until=until,
                                           kinds=PUBLIC_KINDS, limit=query.page_size + 1,
                                           after_id=after_id)
    more = len(rows) > query.page_size
    rows = rows.iloc[:query.page_size]
    mask = _masker(engine, rows["request_id"].unique().tolist()) if not rows.empty else None
    items = []
    for ev in rows.to_dict("records"):
        assert mask is not None
        items.append({
            "update_id": str(ev["id"]),
            "service_request_id": str(ev["request_id"]),
            "status": OPEN311_STATUS.get(ev["to_status"], "open"),
            "updated_datetime": clock.iso_local(ev["at"]),
            "description": mask(int(ev["request_id"]), ev["note"]),
            "media_url": _text_or_none(ev["media_url"]),
            "extended_attributes": {
                "status": ev["to_status"], "from_status": ev["from_status"],
                "type": ev["kind"], "recorded_datetime": _iso_exact(ev["recorded_at"])},
        })
    return FeedPage(items, int(rows["id"].iloc[-1]) if more else None)


def _recorded_at(engine: Engine, update_id: int) -> datetime:
    at = store_updates.recorded_at(engine, update_id)
    if at is None:
        raise intake.IntakeError(400, f"after_update_id {update_id} is not an update GridMap "
                                      "recorded", "after_update_id")
    return at


def _iso_exact(moment: Any) -> str | None:
    """Asia/Shanghai ISO 8601 to the microsecond: the feed's order, to the last digit."""
    if moment is None or pd.isna(moment):
        return None
    local = clock.to_local(pd.Timestamp(moment))
    return local.replace(tzinfo=clock.SHANGHAI).isoformat(timespec="microseconds")
