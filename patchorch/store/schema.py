"""The store's tables (SQLAlchemy Core). One MetaData; other modules of the store add their tables to it."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
