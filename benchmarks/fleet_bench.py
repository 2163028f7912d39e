"""Fleet benchmark: N fake-hardware nodes through their life, concurrently, on any Ironic API.

Phases, each timed from its first request until every node has settled:

* create: 8 client threads POST the nodes (fake-hardware, every interface
  `fake` where the server offers it, storage and network `noop`);
* manage, provide, deploy, undeploy: 8 client threads PUT the provision verb
  as fast as the server accepts it (a 409 or 503 is retried after a short
  sleep, as a client would, and counted), then one client polls a
  fields-limited list (`?fields=uuid,provision_state&limit=1000`, following
  `next`) until every node is in the phase's state or a failure state;
* reads: 16 client threads for a fixed time, alternately GET one node and
  GET a list of 100, with latency percentiles;
* delete: 8 client threads DELETE the nodes.

For each phase: wall time, nodes/s (requests/s for reads), the server's CPU
seconds and PSS peak (its whole process tree, from /proc), failures and
non-2xx answers. Every client thread has its own keep-alive session, and every
server is asked for the same microversion. Targets: a fresh `ironbound serve`
(SQLite, noauth), the Ironic 39 anchor (its install.sh, start.sh and stop.sh,
with a private state folder), and any running server by URL and PID.

    python benchmarks/fleet_bench.py [--nodes 1000] [--ironic-anchor DIR] [--json FILE]
    python benchmarks/fleet_bench.py --no-ironbound --url URL --pid PID
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

from ironbound.lab.measure import Sampler, cpu_seconds, memory_mib
from ironbound.lab.procs import ProcessRecord, stop_record
from ironbound.lab.serve import ironbound_serve

PHASES = ("create", "manage", "provide", "deploy", "undeploy", "reads", "delete")
#: Provision phases: the verb PUT and the state every node must reach.
PROVISION = {
    "manage": ("manage", "manageable"),
    "provide": ("provide", "available"),
    "deploy": ("active", "active"),
    "undeploy": ("deleted", "available"),
}
#: States a node ends in when its provision action failed.
FAILED_STATES = frozenset(
    {"error", "deploy failed", "clean failed", "inspect failed", "adopt failed",
     "rescue failed", "unrescue failed", "service failed"}
)  # fmt: skip
RETRIED = frozenset({409, 503})  # node locked, no free conductor worker: a client waits
RETRY_SLEEP = 0.1
REQUEST_TIMEOUT = 300.0
#: Node fields that name an interface, and the minor version that accepts each on create.
INTERFACE_SINCE = {
    "boot": 31, "console": 31, "deploy": 31, "inspect": 31, "management": 31,
    "network": 20, "power": 31, "raid": 31, "storage": 33, "vendor": 31,
}  # fmt: skip
NOOP_INTERFACES = ("storage", "network")
MIN_MINOR = 8  # fields= on lists; the provision verbs need 1.4
#: Fake interfaces that act at once, automated cleaning absent: as the anchor's ironic.conf.
IRONBOUND_CONFIG = """\
[DEFAULT]
default_storage_interface = noop
default_network_interface = noop
[conductor]
sync_power_state_interval = 600
[fake]
power_delay = 0
boot_delay = 0
deploy_delay = 0
"""

T = TypeVar("T")


@dataclass
class PhaseResult:
    """One phase on one server. `items` are nodes, or requests for the read phase."""

    phase: str
    items: int
    seconds: float
    cpu_seconds: float
    pss_peak_mib: float
    rss_peak_mib: float
    failures: int = 0
    non_2xx: int = 0
    retried: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    accept_seconds: float | None = None
    latency_ms: dict[str, float] | None = None

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_item(self) -> float:
        return self.cpu_seconds / self.items if self.items else 0.0


@dataclass
class TargetResult:
    name: str
    url: str
    pid: int
    server_version: str
    microversion: str
    node_body: dict[str, Any]
    idle_pss_mib: float
    idle_rss_mib: float
    peak_pss_mib: float = 0.0
    peak_rss_mib: float = 0.0
    phases: list[PhaseResult] = field(default_factory=list)

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.phase == name), None)


@dataclass
class Settings:
    nodes: int
    microversion: str
    threads: int
    read_threads: int
    read_seconds: float
    poll_interval: float
    phase_timeout: float


class Tally:
    """What the server answered during one phase, counted across client threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.retried = self.errors = 0

    def bad_status(self, status: int, retried: bool) -> None:
        with self._lock:
            self.statuses[status] += 1
            self.retried += retried

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    @property
    def non_2xx(self) -> int:
        return sum(self.statuses.values())


