"""Alembic environment: runs migrations on the connection `ironbound db` hands over."""

from __future__ import annotations

from alembic import context

from ironbound.db import models  # noqa: F401  (registers the tables on Base.metadata)
from ironbound.db.base import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
