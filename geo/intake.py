"""Live intake of one request at a time, in Open311 GeoReport v2 terms (DESIGN §7).

:class:`ServiceRequest` is the one definition of the fields a client may send, their types
and limits: it validates a request and, in :mod:`geo.api`, documents it in OpenAPI.
:func:`submit` validates a request given in the spec's field names, then locates it (converts
its point once to WGS84, or places it by the name its ``address_string`` mentions), assigns
its grid the way the importer does, and inserts it with its "reported" event in one
transaction. :func:`query` and :func:`get` read requests back in the spec's shape, without
personal fields. This module knows nothing of HTTP so that the simulator and tests can call
it directly.

Idempotency, per client (API key): a client's ``external_id``, or else its ``device_id`` +
``client_request_id`` folded into one (``dev-`` + SHA-256 of both), is the request's
``client_ref``, unique together with the key's name (``client_key``). A retried POST finds
the request the same key stored under it and gets the original back; a second key reusing
the same numbers stores its own requests. A "resend" whose content differs from the
original is refused (409, naming the field), never answered as a success. The request's
``external_id`` (unique in the database, what file imports match) is the client's own
``external_id`` when no other request holds it, else a hash of key and id; ``dev-`` + a
hash of key, device and client id; or a fresh random id.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import ErrorDetails
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from geo import clock, deadlines, gazetteer, vocab
from geo.coords import in_china, to_wgs84
from geo.grids import GridIndex
from geo.importer import MAX_DESCRIPTION
from geo.store import access as store_access
from geo.store import engine as store_engine
from geo.store import requests as store_requests

COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")

#: Field → longest accepted value (the store's column widths).
MAX_LENGTHS = {
    "address_string": 256,
    "media_url": 1024,
    "first_name": 32,
    "last_name": 32,
    "phone": 32,
    "email": 128,
    "device_id": 64,
    "account_id": 64,
    "client_request_id": 64,
    "external_id": 64,
}
#: The longest reporter name, "last first" (the store's column width).
MAX_NAME = 64
#: Coordinate field → its accepted range, in any coordinate system.
RANGES = {"lat": (-90, 90), "long": (-180, 180)}
#: The largest page :func:`query` returns.
MAX_PAGE_SIZE = 1000

#: Short forms residents and apps use for the attribute values (操心 for 操心事 …).
SEVERITY_SHORT = {"操心": "routine", "烦心": "pressing", "揪心": "urgent"}
ROUTE_SHORT = {"政府": "government", "市场": "market", "爱心": "charity"}

_SOURCE = "miniprogram"
_ModelT = TypeVar("_ModelT", bound=BaseModel)


class IntakeError(ValueError):
    """A request the intake refuses, in Open311 terms.

    A ValueError, so that pydantic validators may raise it: it then travels inside the
    validation error (``ctx["error"]``) and comes out unchanged.

    Attributes
    ----------
    code : int
        The HTTP-like status (400 for bad input, 403 for a bad key, 404 for an unknown id).
    description : str
        What is wrong, for the client.
    field : str or None
        The offending field.

    """

    def __init__(self, code: int, description: str, field: str | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.field = field


@dataclass(frozen=True)
class Submitted:
    """The outcome of :func:`submit`: the stored request and the notice for the client."""

    id: int
    external_id: str
    created: bool
    notice: str


# --------------------------------------------------------------------------- field types


def _as_text(value: object, name: str) -> str | None:
    """Return a field's value as text, None when absent or blank (the first of a list).

    Raises
    ------
    IntakeError
        The value is not text or a number, or holds a NUL character.

    """
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise IntakeError(400, f"{name} must be text", name)
    text = str(value)
    if "\x00" in text:
        raise IntakeError(400, f"{name} contains a NUL character", name)
    return text if text.strip() else None


def _text(value: object, info: ValidationInfo) -> str | None:
    return _as_text(value, info.field_name or "value")


def _number(value: object, info: ValidationInfo) -> float | None:
    name = info.field_name or "value"
    text = _as_text(value, name)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise IntakeError(400, f"{name} is not a number: {text[:40]!r}", name) from None
    if not math.isfinite(number):
        raise IntakeError(400, f"{name} is not a finite number", name)
    return number


def _service_code(value: object) -> str:
    text = _as_text(value, "service_code")
    if text is None:
        raise IntakeError(400, "service_code is required", "service_code")
    code = vocab.lookup(vocab.CATEGORIES, text)
    if code is None:
        raise IntakeError(400, f"unknown service_code {text[:40]!r}", "service_code")
    return code


def _attribute(value: object, name: str, table: dict, short: dict[str, str]) -> str | None:
    text = _as_text(value, name)
    if text is None:
        return None
    code = short.get(text.strip()) or vocab.lookup(table, text)
    if code is None:
        raise IntakeError(400, f"attribute[{name}] has an unknown value {text[:40]!r}; "
                          f"expected one of {', '.join(table)}", f"attribute[{name}]")
    return code


def _severity(value: object) -> str:
    return _attribute(value, "severity", vocab.SEVERITIES, SEVERITY_SHORT) or "routine"


def _route(value: object) -> str | None:
    return _attribute(value, "route", vocab.ROUTES, ROUTE_SHORT)


#: Text as the spec sends it: blank is absent, a number is its text, NUL is refused.
Text = Annotated[str | None, BeforeValidator(_text)]
#: A coordinate given as text or a number; NaN and infinities are refused.
Coordinate = Annotated[float | None, BeforeValidator(_number)]


def _limit(name: str, description: str | None = None) -> Any:
    return Field(None, max_length=MAX_LENGTHS[name], description=description)


# --------------------------------------------------------------------------- the models


class ClientIds(BaseModel):
    """The ids that make a resend recognisable (validated before the rest, see :func:`submit`)."""

    external_id: Text = _limit(
        "external_id", "Extension: the client's own unique id; a resend returns the original "
                       "request.")
    device_id: Text = _limit("device_id")
    client_request_id: Text = _limit(
        "client_request_id", "Extension: with device_id, makes a retry safe.")


class ServiceRequest(ClientIds):
    """One request in Open311 GeoReport v2 field names: the single definition of each field.

    ``lat`` and ``long`` are required unless ``address_string`` names a stored grid or admin
    unit (see :mod:`geo.gazetteer`); then ``coord_system`` is not read. Attributes come as
    ``attribute[code]`` fields or, in JSON, as an ``attribute`` object (the fields win).
    Unknown fields are ignored; text is kept as given.
    """

    service_code: Annotated[str, BeforeValidator(_service_code)] = Field(
        json_schema_extra={"enum": list(vocab.CATEGORIES)},
        description="A service (request category) code or its Chinese name.")
    lat: Coordinate = Field(None, ge=RANGES["lat"][0], le=RANGES["lat"][1],
                            description="Latitude in coord_system (required without an "
                                        "address_string).")
    long: Coordinate = Field(None, ge=RANGES["long"][0], le=RANGES["long"][1],
                             description="Longitude in coord_system (required without an "
                                         "address_string).")
    # Any: with a placement by address it is not read at all, so not checked either.
    coord_system: Annotated[Any, WithJsonSchema({
        "type": "string", "enum": list(COORD_SYSTEMS), "default": "wgs84",
        "description": "Extension: WeChat's location API returns gcj02."})] = Field(
        None, json_schema_extra={"default": "wgs84"})
    address_string: Text = _limit(
        "address_string", "Placed by the grid or community name it mentions when lat and "
                          "long are absent.")
    description: Text = Field(None, max_length=MAX_DESCRIPTION)
    media_url: Text = _limit("media_url")
    first_name: Text = _limit("first_name")
    last_name: Text = _limit("last_name")
    phone: Text = _limit("phone")
    email: Text = _limit("email")
    account_id: Text = _limit("account_id", "Accepted and checked; not linked yet.")
    severity: Annotated[str, BeforeValidator(_severity)] = Field(
        "routine", alias="attribute[severity]",
        json_schema_extra={"enum": [*SEVERITY_SHORT, *vocab.SEVERITIES]})
    route: Annotated[str | None, BeforeValidator(_route)] = Field(
        None, alias="attribute[route]", json_schema_extra={"enum": [*ROUTE_SHORT, *vocab.ROUTES]})
    attribute: Annotated[Any, WithJsonSchema({
        "type": "object", "description": "In JSON: attribute code → value, as the "
                                         "attribute[code] fields."})] = None

    @model_validator(mode="before")
    @classmethod
    def _attribute_object(cls, data: Any) -> Any:
        """Spread a JSON ``attribute`` object into ``attribute[code]`` fields."""
        nested = data.get("attribute") if isinstance(data, Mapping) else None
        if not isinstance(nested, Mapping):
            return data  # anything else is refused last, as the other fields come first
        merged: dict[Any, Any] = {f"attribute[{k}]": v for k, v in nested.items()}
        merged.update(data)  # an attribute[code] field wins over the object
        return merged

    @model_validator(mode="after")
    def _whole(self) -> ServiceRequest:
        """Check what no single field decides: a location, its system, the whole name."""
        if self.by_address:
            self.coord_system = "wgs84"
        else:
            if self.lat is None or self.long is None:
                raise IntakeError(400, "lat and long (or an address_string) are required",
                                  "lat" if self.lat is None else "long")
            crs = (_as_text(self.coord_system, "coord_system") or "wgs84").strip().lower()
            if crs not in COORD_SYSTEMS:
                raise IntakeError(400, f"coord_system must be one of {', '.join(COORD_SYSTEMS)}",
                                  "coord_system")
            self.coord_system = crs
        name = self.reporter_name
        if name is not None and len(name) > MAX_NAME:
            raise IntakeError(400, f"first_name and last_name are longer than {MAX_NAME} "
                                   "characters", "last_name")
        if self.attribute is not None and not isinstance(self.attribute, Mapping):
            raise IntakeError(400, "attribute must be an object of code → value", "attribute")
        return self

    @property
    def by_address(self) -> bool:
        """True when there is no point and the address is to place the request."""
        return self.lat is None and self.long is None and self.address_string is not None

    @property
    def reporter_name(self) -> str | None:
        """The reporter's name in Chinese order, family name first."""
        return " ".join(p for p in (self.last_name, self.first_name) if p) or None


