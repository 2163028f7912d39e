"""A read is one snapshot: a write committed while it runs stays out of it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table, insert, select, update

from ironbound.db.session import Database


def test_read_sees_one_snapshot(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite'}")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("v", Integer))
    table.metadata.create_all(db.engine)
    with db.write() as session:
        session.execute(insert(table).values(id=1, v=1))
    with db.read() as session:
        before = session.execute(select(table.c.v)).scalar_one()
        with db.write() as writer:
            writer.execute(update(table).values(v=2))
        during = session.execute(select(table.c.v)).scalar_one()
    with db.read() as session:
        after = session.execute(select(table.c.v)).scalar_one()
    db.dispose()
    assert (before, during, after) == (1, 1, 2)
