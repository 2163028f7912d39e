"""Secrets: CHAP and BMC passwords, boot tokens.

Three rules live here so that no other module has to remember them:

* A value under a secret-looking key (``auth_password``, ``redfish_password``,
  ``*_secret``, ``*token*`` ..., and every key oslo.utils' ``mask_dict_password``
  masks, as Ironic does) is stored apart from its mapping, encrypted with the
  installation's key, and the mapping keeps ``******`` in its place. A text
  holding a secret (``--password X``, as oslo.utils' ``mask_password`` finds
  it) is stored the same way, its masked text in its place.
  The API therefore never holds a clear secret when it renders a response.
* Writing ``******`` back (as a client does when it round-trips a masked
  document) keeps the stored secret instead of overwriting it.
* `Secret` wraps a clear value handed to a driver so that printing or
  logging it shows a mask.
"""

from __future__ import annotations

import base64
import copy
import functools
import os
import re
import tempfile
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonpointer
import orjson
from oslo_utils import strutils

from ironbound import errors

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

MASK = "******"

#: A key is secret when one of its words is one of these (``admin_pass``,
#: ``adminPass``, ``ipmi_password``, ``auth_token``, ``configdrive`` ...), or
#: when, with its separators dropped, it contains one of the compounds.
_SECRET_WORDS = frozenset(
    {
        "pass",
        "password",
        "passwd",
        "pswd",
        "passphrase",
        "secret",
        "token",
        "credential",
        "credentials",
        "configdrive",
    }
)
_SECRET_COMPOUNDS = (
    "password",
    "passwd",
    "passphrase",
    "privatekey",
    "authkey",
    "encryptionkey",
    "secretkey",
    "sshkey",
    "secret",
    "token",
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SEPARATORS = re.compile(r"[^a-z0-9]")


def is_secret_key(key: str) -> bool:
    """Whether values under `key` are secrets (the test is on the key's name).

    At least every key Ironic masks is masked: its list of sensitive keys,
    and anything password-, secret- or token-like, in any spelling.
    """
    if {word.lower() for word in _WORD.findall(key)} & _SECRET_WORDS:
        return True
    joined = _SEPARATORS.sub("", key.lower())
    return any(compound in joined for compound in _SECRET_COMPOUNDS) or _masked_by_oslo(key)


@functools.lru_cache(maxsize=4096)
def _masked_by_oslo(key: str) -> bool:
    """Whether Ironic's masking (oslo.utils) hides values under `key`: asked of oslo.utils
    itself, so its list (``fernetkey``, ``rabbitcookie`` ...) is never copied here."""
    masked: dict[str, Any] = strutils.mask_dict_password({key: ""}, secret=MASK)
    return bool(masked[key] == MASK)


def shown(value: Any) -> Any:
    """`value` as it may be shown: a text with any secret inside it (``--password X``)
    masked as oslo.utils masks it; anything else as it is."""
    return strutils.mask_password(value, secret=MASK) if isinstance(value, str) else value


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


def _key(element: Any) -> bytes:
    """A hashable stand-in for a JSON value: equal for equal documents, whatever their key order."""
    return orjson.dumps(element, option=orjson.OPT_SORT_KEYS)


def _match_elements(new: list[Any], old: list[Any]) -> dict[int, int]:
    """Where each element of a masked list stood before the change, when that can be told.

    An element equal to an old one is that one (its own index first): so a
    removal or an insertion moves secrets with their elements. An element
    equal to none was edited; it is the old element at its index only while
    the list kept its length (nothing moved). Linear in the lists' size: the
    list is whatever a client sent, up to a whole stored document.
    """
    mapping = {i: i for i, element in enumerate(new) if i < len(old) and old[i] == element}
    taken = set(mapping.values())
    unmatched = [i for i in range(len(new)) if i not in mapping]
    if unmatched:
        places: dict[bytes, deque[int]] = {}
        for j, before in enumerate(old):
            if j not in taken:
                places.setdefault(_key(before), deque()).append(j)
        for index in unmatched:
            same = places.get(_key(new[index]))
            if same:
                mapping[index] = same.popleft()
                taken.add(mapping[index])
    if len(new) == len(old):
        for index in range(len(new)):
            if index not in mapping and index not in taken:
                mapping[index] = index
                taken.add(index)
    return mapping


def split(
    data: dict[str, Any], previous: dict[str, Any], previous_masked: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate the secrets from `data`.

    Returns the masked mapping to store in the clear and a flat mapping from
    JSON pointer to secret value. `previous` is the flat mapping stored before,
    used when `data` carries ``******`` to mean "unchanged". `previous_masked`,
    the masked mapping stored before, tells where list elements moved, so a
    kept secret follows its element; without it, positions count as unchanged.

    :raises InvalidParameterValue: ``******`` stands in a list element whose
        previous place cannot be told, so which stored secret it means is unknown.
    """
    secrets: dict[str, Any] = {}

    def kept(pointer: str, old_pointer: str | None) -> Any:
        if old_pointer is not None:
            return previous.get(old_pointer, MASK)
        if previous:
            raise errors.InvalidParameterValue(
                reason=f"The secret at {pointer} is given as {MASK}, but its list element "
                "changed both place and content, so the stored secret it stands for cannot be "
                "told. Give the secret itself."
            )
        return MASK

    def text(value: str, pointer: str, old_pointer: str | None) -> str:
        before = previous.get(old_pointer) if old_pointer is not None else None
        if isinstance(before, str) and before != value and shown(before) == value:
            secrets[pointer] = before  # written back as it was shown: kept
            return value
        masked_text: str = shown(value)
        if masked_text != value:
            secrets[pointer] = value
        return masked_text

    def walk(node: Any, path: str, old_path: str | None, old_node: Any) -> Any:
        if isinstance(node, str):
            return text(node, path, old_path)
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                escaped = jsonpointer.escape(str(key))
                pointer = f"{path}/{escaped}"
                old_pointer = None if old_path is None else f"{old_path}/{escaped}"
                if value is not None and is_secret_key(str(key)):
                    secrets[pointer] = kept(pointer, old_pointer) if value == MASK else value
                    out[key] = MASK
                else:
                    old_child = old_node.get(key) if isinstance(old_node, dict) else None
                    out[key] = walk(value, pointer, old_pointer, old_child)
            return out
        if isinstance(node, list):
            old_list = old_node if isinstance(old_node, list) else []
            if previous_masked is None:
                moved = {index: index for index in range(len(node))}
            else:
                moved = _match_elements(mask(node), old_list)
            out_list = []
            for index, value in enumerate(node):
                old_index = moved.get(index)
                if old_path is None or old_index is None:
                    out_list.append(walk(value, f"{path}/{index}", None, None))
                else:
                    before = old_list[old_index] if old_index < len(old_list) else None
                    out_list.append(
                        walk(value, f"{path}/{index}", f"{old_path}/{old_index}", before)
                    )
            return out_list
        return node

    return walk(data, "", "", previous_masked), secrets


def reveal(masked: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """Put the secrets back into a masked mapping (conductor side only), where the mapping
    still shows the secret's mask."""
    result = copy.deepcopy(masked)
    for pointer, value in secrets.items():
        parts = [jsonpointer.unescape(p) for p in pointer.split("/")[1:]]
        node: Any = result
        try:
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, list) else node[part]
            last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
            if node[last] in (MASK, shown(value)):
                node[last] = value
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
    return shown(data)


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
        """Load the key, creating it owner-readable only if it does not exist yet.

        A new key is written whole to a private file first and then linked into
        place, so a process starting at the same moment reads either no key
        file or a complete one, never an empty one.
        """
        if path.exists():
            return cls(path.read_bytes().strip())
        key = base64.urlsafe_b64encode(os.urandom(32))  # a Fernet key
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret-key-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
            os.link(draft, path)
        except FileExistsError:
            return cls(path.read_bytes().strip())
        finally:
            Path(draft).unlink()
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
