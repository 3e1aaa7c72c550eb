"""The Open311 GeoReport v2 endpoint (JSON), a thin HTTP layer over :mod:`geo.intake`.

Start it with ``gridmap api --host 127.0.0.1 --port 8311``. Request categories are the
services; ``coord_system=gcj02|bd09`` is an extension for WeChat and Baidu locations; the
``page``/``page_size`` query parameters and the ``extended_attributes`` object are
extensions too. Every error is the spec's list ``[{"code": …, "description": …}]`` with the
same HTTP status (400, 403 or 404), never FastAPI's 422.

Requests are read with their history (``notes``, ``status_notes``); handling platforms
post status updates with a handler key, and any key reads the updates feed, both in
mySociety's ``servicerequestupdates`` extension (:mod:`geo.open311_updates`).

Each endpoint's input is one pydantic model that both validates it and documents it:
:class:`ApiKey` and :class:`geo.intake.ServiceRequest` (together :class:`PostRequest`) for
``POST /requests.json``, :class:`SearchQuery` for ``GET /requests.json``,
:class:`geo.intake.RequestRef` for ``GET /requests/{id}.json``, :class:`PostUpdate` for
``POST /servicerequestupdates.json`` and :class:`UpdatesFeedQuery` for its GET. The body
of a POST is decoded here, not by FastAPI's form parser, because it may be form-encoded,
multipart or JSON and a malformed body (bad encoding, wrong JSON) must be a 400, never a
500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field, model_validator
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo import intake, open311_readers, open311_updates, vocab
from geo.store import engine as store_engine

log = logging.getLogger(__name__)

#: The longest start_date..end_date span GET /requests.json answers (the spec's 90 days).
MAX_RANGE = timedelta(days=90)
#: The largest POST body read (a 4,000-character description is ~12 kB of UTF-8).
MAX_BODY = 64 * 1024
#: The highest page of a search (10 M pages of 1,000: past every stored request).
MAX_PAGE = 10_000_000

_ERROR_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}
_ERRORS_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    str(code): {"description": text, "content": _ERRORS_REF}
    for code, text in ((400, "Bad input"), (401, "No api_key: reading requests needs one "
                                                  "unless the deployment has a public feed"),
                       (403, "Missing, wrong or revoked api_key"),
                       (404, "Unknown service or request"))
}
#: What a reader sees, said once for the OpenAPI description of each read.
_READ_NOTE = ("Needs an api_key unless the deployment opens a public feed "
              "(GRIDMAP_PUBLIC_FEED=1); without one the answer is 401. A handler key reads "
              "the stored text; any other key reads it with phone and ID-card numbers, "
              "e-mails and the reporter's name masked. The public feed (no key) carries "
              "text only for public categories (" + ", ".join(sorted(vocab.PUBLIC_CATEGORIES))
              + "), masked, and places each request at its grid's centre (or to about "
              "100 m outside every grid). Names, phones and e-mails are never returned.")


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


class ApiKey(BaseModel):
    """The client's key, in the body or the query string; checked by the store (403)."""

    api_key: Annotated[str | None, BeforeValidator(_str_or_none)] = Field(
        description="The client's key (required).")


class PostRequest(intake.ServiceRequest, ApiKey):
    """The body of ``POST /requests.json``: a request's fields and the client's key."""


class PostUpdate(open311_updates.ServiceRequestUpdate, ApiKey):
    """The body of ``POST /servicerequestupdates.json``: an update and a handler key."""


class ReadKey(BaseModel):
    """The key of a read (query string): any live key; see :mod:`geo.open311_readers`."""

    api_key: Annotated[str | None, BeforeValidator(_str_or_none)] = Field(
        None, description="Any live key, reporter or handler (required unless the "
                          "deployment has a public feed).")


class UpdatesFeedQuery(open311_updates.UpdatesQuery, ReadKey):
    """The query of ``GET /servicerequestupdates.json``: a window and any live key."""


_POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    "200": {"description": "Stored (committed), or a resend of a request this key stored "
                           "(the same external_id, or device_id + client_request_id, and the "
                           "same content): the original",
            "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/PostAnswer"}}}},
    **_ERRORS,
    "409": {"description": "A resend whose content differs from the request this key "
                           "first sent with the same ids; the description names the field",
            "content": _ERRORS_REF},
}
_POST_REF = {"schema": {"$ref": "#/components/schemas/PostRequest"}}
_POST_BODY = {
    "required": True,
    "content": {"application/x-www-form-urlencoded": _POST_REF,
                "application/json": _POST_REF},
}
_UPDATE_REF = {"schema": {"$ref": "#/components/schemas/PostUpdate"}}
_UPDATE_BODY = {"required": True, "content": {"application/x-www-form-urlencoded": _UPDATE_REF,
                                              "application/json": _UPDATE_REF}}
_UPDATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    "200": {"description": "Applied (update_id is GridMap's id of it), a resend of an applied "
                           "update (the first answer again), or nothing to apply (update_id "
                           "null: unchanged, or older than the stored state)",
            "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/UpdateAnswer"}}}},
    **_ERRORS,
    "403": {"description": "Missing, wrong or revoked api_key, or a key without the handler "
                           "role", "content": _ERRORS_REF},
    "404": {"description": "Unknown service request", "content": _ERRORS_REF},
    "409": {"description": "The request kept changing meanwhile; send the update again",
            "content": _ERRORS_REF},
}
_UPDATE_ITEM = {
    "type": "object", "required": ["update_id", "service_request_id", "status"],
    "properties": {
        "update_id": {"type": ["string", "null"]},
        "service_request_id": {"type": "string"},
        "status": {"type": "string", "enum": sorted(set(open311_updates.OPEN311_STATUS
                                                        .values()))},
        "updated_datetime": {"type": "string", "format": "date-time"},
        "description": {"type": ["string", "null"]},
        "media_url": {"type": ["string", "null"]},
        "extended_attributes": {"type": "object"}}}


def _lower(value: object) -> str | None:
    # intake.query refuses what is neither open nor closed, with the field named.
    text = _str_or_none(value)
    return text.strip().lower() if text else None


class SearchQuery(ReadKey):
    """The query of ``GET /requests.json``; a time span is at most :data:`MAX_RANGE`."""

    service_request_id: str | None = Field(None, description="Comma list of ids")
    service_code: str | None = Field(None, description="Comma list of services")
    start_date: open311_updates.LocalTime = Field(
        None, description="ISO 8601; without an offset, Asia/Shanghai")
    end_date: open311_updates.LocalTime = Field(
        None, description="ISO 8601; at most 90 days after start_date")
    status: Annotated[str | None, BeforeValidator(_lower)] = Field(
        None, description="open or closed", json_schema_extra={"enum": ["open", "closed"]})
    # Bounded so that page × page_size stays a valid SQL OFFSET on every database.
    page: int = Field(1, ge=1, le=MAX_PAGE, description="Extension: 1-based page")
    page_size: int = Field(50, ge=1, le=intake.MAX_PAGE_SIZE,
                           description="Extension: page size")

    @model_validator(mode="after")
    def _span(self) -> SearchQuery:
        """Refuse a reversed or too long span; a single bound gets the longest span."""
        start, end = self.start_date, self.end_date
        if start is not None and end is not None:
            if end < start:
                raise intake.IntakeError(400, "end_date is before start_date", "end_date")
            if end - start > MAX_RANGE:
                raise intake.IntakeError(400, "start_date to end_date spans more than 90 days",
                                         "end_date")
        elif start is not None:
            self.end_date = start + MAX_RANGE
        elif end is not None:
            self.start_date = end - MAX_RANGE
        return self

    @property
    def ids(self) -> list[str] | None:
        """The service_request_ids asked for, None for all."""
        if self.service_request_id is None:
            return None
        return [p for p in self.service_request_id.split(",") if p.strip()]


