"""Authentication: noauth, or HTTP basic against an htpasswd file (as Ironic).

bcrypt is slow by design (tens of milliseconds a check), so a successful
check is remembered for a short while, keyed by a hash of the credentials;
a changed htpasswd file drops everything remembered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from pathlib import Path

import bcrypt
from oslo_config import cfg

from ironbound import errors
from ironbound.api.policy import ADMIN, Identity

_REMEMBER_SECONDS = 300.0


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
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._hashes: dict[str, bytes] = {}
        self._remembered: dict[str, tuple[float, Identity]] = {}
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
        self._hashes, self._mtime, self._remembered = hashes, stat.st_mtime, {}

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
        now = time.monotonic()
        with self._lock:
            self._load()
            remembered = self._remembered.get(key)
            if remembered and now - remembered[0] < _REMEMBER_SECONDS:
                return remembered[1]
            hashed = self._hashes.get(user)
        if hashed is None or not _check(password, hashed):
            raise errors.NotAuthorized("Invalid username or password.")
        identity = Identity(user=user, roles=self._user_roles.get(user, self._default_roles))
        with self._lock:
            self._remembered[key] = (now, identity)
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
