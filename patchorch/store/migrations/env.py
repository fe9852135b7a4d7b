"""Alembic environment: migrations run on the connection `patchorch.store.schema.migrate` hands over, inside the
transaction that holds the store's migration lock, so two processes opening an empty store never both create it."""

from __future__ import annotations

from alembic import context

from patchorch.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
