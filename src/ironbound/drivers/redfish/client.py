"""Reaching a node's Redfish BMC: driver_info, cached sushy connections, errors.

The power and management interfaces share this module and use it the same way::

    bmc = client.open_bmc(self.conf, task)     # parses driver_info; no traffic yet
    with bmc.talking("reading the power state"):
        system = bmc.system()                  # connects (cached, retried), GETs the system
        state = system.power_state

Three rules live here so that the interfaces need not remember them:

* One authenticated `sushy.Sushy` root per BMC and credentials, shared by all
  interfaces built from one configuration and kept in a bounded LRU cache
  (``[redfish]connection_cache_size``). A connection that fails to connect or
  to authenticate is dropped, so the next call starts afresh.
* Connecting and fetching the system are retried on transport failures
  (``[redfish]connection_attempts`` tries, ``connection_retry_interval`` apart);
  TLS verification failures and refused credentials are not, because they do
  not heal by waiting. Actions (resets, PATCHes) are sent once.
* Nothing sushy, requests or urllib3 raise leaves `BMC.system` or
  `BMC.talking`: it becomes a `BMCError` whose text names what failed, the
  BMC address and the system, and never the password.
"""

from __future__ import annotations

import contextlib
import inspect
import ipaddress
import logging
import re
import socket
import ssl
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sushy
import sushy.auth
import sushy.exceptions
import tenacity
from oslo_config import cfg
from oslo_utils import strutils

from ironbound import errors
from ironbound.drivers import base
from ironbound.drivers import bmc as bmc_common
from ironbound.sensitive import Secret

LOG = logging.getLogger(__name__)

REQUIRED_PROPERTIES: dict[str, str] = {
    "redfish_address": "URL of the BMC's Redfish service, e.g. https://10.0.0.5 or "
    "http://10.0.0.5:8000; a bare host[:port] means https. Required.",
}
OPTIONAL_PROPERTIES: dict[str, str] = {
    "redfish_system_id": "Path of the node's ComputerSystem, e.g. /redfish/v1/Systems/1. "
    "Optional when the BMC manages exactly one system.",
    "redfish_username": "User name for the BMC. Optional.",
    "redfish_password": "Password for the BMC. Optional; stored encrypted, never shown.",
    "redfish_verify_ca": "Whether to verify the BMC's TLS certificate: true (default, "
    "against the system CA bundle), false, or the path of a CA bundle file or directory.",
    "redfish_auth_type": "How to authenticate: basic, session, or auto (default: a Redfish "
    "session if the BMC offers one, else HTTP basic).",
}
PROPERTIES: dict[str, str] = {**REQUIRED_PROPERTIES, **OPTIONAL_PROPERTIES}

AUTH_TYPES: tuple[str, ...] = ("auto", "basic", "session")

_SYSTEM_PATH = re.compile(r"^/redfish/v1/Systems/[^/?#\s]+/?\Z")
_MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass(frozen=True)
class RedfishInfo:
    """The redfish_* keys of a node's driver_info, checked and normalised."""

    address: str  # scheme://host[:port], no path
    system_id: str | None
    username: str | None
    password: Secret | None = field(repr=False)
    verify_ca: bool | str
    auth_type: str

    @property
    def where(self) -> str:
        """Which system at which BMC, for messages."""
        system = f"system {self.system_id}" if self.system_id else "the only system"
        return f"{system} at {self.address}"


_invalid = bmc_common.invalid


