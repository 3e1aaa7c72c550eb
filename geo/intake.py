"""Live intake of one request at a time, in Open311 GeoReport v2 terms (DESIGN §7).

:func:`submit` validates a request given in the spec's field names, converts its point once
to WGS84, assigns its grid the way the importer does, and writes the request with its
"reported" event in one transaction. :func:`query` and :func:`get` read requests back in
the spec's shape, without personal fields. The HTTP layer is :mod:`geo.api`; this module
knows nothing of HTTP so that the simulator and tests can call it directly.

Idempotency: every request gets an ``external_id`` (unique in the database). A client's own
``external_id`` is used as given; otherwise ``device_id`` + ``client_request_id`` fold into
one (``dev-`` + SHA-256 of both), so a retried POST hits the same unique constraint and
returns the original request. Requests with neither get a fresh random id.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from geo import gazetteer, store, vocab
from geo.coords import in_china, to_wgs84
from geo.grids import GridIndex
from geo.importer import MAX_DESCRIPTION

#: Asia/Shanghai, the offset every time the API shows carries.
LOCAL_TZ = timezone(timedelta(hours=8))

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

#: Short forms residents and apps use for the attribute values (操心 for 操心事 …).
SEVERITY_SHORT = {"操心": "routine", "烦心": "pressing", "揪心": "urgent"}
ROUTE_SHORT = {"政府": "government", "市场": "market", "爱心": "charity"}

_ATTRIBUTE = re.compile(r"^attribute\[(.+)\]$")
_SOURCE = "miniprogram"


class IntakeError(ValueError):
    """A request the intake refuses, in Open311 terms.

    Attributes
    ----------
    code : int
        The HTTP-like status (400 for bad input, 404 for an unknown id).
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
    import time

    key = engine.url.render_as_string(hide_password=False)
    count = store.grid_count(engine)
    with _index_lock:
        cached = _index_cache.get(key)
        if cached is not None and cached[0] == count and time.monotonic() - cached[1] < _INDEX_TTL:
            return cached[2]
    index = GridIndex(store.read_grids(engine))
    with _index_lock:
        _index_cache[key] = (count, time.monotonic(), index)
    return index


def clear_grid_cache() -> None:
    """Forget every cached grid index and gazetteer (tests; after replacing grids)."""
    with _index_lock:
        _index_cache.clear()
    gazetteer.clear_cache()


# --------------------------------------------------------------------------- validation


