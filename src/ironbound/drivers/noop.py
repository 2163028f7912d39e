"""Implementations that say "not supported here" for optional interface types."""

from __future__ import annotations

from ironbound.drivers import base


class NoBios(base.BiosInterface):
    pass


class NoConsole(base.ConsoleInterface):
    pass


class NoInspect(base.InspectInterface):
    pass


class NoopNetwork(base.NetworkInterface):
    """The operator's network already lets the node reach the boot server and SAN."""


class NoRaid(base.RaidInterface):
    pass


class NoRescue(base.RescueInterface):
    pass


class NoVendor(base.VendorInterface):
    pass
