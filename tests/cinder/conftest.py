"""Ironbound in this process (API and conductor), pointed at the lab's real Cinder."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from ironbound.lab.cinder import CinderLab
from tests.cinder_support import point_at_cinder


@pytest.fixture
def conf(conf: cfg.ConfigOpts, cinder_lab: CinderLab) -> cfg.ConfigOpts:
    point_at_cinder(conf, cinder_lab)
    return conf
