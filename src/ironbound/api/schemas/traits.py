"""Trait names (API 1.37): a standard trait of os-traits, or a custom one."""

from __future__ import annotations

import re
from typing import Any

import os_traits

from ironbound.api import problems

#: Ironic's bound on a node's traits.
MAX_TRAITS_PER_NODE = 50
MAX_LENGTH = 255
STANDARD: frozenset[str] = frozenset(os_traits.get_traits())
_CUSTOM = re.compile(f"{os_traits.CUSTOM_NAMESPACE}[A-Z0-9_]+")


def check_trait(value: Any) -> str:
    """`value` if it names a trait as Ironic accepts it.

    :raises InvalidParameterValue: not a string, longer than 255, or neither a
        standard trait nor CUSTOM_ followed by upper-case letters, digits and _.
    """
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_LENGTH
        or not (value in STANDARD or _CUSTOM.fullmatch(value))
    ):
        raise problems.InvalidTrait(trait=value)
    return value


def traits_body(body: Any) -> list[str]:
    """The traits of a `PUT /v1/nodes/<node>/traits` body: `{"traits": [<trait>, ...]}`.

    :raises InvalidParameterValue: any other shape, or a name `check_trait` refuses.
    """
    if not isinstance(body, dict) or set(body) != {"traits"}:
        raise problems.TraitsBodyInvalid()
    if not isinstance(body["traits"], list):
        raise problems.TraitsBodyInvalid()
    return [check_trait(value) for value in body["traits"]]
