"""The one place that talks SQL, one module per concern.

* :mod:`~geo.store.schema`: the tables and the geometry type;
* :mod:`~geo.store.engine`: the database URL, engines, migrations, transactions, settings;
* :mod:`~geo.store.requests`: writes, the bulk load, reads and Open311 look-ups;
* :mod:`~geo.store.counts`: the analytics SQL behind heat, detail and bulletin;
* :mod:`~geo.store.live`: the data version, wall and grid rows, the simulator's flow;
* :mod:`~geo.store.access`: scope conditions, API keys, accounts, wall tokens, audit log;
* :mod:`~geo.store.area`: :class:`AreaFilter`, the one value that says which grids a read
  covers.

New code imports from the submodules. The names below are re-exported for the modules that
still write ``store.X``.
"""

from __future__ import annotations

# --- public facade: names other modules still use as ``store.X`` (keep only used ones) ---
from geo.store._sql import read_frame
from geo.store.access import (
    create_api_key,
    find_api_key,
    list_api_keys,
    log_audit,
    read_audit,
    revoke_api_key,
    touch_api_key,
)
from geo.store.area import AreaFilter
from geo.store.counts import (
    request_counts_per_grid,
    request_counts_per_local_period,
    requests_per_grid,
    volunteer_hours_per_grid,
)
from geo.store.engine import (
    DEFAULT_SQLITE,
    clear_all,
    database_url,
    get_setting,
    is_empty,
    make_engine,
    schema_revision,
    set_setting,
    table_counts,
    transaction,
)
from geo.store.live import apply_transitions, flow_candidates, request_events_for
from geo.store.requests import (
    bulk_insert_requests,
    existing_keys,
    find_request,
    grid_count,
    insert_activities,
    insert_events,
    insert_request_row,
    insert_requests,
    read_admin_unit_attributes,
    read_admin_units,
    read_grids,
    read_requests,
    read_stations,
    request_ids,
    search_requests,
    write_admin_units,
    write_grids,
    write_stations,
)
from geo.store.schema import SRID, grid, request, station, volunteer_activity

__all__ = [
    "DEFAULT_SQLITE",
    "SRID",
    "AreaFilter",
    "apply_transitions",
    "bulk_insert_requests",
    "clear_all",
    "create_api_key",
    "database_url",
    "existing_keys",
    "find_api_key",
    "find_request",
    "flow_candidates",
    "get_setting",
    "grid",
    "grid_count",
    "insert_activities",
    "insert_events",
    "insert_request_row",
    "insert_requests",
    "is_empty",
    "list_api_keys",
    "log_audit",
    "make_engine",
    "read_admin_unit_attributes",
    "read_admin_units",
    "read_audit",
    "read_frame",
    "read_grids",
    "read_requests",
    "read_stations",
    "request",
    "request_counts_per_grid",
    "request_counts_per_local_period",
    "request_events_for",
    "request_ids",
    "requests_per_grid",
    "revoke_api_key",
    "schema_revision",
    "search_requests",
    "set_setting",
    "station",
    "table_counts",
    "touch_api_key",
    "transaction",
    "volunteer_activity",
    "volunteer_hours_per_grid",
    "write_admin_units",
    "write_grids",
    "write_stations",
]
