"""Fixtures for the API tests only."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from ironbound import config
from ironbound.db import migrate
from ironbound.db.session import Database
from ironbound.drivers import registry


@pytest.fixture(autouse=True, scope="session")
def _scan_entry_points_once() -> Iterator[None]:
    """Scan the installed entry points once per run instead of once per interface.

    `Registry` calls importlib.metadata.entry_points() for every interface it
    loads, about 0.15 s per conductor, which every test starts. The installed
    entry points cannot change during a run, so the scan is cached here; the
    registry still loads and checks every interface for real. (The lasting
    fix is a cache in `drivers/registry.py`, outside this suite's files.)
    """
    patcher = pytest.MonkeyPatch()
    patcher.setattr(registry, "_load_group", functools.cache(registry._load_group))
    yield
    patcher.undo()


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Config overrides for the API tests (a module or test may replace them).

    Conductor.stop() can leave one idle worker waiting a full
    [conductor]job_poll_interval (1 s by default) for a wake-up another worker
    already consumed; a shorter interval keeps the teardown of every test fast.
    """
    return {"conductor.job_poll_interval": 0.1}


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("schema") / "ironbound.sqlite"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture
def conf(conf: cfg.ConfigOpts, _migrated_template: Path) -> cfg.ConfigOpts:
    """Each test's database starts as a copy of one migrated at the start of the run.

    Running the migrations is half of a test's set-up; the conductor fixture
    still calls migrate.upgrade(), which finds the schema at head.
    """
    url = config.database_url(conf)
    if url.startswith("sqlite:///"):
        shutil.copyfile(_migrated_template, url.removeprefix("sqlite:///"))
    return conf
