"""Bounds on every stored document, checked after a change is applied, before it is written.

Each request body is bounded on its own (api/deps), but a document grows by
changes: several small patches can nest `extra` deeper, or make it larger,
than anything can read back (orjson stops at 255 levels, Python's JSON at
the recursion limit), and one record would then break every list that
shows it. So each JSON column of each row a transaction writes is checked
here, whatever wrote it, and the transaction fails with a 400 instead.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import JSON, inspect
from sqlalchemy.orm import Session

from ironbound import errors

#: Levels of nesting a stored document may have (the API's body limit too).
MAX_DEPTH = 100
#: Serialised size of one stored document: Ironic's columns hold 64 KiB.
MAX_BYTES = 64 * 1024
#: Characters of a stored text readers see (last_error, an event's message): what a
#: failure quotes (a server's answer, a long path) cannot make a record huge.
MAX_TEXT = 4096
_ELLIPSIS = "..."


def bounded_text(text: str) -> str:
    """`text`, cut to MAX_TEXT characters with an ellipsis if longer."""
    if len(text) <= MAX_TEXT:
        return text
    return text[: MAX_TEXT - len(_ELLIPSIS)] + _ELLIPSIS


def depth(document: Any, limit: int = MAX_DEPTH) -> int:
    """How deep `document` nests, counting up to `limit` + 1 at most (iteratively)."""
    level, seen = [document], 0
    while seen <= limit:
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return seen
        seen += 1
    return seen


def _name(row: Any, column: str) -> str:
    kind = type(row).__name__
    ident = getattr(row, "uuid", None)
    return f"{column} of {kind} {ident}" if ident else f"{column} of a {kind}"


def check_document(what: str, document: Any) -> None:
    """:raises InvalidParameterValue: `document` (`what`: its column and row) is nested too
    deep or too large to store."""
    if depth(document) > MAX_DEPTH:
        raise errors.InvalidParameterValue(
            reason=f"The {what} would be nested more than {MAX_DEPTH} levels "
            f"deep after this change; at most {MAX_DEPTH} levels can be stored."
        )
    size = len(orjson.dumps(document))
    if size > MAX_BYTES:
        raise errors.InvalidParameterValue(
            reason=f"The {what} would take {size} bytes after this change; at "
            f"most {MAX_BYTES} bytes can be stored in one document."
        )


def check_session(session: Session, _context: Any, _instances: Any) -> None:
    """A before_flush hook: every JSON column of every new or changed row."""
    for row in (*session.new, *session.dirty):
        state = inspect(row)
        for column in state.mapper.columns:
            if not isinstance(column.type, JSON):
                continue
            attribute = state.attrs[column.key]
            if row in session.new or attribute.history.has_changes():
                check_document(_name(row, column.key), attribute.value)
