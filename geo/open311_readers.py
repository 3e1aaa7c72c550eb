"""Who reads requests through the Open311 API, and what each reader sees (issue 17).

GeoReport v2 makes reading public, as for a city's pothole map. A grid's requests are
often not that (neighbour disputes, police matters, welfare cases, a resident's phone in
the text), so reading needs a key unless the deployment opens a public feed
(``GRIDMAP_PUBLIC_FEED=1``). Three readers (:data:`READERS`):

* ``clear``: a handler key (the handling platform works the requests): the stored text.
* ``masked``: any other live key (the mini-program): phone and ID-card numbers, e-mails and
  the reporter's own name masked in the description, the address and the notes
  (:func:`geo.access.mask_text`), as for every reader who sees contacts masked.
* ``public``: no key, with the public feed on: masked text only for the categories marked
  public (:data:`geo.vocab.PUBLIC_CATEGORIES`), no text, address or photo for the others,
  and every point moved to its grid's centre, or to a 0.001° lattice (about 100 m) when it
  is in no grid.

Names, phones and e-mails themselves are never output to anyone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pandas as pd
import shapely
from sqlalchemy.engine import Engine

from geo import intake, vocab
from geo.access import mask_text, name_forms
from geo.store import requests as store_requests

READERS = ("clear", "masked", "public")
#: The setting that opens a public feed (1, true or yes).
PUBLIC_FEED_SETTING = "GRIDMAP_PUBLIC_FEED"
#: Key role whose reader sees the stored text (the handling platform).
CLEAR_ROLE = "handler"
#: Decimal places a public point outside every grid keeps (0.001° ≈ 111 m north–south).
PUBLIC_DECIMALS = 3


def public_feed_enabled(value: str | None = None) -> bool:
    """Return True when the setting (default: the environment) opens a public feed."""
    text = os.environ.get(PUBLIC_FEED_SETTING, "") if value is None else value
    return text.strip().lower() in ("1", "true", "yes", "on")


def reader(engine: Engine, key: str | None, *, public_feed: bool) -> str:
    """Return the reader a GET is made by (one of :data:`READERS`).

    Raises
    ------
    geo.intake.IntakeError
        401 without a key when there is no public feed; 403 for a wrong or revoked key.

    """
    if not key:
        if public_feed:
            return "public"
        raise intake.IntakeError(401, "api_key is required to read requests", "api_key")
    return "clear" if intake.live_key(engine, key)["role"] == CLEAR_ROLE else "masked"


def _facts(engine: Engine, ids: Iterable[int]) -> dict[int, tuple[str, list[Any], list[Any]]]:
    """Request id → (category, the reporter's name forms, the reporter's phone and e-mail)."""
    frame = store_requests.reporter_contacts(engine, list(ids))
    return {int(rid): (str(cat), name_forms(name), [phone, email])
            for rid, name, phone, email, cat in zip(
                frame["id"], frame["reporter_name"], frame["reporter_phone"],
                frame["reporter_email"], frame["category"], strict=True)}


def _masked(text: Any, fact: tuple[str, list[Any], list[Any]] | None) -> Any:
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    names, contacts = (fact[1], fact[2]) if fact is not None else ([], [])
    return mask_text(text, names=names, contacts=contacts)


def _shown(fact: tuple[str, list[Any], list[Any]] | None, who: str) -> bool:
    """Return True when this reader may see the request's text (masked or not)."""
    return who != "public" or (fact is not None and fact[0] in vocab.PUBLIC_CATEGORIES)


def _grid_points(engine: Engine, codes: Iterable[str]) -> dict[str, tuple[float, float]]:
    """Grid code → a point inside the grid (its representative point, lon and lat)."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    grids = store_requests.read_grids(engine, codes=wanted)
    points = shapely.point_on_surface(grids.geometry.to_numpy())
    return {str(c): (float(p.x), float(p.y))
            for c, p in zip(grids["code"], points, strict=True)}


def present(engine: Engine, items: list[dict[str, Any]], who: str) -> list[dict[str, Any]]:
    """Shape requests (:func:`geo.open311_updates.attach_history`'s output) for a reader.

    Changed in place and returned. See the module's description for what each reader sees.
    """
    if who == "clear" or not items:
        return items
    facts = _facts(engine, [int(i["service_request_id"]) for i in items])
    grids = (_grid_points(engine, (i["extended_attributes"].get("grid_code") for i in items))
             if who == "public" else {})
    for item in items:
        fact = facts.get(int(item["service_request_id"]))
        shown = _shown(fact, who)
        for field in ("description", "address", "status_notes"):
            item[field] = _masked(item.get(field), fact) if shown else None
        if not shown:
            item["media_url"] = None
        for note in item.get("notes", []):
            note["description"] = _masked(note.get("description"), fact) if shown else None
            if not shown:
                note.setdefault("extended_attributes", {})["media_url"] = None
        if who == "public":
            point = grids.get(str(item["extended_attributes"].get("grid_code")))
            if point is None and item.get("lat") is not None and item.get("long") is not None:
                point = (round(float(item["long"]), PUBLIC_DECIMALS),
                         round(float(item["lat"]), PUBLIC_DECIMALS))
            if point is not None:
                item["long"], item["lat"] = point
    return items


def present_updates(engine: Engine, items: list[dict[str, Any]],
                    who: str) -> list[dict[str, Any]]:
    """Shape updates feed items (:func:`geo.open311_updates.feed`) for a reader, in place.

    Notes are masked for every reader already; a public reader gets no note or photo of a
    request whose category is not public.
    """
    if who != "public" or not items:
        return items
    facts = _facts(engine, {int(i["service_request_id"]) for i in items})
    for item in items:
        if not _shown(facts.get(int(item["service_request_id"])), who):
            item["description"] = None
            item["media_url"] = None
    return items
