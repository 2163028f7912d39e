"""Schema upgrades with Alembic, from the first schema on.

Alembic is imported only when a database actually needs upgrading: it costs
about 10 MiB of memory that a running server would otherwise keep for
nothing. `SCHEMA_REVISION` names the newest migration; a unit test keeps it
equal to Alembic's head.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_REVISION = "0009"


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is there already."""
    if revision == "head" and current_revision(engine) == SCHEMA_REVISION:
        return
    from alembic import command  # noqa: PLC0415 (see the module docstring)
    from alembic.config import Config  # noqa: PLC0415

    # Alembic announces every plugin it loads at INFO; only its warnings matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str | None:
    """The newest revision the migration scripts define (imports Alembic)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
