"""The lab's cache: tool venvs (sushy-tools, virtualbmc, OpenStack Cinder) and libvirt's probe.

sushy-tools and virtualbmc drive libvirt through its binding, which PyPI only has as
source (libvirt-python, built against libvirt-dev). Debian's python3-libvirt works out of the
box, so the emulator and virtualbmc run from venvs made with /usr/bin/python3 and
--system-site-packages. Cinder needs nothing from the system: its venv is made with the
python that runs the lab (Cinder 29 needs >= 3.11). Each venv is created once, when
missing, and reused by every lab.
"""

import fcntl
import os
import shutil
import sys
from pathlib import Path

from ironbound.lab import procs, tools
from ironbound.lab.errors import LabError, MissingToolError

SUSHY_TOOLS = "sushy-tools==2.2.0"
VIRTUALBMC = "virtualbmc==3.3.0"
CINDER = "cinder==29.0.0"
_STAMP = "ironbound-requirement.txt"


def default_cache_dir() -> Path:
    """$IRONBOUND_LAB_CACHE, else $XDG_CACHE_HOME/ironbound-lab, else ~/.cache/ironbound-lab."""
    explicit = os.environ.get("IRONBOUND_LAB_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ironbound-lab"


def _system_libvirt_venv(cache_dir: Path, name: str, requirement: str, program: str) -> Path:
    """A venv of /usr/bin/python3 with Debian's libvirt binding and `requirement`, built once."""
    venv = cache_dir / name
    executable = venv / "bin" / program
    stamp = venv / _STAMP
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two labs starting at once build it only once
        if executable.exists() and stamp.exists() and stamp.read_text() == requirement:
            return venv
        python3 = str(tools.file("/usr/bin/python3"))
        try:
            procs.run([python3, "-c", "import libvirt"])
        except LabError:
            raise MissingToolError(
                "Debian's libvirt binding for /usr/bin/python3 not found: "
                "apt-get install --no-install-recommends python3-libvirt"
            ) from None
        shutil.rmtree(venv, ignore_errors=True)
        try:
            procs.run([python3, "-m", "venv", "--system-site-packages", str(venv)])
        except LabError as exc:
            raise MissingToolError(
                f"cannot create a venv with {python3} ({exc}): "
                "apt-get install --no-install-recommends python3-venv"
            ) from None
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        procs.run([*pip, "install", "--quiet", requirement], timeout=600.0)
        stamp.write_text(requirement)
    return venv


def sushy_emulator(cache_dir: Path) -> Path:
    """Path to sushy-emulator, creating its venv first if needed (takes a few seconds)."""
    venv = _system_libvirt_venv(cache_dir, "sushy-tools-venv", SUSHY_TOOLS, "sushy-emulator")
    return venv / "bin" / "sushy-emulator"


def virtualbmc_python(cache_dir: Path) -> Path:
    """Path to the python of a venv with virtualbmc, creating it first if needed."""
    venv = _system_libvirt_venv(cache_dir, "virtualbmc-venv", VIRTUALBMC, "vbmcd")
    return venv / "bin" / "python"


def _base_python() -> str:
    """The interpreter behind sys.executable, outside any venv (a venv's python may vanish)."""
    for candidate in (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}",
        Path(sys.base_prefix) / "bin" / "python3",
    ):
        if candidate.exists():
            return str(candidate)
    return tools.program("python3")


def cinder_venv(cache_dir: Path) -> Path:
    """Path to a venv with OpenStack Cinder, creating it first if needed (takes ~40 s)."""
    venv = cache_dir / "cinder-venv"
    stamp = venv / _STAMP
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / "cinder-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = (venv / "bin" / "cinder-volume").exists() and stamp.exists()
        if built and stamp.read_text() == CINDER:
            return venv
        python = _base_python()
        shutil.rmtree(venv, ignore_errors=True)
        try:
            procs.run([python, "-m", "venv", str(venv)])
        except LabError as exc:
            raise MissingToolError(
                f"cannot create a venv with {python} ({exc}): "
                "apt-get install --no-install-recommends python3-venv"
            ) from None
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        procs.run([*pip, "install", "--quiet", CINDER], timeout=900.0)
        stamp.write_text(CINDER)
    return venv
