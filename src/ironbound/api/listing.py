"""List requests: query parameters, field selection, and the `next` link.

Unknown query parameters are refused with the list of known ones: a typo in
a filter must not silently return everything.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from ironbound import errors
from ironbound.api import microversions as mv

# ASCII digits only: str.isdigit() also accepts '²', which int() then refuses.
_INTEGER = re.compile(r"-?[0-9]+")
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise errors.InvalidParameterValue(
        reason=f"Invalid value '{value}' for {name}: expected true or false."
    )


@dataclass
class ListQuery:
    limit: int
    marker: str | None
    sort_key: str
    sort_dir: str
    fields: list[str] | None
    detail: bool
    filters: dict[str, str] = field(default_factory=dict)


def visible(table: Mapping[str, int], minor: int) -> tuple[str, ...]:
    """Fields of `table` that exist at microversion `minor`."""
    return tuple(name for name, since in table.items() if since <= minor)


def parse_fields(value: str, table: Mapping[str, int], minor: int) -> list[str]:
    """The `fields` parameter: known names only, each available at this version."""
    if minor < mv.FIELDS_PARAM:
        raise errors.NotAcceptable(
            f"The fields parameter needs API version 1.{mv.FIELDS_PARAM} or later."
        )
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise errors.InvalidParameterValue(
            reason=f"Field(s) {', '.join(repr(n) for n in unknown)} are not valid. Valid "
            f"fields are: {', '.join(visible(table, minor))}."
        )
    too_new = [n for n in names if table[n] > minor]
    if too_new:
        raise errors.NotAcceptable(
            f"Field(s) {', '.join(too_new)} need a newer API version than "
            f"{mv.version_string(minor)}."
        )
    return names


def parse(
    params: QueryParams,
    *,
    minor: int,
    max_limit: int,
    fields_table: Mapping[str, int],
    sortable: Collection[str],
    filters: Collection[str] = (),
    detail_param: bool = False,
) -> ListQuery:
    """Parse and check a list request's query string.

    :raises InvalidParameterValue: unknown parameter or bad value.
    """
    allowed = {"limit", "marker", "sort_key", "sort_dir", "fields", *filters}
    if detail_param:
        allowed.add("detail")
    unknown = sorted(set(params.keys()) - allowed)
    if unknown:
        raise errors.InvalidParameterValue(
            reason=f"Unknown query parameter(s) {', '.join(unknown)}. Allowed: "
            f"{', '.join(sorted(allowed))}."
        )
    limit = max_limit
    if "limit" in params:
        text = params["limit"].strip()
        if not _INTEGER.fullmatch(text):
            raise errors.InvalidParameterValue(reason=f"limit must be an integer, got '{text}'.")
        # Past 18 digits any limit is over max_limit (and int() refuses 4,300 digits).
        limit = int(text) if len(text) <= 18 else (-1 if text.startswith("-") else max_limit)
        if limit <= 0:
            raise errors.InvalidParameterValue(reason="Limit must be positive")
        limit = min(limit, max_limit)
    sort_dir = params.get("sort_dir", "asc").lower()
    if sort_dir not in ("asc", "desc"):
        raise errors.InvalidParameterValue(
            reason=f"Invalid sort direction: {params['sort_dir']}. Acceptable values are "
            "'asc' or 'desc'"
        )
    sort_key = params.get("sort_key", "id")
    if sort_key not in sortable:
        raise errors.InvalidParameterValue(
            reason=f"The sort_key value {sort_key} is an invalid field for sorting. "
            f"Sortable fields: {', '.join(sorted(sortable))}."
        )
    detail = parse_bool("detail", params["detail"]) if "detail" in params else False
    fields = parse_fields(params["fields"], fields_table, minor) if "fields" in params else None
    if detail and fields is not None:
        raise errors.InvalidParameterValue(
            reason="Can't fetch a subset of fields with 'detail' set"
        )
    return ListQuery(
        limit=limit,
        marker=params.get("marker"),
        sort_key=sort_key,
        sort_dir=sort_dir,
        fields=fields,
        detail=detail,
        filters={k: params[k] for k in filters if k in params},
    )


def next_link(
    base_url: str,
    collection: str,
    query: ListQuery,
    items: Sequence[dict[str, object]],
    extra: Mapping[str, str] | None = None,
) -> str | None:
    """The URL of the next page, when this page is full (as Ironic does)."""
    if len(items) < query.limit or not items:
        return None
    params: dict[str, str] = dict(query.filters)
    if extra:
        params.update(extra)
    params["sort_key"] = query.sort_key
    params["sort_dir"] = query.sort_dir
    if query.fields is not None:
        params["fields"] = ",".join(query.fields)
    if query.detail:
        params["detail"] = "True"
    params["limit"] = str(query.limit)
    params["marker"] = str(items[-1]["uuid"])
    return f"{base_url}/v1/{collection}?{urlencode(params, safe=',')}"
