"""ironbound.api.patch: JSON Patch with Ironic's rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ironbound import errors
from ironbound.api import patch

UPDATABLE = ("extra", "name", "properties", "driver", "driver_info")
DOC: dict[str, Any] = {
    "uuid": "u",
    "name": "n",
    "driver": "fake-hardware",
    "extra": {"a": 1, "l": [1, 2], "s": "abc"},
    "properties": {},
    "driver_info": None,
}


def apply(*ops: dict[str, Any], document: dict[str, Any] | None = None) -> dict[str, Any]:
    return patch.apply(
        document if document is not None else DOC,
        list(ops),
        updatable=UPDATABLE,
        required=("driver",),
    )


def test_add_replace_remove() -> None:
    result = apply(
        {"op": "add", "path": "/extra/b", "value": 2},
        {"op": "replace", "path": "/name", "value": "m"},
        {"op": "remove", "path": "/extra/a"},
    )
    assert result["extra"] == {"b": 2, "l": [1, 2], "s": "abc"}
    assert result["name"] == "m"


def test_add_on_an_existing_member_replaces_it() -> None:
    assert apply({"op": "add", "path": "/extra/a", "value": 9})["extra"]["a"] == 9
    assert apply({"op": "add", "path": "/name", "value": "x"})["name"] == "x"


def test_list_operations() -> None:
    assert apply({"op": "add", "path": "/extra/l/-", "value": 3})["extra"]["l"] == [1, 2, 3]
    assert apply({"op": "add", "path": "/extra/l/0", "value": 0})["extra"]["l"] == [0, 1, 2]
    assert apply({"op": "remove", "path": "/extra/l/1"})["extra"]["l"] == [1]


def test_add_under_a_null_mapping_creates_it() -> None:
    result = apply({"op": "add", "path": "/driver_info/ipmi_address", "value": "1.2.3.4"})
    assert result["driver_info"] == {"ipmi_address": "1.2.3.4"}


def test_the_input_is_left_untouched() -> None:
    before = copy.deepcopy(DOC)
    apply({"op": "add", "path": "/extra/a", "value": 9}, {"op": "remove", "path": "/name"})
    assert before == DOC


def test_operations_apply_in_order() -> None:
    result = apply(
        {"op": "add", "path": "/extra/n", "value": {}},
        {"op": "add", "path": "/extra/n/k", "value": 1},
        {"op": "replace", "path": "/extra/n/k", "value": 2},
    )
    assert result["extra"]["n"] == {"k": 2}


def test_pointer_escapes() -> None:
    assert apply({"op": "add", "path": "/extra/a~1b~0c", "value": 1})["extra"]["a/b~c"] == 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"op": "add"}, "non-empty JSON array"),
        ([], "non-empty JSON array"),
        (None, "non-empty JSON array"),
        (["add"], "is not an object"),
        ([{"op": "add", "path": "/name", "value": 1, "from": "/x"}], "unknown member(s) ['from']"),
        ([{"op": "move", "path": "/name"}], "Invalid patch operation 'move'"),
        ([{"op": "test", "path": "/name", "value": 1}], "Invalid patch operation 'test'"),
        ([{"path": "/name", "value": 1}], "Invalid patch operation None"),
        ([{"op": "add", "path": "name", "value": 1}], "Invalid patch path 'name'"),
        ([{"op": "add", "path": "/", "value": 1}], "Invalid patch path '/'"),
        ([{"op": "add", "path": 7, "value": 1}], "Invalid patch path 7"),
        ([{"op": "remove"}], "Invalid patch path None"),
        ([{"op": "replace", "path": "/name"}], "needs a 'value'"),
        ([{"op": "add", "path": "/extra/a~2", "value": 1}], "Invalid patch path '/extra/a~2'"),
        ([{"op": "add", "path": "/extra/~", "value": 1}], "Invalid patch path"),
        (
            [{"op": "replace", "path": "/uuid", "value": "x"}],
            "Cannot patch /uuid. Only the following can be updated: "
            "driver, driver_info, extra, name, properties",
        ),
        ([{"op": "remove", "path": "/driver"}], "'/driver' is a mandatory attribute"),
    ],
)
def test_malformed_patches_are_invalid(body: Any, needle: str) -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        patch.apply(DOC, body, updatable=UPDATABLE, required=("driver",))
    assert needle in str(caught.value)


def test_replacing_a_required_field_is_fine() -> None:
    assert apply({"op": "replace", "path": "/driver", "value": "redfish"})["driver"] == "redfish"


def test_remove_of_a_missing_member_is_ironics_message() -> None:
    with pytest.raises(errors.PatchError) as caught:
        apply({"op": "remove", "path": "/extra/image_source"})
    assert str(caught.value) == (
        "Couldn't apply patch '{'op': 'remove', 'path': '/extra/image_source'}'. "
        "Reason: can't remove a non-existent object 'image_source'"
    )


@pytest.mark.parametrize(
    "op",
    [
        {"op": "replace", "path": "/extra/missing", "value": 1},
        {"op": "add", "path": "/extra/missing/deeper", "value": 1},
        {"op": "add", "path": "/extra/l/9", "value": 1},
        {"op": "replace", "path": "/extra/l/5", "value": 1},
        {"op": "remove", "path": "/extra/l/x"},
        {"op": "add", "path": "/extra/l/01", "value": 1},
        {"op": "remove", "path": "/extra/s/0"},
        {"op": "replace", "path": "/extra/s/0", "value": 1},
        {"op": "add", "path": "/extra/a/b", "value": 1},
        {"op": "remove", "path": "/name/x"},
    ],
)
def test_patches_that_do_not_apply_are_patch_errors(op: dict[str, Any]) -> None:
    with pytest.raises(errors.PatchError):
        apply(op)


segments = st.sampled_from(
    ["extra", "name", "l", "s", "a", "-", "0", "1", "01", "~0", "~1", "~", "~2", ""]
)
paths = st.lists(segments, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))
values = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda kids: (
        st.lists(kids, max_size=2) | st.dictionaries(st.text(max_size=2), kids, max_size=2)
    ),
    max_leaves=5,
)
ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "move"]), "path": paths},
    optional={"value": values},
)


@settings(max_examples=400, deadline=None)
@given(st.lists(ops, max_size=4))
def test_apply_raises_nothing_but_invalid(body: list[dict[str, Any]]) -> None:
    # Whatever the patch, the outcome is a document or a 400, never a crash.
    try:
        result = apply(*body)
    except errors.Invalid:
        return
    assert set(result) >= {"driver"}


# --- reject_newer_fields -------------------------------------------------------------


SINCE = {"name": 5, "storage_interface": 33, "extra": 1}


@pytest.mark.parametrize(
    "body",
    [
        [{"op": "add", "path": "/storage_interface", "value": "x"}],
        [{"op": "remove", "path": "/storage_interface"}],
        [{"op": "add", "path": "/extra/a", "value": 1}, {"op": "add", "path": "/name/x"}],
    ],
)
def test_newer_fields_are_not_acceptable(body: Any) -> None:
    with pytest.raises(errors.NotAcceptable, match=r"need a newer API version than 1\.4"):
        patch.reject_newer_fields(body, SINCE, 4)


@pytest.mark.parametrize(
    "body",
    [
        [{"op": "add", "path": "/extra/storage_interface", "value": 1}],
        [{"op": "add", "path": "/bogus", "value": 1}],
        [{"op": "add", "path": "storage_interface", "value": 1}],
        [{"op": "add", "path": 5}, "x", None],
        {"op": "add", "path": "/storage_interface"},
        None,
    ],
)
def test_other_patches_are_left_to_apply(body: Any) -> None:
    patch.reject_newer_fields(body, SINCE, 4)


def test_fields_at_their_version_are_fine() -> None:
    patch.reject_newer_fields([{"op": "add", "path": "/storage_interface"}], SINCE, 33)
