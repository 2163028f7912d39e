"""`ironbound lab up|cinder|down|status`: run the lab (or its OpenStack Cinder) by hand."""

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from ironbound.lab.cinder import CinderLab
from ironbound.lab.environment import Lab
from ironbound.lab.errors import LabError
from ironbound.lab.machines import Firmware
from ironbound.lab.state import LabState
from ironbound.lab.teardown import stop_lab_dir

PASSWORD_ENV = "IRONBOUND_LAB_REDFISH_PASSWORD"  # noqa: S105 - a variable name
NOT_RUNNING = 3  # as LSB status does


def _machine(spec: str) -> tuple[str, str, Firmware]:
    parts = spec.split(",")
    if len(parts) == 2:
        return parts[0], parts[1], "bios"
    if len(parts) == 3 and parts[2] in ("bios", "uefi"):
        return parts[0], parts[1], "uefi" if parts[2] == "uefi" else "bios"
    raise argparse.ArgumentTypeError(f"{spec!r} is not NAME,MAC[,bios|uefi]")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ironbound lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a lab, print its facts as JSON, run until signalled")
    up.add_argument("dir", type=Path, help="the lab's work directory")
    up.add_argument(
        "--boot-port", type=int, default=8080, help="host port of the boot server (8080)"
    )
    up.add_argument("--redfish-port", type=int, help="port for the Redfish BMC (a free one)")
    up.add_argument(
        "--redfish-user", help=f"require HTTP basic auth; the password is read from ${PASSWORD_ENV}"
    )
    up.add_argument(
        "--machine",
        action="append",
        default=[],
        type=_machine,
        metavar="NAME,MAC[,bios|uefi]",
        help="define a powered-off machine (repeatable)",
    )
    up.add_argument("--single-portal", action="store_true", help="no second iSCSI portal")
    up.add_argument("--cache-dir", type=Path, help="where the sushy-tools venv and probe live")
    cinder = commands.add_parser(
        "cinder", help="start a real OpenStack Cinder, print its facts, run until signalled"
    )
    cinder.add_argument("dir", type=Path, help="its work directory")
    cinder.add_argument("--portal-address", help="portal address Cinder reports (127.0.0.1)")
    cinder.add_argument("--portal-port", type=int, help="portal port Cinder reports (tgtd's)")
    cinder.add_argument("--cache-dir", type=Path, help="where the Cinder venv lives")
    for name, text in (("down", "stop a lab started in DIR"), ("status", "show a lab's state")):
        command = commands.add_parser(name, help=text)
        command.add_argument("dir", type=Path, help="the lab's work directory")
    return parser


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    """First SIGINT/SIGTERM unwinds into Lab.stop(); later ones must not interrupt it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _up(args: argparse.Namespace) -> int:
    auth = None
    if args.redfish_user:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise LabError(f"--redfish-user needs the password in ${PASSWORD_ENV}")
        auth = (args.redfish_user, password)
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    lab = Lab(
        args.dir,
        boot_server_port=args.boot_port,
        redfish_port=args.redfish_port,
        redfish_auth=auth,
        second_portal=not args.single_portal,
        cache_dir=args.cache_dir,
    )
    try:
        with lab:
            for name, mac, firmware in args.machine:
                lab.add_machine(name, mac, firmware)
            print(json.dumps(lab.facts(), indent=2), flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        return 0


def _cinder(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    lab = CinderLab(
        args.dir,
        cache_dir=args.cache_dir,
        portal_address=args.portal_address,
        portal_port=args.portal_port,
    )
    try:
        with lab:
            print(json.dumps(lab.facts(), indent=2), flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        return 0


def _status(workdir: Path) -> int:
    state = LabState.load(workdir)
    if state is None:
        raise LabError(f"no lab state in {workdir}")
    processes = [{**r.to_json(), "alive": r.alive()} for r in state.processes]
    running = bool(processes) and all(p["alive"] for p in processes)
    report = {
        "running": running,
        "owner": {**state.owner.to_json(), "alive": state.owner.alive()},
        "processes": processes,
        "facts": state.facts,
    }
    print(json.dumps(report, indent=2))
    return 0 if running else NOT_RUNNING


def lab_main(argv: list[str]) -> int:
    """Entry point of `ironbound lab`; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "up":
            return _up(args)
        if args.command == "cinder":
            return _cinder(args)
        if args.command == "down":
            stop_lab_dir(args.dir.resolve())
            print(f"lab in {args.dir} stopped")
            return 0
        return _status(args.dir.resolve())
    except LabError as exc:
        print(f"ironbound lab: {exc}", file=sys.stderr)
        return 1
