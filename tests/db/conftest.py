"""A private PostgreSQL server for the scale-out tests, started and stopped by this suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ironbound.lab.postgres import PostgresServer, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 (trust auth, user postgres)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A new, empty database for this test."""
    name = "ib_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return postgres.create_database(name)
