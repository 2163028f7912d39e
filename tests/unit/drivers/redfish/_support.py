"""Test helpers: a Task for driver calls and a configuration with quick BMC options.

Shared by the redfish and ipmi driver tests."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from oslo_config import cfg

from ironbound import config
from ironbound.records import ConnectorInfo, NodeInfo, PortInfo, TargetInfo
from ironbound.sensitive import Secret

T = TypeVar("T")


def make_conf(**overrides: Any) -> cfg.ConfigOpts:
    """A fresh configuration with quick retries, plus `group.option` overrides."""
    conf = config.load()
    settings: dict[str, Any] = {
        "redfish.connection_attempts": 3,
        "redfish.connection_retry_interval": 0.05,
        "redfish.power_state_poll_interval": 0.1,
        "redfish.connect_timeout": 2.0,
        "ipmi.connection_attempts": 2,
        "ipmi.retry_interval": 0.05,
        "ipmi.command_retry_timeout": 1.0,
        "ipmi.power_state_poll_interval": 0.2,
        **overrides,
    }
    for key, value in settings.items():
        group, _, name = key.rpartition(".")
        conf.set_override(name, value, group=group or None)
    return conf


def watch_logs_for(caplog: pytest.LogCaptureFixture, passwords: Sequence[str]) -> Iterator[None]:
    """For an autouse fixture: all loggers at DEBUG; no password may show in any record."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        for password in passwords:
            assert password not in text, f"password logged by {record.name}: {text}"


def make_node(
    driver_info: Mapping[str, Any],
    capabilities: str | None = None,
    name: str | None = None,
    driver: str = "redfish",
) -> NodeInfo:
    """A node as the conductor hands it to `driver`'s power and management interfaces."""
    info = {
        key: Secret(value) if key.endswith("_password") and isinstance(value, str) else value
        for key, value in driver_info.items()
    }
    properties = {"capabilities": capabilities} if capabilities else {}
    return NodeInfo(
        id=1,
        uuid=str(uuid.uuid4()),
        name=name,
        driver=driver,
        driver_info=info,
        driver_internal_info={},
        instance_info={},
        properties=properties,
        provision_state="manageable",
        target_provision_state=None,
        power_state=None,
        maintenance=False,
        interfaces={"power": driver, "management": driver},
    )


@dataclass
class FakeTask:
    """Implements the Task protocol for driver calls; records what the driver writes."""

    conf: cfg.ConfigOpts
    node: NodeInfo
    ports: Sequence[PortInfo] = ()
    volume_connectors: Sequence[ConnectorInfo] = ()
    volume_targets: Sequence[TargetInfo] = ()
    driver: Any = None
    rebuilding: bool = False
    managed_volumes: Any = None
    records: list[str] = field(default_factory=list)
    internal_info: dict[str, Any] = field(default_factory=dict)

    def run_step(self, name: str, action: Callable[[], T]) -> T:
        raise AssertionError("the BMC interfaces run no named steps")

    def record(self, message: str, *, event_type: str = "progress", severity: str = "info") -> None:
        self.records.append(message)

    def set_internal_info(self, **values: Any) -> None:
        for key, value in values.items():
            if value is None:
                self.internal_info.pop(key, None)
            else:
                self.internal_info[key] = value

    def set_last_error(self, message: str | None) -> None:
        raise AssertionError("the BMC interfaces report through their errors")

    def set_target_properties(self, target_uuid: str, properties: Mapping[str, Any]) -> None:
        raise AssertionError("the BMC interfaces touch no volume targets")

    def delete_volume_targets(self, target_uuids: Sequence[str] | None = None) -> None:
        raise AssertionError("the BMC interfaces touch no volume targets")

    def add_volume_target(self, volume_type: str, boot_index: int, volume_id: str) -> str:
        raise AssertionError("the BMC interfaces touch no volume targets")

    def issue_boot_token(self) -> str:
        raise AssertionError("the BMC interfaces issue no boot tokens")

    def boot_confirmation_url(self) -> str | None:
        raise AssertionError("the BMC interfaces issue no boot tokens")

    def revoke_boot_token(self) -> None:
        raise AssertionError("the BMC interfaces issue no boot tokens")

    def abort_requested(self) -> bool:
        return False

    def power_action(self, power_state: str, timeout: float | None = None) -> None:
        raise AssertionError("the BMC interfaces are the power actions themselves")
