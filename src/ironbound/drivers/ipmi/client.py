"""Reaching a node's IPMI BMC: driver_info, shared pyghmi sessions, errors.

The power and management interfaces use it the same way::

    with client.connect(self.conf, task) as bmc:         # logs in (retried) or reuses
        state = bmc.call("reading the power state", lambda ipmi: ipmi.get_power())

Three rules live here:

* pyghmi keeps IPMI sessions (UDP, served by its one I/O thread and a small pool of
  sockets) process-wide, and keeps each alive until it is logged out. Sessions are
  therefore counted: one per BMC and credentials, shared by every call using it at the
  same time, and logged out when the last of them ends. A session that failed is
  dropped at once. No session, timer or socket outlives the calls that need it.
* Logging in is tried ``[ipmi]connection_attempts`` times, ``retry_interval`` apart,
  when the BMC does not answer; refused credentials are not retried. Each request is
  resent by pyghmi for about ``[ipmi]command_retry_timeout`` seconds. Actions are sent
  once.
* Nothing pyghmi or the socket layer raise leaves `connect` or `BMCSession.call`: it
  becomes a `BMCError` naming what failed and the BMC's address, never the password.
"""

from __future__ import annotations

import contextvars
import logging
import socket
import struct
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import tenacity
from oslo_config import cfg
from pyghmi import exceptions as pyghmi_exceptions
from pyghmi.ipmi import command as ipmi_command
from pyghmi.ipmi.private import session as ipmi_session

from ironbound import errors
from ironbound.drivers import base
from ironbound.drivers import bmc as bmc_common
from ironbound.sensitive import Secret

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: IPMI privilege levels by Ironic's names, as pyghmi numbers them.
PRIV_LEVELS: dict[str, int] = {"CALLBACK": 1, "USER": 2, "OPERATOR": 3, "ADMINISTRATOR": 4}
DEFAULT_PORT = 623
#: RMCP+ cipher suites by number: 3 is HMAC-SHA1 (with AES), 17 HMAC-SHA256 (with AES).
CIPHER_SUITES: dict[int, int] = {3: 1, 17: 256}  # suite -> pyghmi's hash selector

REQUIRED_PROPERTIES: dict[str, str] = {
    "ipmi_address": "IP address or host name of the BMC. Required.",
}
OPTIONAL_PROPERTIES: dict[str, str] = {
    "ipmi_port": f"UDP port of the BMC's IPMI (RMCP+) service. Optional; default {DEFAULT_PORT}.",
    "ipmi_username": "User name for the BMC. Optional; default: the anonymous (empty) user.",
    "ipmi_password": "Password for the BMC. Optional; stored encrypted, never shown.",
    "ipmi_priv_level": "Privilege level of the session: "
    f"{', '.join(PRIV_LEVELS)}. Optional; default ADMINISTRATOR.",
    "ipmi_cipher_suite": "RMCP+ cipher suite: 3 (HMAC-SHA1) or 17 (HMAC-SHA256). Optional; "
    "default: 17, then 3 if the BMC refuses it.",
    "ipmi_bridging": "IPMI bridging: only 'no' (the default) is supported; single and dual "
    "bridging are refused.",
}
PROPERTIES: dict[str, str] = {**REQUIRED_PROPERTIES, **OPTIONAL_PROPERTIES}

#: pyghmi's words for refused credentials or privileges (lower case).
_CREDENTIAL_WORDS = ("password", "unauthorized", "privilege", "user", "authentication", "rakp")


