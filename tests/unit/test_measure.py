"""Memory and CPU time of a process tree, as the benchmarks read them from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ironbound.lab.measure import Sampler, cpu_seconds, memory_mib, tree


def test_measure_counts_the_children_of_a_process() -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", burn + "time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds(child.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in tree(os.getpid())
        assert cpu_seconds(os.getpid()) >= cpu_seconds(child.pid) >= 0.3
        own_rss, own_pss = memory_mib(os.getpid())
        child_rss, _ = memory_mib(child.pid)
        assert own_rss > child_rss > 0 and own_pss > 0
        sampler = Sampler(child.pid)
        first = sampler.take_peak()
        assert first[0] > 0 and sampler.peak_rss == first[0]
    finally:
        child.kill()
        child.wait()


def test_measure_sums_several_trees_and_counts_each_process_once() -> None:
    sleepers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])]
    sleepers.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))
    try:
        first, second = (p.pid for p in sleepers)
        assert sorted(tree(first, second)) == sorted([first, second])
        # A child named beside its parent is still counted once.
        mine = tree(os.getpid(), first)
        assert mine.count(first) == 1 and second in mine
        assert memory_mib(first, second)[0] > memory_mib(first)[0] > 0
        assert Sampler(first, second).take_peak()[0] > memory_mib(first)[0]
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