def _request_number(value: object, *, strict: bool = False) -> int | None:
    """Return a service_request_id as a number, None when it cannot be one (404 if strict)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        if strict:
            raise IntakeError(404, f"no service request {str(value)[:40]!r}",
                              "service_request_id") from None
        return None
    if 0 < number < 2**63:
        return number
    if strict:
        raise IntakeError(404, f"no service request {number}", "service_request_id")
    return None


def _request_id(value: object) -> int | None:
    return _request_number(value, strict=True)


class RequestRef(BaseModel):
    """The id in ``GET /requests/{service_request_id}.json``; an unknown form is a 404."""

    service_request_id: Annotated[int, BeforeValidator(_request_id)]


def refusal(error: ErrorDetails) -> IntakeError:
    """Return a pydantic error of the models above as the spec's error (400 unless said)."""
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, IntakeError):
        return cause
    name = str(error["loc"][0]) if error["loc"] else None
    kind = error["type"]
    if kind == "missing":
        return IntakeError(400, f"{name} is required", name)
    if kind == "string_too_long":
        return IntakeError(400, f"{name} is longer than {ctx['max_length']} characters", name)
    if kind in ("greater_than_equal", "less_than_equal") and name in RANGES:
        low, high = RANGES[name]
        return IntakeError(400, f"{name} {error['input']} is out of range {low}..{high}", name)
    return IntakeError(400, f"{name}: {error['msg']}" if name else error["msg"], name)


