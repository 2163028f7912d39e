"""Stop a lab from its state file alone, e.g. one that `ironbound lab up` left behind."""

import contextlib
import logging
import os
import signal
from pathlib import Path

from ironbound.lab import procs, tools
from ironbound.lab.errors import LabError
from ironbound.lab.libvirtd import kill_leftover_qemus
from ironbound.lab.state import LabState
from ironbound.lab.tgt import stop_tgtd

log = logging.getLogger(__name__)


def _destroy_domains(state: LabState) -> None:
    """Power off every domain while libvirtd still runs (it leaves QEMUs behind on exit)."""
    libvirtd = [r for r in state.processes if r.name == "libvirtd" and r.alive()]
    if not libvirtd or state.libvirt_uri is None:
        return
    virsh = [tools.program("virsh"), "-q", "-c", state.libvirt_uri]
    try:
        for name in procs.run([*virsh, "list", "--name", "--state-running"]).split():
            procs.run([*virsh, "destroy", name])
    except LabError as exc:
        log.warning("could not power off the lab's domains through libvirtd: %s", exc)


def stop_recorded(state: LabState) -> None:
    """Stop the QEMUs, then what the state names, newest first, each even if another fails."""
    _destroy_domains(state)
    if state.qemu_run_dir is not None:
        kill_leftover_qemus(Path(state.qemu_run_dir))
    with contextlib.ExitStack() as stops:  # pushed in start order, run newest first
        for record in state.processes:
            if record.name == "tgtd" and state.tgt_control_port is not None:
                stops.callback(stop_tgtd, state.tgt_control_port, record)
            else:
                stops.callback(procs.stop_record, record)


def stop_lab_dir(workdir: Path, owner_timeout: float = 120.0) -> LabState:
    """Ask the lab's owner to stop it (SIGTERM), then stop whatever is still running."""
    state = LabState.load(workdir)
    if state is None:
        raise LabError(f"no lab state in {workdir}")
    if state.owner.alive() and state.owner.pid != os.getpid():
        os.kill(state.owner.pid, signal.SIGTERM)
        if not procs.wait_gone(state.owner, owner_timeout):
            log.warning("lab owner pid %d did not stop; stopping its processes", state.owner.pid)
        state = LabState.load(workdir) or state
    stop_recorded(state)
    state.processes = []
    state.save(workdir)
    return state
