"""JSON Patch (RFC 6902) on a resource's API document, with Ironic's rules.

Only add, replace and remove are accepted, only on the fields a resource
lets clients change; `add` on an existing member replaces it. A patch has at
most `MAX_OPERATIONS` operations, applied to one copy of the document, and
errors quote its operations with their secrets masked.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

import jsonpatch
import jsonpointer

from ironbound import errors, sensitive
from ironbound.api import listing, problems

OPS = ("add", "replace", "remove")
#: Far more than any client sends (the `baremetal` CLI sends one operation per
#: --property or --extra), few enough that one PATCH cannot keep the server busy.
MAX_OPERATIONS = 200


def _secret_path(path: Any) -> bool:
    return isinstance(path, str) and any(sensitive.is_secret_key(part) for part in path.split("/"))


def shown(op: Any) -> Any:
    """`op` as an error message may quote it: values under secret-looking keys masked."""
    if not isinstance(op, dict):
        return op
    masked = sensitive.mask(op)
    if "value" in op and _secret_path(op.get("path")):
        masked["value"] = sensitive.MASK
    return masked


def _secret_texts(ops: list[dict[str, Any]]) -> set[str]:
    """Every text the patch gives as a secret, to keep out of quoted reasons."""
    found: set[str] = set()

    def leaves(value: Any, secret: bool) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                leaves(child, secret or sensitive.is_secret_key(str(key)))
        elif isinstance(value, list):
            for child in value:
                leaves(child, secret)
        elif secret and value is not None and str(value):
            found.add(str(value))

    for op in ops:
        leaves(op.get("value"), _secret_path(op["path"]))
    return found


def _masked_reason(reason: str, ops: list[dict[str, Any]]) -> str:
    for text in sorted(_secret_texts(ops), key=len, reverse=True):
        reason = reason.replace(text, sensitive.MASK)
    return reason


def _check(
    patch: Any, updatable: Collection[str], required: Collection[str]
) -> list[dict[str, Any]]:
    if not isinstance(patch, list) or not patch:
        raise problems.PatchNotList()
    if len(patch) > MAX_OPERATIONS:
        raise problems.TooManyPatchOperations(count=len(patch), limit=MAX_OPERATIONS)
    checked: list[dict[str, Any]] = []
    for op in patch:
        if not isinstance(op, dict):
            raise problems.PatchOperationNotObject(op=shown(op))
        unknown = sorted(set(op) - {"op", "path", "value"})
        if unknown:
            raise problems.PatchOperationUnknownMembers(op=shown(op), unknown=unknown)
        if op.get("op") not in OPS:
            raise problems.InvalidPatchOperation(op=op.get("op"), allowed=OPS)
        path = op.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise problems.PatchPathNotField(path=path)
        if op["op"] in ("add", "replace") and "value" not in op:
            raise problems.PatchOperationNeedsValue(op=shown(op))
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
    # One copy of each, changed in place: a copy per operation made a long
    # patch quadratic. The operations are copied too, since an operation in
    # place may change a value an earlier one inserted.
    doc = copy.deepcopy(document)
    for op in copy.deepcopy(ops):
        # Ironic treats "add" on a missing parent object as creating it only at
        # the top level; a null top-level mapping is made an empty one first.
        parts = jsonpointer.JsonPointer(op["path"]).parts
        if op["op"] == "add" and doc.get(parts[0]) is None and len(parts) > 1:
            doc[parts[0]] = {}
        try:
            jsonpatch.apply_patch(doc, [op], in_place=True)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise errors.PatchError(patch=shown(op), reason=_masked_reason(str(exc), ops)) from exc
    return doc
