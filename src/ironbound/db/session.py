"""Engines and sessions.

SQLite is tuned for one process with several threads: WAL so readers never
wait for the writer, synchronous=NORMAL (a crash may lose the last commits but
never corrupts), a busy timeout so short write contention waits instead of
failing, and foreign keys on so deletes cascade. Writing transactions start
with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can
fail with "database is locked" without waiting, an immediate one queues.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ironbound.db import limits

_IMMEDIATE = "ironbound_immediate"
#: Text that may hold an integer orjson would read as a float (past 64 bits), losing digits.
_LONG_NUMBER = re.compile(r"[0-9]{19}")


def _json_loads(text: str) -> Any:
    """A JSON column's value, as `json.loads` reads it, mostly by the faster orjson.

    Every list and show decodes a dozen JSON columns per node. orjson reads
    the same values except long integers (checked first) and what it refuses
    (NaN, lone surrogates), which json reads as before.
    """
    if not _LONG_NUMBER.search(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is replaced by the explicit
    # BEGINs below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    if conn.get_execution_options().get(_IMMEDIATE, False):
        # It may wait, then fail: "database is locked" as SQLAlchemy's error.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # A deferred BEGIN never waits nor fails on a lock; through the driver it
    # costs every read a fraction of what a SQLAlchemy statement does.
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection that begins is checked out
    cursor = dbapi.cursor()
    cursor.execute("BEGIN")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite tuned as described above."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            pool_size=20,
            max_overflow=20,
            json_deserializer=_json_loads,
        )
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """The engine plus a reading and a writing session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False
        )
        event.listen(self._writer, "before_flush", limits.check_session)
        # SQLite has one writer at a time. Left to SQLite, a writer that finds the
        # database locked sleeps and tries again (1, 2, 5, ... up to 100 ms a time),
        # so under load the lock sits free while the waiters sleep. Writers of this
        # process queue here instead and start the moment the last one commits.
        self._one_writer: AbstractContextManager[Any] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A consistent snapshot for reading; never commits."""
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with self._one_writer, self._writer() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection (on shutdown)."""
        self.engine.dispose()
