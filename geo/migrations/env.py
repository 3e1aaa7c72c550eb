"""Alembic environment: run migrations on the connection geo.store hands over."""

from alembic import context

from geo.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - migrations always run through geo.store
    raise RuntimeError("run migrations through geo.store.engine.upgrade_schema(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
