"""Microversion negotiation as a pure function."""

from __future__ import annotations

import pytest

from ironbound import errors
from ironbound.api import microversions as mv


def test_nothing_asked_is_the_minimum() -> None:
    assert mv.negotiate(None, None) == 1


@pytest.mark.parametrize(("value", "minor"), [("1.1", 1), ("1.33", 33), (" 1.32 ", 32)])
def test_valid_versions(value: str, minor: int) -> None:
    assert mv.negotiate(value, None) == minor


def test_latest() -> None:
    assert mv.negotiate("Latest", None) == mv.MAX_MINOR == 51


def test_openstack_header_for_baremetal_only() -> None:
    assert mv.negotiate(None, "baremetal 1.20") == 20
    assert mv.negotiate(None, "volume 3.60") == 1


def test_openstack_header_is_preferred_when_it_names_baremetal() -> None:
    assert mv.negotiate("1.5", "baremetal 1.20") == 20
    assert mv.negotiate("1.5", "volume 3.60") == 5


@pytest.mark.parametrize(
    "value",
    [
        "1.\u00b2",  # a digit to str.isdigit(), not to int()
        "1.\u0663",  # Arabic-Indic three
        "\u00b9.5",
        "1." + "9" * 5000,  # longer than int() converts
        "9" * 5000 + ".1",
        "1.52",
        "1.0",
        "2.1",
        "",
    ],
)
def test_refused(value: str) -> None:
    with pytest.raises(errors.NotAcceptable):
        mv.negotiate(value, None)


def test_range_message_names_the_range() -> None:
    with pytest.raises(errors.NotAcceptable, match=r"\[1\.1, 1\.51\]"):
        mv.negotiate("1.999", None)


def test_version_string() -> None:
    assert mv.version_string(7) == "1.7"
