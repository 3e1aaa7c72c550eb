"""The one place that talks SQL, one module per concern.

* :mod:`~geo.store.schema`: the tables and the geometry type;
* :mod:`~geo.store.engine`: the database URL, engines, migrations, transactions, settings;
* :mod:`~geo.store.requests`: writes, the bulk load, reads and Open311 look-ups;
* :mod:`~geo.store.counts`: the analytics SQL behind heat, detail and bulletin;
* :mod:`~geo.store.live`: the data version, wall and grid rows, the simulator's flow;
* :mod:`~geo.store.access`: scope conditions, API keys, accounts, wall tokens, audit log;
* :mod:`~geo.store.area`: :class:`AreaFilter`, the one value that says which grids a read
  covers.

Callers import the submodule they need (``from geo.store import engine as store_engine``);
this package re-exports nothing, so each call site says which concern it touches.
"""