def _parse_address(value: Any) -> str:
    text = bmc_common.require_text(
        "redfish_address",
        value,
        what="the URL of the BMC's Redfish service, e.g. https://10.0.0.5.",
        kind="URL string",
    )
    if "://" not in text:
        # A bare IPv6 address has colons but no brackets; give it some.
        if text.count(":") > 1 and not text.startswith("["):
            text = f"[{text}]"
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _invalid(
            "redfish_address", f"{_safe_url(value)!r} is not a valid URL ({exc})."
        ) from exc
    shown = _safe_url(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise _invalid(
            "redfish_address",
            f"scheme {parts.scheme!r} in {shown!r} is not allowed; use http or https.",
        )
    if parts.username is not None or parts.password is not None:
        raise _invalid(
            "redfish_address",
            f"{shown!r} carries credentials; put them in redfish_username "
            "and redfish_password instead.",
        )
    if not parts.hostname:
        raise _invalid("redfish_address", f"{shown!r} has no host.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _invalid(
            "redfish_address",
            f"{shown!r} must be only scheme, host and port; put the system "
            "path in redfish_system_id.",
        )
    if parts.port == 0:
        raise _invalid("redfish_address", f"port 0 in {shown!r} is not a usable port.")
    host = parts.hostname
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def _safe_url(value: str) -> str:
    """The address as the operator wrote it, minus any password in it."""
    return re.sub(r"(://)[^/@]*@", r"\1******@", value)


def _parse_system_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _SYSTEM_PATH.match(value.strip()):
        raise _invalid(
            "redfish_system_id",
            f"{value!r} is not a system path; expected the path of a "
            "ComputerSystem such as /redfish/v1/Systems/1.",
        )
    return value.strip().rstrip("/")


def _parse_verify_ca(value: Any) -> bool | str:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not a boolean: a path, then
            return bool(strutils.bool_from_string(value, strict=True))
        path = Path(value.strip())
        if path.is_file() or path.is_dir():
            return str(path)
        raise _invalid(
            "redfish_verify_ca",
            f"{value!r} is neither a boolean nor an existing CA bundle file or directory.",
        )
    raise _invalid(
        "redfish_verify_ca", f"expected a boolean or a CA bundle path, got {type(value).__name__}."
    )


def parse_driver_info(driver_info: Mapping[str, Any]) -> RedfishInfo:
    """Check the redfish_* keys without contacting the BMC.

    :raises MissingParameterValue: redfish_address is missing.
    :raises InvalidParameterValue: a value is malformed (the message names the key
        and what is allowed).
    """
    address = _parse_address(driver_info.get("redfish_address"))
    system_id = _parse_system_id(driver_info.get("redfish_system_id"))
    username = bmc_common.parse_text("redfish_username", driver_info.get("redfish_username"))
    password = bmc_common.parse_password("redfish_password", driver_info.get("redfish_password"))
    verify_ca = _parse_verify_ca(driver_info.get("redfish_verify_ca"))
    auth_type = driver_info.get("redfish_auth_type") or "auto"
    if auth_type not in AUTH_TYPES:
        raise _invalid("redfish_auth_type", f"{auth_type!r} is not one of {', '.join(AUTH_TYPES)}.")
    return RedfishInfo(
        address=address,
        system_id=system_id,
        username=username,
        password=password,
        verify_ca=verify_ca,
        auth_type=str(auth_type),
    )


# --- connections -----------------------------------------------------------

_ConnectionKey = tuple[str, str | None, str | None, bool | str, str]


def _connection_key(info: RedfishInfo) -> _ConnectionKey:
    return (
        info.address,
        info.username,
        bmc_common.fingerprint(info.password),
        info.verify_ca,
        info.auth_type,
    )


class ConnectionCache:
    """Authenticated sushy roots by BMC and credentials, least recently used first out.

    Evicted roots are simply dropped: sushy closes a Redfish session when its
    root is garbage-collected.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roots: OrderedDict[_ConnectionKey, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._roots)

    def get(self, key: _ConnectionKey) -> Any | None:
        with self._lock:
            root = self._roots.get(key)
            if root is not None:
                self._roots.move_to_end(key)
            return root

    def put(self, key: _ConnectionKey, root: Any, size: int) -> None:
        with self._lock:
            if size <= 0:
                return
            self._roots[key] = root
            self._roots.move_to_end(key)
            while len(self._roots) > size:
                self._roots.popitem(last=False)

    def discard(self, key: _ConnectionKey, root: Any) -> None:
        """Forget `root` if it is still the cached one (another thread may have replaced it)."""
        with self._lock:
            if self._roots.get(key) is root:
                del self._roots[key]

    def clear(self) -> None:
        with self._lock:
            self._roots.clear()


class RedfishClient:
    """Connection handling for every node of one configuration."""

    def __init__(self) -> None:
        self.cache = ConnectionCache()

    def root(self, conf: cfg.ConfigOpts, info: RedfishInfo) -> Any:
        """A cached root for the BMC, or a new authenticated one (not retried here)."""
        key = _connection_key(info)
        root = self.cache.get(key)
        if root is None:
            root = self._connect(conf, info)
            self.cache.put(key, root, conf.redfish.connection_cache_size)
        return root

    def forget(self, info: RedfishInfo, root: Any) -> None:
        if root is not None:
            self.cache.discard(_connection_key(info), root)

    @staticmethod
    def _connect(conf: cfg.ConfigOpts, info: RedfishInfo) -> Any:
        if info.verify_ca is False and info.address.startswith("https:"):
            LOG.warning("TLS certificate verification is disabled for the BMC at %s", info.address)
        LOG.debug("Connecting to the Redfish service at %s as %s", info.address, info.username)
        # server_side_retries=1: one try per request for transport errors (the
        # retries are ours, in BMC.system) and one retry of a GET answered 5xx.
        options: dict[str, Any] = {}
        if _SUSHY_HAS_CONNECT_TIMEOUT:
            options["connect_timeout"] = conf.redfish.connect_timeout
        return sushy.Sushy(
            info.address,
            auth=_auth(info),
            verify=info.verify_ca,
            server_side_retries=1,
            server_side_retries_delay=conf.redfish.connection_retry_interval,
            **options,
        )


# sushy grew connect_timeout in its 5.x series; older ones wait read_timeout.
_SUSHY_HAS_CONNECT_TIMEOUT = "connect_timeout" in inspect.signature(sushy.Sushy).parameters


class _NoAuth(sushy.auth.AuthBase):  # type: ignore[misc]  # sushy is untyped
    """For a BMC that asks for no credentials: sends none (sushy would send None:None)."""

    def _do_authenticate(self) -> None:
        return None

    def can_refresh_session(self) -> bool:
        return False


def _auth(info: RedfishInfo) -> Any:
    if info.username is None and info.password is None:
        return _NoAuth()
    # A missing half of the pair is sent empty, as a string (requests refuses None).
    username = info.username or ""
    password = info.password.reveal() if info.password is not None else ""
    auth_class = {
        "basic": sushy.auth.BasicAuth,
        "session": sushy.auth.SessionAuth,
        "auto": sushy.auth.SessionOrBasicAuth,
    }[info.auth_type]
    return auth_class(username=username, password=password)


# One client per configuration object, dropped with it. ConfigOpts cannot be
# hashed (it is a Mapping), hence the id() keys and the finalizer.
_CLIENTS: dict[int, RedfishClient] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(conf: cfg.ConfigOpts) -> RedfishClient:
    """The client shared by all redfish interfaces built from `conf`."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(id(conf))
        if client is None:
            client = _CLIENTS[id(conf)] = RedfishClient()
            weakref.finalize(conf, _CLIENTS.pop, id(conf), None)
        return client


# --- errors ----------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps: causes, contexts, urllib3 reasons, arguments."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += list(current.args)
        stack.extend(item for item in linked if isinstance(item, BaseException))


def is_tls_failure(exc: BaseException) -> bool:
    return any(isinstance(item, ssl.SSLError) for item in _chain(exc))


# Causes worth naming, most telling first. requests' own exceptions are
# OSErrors too, but without a strerror, so the last rule skips them.
_CAUSES: tuple[tuple[type[BaseException], Callable[[Any], str | None]], ...] = (
    (
        ssl.SSLCertVerificationError,
        lambda e: f"TLS certificate verification failed: {e.verify_message}",
    ),
    (ssl.SSLError, lambda e: f"TLS error: {e.reason or e}"),
    (ConnectionRefusedError, lambda _: "connection refused"),
    (socket.gaierror, lambda e: f"cannot resolve the host name ({e.strerror})"),
    (TimeoutError, lambda _: "timed out"),
    (OSError, lambda e: e.strerror.lower() if e.strerror else None),
)


def _transport_reason(exc: BaseException) -> str:
    """A short cause for a transport failure, from deep inside requests/urllib3."""
    causes = list(_chain(exc))
    for kind, text in _CAUSES:
        for item in causes:
            found = text(item) if isinstance(item, kind) else None
            if found:
                return found
    if any("Timeout" in type(item).__name__ for item in causes):  # urllib3's own timeouts
        return "timed out"
    detail = str(getattr(exc, "message", "") or exc)
    return _MEMORY_ADDRESS.sub("", detail)[:300]


def _describe_http(exc: sushy.exceptions.HTTPError) -> str:
    if isinstance(exc, sushy.exceptions.AccessError):
        return f"the BMC refused the credentials (HTTP {exc.status_code})"
    if isinstance(exc, sushy.exceptions.ResourceNotFoundError):
        return f"not found: {exc}"
    return f"the BMC answered HTTP {exc.status_code} ({exc.detail or exc.code})"


def describe(exc: BaseException) -> str:
    """What went wrong, in a few words (without the where: callers add it)."""
    if isinstance(exc, sushy.exceptions.ConnectionError):
        return f"cannot connect ({_transport_reason(exc)})"
    if isinstance(exc, sushy.exceptions.HTTPError):
        return _describe_http(exc)
    if isinstance(
        exc, sushy.exceptions.MissingActionError | sushy.exceptions.MissingAttributeError
    ):
        return f"the BMC's answer lacks what is needed: {exc}"
    if isinstance(exc, sushy.exceptions.SushyError):
        return str(exc)
    if isinstance(exc, ValueError):
        return f"the BMC sent a malformed answer ({exc})"
    return f"{type(exc).__name__}: {exc}"


#: Raised by sushy for a bad answer: non-JSON bodies surface as ValueError
#: (requests' JSONDecodeError is one).
TRANSLATED: tuple[type[Exception], ...] = (sushy.exceptions.SushyError, ValueError)


def _may_connect_later(exc: BaseException) -> bool:
    """A connection that failed may work on the next try; a TLS failure will not."""
    return isinstance(exc, sushy.exceptions.ConnectionError) and not is_tls_failure(exc)


class BMC:
    """One node's BMC, as seen during one driver call."""

    def __init__(self, conf: cfg.ConfigOpts, info: RedfishInfo, node: str) -> None:
        self.conf = conf
        self.info = info
        self.node = node
        self._client = client_for(conf)
        self._root: Any = None

    def system(self, attempts: int | None = None) -> Any:
        """The node's sushy System, freshly read; connection failures are retried.

        :param attempts: how many tries; default ``[redfish]connection_attempts``.
        :raises BMCError: the BMC cannot be reached, refuses the credentials, or has
            no such system.
        """
        attempts = attempts or self.conf.redfish.connection_attempts
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=tenacity.wait_fixed(self.conf.redfish.connection_retry_interval),
            retry=tenacity.retry_if_exception(_may_connect_later),
            before_sleep=lambda state: self._warn_unreachable(state, attempts),
            reraise=True,
        )
        try:
            return retrying(self._read_system)
        except sushy.exceptions.ConnectionError as exc:
            raise self.failure(exc, attempts=retrying.statistics["attempt_number"]) from exc
        except sushy.exceptions.AccessError as exc:
            raise self._credentials_failure(exc) from exc
        except TRANSLATED as exc:
            raise self.failure(exc, "reading the system") from exc

    def _read_system(self) -> Any:
        """One try of `system`: a session that failed to connect or log in is forgotten."""
        try:
            self._root = self._client.root(self.conf, self.info)
            return self._fetch_system(self._root)
        except (sushy.exceptions.ConnectionError, sushy.exceptions.AccessError):
            self._forget()
            raise

    def _warn_unreachable(self, state: tenacity.RetryCallState, attempts: int) -> None:
        exc = state.outcome.exception() if state.outcome else None
        LOG.warning(
            "Node %s: Redfish service at %s unreachable (attempt %d of %d): %s",
            self.node,
            self.info.address,
            state.attempt_number,
            attempts,
            self.scrub(_transport_reason(exc)) if exc else "",
        )

    @contextmanager
    def talking(self, doing: str) -> Iterator[None]:
        """Translate what sushy raises inside the block into a BMCError about `doing`."""
        try:
            yield
        except sushy.exceptions.AccessError as exc:
            self._forget()
            raise self._credentials_failure(exc) from exc
        except sushy.exceptions.ConnectionError as exc:
            self._forget()
            raise self.failure(exc, doing) from exc
        except TRANSLATED as exc:
            raise self.failure(exc, doing) from exc

    def failure(
        self, exc: BaseException, doing: str | None = None, *, attempts: int = 1
    ) -> errors.BMCError:
        """The BMCError for `exc`, raised while `doing` something."""
        detail = describe(exc)
        if attempts > 1:
            detail += f" after {attempts} attempts"
        if doing:
            detail += f" while {doing}"
        return errors.BMCError(node=self.node, reason=self.scrub(f"{detail} ({self.info.where})"))

    def scrub(self, text: str) -> str:
        """`text` with the password masked, should a BMC ever echo it back."""
        return bmc_common.scrub(text, self.info.password)

    def _forget(self) -> None:
        self._client.forget(self.info, self._root)
        self._root = None

    def _credentials_failure(self, exc: sushy.exceptions.AccessError) -> errors.BMCError:
        user = f"user {self.info.username!r}" if self.info.username else "no user name"
        what, check = "the credentials", "redfish_username and redfish_password"
        if self.info.auth_type == "session":
            what, check = "the session login", f"{check}, or redfish_auth_type"
        reason = (
            f"the BMC refused {what} ({user}, HTTP {exc.status_code}; check {check}) "
            f"({self.info.where})"
        )
        return errors.BMCError(node=self.node, reason=self.scrub(reason))

    def _fetch_system(self, root: Any) -> Any:
        if self.info.system_id is not None:
            try:
                return root.get_system(self.info.system_id)
            except sushy.exceptions.ResourceNotFoundError:
                raise errors.BMCError(
                    node=self.node,
                    reason=f"system {self.info.system_id} does not exist at "
                    f"{self.info.address}; check redfish_system_id{self._members_hint(root)}",
                ) from None
        try:
            return root.get_system()
        except sushy.exceptions.UnknownDefaultError:
            raise errors.BMCError(
                node=self.node,
                reason=f"redfish_system_id is not set and the BMC at {self.info.address} "
                f"does not manage exactly one system{self._members_hint(root)}",
            ) from None

    @staticmethod
    def _members_hint(root: Any) -> str:
        try:
            members = sorted(root.get_system_collection().members_identities)
        except TRANSLATED:
            return ""
        if not members:
            return " (it lists none)"
        shown = ", ".join(members[:5]) + (", ..." if len(members) > 5 else "")
        return f" (it lists {shown})"


def open_bmc(conf: cfg.ConfigOpts, task: base.Task) -> BMC:
    """The node's BMC handle; no traffic until `BMC.system` is called.

    :raises InvalidParameterValue, MissingParameterValue: driver_info is wrong.
    """
    return BMC(conf, parse_driver_info(task.node.driver_info), task.node.uuid)