def plan(selected: Collection[str]) -> list[str]:
    """The phases to run for `selected`, in order, with those they depend on.

    Nodes are always created and deleted (a server given by URL keeps none of
    ours); a provision phase needs the ones before it, and deployed nodes are
    undeployed so that they can be deleted.
    """
    unknown = set(selected) - set(PHASES)
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}; phases are {', '.join(PHASES)}")
    chain = list(PROVISION)
    last = max((chain.index(p) for p in selected if p in PROVISION), default=-1)
    if last == chain.index("deploy"):
        last += 1
    wanted = {"create", "delete", *chain[: last + 1], *(p for p in selected if p == "reads")}
    return [p for p in PHASES if p in wanted]


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of `values`, in the same unit."""
    if len(values) < 2:
        only = values[0] if values else 0.0
        return {"p50": only, "p95": only, "p99": only}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def parse_version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def node_body(driver: dict[str, Any], minor: int) -> dict[str, Any]:
    """A fake-hardware node: every interface `fake` (storage, network `noop`) the server has."""
    body: dict[str, Any] = {"driver": "fake-hardware"}
    for iface, since in INTERFACE_SINCE.items():
        wanted = "noop" if iface in NOOP_INTERFACES else "fake"
        if since <= minor and wanted in driver.get(f"enabled_{iface}_interfaces", []):
            body[f"{iface}_interface"] = wanted
    return body


def new_session(microversion: str) -> requests.Session:
    session = requests.Session()
    session.headers.update({"X-OpenStack-Ironic-API-Version": microversion})
    return session


def send(
    session: requests.Session, method: str, url: str, tally: Tally, deadline: float,
    body: dict[str, Any] | None = None,
) -> requests.Response | None:  # fmt: skip
    """The answer, after retrying 409 and 503 until `deadline`; None if the connection failed."""
    while True:
        try:
            response = session.request(method, url, json=body, timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            tally.error()
            return None
        if response.ok:
            return response
        retry = response.status_code in RETRIED and time.monotonic() < deadline
        tally.bad_status(response.status_code, retry)
        if not retry:
            return response
        time.sleep(RETRY_SLEEP)


def in_threads(
    count: int, microversion: str, items: Sequence[T], work: Callable[[requests.Session, T], None]
) -> None:
    """`work` on every item from `count` threads, each with its own keep-alive session."""
    pending: queue.SimpleQueue[T] = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    failed: list[BaseException] = []

    def loop() -> None:
        with new_session(microversion) as session:
            while not failed:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    work(session, item)
                except BaseException as exc:  # handed to the main thread below
                    failed.append(exc)

    threads = [threading.Thread(target=loop) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]


class Fleet:
    """The phases against one server, its nodes and its measurements."""

    def __init__(self, url: str, pid: int, settings: Settings, sampler: Sampler) -> None:
        self.url = url.rstrip("/")
        self.pid = pid
        self.settings = settings
        self.sampler = sampler
        self.body: dict[str, Any] = {}
        self.created: list[str] = []
        self.healthy: list[str] = []
        self.session = new_session(settings.microversion)

    def prepare(self) -> str:
        """Check the server takes our microversion; learn its interfaces. Its newest version."""
        root = self.session.get(f"{self.url}/", timeout=30)
        root.raise_for_status()
        offered = root.json()["default_version"]
        newest, oldest = offered["version"], offered["min_version"]
        wanted = parse_version(self.settings.microversion)
        if not parse_version(oldest) <= wanted <= parse_version(newest):
            raise SystemExit(
                f"{self.url} serves API {oldest} to {newest}, not {self.settings.microversion}"
            )
        deadline = time.monotonic() + 30  # a conductor registers its drivers after start-up
        driver = self.session.get(f"{self.url}/v1/drivers/fake-hardware")
        while driver.status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.url} offers no fake-hardware: {driver.text}")
            time.sleep(0.5)
            driver = self.session.get(f"{self.url}/v1/drivers/fake-hardware")
        self.body = node_body(driver.json(), wanted[1])
        return str(newest)

    def run(self, phase: str) -> PhaseResult:
        tally = Tally()
        cpu_before = cpu_seconds(self.pid)
        self.sampler.take_peak()
        started = time.perf_counter()
        deadline = time.monotonic() + self.settings.phase_timeout
        extra: dict[str, Any] = {}
        if phase == "create":
            items, failures = self.create(tally, deadline)
        elif phase == "delete":
            items, failures = self.delete(tally, deadline)
        elif phase == "reads":
            items, failures, extra["latency_ms"] = self.reads(tally)
        else:
            items, failures, extra["accept_seconds"] = self.provision(phase, tally, deadline)
        seconds = time.perf_counter() - started
        rss, pss = self.sampler.take_peak()
        return PhaseResult(
            phase, items, seconds, cpu_seconds(self.pid) - cpu_before, pss, rss,
            failures=failures, non_2xx=tally.non_2xx, retried=tally.retried,
            errors=tally.errors, statuses={str(k): v for k, v in sorted(tally.statuses.items())},
            **extra,
        )  # fmt: skip

    def create(self, tally: Tally, deadline: float) -> tuple[int, int]:
        def one(session: requests.Session, _: int) -> None:
            response = send(session, "POST", f"{self.url}/v1/nodes", tally, deadline, self.body)
            if response is not None and response.ok:
                self.created.append(response.json()["uuid"])

        count = self.settings.nodes
        in_threads(self.settings.threads, self.settings.microversion, range(count), one)
        self.healthy = list(self.created)
        return count, count - len(self.created)

    def delete(self, tally: Tally, deadline: float) -> tuple[int, int]:
        gone: list[str] = []

        def one(session: requests.Session, uuid: str) -> None:
            response = send(session, "DELETE", f"{self.url}/v1/nodes/{uuid}", tally, deadline)
            if response is not None and response.ok:
                gone.append(uuid)

        total = len(self.created)
        in_threads(self.settings.threads, self.settings.microversion, self.created, one)
        self.created = self.healthy = []
        return total, total - len(gone)

    def provision(self, phase: str, tally: Tally, deadline: float) -> tuple[int, int, float]:
        """(nodes, failures, seconds until every PUT was answered)."""
        verb, goal = PROVISION[phase]
        accepted: list[str] = []
        started = time.perf_counter()

        def one(session: requests.Session, uuid: str) -> None:
            url = f"{self.url}/v1/nodes/{uuid}/states/provision"
            response = send(session, "PUT", url, tally, deadline, {"target": verb})
            if response is not None and response.ok:
                accepted.append(uuid)

        nodes = self.healthy
        in_threads(self.settings.threads, self.settings.microversion, nodes, one)
        accept_seconds = time.perf_counter() - started
        final = self.settle(set(accepted), goal, tally, deadline)
        self.healthy = [uuid for uuid in nodes if final.get(uuid) == goal]
        return len(nodes), len(nodes) - len(self.healthy), accept_seconds

    def settle(self, uuids: set[str], goal: str, tally: Tally, deadline: float) -> dict[str, str]:
        """Each node's state once it reached `goal` or failed, or when the deadline passed."""
        final: dict[str, str] = {}
        seen: dict[str, str] = {}
        while uuids - final.keys():
            seen = self.states(tally)
            for uuid in uuids - final.keys():
                if seen.get(uuid) == goal or seen.get(uuid) in FAILED_STATES:
                    final[uuid] = seen[uuid]
            if not uuids - final.keys() or time.monotonic() > deadline:
                break
            time.sleep(self.settings.poll_interval)
        return {uuid: final.get(uuid) or seen.get(uuid, "missing") for uuid in uuids}

    def states(self, tally: Tally) -> dict[str, str]:
        """uuid -> provision_state of every node, walking the fields-limited list's pages."""
        found: dict[str, str] = {}
        link: str | None = f"{self.url}/v1/nodes?fields=uuid,provision_state&limit=1000"
        while link:
            response = self.session.get(link, timeout=REQUEST_TIMEOUT)
            if not response.ok:
                tally.bad_status(response.status_code, retried=True)
                return found
            page = response.json()
            found.update((n["uuid"], n["provision_state"]) for n in page["nodes"])
            link = page.get("next")
        return found

    def reads(self, tally: Tally) -> tuple[int, int, dict[str, float]]:
        """(requests, failed requests, latency percentiles in ms) of the read phase."""
        latencies: list[float] = []
        failures: list[int] = []
        stop_at = time.perf_counter() + self.settings.read_seconds
        nodes = self.healthy or self.created
        if not nodes:
            raise RuntimeError("no nodes left to read")
        far = time.monotonic() + self.settings.phase_timeout

        def reader(session: requests.Session, offset: int) -> None:
            mine: list[float] = []
            bad, turn = 0, offset
            while time.perf_counter() < stop_at:
                if turn % 2:
                    url = f"{self.url}/v1/nodes?limit=100"
                else:
                    url = f"{self.url}/v1/nodes/{nodes[(turn // 2) % len(nodes)]}"
                began = time.perf_counter()
                response = send(session, "GET", url, tally, far)
                mine.append(time.perf_counter() - began)
                bad += response is None or not response.ok
                turn += 1
            latencies.extend(mine)
            failures.append(bad)

        threads = self.settings.read_threads
        in_threads(threads, self.settings.microversion, [i * 7 for i in range(threads)], reader)
        return (
            len(latencies),
            sum(failures),
            {k: v * 1000 for k, v in percentiles(latencies).items()},
        )