@dataclass(frozen=True)
class IPMIInfo:
    """The ipmi_* keys of a node's driver_info, checked and normalised."""

    address: str
    port: int
    username: str | None
    password: Secret | None = field(repr=False)
    priv_level: str
    cipher_suite: int | None = None

    @property
    def where(self) -> str:
        """The BMC, for messages."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"IPMI BMC at {host}:{self.port}"


_invalid = bmc_common.invalid


def _parse_address(value: Any) -> str:
    text = bmc_common.require_text(
        "ipmi_address", value, what="the IP address or host name of the node's BMC."
    )
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if any(char.isspace() or char in "/@?#" for char in text):
        raise _invalid(
            "ipmi_address",
            f"{value!r} is not a host name or IP address (put the port in ipmi_port).",
        )
    return text


def _parse_port(value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_PORT
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if isinstance(value, bool | float) or not 1 <= port <= 65535:
        raise _invalid("ipmi_port", f"{value!r} is not a port number (1-65535).")
    return port


def parse_driver_info(driver_info: Mapping[str, Any]) -> IPMIInfo:
    """Check the ipmi_* keys without contacting the BMC.

    :raises MissingParameterValue: ipmi_address is missing.
    :raises InvalidParameterValue: a value is malformed or unsupported (the message
        names the key and what is allowed).
    """
    address = _parse_address(driver_info.get("ipmi_address"))
    port = _parse_port(driver_info.get("ipmi_port"))
    username = bmc_common.parse_text("ipmi_username", driver_info.get("ipmi_username"))
    password = bmc_common.parse_password("ipmi_password", driver_info.get("ipmi_password") or None)
    priv = driver_info.get("ipmi_priv_level") or "ADMINISTRATOR"
    if not isinstance(priv, str) or priv.upper() not in PRIV_LEVELS:
        raise _invalid("ipmi_priv_level", f"{priv!r} is not one of {', '.join(PRIV_LEVELS)}.")
    bridging = driver_info.get("ipmi_bridging")
    if bridging not in (None, "", "no"):
        raise _invalid(
            "ipmi_bridging",
            f"{bridging!r} is not supported; Ironbound talks to the BMC directly "
            "(ipmi_bridging must be 'no' or unset).",
        )
    suite = driver_info.get("ipmi_cipher_suite")
    if suite in (None, ""):
        cipher_suite = None
    elif isinstance(suite, int | str) and str(suite).strip() in {str(n) for n in CIPHER_SUITES}:
        cipher_suite = int(suite)
    else:
        raise _invalid(
            "ipmi_cipher_suite",
            f"{suite!r} is not one of {', '.join(map(str, CIPHER_SUITES))} (the suites "
            "Ironbound speaks: 3 for HMAC-SHA1, 17 for HMAC-SHA256).",
        )
    if password is not None and len(password.reveal().encode()) > 20:
        raise _invalid("ipmi_password", "IPMI passwords are at most 20 bytes long.")
    return IPMIInfo(
        address=address,
        port=port,
        username=username,
        password=password,
        priv_level=priv.upper(),
        cipher_suite=cipher_suite,
    )


# --- sessions ----------------------------------------------------------------

_SessionKey = tuple[str, int, str | None, str | None, str, int | None]

# pyghmi always offers cipher suite 17 first and falls back to 3 only when the BMC
# answers with an error. pyghmi's own BMC (hence virtualbmc) instead accepts and answers
# in SHA1, which breaks the login; ipmi_cipher_suite=3 asks for SHA1 from the start.
# pyghmi has no setting for it: its Command builds `session.Session`, so Command's
# module sees a Session subclass that reads the wanted suite from this context variable
# while the calling thread logs in (with the variable unset it is pyghmi's Session).
_CIPHER_SUITE: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "ipmi_cipher_suite", default=None
)


class _Session(ipmi_session.Session):  # type: ignore[misc]  # pyghmi is untyped
    def _initsession(self) -> None:
        super()._initsession()
        if not hasattr(self, "_ironbound_hash"):  # the first login decides; relogins keep it
            suite = _CIPHER_SUITE.get()
            self._ironbound_hash = CIPHER_SUITES[suite] if suite is not None else None
        if self._ironbound_hash is not None:
            self.attemptedhash = self._ironbound_hash


class _SessionModule(types.ModuleType):
    """pyghmi's session module as Command's module sees it: the same, but `_Session`."""

    Session = _Session

    def __getattr__(self, name: str) -> Any:
        return getattr(ipmi_session, name)


ipmi_command.session = _SessionModule(ipmi_session.__name__)


def _session_key(info: IPMIInfo) -> _SessionKey:
    fingerprint = bmc_common.fingerprint(info.password)
    return (info.address, info.port, info.username, fingerprint, info.priv_level, info.cipher_suite)


@dataclass
class _Shared:
    command: Any
    users: int = 0


class SessionPool:
    """Logged-in pyghmi Commands by BMC and credentials, counted by their users."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logins: dict[_SessionKey, threading.Lock] = {}
        self._open: dict[_SessionKey, _Shared] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)

    def acquire(self, key: _SessionKey, login: Callable[[], Any]) -> Any:
        """The open session for `key`, or a new one from `login` (one login at a time)."""
        with self._lock:
            login_lock = self._logins.setdefault(key, threading.Lock())
        with login_lock:
            with self._lock:
                shared = self._open.get(key)
                if shared is not None:
                    shared.users += 1
                    return shared.command
            command = login()
            with self._lock:
                self._open[key] = _Shared(command, users=1)
            return command

    def release(self, key: _SessionKey, command: Any, *, broken: bool = False) -> None:
        """One user less; the last one (or a broken session) logs out."""
        with self._lock:
            shared = self._open.get(key)
            if shared is None or shared.command is not command:
                return  # already dropped as broken by another user
            shared.users -= 1
            if shared.users > 0 and not broken:
                return
            del self._open[key]
            self._logins.pop(key, None)
        _logout(command)


