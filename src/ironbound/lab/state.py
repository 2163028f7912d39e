"""The lab's state file: which processes a lab started, so another process can stop them."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from ironbound.lab.errors import LabError
from ironbound.lab.procs import ProcessRecord

STATE_FILE = "lab-state.json"


@dataclass
class LabState:
    """Written after every start step, so even a half-started lab can be stopped."""

    owner: ProcessRecord  # the process that runs the Lab object (e.g. `ironbound lab up`)
    processes: list[ProcessRecord] = field(default_factory=list)  # in start order
    tgt_control_port: int | None = None
    libvirt_uri: str | None = None
    qemu_run_dir: str | None = None
    facts: dict[str, object] = field(default_factory=dict)

    def running(self) -> list[ProcessRecord]:
        return [record for record in self.processes if record.alive()]

    def save(self, workdir: Path) -> None:
        data = {
            "owner": self.owner.to_json(),
            "processes": [record.to_json() for record in self.processes],
            "tgt_control_port": self.tgt_control_port,
            "libvirt_uri": self.libvirt_uri,
            "qemu_run_dir": self.qemu_run_dir,
            "facts": self.facts,
        }
        scratch = workdir / f".{STATE_FILE}.tmp"
        scratch.write_text(json.dumps(data, indent=2) + "\n")
        scratch.replace(workdir / STATE_FILE)

    @classmethod
    def load(cls, workdir: Path) -> "LabState | None":
        path = workdir / STATE_FILE
        try:
            data = json.loads(path.read_text())
            return cls(
                owner=ProcessRecord.from_json(data["owner"]),
                processes=[ProcessRecord.from_json(item) for item in data["processes"]],
                tgt_control_port=data["tgt_control_port"],
                libvirt_uri=data["libvirt_uri"],
                qemu_run_dir=data["qemu_run_dir"],
                facts=data["facts"],
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise LabError(f"{path} is not a lab state file: {exc}") from exc