def parse(model: type[_ModelT], fields: Mapping[str, object]) -> _ModelT:
    """Validate ``fields`` with one of the models above; IntakeError on the first fault."""
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        raise refusal(exc.errors()[0]) from None


# --------------------------------------------------------------------------- grid index cache

_index_lock = threading.Lock()
_index_cache: dict[str, tuple[int, float, GridIndex]] = {}
_INDEX_TTL = 60.0  # seconds; an import that replaces grids with as many is seen within this


def grid_index(engine: Engine) -> GridIndex:
    """Return a cached :class:`GridIndex` of the stored grids, rebuilt when they change.

    Building the index takes ~0.1 s for a city; doing it per request would cap intake at a
    few requests a second. The cache is keyed on the database and checked against the grid
    count on every call and rebuilt at least every minute.
    """
    key = engine.url.render_as_string(hide_password=False)
    count = store_requests.grid_count(engine)
    with _index_lock:
        cached = _index_cache.get(key)
        if cached is not None and cached[0] == count and time.monotonic() - cached[1] < _INDEX_TTL:
            return cached[2]
    index = GridIndex(store_requests.read_grids(engine))
    with _index_lock:
        _index_cache[key] = (count, time.monotonic(), index)
    return index


def clear_grid_cache() -> None:
    """Forget every cached grid index and gazetteer (tests; after replacing grids)."""
    with _index_lock:
        _index_cache.clear()
    gazetteer.clear_cache()