class ApiError(Exception):
    """An error answered as the spec's error list."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _errors(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


def _services() -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": f"{name}类诉求",
            "metadata": True,  # every service takes the severity and route attributes
            "type": "realtime",
            "keywords": f"{code}, {name}",
            "group": "网格诉求",
        }
        for code, name in vocab.CATEGORIES.items()
    ]


def _definition(code: str) -> dict[str, Any]:
    short = {v: k for k, v in intake.SEVERITY_SHORT.items()}
    route_short = {v: k for k, v in intake.ROUTE_SHORT.items()}
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True, "code": "severity", "datatype": "singlevaluelist",
                "required": False, "datatype_description": "操心 / 烦心 / 揪心; default 操心",
                "order": 1,
                "description": "紧急程度 (how pressing; default deadline 7 working days, "
                               "3 working days, 24 h)",
                "values": [{"key": short[c], "name": v[0]}
                           for c, v in vocab.SEVERITIES.items()],
            },
            {
                "variable": True, "code": "route", "datatype": "singlevaluelist",
                "required": False, "datatype_description": "政府 / 市场 / 爱心",
                "order": 2, "description": "解决途径 (who should solve it)",
                "values": [{"key": route_short[c], "name": v}
                           for c, v in vocab.ROUTES.items()],
            },
        ],
    }


def _parse_body(raw: bytes, content_type: str) -> dict[str, object]:
    """Decode a POST body (form-encoded, JSON or multipart already read) into fields."""
    # Bodies over MAX_BODY never get here: BodyLimit refuses them before they are read.
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not valid UTF-8") from None
    if "json" in content_type:
        try:
            data = json.loads(text) if text.strip() else {}
        except RecursionError:  # "[[[[…" thousands deep: the parser's stack, not ours
            raise ApiError(400, "the JSON body is nested too deeply") from None
        except ValueError as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the JSON body must be an object of field → value")
        return data
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict",
                          max_num_fields=200)
    except UnicodeDecodeError:
        raise ApiError(400, "a percent-encoded value is not valid UTF-8") from None
    except ValueError as exc:
        raise ApiError(400, f"the form body cannot be read: {exc}") from None
    fields: dict[str, object] = {}
    for key, value in pairs:
        fields.setdefault(key, value)  # the first of repeated keys counts
    return fields


async def _fields(request: Request) -> dict[str, object]:
    """Read a POST's fields: form-encoded, multipart or JSON body, then the query string."""
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form()
        except ApiError:
            raise
        except Exception:  # malformed multipart of any kind is the client's error
            raise ApiError(400, "the multipart body cannot be read") from None
        fields: dict[str, object] = {k: v for k, v in form.items() if isinstance(v, str)}
    else:
        fields = _parse_body(await request.body(), content_type)
    for key, value in request.query_params.items():
        fields.setdefault(key, value)  # api_key is often sent in the query string
    return fields


def _post_update(engine: Engine, fields: dict[str, object]) -> dict[str, Any]:
    key = intake.parse(ApiKey, {"api_key": fields.get("api_key")}).api_key
    name = intake.check_api_key(engine, key, role="handler")
    return open311_updates.post_update(
        engine, {k: v for k, v in fields.items() if k != "api_key"}, key_name=name)


def _feed(engine: Engine, query: UpdatesFeedQuery, *,
          public_feed: bool) -> open311_updates.FeedPage:
    who = open311_readers.reader(engine, query.api_key, public_feed=public_feed)
    page = open311_updates.feed(engine, query)
    open311_readers.present_updates(engine, page.items, who)
    return page


def _submit(engine: Engine, fields: dict[str, object]) -> intake.Submitted:
    key = intake.parse(ApiKey, {"api_key": fields.get("api_key")}).api_key
    name = intake.check_api_key(engine, key)
    # The key is the client's secret, not part of the request.
    return intake.submit(engine, {k: v for k, v in fields.items() if k != "api_key"},
                         key_name=name)