def _logout(command: Any) -> None:
    try:
        command.ipmi_session.logout()
    except Exception as exc:  # a dead BMC cannot hear the logout; the session is gone anyway
        LOG.debug("IPMI logout failed: %s", type(exc).__name__)


#: Sessions are process-wide in pyghmi, so is the pool.
POOL = SessionPool()


# --- errors ------------------------------------------------------------------

#: What pyghmi and the socket layer raise.
TRANSLATED: tuple[type[Exception], ...] = (
    pyghmi_exceptions.PyghmiException,
    OSError,
    ValueError,
    KeyError,
    struct.error,  # pyghmi unpacks answers it does not check
    AssertionError,  # pyghmi asserts on malformed answers
)


def describe(exc: BaseException) -> str:
    """What went wrong, in a few words (without the where: callers add it)."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, OSError):
        return f"network error ({exc.strerror or exc})"
    if _is_unanswered(exc):
        return "no answer from the BMC" + (f" ({exc})" if _message(exc) else "")
    text = str(exc) or type(exc).__name__
    if isinstance(exc, pyghmi_exceptions.PyghmiException):
        return f"the BMC refused the request ({text})"
    return f"the BMC sent an unexpected answer ({type(exc).__name__}: {text})"


def _is_credentials(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, pyghmi_exceptions.IpmiException) and any(
        word in text for word in _CREDENTIAL_WORDS
    )


def _message(exc: BaseException) -> str:
    """The exception's text; pyghmi raises IpmiException(None) when a login times out."""
    text = str(exc)
    return "" if text in ("", "None") else text


def _is_unanswered(exc: BaseException) -> bool:
    text = _message(exc).lower()
    if isinstance(exc, OSError):
        return not isinstance(exc, socket.gaierror)
    if isinstance(exc, pyghmi_exceptions.IpmiException) and not text:
        return True
    return "timeout" in text or "no longer connected" in text


def _may_answer_later(exc: BaseException) -> bool:
    """Whether a failed login is worth another try.

    A KeyError: pyghmi's class-wide session table is not thread-safe, and a login
    that walks it while another thread logs out of the same BMC trips over the
    removed entry. Trying again finds the table settled.
    """
    if not isinstance(exc, TRANSLATED) or _is_credentials(exc):
        return False
    return _is_unanswered(exc) or isinstance(exc, KeyError)


