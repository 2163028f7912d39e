"""JSON columns read back exactly as json.loads reads their text, on the fast path or not."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from ironbound.db.base import JSONType
from ironbound.db.session import Database

_DOCS = [
    {"a": 1, "b": [1.5, "x", None, True], "c": {"d": "é"}},
    {"big": 2**70, "negative": -(2**64) - 5},
    {"top": 2**64 - 1, "bottom": -(2**63)},
    {"long float": 0.12345678901234567890123},
    {"nan": float("nan"), "inf": float("inf")},
    {"surrogate": "\ud800"},
    [],
    "text",
]


@pytest.mark.parametrize("doc", _DOCS, ids=range(len(_DOCS)))
def test_json_column_reads_like_json_loads(tmp_path: Path, doc: Any) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite'}")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("v", JSONType))
    table.metadata.create_all(db.engine)
    with db.write() as session:
        session.execute(insert(table).values(id=1, v=doc))
    with db.read() as session:
        got = session.execute(select(table.c.v)).scalar_one()
    db.dispose()
    expected = json.loads(json.dumps(doc))
    assert repr(got) == repr(expected)
    assert json.dumps(got) == json.dumps(expected)
    if isinstance(doc, dict) and "nan" in doc:
        assert math.isnan(got["nan"])
