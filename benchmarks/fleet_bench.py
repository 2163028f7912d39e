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
with a private state folder), any running server by URL and PID, and
Ironbound scaled out on a private PostgreSQL: N `ironbound api` plus N
`ironbound conductor` processes for each N of --scale-out, one configuration
after the other, each on a fresh database. Client thread i then sends to API
i % N; CPU and PSS are summed over the configuration's processes (PostgreSQL's
CPU is shown apart), and the database is checked after the provision phases
(no node locked, every node at its goal, no job left or run twice) and after
the delete.

    python benchmarks/fleet_bench.py [--nodes 1000] [--ironic-anchor DIR] [--json FILE]
    python benchmarks/fleet_bench.py --no-ironbound --url URL --pid PID
    python benchmarks/fleet_bench.py --no-ironbound --scale-out 1,2
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
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import requests

from ironbound.lab.measure import Sampler, cpu_seconds, memory_mib
from ironbound.lab.postgres import postgres_server
from ironbound.lab.procs import ProcessRecord, stop_record
from ironbound.lab.scaleout import ironbound_scale_out
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
#: Scaled out, nothing wakes a conductor when another process queues a job: it polls.
SCALE_OUT_CONFIG = IRONBOUND_CONFIG + "[conductor]\njob_poll_interval = 0.1\n"
#: How long a node may keep its lock after reaching its goal (the release is the job's last write).
UNLOCK_SECONDS = 10.0

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
    #: The database server's CPU seconds in the phase, when it runs apart (PostgreSQL).
    db_cpu_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_item(self) -> float:
        return self.cpu_seconds / self.items if self.items else 0.0


@dataclass
class TargetResult:
    """One server; a scaled-out one has several API URLs and processes."""

    name: str
    urls: list[str]
    pids: list[int]
    server_version: str
    microversion: str
    node_body: dict[str, Any]
    idle_pss_mib: float
    idle_rss_mib: float
    peak_pss_mib: float = 0.0
    peak_rss_mib: float = 0.0
    phases: list[PhaseResult] = field(default_factory=list)
    #: What the database recorded (scale-out only): see Ledger.
    ledger: dict[str, Any] | None = None

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


Work = Callable[[requests.Session, str, T], None]


