"""API benchmark: the operations of reference/ironic-39-observed.md §9, side by side.

Starts a fresh `ironbound serve` (SQLite, noauth) on a free loopback port and
drives it strictly sequentially over one keep-alive HTTP session, as the
Ironic baseline was measured: per round, create 1000 fake-hardware nodes,
list them in detail (5x), create one boot volume target per node, list the
targets in detail (5x), delete the nodes (cascading to the targets). Prints
medians of the rounds with Ironic 39's figures and the speed-up ratio, the
server's memory (RSS and PSS, idle and peak, sampled from /proc), and the
per-item cost at 1,000 and at 10,000 nodes.

    python benchmarks/api_bench.py [--rounds 3] [--nodes 1000] [--scale 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from ironbound.lab.measure import Sampler, memory_mib
from ironbound.lab.serve import ironbound_serve

# Ironic 39.0.0 on the same kind of machine, API 1.33 column of §9.
IRONIC = {
    "create nodes": 15.58,
    "node detail list": 0.273,
    "node list": 0.145,
    "create targets": 12.60,
    "target detail list": 1.58,
    "delete nodes": 15.5,
}
IRONIC_PSS_PEAK_MIB = 287.0
IRONIC_PSS_IDLE_MIB = 188.0
HEADERS = {"X-OpenStack-Ironic-API-Version": "1.33", "Content-Type": "application/json"}


def timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def check(response: requests.Response, status: int) -> requests.Response:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.url}: {response.status_code} {response.text}"
        )
    return response


def create_nodes(
    session: requests.Session, url: str, count: int, latencies: list[float]
) -> list[str]:
    uuids = []
    for _ in range(count):
        start = time.perf_counter()
        response = check(session.post(f"{url}/v1/nodes", json={"driver": "fake-hardware"}), 201)
        latencies.append(time.perf_counter() - start)
        uuids.append(response.json()["uuid"])
    return uuids


def create_targets(
    session: requests.Session, url: str, nodes: list[str], latencies: list[float]
) -> None:
    for index, node in enumerate(nodes):
        properties = {
            "target_iqn": f"iqn.2026-11.org.example:vol-{index}",
            "target_portal": "192.0.2.10:3260",
            "target_lun": 0,
        }
        body: dict[str, Any] = {
            "node_uuid": node,
            "volume_type": "iscsi",
            "boot_index": 0,
            "volume_id": f"vol-{index}",
            "properties": properties,
        }
        start = time.perf_counter()
        check(session.post(f"{url}/v1/volume/targets", json=body), 201)
        latencies.append(time.perf_counter() - start)


def walk(session: requests.Session, first: str, key: str) -> int:
    """Follow `next` links from `first`; the number of items seen."""
    seen, link = 0, first
    while link:
        body = check(session.get(link), 200).json()
        seen += len(body[key])
        link = body.get("next")
    return seen


def median_of(func: Callable[[], Any], times: int) -> float:
    return statistics.median(timed(func) for _ in range(times))


def one_round(session: requests.Session, url: str, count: int) -> dict[str, float]:
    node_lat: list[float] = []
    target_lat: list[float] = []
    result: dict[str, float] = {}
    nodes: list[str] = []
    result["create nodes"] = timed(
        lambda: nodes.extend(create_nodes(session, url, count, node_lat))
    )
    result["node create p50 ms"] = statistics.median(node_lat) * 1000
    result["node detail list"] = median_of(
        lambda: check(session.get(f"{url}/v1/nodes/detail"), 200), 5
    )
    result["node list"] = median_of(lambda: check(session.get(f"{url}/v1/nodes"), 200), 5)
    result["create targets"] = timed(lambda: create_targets(session, url, nodes, target_lat))
    result["target create p50 ms"] = statistics.median(target_lat) * 1000
    result["target detail list"] = median_of(
        lambda: check(session.get(f"{url}/v1/volume/targets?detail=True"), 200), 5
    )
    if walk(session, f"{url}/v1/nodes/detail", "nodes") != count:
        raise RuntimeError("walking the node pages did not see every node")
    result["delete nodes"] = timed(
        lambda: [check(session.delete(f"{url}/v1/nodes/{n}"), 204) for n in nodes]
    )
    return result


def scale(
    session: requests.Session, url: str, total: int, step: int
) -> list[tuple[int, float, float]]:
    """(nodes, create ms per node in the last step, detail-list ms per node) as nodes grow."""
    rows = []
    have = 0
    while have < total:
        latencies: list[float] = []
        create_nodes(session, url, step, latencies)
        have += step
        listing = median_of(lambda: walk(session, f"{url}/v1/nodes/detail", "nodes"), 3)
        rows.append((have, statistics.median(latencies) * 1000, listing / have * 1000))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument(
        "--scale", type=int, default=10000, help="grow to this many nodes (0: skip)"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="ironbound-bench-") as tmp,
        ironbound_serve(Path(tmp) / "serve", timeout=30) as served,
    ):
        time.sleep(1.0)
        url = served.url
        idle_rss, idle_pss = memory_mib(served.process.pid)
        sampler = Sampler(served.process.pid)
        sampler.start()
        session = requests.Session()
        session.headers.update(HEADERS)
        rounds = [one_round(session, url, args.nodes) for _ in range(args.rounds)]
        growth = scale(session, url, args.scale, args.nodes) if args.scale else []
        sampler.stop()
    print(f"Ironbound API benchmark: {args.rounds} rounds of {args.nodes} nodes, API 1.33, "
          f"SQLite, one keep-alive session, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'operation':<28}{'Ironbound (s)':>14}{'Ironic 39 (s)':>15}{'speed-up':>10}")
    for name, ironic in IRONIC.items():
        ours = statistics.median(r[name] for r in rounds)
        print(f"{name:<28}{ours:>14.3f}{ironic:>15.3f}{ironic / ours:>9.1f}x")
    for name in ("node create p50 ms", "target create p50 ms"):
        print(f"{name:<28}{statistics.median(r[name] for r in rounds):>14.2f}")
    print(f"memory idle: RSS {idle_rss:.1f} MiB, PSS {idle_pss:.1f} MiB "
          f"(Ironic PSS {IRONIC_PSS_IDLE_MIB:.0f} MiB)")  # fmt: skip
    ratio = IRONIC_PSS_PEAK_MIB / sampler.peak_pss
    print(f"memory peak: RSS {sampler.peak_rss:.1f} MiB, PSS {sampler.peak_pss:.1f} MiB "
          f"(Ironic PSS {IRONIC_PSS_PEAK_MIB:.0f} MiB, {ratio:.1f}x less)")  # fmt: skip
    if growth:
        print(f"{'nodes':>8}{'create ms/node':>16}{'detail list ms/node':>21}")
        for count, create_ms, list_ms in growth:
            print(f"{count:>8}{create_ms:>16.2f}{list_ms:>21.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