def measure(
    name: str, url: str, pid: int, settings: Settings, phases: Sequence[str]
) -> TargetResult:
    time.sleep(1.0)  # let start-up work finish before the idle reading
    idle_rss, idle_pss = memory_mib(pid)
    sampler = Sampler(pid)
    sampler.start()
    try:
        fleet = Fleet(url, pid, settings, sampler)
        newest = fleet.prepare()
        result = TargetResult(
            name, url, pid, newest, settings.microversion, fleet.body, idle_pss, idle_rss
        )
        for phase in phases:
            print(f"  {name}: {phase} ...", file=sys.stderr, flush=True)
            result.phases.append(fleet.run(phase))
    finally:
        sampler.stop()
    result.peak_rss_mib, result.peak_pss_mib = sampler.peak_rss, sampler.peak_pss
    return result


@contextlib.contextmanager
def ironic_anchor(anchor: Path, workdir: Path) -> Iterator[tuple[str, int]]:
    """The anchor's Ironic (installed first if need be) on a fresh private state: (URL, PID)."""
    env = {**os.environ, "IRONIC_STATE_DIR": str(workdir / "ironic-state")}

    def script(name: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(anchor / name)], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    installed = script("install.sh", 1800)
    if installed.returncode != 0:
        raise SystemExit(f"{anchor}/install.sh failed:\n{installed.stdout}{installed.stderr}")
    record = None
    try:
        started = script("start.sh", 300)
        pid = re.search(r"^PID (\d+)$", started.stdout, re.MULTILINE)
        up = re.search(r"is up on (\S+)", started.stdout)
        if started.returncode != 0 or pid is None or up is None:
            raise SystemExit(f"{anchor}/start.sh failed:\n{started.stdout}{started.stderr}")
        record = ProcessRecord.of("ironic", int(pid.group(1)))
        yield up.group(1), record.pid
    finally:
        script("stop.sh", 120)
        if record is not None:
            stop_record(record, timeout=30)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator > 0 else "-"


