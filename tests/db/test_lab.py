"""The lab's PostgreSQL and scale-out starters stop everything they started."""

from __future__ import annotations

from pathlib import Path

import pytest

from ironbound.lab.postgres import PostgresServer, postgres_server
from ironbound.lab.procs import start_ticks
from ironbound.lab.scaleout import ironbound_scale_out, lists_conductors


def test_postgres_server_is_stopped_and_removed_when_its_user_fails() -> None:
    with pytest.raises(RuntimeError, match="the user's error"), postgres_server() as server:
        assert start_ticks(server.pid) is not None
        started = server
        raise RuntimeError("the user's error")
    assert start_ticks(started.pid) is None
    assert not started.folder.exists()


def test_scale_out_starts_every_process_and_stops_them_cleanly(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database("ib_lab_scale_out")
    config = "[conductor]\njob_poll_interval = 0.1\n"
    with ironbound_scale_out(tmp_path, config, url, apis=2, conductors=2) as cluster:
        assert cluster.conductor_hosts == ["scale-conductor-0", "scale-conductor-1"]
        assert len(cluster.api_urls) == 2 and len(set(cluster.pids)) == 4
        for api in cluster.api_urls:
            assert lists_conductors(api, cluster.conductor_hosts)
    assert cluster.exit_statuses == {
        "scale-api-1": 0, "scale-api-0": 0, "scale-conductor-1": 0, "scale-conductor-0": 0,
    }  # fmt: skip
    assert all(start_ticks(pid) is None for pid in cluster.pids)
