"""ironbound.api.listing: query parameters of list requests, fields, and the next link."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.datastructures import QueryParams

from ironbound import errors
from ironbound.api import listing
from ironbound.api.listing import ListQuery

FIELDS = {"uuid": 1, "name": 5, "links": 1, "storage_interface": 33}
SORTABLE = {"id", "uuid", "name"}


def parse(query: str, minor: int = 33, max_limit: int = 1000, **kwargs: Any) -> ListQuery:
    return listing.parse(
        QueryParams(query),
        minor=minor,
        max_limit=max_limit,
        fields_table=FIELDS,
        sortable=SORTABLE,
        **kwargs,
    )


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "ON", " y ", "t"])
def test_parse_bool_true(value: str) -> None:
    assert listing.parse_bool("detail", value) is True


@pytest.mark.parametrize("value", ["false", "False", "0", "no", "off", "n", "F"])
def test_parse_bool_false(value: str) -> None:
    assert listing.parse_bool("detail", value) is False


@pytest.mark.parametrize("value", ["", "2", "maybe", "truthy"])
def test_parse_bool_refuses(value: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="detail"):
        listing.parse_bool("detail", value)


def test_defaults() -> None:
    assert parse("") == ListQuery(
        limit=1000, marker=None, sort_key="id", sort_dir="asc", fields=None, detail=False
    )


def test_everything_given() -> None:
    query = parse(
        "limit=5&marker=m&sort_key=name&sort_dir=DESC&fields=uuid,name&node=n1",
        filters=("node", "driver"),
    )
    assert query == ListQuery(
        limit=5,
        marker="m",
        sort_key="name",
        sort_dir="desc",
        fields=["uuid", "name"],
        detail=False,
        filters={"node": "n1"},
    )


def test_unknown_parameters_are_listed_with_the_allowed_ones() -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        parse("bogus=1&other=2", filters=("node",))
    assert str(caught.value) == (
        "Unknown query parameter(s) bogus, other. Allowed: fields, limit, marker, node, "
        "sort_dir, sort_key."
    )


def test_detail_only_where_allowed() -> None:
    with pytest.raises(errors.InvalidParameterValue, match="detail"):
        parse("detail=True")
    assert parse("detail=True", detail_since=1).detail is True
    assert parse("detail=0", detail_since=1).detail is False


def test_detail_below_its_version_is_400_naming_the_parameter() -> None:
    with pytest.raises(errors.InvalidParameterValue, match=r"\?detail=True received"):
        parse("detail=True", minor=42, detail_since=43)
    assert parse("detail=True", minor=43, detail_since=43).detail is True


def test_detail_path_takes_no_detail_parameter() -> None:
    with pytest.raises(errors.InvalidParameterValue, match="Unknown query parameter"):
        parse("detail=True", detail_since=1, detail_path=True)


def test_sort_key_newer_than_the_version_is_406() -> None:
    with pytest.raises(errors.NotAcceptable, match="name"):
        parse("sort_key=name", minor=4)
    assert parse("sort_key=name", minor=5).sort_key == "name"


def test_detail_and_fields_together_are_refused() -> None:
    with pytest.raises(errors.InvalidParameterValue, match="Can't fetch a subset"):
        parse("detail=True&fields=uuid", detail_since=1)


@pytest.mark.parametrize(
    ("value", "limit"),
    [("5", 5), (" 7 ", 7), ("1000", 1000), ("1001", 1000), ("9" * 18, 1000), ("9" * 5000, 1000)],
)
def test_limit(value: str, limit: int) -> None:
    assert parse(f"limit={value}").limit == limit


def test_limit_capped_at_max_limit() -> None:
    assert parse("limit=50", max_limit=20).limit == 20


@pytest.mark.parametrize("value", ["0", "-1", "-0", "-" + "9" * 30])
def test_limit_must_be_positive(value: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="Limit must be positive"):
        parse(f"limit={value}")


@pytest.mark.parametrize(
    "value", ["abc", "--5", "1.5", "0x10", "1e3", "", "+3", "\u00b2", "\u0663"]
)
def test_limit_must_be_an_integer(value: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="limit must be an integer"):
        listing.parse(
            QueryParams({"limit": value}),
            minor=33,
            max_limit=1000,
            fields_table=FIELDS,
            sortable=SORTABLE,
        )


def test_sort_dir_and_key_are_checked() -> None:
    with pytest.raises(errors.InvalidParameterValue, match="Invalid sort direction: up"):
        parse("sort_dir=up")
    with pytest.raises(errors.InvalidParameterValue, match="sort_key value links"):
        parse("sort_key=links")


def test_filters_are_kept() -> None:
    assert parse("node=n&driver=d", filters=("node", "driver")).filters == {
        "node": "n",
        "driver": "d",
    }


# --- fields -------------------------------------------------------------------------


def test_visible() -> None:
    assert listing.visible(FIELDS, 4) == ("uuid", "links")
    assert listing.visible(FIELDS, 33) == ("uuid", "name", "links", "storage_interface")


def test_parse_fields_trims_and_drops_empty_names() -> None:
    assert listing.parse_fields(" uuid ,, name,", FIELDS, 33) == ["uuid", "name"]


def test_parse_fields_before_1_8_is_not_acceptable() -> None:
    with pytest.raises(errors.NotAcceptable):
        listing.parse_fields("uuid", FIELDS, 7)


def test_parse_fields_unknown_names_list_the_visible_ones() -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        listing.parse_fields("uuid,bogus", FIELDS, 32)
    assert "'bogus'" in str(caught.value)
    assert "uuid, name, links." in str(caught.value)  # storage_interface is not offered at 1.32


def test_parse_fields_newer_than_the_version_is_not_acceptable() -> None:
    with pytest.raises(errors.NotAcceptable, match="storage_interface"):
        listing.parse_fields("storage_interface", FIELDS, 32)
    assert listing.parse_fields("storage_interface", FIELDS, 33) == ["storage_interface"]


# --- next ---------------------------------------------------------------------------


def items(count: int) -> list[dict[str, object]]:
    return [{"uuid": f"u{i}"} for i in range(count)]


def test_no_next_on_a_short_or_empty_page() -> None:
    query = parse("limit=3")
    assert listing.next_link("http://h", "nodes", query, items(2)) is None
    assert listing.next_link("http://h", "nodes", query, []) is None


def test_next_on_a_full_page() -> None:
    query = parse("limit=2&sort_key=name&sort_dir=desc&fields=uuid,name&node=n", filters=("node",))
    link = listing.next_link("http://h:6385", "volume/targets", query, items(2))
    assert link is not None
    url = urlsplit(link)
    assert (url.scheme, url.netloc, url.path) == ("http", "h:6385", "/v1/volume/targets")
    assert "fields=uuid,name" in url.query  # commas are left readable, as Ironic writes them
    assert parse_qs(url.query) == {
        "node": ["n"],
        "sort_key": ["name"],
        "sort_dir": ["desc"],
        "fields": ["uuid,name"],
        "limit": ["2"],
        "marker": ["u1"],
    }


def test_next_keeps_detail_and_extra_parameters() -> None:
    query = parse("limit=1&detail=true", detail_since=1)
    link = listing.next_link("http://h", "volume/targets", query, items(1), extra={"x": "y z"})
    assert link is not None
    assert parse_qs(urlsplit(link).query)["detail"] == ["True"]
    assert parse_qs(urlsplit(link).query)["x"] == ["y z"]


def test_next_quotes_filter_values() -> None:
    query = parse("limit=1&node=a%26b%3Dc", filters=("node",))
    link = listing.next_link("http://h", "ports", query, items(1))
    assert link is not None
    assert parse_qs(urlsplit(link).query)["node"] == ["a&b=c"]
