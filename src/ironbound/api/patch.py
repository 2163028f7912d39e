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
from ironbound.api import listing, problems

OPS = ("add", "replace", "remove")


def _check(
    patch: Any, updatable: Collection[str], required: Collection[str]
) -> list[dict[str, Any]]:
    if not isinstance(patch, list) or not patch:
        raise problems.PatchNotList()
    checked: list[dict[str, Any]] = []
    for op in patch:
        if not isinstance(op, dict):
            raise problems.PatchOperationNotObject(op=op)
        unknown = sorted(set(op) - {"op", "path", "value"})
        if unknown:
            raise problems.PatchOperationUnknownMembers(op=op, unknown=unknown)
        if op.get("op") not in OPS:
            raise problems.InvalidPatchOperation(op=op.get("op"), allowed=OPS)
        path = op.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise problems.PatchPathNotField(path=path)
        if op["op"] in ("add", "replace") and "value" not in op:
            raise problems.PatchOperationNeedsValue(op=op)
        try:
            root = jsonpointer.JsonPointer(path).parts[0]
        except jsonpointer.JsonPointerException as exc:
            raise problems.InvalidPatchPath(path=path, reason=exc) from exc
        if root not in updatable:
            raise problems.NotPatchable(path=path, updatable=sorted(updatable))
        if op["op"] == "remove" and path == f"/{root}" and root in required:
            raise problems.MandatoryAttribute(path=path)
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
