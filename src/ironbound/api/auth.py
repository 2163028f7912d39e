"""Authentication: noauth, HTTP basic against an htpasswd file, or Keystone tokens (as Ironic).

Keystone tokens are ironbound.api.keystone's business; the rest is here.

bcrypt is slow by design (tens of milliseconds a check), so a successful
check is remembered for a short while, keyed by a hash of the credentials,
in a bounded cache; a changed htpasswd file drops everything remembered.
The check itself runs in a few worker threads, never on the event loop the
API shares with the boot server, and an unknown user costs the same check
(against a dummy hash) as a known one, so that timing does not tell which
users exist. Why the htpasswd file cannot be read goes to the log, not to
clients.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import threading
from pathlib import Path

import anyio
import bcrypt
from cachetools import TTLCache
from oslo_config import cfg

from ironbound import errors
from ironbound.api import problems
from ironbound.api.keystone import KeystoneTokens
from ironbound.api.policy import ADMIN, Identity

LOG = logging.getLogger(__name__)

_REMEMBER_SECONDS = 300.0
#: Credentials remembered at once; past this the least recently used are checked again.
_REMEMBER_MAX = 1024
#: bcrypt checks at once: a storm of wrong passwords must not take the API's thread pool.
_CHECK_THREADS = 4
#: Cost of the dummy hash when the file has no bcrypt hash to copy it from.
_DEFAULT_ROUNDS = 12


class Authenticator:
    """Turns a request's Authorization header into an Identity."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.strategy = conf.auth_strategy
        self._path = Path(conf.http_basic_auth_user_file)
        self._user_roles = {
            user: frozenset(r for r in roles.split("+") if r)
            for user, roles in conf.api.user_roles.items()
        }
        self._default_roles = frozenset(conf.api.default_roles)
        self._lock = threading.Lock()  # TTLCache is not thread-safe
        self._mtime: float | None = None
        self._hashes: dict[str, bytes] = {}
        self._dummy_rounds = _DEFAULT_ROUNDS
        self._unreadable_logged = False
        self._checks = anyio.CapacityLimiter(_CHECK_THREADS)
        self._remembered: TTLCache[str, Identity] = TTLCache(_REMEMBER_MAX, _REMEMBER_SECONDS)
        self._keystone = KeystoneTokens(conf) if self.strategy == "keystone" else None
        if self.strategy == "http_basic":
            self._load()

    @property
    def challenge(self) -> bytes:
        """The WWW-Authenticate header of a 401."""
        if self._keystone is not None:
            return self._keystone.challenge.encode("latin-1")
        return b'Basic realm="Baremetal API"'

    def _load(self) -> None:
        try:
            stat = self._path.stat()
            text = self._path.read_text(encoding="utf-8")
        except OSError as exc:
            if not self._unreadable_logged:
                LOG.error("The htpasswd file %s cannot be read: %s", self._path, exc.strerror)
                self._unreadable_logged = True
            raise problems.CredentialsUncheckable() from exc
        self._unreadable_logged = False
        if stat.st_mtime == self._mtime:
            return
        hashes: dict[str, bytes] = {}
        for line in text.splitlines():
            user, sep, hashed = line.strip().partition(":")
            if sep and user and not user.startswith("#"):
                hashes[user] = hashed.encode("utf-8")
        self._hashes, self._mtime = hashes, stat.st_mtime
        self._dummy_rounds = next(
            (r for r in map(_rounds, hashes.values()) if r is not None), _DEFAULT_ROUNDS
        )
        self._remembered.clear()

    async def authenticate(self, headers: dict[str, str], client: str = "") -> Identity:
        """`headers`: the request's, with lower-case names; `client`: its peer's address.

        :raises NotAuthorized: missing, malformed or wrong credentials.
        """
        if self.strategy == "noauth":
            return ADMIN
        if self._keystone is not None:
            token = headers.get("x-auth-token", "").strip()
            if not token:
                raise errors.NotAuthorized("Authentication required: send a Keystone token.")
            return await self._keystone.identity(token, client)
        authorization = headers.get("authorization")
        if not authorization or not authorization.lower().startswith("basic "):
            raise errors.NotAuthorized("Authentication required: send HTTP basic credentials.")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise errors.NotAuthorized("Malformed HTTP basic credentials.") from exc
        user, sep, password = decoded.partition(":")
        if not sep or not user:
            raise errors.NotAuthorized("Malformed HTTP basic credentials.")
        key = hashlib.sha256(decoded.encode("utf-8")).hexdigest()
        with self._lock:
            self._load()
            remembered = self._remembered.get(key)
            if remembered is not None:
                return remembered
            hashed = self._hashes.get(user)
            rounds = self._dummy_rounds
        # bcrypt runs outside the lock and off the event loop.
        matched = await anyio.to_thread.run_sync(
            _check, password, hashed, rounds, limiter=self._checks
        )
        if not matched:
            raise errors.NotAuthorized("Invalid username or password.")
        identity = Identity(user=user, roles=self._user_roles.get(user, self._default_roles))
        with self._lock:
            self._remembered[key] = identity
        return identity


def _bcrypt(hashed: bytes) -> bytes | None:
    """`hashed` as the bcrypt module reads it, or None if it is no bcrypt hash."""
    # Apache writes bcrypt hashes as $2y$, which the bcrypt module reads as $2b$.
    if hashed.startswith(b"$2y$"):
        hashed = b"$2b$" + hashed[4:]
    return hashed if hashed.startswith((b"$2a$", b"$2b$")) else None


def _rounds(hashed: bytes) -> int | None:
    readable = _bcrypt(hashed)
    cost = readable[4:6] if readable else b""
    return int(cost) if cost.isdigit() and 4 <= int(cost) <= 31 else None


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    """A hash no password matches, as costly to check as the file's own."""
    return bcrypt.hashpw(b"ironbound: no such user", bcrypt.gensalt(rounds))


def _check(password: str, hashed: bytes | None, dummy_rounds: int) -> bool:
    """Whether `password` matches `hashed`; with no hash, after as costly a check."""
    readable = _bcrypt(hashed) if hashed is not None else _dummy_hash(dummy_rounds)
    if readable is None:
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), readable) and hashed is not None
    except ValueError:
        return False