def target_table(result: TargetResult) -> list[str]:
    lines = [
        f"{result.name}: {result.url} PID {result.pid}, API {result.microversion} "
        f"(serves up to {result.server_version}); PSS idle {result.idle_pss_mib:.0f} MiB, "
        f"peak {result.peak_pss_mib:.0f} MiB",
        f"  {'phase':<9}{'items':>7}{'wall s':>9}{'PUTs s':>8}{'per s':>9}{'CPU s':>8}"
        f"{'PSS MiB':>9}{'fail':>6}{'non-2xx':>8}{'retried':>8}",
    ]
    for p in result.phases:
        puts = "-" if p.accept_seconds is None else f"{p.accept_seconds:.2f}"
        row = (
            f"  {p.phase:<9}{p.items:>7}{p.seconds:>9.2f}{puts:>8}{p.rate:>9.1f}"
            f"{p.cpu_seconds:>8.2f}{p.pss_peak_mib:>9.0f}{p.failures:>6}{p.non_2xx:>8}"
            f"{p.retried:>8}"
        )
        if p.latency_ms:
            row += "  ms p50/p95/p99 " + "/".join(f"{v:.1f}" for v in p.latency_ms.values())
        lines.append(row)
    return lines


def comparison(reference: TargetResult, ours: TargetResult) -> list[str]:
    """Side by side: time ratios are reference / ours, the read rate ratio ours / reference."""
    a, b = reference.name, ours.name
    lines = [
        f"{a} vs {b} (ratio > 1: {b} is faster / uses less)",
        f"  {'phase':<9}{a + ' s':>14}{b + ' s':>14}{'ratio':>8}"
        f"{a + ' CPU s':>17}{b + ' CPU s':>17}{'ratio':>8}",
    ]
    for p in ours.phases:
        q = reference.phase(p.phase)
        if q is None:
            continue
        if p.phase == "reads":
            lines.append(
                f"  {'reads':<9}{q.rate:>10.1f} r/s{p.rate:>10.1f} r/s{ratio(p.rate, q.rate):>8}"
                f"{q.cpu_seconds:>17.2f}{p.cpu_seconds:>17.2f}"
                f"{ratio(q.cpu_per_item, p.cpu_per_item):>8}"
            )
            continue
        lines.append(
            f"  {p.phase:<9}{q.seconds:>14.2f}{p.seconds:>14.2f}{ratio(q.seconds, p.seconds):>8}"
            f"{q.cpu_seconds:>17.2f}{p.cpu_seconds:>17.2f}{ratio(q.cpu_seconds, p.cpu_seconds):>8}"
        )
    lines.append(
        f"  PSS MiB idle {reference.idle_pss_mib:.0f} / {ours.idle_pss_mib:.0f} "
        f"({ratio(reference.idle_pss_mib, ours.idle_pss_mib)}), peak "
        f"{reference.peak_pss_mib:.0f} / {ours.peak_pss_mib:.0f} "
        f"({ratio(reference.peak_pss_mib, ours.peak_pss_mib)})"
    )
    return lines


