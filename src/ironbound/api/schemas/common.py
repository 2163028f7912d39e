"""Validation helpers shared by the resource schemas."""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from ironbound import errors
from ironbound.api import problems

# Nested mappings (driver_info, properties, extra) may hold any JSON.
JsonObject = dict[str, Any]


def _uuid(value: str) -> str:
    try:
        parsed = uuidlib.UUID(value)
    except ValueError as exc:
        raise ValueError(f"'{value}' is not a UUID") from exc
    return str(parsed)


UUIDStr = Annotated[str, AfterValidator(_uuid)]


class StrictModel(BaseModel):
    """Unknown members are refused and nothing is coerced (a "0" is not a 0)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def describe(exc: ValidationError) -> list[str]:
    """Each problem of a Pydantic error, readably."""
    found = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "is not a known field"
        elif item["type"] == "missing":
            message = "is required"
        found.append(f"{where} {message}" if where else message)
    return found


def validate(model: type[StrictModel], data: Any, what: str) -> Any:
    """`data` checked against `model`; raises InvalidParameterValue with every problem."""
    if not isinstance(data, dict):
        raise problems.DocumentNotObject(what=what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise problems.InvalidDocument(what, describe(exc)) from exc


def check_uuid(value: str, field: str) -> str:
    """`value` as a canonical lower-case UUID; raises InvalidUUID."""
    try:
        return str(uuidlib.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise errors.InvalidUUID(field=field, value=value) from exc


_NAME_NEW = re.compile(r"^[A-Za-z0-9._~-]{1,255}$")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_node_name(name: str, minor: int) -> None:
    """Ironic's logical-name rules: hostname-like before 1.10, URL-safe from 1.10."""
    if len(name) in (32, 36):
        try:
            uuidlib.UUID(name)
        except ValueError:
            pass
        else:
            raise problems.NodeNameIsUuid(name=name)
    if minor >= 10:
        ok = bool(_NAME_NEW.match(name))
        rule = "letters, digits and the characters . _ ~ - (at most 255)"
    else:
        ok = len(name) <= 255 and all(_HOST_LABEL.match(p) for p in name.rstrip(".").split("."))
        rule = "a valid host name (letters, digits and hyphens, dot-separated)"
    if not ok:
        raise problems.InvalidNodeName(name=name, rule=rule)
