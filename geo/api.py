"""The Open311 GeoReport v2 endpoint (JSON), a thin HTTP layer over :mod:`geo.intake`.

Start it with ``gridmap api --host 127.0.0.1 --port 8311``. Request categories are the
services; ``coord_system=gcj02|bd09`` is an extension for WeChat and Baidu locations; the
``page``/``page_size`` query parameters and the ``extended_attributes`` object are
extensions too. Every error is the spec's list ``[{"code": …, "description": …}]`` with the
same HTTP status (400, 403 or 404); the body of ``POST /requests.json`` is parsed here, not
by FastAPI, so that a malformed body (bad encoding, wrong JSON) is a 400, never a 500.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo import intake, store, vocab

log = logging.getLogger(__name__)

#: The longest start_date..end_date span GET /requests.json answers (the spec's 90 days).
MAX_RANGE = timedelta(days=90)
#: The largest POST body read (a 4,000-character description is ~12 kB of UTF-8).
MAX_BODY = 64 * 1024

_ERROR_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}
_ERRORS_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
_ERRORS = {
    str(code): {"description": text, "content": _ERRORS_REF}
    for code, text in ((400, "Bad input"), (403, "Missing, wrong or revoked api_key"),
                       (404, "Unknown service or request"))
}

_POST_FIELDS: dict[str, dict[str, Any]] = {
    "api_key": {"type": "string", "description": "The client's key (required)."},
    "service_code": {"type": "string", "enum": list(vocab.CATEGORIES)},
    "lat": {"type": "number", "description": "Latitude in coord_system (required)."},
    "long": {"type": "number", "description": "Longitude in coord_system (required)."},
    "coord_system": {"type": "string", "enum": list(intake.COORD_SYSTEMS),
                     "default": "wgs84",
                     "description": "Extension: WeChat's location API returns gcj02."},
    "address_string": {"type": "string", "maxLength": 256},
    "description": {"type": "string", "maxLength": 4000},
    "media_url": {"type": "string", "maxLength": 1024},
    "first_name": {"type": "string"}, "last_name": {"type": "string"},
    "phone": {"type": "string"}, "email": {"type": "string"},
    "device_id": {"type": "string", "maxLength": 64},
    "account_id": {"type": "string", "maxLength": 64},
    "client_request_id": {"type": "string", "maxLength": 64,
                          "description": "Extension: with device_id, makes a retry safe."},
    "external_id": {"type": "string", "maxLength": 64,
                    "description": "Extension: the client's own unique id; a resend returns "
                                   "the original request."},
    "attribute[severity]": {"type": "string", "enum": ["操心", "烦心", "揪心",
                                                        *vocab.SEVERITIES]},
    "attribute[route]": {"type": "string", "enum": ["政府", "市场", "爱心", *vocab.ROUTES]},
}
_POST_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": _POST_FIELDS,
            "required": ["api_key", "service_code", "lat", "long"]}},
        "application/json": {"schema": {
            "type": "object", "properties": _POST_FIELDS,
            "required": ["api_key", "service_code", "lat", "long"]}},
    },
}


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
                "order": 1, "description": "紧急程度 (how pressing: deadline 7 d, 3 d, 24 h)",
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
    if len(raw) > MAX_BODY:
        raise ApiError(400, f"the request body is larger than {MAX_BODY} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not valid UTF-8") from None
    if "json" in content_type:
        try:
            data = json.loads(text) if text.strip() else {}
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


def _submit(engine: Engine, fields: dict[str, object]) -> intake.Submitted:
    api_key = fields.get("api_key")
    name = intake.check_api_key(engine, api_key if isinstance(api_key, str) else None)
    # The key is the client's secret, not part of the request.
    return intake.submit(engine, {k: v for k, v in fields.items() if k != "api_key"},
                         key_name=name)


def _parse_date(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} is not an ISO 8601 date-time: {text[:40]!r}") from None
    if moment.tzinfo is None:
        # A time without an offset is local (Asia/Shanghai), as residents read it.
        moment = moment.replace(tzinfo=intake.LOCAL_TZ)
    return moment


def create_app(engine: Engine | None = None) -> FastAPI:
    """Return the GeoReport v2 application.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine, optional
        The database; default :func:`geo.store.make_engine` on first use.

    """
    app = FastAPI(
        title="GridMap Open311 GeoReport v2",
        version="2",
        description="Residents' requests (诉求) for grid governance. Errors are a list of "
                    "{code, description} with the same HTTP status.",
    )
    state: dict[str, Engine] = {}

    def db() -> Engine:
        if "engine" not in state:
            state["engine"] = engine if engine is not None else store.make_engine()
        return state["engine"]

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _errors(exc.code, exc.description)

    @app.exception_handler(intake.IntakeError)
    async def _intake_error(_request: Request, exc: intake.IntakeError) -> JSONResponse:
        return _errors(exc.code, exc.description)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _errors(400, "; ".join(parts) or "invalid request")

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
              responses={"200": {"description": "Stored (committed) or a resend of a stored "
                                                "request",
                                 "content": {"application/json": {"schema": {
                                     "$ref": "#/components/schemas/PostAnswer"}}}},
                         **_ERRORS})
    async def post_request(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "").lower()
        if content_type.startswith("multipart/form-data"):
            try:
                form = await request.form()
            except Exception:  # malformed multipart of any kind is the client's error
                raise ApiError(400, "the multipart body cannot be read") from None
            fields: dict[str, object] = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            fields = _parse_body(await request.body(), content_type)
        for key, value in request.query_params.items():
            fields.setdefault(key, value)  # api_key is often sent in the query string
        # The synchronous database work runs in a worker thread, off the event loop.
        done = await run_in_threadpool(_submit, db(), fields)
        return JSONResponse([{"service_request_id": str(done.id),
                              "service_notice": done.notice}])

    @app.get("/requests.json", tags=["requests"], summary="Search requests",
             responses={"400": _ERRORS["400"]})
    def get_requests(
        service_request_id: str | None = Query(None, description="Comma list of ids"),
        service_code: str | None = Query(None, description="Comma list of services"),
        start_date: str | None = Query(None, description="ISO 8601; without an offset, "
                                                         "Asia/Shanghai"),
        end_date: str | None = Query(None, description="ISO 8601; at most 90 days after "
                                                       "start_date"),
        status: str | None = Query(None, description="open or closed"),
        page: int = Query(1, ge=1, description="Extension: 1-based page"),
        page_size: int = Query(50, ge=1, le=1000, description="Extension: page size"),
    ) -> list[dict[str, Any]]:
        start = _parse_date(start_date, "start_date")
        end = _parse_date(end_date, "end_date")
        if start is not None and end is not None:
            if end < start:
                raise ApiError(400, "end_date is before start_date")
            if end - start > MAX_RANGE:
                raise ApiError(400, "start_date to end_date spans more than 90 days")
        elif start is not None:
            end = start + MAX_RANGE
        elif end is not None:
            start = end - MAX_RANGE
        ids = None
        if service_request_id is not None:
            ids = [p for p in service_request_id.split(",") if p.strip()]
        status = status.strip().lower() if status else None
        return intake.query(db(), ids=ids, service_code=service_code or None, start=start,
                            end=end, status=status, page=page, page_size=page_size)

    @app.get("/requests/{service_request_id}.json", tags=["requests"],
             summary="One request", responses={"404": _ERRORS["404"]})
    def get_request(service_request_id: str) -> list[dict[str, Any]]:
        return [intake.get(db(), service_request_id)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            comps["Errors"] = _ERROR_SCHEMA
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
    return app