def _invalid(errors: Sequence[Any]) -> JSONResponse:
    """Answer FastAPI's validation errors in the spec's shape (400, not its 422).

    FastAPI's own findings (a page that is not a number) are listed together; otherwise the
    first refusal raised by one of our validators is answered with its own status.
    """
    native = [e for e in errors
              if not isinstance((e.get("ctx") or {}).get("error"), intake.IntakeError)]
    if errors and not native:
        refused = intake.refusal(errors[0])
        return _errors(refused.code, refused.description)
    parts = []
    for err in native:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return _errors(400, "; ".join(parts) or "invalid request")


def create_app(engine: Engine | None = None, *, public_feed: bool | None = None) -> FastAPI:
    """Return the GeoReport v2 application.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine, optional
        The database; default :func:`geo.store.make_engine` on first use.
    public_feed : bool, optional
        Answer reads without a key, redacted (:mod:`geo.open311_readers`); default the
        ``GRIDMAP_PUBLIC_FEED`` setting, off.

    """
    if public_feed is None:
        public_feed = open311_readers.public_feed_enabled()
    app = FastAPI(
        title="GridMap Open311 GeoReport v2",
        version="2",
        description="Residents' requests (诉求) for grid governance. Errors are a list of "
                    "{code, description} with the same HTTP status.",
    )
    state: dict[str, Engine] = {}

    def db() -> Engine:
        if "engine" not in state:
            state["engine"] = engine if engine is not None else store_engine.make_engine()
        return state["engine"]

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _errors(exc.code, exc.description)

    @app.exception_handler(intake.IntakeError)
    async def _intake_error(_request: Request, exc: intake.IntakeError) -> JSONResponse:
        answer = _errors(exc.code, exc.description)
        if exc.code == 401:
            answer.headers["WWW-Authenticate"] = 'api_key realm="open311"'
        return answer

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid(exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = exc.status_code
        return JSONResponse([{"code": code, "description": str(exc.detail)}], status_code=code)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in the Open311 API")
        return _errors(500, "internal error")

    @app.get("/services.json", tags=["services"], summary="Request categories as services")
    def services() -> list[dict[str, Any]]:
        return _services()

    @app.get("/services/{service_code}.json", tags=["services"],
             summary="A service's attributes (severity, route)", responses={"404": _ERRORS["404"]})
    def service_definition(service_code: str) -> dict[str, Any]:
        code = vocab.lookup(vocab.CATEGORIES, service_code)
        if code is None:
            raise ApiError(404, f"unknown service_code {service_code[:40]!r}")
        return _definition(code)

    @app.post("/requests.json", tags=["requests"], summary="Report a request",
              openapi_extra={"requestBody": _POST_BODY},
              responses=_POST_RESPONSES)
    async def post_request(request: Request) -> JSONResponse:
        fields = await _fields(request)
        # The synchronous database work runs in a worker thread, off the event loop.
        done = await run_in_threadpool(_submit, db(), fields)
        return JSONResponse([{"service_request_id": str(done.id),
                              "service_notice": done.notice}])

    @app.get("/requests.json", tags=["requests"], summary="Search requests",
             description=_READ_NOTE,
             responses={"400": _ERRORS["400"], "401": _ERRORS["401"], "403": _ERRORS["403"]})
    def get_requests(search: Annotated[SearchQuery, Query()]) -> list[dict[str, Any]]:
        who = open311_readers.reader(db(), search.api_key, public_feed=public_feed)
        found = intake.query(db(), ids=search.ids, service_code=search.service_code or None,
                             start=search.start_date, end=search.end_date,
                             status=search.status, page=search.page, page_size=search.page_size)
        return open311_readers.present(db(), open311_updates.attach_history(db(), found), who)

    @app.get("/requests/{service_request_id}.json", tags=["requests"],
             summary="One request, with its history (notes)", description=_READ_NOTE,
             responses={"401": _ERRORS["401"], "403": _ERRORS["403"], "404": _ERRORS["404"]})
    def get_request(service_request_id: str,
                    key: Annotated[ReadKey, Query()]) -> list[dict[str, Any]]:
        who = open311_readers.reader(db(), key.api_key, public_feed=public_feed)
        found = [intake.get(db(), service_request_id)]
        return open311_readers.present(db(), open311_updates.attach_history(db(), found), who)

    @app.post("/servicerequestupdates.json", tags=["updates"],
              summary="Post a status update (handler keys only)",
              description="mySociety's servicerequestupdates extension, as FixMyStreet sends "
                          "it: the handling platform reports a step of a request's flow. "
                          "The same transition rules as a re-imported export apply; the "
                          "same update_id sent again is answered with the first answer.",
              openapi_extra={"requestBody": _UPDATE_BODY}, responses=_UPDATE_RESPONSES)
    async def post_update(request: Request) -> JSONResponse:
        fields = await _fields(request)
        answer = await run_in_threadpool(_post_update, db(), fields)
        return JSONResponse([answer])

    @app.get("/servicerequestupdates.json", tags=["updates"],
             summary="Updates recorded in a window (any key)",
             description="mySociety's servicerequestupdates extension, oldest first. The "
                         "window bounds when GridMap recorded an update; a full page names "
                         "the next one in a Link header (after_update_id). Notes are shown "
                         "with phone numbers, ID numbers, e-mails and the reporter's name "
                         "masked. " + _READ_NOTE,
             responses={"200": {"description": "Updates, oldest first", "content": {
                 "application/json": {"schema": {"$ref": "#/components/schemas/Updates"}}}},
                 "401": _ERRORS["401"], "403": _ERRORS["403"]})
    def get_updates(request: Request,
                    query: Annotated[UpdatesFeedQuery, Query()]) -> JSONResponse:
        page = _feed(db(), query, public_feed=public_feed)
        headers = {}
        if page.next_after is not None:
            params = {k: v for k, v in request.query_params.items()
                      if k not in ("start_date", "after_update_id", "api_key")}
            params["after_update_id"] = str(page.next_after)
            url = request.url.replace_query_params(**params)
            headers["Link"] = f'<{url}>; rel="next"'
        return JSONResponse(page.items, headers=headers)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            comps["Errors"] = _ERROR_SCHEMA
            comps["PostRequest"] = PostRequest.model_json_schema(
                ref_template="#/components/schemas/{model}")
            comps["PostUpdate"] = PostUpdate.model_json_schema(
                ref_template="#/components/schemas/{model}")
            comps["UpdateAnswer"] = {"type": "array", "items": _UPDATE_ITEM}
            comps["Updates"] = {"type": "array", "items": _UPDATE_ITEM}
            comps["PostAnswer"] = {
                "type": "array", "items": {"type": "object", "properties": {
                    "service_request_id": {"type": "string"},
                    "service_notice": {"type": "string"}},
                    "required": ["service_request_id"]}}
            # FastAPI documents its own 422; this app answers 400 in the spec's shape instead.
            for path in schema.get("paths", {}).values():
                for op in path.values():
                    op.get("responses", {}).pop("422", None)
                    op["responses"].setdefault("400", _ERRORS["400"])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimit)
    return app


class BodyLimit:
    """Refuse a request body over :data:`MAX_BODY` without reading the rest of it.

    A declared Content-Length over the limit is answered at once; a body sent without one
    is counted as it streams and refused at the first chunk past the limit. Both are 413
    in the spec's error array, so a 500 MB upload costs no memory and no time.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Answer one ASGI call: refuse, or pass on with the body counted."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {MAX_BODY} bytes"
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY:
            await _errors(413, too_large)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY:
                    raise ApiError(413, too_large)  # answered by the ApiError handler
            return message

        await self.app(scope, counted, send)