# --------------------------------------------------------------------------- submitting


@dataclass(frozen=True)
class Location:
    """Where a request is: WGS84 ``lon``/``lat``, the system it came in, the named place."""

    lon: float
    lat: float
    source_crs: str
    place: gazetteer.Place | None = None


def idempotency_key(*, external_id: str | None, device_id: str | None,
                    client_request_id: str | None) -> str | None:
    """Return the client's own id of a request (its ``client_ref``), or None for none.

    A client's ``external_id`` wins; otherwise ``device_id`` + ``client_request_id`` are
    hashed into one fixed-length key (the column holds 64 characters; the two ids may
    together be longer). Resends are recognised by it within one API key only.
    """
    if external_id is not None:
        return external_id
    if client_request_id is None:
        return None
    digest = hashlib.sha256(f"{device_id or ''}\x1f{client_request_id}".encode()).hexdigest()
    return "dev-" + digest[:56]


def _keyed_id(prefix: str, *parts: str) -> str:
    """Return ``prefix`` + a hash of ``parts``: an external id no other client can produce."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return prefix + digest[: 64 - len(prefix)]


def _external_id(ids: ClientIds, client: str, *, taken: bool = False) -> str:
    """Return the stored external id of a new request from ``client`` (see the module)."""
    if ids.external_id is not None:
        # The client's own id as given (file imports match it), unless another has it.
        return _keyed_id("ext-", client, ids.external_id) if taken else ids.external_id
    if ids.client_request_id is not None:
        return _keyed_id("dev-", client, ids.device_id or "", ids.client_request_id)
    return "o311-" + uuid.uuid4().hex


def _notice(grid_code: str | None, place: gazetteer.Place | None = None) -> str:
    if place is not None and grid_code is None:
        return (f"已受理：按地址定位到{place.name}（近似位置），已转人工分派 (received; placed "
                f"approximately at {place.code} from address_string and queued for triage)")
    if grid_code is None:
        return ("已受理：位置不在任何网格内，已转人工分派 (received; the point is outside every "
                "grid and is queued for triage)")
    return f"已受理，已分派至网格 {grid_code} (received and assigned to grid {grid_code})"


def locate(engine: Engine, report: ServiceRequest) -> Location:
    """Return where a validated request is, converted once to WGS84.

    Raises
    ------
    IntakeError
        The address names no known place, or the point is outside China or cannot be
        converted.

    """
    place = None
    if report.by_address:
        # No location fix: place it by the grid or community name the address mentions.
        place = gazetteer.gazetteer(engine).find(report.address_string or "")
        if place is None:
            raise IntakeError(400, "address_string names no known grid or community; send "
                              "lat and long", "address_string")
        lon, lat, crs = place.lon, place.lat, "wgs84"
    else:
        assert report.lat is not None and report.long is not None  # the model's rule
        lon, lat, crs = report.long, report.lat, str(report.coord_system)
    if not in_china(lon, lat):
        raise IntakeError(400, f"the point ({lon}, {lat}) is outside China; are lat and long "
                          "swapped?", "lat")
    x, y = (float(v) for v in to_wgs84(lon, lat, crs=crs))
    if not (math.isfinite(x) and math.isfinite(y)):
        raise IntakeError(400, "the point cannot be converted to WGS84", "lat")
    return Location(x, y, "address" if place is not None else crs, place)


def assign_grid(engine: Engine, where: Location) -> str | None:
    """Return the grid a located request belongs to, None for triage."""
    if where.place is None:
        code = grid_index(engine).assign([where.lon], [where.lat])[0]
        return None if code is None else str(code)
    # A grid named in the address is exact; a community or township is for triage.
    return where.place.code if where.place.level == "grid" else None


def _row(report: ServiceRequest, where: Location, grid_code: str | None, *, external_id: str,
         reported: datetime) -> dict[str, Any]:
    return {
        "external_id": external_id, "grid_code": grid_code, "outside_grid": grid_code is None,
        "lon": where.lon, "lat": where.lat, "source_crs": where.source_crs,
        "source": _SOURCE, "category": report.service_code,
        "severity": report.severity, "route": report.route, "status": "reported",
        "reported_at": reported,
        "due_at": deadlines.due_time(reported, report.severity, report.service_code),
        "updated_at": reported, "address": report.address_string,
        "description": report.description, "media_url": report.media_url,
        "device_id": report.device_id, "client_request_id": report.client_request_id,
        "reporter_name": report.reporter_name, "reporter_phone": report.phone,
        "reporter_email": report.email,
    }


#: A stored column → the field a client sends it in, for a resend's refusal.
_RESENT_FIELDS = {
    "category": "service_code", "severity": "attribute[severity]", "route": "attribute[route]",
    "description": "description", "address": "address_string", "media_url": "media_url",
    "reporter_name": "last_name", "reporter_phone": "phone", "reporter_email": "email",
    "source_crs": "coord_system",
}
#: How far (degrees, about 1 cm) a resent point may be from the stored one.
_SAME_POINT = 1e-7


def _differs(stored: Mapping[str, Any], report: ServiceRequest) -> str | None:
    """Return the first field in which a resend differs from the stored request, or None.

    The point is converted as on the first send (a pure function of the coordinates); a
    request placed by its address is compared by the address alone.
    """
    sent = _row(report, Location(0.0, 0.0, "address" if report.by_address
                                 else str(report.coord_system)),
                None, external_id="", reported=datetime(2000, 1, 1))
    for column, field in _RESENT_FIELDS.items():
        if (stored.get(column) or None) != (sent.get(column) or None):
            return field
    if not report.by_address:
        assert report.lat is not None and report.long is not None
        x, y = (float(v) for v in to_wgs84(report.long, report.lat,
                                           crs=str(report.coord_system)))
        if abs(x - float(stored["lon"])) > _SAME_POINT:
            return "long"
        if abs(y - float(stored["lat"])) > _SAME_POINT:
            return "lat"
    return None


def _resend(stored: Mapping[str, Any], report: ServiceRequest, ref: str) -> Submitted:
    """Answer a resend with the original, or refuse one whose content differs (409)."""
    field = _differs(stored, report)
    if field is not None:
        raise IntakeError(409, f"{ref[:64]!r} was already sent by this client for another "
                               f"request: {field} differs from the original (send a new "
                               "external_id or client_request_id for a new request)", field)
    return _existing(stored)


def _insert(engine: Engine, row: dict[str, Any], *, key_name: str | None,
            place: gazetteer.Place | None) -> int | None:
    """Insert a request; None when a unique constraint refused it (a race, see submit)."""
    try:
        with store_engine.transaction(engine) as conn:
            return store_requests.insert_request_row(
                conn, row, actor=f"api:{key_name}" if key_name else "api")
    except IntegrityError:
        return None


def submit(engine: Engine, fields: Mapping[str, object], *, key_name: str | None = None,
           now: datetime | None = None) -> Submitted:
    """Validate and store one request given in Open311 GeoReport v2 field names.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to write.
    fields : mapping
        The fields of :class:`ServiceRequest`: ``service_code``, ``lat`` and ``long`` or an
        ``address_string`` that names a stored grid or admin unit, and optionally
        ``description`` (≤ 4,000 characters), ``media_url``, ``first_name``, ``last_name``,
        ``phone``, ``email``, ``device_id``, ``account_id``, ``attribute[severity]``,
        ``attribute[route]`` (or a JSON ``attribute`` object), ``coord_system``
        (wgs84, gcj02 or bd09; default wgs84), ``client_request_id`` and ``external_id``.
        Text is stored as given.
    key_name : str, optional
        The API key's name: the actor of the "reported" event, and the client within
        which a resend is recognised ("" for an in-process caller).
    now : datetime, optional
        The reception time (naive UTC or aware); default :func:`geo.clock.now`.

    Returns
    -------
    Submitted
        ``created`` is False when the request is a resend of one this client stored,
        which is returned unchanged.

    Raises
    ------
    IntakeError
        Bad input, with the offending field; 409 for a resend whose content differs from
        the original.

    """
    if not isinstance(fields, Mapping):
        raise IntakeError(400, "the request must be a set of named fields")
    ids = parse(ClientIds, fields)
    report = parse(ServiceRequest, fields)
    client = key_name or ""
    ref = idempotency_key(external_id=ids.external_id, device_id=ids.device_id,
                          client_request_id=ids.client_request_id)
    if ref is not None:
        found = store_requests.find_client_request(engine, client_key=client, client_ref=ref)
        if found is not None:
            return _resend(found, report, ref)
    where = locate(engine, report)
    grid_code = assign_grid(engine, where)
    reported = clock.or_now(now)
    taken = (ids.external_id is not None
             and store_requests.find_request(engine, external_id=ids.external_id) is not None)
    for attempt in (taken, True):
        row = _row(report, where, grid_code, reported=reported,
                   external_id=_external_id(ids, client, taken=attempt))
        row.update(client_key=client if ref is not None else None, client_ref=ref)
        new_id = _insert(engine, row, key_name=key_name, place=where.place)
        if new_id is not None:
            return Submitted(id=new_id, external_id=row["external_id"], created=True,
                             notice=_notice(grid_code, where.place))
        if ref is not None:
            # A concurrent resend of this client won the race: answer as a resend.
            found = store_requests.find_client_request(engine, client_key=client,
                                                       client_ref=ref)
            if found is not None:
                return _resend(found, report, ref)
        if attempt or ids.external_id is None:
            break
        # Another client (or a file) took this external_id meanwhile: store ours keyed.
    raise IntakeError(409, "the request could not be stored: its id collides with another "
                           "request; send it again", "external_id")


def _existing(row: Mapping[str, Any]) -> Submitted:
    return Submitted(id=int(row["id"]), external_id=row["external_id"], created=False,
                     notice=_notice(row["grid_code"]))


# --------------------------------------------------------------------------- reading


def to_open311(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a stored request (public columns) as a GeoReport v2 service request."""
    closed = row["status"] in vocab.CLOSED_STATUSES
    updated = row.get("updated_at") or max(
        t for t in (row["reported_at"], row.get("resolved_at"), row.get("closed_at"))
        if t is not None)
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if closed else "open",
        "status_notes": None,  # the latest note: geo.open311_updates.attach_history
        "service_name": vocab.CATEGORIES.get(row["category"], row["category"]),
        "service_code": row["category"],
        "description": row["description"],
        "agency_responsible": (f"网格 {row['grid_code']}" if row["grid_code"]
                               else "待分派 (triage)"),
        "service_notice": _notice(row["grid_code"]),
        "requested_datetime": clock.iso_local(row["reported_at"]),
        "updated_datetime": clock.iso_local(updated),
        "expected_datetime": clock.iso_local(row.get("due_at")),
        "address": row["address"], "address_id": None, "zipcode": None,
        "lat": row["lat"], "long": row["lon"],
        "media_url": row.get("media_url"),
        "extended_attributes": {
            "status": row["status"], "severity": row["severity"], "route": row["route"],
            "grid_code": row["grid_code"], "outside_grid": bool(row["outside_grid"]),
            "source": row["source"],
        },
    }