def _text(fields: Mapping[str, object], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
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


def _short(fields: Mapping[str, object], name: str) -> str | None:
    text = _text(fields, name)
    if text is None:
        return None
    limit = MAX_LENGTHS.get(name)
    if limit is not None and len(text) > limit:
        raise IntakeError(400, f"{name} is longer than {limit} characters", name)
    return text


def _number(fields: Mapping[str, object], name: str) -> float | None:
    text = _text(fields, name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise IntakeError(400, f"{name} is not a number: {text[:40]!r}", name) from None
    if not math.isfinite(value):
        raise IntakeError(400, f"{name} is not a finite number", name)
    return value


def _attributes(fields: Mapping[str, object]) -> dict[str, object]:
    """Collect ``attribute[x]`` form keys and a JSON ``attribute`` object into one dict."""
    out: dict[str, object] = {}
    nested = fields.get("attribute")
    if isinstance(nested, Mapping):
        out.update({str(k): v for k, v in nested.items()})
    elif nested is not None:
        raise IntakeError(400, "attribute must be an object of code → value", "attribute")
    for key, value in fields.items():
        m = _ATTRIBUTE.match(str(key))
        if m:
            out[m.group(1)] = value
    return out


def _vocab_attribute(attrs: Mapping[str, object], name: str, table: dict, short: dict,
                     default: str | None) -> str | None:
    value = _text(attrs, name)
    if value is None:
        return default
    code = short.get(value.strip()) or vocab.lookup(table, value)
    if code is None:
        raise IntakeError(400, f"attribute[{name}] has an unknown value {value[:40]!r}; "
                          f"expected one of {', '.join(table)}", f"attribute[{name}]")
    return code


def _naive_utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def idempotency_key(*, external_id: str | None, device_id: str | None,
                    client_request_id: str | None) -> str | None:
    """Return the external id that makes a resend recognisable, or None for a fresh one.

    A client's ``external_id`` wins; otherwise ``device_id`` + ``client_request_id`` are
    hashed into one fixed-length key (the column holds 64 characters; the two ids may
    together be longer).
    """
    if external_id is not None:
        return external_id
    if client_request_id is None:
        return None
    digest = hashlib.sha256(f"{device_id or ''}\x1f{client_request_id}".encode()).hexdigest()
    return "dev-" + digest[:56]


def _notice(grid_code: str | None, place: gazetteer.Place | None = None) -> str:
    if place is not None and grid_code is None:
        return (f"已受理：按地址定位到{place.name}（近似位置），已转人工分派 (received; placed "
                f"approximately at {place.code} from address_string and queued for triage)")
    if grid_code is None:
        return ("已受理：位置不在任何网格内，已转人工分派 (received; the point is outside every "
                "grid and is queued for triage)")
    return f"已受理，已分派至网格 {grid_code} (received and assigned to grid {grid_code})"


def submit(engine: Engine, fields: Mapping[str, object], *, key_name: str | None = None,
           now: datetime | None = None) -> Submitted:
    """Validate and store one request given in Open311 GeoReport v2 field names.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Where to write.
    fields : mapping
        ``service_code``, ``lat`` and ``long`` or an ``address_string`` that names a stored
        grid or admin unit (see :mod:`geo.gazetteer`), and optionally
        ``description`` (≤ 4,000 characters), ``media_url``, ``first_name``, ``last_name``,
        ``phone``, ``email``, ``device_id``, ``account_id``, ``attribute[severity]``,
        ``attribute[route]`` (or a JSON ``attribute`` object), ``coord_system``
        (wgs84, gcj02 or bd09; default wgs84), ``client_request_id`` and ``external_id``.
        Text is stored as given.
    key_name : str, optional
        The API key's name, recorded as the actor of the "reported" event.
    now : datetime, optional
        The reception time (naive UTC or aware); default the current time.

    Returns
    -------
    Submitted
        ``created`` is False when the request is a resend of a stored one, which is
        returned unchanged.

    Raises
    ------
    IntakeError
        Bad input, with the offending field.

    """
    if not isinstance(fields, Mapping):
        raise IntakeError(400, "the request must be a set of named fields")
    external_id = _short(fields, "external_id")
    device_id = _short(fields, "device_id")
    client_request_id = _short(fields, "client_request_id")
    key = idempotency_key(external_id=external_id, device_id=device_id,
                          client_request_id=client_request_id)
    if key is not None:
        # A resend is answered before validation: its first copy already passed.
        found = store.find_request(engine, external_id=key)
        if found is not None:
            return _existing(found)

    service = _text(fields, "service_code")
    if service is None:
        raise IntakeError(400, "service_code is required", "service_code")
    category = vocab.lookup(vocab.CATEGORIES, service)
    if category is None:
        raise IntakeError(400, f"unknown service_code {service[:40]!r}", "service_code")
    lat = _number(fields, "lat")
    lon = _number(fields, "long")
    place = None
    if lat is None and lon is None and _text(fields, "address_string") is not None:
        # No location fix: place it by the grid or community name the address mentions.
        place = gazetteer.gazetteer(engine).find(_short(fields, "address_string") or "")
        if place is None:
            raise IntakeError(400, "address_string names no known grid or community; send "
                              "lat and long", "address_string")
        lon, lat = place.lon, place.lat
    if lat is None or lon is None:
        raise IntakeError(400, "lat and long (or an address_string) are required",
                          "lat" if lat is None else "long")
    if not -90 <= lat <= 90:
        raise IntakeError(400, f"lat {lat} is out of range -90..90", "lat")
    if not -180 <= lon <= 180:
        raise IntakeError(400, f"long {lon} is out of range -180..180", "long")
    crs = "wgs84" if place is not None else (_text(fields, "coord_system")
                                               or "wgs84").strip().lower()
    if crs not in COORD_SYSTEMS:
        raise IntakeError(400, f"coord_system must be one of {', '.join(COORD_SYSTEMS)}",
                          "coord_system")
    if not in_china(lon, lat):
        raise IntakeError(400, f"the point ({lon}, {lat}) is outside China; are lat and long "
                          "swapped?", "lat")
    # Converted once, here; the original system is kept in source_crs.
    x, y = to_wgs84(lon, lat, crs=crs)
    x, y = float(x), float(y)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise IntakeError(400, "the point cannot be converted to WGS84", "lat")

    description = _text(fields, "description")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise IntakeError(400, f"description is longer than {MAX_DESCRIPTION} characters",
                          "description")
    address = _short(fields, "address_string")
    media_url = _short(fields, "media_url")
    first, last = _short(fields, "first_name"), _short(fields, "last_name")
    name = " ".join(p for p in (last, first) if p) or None  # Chinese order: family first
    if name is not None and len(name) > 64:
        raise IntakeError(400, "first_name and last_name are longer than 64 characters",
                          "last_name")
    phone, email = _short(fields, "phone"), _short(fields, "email")
    _short(fields, "account_id")  # accepted and checked; accounts are not linked yet
    attrs = _attributes(fields)
    severity = _vocab_attribute(attrs, "severity", vocab.SEVERITIES, SEVERITY_SHORT,
                                "routine")
    route = _vocab_attribute(attrs, "route", vocab.ROUTES, ROUTE_SHORT, None)

    reported = _naive_utc(now)
    if place is None:
        grid_code = grid_index(engine).assign([x], [y])[0]
    else:  # a grid named in the address is exact; a community or township is for triage
        grid_code = place.code if place.level == "grid" else None
    ext = key if key is not None else "o311-" + uuid.uuid4().hex
    row = {
        "external_id": ext, "grid_code": grid_code, "outside_grid": grid_code is None,
        "lon": x, "lat": y, "source_crs": "address" if place is not None else crs,
        "source": _SOURCE, "category": category,
        "severity": severity, "route": route, "status": "reported",
        "reported_at": reported, "due_at": reported + vocab.SEVERITIES[severity][1],
        "updated_at": reported, "address": address, "description": description,
        "media_url": media_url, "device_id": device_id,
        "client_request_id": client_request_id, "reporter_name": name,
        "reporter_phone": phone, "reporter_email": email,
    }
    try:
        with store.transaction(engine) as conn:
            new_id = store.insert_request_row(
                conn, row, actor=f"api:{key_name}" if key_name else "api")
    except IntegrityError:
        # A concurrent resend won the unique constraint: answer with its request.
        found = store.find_request(engine, external_id=ext)
        if found is None:
            raise
        return _existing(found)
    return Submitted(id=new_id, external_id=ext, created=True,
                     notice=_notice(grid_code, place))


def _existing(row: Mapping[str, Any]) -> Submitted:
    return Submitted(id=int(row["id"]), external_id=row["external_id"], created=False,
                     notice=_notice(row["grid_code"]))


# --------------------------------------------------------------------------- reading


def iso_local(moment: datetime | None) -> str | None:
    """Format a naive-UTC time as ISO 8601 in Asia/Shanghai, e.g. ``…T10:30:00+08:00``."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


def to_open311(row: Mapping[str, Any]) -> dict[str, Any]:
    """Return a stored request (public columns) as a GeoReport v2 service request."""
    closed = row["status"] in vocab.CLOSED_STATUSES
    updated = row.get("updated_at") or max(
        t for t in (row["reported_at"], row.get("resolved_at"), row.get("closed_at"))
        if t is not None)
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if closed else "open",
        "status_notes": None,
        "service_name": vocab.CATEGORIES.get(row["category"], row["category"]),
        "service_code": row["category"],
        "description": row["description"],
        "agency_responsible": (f"网格 {row['grid_code']}" if row["grid_code"]
                               else "待分派 (triage)"),
        "service_notice": _notice(row["grid_code"]),
        "requested_datetime": iso_local(row["reported_at"]),
        "updated_datetime": iso_local(updated),
        "expected_datetime": iso_local(row.get("due_at")),
        "address": row["address"],
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": row.get("media_url"),
        "extended_attributes": {
            "status": row["status"],
            "severity": row["severity"],
            "route": row["route"],
            "grid_code": row["grid_code"],
            "outside_grid": bool(row["outside_grid"]),
            "source": row["source"],
        },
    }


def get(engine: Engine, id: int | str) -> dict[str, Any]:
    """Return one request in the spec's shape; IntakeError 404 when there is none."""
    try:
        key = int(str(id).strip())
    except ValueError:
        raise IntakeError(404, f"no service request {str(id)[:40]!r}",
                          "service_request_id") from None
    row = store.find_request(engine, id=key) if 0 < key < 2**63 else None
    if row is None:
        raise IntakeError(404, f"no service request {key}", "service_request_id")
    return to_open311(row)


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
    if not 1 <= page_size <= 1000:
        raise IntakeError(400, "page_size must be 1 to 1000", "page_size")
    id_list = None
    if ids is not None:
        id_list = []
        for i in ids:
            try:
                n = int(str(i).strip())
            except ValueError:
                continue
            if 0 < n < 2**63:
                id_list.append(n)
    codes = None
    if service_code is not None:
        raw = service_code.split(",") if isinstance(service_code, str) else service_code
        codes = []
        for c in raw:
            code = vocab.lookup(vocab.CATEGORIES, c)
            if code is None:
                raise IntakeError(400, f"unknown service_code {str(c)[:40]!r}", "service_code")
            codes.append(code)
    rows = store.search_requests(
        engine, ids=id_list, categories=codes,
        since=_naive_utc(start) if start is not None else None,
        until=_naive_utc(end) if end is not None else None,
        closed=None if status is None else status == "closed",
        offset=(page - 1) * page_size, limit=page_size)
    return [to_open311(r) for r in rows]


# --------------------------------------------------------------------------- API keys


def hash_key(key: str) -> str:
    """Return the stored form of an API key: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_key(engine: Engine, name: str, *, now: datetime | None = None) -> str:
    """Create a key called ``name`` and return it; only its hash is stored.

    Raises
    ------
    ValueError
        The name is empty or already used.

    """
    import secrets

    name = name.strip()
    if not name or len(name) > 64:
        raise ValueError("an API key name is 1 to 64 characters")
    key = "gm_" + secrets.token_urlsafe(32)
    try:
        with store.transaction(engine) as conn:
            store.create_api_key(conn, name=name, key_hash=hash_key(key), now=_naive_utc(now))
    except IntegrityError:
        raise ValueError(f"an API key called {name!r} already exists") from None
    return key


def check_api_key(engine: Engine, key: str | None, *, now: datetime | None = None) -> str:
    """Return the name of a live key, or raise IntakeError 403."""
    if not key:
        raise IntakeError(403, "api_key is required", "api_key")
    row = store.find_api_key(engine, hash_key(key))
    if row is None or row["revoked_at"] is not None:
        raise IntakeError(403, "api_key is not valid", "api_key")
    moment = _naive_utc(now)
    # At most one write a minute per key: a busy client should not queue behind itself.
    if row["last_used_at"] is None or moment - row["last_used_at"] > timedelta(minutes=1):
        store.touch_api_key(engine, row["id"], moment)
    return row["name"]


def revoke_api_key(engine: Engine, name: str, *, now: datetime | None = None) -> bool:
    """Revoke the key called ``name``; False when there is no such live key."""
    with store.transaction(engine) as conn:
        return store.revoke_api_key(conn, name, now=_naive_utc(now))