class BMCSession:
    """One node's BMC during one driver call: a logged-in pyghmi Command."""

    def __init__(self, conf: cfg.ConfigOpts, info: IPMIInfo, node: str) -> None:
        self.conf = conf
        self.info = info
        self.node = node
        self.command: Any = None
        self.broken = False

    def login(self) -> Any:
        """A new logged-in Command, retried while the BMC does not answer."""
        attempts = int(self.conf.ipmi.connection_attempts)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_fixed(float(self.conf.ipmi.retry_interval)),
            retry=tenacity.retry_if_exception(_may_answer_later),
            before_sleep=self._warn_unanswered,
            reraise=True,
        )
        try:
            command = retrying(self._new_command)
        except TRANSLATED as exc:
            if _is_credentials(exc):
                raise self._credentials_failure(exc) from exc
            tries = retrying.statistics["attempt_number"]
            raise self.failure(exc, "logging in", attempts=tries) from exc
        command.ipmi_session.maxtimeout = float(self.conf.ipmi.command_retry_timeout)
        return command

    def _warn_unanswered(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        LOG.warning(
            "Node %s: %s does not answer (attempt %d of %d): %s",
            self.node,
            self.info.where,
            state.attempt_number,
            int(self.conf.ipmi.connection_attempts),
            self.scrub(describe(exc)) if exc else "",
        )

    def _new_command(self) -> Any:
        user = self.info.username or ""
        password = self.info.password.reveal() if self.info.password else ""
        token = _CIPHER_SUITE.set(self.info.cipher_suite)
        try:
            return ipmi_command.Command(
                bmc=self.info.address,
                userid=user,
                password=password,
                port=self.info.port,
                privlevel=PRIV_LEVELS[self.info.priv_level],
            )
        finally:
            _CIPHER_SUITE.reset(token)
            # pyghmi files a session being set up under these strings but removes it
            # under their bytes, so the entry would outlive the login and hand a later
            # Command this session, logged out or not. Sessions are shared by POOL.
            ipmi_session.Session.initting_sessions.pop(
                (self.info.address, user, password, self.info.port, None), None
            )

    def call(self, doing: str, action: Callable[[Any], T]) -> T:
        """Run `action` with the Command; translate what it raises into a BMCError."""
        try:
            return action(self.command)
        except TRANSLATED as exc:
            if _is_unanswered(exc) or getattr(self.command.ipmi_session, "broken", False):
                self.broken = True
            raise self.failure(exc, doing) from exc

    def failure(self, exc: BaseException, doing: str, *, attempts: int = 1) -> errors.BMCError:
        detail = describe(exc)
        if attempts > 1:
            detail += f" after {attempts} attempts"
        return errors.BMCError(
            node=self.node, reason=self.scrub(f"{detail} while {doing} ({self.info.where})")
        )

    def scrub(self, text: str) -> str:
        """`text` with the password masked, should it ever be echoed back."""
        return bmc_common.scrub(text, self.info.password)

    def _credentials_failure(self, exc: BaseException) -> errors.BMCError:
        user = f"user {self.info.username!r}" if self.info.username else "the anonymous user"
        reason = (
            f"the BMC refused the login ({user}, privilege {self.info.priv_level}: {exc}; "
            f"check ipmi_username, ipmi_password and ipmi_priv_level) ({self.info.where})"
        )
        return errors.BMCError(node=self.node, reason=self.scrub(reason))


@contextmanager
def connect(conf: cfg.ConfigOpts, task: base.Task) -> Iterator[BMCSession]:
    """The node's BMC with a session open for the block (shared, then logged out).

    :raises InvalidParameterValue, MissingParameterValue: driver_info is wrong.
    :raises BMCError: the BMC cannot be reached or refuses the credentials.
    """
    bmc = BMCSession(conf, parse_driver_info(task.node.driver_info), task.node.uuid)
    key = _session_key(bmc.info)
    bmc.command = POOL.acquire(key, bmc.login)
    try:
        yield bmc
    finally:
        POOL.release(key, bmc.command, broken=bmc.broken)
