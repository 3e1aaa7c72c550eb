"""Resolution photos: write one, list a request's, read one with the grid it belongs to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from geo.store._sql import Bind, connect, inserted_id, read_frame
from geo.store.schema import request, request_photo


def insert_photo(conn: Connection, *, request_id: int, data: bytes, content_type: str,
                 sha256: str, width: int, height: int, actor: str, at: datetime) -> int:
    """Store a cleaned photo of a request and return its id."""
    result = conn.execute(request_photo.insert().values(
        request_id=request_id, data=data, content_type=content_type, sha256=sha256,
        width=width, height=height, actor=actor[:64], created_at=at))
    return inserted_id(result)


def photos_of(bind: Bind, request_ids: list[int]) -> pd.DataFrame:
    """Return id, request_id, content_type, width, height, created_at (no bytes)."""
    p = request_photo.c
    return read_frame(bind, select(p.id, p.request_id, p.content_type, p.width, p.height,
                                   p.created_at)
                      .where(p.request_id.in_([int(i) for i in request_ids])).order_by(p.id))


def read_photo(bind: Bind, photo_id: int) -> dict[str, Any] | None:
    """Return the photo's bytes and type with its request's grid code (for the scope check)."""
    p, r = request_photo.c, request.c
    stmt = (select(p.data, p.content_type, p.request_id, r.grid_code)
            .join_from(request_photo, request, p.request_id == r.id)
            .where(p.id == int(photo_id)))
    with connect(bind) as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None
