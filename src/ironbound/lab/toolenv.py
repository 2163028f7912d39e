"""The lab's cache: tool venvs (sushy-tools, virtualbmc, Cinder, Keystone) and libvirt's probe.

sushy-tools and virtualbmc drive libvirt through its binding, which PyPI only has as
source (libvirt-python, built against libvirt-dev). Debian's python3-libvirt works out of the
box, so the emulator and virtualbmc run from venvs made with /usr/bin/python3 and
--system-site-packages. Cinder and Keystone need nothing from the system: their venvs are
made with the python that runs the lab (Cinder 29 needs >= 3.11). Each venv is created once, when
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
KEYSTONE = "keystone==30.0.0"
_STAMP = "ironbound-requirement.txt"


def default_cache_dir() -> Path:
    """$IRONBOUND_LAB_CACHE, else $XDG_CACHE_HOME/ironbound-lab, else ~/.cache/ironbound-lab."""
    explicit = os.environ.get("IRONBOUND_LAB_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ironbound-lab"


def _cached_venv(
    cache_dir: Path, name: str, requirement: str, program: str, *, system_libvirt: bool
) -> Path:
    """A venv with `requirement` (and `program` in it) under `cache_dir`, built once.

    system_libvirt: made from /usr/bin/python3 with --system-site-packages, for
    Debian's libvirt binding; otherwise from the interpreter behind this one.
    """
    venv = cache_dir / name
    stamp = venv / _STAMP
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two labs starting at once build it only once
        built = (venv / "bin" / program).exists() and stamp.exists()
        if built and stamp.read_text() == requirement:
            return venv
        python = str(tools.file("/usr/bin/python3")) if system_libvirt else _base_python()
        if system_libvirt:
            _require_libvirt_binding(python)
        shutil.rmtree(venv, ignore_errors=True)
        options = ["--system-site-packages"] if system_libvirt else []
        try:
            procs.run([python, "-m", "venv", *options, str(venv)])
        except LabError as exc:
            raise MissingToolError(
                f"cannot create a venv with {python} ({exc}): "
                "apt-get install --no-install-recommends python3-venv"
            ) from None
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        procs.run([*pip, "install", "--quiet", requirement], timeout=900.0)
        stamp.write_text(requirement)
    return venv


def _require_libvirt_binding(python3: str) -> None:
    try:
        procs.run([python3, "-c", "import libvirt"])
    except LabError:
        raise MissingToolError(
            "Debian's libvirt binding for /usr/bin/python3 not found: "
            "apt-get install --no-install-recommends python3-libvirt"
        ) from None


def sushy_emulator(cache_dir: Path) -> Path:
    """Path to sushy-emulator, creating its venv first if needed (takes a few seconds)."""
    venv = _cached_venv(
        cache_dir, "sushy-tools-venv", SUSHY_TOOLS, "sushy-emulator", system_libvirt=True
    )
    return venv / "bin" / "sushy-emulator"


def virtualbmc_python(cache_dir: Path) -> Path:
    """Path to the python of a venv with virtualbmc, creating it first if needed."""
    venv = _cached_venv(cache_dir, "virtualbmc-venv", VIRTUALBMC, "vbmcd", system_libvirt=True)
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
    return _cached_venv(cache_dir, "cinder-venv", CINDER, "cinder-volume", system_libvirt=False)


def keystone_venv(cache_dir: Path) -> Path:
    """Path to a venv with OpenStack Keystone, creating it first if needed (takes ~1 min)."""
    return _cached_venv(
        cache_dir, "keystone-venv", KEYSTONE, "keystone-manage", system_libvirt=False
    )
