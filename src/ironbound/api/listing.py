"""Reading a request for resources: list and show queries, field selection, the `next` link.

Every route reads its query string and picks the fields it renders here, so
the checks say the same everywhere. Unknown query parameters are refused
with the list of known ones: a typo in a filter must not silently return
everything. A field the requested microversion does not have is Not
Acceptable (406), not a 400, so that clients know to ask for a newer version.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.responses import Response

from ironbound.api import microversions as mv
from ironbound.api import problems, responses
from ironbound.api.deps import Call

# ASCII digits only: str.isdigit() also accepts '²', which int() then refuses.
_INTEGER = re.compile(r"-?[0-9]+")
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


@dataclass(frozen=True)
class FieldTable:
    """A resource's fields, each with the microversion that introduced it."""

    since: Mapping[str, int]
    #: What a list without detail shows (those of them the version has).
    summary_names: tuple[str, ...]
    # Detail names per microversion: computed once, read by every request.
    _detail: dict[int, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def detail(self, minor: int) -> tuple[str, ...]:
        names = self._detail.get(minor)
        if names is None:
            names = self._detail[minor] = visible(self.since, minor)
        return names

    def summary(self, minor: int) -> tuple[str, ...]:
        return tuple(name for name in self.summary_names if self.since[name] <= minor)


@dataclass(frozen=True)
class Resource:
    """A listable resource: where its collection is, its list document's member, its fields."""

    collection: str  # path under /v1, e.g. "volume/targets"
    list_key: str  # member of the list document, e.g. "targets"
    fields: FieldTable
    sortable: frozenset[str]


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise problems.InvalidBoolean(value=value, name=name)


@dataclass
class ListQuery:
    limit: int
    marker: str | None
    sort_key: str
    sort_dir: str
    fields: list[str] | None
    detail: bool  # ?detail=
    filters: dict[str, str] = field(default_factory=dict)
    detail_path: bool = False  # .../detail

    def names(self, table: FieldTable, minor: int) -> tuple[str, ...]:
        """The fields each item of the page shows."""
        if self.detail or self.detail_path:
            return table.detail(minor)
        if self.fields is not None:
            return with_links(self.fields)
        return table.summary(minor)


def visible(table: Mapping[str, int], minor: int) -> tuple[str, ...]:
    """Fields of `table` that exist at microversion `minor`."""
    return tuple(name for name, since in table.items() if since <= minor)


def with_links(names: Sequence[str]) -> tuple[str, ...]:
    """A `fields` selection always carries the links, as in Ironic."""
    return (*names, "links") if "links" not in names else tuple(names)


def reject_unknown(params: Iterable[str], allowed: Collection[str]) -> None:
    """:raises InvalidParameterValue: a query parameter is not one of `allowed`."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise problems.UnknownQueryParameters(unknown=unknown, allowed=sorted(allowed) or ["none"])


def reject_newer(names: Iterable[str], since: Mapping[str, int], minor: int) -> None:
    """Refuse (406) the `names` that `since` dates after microversion `minor`, in their order.

    Names `since` does not know are left to the caller's other checks.
    """
    too_new = [name for name in names if since.get(name, 0) > minor]
    if too_new:
        raise problems.FieldsTooNew(names=too_new, version=mv.version_string(minor))


def parse_fields(value: str, table: Mapping[str, int], minor: int) -> list[str]:
    """The `fields` parameter: known names only, each available at this version."""
    if minor < mv.FIELDS_PARAM:
        raise problems.FieldsParameterTooNew(version=mv.version_string(mv.FIELDS_PARAM))
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise problems.UnknownFields(unknown, visible(table, minor))
    reject_newer(names, table, minor)
    return names


def parse(
    params: QueryParams,
    *,
    minor: int,
    max_limit: int,
    fields_table: Mapping[str, int],
    sortable: Collection[str],
    filters: Collection[str] = (),
    detail_since: int | None = None,
    detail_path: bool = False,
) -> ListQuery:
    """Parse and check a list request's query string.

    `detail_since` is the microversion from which `?detail=` is accepted
    (None: the list takes no such parameter); a `/detail` path takes none.

    :raises InvalidParameterValue: unknown parameter or bad value.
    :raises NotAcceptable: a `fields` or `sort_key` name newer than `minor`.
    """
    allowed = {"limit", "marker", "sort_key", "sort_dir", "fields", *filters}
    if detail_path:
        detail_since = None
    if detail_since is not None:
        allowed.add("detail")
    reject_unknown(params.keys(), allowed)
    if "detail" in params and detail_since is not None and minor < detail_since:
        # As Ironic: below its version, ?detail= is a bad parameter, not a missing feature.
        raise problems.DetailQueryTooNew(value=params["detail"])
    limit = max_limit
    if "limit" in params:
        text = params["limit"].strip()
        if not _INTEGER.fullmatch(text):
            raise problems.LimitNotInteger(text=text)
        # Past 18 digits any limit is over max_limit (and int() refuses 4,300 digits).
        limit = int(text) if len(text) <= 18 else (-1 if text.startswith("-") else max_limit)
        if limit <= 0:
            raise problems.LimitNotPositive()
        limit = min(limit, max_limit)
    sort_dir = params.get("sort_dir", "asc").lower()
    if sort_dir not in ("asc", "desc"):
        raise problems.InvalidSortDirection(value=params["sort_dir"])
    sort_key = params.get("sort_key", "id")
    reject_newer([sort_key], fields_table, minor)
    if sort_key not in sortable:
        raise problems.InvalidSortKey(key=sort_key, sortable=sorted(sortable))
    detail = parse_bool("detail", params["detail"]) if "detail" in params else False
    fields = parse_fields(params["fields"], fields_table, minor) if "fields" in params else None
    if (detail or detail_path) and fields is not None:
        raise problems.DetailWithFields()
    return ListQuery(
        limit=limit,
        marker=params.get("marker"),
        sort_key=sort_key,
        sort_dir=sort_dir,
        fields=fields,
        detail=detail,
        filters={k: params[k] for k in filters if k in params},
        detail_path=detail_path,
    )


def list_query(
    call: Call,
    resource: Resource,
    *,
    filters: Collection[str] = (),
    detail_since: int | None = None,
    detail_path: bool = False,
) -> ListQuery:
    """`parse` for a list request of `resource`."""
    return parse(
        call.request.query_params,
        minor=call.minor,
        max_limit=call.services.conf.api.max_limit,
        fields_table=resource.fields.since,
        sortable=resource.sortable,
        filters=filters,
        detail_since=detail_since,
        detail_path=detail_path,
    )


def show_names(call: Call, table: FieldTable) -> tuple[str, ...]:
    """The fields a show request renders: all of this version's, or those `fields` names.

    :raises InvalidParameterValue: a query parameter other than `fields`.
    """
    params = call.request.query_params
    reject_unknown(params.keys(), ("fields",))
    if "fields" in params:
        return with_links(parse_fields(params["fields"], table.since, call.minor))
    return table.detail(call.minor)


def next_link(
    base_url: str,
    collection: str,
    query: ListQuery,
    items: Sequence[dict[str, object]],
    extra: Mapping[str, str] | None = None,
    marker: str | None = None,
) -> str | None:
    """The URL of the next page, when this page is full (as Ironic does).

    The marker is the last item's UUID unless `marker` names it (a conductor's hostname).
    """
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
    params["marker"] = marker if marker is not None else str(items[-1]["uuid"])
    return f"{base_url}/v1/{collection}?{urlencode(params, safe=',')}"


def page(
    call: Call,
    resource: Resource,
    query: ListQuery,
    items: list[dict[str, Any]],
    prefix: str | None = None,
    marker: str | None = None,
) -> Response:
    """The list document; its `next` link stays on the same path (a node's list, detail)."""
    collection = resource.collection
    if prefix is not None:
        collection = f"{prefix}/{collection}"
    if query.detail_path:
        collection = f"{collection}/detail"
    body: dict[str, Any] = {resource.list_key: items}
    next_url = next_link(call.base_url, collection, query, items, marker=marker)
    if next_url:
        body["next"] = next_url
    return responses.json(body)
