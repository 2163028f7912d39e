"""Make Cinder's SQLite transactions take the write lock up front (BEGIN IMMEDIATE).

Python imports this at start-up in every Cinder process of the lab (the directory is on
their PYTHONPATH). oslo.db opens SQLite transactions with a plain, deferred BEGIN; when
cinder-api, -scheduler and -volume write at once, a transaction that read first and
writes second fails at once with "database is locked" (SQLite cannot wait there without
risking a deadlock). BEGIN IMMEDIATE waits (busy timeout) instead: the lab's few
transactions simply queue.
"""

try:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
except ImportError:  # not a Cinder process
    pass
else:

    @event.listens_for(Engine, "before_cursor_execute", retval=True)
    def _begin_immediate(conn, cursor, statement, parameters, context, executemany):
        if conn.dialect.name == "sqlite" and statement.strip().upper() == "BEGIN":
            statement = "BEGIN IMMEDIATE"
        return statement, parameters
