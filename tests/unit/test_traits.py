"""Trait names as Ironic accepts them (API 1.37): os-traits' standard ones, or CUSTOM_."""

from __future__ import annotations

from typing import Any

import pytest

from ironbound import errors
from ironbound.api.schemas.traits import MAX_LENGTH, STANDARD, check_trait, traits_body


@pytest.mark.parametrize(
    "name",
    ["HW_CPU_X86_AVX2", "COMPUTE_VOLUME_MULTI_ATTACH", "CUSTOM_A", "CUSTOM_RAID_1_0", "CUSTOM_9"],
)
def test_accepted(name: str) -> None:
    assert check_trait(name) == name


def test_the_standard_traits_come_from_os_traits() -> None:
    assert "HW_CPU_X86_AVX2" in STANDARD
    assert len(STANDARD) > 100


def test_the_longest_custom_trait() -> None:
    name = "CUSTOM_" + "X" * (MAX_LENGTH - len("CUSTOM_"))
    assert check_trait(name) == name
    with pytest.raises(errors.InvalidParameterValue):
        check_trait(name + "X")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "CUSTOM_",
        "custom_a",
        "CUSTOM_a",
        "CUSTOM_A-B",
        "CUSTOM_A B",
        "CUSTOM_A\n",
        "HW_CPU_X86_AVX2 ",
        "hw_cpu_x86_avx2",
        "NOT_A_TRAIT",
        None,
        1,
        ["CUSTOM_A"],
    ],
)
def test_refused(value: Any) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="Invalid trait"):
        check_trait(value)


def test_traits_body() -> None:
    assert traits_body({"traits": ["CUSTOM_A", "CUSTOM_A"]}) == ["CUSTOM_A", "CUSTOM_A"]
    assert traits_body({"traits": []}) == []


@pytest.mark.parametrize(
    "body", [None, [], {}, {"traits": None}, {"traits": "CUSTOM_A"}, {"traits": [], "more": 1}]
)
def test_traits_body_refused(body: Any) -> None:
    with pytest.raises(errors.InvalidParameterValue):
        traits_body(body)
