"""JSON Patch (RFC 6902) on a resource's API document, with Ironic's rules.

Only add, replace and remove are accepted, only on the fields a resource
lets clients change; `add` on an existing member replaces it.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

import jsonpatch
import jsonpointer

from ironbound import errors
from ironbound.api import listing

OPS = ("add", "replace", "remove")


def _check(
    patch: Any, updatable: Collection[str], required: Collection[str]
) -> list[dict[str, Any]]:
    if not isinstance(patch, list) or not patch:
        raise errors.InvalidParameterValue(
            reason="A PATCH body must be a non-empty JSON array of patch operations."
        )
    checked: list[dict[str, Any]] = []
    for op in patch:
        if not isinstance(op, dict):
            raise errors.InvalidParameterValue(reason=f"Patch operation {op!r} is not an object.")
        unknown = sorted(set(op) - {"op", "path", "value"})
        if unknown:
            raise errors.InvalidParameterValue(
                reason=f"Patch operation {op!r} has unknown member(s) {unknown}."
            )
        if op.get("op") not in OPS:
            raise errors.InvalidParameterValue(
                reason=f"Invalid patch operation {op.get('op')!r}; allowed: {', '.join(OPS)}."
            )
        path = op.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise errors.InvalidParameterValue(
                reason=f"Invalid patch path {path!r}: it must name a field, like '/extra/foo'."
            )
        if op["op"] in ("add", "replace") and "value" not in op:
            raise errors.InvalidParameterValue(reason=f"Patch operation {op!r} needs a 'value'.")
        try:
            root = jsonpointer.JsonPointer(path).parts[0]
        except jsonpointer.JsonPointerException as exc:
            raise errors.InvalidParameterValue(
                reason=f"Invalid patch path {path!r}: {exc}."
            ) from exc
        if root not in updatable:
            raise errors.InvalidParameterValue(
                reason=f"Cannot patch {path}. Only the following can be updated: "
                f"{', '.join(sorted(updatable))}"
            )
        if op["op"] == "remove" and path == f"/{root}" and root in required:
            raise errors.InvalidParameterValue(
                reason=f"'{path}' is a mandatory attribute and can not be removed"
            )
        checked.append(op)
    return checked


def reject_newer_fields(patch: Any, since: Mapping[str, int], minor: int) -> None:
    """Refuse (406) a patch that touches a field newer than microversion `minor`.

    As Ironic does for a field that exists but not at the requested version
    (e.g. /storage_interface at 1.32). Malformed patches are left to `apply`
    to refuse.
    """
    if not isinstance(patch, list):
        return
    roots = {
        op["path"][1:].split("/", 1)[0]
        for op in patch
        if isinstance(op, dict) and isinstance(op.get("path"), str) and op["path"].startswith("/")
    }
    listing.reject_newer(sorted(roots), since, minor)


def apply(
    document: dict[str, Any],
    patch: Any,
    *,
    updatable: Collection[str],
    required: Collection[str] = (),
) -> dict[str, Any]:
    """The document after `patch`; the input is left untouched.

    :raises InvalidParameterValue: the patch is malformed or touches a field
        that cannot be changed.
    :raises PatchError: the patch does not apply (e.g. removes a missing key).
    """
    ops = _check(patch, updatable, required)
    doc = copy.deepcopy(document)
    for op in ops:
        # Ironic treats "add" on a missing parent object as creating it only at
        # the top level; a null top-level mapping is made an empty one first.
        root = jsonpointer.JsonPointer(op["path"]).parts[0]
        if (
            op["op"] == "add"
            and doc.get(root) is None
            and len(jsonpointer.JsonPointer(op["path"]).parts) > 1
        ):
            doc[root] = {}
        try:
            doc = jsonpatch.apply_patch(doc, [op])
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise errors.PatchError(patch=op, reason=str(exc)) from exc
    return doc
