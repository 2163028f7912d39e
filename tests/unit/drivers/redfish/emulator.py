"""Running sushy-emulator (sushy-tools' fake driver) as a child process on loopback.

The emulator needs an interpreter with sushy-tools installed: this one if it
has it, else the one named by IRONBOUND_SUSHY_TOOLS_PYTHON. Each emulator gets
its own state folder (the fake driver otherwise shares a SQLite file in /tmp
with every emulator on the machine), a free port on 127.0.0.1 and, as asked,
an htpasswd file and a TLS certificate.
"""

from __future__ import annotations

import datetime
import importlib.util
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SUSHY_TOOLS_HINT = "pip install 'sushy-tools>=2.2' (or set IRONBOUND_SUSHY_TOOLS_PYTHON)"
_MAIN = Path(__file__).with_name("emulator_main.py")


def emulator_python() -> str | None:
    """An interpreter that can run sushy-emulator, or None."""
    named = os.environ.get("IRONBOUND_SUSHY_TOOLS_PYTHON")
    if named:
        return named
    if importlib.util.find_spec("sushy_tools") is not None:
        return sys.executable
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TLSFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(folder: Path) -> TLSFiles:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)

    def build(
        subject: str,
        issuer: x509.Name | None,
        key: ec.EllipticCurvePrivateKey,
        signer: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("ironbound test CA", None, ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build("127.0.0.1", ca_cert.subject, key, ca_key, ca=False)
    files = TLSFiles(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@dataclass
class Emulator:
    """A running sushy-emulator; `stop` ends it by its PID."""

    process: subprocess.Popen[bytes]
    address: str
    system_ids: list[str]
    log: Path
    #: Systems created in a given power state (e.g. PoweringOff), by that state.
    frozen_ids: dict[str, str] = field(default_factory=dict)
    tls: TLSFiles | None = None
    users: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_emulator(
    python: str,
    folder: Path,
    *,
    systems: int = 1,
    frozen_states: tuple[str, ...] = (),
    power_delay: int | None = None,
    users: dict[str, str] | None = None,
    tls: bool = False,
) -> Emulator:
    """Start an emulator with `systems` fake systems, all powered off.

    `frozen_states` adds one system per state given, reporting that state until
    a reset is sent to it (the fake driver never moves a system by itself).
    """
    folder.mkdir(parents=True, exist_ok=True)
    system_uuids = [str(uuid.uuid4()) for _ in range(systems + len(frozen_states))]
    power_states = ["Off"] * systems + list(frozen_states)
    fake_systems = [
        {
            "uuid": system_uuid,
            "name": f"node-{index}",
            "power_state": power_states[index],
            "external_notifier": False,
            "nics": [{"mac": f"52:54:00:00:{index // 256:02x}:{index % 256:02x}"}],
        }
        for index, system_uuid in enumerate(system_uuids)
    ]
    settings = {
        "SUSHY_EMULATOR_LISTEN_IP": "127.0.0.1",
        "SUSHY_EMULATOR_FAKE_DRIVER": True,
        "SUSHY_EMULATOR_STATE_DIR": str(folder / "state"),
        "SUSHY_EMULATOR_FAKE_SYSTEMS": fake_systems,
    }
    if users:
        htpasswd = folder / "htpasswd"
        htpasswd.write_text(
            "".join(
                f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()}\n"
                for user, password in users.items()
            )
        )
        settings["SUSHY_EMULATOR_AUTH_FILE"] = str(htpasswd)
    tls_files = make_tls_files(folder) if tls else None
    if tls_files:
        settings["SUSHY_EMULATOR_SSL_CERT"] = str(tls_files.cert)
        settings["SUSHY_EMULATOR_SSL_KEY"] = str(tls_files.key)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SUSHY_EMULATOR", "OS_CLOUD", "IRONBOUND_FAKE_POWER_DELAY"))
    }
    if power_delay is not None:
        env["IRONBOUND_FAKE_POWER_DELAY"] = str(power_delay)
    scheme = "https" if tls else "http"
    log = folder / "emulator.log"
    for _ in range(3):  # another process may grab the free port before the emulator does
        port = free_port()
        config = folder / "emulator.conf"
        config.write_text(
            "".join(f"{key} = {value!r}\n" for key, value in settings.items())
            + f"SUSHY_EMULATOR_LISTEN_PORT = {port}\n"
        )
        with log.open("wb") as out:
            process = subprocess.Popen(
                [python, str(_MAIN), "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=folder,
            )
        emulator = Emulator(
            process=process,
            address=f"{scheme}://127.0.0.1:{port}",
            system_ids=[f"/redfish/v1/Systems/{system_uuid}" for system_uuid in system_uuids][
                :systems
            ],
            frozen_ids={
                state: f"/redfish/v1/Systems/{system_uuid}"
                for state, system_uuid in zip(frozen_states, system_uuids[systems:], strict=True)
            },
            log=log,
            tls=tls_files,
            users=dict(users or {}),
        )
        if _wait_ready(emulator):
            return emulator
        emulator.stop()
    raise RuntimeError(f"sushy-emulator did not start; its log:\n{log.read_text()[-3000:]}")


def _wait_ready(emulator: Emulator, timeout: float = 20.0) -> bool:
    context = None
    if emulator.tls:
        context = ssl.create_default_context(cafile=str(emulator.tls.ca))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(  # the service root needs no credentials
                f"{emulator.address}/redfish/v1/", timeout=2, context=context
            ) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    return False
