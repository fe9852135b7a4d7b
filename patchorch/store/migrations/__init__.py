"""Alembic migrations of the store's schema; `patchorch.store.schema.migrate` applies them when a store is opened."""
