"""Secrets: CHAP and BMC passwords, boot tokens.

Three rules live here so that no other module has to remember them:

* A value under a secret-looking key (``auth_password``, ``redfish_password``,
  ``*_secret``, ``*token*`` ...) is stored apart from its mapping, encrypted
  with the installation's key, and the mapping keeps ``******`` in its place.
  The API therefore never holds a clear secret when it renders a response.
* Writing ``******`` back (as a client does when it round-trips a masked
  document) keeps the stored secret instead of overwriting it.
* `Secret` wraps a clear value handed to a driver so that printing or
  logging it shows a mask.
"""

from __future__ import annotations

import base64
import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

MASK = "******"

_SECRET_MARKERS = (
    "password",
    "passwd",
    "pswd",
    "secret",
    "token",
    "passphrase",
    "private_key",
    "auth_key",
    "encryption_key",
)


def is_secret_key(key: str) -> bool:
    """Whether values under `key` are secrets (the test is on the key's name)."""
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


class Secret:
    """A clear secret that refuses to show itself by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The clear value, for the one call that must send it (a BMC login, a script)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def split(data: dict[str, Any], previous: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate the secrets from `data`.

    Returns the masked mapping to store in the clear and a flat mapping from
    JSON pointer to secret value. `previous` is the flat mapping stored before,
    used when `data` carries ``******`` to mean "unchanged".
    """
    secrets: dict[str, Any] = {}

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                pointer = f"{path}/{_escape(str(key))}"
                if value is not None and is_secret_key(str(key)):
                    secrets[pointer] = (
                        previous[pointer] if value == MASK and pointer in previous else value
                    )
                    out[key] = MASK
                else:
                    out[key] = walk(value, pointer)
            return out
        if isinstance(node, list):
            return [walk(value, f"{path}/{index}") for index, value in enumerate(node)]
        return node

    return walk(data, ""), secrets


def reveal(masked: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """Put the secrets back into a masked mapping (conductor side only)."""
    result = copy.deepcopy(masked)
    for pointer, value in secrets.items():
        parts = [_unescape(p) for p in pointer.split("/")[1:]]
        node: Any = result
        try:
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, list) else node[part]
            if isinstance(node, dict) and node.get(parts[-1]) == MASK:
                node[parts[-1]] = value
        except (KeyError, IndexError, ValueError, TypeError):
            continue
    return result


def mask(data: Any) -> Any:
    """A copy of `data` with every secret value replaced by the mask."""
    if isinstance(data, dict):
        return {
            key: (MASK if value is not None and is_secret_key(str(key)) else mask(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [mask(value) for value in data]
    return data


class SecretBox:
    """Encrypts the flat secret mappings for storage (Fernet: AES-CBC + HMAC).

    cryptography is imported at the first secret sealed or opened: a server
    whose nodes carry no secrets yet does not pay its memory.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._fernet: Fernet | None = None

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet  # noqa: PLC0415 (see the class docstring)

            self._fernet = Fernet(self._key)
        return self._fernet

    @classmethod
    def from_file(cls, path: Path) -> SecretBox:
        """Load the key, creating it owner-readable only if it does not exist yet."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls(path.read_bytes().strip())
        key = base64.urlsafe_b64encode(os.urandom(32))  # a Fernet key
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return cls(key)

    def seal(self, secrets: dict[str, Any]) -> str | None:
        """Ciphertext for `secrets`, or None when there is nothing to hide."""
        if not secrets:
            return None
        return self._cipher().encrypt(orjson.dumps(secrets)).decode("ascii")

    def open(self, sealed: str | None) -> dict[str, Any]:
        """The secrets behind `sealed`; raises ValueError if the key does not fit."""
        if not sealed:
            return {}
        from cryptography.fernet import InvalidToken  # noqa: PLC0415

        try:
            value = orjson.loads(self._cipher().decrypt(sealed.encode("ascii")))
        except InvalidToken as exc:
            raise ValueError("stored secrets cannot be decrypted with this key") from exc
        if not isinstance(value, dict):
            raise ValueError("stored secrets are not a mapping")
        return value
