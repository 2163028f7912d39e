"""Every registered implementation honours its interface contract.

One test walks every entry point of every interface group: it must load,
be a subclass of the base class its group names, implement every abstract
method, construct from a configuration, and describe its properties with
strings. A plug-in that breaks the contract fails here, not on a node.
"""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint, entry_points

import pytest

from ironbound import config
from ironbound.drivers.base import INTERFACE_BASES, REQUIRED_INTERFACES, HardwareType
from ironbound.drivers.registry import HARDWARE_GROUP, INTERFACE_GROUP

IMPLEMENTATIONS = [
    (interface_type, ep)
    for interface_type in sorted(INTERFACE_BASES)
    for ep in entry_points(group=INTERFACE_GROUP.format(interface_type))
]


def test_every_interface_type_has_implementations() -> None:
    found = {interface_type for interface_type, _ in IMPLEMENTATIONS}
    assert found == set(INTERFACE_BASES)


def test_the_bmc_drivers_are_registered() -> None:
    """Each BMC protocol is a hardware type with its own power and management interfaces."""
    hardware_types = {ep.name for ep in entry_points(group=HARDWARE_GROUP)}
    assert {"redfish", "ipmi"} <= hardware_types
    for interface_type in ("power", "management"):
        names = {name for t, ep in IMPLEMENTATIONS if t == interface_type for name in [ep.name]}
        assert {"redfish", "ipmi"} <= names


@pytest.mark.parametrize(
    ("interface_type", "entry_point"),
    IMPLEMENTATIONS,
    ids=[f"{t}:{ep.name}" for t, ep in IMPLEMENTATIONS],
)
def test_implementation_honours_its_base(interface_type: str, entry_point: EntryPoint) -> None:
    cls = entry_point.load()
    base = INTERFACE_BASES[interface_type]
    assert inspect.isclass(cls) and issubclass(cls, base), f"{cls} is not a {base.__name__}"
    assert not inspect.isabstract(cls), (
        f"{cls} leaves {sorted(cls.__abstractmethods__)} unimplemented"
    )
    assert cls.interface_type == interface_type
    instance = cls(config.load())
    properties = instance.get_properties()
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in properties.items())
    assert isinstance(cls.capabilities, frozenset)


@pytest.mark.parametrize(
    "entry_point", list(entry_points(group=HARDWARE_GROUP)), ids=lambda ep: ep.name
)
def test_hardware_types_name_only_registered_interfaces(entry_point: EntryPoint) -> None:
    hardware = entry_point.load()
    assert issubclass(hardware, HardwareType)
    assert hardware.name == entry_point.name
    for interface_type, names in hardware.supported.items():
        registered = {ep.name for ep in entry_points(group=INTERFACE_GROUP.format(interface_type))}
        assert set(names) <= registered, (
            f"{hardware.name} {interface_type}: {set(names) - registered}"
        )
    for required in REQUIRED_INTERFACES:
        assert hardware.supported.get(required), f"{hardware.name} supports no {required} interface"
