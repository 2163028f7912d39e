"""Authentication: noauth, or HTTP basic against an htpasswd file (as Ironic).

bcrypt is slow by design (tens of milliseconds a check), so a successful
check is remembered for a short while, keyed by a hash of the credentials,
in a bounded cache; a changed htpasswd file drops everything remembered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from pathlib import Path

import bcrypt
from cachetools import TTLCache
from oslo_config import cfg

from ironbound import errors
from ironbound.api.policy import ADMIN, Identity

_REMEMBER_SECONDS = 300.0
#: Credentials remembered at once; past this the least recently used are checked again.
_REMEMBER_MAX = 1024


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
        self._remembered: TTLCache[str, Identity] = TTLCache(_REMEMBER_MAX, _REMEMBER_SECONDS)
        if self.strategy == "http_basic":
            self._load()

    def _load(self) -> None:
        try:
            stat = self._path.stat()
            text = self._path.read_text(encoding="utf-8")
        except OSError as exc:
            raise errors.NotAuthorized(
                f"The htpasswd file {self._path} cannot be read: {exc.strerror}"
            ) from exc
        if stat.st_mtime == self._mtime:
            return
        hashes: dict[str, bytes] = {}
        for line in text.splitlines():
            user, sep, hashed = line.strip().partition(":")
            if sep and user and not user.startswith("#"):
                hashes[user] = hashed.encode("utf-8")
        self._hashes, self._mtime = hashes, stat.st_mtime
        self._remembered.clear()

    def authenticate(self, authorization: str | None) -> Identity:
        """:raises NotAuthorized: missing, malformed or wrong credentials."""
        if self.strategy == "noauth":
            return ADMIN
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
        # bcrypt runs outside the lock, so one slow check does not hold up every request.
        if hashed is None or not _check(password, hashed):
            raise errors.NotAuthorized("Invalid username or password.")
        identity = Identity(user=user, roles=self._user_roles.get(user, self._default_roles))
        with self._lock:
            self._remembered[key] = identity
        return identity


def _check(password: str, hashed: bytes) -> bool:
    # Apache writes bcrypt hashes as $2y$, which the bcrypt module reads as $2b$.
    if hashed.startswith(b"$2y$"):
        hashed = b"$2b$" + hashed[4:]
    if not hashed.startswith((b"$2a$", b"$2b$")):
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed)
    except ValueError:
        return False