def get(engine: Engine, id: int | str) -> dict[str, Any]:
    """Return one request in the spec's shape; IntakeError 404 when there is none."""
    key = parse(RequestRef, {"service_request_id": id}).service_request_id
    row = store_requests.find_request(engine, id=key)
    if row is None:
        raise IntakeError(404, f"no service request {key}", "service_request_id")
    return to_open311(row)


def _service_codes(service_code: str | Sequence[str]) -> list[str]:
    raw = service_code.split(",") if isinstance(service_code, str) else service_code
    codes = []
    for c in raw:
        code = vocab.lookup(vocab.CATEGORIES, c)
        if code is None:
            raise IntakeError(400, f"unknown service_code {str(c)[:40]!r}", "service_code")
        codes.append(code)
    return codes


def query(engine: Engine, *, ids: Sequence[int | str] | None = None,
          service_code: str | Sequence[str] | None = None, start: datetime | None = None,
          end: datetime | None = None, status: str | None = None, page: int = 1,
          page_size: int = 50) -> list[dict[str, Any]]:
    """Return requests in the spec's shape, newest first, without personal fields.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to read.
    ids : sequence of int or str, optional
        Only these service_request_ids (others, unknown or malformed, are ignored).
    service_code : str or sequence of str, optional
        Only these services (a string may be a comma list).
    start, end : datetime, optional
        Bounds on requested_datetime (naive UTC or aware), both included.
    status : {"open", "closed"}, optional
        Open: not yet resolved; closed: resolved or rated.
    page, page_size : int
        1-based page and its size (1–1,000).

    """
    if status not in (None, "open", "closed"):
        raise IntakeError(400, "status must be open or closed", "status")
    if page < 1:
        raise IntakeError(400, "page must be at least 1", "page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise IntakeError(400, f"page_size must be 1 to {MAX_PAGE_SIZE}", "page_size")
    id_list = None
    if ids is not None:
        id_list = [n for n in (_request_number(i) for i in ids) if n is not None]
    rows = store_requests.search_requests(
        engine, ids=id_list,
        categories=_service_codes(service_code) if service_code is not None else None,
        since=clock.to_naive_utc(start) if start is not None else None,
        until=clock.to_naive_utc(end) if end is not None else None,
        closed=None if status is None else status == "closed",
        offset=(page - 1) * page_size, limit=page_size)
    return [to_open311(r) for r in rows]


# --------------------------------------------------------------------------- API keys

#: Key roles: "reporter" (the mini-program: create and read), "handler" (the handling
#: platform: may also post status updates, see :mod:`geo.open311_updates`).
API_KEY_ROLES = ("reporter", "handler")


def hash_key(key: str) -> str:
    """Return the stored form of an API key: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_key(engine: Engine, name: str, *, role: str = "reporter",
                   now: datetime | None = None) -> str:
    """Create a key called ``name`` with a role of :data:`API_KEY_ROLES`; return it (hash kept).

    Raises
    ------
    ValueError
        The name is empty or already used, or the role unknown.

    """
    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("an API key name is 1 to 64 characters")
    if role not in API_KEY_ROLES:
        raise ValueError(f"an API key role is one of {', '.join(API_KEY_ROLES)}, not {role!r}")
    key = "gm_" + secrets.token_urlsafe(32)
    try:
        with store_engine.transaction(engine) as conn:
            store_access.create_api_key(conn, name=name, key_hash=hash_key(key),
                                        now=clock.or_now(now), role=role)
    except IntegrityError:
        raise ValueError(f"an API key called {name!r} already exists") from None
    return key


def check_api_key(engine: Engine, key: str | None, *, role: str | None = None,
                  now: datetime | None = None) -> str:
    """Return the name of a live key (of ``role`` when given), or raise IntakeError 403."""
    return str(live_key(engine, key, role=role, now=now)["name"])


def live_key(engine: Engine, key: str | None, *, role: str | None = None,
             now: datetime | None = None) -> Mapping[str, Any]:
    """Return a live key's stored row (name, role…), or raise IntakeError 403.

    ``role``, when given, is the role the key must have (403 and an audit line otherwise).
    """
    if not key:
        raise IntakeError(403, "api_key is required", "api_key")
    row = store_access.find_api_key(engine, hash_key(key))
    if row is None or row["revoked_at"] is not None:
        raise IntakeError(403, "api_key is not valid", "api_key")
    if role is not None and row["role"] != role:
        store_access.log_audit(engine, actor=f"api:{row['name']}", action="api_key_refused",
                               detail={"needs": role, "has": row["role"]})
        raise IntakeError(403, f"this api_key has the {row['role']} role; only a {role} key "
                               "may do this", "api_key")
    moment = clock.or_now(now)
    # At most one write a minute per key: a busy client should not queue behind itself.
    if row["last_used_at"] is None or moment - row["last_used_at"] > timedelta(minutes=1):
        store_access.touch_api_key(engine, row["id"], moment)
    return row


def revoke_api_key(engine: Engine, name: str, *, now: datetime | None = None) -> bool:
    """Revoke the key called ``name``; False when there is no such live key."""
    with store_engine.transaction(engine) as conn:
        return store_access.revoke_api_key(conn, name, now=clock.or_now(now))
