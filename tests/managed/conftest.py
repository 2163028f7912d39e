"""Ironbound in this process (API and conductor) with the managed storage interface on a
real tgtd of its own (loopback portal, private control port)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from oslo_config import cfg

from ironbound.lab.tgt import TgtServer


@pytest.fixture(scope="session")
def tgtd(lab_root: Path) -> Iterator[TgtServer]:
    server = TgtServer(Path(tempfile.mkdtemp(prefix="m", dir=lab_root)))
    server.start()
    yield server
    server.stop()


def point_at(conf: cfg.ConfigOpts, server: TgtServer) -> None:
    """[managed] for `server`, and a storage check every half second."""
    conf.set_override("tgt_control_port", server.control_port, group="managed")
    conf.set_override("target_portal", server.host_portals[0], group="managed")
    conf.set_override("default_volume_size_gb", 1, group="managed")
    conf.set_override("sync_storage_interval", 0.5, group="conductor")


@pytest.fixture
def conf(conf: cfg.ConfigOpts, tgtd: TgtServer) -> cfg.ConfigOpts:
    point_at(conf, tgtd)
    return conf