def to_json(settings: Settings, results: Sequence[TargetResult]) -> dict[str, Any]:
    targets = []
    for result in results:
        doc = dataclasses.asdict(result)
        for phase, data in zip(result.phases, doc["phases"], strict=True):
            data["per_second"] = phase.rate
        targets.append(doc)
    return {"settings": dataclasses.asdict(settings), "cpus": os.cpu_count(), "targets": targets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--phases", default=",".join(PHASES),
                        help="comma-separated; the phases they need run too")  # fmt: skip
    parser.add_argument("--ironbound", action=argparse.BooleanOptionalAction, default=None,
                        help="a fresh `ironbound serve` (default: without --url)")  # fmt: skip
    parser.add_argument("--ironic-anchor", type=Path, metavar="DIR",
                        help="the Ironic anchor: install.sh, start.sh, stop.sh")  # fmt: skip
    parser.add_argument("--url", help="a running Ironic-compatible API (with --pid)")
    parser.add_argument("--pid", type=int, help="the PID of the server at --url")
    parser.add_argument("--name", default="server", help="what to call the server at --url")
    parser.add_argument("--microversion", default="1.33")
    parser.add_argument("--threads", type=int, default=8, help="client threads that write")
    parser.add_argument("--read-threads", type=int, default=16)
    parser.add_argument("--read-seconds", type=float, default=20.0)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--phase-timeout", type=float,
                        help="seconds a phase may take (default: 300 + 1 per node)")  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE")
    args = parser.parse_args()
    if (args.url is None) != (args.pid is None):
        parser.error("--url and --pid go together")
    if parse_version(args.microversion) < (1, MIN_MINOR):
        parser.error(f"the phases need API 1.{MIN_MINOR} or later")
    try:
        phases = plan([p.strip() for p in args.phases.split(",") if p.strip()])
    except ValueError as exc:
        parser.error(str(exc))
    settings = Settings(
        args.nodes, args.microversion, args.threads, args.read_threads, args.read_seconds,
        args.poll_interval, args.phase_timeout or 300.0 + args.nodes,
    )  # fmt: skip
    results: list[TargetResult] = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        if args.ironbound or (args.ironbound is None and args.url is None):
            with ironbound_serve(Path(tmp) / "ironbound", IRONBOUND_CONFIG) as served:
                results.append(
                    measure("Ironbound", served.url, served.process.pid, settings, phases)
                )
        if args.ironic_anchor:
            with ironic_anchor(args.ironic_anchor.resolve(), Path(tmp)) as (url, pid):
                results.append(measure("Ironic", url, pid, settings, phases))
        if args.url:
            results.append(measure(args.name, args.url, args.pid, settings, phases))
    print(f"Fleet benchmark: {settings.nodes} nodes, {settings.threads} writer threads, "
          f"{settings.read_threads} reader threads for {settings.read_seconds:g} s, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for result in results:
        print("\n".join(target_table(result)))
    ours = next((r for r in results if r.name == "Ironbound"), None)
    for other in results:
        if ours is not None and other is not ours:
            print("\n".join(comparison(other, ours)))
    if args.json:
        args.json.write_text(json.dumps(to_json(settings, results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