def in_threads(
    count: int, microversion: str, urls: Sequence[str], items: Sequence[T], work: Work[T]
) -> None:
    """`work` on every item from `count` threads, each with its own keep-alive session;
    thread i sends to API URL i % len(urls)."""
    pending: queue.SimpleQueue[T] = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    failed: list[BaseException] = []

    def loop(url: str) -> None:
        with new_session(microversion) as session:
            while not failed:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    work(session, url, item)
                except BaseException as exc:  # handed to the main thread below
                    failed.append(exc)

    threads = [threading.Thread(target=loop, args=(urls[i % len(urls)],)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]


class Fleet:
    """The phases against one server, its nodes and its measurements."""

    def __init__(
        self, urls: Sequence[str], pids: Sequence[int], settings: Settings, sampler: Sampler,
        db_pids: Sequence[int] = (),
    ) -> None:  # fmt: skip
        self.urls = [url.rstrip("/") for url in urls]
        self.url = self.urls[0]  # for the single client that prepares and polls
        self.pids = pids
        self.db_pids = db_pids
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
        cpu_before, db_before = cpu_seconds(*self.pids), cpu_seconds(*self.db_pids)
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
        if self.db_pids:
            extra["db_cpu_seconds"] = cpu_seconds(*self.db_pids) - db_before
        return PhaseResult(
            phase, items, seconds, cpu_seconds(*self.pids) - cpu_before, pss, rss,
            failures=failures, non_2xx=tally.non_2xx, retried=tally.retried,
            errors=tally.errors, statuses={str(k): v for k, v in sorted(tally.statuses.items())},
            **extra,
        )  # fmt: skip

    def create(self, tally: Tally, deadline: float) -> tuple[int, int]:
        def one(session: requests.Session, url: str, _: int) -> None:
            response = send(session, "POST", f"{url}/v1/nodes", tally, deadline, self.body)
            if response is not None and response.ok:
                self.created.append(response.json()["uuid"])

        count = self.settings.nodes
        in_threads(self.settings.threads, self.settings.microversion, self.urls, range(count), one)
        self.healthy = list(self.created)
        return count, count - len(self.created)

    def delete(self, tally: Tally, deadline: float) -> tuple[int, int]:
        gone: list[str] = []

        def one(session: requests.Session, url: str, uuid: str) -> None:
            response = send(session, "DELETE", f"{url}/v1/nodes/{uuid}", tally, deadline)
            if response is not None and response.ok:
                gone.append(uuid)

        total = len(self.created)
        in_threads(self.settings.threads, self.settings.microversion, self.urls, self.created, one)
        self.created = self.healthy = []
        return total, total - len(gone)

    def provision(self, phase: str, tally: Tally, deadline: float) -> tuple[int, int, float]:
        """(nodes, failures, seconds until every PUT was answered)."""
        verb, goal = PROVISION[phase]
        accepted: list[str] = []
        started = time.perf_counter()

        def one(session: requests.Session, url: str, uuid: str) -> None:
            target = f"{url}/v1/nodes/{uuid}/states/provision"
            response = send(session, "PUT", target, tally, deadline, {"target": verb})
            if response is not None and response.ok:
                accepted.append(uuid)

        nodes = self.healthy
        in_threads(self.settings.threads, self.settings.microversion, self.urls, nodes, one)
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

        def reader(session: requests.Session, base: str, offset: int) -> None:
            mine: list[float] = []
            bad, turn = 0, offset
            while time.perf_counter() < stop_at:
                if turn % 2:
                    url = f"{base}/v1/nodes?limit=100"
                else:
                    url = f"{base}/v1/nodes/{nodes[(turn // 2) % len(nodes)]}"
                began = time.perf_counter()
                response = send(session, "GET", url, tally, far)
                mine.append(time.perf_counter() - began)
                bad += response is None or not response.ok
                turn += 1
            latencies.extend(mine)
            failures.append(bad)

        threads = self.settings.read_threads
        offsets = [i * 7 for i in range(threads)]
        in_threads(threads, self.settings.microversion, self.urls, offsets, reader)
        return (
            len(latencies),
            sum(failures),
            {k: v * 1000 for k, v in percentiles(latencies).items()},
        )


def progress_records(
    nodes: Iterable[str], events: Iterable[tuple[str, str, str | None]]
) -> dict[str, Any]:
    """Each node's progress record (its events, counted) against the most common one.

    Every node of the fleet went through the same phases, so every node
    should hold the same record; a job run twice records its steps twice
    (`repeated`), a lost or cut-short one records fewer (`missing`).
    """
    per_node: dict[str, Counter[str]] = {uuid: Counter() for uuid in nodes}
    by_conductor: Counter[str] = Counter()
    for uuid, event, conductor in events:
        per_node.setdefault(uuid, Counter())[event] += 1
        by_conductor[conductor or "-"] += 1
    shapes = Counter(frozenset(record.items()) for record in per_node.values())
    common: Counter[str] = Counter(dict(shapes.most_common(1)[0][0])) if shapes else Counter()
    return {
        "record": dict(common),
        "repeated": {u: dict(r - common) for u, r in per_node.items() if r - common},
        "missing": {u: dict(common - r) for u, r in per_node.items() if common - r},
        "events_by_conductor": dict(sorted(by_conductor.items())),
    }


class Ledger:
    """What a scaled-out server's PostgreSQL records, read with SQL as an operator would.

    Read before the delete phase (a node's events go with it) and after it.
    """

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.report: dict[str, Any] = {}

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    def _jobs(self) -> dict[str, int]:
        rows = self._rows("SELECT kind, status, count(*) FROM jobs GROUP BY kind, status")
        return {f"{kind} {status}": count for kind, status, count in rows}

    def before_delete(self, goal: str) -> None:
        """No node locked (after UNLOCK_SECONDS), every node at `goal`, the queue empty,
        the same progress record on every node."""
        deadline = time.monotonic() + UNLOCK_SECONDS
        locked = self._rows("SELECT uuid, reservation FROM nodes WHERE reservation IS NOT NULL")
        while locked and time.monotonic() < deadline:
            time.sleep(0.2)
            locked = self._rows("SELECT uuid, reservation FROM nodes WHERE reservation IS NOT NULL")
        states = self._rows("SELECT provision_state, count(*) FROM nodes GROUP BY provision_state")
        nodes = [uuid for (uuid,) in self._rows("SELECT uuid FROM nodes")]
        events = self._rows(
            "SELECT n.uuid, e.event, e.conductor FROM node_events e "
            "JOIN nodes n ON n.id = e.node_id ORDER BY e.id"
        )
        self.report.update(
            goal=goal,
            nodes=len(nodes),
            states=dict(states),
            locked=dict(locked),
            jobs_left=self._jobs(),
            **progress_records(nodes, events),
        )

    def after_delete(self) -> None:
        self.report["nodes_after_delete"] = self._rows("SELECT count(*) FROM nodes")[0][0]
        self.report["jobs_after_delete"] = self._jobs()


def goal_of(phases: Sequence[str]) -> str:
    """The state every node is in after `phases` (before the delete)."""
    last = [p for p in phases if p in PROVISION]
    return PROVISION[last[-1]][1] if last else "enroll"


def measure(
    name: str, urls: Sequence[str], pids: Sequence[int], settings: Settings,
    phases: Sequence[str], *, db_pids: Sequence[int] = (), ledger: Ledger | None = None,
) -> TargetResult:  # fmt: skip
    time.sleep(1.0)  # let start-up work finish before the idle reading
    idle_rss, idle_pss = memory_mib(*pids)
    sampler = Sampler(*pids)
    sampler.start()
    try:
        fleet = Fleet(urls, pids, settings, sampler, db_pids)
        newest = fleet.prepare()
        result = TargetResult(
            name, list(urls), list(pids), newest, settings.microversion, fleet.body,
            idle_pss, idle_rss,
        )  # fmt: skip
        for phase in phases:
            if phase == "delete" and ledger is not None:
                ledger.before_delete(goal_of(phases))
            print(f"  {name}: {phase} ...", file=sys.stderr, flush=True)
            result.phases.append(fleet.run(phase))
        if ledger is not None:
            ledger.after_delete()
            result.ledger = ledger.report
    finally:
        sampler.stop()
    result.peak_rss_mib, result.peak_pss_mib = sampler.peak_rss, sampler.peak_pss
    return result


def scale_out(
    counts: Sequence[int], settings: Settings, phases: Sequence[str], workdir: Path
) -> list[TargetResult]:
    """For each N: N API and N conductor processes on a fresh database of one private
    PostgreSQL, measured and checked, then stopped before the next N starts."""
    results = []
    with postgres_server() as postgres:
        for count in counts:
            database = f"fleet_{count}x{count}"
            url = postgres.create_database(database)
            with ironbound_scale_out(
                workdir / database, SCALE_OUT_CONFIG, url, apis=count, conductors=count
            ) as cluster:
                name = f"{count}-of-each"  # N api and N conductor processes
                result = measure(
                    name, cluster.api_urls, cluster.pids, settings, phases,
                    db_pids=[postgres.pid], ledger=Ledger(postgres.conninfo(database)),
                )  # fmt: skip
            assert result.ledger is not None
            result.ledger["exit_statuses"] = cluster.exit_statuses
            results.append(result)
    return results


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
    with_db = any(p.db_cpu_seconds is not None for p in result.phases)
    lines = [
        f"{result.name}: {', '.join(result.urls)} PID {', '.join(map(str, result.pids))}, "
        f"API {result.microversion} (serves up to {result.server_version}); "
        f"PSS idle {result.idle_pss_mib:.0f} MiB, peak {result.peak_pss_mib:.0f} MiB",
        f"  {'phase':<9}{'items':>7}{'wall s':>9}{'PUTs s':>8}{'per s':>9}{'CPU s':>8}"
        + (f"{'DB CPU s':>9}" if with_db else "")
        + f"{'PSS MiB':>9}{'fail':>6}{'non-2xx':>8}{'retried':>8}",
    ]
    for p in result.phases:
        puts = "-" if p.accept_seconds is None else f"{p.accept_seconds:.2f}"
        db = f"{p.db_cpu_seconds or 0.0:>9.2f}" if with_db else ""
        row = (
            f"  {p.phase:<9}{p.items:>7}{p.seconds:>9.2f}{puts:>8}{p.rate:>9.1f}"
            f"{p.cpu_seconds:>8.2f}{db}{p.pss_peak_mib:>9.0f}{p.failures:>6}{p.non_2xx:>8}"
            f"{p.retried:>8}"
        )
        if p.latency_ms:
            row += "  ms p50/p95/p99 " + "/".join(f"{v:.1f}" for v in p.latency_ms.values())
        lines.append(row)
    return lines


def _some(found: dict[str, Any], limit: int = 3) -> str:
    shown = ", ".join(f"{key}: {value}" for key, value in list(found.items())[:limit])
    return shown + (f" and {len(found) - limit} more" if len(found) > limit else "")


def ledger_lines(result: TargetResult) -> list[str]:
    """The database checks of a scaled-out run, one line each, `ok` or what went wrong."""
    report = result.ledger
    if report is None:
        return []
    off_goal = {k: v for k, v in report["states"].items() if k != report["goal"]}
    moved = sum(report["states"].values()) - sum(off_goal.values())
    record, share = report["record"], report["events_by_conductor"]
    total = sum(share.values()) or 1
    checks = [
        ("locked", report["locked"], f"no node holds a reservation {UNLOCK_SECONDS:g} s on"),
        ("lost", off_goal, f"all {moved} nodes {report['goal']}"),
        ("cut short", report["missing"], "no node misses a step of the common record"),
        ("duplicated", report["repeated"],
         f"every node has the same progress record ({sum(record.values())} events)"),
        ("queue", report["jobs_left"], "the job queue is empty"),
        ("leftovers", {**report["jobs_after_delete"], "nodes": report["nodes_after_delete"]}
         if report["nodes_after_delete"] or report["jobs_after_delete"] else {},
         "no node and no job after the delete"),
        ("exit", {k: v for k, v in report["exit_statuses"].items() if v},
         f"all {len(report['exit_statuses'])} processes stopped with status 0"),
    ]  # fmt: skip
    lines = [f"  checks of {result.name}:"]
    for name, found, fine in checks:
        lines.append(f"    {name:<13}" + (f"PROBLEM {_some(found)}" if found else f"ok: {fine}"))
    lines.append(
        "    work         events by "
        + ", ".join(f"{host} {count / total:.0%}" for host, count in share.items())
    )
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


def same_record(a: TargetResult, b: TargetResult) -> list[str]:
    """Whether two scaled-out runs left the same progress record on their nodes."""
    if a.ledger is None or b.ledger is None:
        return []
    if a.ledger["record"] == b.ledger["record"]:
        return [f"  progress record per node: the same in both ({len(a.ledger['record'])} kinds)"]
    return [f"  progress record per node: PROBLEM, {a.ledger['record']} != {b.ledger['record']}"]


def to_json(settings: Settings, results: Sequence[TargetResult]) -> dict[str, Any]:
    targets = []
    for result in results:
        doc = dataclasses.asdict(result)
        for phase, data in zip(result.phases, doc["phases"], strict=True):
            data["per_second"] = phase.rate
        targets.append(doc)
    return {"settings": dataclasses.asdict(settings), "cpus": os.cpu_count(), "targets": targets}


def process_counts(text: str) -> list[int]:
    """--scale-out's value: 1,2 -> [1, 2]."""
    try:
        counts = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"process counts of 1 or more, like 1,2: not {text!r}")
    return counts


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
    parser.add_argument("--scale-out", type=process_counts, default=[], metavar="N,...",
                        help="N api + N conductor processes on PostgreSQL, for each N")  # fmt: skip
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
        if args.ironbound or (args.ironbound is None and args.url is None and not args.scale_out):
            with ironbound_serve(Path(tmp) / "ironbound", IRONBOUND_CONFIG) as served:
                results.append(
                    measure("Ironbound", [served.url], [served.process.pid], settings, phases)
                )
        if args.ironic_anchor:
            with ironic_anchor(args.ironic_anchor.resolve(), Path(tmp)) as (url, pid):
                results.append(measure("Ironic", [url], [pid], settings, phases))
        if args.url:
            results.append(measure(args.name, [args.url], [args.pid], settings, phases))
        scaled = scale_out(args.scale_out, settings, phases, Path(tmp))
    print_report(settings, results + scaled, scaled)
    if args.json:
        args.json.write_text(json.dumps(to_json(settings, results + scaled), indent=2) + "\n")
    return 0


def print_report(
    settings: Settings, results: Sequence[TargetResult], scaled: Sequence[TargetResult]
) -> None:
    """Each server's table; each other server against Ironbound; scale-outs against the first."""
    print(f"Fleet benchmark: {settings.nodes} nodes, {settings.threads} writer threads, "
          f"{settings.read_threads} reader threads for {settings.read_seconds:g} s, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for result in results:
        print("\n".join(target_table(result) + ledger_lines(result)))
    ours = next((r for r in results if r.name == "Ironbound"), None)
    for other in results:
        if ours is not None and other is not ours and other not in scaled:
            print("\n".join(comparison(other, ours)))
    for more in scaled[1:]:
        print("\n".join(comparison(scaled[0], more) + same_record(scaled[0], more)))


if __name__ == "__main__":
    sys.exit(main())
